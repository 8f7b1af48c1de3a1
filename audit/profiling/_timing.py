"""Timed calls: warm-up, then repeated calls under a repetition cap and a time budget."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["time_calls", "timer_overhead_ns"]

MIN_TIMED_CALLS = 3  # a spread needs a few calls, even when one call outlasts the budget


WARMUP_SHARE = 0.25  # of a batch size's budget, at most, for its warm-up calls


def time_calls(fn: Callable, batches: Sequence, warmup: int, repeats: int,
               budget_s: float) -> tuple[np.ndarray, int, bool]:
    """Call ``fn`` on ``batches`` (cycled) and time each call with ``perf_counter_ns``.

    Parameters
    ----------
    fn : callable
        The prediction function, called as ``fn(batch)``.
    batches : sequence
        Pre-sliced inputs; slicing happens outside the timed region.
    warmup : int
        Untimed calls first (caches, lazy imports, allocator pools). Warm-up stops
        early once it has used a quarter of ``budget_s`` (at least one call is made
        when ``warmup > 0``), so a slow model is not warmed for minutes.
    repeats : int
        Maximum number of timed calls.
    budget_s : float
        Wall-time budget of warm-up and timed calls together; the timed loop stops once it
        is spent and at least :data:`MIN_TIMED_CALLS` calls were timed.

    Returns
    -------
    timings_ns : ndarray of int64
        One duration per timed call.
    warmup_done : int
        Warm-up calls actually made.
    stopped_by_budget : bool
        True when the budget, not ``repeats``, ended the loop.
    """
    k = len(batches)
    budget_ns = int(budget_s * 1e9)
    clock = time.perf_counter_ns
    start = clock()
    done = 0
    for i in range(warmup):
        fn(batches[i % k])
        done += 1
        if clock() - start >= WARMUP_SHARE * budget_ns:
            break
    # Garbage from earlier work is collected now rather than inside a timed call;
    # the collector stays enabled so tail latencies include GC pauses, as in service.
    gc.collect()
    out = np.empty(repeats, dtype=np.int64)
    n = 0
    for i in range(repeats):
        b = batches[i % k]
        t0 = clock()
        fn(b)
        t1 = clock()
        out[n] = t1 - t0
        n += 1
        if t1 - start >= budget_ns and n >= MIN_TIMED_CALLS:
            break
    return out[:n].copy(), done, n < repeats


def timer_overhead_ns(calls: int = 2000) -> float:
    """Median duration of an empty timed region (two ``perf_counter_ns`` calls)."""
    clock = time.perf_counter_ns
    d = np.empty(calls, dtype=np.int64)
    for i in range(calls):
        t0 = clock()
        t1 = clock()
        d[i] = t1 - t0
    return float(np.median(d))
