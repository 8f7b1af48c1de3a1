"""The bundled demo audited once per test process, for tests that read a real results.json.

``audit demo --no-pdf`` takes about half a minute here (it profiles latency and measures a cold
start), so the run is shared by every test module that asks for it, whichever runs first.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def demo_results_path() -> Path:
    """Path of the results.json of one ``audit demo --no-pdf --quiet`` run in a temporary folder."""
    from audit.cli import main

    root = Path(tempfile.mkdtemp(prefix="audit-demo-"))
    atexit.register(shutil.rmtree, root, True)
    code = main(
        [
            "demo",
            "--work",
            str(root / "work"),
            "--out",
            str(root / "reports"),
            "--no-pdf",
            "--quiet",
        ]
    )
    assert code == 0, f"audit demo exited with {code}"
    folders = sorted(p for p in (root / "reports").iterdir() if p.is_dir())
    assert len(folders) == 1, f"expected one report folder, found {folders}"
    return folders[0] / "results.json"


def demo_results_json() -> dict:
    """The demo's results.json, parsed (a fresh copy each call)."""
    return json.loads(demo_results_path().read_text(encoding="utf-8"))
