"""Runtime performance profiles of the audited model.

:func:`profile_model` times the model's own ``predict_proba`` (or ``predict``)
on slices of the evaluation set at several batch sizes: warm-up calls, then
repeated calls timed with ``time.perf_counter_ns`` under a repetition cap, and
peak memory of one call (tracemalloc and RSS), all within one time budget for
the whole profile, a cap: batch sizes it did not reach are recorded as not
timed (``BatchProfile.skipped``). It records the machine it ran on and the thread counts
it measured at (the process's own configuration). :func:`get_profile` caches
one profile per audit so every latency check shares it. Model size and
cold-start time are measured separately, only when a check asks for them; the
cold start runs in child processes that :func:`start_cold_start` begins in the
background while other checks run. See ``docs/runtime-profile.md``.
"""

from audit.profiling._cache import (
    get_cold_start,
    get_model_size,
    get_profile,
    start_cold_start,
    wait_background,
)
from audit.profiling._environment import environment
from audit.profiling._footprint import ColdStart, ColdStartRun, ModelSize, cold_start, model_size
from audit.profiling._memory import MemoryPeak, measure_peak_memory
from audit.profiling._profile import (
    NOISY_CV,
    NOISY_TAIL_RATIO,
    BatchProfile,
    ProfileParams,
    RuntimeProfile,
    batches_for,
    prediction_function,
    profile_model,
)
from audit.profiling._quantiles import min_repeats_for, order_statistic_interval
from audit.profiling._timing import time_calls, timer_overhead_ns

__all__ = [
    "NOISY_CV",
    "NOISY_TAIL_RATIO",
    "BatchProfile",
    "ColdStart",
    "ColdStartRun",
    "MemoryPeak",
    "ModelSize",
    "ProfileParams",
    "RuntimeProfile",
    "batches_for",
    "cold_start",
    "environment",
    "get_cold_start",
    "get_model_size",
    "get_profile",
    "measure_peak_memory",
    "min_repeats_for",
    "model_size",
    "order_statistic_interval",
    "prediction_function",
    "profile_model",
    "start_cold_start",
    "time_calls",
    "timer_overhead_ns",
    "wait_background",
]
