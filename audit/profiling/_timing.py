"""Timed calls: warm-up, then repeated calls under a repetition cap and a time budget."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["time_calls", "timer_overhead_ns"]

MIN_TIMED_CALLS = 3  # a spread needs a few calls: a batch size may outlast its share for them, never the deadline


WARMUP_SHARE = 0.25  # of a batch size's budget, at most, for its warm-up calls

# The profile's clock (nanoseconds). One name, looked up at each use, so a test can replace it
# with a clock its fake model advances: budgets are then decided without real time passing.
_clock = time.perf_counter_ns


def time_calls(fn: Callable, batches: Sequence, warmup: int, repeats: int,
               budget_s: float) -> tuple[np.ndarray, int, bool]:
    """Call ``fn`` on ``batches`` (cycled) and time each call with ``perf_counter_ns``.

    Warm-up (:func:`warm_up`), a garbage collection, then timed calls (:func:`timed_loop`),
    within ``budget_s``, a hard limit: no call starts once it is spent, except the first timed
    call, so the budget is overrun by at most the one call running when it ends.

    Parameters
    ----------
    fn : callable
        The prediction function, called as ``fn(batch)``.
    batches : sequence
        Pre-sliced inputs; slicing happens outside the timed region.
    warmup : int
        Untimed calls first (caches, lazy imports, allocator pools). Warm-up stops once it has
        used a quarter of ``budget_s`` (the first call is made when ``warmup > 0``), so a slow
        model is not warmed for minutes.
    repeats : int
        Maximum number of timed calls.
    budget_s : float
        Wall-time budget of the warm-up and timed calls together.

    Returns
    -------
    timings_ns : ndarray of int64
        One duration per timed call (at least one).
    warmup_done : int
        Warm-up calls actually made.
    stopped_by_budget : bool
        True when the budget, not ``repeats``, ended the loop.
    """
    start = _clock()
    end = start + int(budget_s * 1e9)
    done = warm_up(fn, batches, warmup, start + int(WARMUP_SHARE * budget_s * 1e9), end)
    ns = timed_loop(fn, batches, repeats, end, end, min_calls=1)
    return ns, done, ns.size < repeats


def warm_up(fn: Callable, batches: Sequence, warmup: int, until_ns: int, deadline_ns: int) -> int:
    """Up to ``warmup`` untimed calls; returns how many were made.

    A call starts only before ``deadline_ns``; warm-up ends once :data:`_clock` reaches
    ``until_ns`` (its part of the budget), so at least one call is made when ``warmup > 0``
    and the deadline has not passed.
    """
    k = len(batches)
    clock = _clock
    done = 0
    for i in range(warmup):
        if clock() >= deadline_ns:
            break
        fn(batches[i % k])
        done += 1
        if clock() >= until_ns:
            break
    return done


def timed_loop(fn: Callable, batches: Sequence, repeats: int, share_end_ns: int, deadline_ns: int,
               min_calls: int = 1, done: int = 0) -> np.ndarray:
    """Timed calls (``perf_counter_ns`` around each) up to ``repeats`` in all, within a share of a budget.

    The rule, checked before each call beyond the first ``min_calls`` (which are always made):
    no call starts at or after ``deadline_ns``, and none at or after ``share_end_ns`` once
    :data:`MIN_TIMED_CALLS` calls were timed. So a batch size may outrun its share (up to the
    deadline) to get a spread, never the deadline.

    Parameters
    ----------
    done : int
        Calls of this batch size timed before (in an earlier loop): they count towards
        ``repeats``, ``min_calls`` and :data:`MIN_TIMED_CALLS`, and the batches cycle on from them.

    Returns
    -------
    ndarray of int64
        One duration per call timed here, in call order.
    """
    k = len(batches)
    clock = _clock
    if done < repeats and (done < min_calls or clock() < deadline_ns):
        # Garbage from earlier work is collected now rather than inside a timed call;
        # the collector stays enabled so tail latencies include GC pauses, as in service.
        gc.collect()
    out = np.empty(max(repeats - done, 0), dtype=np.int64)
    n = done
    while n < repeats:
        if n >= min_calls:
            now = clock()
            if now >= deadline_ns or (now >= share_end_ns and n >= MIN_TIMED_CALLS):
                break
        b = batches[n % k]
        t0 = clock()
        fn(b)
        t1 = clock()
        out[n - done] = t1 - t0
        n += 1
    return out[:n - done].copy()


def timer_overhead_ns(calls: int = 2000) -> float:
    """Median duration of an empty timed region (two ``perf_counter_ns`` calls)."""
    clock = time.perf_counter_ns
    d = np.empty(calls, dtype=np.int64)
    for i in range(calls):
        t0 = clock()
        t1 = clock()
        d[i] = t1 - t0
    return float(np.median(d))
