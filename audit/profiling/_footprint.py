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

import numpy as np

__all__ = ["ModelSize", "ColdStart", "ColdStartRun", "model_size", "cold_start", "RELOADABLE_SUFFIXES",
           "MAX_COLD_RUNS"]

RELOADABLE_SUFFIXES = {".skops", ".pkl", ".pickle", ".joblib", ".jbl"}
MAX_COLD_RUNS = 20  # cold starts per measurement at most, however generous the budget


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
class ColdStartRun:
    """One cold start.

    Attributes
    ----------
    load_s, first_predict_s : float
        Wall seconds to load the model (imports of its libraries included) and to predict one row.
    cpu_s : float
        CPU seconds (user + system) the loading process spent in those two steps. On a core of
        its own and with the file in the page cache, a single-threaded load takes about as long
        as its CPU time; the wall time exceeds it by the time the process waited for a core.
    process_s : float or None
        Wall time of the whole child process, interpreter start-up included.
    """

    load_s: float
    first_predict_s: float
    cpu_s: float
    process_s: float | None = None

    @property
    def seconds(self) -> float:
        return self.load_s + self.first_predict_s


@dataclass(frozen=True)
class ColdStart:
    """Load plus first prediction, repeated while a time budget lasts (at least once).

    Attributes
    ----------
    runs : list of ColdStartRun
        Every cold start made, in order.
    method : str
        ``"subprocess"`` (a fresh interpreter loads the model file: imports of the
        model's libraries count) or ``"in-process-unpickle"`` (no file: the
        estimator is unpickled in this process, where its libraries are already
        imported, so it understates a true cold start).
    budget_s : float
        Wall-time budget the runs were made in.
    extra : dict
        Further facts (file, byte count, how skops was imported).
    """

    runs: list
    method: str
    budget_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Median wall time of load + first prediction over the runs."""
        return float(np.median([r.seconds for r in self.runs]))

    @property
    def load_s(self) -> float:
        return float(np.median([r.load_s for r in self.runs]))

    @property
    def first_predict_s(self) -> float:
        return float(np.median([r.first_predict_s for r in self.runs]))

    @property
    def process_s(self) -> float | None:
        ps = [r.process_s for r in self.runs if r.process_s is not None]
        return float(np.median(ps)) if ps else None

    @property
    def bracket(self) -> tuple[float, float]:
        """``(low, high)``: the least CPU time of a run (what a start takes on a core of its own)
        and the longest wall time (what it took on this machine as loaded then).

        The median wall time lies between them. A quiet machine gives a narrow bracket; a busy
        one a wide bracket, which the precision rule of the timing checks turns into INCONCLUSIVE.
        """
        low = min(min(r.cpu_s, r.seconds) for r in self.runs)
        return float(low), float(max(r.seconds for r in self.runs))


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


# The child loads the same file the audit already loaded, with the same trust: it refuses a
# file whose SHA-256 changed since the parent hashed it. It imports skops.io the way the audit
# does (audit/models/_skops_import.py, loaded by path: the audit package itself stays out of
# the child), so the time is that of the audit's loader.
_CHILD = r"""
import hashlib, io, json, pickle, sys, time
path, sha, xpath, method, lean = sys.argv[1:6]
with open(xpath, "rb") as f:
    X = pickle.load(f)  # written by the parent: imports numpy/pandas outside the timed part
c0, t0 = time.process_time(), time.perf_counter()
with open(path, "rb") as f:
    data = f.read()
if hashlib.sha256(data).hexdigest() != sha:
    sys.exit("model file changed since the audit loaded it")
if path.lower().endswith(".skops"):
    if lean:
        import importlib.util
        spec = importlib.util.spec_from_file_location("_audit_skops_import", lean)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sio = mod.import_skops_io()
    else:
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
print(json.dumps({"load_s": t1 - t0, "first_predict_s": t2 - t1, "loader_import_s": ti - t0,
                  "cpu_s": time.process_time() - c0}))
"""


def _lean_skops_path() -> str:
    from audit.models import _skops_import

    return _skops_import.__file__


def cold_start(estimator, source: str, method: str, sample, timeout_s: float = 120.0,
               expected_sha256: str | None = None, budget_s: float = 2.0) -> ColdStart:
    """Time load plus first prediction of one ``sample`` batch, repeated while ``budget_s`` lasts.

    A model file (skops, pickle, joblib) is loaded again in a fresh Python process per run;
    otherwise the estimator is unpickled in this process. Runs follow one another while one
    more, as long as the last, still ends within ``budget_s`` (at least one run, at most
    :data:`MAX_COLD_RUNS`).

    Parameters
    ----------
    expected_sha256 : str, optional
        Hash of the file when the audit loaded it; the child refuses a file that
        differs. Without it, the file is hashed now (guards only against a change
        during the measurement).
    budget_s : float
        Wall-time budget of the runs.
    """
    path = model_file(source)
    file_based = path is not None and path.suffix.lower() in RELOADABLE_SUFFIXES and method in (
        "predict", "predict_proba")
    runs: list[ColdStartRun] = []
    extra: dict = {}
    t0 = time.perf_counter()
    if file_based:
        from audit.models.loading import file_sha256

        sha = expected_sha256 or file_sha256(path)
        with tempfile.TemporaryDirectory(prefix="audit-coldstart-") as tmp:
            xpath = os.path.join(tmp, "x.pkl")
            with open(xpath, "wb") as f:
                pickle.dump(sample, f, protocol=5)
            while True:
                t_run = time.perf_counter()
                run, import_s = _subprocess(path, method, xpath, sha, timeout_s)
                runs.append(run)
                if not _another_fits(t0, t_run, budget_s, len(runs)):
                    break
        extra = {"file": str(path), "file_bytes": path.stat().st_size, "loader_import_s": import_s}
        if path.suffix.lower() == ".skops":
            extra["skops import"] = "as the audit imports it (without scikit-learn's torch/dask shims)"
        return ColdStart(runs, "subprocess", budget_s, extra)
    blob = _pickled(estimator, method)
    while True:
        t_run = time.perf_counter()
        runs.append(_in_process(blob, method, sample))
        if not _another_fits(t0, t_run, budget_s, len(runs)):
            break
    return ColdStart(runs, "in-process-unpickle", budget_s, {"pickled_bytes": len(blob)})


def _another_fits(t0: float, t_run: float, budget_s: float, done: int) -> bool:
    """Whether one more run, as long as the last, still ends within the budget."""
    now = time.perf_counter()
    return done < MAX_COLD_RUNS and (now - t0) + (now - t_run) <= budget_s


def _subprocess(path: Path, method: str, xpath: str, sha: str, timeout_s: float) -> tuple[ColdStartRun, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), sha, xpath, method, _lean_skops_path()],
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"cold-start child process failed ({proc.returncode}): {tail[0]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return ColdStartRun(r["load_s"], r["first_predict_s"], r["cpu_s"], wall), r["loader_import_s"]


def _pickled(estimator, method: str) -> bytes:
    if not callable(getattr(estimator, method, None)):
        raise RuntimeError(f"cannot time a first prediction: the model has no {method}()")
    try:
        return pickle.dumps(estimator, protocol=5)
    except Exception as exc:
        raise RuntimeError(f"cannot re-load the model in process: not picklable ({exc})") from exc


def _in_process(blob: bytes, method: str, sample) -> ColdStartRun:
    # thread_time: this thread's CPU only (other threads of the audit may be busy meanwhile).
    c0, t0 = time.thread_time(), time.perf_counter()
    est = pickle.loads(blob)
    t1 = time.perf_counter()
    fn: Callable = getattr(est, method)
    fn(sample)
    t2 = time.perf_counter()
    return ColdStartRun(t1 - t0, t2 - t1, time.thread_time() - c0, None)
