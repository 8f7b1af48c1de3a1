"""The profiler measures what it says: percentiles, sleeps, throughput, budgets, slices."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from audit.models.adapter import ModelAdapter
from audit.profiling import (
    ProfileParams,
    batches_for,
    prediction_function,
    profile_model,
    time_calls,
)

X = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) * 2})


class SleepModel:
    """predict sleeps a fixed time: the profiler must measure that time."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.calls = 0

    def predict(self, X):
        self.calls += 1
        time.sleep(self.seconds)
        return np.zeros(len(X))


class ProbaModel:
    classes_ = np.array([0, 1])

    def predict(self, X):
        raise AssertionError("predict_proba should be timed for a classifier")

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


FAST = ProfileParams(batch_sizes=[1, 8], warmup=2, repeats=30, budget_s=5.0)


def test_percentiles_are_numpys_over_the_raw_timings():
    prof = profile_model(ModelAdapter(ProbaModel()), X, FAST)
    for bp in prof.batches.values():
        assert bp.timings_ns.dtype == np.int64 and bp.repeats == 30
        ms = bp.timings_ns / 1e6
        for q in (50, 95, 99):
            assert bp.percentile_ms(q) == np.percentile(ms, q)
        assert bp.max_ms == ms.max() and bp.mean_ms == pytest.approx(ms.mean())
        assert bp.std_ms == pytest.approx(np.std(ms, ddof=1))
        assert bp.cv == pytest.approx(np.std(ms, ddof=1) / ms.mean())


def test_throughput_is_batch_over_mean_latency():
    prof = profile_model(ModelAdapter(ProbaModel()), X, FAST)
    for size, bp in prof.batches.items():
        assert bp.throughput_rows_per_s == pytest.approx(size / (bp.timings_ns.mean() / 1e9))


def test_injected_sleep_is_measured():
    # Measurement correctness, not performance: a 20 ms sleep must read as ~20 ms
    # (sleep never returns early; the upper tolerance absorbs a busy machine).
    model = SleepModel(0.020)
    prof = profile_model(ModelAdapter(model, kind="callable"), X,
                         ProfileParams(batch_sizes=[1, 4], warmup=1, repeats=8, budget_s=5.0),
                         task="regression")
    for bp in prof.batches.values():
        assert 19.0 <= bp.percentile_ms(50) <= 35.0
        assert bp.min_ms >= 19.9
        assert bp.throughput_rows_per_s == pytest.approx(bp.batch_size / (bp.mean_ms / 1e3))
    # warm-up + timed + one tracemalloc call + one RSS call, per batch size
    assert model.calls == 2 * (1 + 8 + 2)
    assert prof.method == "predict"


def test_warmup_and_repeats_are_counted():
    calls = []
    ns, warm, short = time_calls(calls.append, ["x", "y"], warmup=3, repeats=7, budget_s=60)
    assert warm == 3 and ns.size == 7 and not short
    assert calls == ["x", "y", "x", "x", "y", "x", "y", "x", "y", "x"]


def test_budget_stops_early_and_records_the_actual_repetitions():
    ns, warm, short = time_calls(lambda b: time.sleep(0.005), [0], warmup=50, repeats=1000, budget_s=0.02)
    assert short and 3 <= ns.size < 1000
    assert warm < 50  # warm-up is budgeted too
    prof = profile_model(ModelAdapter(SleepModel(0.005)), X,
                         ProfileParams(batch_sizes=[2], warmup=0, repeats=500, budget_s=0.02), task="regression")
    bp = prof.batch(2)
    assert bp.stopped_by_budget and bp.repeats < 500 and bp.repeats_requested == 500
    assert any("time budget" in n for n in prof.notes)


def test_batches_are_distinct_slices_and_tile_when_short():
    data, tiled = batches_for(X, 32)
    assert not tiled and len(data) == 3  # 100 // 32
    assert [d["a"].iloc[0] for d in data] == [0.0, 32.0, 64.0]
    data, tiled = batches_for(X, 250)
    assert tiled and len(data) == 1 and len(data[0]) == 250
    np.testing.assert_array_equal(data[0]["a"].to_numpy(), np.arange(250) % 100)
    arr, _ = batches_for(np.arange(10), 4)
    np.testing.assert_array_equal(arr[1], [4, 5, 6, 7])


def test_prediction_function_choice():
    fn, name = prediction_function(ModelAdapter(ProbaModel()), "auto", "classification")
    assert name == "predict_proba"
    fn, name = prediction_function(ModelAdapter(SleepModel(0)), "auto", "classification")
    assert name == "predict"
    with pytest.raises(ValueError):
        prediction_function(ModelAdapter(SleepModel(0)), "predict_proba", "classification")


def test_noise_note_when_timings_spread():
    # Every 5th call sleeps 30 ms, the rest ~0: CV far above the noise mark.
    state = {"i": 0}

    class Spiky:
        def predict(self, X):
            state["i"] += 1
            if state["i"] % 5 == 0:
                time.sleep(0.03)
            return np.zeros(len(X))

    prof = profile_model(ModelAdapter(Spiky()), X, ProfileParams(batch_sizes=[1], warmup=0, repeats=20),
                         task="regression")
    assert prof.batch(1).noisy
    assert any(n.startswith("machine was noisy") for n in prof.notes)


def test_one_budget_for_the_whole_profile():
    # Three batch sizes of a 5 ms model share 0.3 s: each gets about a third (what one leaves
    # goes to the next), so the timed calls add up to about the budget, not three budgets.
    model = SleepModel(0.005)
    prof = profile_model(ModelAdapter(model), X, ProfileParams(batch_sizes=[1, 2, 4], warmup=2, repeats=10_000,
                                                               budget_s=0.3), task="regression")
    spent = sum(bp.timings_ns.sum() for bp in prof.batches.values()) / 1e9
    assert spent < 0.3 + 3 * 0.05  # each loop may overrun its share by about one call (sleeps run long)
    assert all(bp.stopped_by_budget and bp.repeats >= 3 for bp in prof.batches.values())
    assert all(bp.warmup <= 2 for bp in prof.batches.values())


def test_the_profile_records_its_thread_counts():
    from threadpoolctl import threadpool_info

    prof = profile_model(ModelAdapter(ProbaModel()), X, ProfileParams(batch_sizes=[1], repeats=3, warmup=0))
    th = prof.environment["threads"]
    seen = {p["user_api"]: p["num_threads"] for p in threadpool_info()}
    for api in ("openmp", "blas"):
        if api in seen:
            assert th[api] == max(p["num_threads"] for p in threadpool_info() if p["user_api"] == api)


def test_environment_is_recorded():
    prof = profile_model(ModelAdapter(ProbaModel()), X, ProfileParams(batch_sizes=[1], repeats=3, warmup=0))
    env = prof.environment
    for key in ("cpu", "cores", "memory_gb", "threadpools", "libraries", "timer", "load_average"):
        assert key in env
    assert env["timer"]["name"] == "perf_counter_ns"
    assert "numpy" in env["libraries"]
