"""Calls into model code under bounds: a time budget, no way out of the process, and optionally
a separate process.

Model code is the user's (or a stranger's) code, run inside the audit. It can hang, call
``sys.exit``, raise ``KeyboardInterrupt`` or crash the interpreter. :class:`CallGuard` runs
each call so that none of these ends or stalls the audit:

- **In a thread** (the default). Each thread that calls the model gets one long-lived worker
  thread, reused for every call (a queue hand-off, not a thread start, per call: about 0.1 ms
  measured, against milliseconds for a batch of predictions). The caller waits at most
  ``timeout_s``; a call that has not returned by then is abandoned (its daemon thread is left
  to finish or hang; it never keeps the process alive) and raises
  :class:`~audit.errors.ModelTimeoutError`. Every later call of that model fails at once with
  the same error: a model that hung once would otherwise cost the budget again per call.
  ``SystemExit`` and ``KeyboardInterrupt`` raised by the model are caught in the worker and
  become :class:`~audit.errors.ModelCallError`; a Ctrl-C from the person running the audit
  still reaches the main thread and stops the audit. The calling thread's OpenMP thread
  count (per thread, unlike BLAS pools' process-wide one: the limits the audit sets with
  threadpoolctl) is carried over to the worker on every call. Other thread-local state of
  the caller is not: model code runs on the worker thread.
- **In a child process** (``model.isolate: true``). The model is pickled once into a
  spawned process that answers calls over a pipe. A crash in native code (a segfault) or a
  hang kills only that process: the call raises, and the next call starts a new one.
"""

from __future__ import annotations

import os
import pickle
import queue
import threading
import weakref
from dataclasses import dataclass

from audit.errors import ModelCallError, ModelTimeoutError

__all__ = ["CallGuard", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 300.0
"""Budget of one model call when the policy gives none (``model.timeout_s``)."""

STARTUP_S = 60.0
"""Extra time the first call of an isolated model's new process gets for its start-up."""


@dataclass
class _Job:
    fn: object
    args: tuple
    done: threading.Event
    openmp: tuple = ()  # the caller's OpenMP thread counts, one per OpenMP runtime
    value: object = None
    error: BaseException | None = None


_OPENMP: list | None = None


def _openmp() -> list:
    """threadpoolctl's controllers of the OpenMP runtimes loaded in this process (found once)."""
    global _OPENMP
    if _OPENMP is None:
        try:
            from threadpoolctl import ThreadpoolController

            _OPENMP = [c for c in ThreadpoolController().lib_controllers if c.user_api == "openmp"]
        except Exception:  # noqa: BLE001 - no threadpoolctl or an odd runtime: nothing to carry over
            _OPENMP = []
    return _OPENMP


class _Worker(threading.Thread):
    """A daemon thread running the model calls of one calling thread, one at a time."""

    def __init__(self):
        super().__init__(name="audit-model-call", daemon=True)
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._openmp: tuple = ()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job.openmp != self._openmp:  # mirror the caller's OpenMP limit on this thread
                    for lib, n in zip(_openmp(), job.openmp, strict=False):
                        lib.set_num_threads(n)
                    self._openmp = job.openmp
                job.value = job.fn(*job.args)
            except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt of model code too
                job.error = exc
            finally:
                job.done.set()
            job = None  # drop references to the batch while idle


class CallGuard:
    """Runs a model's calls within its bounds (see the module docstring).

    Parameters
    ----------
    model : str
        How messages name the model (its file, entry point or class).
    timeout_s : float or None
        Budget of one call; None: no budget (calls run on the caller's thread).
    isolate : bool
        Run calls in a child process (``estimator`` is pickled into it).
    estimator : object, optional
        The model object; needed with ``isolate``.
    """

    def __init__(self, model: str, timeout_s: float | None, isolate: bool = False, estimator=None):
        self.model = model
        self.timeout_s = timeout_s
        self.isolate = isolate
        self._local = threading.local()
        self._hung: str | None = None
        self._child = _Child(model, estimator, timeout_s) if isolate else None
        _GUARDS.add(self)

    def _after_fork(self) -> None:
        # In a forked process (the local executor's workers): the parent's worker threads and the
        # pipe to its model process did not come along. Calls start their own, as on a Dask worker.
        self._local = threading.local()
        if self._child is not None:
            self._child = _Child.from_payload(self.model, self._child.payload, self.timeout_s)

    def call(self, method: str, fn, X):
        """``fn(X)`` (the bound method ``method`` of the model) within the bounds."""
        if self._hung is not None:
            raise ModelTimeoutError(self.model, self._hung)
        if self._child is not None:
            return self._child.call(method, X)
        if self.timeout_s is None:
            return _plain(self.model, method, fn, X)
        worker = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._local.worker = _Worker()
            worker.start()
        job = _Job(fn, (X,), threading.Event(), tuple(lib.get_num_threads() for lib in _openmp()))
        worker.jobs.put(job)
        if not job.done.wait(self.timeout_s):
            self._local.worker = None  # abandoned: busy with the call that hangs
            self._hung = (f"{method}() did not return within the time budget of {self.timeout_s:g} s "
                          f"(model.timeout_s; {len(X):,} rows); later calls were not attempted")
            raise ModelTimeoutError(self.model, self._hung)
        if job.error is not None:
            raise _translated(self.model, method, job.error)
        return job.value

    def close(self) -> None:
        """Stop the child process, if any."""
        if self._child is not None:
            self._child.stop()

    def __getstate__(self):
        # Shipped to a Dask worker: the budget travels, threads and processes do not.
        return {"model": self.model, "timeout_s": self.timeout_s, "isolate": self.isolate,
                "child": None if self._child is None else self._child.payload}

    def __setstate__(self, state):
        self.model, self.timeout_s, self.isolate = state["model"], state["timeout_s"], state["isolate"]
        self._local = threading.local()
        self._hung = None
        self._child = None if state["child"] is None else _Child.from_payload(self.model, state["child"],
                                                                              self.timeout_s)
        _GUARDS.add(self)


_GUARDS: weakref.WeakSet = weakref.WeakSet()


def _reset_after_fork() -> None:
    for guard in list(_GUARDS):
        guard._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _plain(model: str, method: str, fn, X):
    try:
        return fn(X)
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _translated(model, method, exc) from None


def _translated(model: str, method: str, exc: BaseException) -> BaseException:
    """What the audit raises for an exception of model code: exits and interrupts become
    ModelCallError (they must not end the audit); anything else is raised as it is, and the
    set or check that needed the call reports it."""
    if isinstance(exc, SystemExit):
        return ModelCallError(model, f"{method}() raised SystemExit({exc.code!r}): model code tried to end "
                                     "the process; the audit treats it as a failed call")
    if isinstance(exc, KeyboardInterrupt):
        return ModelCallError(model, f"{method}() raised KeyboardInterrupt from inside the model (not from "
                                     "the keyboard); the audit treats it as a failed call")
    if not isinstance(exc, Exception):
        return ModelCallError(model, f"{method}() raised {type(exc).__name__}: {exc}")
    return exc


# -- isolation ------------------------------------------------------------------------------------

class _Child:
    """A spawned process holding the model, answering ``(method, X)`` over a pipe."""

    def __init__(self, model: str, estimator, timeout_s: float | None, payload: bytes | None = None):
        self.model = model
        self.timeout_s = timeout_s
        if payload is None:
            try:
                payload = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 - any pickling failure means: cannot isolate
                from audit.errors import ModelLoadError

                raise ModelLoadError(f"model {model}: model.isolate needs a model that can be pickled "
                                     f"into a child process; pickling failed: {type(exc).__name__}: {exc}") from None
        self.payload = payload
        self._proc = None
        self._conn = None
        self._lock = threading.Lock()

    @classmethod
    def from_payload(cls, model: str, payload: bytes, timeout_s):
        return cls(model, None, timeout_s, payload)

    def _start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a fork would copy the parent's threads' locks mid-use
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.payload), name="audit-model", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def call(self, method: str, X):
        with self._lock:
            fresh = self._proc is None or not self._proc.is_alive()
            if fresh:
                self._start()
            budget = self.timeout_s
            try:
                self._conn.send((method, X))
                # The first call of a new process also pays its start-up (imports, unpickling).
                ready = self._conn.poll(None if budget is None else budget + (STARTUP_S if fresh else 0.0))
            except (BrokenPipeError, EOFError, OSError):
                ready = True
            if not ready:
                self.stop()
                raise ModelTimeoutError(self.model, f"{method}() did not return within the time budget of "
                                                    f"{budget:g} s (model.timeout_s; {len(X):,} rows); its "
                                                    "process was stopped")
            try:
                status, value = self._conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                code = self._wait_exit()
                self._proc = self._conn = None
                raise ModelCallError(self.model, f"{method}() crashed the model's process "
                                                 f"({_exit_text(code)}); model.isolate kept the audit "
                                                 "running") from None
            if status == "ok":
                return value
            if status == "exit":  # SystemExit / KeyboardInterrupt inside the model, in the child
                raise _translated(self.model, method, value)
            raise value if isinstance(value, Exception) else ModelCallError(self.model, f"{method}() raised {value}")

    def _wait_exit(self):
        self._proc.join(5)
        return self._proc.exitcode

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None


def _exit_text(code) -> str:
    import signal

    if code is None:
        return "it did not exit"
    if code < 0:
        try:
            return f"killed by signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _serve(conn, payload: bytes) -> None:
    """The child process: unpickle the model, then answer calls until the pipe closes."""
    est = pickle.loads(payload)  # noqa: S301 - the parent pickled it from the model it loaded
    while True:
        try:
            method, X = conn.recv()
        except (EOFError, OSError):
            return
        try:
            out = ("ok", getattr(est, method)(X))
        except (SystemExit, KeyboardInterrupt) as exc:  # reported to the parent; the child goes on
            out = ("exit", type(exc)(*exc.args))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, the child goes on
            out = ("error", exc if _picklable(exc) else f"{type(exc).__name__}: {exc}")
        try:
            conn.send(out)
        except (BrokenPipeError, OSError):
            return


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:  # noqa: BLE001
        return False
    return True
