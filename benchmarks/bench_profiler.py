"""Benchmark of the runtime profiler itself.

1. Overhead per timed call: the profiler times a no-op predictor. The median
   reading is the floor every latency measurement carries (two
   ``perf_counter_ns`` calls plus one Python call); the loop's wall time per
   iteration is what the profiler costs per repetition.
2. A full profile at default settings (batch sizes 1, 32, 1024; 5 warm-up
   calls; up to 200 timed calls or 1 s per batch size; memory; environment)
   on the demo model, and, separately, the cold-start measurement.

Run once, on a quiet machine: ``python benchmarks/bench_profiler.py``.
Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.data.demo import FEATURES, write_demo  # noqa: E402
from audit.models.loading import load_model  # noqa: E402
from audit.profiling import ProfileParams, cold_start, profile_model, time_calls  # noqa: E402


def noop(_batch) -> None:
    return None


def overhead(calls: int = 200_000) -> dict:
    t0 = time.perf_counter_ns()
    ns, _, _ = time_calls(noop, [None], warmup=1000, repeats=calls, budget_s=3600)
    wall = time.perf_counter_ns() - t0
    return {"timed_calls": int(ns.size), "noop_median_ns": float(np.median(ns)),
            "noop_p99_ns": float(np.percentile(ns, 99)), "noop_mean_ns": float(ns.mean()),
            "loop_wall_per_call_ns": wall / (calls + 1000)}


def full_profile() -> dict:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_demo(tmp)
        adapter = load_model(paths["model"])
        X = pd.read_parquet(paths["holdout"])[FEATURES]
        t0 = time.perf_counter()
        prof = profile_model(adapter, X, ProfileParams())
        profile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cs = cold_start(adapter.estimator, adapter.source, prof.method, X.iloc[:1])
        cold_wall = time.perf_counter() - t0
    per_batch = {
        str(b): {"timed_calls": bp.repeats, "p50_ms": bp.percentile_ms(50), "p95_ms": bp.percentile_ms(95),
                 "p99_ms": bp.percentile_ms(99), "max_ms": bp.max_ms, "cv": bp.cv,
                 "throughput_rows_per_s": bp.throughput_rows_per_s,
                 "peak_tracemalloc_mb": bp.memory.tracemalloc_bytes / 2**20 if bp.memory else None,
                 "rss_increase_mb": (bp.memory.rss_delta_bytes or 0) / 2**20 if bp.memory else None}
        for b, bp in prof.timed_batches.items()}
    per_batch.update({str(b): {"timed_calls": 0, "not_timed": prof.not_timed_reason(b)} for b in prof.skipped_batches})
    return {"profile_wall_s": profile_s, "per_batch": per_batch, "notes": prof.notes,
            "cold_start_s": cs.seconds, "cold_start_method": cs.method, "cold_start_child_wall_s": cs.process_s,
            "cold_start_measurement_wall_s": cold_wall, "load_average": prof.environment["load_average"],
            "cpu": prof.environment["cpu"], "cores": prof.environment["cores"]}


if __name__ == "__main__":
    print(json.dumps({"overhead": overhead(), "default_profile": full_profile()}, indent=2))
