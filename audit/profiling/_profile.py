"""The runtime profile of a model: timings per batch size, memory, environment."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.profiling import _timing
from audit.profiling._environment import environment, load_average
from audit.profiling._memory import MemoryPeak, measure_peak_memory
from audit.profiling._timing import WARMUP_SHARE, timed_loop, timer_overhead_ns, warm_up

__all__ = [
    "ProfileParams",
    "BatchProfile",
    "RuntimeProfile",
    "profile_model",
    "prediction_function",
    "batches_for",
    "NOISY_CV",
    "NOISY_TAIL_RATIO",
]

# A timing spread above these marks the run "noisy": on a quiet machine the
# demo model's calls vary by ~5 % and p99/p50 stays near 1.1.
NOISY_CV = 0.30
NOISY_TAIL_RATIO = 3.0
MAX_VARIANTS = 4  # distinct row slices cycled per batch size, so one slice's cache luck does not dominate


class ProfileParams(BaseModel):
    """How to profile (shared by every latency check; equal settings share one profile).

    Attributes
    ----------
    batch_sizes : list of int
        Rows per call to profile.
    warmup : int
        Untimed calls per batch size before timing (at most a quarter of its share of the budget).
    repeats : int
        Maximum timed calls per batch size (a two-sided 95 % interval of p99 needs 368).
    budget_s : float
        Wall-time cap of the whole profile's calls (warm-up, memory and timed calls, every
        batch size): the batch sizes are profiled in turn, ascending, each with an equal share
        of what is left, so time a fast batch size does not need goes to the next. A batch size
        may outrun its share to make 3 timed calls, but once the budget is spent no call
        starts: the profile overruns it by at most the one call running then. The one
        exception: the first batch size always gets one timed call (after its first warm-up
        call, when ``warmup > 0``), so a profile is never empty. Batch sizes the budget did not
        reach are recorded as not timed, memory the budget did not reach as not measured, and
        the checks that read them are INCONCLUSIVE. The calls actually made are recorded, and
        their number sets how precise each percentile is.
    method : {"auto", "predict_proba", "predict"}
        Function timed; ``auto`` is ``predict_proba`` for classifiers that have it, else ``predict``.
    """

    model_config = ConfigDict(extra="forbid")

    batch_sizes: list[Annotated[int, Field(ge=1, le=10_000_000)]] = Field([1, 32, 1024], min_length=1)  # pydantic copies list defaults
    warmup: int = Field(5, ge=0, le=10_000)
    repeats: int = Field(1000, ge=1, le=1_000_000)
    budget_s: float = Field(
        1.0, gt=0, le=3600,
        description="Wall-time cap (s) of the whole profile's calls, every batch size: once it is spent no "
                    "call starts (the first batch size always gets one timed call). Batch sizes it did not "
                    "reach are not timed, and the checks at them are INCONCLUSIVE.")
    method: Literal["auto", "predict_proba", "predict"] = "auto"

    def key(self, extra_batch: int | None = None) -> tuple:
        sizes = set(self.batch_sizes) | ({extra_batch} if extra_batch else set())
        return (tuple(sorted(sizes)), self.warmup, self.repeats, self.budget_s, self.method)


@dataclass
class BatchProfile:
    """Timings of one batch size.

    A batch size the profile's time budget did not reach has no timings: :attr:`skipped` is
    True, ``repeats`` is 0, ``memory`` is None, and the statistics (percentiles, mean,
    throughput...) raise ``ValueError`` instead of returning a number.

    Attributes
    ----------
    batch_size : int
        Rows per call.
    timings_ns : ndarray of int64
        Raw duration of every timed call, in call order (empty when skipped).
    warmup : int
        Warm-up calls made.
    repeats_requested : int
        The cap asked for; ``repeats`` is what was done.
    stopped_by_budget : bool
        True when the time budget ended the timing early (or prevented it).
    memory : MemoryPeak or None
        Peak memory of one call of this size; None when the budget was spent before its
        memory calls (``rss_method == "skipped"`` when only the RSS call was cut).
    tiled : bool
        True when the evaluation set has fewer rows than the batch and rows were repeated.
    """

    batch_size: int
    timings_ns: np.ndarray
    warmup: int
    repeats_requested: int
    stopped_by_budget: bool
    memory: MemoryPeak | None = None
    tiled: bool = False

    @property
    def timings_ms(self) -> np.ndarray:
        return self.timings_ns / 1e6

    @property
    def repeats(self) -> int:
        return int(self.timings_ns.size)

    @property
    def skipped(self) -> bool:
        """True when no call of this size was timed (the time budget was spent before)."""
        return self.repeats == 0

    def _timed_ms(self) -> np.ndarray:
        if self.skipped:
            raise ValueError(f"batch size {self.batch_size} was not timed (the profile's time budget was "
                             "spent first): it has no latency statistics")
        return self.timings_ms

    def percentile_ms(self, q: float) -> float:
        """``numpy.percentile`` (linear interpolation) of the timings, ``q`` in [0, 100]."""
        return float(np.percentile(self._timed_ms(), q))

    @property
    def mean_ms(self) -> float:
        return float(self._timed_ms().mean())

    @property
    def std_ms(self) -> float:
        return float(self._timed_ms().std(ddof=1)) if self.repeats > 1 else 0.0

    @property
    def min_ms(self) -> float:
        return float(self._timed_ms().min())

    @property
    def max_ms(self) -> float:
        return float(self._timed_ms().max())

    @property
    def cv(self) -> float:
        """Coefficient of variation of the timings (std / mean)."""
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else 0.0

    @property
    def tail_ratio(self) -> float:
        """p99 / p50."""
        p50 = self.percentile_ms(50)
        return self.percentile_ms(99) / p50 if p50 > 0 else 0.0

    @property
    def throughput_rows_per_s(self) -> float:
        """Rows per second: batch size over mean latency."""
        return self.batch_size / (self.mean_ms / 1e3) if self.mean_ms > 0 else float("inf")

    @property
    def noisy(self) -> bool:
        """Timing spread above the noise marks (False when not timed: nothing to judge)."""
        return not self.skipped and (self.cv > NOISY_CV or self.tail_ratio > NOISY_TAIL_RATIO)


@dataclass
class RuntimeProfile:
    """Everything measured about one model's runtime.

    Attributes
    ----------
    batches : dict of int to BatchProfile
        One entry per batch size asked for, ascending, including those the time budget did
        not reach (``skipped``; :attr:`timed_batches` leaves them out).
    method : str
        Function timed (``predict_proba``, ``predict``, or ``adapter.*`` when the
        estimator itself has neither).
    evalset : str
        Evaluation set the rows were sliced from.
    rows_available : int
        Rows in that set.
    environment : dict
        Hardware, software, thread pools, load average (JSON-ready).
    timer_overhead_ns : float
        Median cost of an empty timed region, for scale.
    duration_s : float
        Wall time of the whole profile.
    """

    batches: dict[int, BatchProfile]
    method: str
    evalset: str
    rows_available: int
    environment: dict
    timer_overhead_ns: float
    duration_s: float
    params: dict = field(default_factory=dict)

    def batch(self, size: int) -> BatchProfile:
        """The batch size's profile (possibly ``skipped``: see :meth:`not_timed_reason`)."""
        return self.batches[size]

    @property
    def timed_batches(self) -> dict[int, BatchProfile]:
        """The batch sizes with at least one timed call (every batch size but the skipped ones)."""
        return {b: p for b, p in self.batches.items() if not p.skipped}

    @property
    def skipped_batches(self) -> list[int]:
        """The batch sizes the time budget did not reach, ascending."""
        return [b for b, p in self.batches.items() if p.skipped]

    @property
    def noisy_batches(self) -> list[int]:
        return [b for b, p in self.batches.items() if p.noisy]

    def _budget_text(self) -> str:
        budget = (self.params or {}).get("budget_s")
        amount = f"the {budget:g} s" if isinstance(budget, int | float) else "the"
        return f"{amount} latency budget (latency profile budget_s)"

    def _timed_text(self) -> str:
        timed = list(self.timed_batches)
        return f"batch size{'s' if len(timed) != 1 else ''} {', '.join(map(str, timed)) or 'none'}"

    def not_timed_reason(self, size: int) -> str | None:
        """Why batch size ``size`` has no timings, naming the budget; None when it was timed."""
        bp = self.batches[size]
        if not bp.skipped:
            return None
        warm = f" and {bp.warmup} warm-up call(s) at batch size {size}" if bp.warmup else ""
        return (f"batch size {size} not timed: {self._budget_text()} was spent after timing "
                f"{self._timed_text()}{warm}; raise budget_s to time it")

    def memory_missing_reason(self, size: int, source: str = "max") -> str | None:
        """Why the peak memory of batch size ``size`` (by ``source``) was not measured; None when it was.

        ``source`` is ``tracemalloc``, ``rss`` or ``max`` (both measures needed).
        """
        bp = self.batches[size]
        if bp.memory is None and bp.skipped:
            return self.not_timed_reason(size)
        if bp.memory is None:
            return (f"peak memory at batch size {size} not measured: {self._budget_text()} was spent before "
                    f"its memory calls (after timing {self._timed_text()}); raise budget_s to measure it")
        if source != "tracemalloc" and not bp.memory.rss_measured:
            return (f"RSS at batch size {size} not measured: {self._budget_text()} was spent before its RSS "
                    "call (its tracemalloc peak was measured: source: tracemalloc reads it); raise budget_s "
                    "to measure it")
        return None

    @property
    def notes(self) -> list[str]:
        out = []
        noisy = self.noisy_batches
        if noisy:
            out.append("machine was noisy: timing spread is high at batch size(s) "
                       f"{', '.join(map(str, noisy))} (CV > {NOISY_CV} or p99/p50 > {NOISY_TAIL_RATIO}); "
                       "re-run on a quiet machine before trusting tail latencies")
        short = [b for b, p in self.timed_batches.items() if p.stopped_by_budget]
        if short:
            out.append(f"time budget ended the timing early at batch size(s) {', '.join(map(str, short))}")
        skipped = self.skipped_batches
        if skipped:
            out.append(f"{self._budget_text()} was spent after timing {self._timed_text()}: batch size(s) "
                       f"{', '.join(map(str, skipped))} not timed (raise budget_s to time them)")
        no_mem = [b for b, p in self.timed_batches.items() if p.memory is None]
        if no_mem:
            out.append(f"peak memory not measured at batch size(s) {', '.join(map(str, no_mem))}: the time "
                       "budget was spent before its memory calls")
        no_rss = [b for b, p in self.timed_batches.items() if p.memory is not None and not p.memory.rss_measured]
        if no_rss:
            out.append(f"RSS not measured at batch size(s) {', '.join(map(str, no_rss))} (tracemalloc was): "
                       "the time budget was spent before the RSS call")
        tiled = [b for b, p in self.batches.items() if p.tiled]
        if tiled:
            out.append(f"batch size(s) {', '.join(map(str, tiled))} exceed the {self.rows_available} rows "
                       "available; rows were repeated")
        return out


def prediction_function(adapter, method: str = "auto", task: str = "classification") -> tuple[Callable, str]:
    """The function to time: the estimator's own method, bypassing the adapter's batching."""
    est = adapter.estimator
    want_proba = method == "predict_proba" or (method == "auto" and task == "classification")
    if want_proba and callable(getattr(est, "predict_proba", None)):
        return est.predict_proba, "predict_proba"
    if method == "predict_proba" and not adapter.has_proba:
        raise ValueError("the model has no predict_proba")
    if method == "predict_proba":
        return adapter.predict_proba, "adapter.predict_proba"
    if callable(getattr(est, "predict", None)):
        return est.predict, "predict"
    return adapter.predict, "adapter.predict"  # e.g. a torch module behind its adapter


def batches_for(X, size: int, variants: int = MAX_VARIANTS) -> tuple[list, bool]:
    """Up to ``variants`` distinct row slices of ``size`` rows (wrapping round when short)."""
    n = len(X)
    if n == 0:
        raise ValueError("the evaluation set has no rows to time predictions on")
    k = max(1, min(variants, n // size))
    take = X.iloc.__getitem__ if hasattr(X, "iloc") else X.__getitem__
    out = [take((start * size + np.arange(size)) % n) for start in range(k)]
    return out, size > n


def profile_model(adapter, X, params: ProfileParams | None = None, *, task: str = "classification",
                  evalset: str = "base", extra_batch: int | None = None) -> RuntimeProfile:
    """Profile ``adapter``'s model on slices of ``X``, within ``params.budget_s`` of calls.

    For each batch size, in ascending order and with an equal share of the budget left:
    warm-up calls, one timed call, one call under tracemalloc and one watching RSS, then the
    rest of the (up to ``repeats``) timed calls (time a size does not use goes to the sizes
    after it). The memory calls come before most timed calls so that they fit in the size's
    share: after them, the last size's timed calls would have used all that is left.

    The budget is a wall-time cap of all these calls: once it is spent no warm-up, memory or
    timed call starts, so the profile overruns it by at most the one call running then. A
    batch size stops its timed calls when its share is spent and it has
    :data:`~audit.profiling._timing.MIN_TIMED_CALLS` (3) of them, taking the time for those
    from the sizes after it, but never from beyond the budget. The one exception: the first
    batch size always gets one timed call, so the profile has a timing. Its warm-up runs as for
    any size (the first warm-up call always starts, so the timed call is not the model's first
    call when ``warmup > 0``), and its first timed call, which comes before its memory calls,
    is made even if that warm-up spent the budget: then it is the only call started after the
    budget was spent (a model slower than the budget gets one warm-up call and one timed call).
    Batch sizes the budget did not reach are recorded with no timings (``BatchProfile.skipped``;
    they are not even sliced), memory calls it did not reach as ``memory=None`` (or
    ``rss_method="skipped"``); ``notes`` names them, and :meth:`RuntimeProfile.not_timed_reason`
    and :meth:`RuntimeProfile.memory_missing_reason` say why, for the checks.

    The calls run with the thread pools as the
    process has them (its own configuration, when no audit limit is in force, as in the
    runner); the profile records those thread counts (``environment["threads"]``).

    Parameters
    ----------
    adapter : ModelAdapter
        The model.
    X : DataFrame or ndarray
        Rows to slice batches from (the base evaluation set).
    params : ProfileParams, optional
        Settings; defaults give batch sizes 1, 32, 1024 within 1 s.
    task : str
        ``classification`` or ``regression`` (chooses the function timed).
    evalset : str
        Name recorded in the profile.
    extra_batch : int, optional
        A batch size to profile beyond ``params.batch_sizes``.
    """
    from audit.scale import configured_threads

    params = params or ProfileParams()
    t0 = time.perf_counter()
    fn, method = prediction_function(adapter, params.method, task)
    env = environment(adapter.estimator)
    env["threads"] = configured_threads()
    sizes = params.key(extra_batch)[0]
    batches = {}
    # The objects alive now (the audit's data, summaries, libraries) are frozen out of the garbage
    # collector while the model is timed: a collection inside a timed call then costs what it
    # would in a process that holds the model alone, and the collections before each timed loop
    # and memory call take microseconds instead of a walk over the audit's whole heap.
    gc.collect()
    gc.freeze()
    try:
        clock = _timing._clock  # the timing's clock (a test may replace it)
        deadline = clock() + int(params.budget_s * 1e9)

        def may_start() -> bool:
            return clock() < deadline

        for i, size in enumerate(sizes):
            if i > 0 and not may_start():  # not reached: not even sliced (a large batch takes time)
                batches[size] = BatchProfile(size, np.empty(0, dtype=np.int64), 0, params.repeats, True,
                                             None, size > len(X))
                continue
            data, tiled = batches_for(X, size)
            start = clock()
            share = max(deadline - start, 0) // (len(sizes) - i)
            end = start + share
            warm = warm_up(fn, data, params.warmup, start + int(WARMUP_SHARE * share), deadline)
            # One timed call (the first size's is guaranteed: it never waits behind the memory
            # calls), the memory calls, then the rest of the timed calls. Memory before most of
            # the timed calls: it then fits in this size's share, where after them (they use what
            # is left of it) the last size's memory calls would never start.
            first = timed_loop(fn, data, min(1, params.repeats), end, deadline, min_calls=1 if i == 0 else 0)
            mem = measure_peak_memory(fn, data[0], may_start) if first.size else None
            rest = timed_loop(fn, data, params.repeats, end, deadline, min_calls=0, done=first.size)
            ns = np.concatenate([first, rest])
            batches[size] = BatchProfile(size, ns, warm, params.repeats, ns.size < params.repeats, mem, tiled)
    finally:
        gc.unfreeze()
    env["load_average_after"] = load_average()
    return RuntimeProfile(batches, method, evalset, len(X), env, timer_overhead_ns(),
                          time.perf_counter() - t0, params.model_dump(mode="json"))
