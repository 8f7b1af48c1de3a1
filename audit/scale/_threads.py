"""Thread limits of the native thread pools around the model calls the audit makes.

OpenMP (scikit-learn's HistGradientBoosting, LightGBM, XGBoost), BLAS (OpenBLAS, MKL) and
torch each keep a pool of threads, by default one per core. When the audit predicts on
several threads at once, or a busy machine has no idle core, every call still wakes a full
pool and the cores are oversubscribed: a one-row ``predict_proba`` of a HistGradientBoosting
model took 2.4 s instead of 60 ms. So every model call runs inside a limit the audit chose
(:class:`ThreadPlan`) and the manifest records it.

Two facts decide how a limit is set:

- **OpenMP's thread count belongs to the calling thread** (an internal control variable per
  thread): ``omp_set_num_threads`` in one Python thread does not limit the calls another
  thread makes. A limit set around a pool of worker threads leaves the workers at the
  default; ``tests/scale/test_threads.py`` shows it. Each worker therefore sets its own.
- **BLAS and torch's intra-op pool are process-wide**: limits set and restored from
  several threads at once race (one thread's restore undoes another's limit). They are set
  once, by the thread that coordinates the work, around the whole parallel section
  (:func:`parallel_section`).

:func:`limited` applies a limit the right way for the calling thread: in a worker of an open
parallel section (or any thread but the main one) it sets OpenMP for that thread only; in
the main thread outside a parallel section it sets every pool, and restores them on exit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import asdict, dataclass

__all__ = ["ThreadPlan", "usable_cores", "configured_threads", "threads_in_effect", "limited",
           "parallel_section", "THREAD_ENV"]

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_lock = threading.Lock()
_controller: list = [None, -1]  # ThreadpoolController, len(sys.modules) when it was made
_sections = [0]  # open parallel sections in this process
_local = threading.local()


def usable_cores() -> int:
    """Cores this process may use: CPU affinity and cgroup quotas included (joblib's count)."""
    try:
        from joblib import cpu_count
    except ImportError:  # pragma: no cover - joblib comes with scikit-learn
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return max(1, int(cpu_count()))


def _get_controller():
    """A ThreadpoolController over the libraries loaded now (rescanned when modules were imported)."""
    from threadpoolctl import ThreadpoolController

    with _lock:
        # A native pool arrives with the import of the module that links it: rescanning only
        # when modules were imported keeps a limit at microseconds instead of ~3 ms per scan.
        if _controller[0] is None or _controller[1] != len(sys.modules):
            _controller[0], _controller[1] = ThreadpoolController(), len(sys.modules)
        return _controller[0]


def threads_in_effect() -> dict:
    """Thread counts the calling thread's model calls would use now, per kind of pool.

    ``{"openmp": n or None, "blas": n or None, "torch": n or None}``: the largest count over the
    loaded libraries of each kind (None when none is loaded).
    """
    out: dict = {"openmp": None, "blas": None}
    for lib in _get_controller().info():
        api, n = lib.get("user_api"), lib.get("num_threads")
        if api in out and n is not None:
            out[api] = max(out[api] or 0, int(n))
    torch = sys.modules.get("torch")
    out["torch"] = int(torch.get_num_threads()) if torch is not None and hasattr(torch, "get_num_threads") else None
    return out


def configured_threads() -> dict:
    """The process's own configuration: pools as they are outside any audit limit, and the env vars.

    Read in a thread where the audit has set no limit (the runner calls it before any);
    inside a limit it reports the limit, so callers take it first.
    """
    env = {k: os.environ[k] for k in THREAD_ENV if k in os.environ}
    return {**threads_in_effect(), "env": env}


@dataclass(frozen=True)
class ThreadPlan:
    """The thread limits the audit chose, recorded in ``manifest.execution.threads``.

    Attributes
    ----------
    cores : int
        Usable cores (affinity and cgroup quotas included).
    workers : int
        Tasks run at once (partitions in the summary pass, checks on threads).
    predict : int
        Threads per model call on evaluation sets and the sample, and inside checks (detectors,
        probes): one per worker when work is parallel, else the process's own OpenMP setting
        capped at the usable cores.
    attacks : int
        Threads per model call of an attack (many one-row calls: threads only add overhead).
    configured : dict
        The pools as configured for this process before the audit limited them, and the thread
        environment variables. The latency profile measures at this configuration.
    """

    cores: int
    workers: int
    predict: int
    attacks: int
    configured: dict

    @classmethod
    def choose(cls, workers: int = 1, configured: dict | None = None) -> ThreadPlan:
        """One thread per worker when ``workers > 1``; else the configured OpenMP count, at most the cores."""
        cores = usable_cores()
        conf = configured if configured is not None else configured_threads()
        own = conf.get("openmp") or conf.get("blas") or cores
        predict = 1 if workers > 1 else max(1, min(int(own), cores))
        return cls(cores=cores, workers=max(1, int(workers)), predict=predict, attacks=1, configured=conf)

    def describe(self) -> dict:
        """JSON-ready record for the manifest."""
        d = asdict(self)
        d["latency_profile"] = "as configured (the process's own thread settings)"
        return d


def _torch_threads(n: int):
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_num_threads"):
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def cm():
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return cm()


def _process_scope() -> bool:
    return _sections[0] == 0 and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def limited(n: int | None):
    """Limit the native pools to ``n`` threads for the calls made inside (``None``: no limit).

    Yields
    ------
    dict
        ``{"threads": n, "scope": "process" | "thread"}``: ``process`` set every pool (main
        thread, no parallel section open); ``thread`` set OpenMP for this thread only (the
        process-wide pools belong to the section's coordinator).

    Notes
    -----
    Nested limits of the same ``n`` in one thread cost nothing: the outer one holds.
    """
    if n is None:
        yield {"threads": None, "scope": "none"}
        return
    n = max(1, int(n))
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    scope = "process" if _process_scope() else "thread"
    if stack and stack[-1] == (n, scope):
        yield {"threads": n, "scope": scope}
        return
    ctl = _get_controller()
    if scope == "process":
        cm = contextlib.ExitStack()
        cm.enter_context(ctl.limit(limits=n))
        cm.enter_context(_torch_threads(n))
    else:
        cm = ctl.select(user_api="openmp").limit(limits=n)
    stack.append((n, scope))
    try:
        with cm:
            yield {"threads": n, "scope": scope}
    finally:
        stack.pop()


@contextlib.contextmanager
def parallel_section(per_worker: int = 1):
    """Around a pool of worker threads: the process-wide pools (BLAS, torch) and the coordinator's
    own OpenMP limited once, for all workers; each worker then limits its own OpenMP
    (:func:`limited` does, inside the section)."""
    with limited(per_worker):
        with _lock:
            _sections[0] += 1
        try:
            yield
        finally:
            with _lock:
                _sections[0] -= 1
