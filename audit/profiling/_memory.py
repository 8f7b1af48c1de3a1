"""Peak memory of one prediction call, two ways.

- ``tracemalloc``: the peak of Python-heap allocations during the call,
  numpy arrays included (numpy reports its data buffers to tracemalloc). Exact
  and repeatable, but blind to native allocations that bypass Python's
  allocator (BLAS work buffers, C++ libraries such as LightGBM, ONNX Runtime,
  torch's CPU allocator).
- resident set size (RSS): what the operating system gave the process. On
  Linux the peak-RSS mark (``VmHWM``) is reset through ``/proc/self/clear_refs``
  before the call and read after it, which is exact for the whole process;
  elsewhere a background thread samples ``psutil`` RSS, which can miss short
  spikes (the sampler needs the GIL). RSS also counts pages an allocator keeps
  after freeing, so it can overstate.

The profile reports both; the memory check takes the larger by default.
tracemalloc slows allocation, so memory is measured in calls of its own,
never during the timed calls.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MemoryPeak", "measure_peak_memory"]

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


@dataclass(frozen=True)
class MemoryPeak:
    """Peak memory of one call.

    Attributes
    ----------
    tracemalloc_bytes : int
        Peak Python-heap bytes allocated during the call (above the level before it).
    rss_delta_bytes : int or None
        Peak RSS during the call minus RSS before it; None if RSS is unavailable.
    rss_peak_bytes : int or None
        Peak RSS of the whole process during the call.
    rss_method : str
        ``"VmHWM"`` (Linux peak mark, exact), ``"psutil-sampled"``, ``"none"`` (RSS is not
        available here) or ``"skipped"`` (the profile's time budget was spent before the RSS
        call could start; :attr:`rss_measured` is False and both RSS fields are None).
    """

    tracemalloc_bytes: int
    rss_delta_bytes: int | None
    rss_peak_bytes: int | None
    rss_method: str

    @property
    def peak_bytes(self) -> int:
        """The larger of the two measures (tracemalloc alone when RSS was not measured)."""
        return max(self.tracemalloc_bytes, self.rss_delta_bytes or 0)

    @property
    def rss_measured(self) -> bool:
        """False when the time budget left no room for the RSS call (``rss_method == "skipped"``)."""
        return self.rss_method != "skipped"


def measure_peak_memory(fn: Callable, batch, may_start: Callable[[], bool] | None = None) -> MemoryPeak | None:
    """Run ``fn(batch)`` twice: once under tracemalloc, once watching RSS.

    Parameters
    ----------
    fn : callable
        The prediction function.
    batch : object
        Its input.
    may_start : callable, optional
        Asked before each of the two calls (a profile's time budget): when it returns False
        the call is not made. Default: both calls are made.

    Returns
    -------
    MemoryPeak or None
        None when not even the tracemalloc call could start; ``rss_method="skipped"`` when
        only the RSS call could not.
    """
    if may_start is not None and not may_start():
        return None
    traced = _tracemalloc_peak(fn, batch)
    if may_start is not None and not may_start():
        return MemoryPeak(traced, None, None, "skipped")
    return MemoryPeak(traced, *_rss_peak(fn, batch))


def _tracemalloc_peak(fn: Callable, batch) -> int:
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - before)


def _status_kb(field: str) -> int | None:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


@functools.cache
def _hwm_available() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")  # "5" resets only the peak-RSS mark; page state is untouched
        return _status_kb("VmHWM") is not None
    except OSError:
        return False


def _rss_peak(fn: Callable, batch) -> tuple[int | None, int | None, str]:
    gc.collect()
    if _hwm_available():
        before = _status_kb("VmRSS")
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        fn(batch)
        peak = _status_kb("VmHWM")
        return max(0, peak - before), peak, "VmHWM"
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None, None, "none"
    return (*_sampled(psutil.Process(), fn, batch), "psutil-sampled")


def _sampled(proc, fn: Callable, batch) -> tuple[int, int]:
    before = proc.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.0005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        fn(batch)
    finally:
        stop.set()
        t.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return max(0, peak[0] - before), peak[0]
