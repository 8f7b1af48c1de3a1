"""The runtime profile of a model: timings per batch size, memory, environment."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.profiling._environment import environment, load_average
from audit.profiling._memory import MemoryPeak, measure_peak_memory
from audit.profiling._timing import time_calls, timer_overhead_ns

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
        Wall-time budget of the whole profile's calls (warm-up and timed calls, every batch
        size): the batch sizes are timed in turn, each with an equal share of what is left, so
        time a fast batch size does not need goes to the next. The calls actually made are
        recorded, and their number sets how precise each percentile is.
    method : {"auto", "predict_proba", "predict"}
        Function timed; ``auto`` is ``predict_proba`` for classifiers that have it, else ``predict``.
    """

    model_config = ConfigDict(extra="forbid")

    batch_sizes: list[Annotated[int, Field(ge=1, le=10_000_000)]] = Field([1, 32, 1024], min_length=1)  # pydantic copies list defaults
    warmup: int = Field(5, ge=0, le=10_000)
    repeats: int = Field(1000, ge=1, le=1_000_000)
    budget_s: float = Field(1.0, gt=0, le=3600)
    method: Literal["auto", "predict_proba", "predict"] = "auto"

    def key(self, extra_batch: int | None = None) -> tuple:
        sizes = set(self.batch_sizes) | ({extra_batch} if extra_batch else set())
        return (tuple(sorted(sizes)), self.warmup, self.repeats, self.budget_s, self.method)


@dataclass
class BatchProfile:
    """Timings of one batch size.

    Attributes
    ----------
    batch_size : int
        Rows per call.
    timings_ns : ndarray of int64
        Raw duration of every timed call, in call order.
    warmup : int
        Warm-up calls made.
    repeats_requested : int
        The cap asked for; ``repeats`` is what was done.
    stopped_by_budget : bool
        True when the time budget ended the timing early.
    memory : MemoryPeak or None
        Peak memory of one call of this size.
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

    def percentile_ms(self, q: float) -> float:
        """``numpy.percentile`` (linear interpolation) of the timings, ``q`` in [0, 100]."""
        return float(np.percentile(self.timings_ms, q))

    @property
    def mean_ms(self) -> float:
        return float(self.timings_ms.mean())

    @property
    def std_ms(self) -> float:
        return float(self.timings_ms.std(ddof=1)) if self.repeats > 1 else 0.0

    @property
    def min_ms(self) -> float:
        return float(self.timings_ms.min())

    @property
    def max_ms(self) -> float:
        return float(self.timings_ms.max())

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
        return self.cv > NOISY_CV or self.tail_ratio > NOISY_TAIL_RATIO


@dataclass
class RuntimeProfile:
    """Everything measured about one model's runtime.

    Attributes
    ----------
    batches : dict of int to BatchProfile
        One entry per batch size, ascending.
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
        return self.batches[size]

    @property
    def noisy_batches(self) -> list[int]:
        return [b for b, p in self.batches.items() if p.noisy]

    @property
    def notes(self) -> list[str]:
        out = []
        noisy = self.noisy_batches
        if noisy:
            out.append("machine was noisy: timing spread is high at batch size(s) "
                       f"{', '.join(map(str, noisy))} (CV > {NOISY_CV} or p99/p50 > {NOISY_TAIL_RATIO}); "
                       "re-run on a quiet machine before trusting tail latencies")
        short = [b for b, p in self.batches.items() if p.stopped_by_budget]
        if short:
            out.append(f"time budget ended the timing early at batch size(s) {', '.join(map(str, short))}")
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
    warm-up calls, then up to ``repeats`` timed calls, then one call under tracemalloc and one
    watching RSS (they count against the budget left for the next sizes). The calls run with the thread pools as the
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
        t_calls = time.perf_counter()
        for i, size in enumerate(sizes):
            data, tiled = batches_for(X, size)
            left = params.budget_s - (time.perf_counter() - t_calls)
            share = max(left, 0.0) / (len(sizes) - i)
            ns, warm, short = time_calls(fn, data, params.warmup, params.repeats, share)
            mem = measure_peak_memory(fn, data[0])
            batches[size] = BatchProfile(size, ns, warm, params.repeats, short, mem, tiled)
    finally:
        gc.unfreeze()
    env["load_average_after"] = load_average()
    return RuntimeProfile(batches, method, evalset, len(X), env, timer_overhead_ns(),
                          time.perf_counter() - t0, params.model_dump(mode="json"))
