"""Model size on disk and in memory, and cold-start time."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ModelSize", "ColdStart", "model_size", "cold_start", "RELOADABLE_SUFFIXES"]

RELOADABLE_SUFFIXES = {".skops", ".pkl", ".pickle", ".joblib", ".jbl"}


@dataclass(frozen=True)
class ModelSize:
    """Sizes of a model.

    Attributes
    ----------
    disk_bytes : int or None
        Size of the model file, when the model came from a file.
    pickled_bytes : int or None
        Length of the pickled estimator (protocol 5): the in-memory size proxy.
        Python has no exact deep ``sizeof``; the pickle holds every array and
        parameter once. None when the object cannot be pickled.
    path : str or None
        The model file measured.
    note : str
        Why a size is missing, if one is.
    """

    disk_bytes: int | None
    pickled_bytes: int | None
    path: str | None
    note: str = ""


@dataclass(frozen=True)
class ColdStart:
    """Load plus first prediction.

    Attributes
    ----------
    seconds : float
        ``load_s + first_predict_s``.
    method : str
        ``"subprocess"`` (a fresh interpreter loads the model file: imports of the
        model's libraries count) or ``"in-process-unpickle"`` (no file: the
        estimator is unpickled in this process, where its libraries are already
        imported, so it understates a true cold start).
    load_s, first_predict_s : float
        The two parts.
    process_s : float or None
        Wall time of the whole child process, interpreter start-up included.
    extra : dict
        Further facts (file, byte count).
    """

    seconds: float
    method: str
    load_s: float
    first_predict_s: float
    process_s: float | None = None
    extra: dict = field(default_factory=dict)


class _Counter:
    """A write-only file that counts bytes, so pickling a large model holds no copy."""

    def __init__(self):
        self.n = 0

    def write(self, b) -> int:
        self.n += len(b)
        return len(b)


def model_file(source: str) -> Path | None:
    """The model file behind ``source``, if it is an existing file."""
    if not source:
        return None
    p = Path(source)
    return p if p.is_file() else None


def model_size(estimator, source: str) -> ModelSize:
    """Disk size of the model file (if any) and pickled size of ``estimator``."""
    path = model_file(source)
    notes = []
    disk = path.stat().st_size if path is not None else None
    if path is None:
        notes.append("no model file (entry point or in-memory model)")
    counter = _Counter()
    try:
        pickle.Pickler(counter, protocol=5).dump(estimator)
        pickled = counter.n
    except Exception as exc:  # lambdas, open handles, C objects without pickle support
        pickled = None
        notes.append(f"not picklable: {type(exc).__name__}: {exc}")
    return ModelSize(disk, pickled, str(path) if path else None, "; ".join(notes))


# The child loads the same file the audit already loaded, with the same trust:
# it refuses a file whose SHA-256 changed since the parent hashed it.
_CHILD = r"""
import hashlib, io, json, pickle, sys, time
path, sha, xpath, method = sys.argv[1:5]
with open(xpath, "rb") as f:
    X = pickle.load(f)  # written by the parent: imports numpy/pandas outside the timed part
t0 = time.perf_counter()
with open(path, "rb") as f:
    data = f.read()
if hashlib.sha256(data).hexdigest() != sha:
    sys.exit("model file changed since the audit loaded it")
if path.lower().endswith(".skops"):
    import skops.io as sio
    ti = time.perf_counter()
    est = sio.loads(data, trusted=sio.get_untrusted_types(data=data) or None)
else:
    import joblib
    ti = time.perf_counter()
    est = joblib.load(io.BytesIO(data))
t1 = time.perf_counter()
getattr(est, method)(X)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "first_predict_s": t2 - t1, "loader_import_s": ti - t0}))
"""


def cold_start(estimator, source: str, method: str, sample, timeout_s: float = 120.0,
               expected_sha256: str | None = None) -> ColdStart:
    """Time load plus first prediction of one ``sample`` batch.

    A model file (skops, pickle, joblib) is loaded again in a fresh Python
    process; otherwise the estimator is unpickled in this process.

    Parameters
    ----------
    expected_sha256 : str, optional
        Hash of the file when the audit loaded it; the child refuses a file that
        differs. Without it, the file is hashed now (guards only against a change
        during the measurement).
    """
    path = model_file(source)
    if path is not None and path.suffix.lower() in RELOADABLE_SUFFIXES and method in ("predict", "predict_proba"):
        return _subprocess(path, method, sample, timeout_s, expected_sha256)
    return _in_process(estimator, method, sample)


def _subprocess(path: Path, method: str, sample, timeout_s: float, sha: str | None = None) -> ColdStart:
    from audit.models.loading import file_sha256

    with tempfile.TemporaryDirectory(prefix="audit-coldstart-") as tmp:
        xpath = os.path.join(tmp, "x.pkl")
        with open(xpath, "wb") as f:
            pickle.dump(sample, f, protocol=5)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), sha or file_sha256(path), xpath, method],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"cold-start child process failed ({proc.returncode}): {tail[0]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return ColdStart(r["load_s"] + r["first_predict_s"], "subprocess", r["load_s"], r["first_predict_s"],
                     wall, {"file": str(path), "file_bytes": path.stat().st_size,
                                        "loader_import_s": r["loader_import_s"]})


def _in_process(estimator, method: str, sample) -> ColdStart:
    if not callable(getattr(estimator, method, None)):
        raise RuntimeError(f"cannot time a first prediction: the model has no {method}()")
    try:
        blob = pickle.dumps(estimator, protocol=5)
    except Exception as exc:
        raise RuntimeError(f"cannot re-load the model in process: not picklable ({exc})") from exc
    t0 = time.perf_counter()
    est = pickle.loads(blob)
    t1 = time.perf_counter()
    fn: Callable = getattr(est, method)
    fn(sample)
    t2 = time.perf_counter()
    return ColdStart(t2 - t0, "in-process-unpickle", t1 - t0, t2 - t1, None, {"pickled_bytes": len(blob)})
