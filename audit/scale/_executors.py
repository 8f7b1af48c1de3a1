"""Where partition tasks run: this process, processes forked from it, or a Dask cluster.

Both executors have one method, :meth:`map`, that runs ``fn(source, part, *shared)``
for every partition and yields results as they complete (merging is
order-free, see :mod:`audit.scale._summaries`). ``shared`` arguments (the plan,
the model) are shipped once: Dask scatters them to every worker before the
first task, instead of pickling them into each task.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from audit.errors import AuditError, ExecutionError
from audit.scale._threads import parallel_section

__all__ = ["LocalExecutor", "DaskExecutor", "make_executor"]


class LocalExecutor:
    """Partitions on ``workers`` processes forked from this one (one at a time in this process if
    ``workers == 1``).

    The workers are forked when a pass starts, so the plan, the models and the data source reach
    them without pickling (a model object given to the Python API needs no pickle support); only
    the partition travels to a task and its summaries back. Processes, not threads: reading,
    building the evaluation sets, summarising and much of a model's predict (pandas, encoders in
    Python) hold the GIL, so threads of one process ran about one core's worth of work. Where
    ``fork`` is not available (Windows, macOS' default), the workers are threads of this process.

    At most ``workers`` partitions are in memory at once: tasks are submitted as earlier ones
    finish, not all up front. While tasks run in parallel the process-wide pools (BLAS, torch)
    are limited to one thread (:func:`~audit.scale._threads.parallel_section`), before the fork,
    so every worker starts with them; OpenMP's limit belongs to each thread, so a task sets its
    own (the summary pass does).
    """

    name = "local"

    def __init__(self, workers: int | None = None, name: str = "local", processes: bool | None = None):
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.name = name
        self.processes = _can_fork() if processes is None else bool(processes)

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers}

    def map(self, fn: Callable, source, parts, *shared) -> Iterator:
        if self.workers == 1:
            for p in parts:
                yield _call(fn, source, p, *shared)
            return
        with parallel_section(1), self._pool(fn, source, shared) as pool:
            task = _forked_task if self.processes else functools.partial(fn, source)
            args = () if self.processes else shared
            pending, it = {}, iter(parts)
            for p in it:
                pending[pool.submit(task, p, *args)] = p
                if len(pending) >= self.workers:
                    break
            while pending:
                done = next(as_completed(pending))
                part = pending.pop(done)
                nxt = next(it, None)
                if nxt is not None:
                    pending[pool.submit(task, nxt, *args)] = nxt
                yield _result(done.result, source, part, attempts=1)

    def _pool(self, fn, source, shared):
        if not self.processes:
            return ThreadPoolExecutor(self.workers)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # The initializer's arguments are inherited by the fork, never pickled.
        return ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"), initializer=_install,
                                   initargs=(fn, source, shared))

    def close(self) -> None:
        pass


def _can_fork() -> bool:
    import multiprocessing as mp

    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


_TASK: list = []  # in a forked worker: (fn, source, shared) of the pass it serves


def _install(fn, source, shared) -> None:
    _TASK[:] = [(fn, source, shared)]


def _forked_task(part):
    fn, source, shared = _TASK[0]
    return fn(source, part, *shared)


class DaskExecutor:
    """Partitions as tasks on a Dask cluster: the one at ``address``, or a LocalCluster sized to this machine.

    A task whose worker dies is rescheduled by the scheduler on another worker
    (and retried up to ``retries`` times if it raises); since tasks are pure
    functions of (partition, plan), a rerun returns the same summary. If a task
    still fails, :meth:`map` raises and the audit reports nothing.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 memory_limit: str | None = None, retries: int = 2):
        from distributed import Client, LocalCluster

        self.retries = retries
        self._cluster = None
        if address:
            self.client = Client(address, timeout="10s")
        else:
            n = max(1, int(workers or os.cpu_count() or 1))
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         memory_limit=memory_limit or "auto", dashboard_address=None)
            self.client = Client(self._cluster)
        self.address = self.client.scheduler.address

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        return {"executor": self.name, "workers": len(info.get("workers", {})),
                "cluster": "LocalCluster" if self._cluster is not None else "remote"}

    def map(self, fn: Callable, source, parts, *shared) -> Iterator:
        from distributed import as_completed as dask_completed

        # Shared arguments (source, plan, models) travel once, as the results of tasks rather than
        # scattered data: a task's result that dies with its worker is recomputed from the task,
        # scattered data would be lost for good. Boxed, so a list is one object, not many.
        run = os.urandom(4).hex()
        scattered = [self.client.submit(_identity, _Box(s), pure=False, key=f"shared-{i}-{run}")
                     for i, s in enumerate(shared)]
        src = self.client.submit(_identity, _Box(source), pure=False, key=f"source-{run}")
        futures = {self.client.submit(_unboxed, fn, src, p, *scattered, retries=self.retries, pure=False,
                                      key=f"{fn.__name__}-{p.index}-{os.urandom(4).hex()}"): p for p in parts}
        try:
            for fut in dask_completed(list(futures)):
                result = _result(fut.result, source, futures[fut], attempts=self.retries + 1)
                fut.release()
                yield result
        finally:
            for f in futures:
                f.cancel()
            for s in [*scattered, src]:
                s.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class _Box:
    """One shared argument as one scattered object."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return self.value

    def __setstate__(self, value):
        self.value = value


def _identity(box):
    return box


def _unboxed(fn, source, part, *shared):
    return fn(source.value, part, *(s.value for s in shared))


def _call(fn, source, part, *shared):
    return _result(lambda: fn(source, part, *shared), source, part, attempts=1)


def _result(get, source, part, attempts: int):
    """The task's result, or an ExecutionError naming the partition (never a partial audit)."""
    try:
        return get()
    except AuditError:
        raise
    except Exception as exc:  # noqa: BLE001 - any task failure ends the audit with its cause
        files = [pc.path for pc in source.pieces if pc.start < part.stop and part.start < pc.start + pc.rows]
        raise ExecutionError(
            f"partition {part.index} (rows {part.start:,} to {part.stop - 1:,} of {source.location}; "
            f"file(s) {', '.join(files)}) failed after {attempts} attempt(s): {type(exc).__name__}: {exc}. "
            "Nothing was reported.") from exc


def make_executor(kind: str, address: str | None = None, workers: int | None = None,
                  memory_limit: str | None = None):
    """``memory`` (this process, one partition), ``local`` or ``dask`` executor (``dask`` without an
    address starts a LocalCluster)."""
    if kind == "memory":
        return LocalExecutor(1, name="memory")
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            from audit.errors import InputError

            raise InputError("executor 'dask' needs Dask: pip install 'audit[dask]' "
                             "(or use --executor local)") from None
        try:
            return DaskExecutor(address, workers, memory_limit)
        except OSError as exc:  # no scheduler at that address
            raise ExecutionError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    raise ValueError(f"unknown executor {kind!r}; expected 'memory', 'local' or 'dask'")
