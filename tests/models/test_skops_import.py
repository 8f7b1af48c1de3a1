"""skops.io imported without scikit-learn's array-library shims: same safe types, no torch, no dask.

Each import runs in a fresh interpreter (an import happens once per process): one the audit's
way, one plain ``import skops.io``, and the two lists of safe types must be equal.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT = """
import json, sys
{imp}
import skops.io._trusted_types as t
names = {{k: sorted(map(str, getattr(t, k))) for k in dir(t) if k.endswith("_NAMES")}}
print(json.dumps({{"names": names, "torch": "torch" in sys.modules, "dask": "dask" in sys.modules}}))
"""


def _child(imp: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", REPORT.format(imp=imp)], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both():
    lean = _child("from audit.models._skops_import import import_skops_io; import_skops_io()")
    plain = _child("import skops.io")
    return lean, plain


def test_the_safe_types_are_the_same(both):
    lean, plain = both
    assert lean["names"] == plain["names"]
    assert len(lean["names"]["SKLEARN_ESTIMATOR_TYPE_NAMES"]) > 100


@pytest.mark.skipif(importlib.util.find_spec("torch") is None and importlib.util.find_spec("dask") is None,
                    reason="neither torch nor dask installed: nothing to keep out")
def test_torch_and_dask_stay_out(both):
    lean, plain = both
    assert not lean["torch"] and not lean["dask"]
    # The plain import is what the lean one avoids (when those libraries are installed).
    assert plain["torch"] == (importlib.util.find_spec("torch") is not None)
    assert plain["dask"] == (importlib.util.find_spec("dask") is not None)


def test_the_refusal_ends_with_the_import():
    # After the import the shims import as usual (scikit-learn's array-API support needs them).
    shim = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    code = ("from audit.models._skops_import import import_skops_io; import_skops_io(); import sys; "
            f"import sklearn.externals.array_api_compat.{shim} as m; "
            "print(m.__name__, any(type(f).__name__ == '_RefuseArrayShims' for f in sys.meta_path))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [f"sklearn.externals.array_api_compat.{shim}", "False"]
