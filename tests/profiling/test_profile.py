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
from tests.profiling import ClockModel, use_fake_clock

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
MS = 1_000_000  # ns


@pytest.fixture
def clock(monkeypatch):
    return use_fake_clock(monkeypatch)


def fake_profile(clock, seconds, **params):
    model = ClockModel(clock, seconds)
    prof = profile_model(ModelAdapter(model), X, ProfileParams(**params), task="regression")
    return prof, model


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


def test_budget_stops_early_and_records_the_actual_repetitions(clock):
    # 5 ms calls, 20 ms: one warm-up call (it uses the warm-up's quarter), then timed calls
    # while the budget lasts; on its own, time_calls' budget is its hard limit.
    model = ClockModel(clock, 0.005)
    ns, warm, short = time_calls(model.predict, [X.iloc[:1]], warmup=50, repeats=1000, budget_s=0.02)
    assert short and warm == 1  # warm-up is budgeted too
    assert ns.tolist() == [5 * MS] * 3 and len(model.calls) == 4
    prof, model = fake_profile(clock, 0.005, batch_sizes=[2], warmup=0, repeats=500, budget_s=0.02)
    bp = prof.batch(2)
    # one timed call, the two memory calls (to 15 ms), then timed calls until the budget is spent
    assert bp.stopped_by_budget and bp.repeats == 2 and bp.repeats_requested == 500
    assert bp.memory is not None and bp.memory.rss_measured
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


def test_one_budget_for_the_whole_profile(clock):
    # Three batch sizes of a 5 ms model share 0.3 s: each gets a third of what is left (what one
    # leaves goes to the next), its warm-up, memory and timed calls within it, so all the calls
    # add up to the budget, not three budgets, and the last size's memory is measured too.
    prof, model = fake_profile(clock, 0.005, batch_sizes=[1, 2, 4], warmup=2, repeats=10_000, budget_s=0.3)
    assert clock.now == 300 * MS and max(t for _, t in model.calls) < 300 * MS
    # 100 ms each: 2 warm-up calls (10 ms), 2 memory calls (10 ms), 16 timed calls (80 ms)
    assert [(bp.warmup, bp.repeats) for bp in prof.batches.values()] == [(2, 16)] * 3
    assert all(bp.stopped_by_budget and bp.memory.rss_measured for bp in prof.batches.values())
    assert len(model.calls) == 3 * (2 + 2 + 16)


def test_one_budget_with_real_sleeps():
    # The same with real sleeps: counts only, never durations (sleeps run long on a busy machine).
    model = SleepModel(0.005)
    prof = profile_model(ModelAdapter(model), X, ProfileParams(batch_sizes=[1, 2, 4], warmup=2, repeats=10_000,
                                                               budget_s=0.3), task="regression")
    assert all(bp.warmup <= 2 for bp in prof.batches.values())
    assert prof.batch(1).repeats >= 1 and all(bp.stopped_by_budget for bp in prof.batches.values())
    assert model.calls == sum(bp.warmup + bp.repeats for bp in prof.batches.values()) + sum(
        (bp.memory is not None) + (bp.memory is not None and bp.memory.rss_measured) for bp in prof.batches.values())


# -- the budget is a cap: no call starts once it is spent (fake clock: counts and clock ticks only) --
@pytest.mark.parametrize("seconds", [0.001, 0.05, 0.3, 0.45, 0.5, 0.99, 1.0, 1.5, 4.0])
@pytest.mark.parametrize("warmup", [0, 5])
def test_at_most_one_call_starts_after_the_budget(clock, seconds, warmup):
    prof, model = fake_profile(clock, seconds, batch_sizes=[1, 32, 1024], warmup=warmup, repeats=1000,
                               budget_s=1.0)
    late = [c for c in model.calls if c[1] >= 1_000_000_000]
    assert prof.batch(1).repeats >= 1
    if late:
        # Only the first batch size's guaranteed timed call, after a warm-up call that spent the budget.
        assert warmup and seconds >= 1.0
        assert late == [(1, model.step)] and model.calls == [(1, 0), (1, model.step)]
    else:
        assert clock.now - 1_000_000_000 < model.step  # overrun: less than the one call running then


def test_the_slow_model_of_the_issue(clock):
    # One call outlasts the budget (HistGradientBoosting on 10M rows: ~1.75 s per call, budget 1 s).
    # Before: warm-up + 3 timed + 2 memory calls at each of 3 batch sizes, 18 calls. Now: one
    # warm-up call and the first batch size's guaranteed timed call.
    prof, model = fake_profile(clock, 1.75, batch_sizes=[1, 32, 1024], budget_s=1.0)
    assert [rows for rows, _ in model.calls] == [1, 1]
    b1 = prof.batch(1)
    assert (b1.warmup, b1.repeats, b1.memory) == (1, 1, None) and b1.stopped_by_budget
    assert prof.skipped_batches == [32, 1024] and list(prof.timed_batches) == [1]


def test_later_batch_sizes_are_recorded_as_skipped(clock):
    prof, model = fake_profile(clock, 0.5, batch_sizes=[1, 32, 1024], warmup=5, budget_s=1.0)
    # warm-up (0 to 0.5 s), the guaranteed timed call (to 1 s); nothing else
    assert [(rows, t / 1e9) for rows, t in model.calls] == [(1, 0.0), (1, 0.5)]
    b1 = prof.batch(1)
    assert b1.repeats == 1 and not b1.skipped and b1.memory is None
    assert list(prof.batches) == [1, 32, 1024]  # every size asked for is in the profile
    for size in (32, 1024):
        bp = prof.batch(size)
        assert bp.skipped and bp.repeats == 0 and bp.warmup == 0 and bp.memory is None
        assert bp.stopped_by_budget and bp.repeats_requested == 1000 and not bp.noisy
        with pytest.raises(ValueError, match=f"batch size {size} was not timed"):
            bp.percentile_ms(50)
        with pytest.raises(ValueError):
            _ = bp.throughput_rows_per_s
        why = prof.not_timed_reason(size)
        assert why == (f"batch size {size} not timed: the 1 s latency budget (latency profile budget_s) was "
                       "spent after timing batch size 1; raise budget_s to time it")
        assert prof.memory_missing_reason(size) == why
    assert prof.not_timed_reason(1) is None
    assert prof.memory_missing_reason(1, "tracemalloc") == (
        "peak memory at batch size 1 not measured: the 1 s latency budget (latency profile budget_s) was spent "
        "before its memory calls (after timing batch size 1); raise budget_s to measure it")
    assert prof.skipped_batches == [32, 1024]
    assert any("batch size(s) 32, 1024 not timed" in n and "1 s latency budget" in n for n in prof.notes)
    assert any(n.startswith("peak memory not measured at batch size(s) 1:") for n in prof.notes)


def test_the_rss_call_cut_by_the_budget(clock):
    # 0.45 s calls: warm-up, timed call, tracemalloc call (to 1.35 s): the RSS call may not start.
    prof, model = fake_profile(clock, 0.45, batch_sizes=[1], warmup=1, budget_s=1.0)
    mem = prof.batch(1).memory
    assert prof.batch(1).repeats == 1 and len(model.calls) == 3
    assert mem.rss_method == "skipped" and not mem.rss_measured and mem.rss_delta_bytes is None
    assert prof.memory_missing_reason(1, "tracemalloc") is None
    for source in ("max", "rss"):
        assert prof.memory_missing_reason(1, source).startswith("RSS at batch size 1 not measured: the 1 s")
    assert any(n.startswith("RSS not measured at batch size(s) 1") for n in prof.notes)


def test_min_timed_calls_only_while_the_budget_lasts(clock):
    # 0.3 s calls, 3.3 s for two sizes: the first outruns its half (1.65 s) for a third timed
    # call, which starts at 1.8 s, before the end of the budget; the second gets what is left.
    prof, model = fake_profile(clock, 0.3, batch_sizes=[1, 32], warmup=5, budget_s=3.3)
    b1, b32 = prof.batch(1), prof.batch(32)
    assert (b1.warmup, b1.repeats) == (2, 3) and b1.memory.rss_measured  # ends at 2.1 s
    assert [t for rows, t in model.calls if rows == 1][-1] == 1_800_000_000
    assert (b32.warmup, b32.repeats) == (1, 1) and b32.memory.rss_measured  # 2.1 to 3.3 s
    assert clock.now == 3_300_000_000
    # 0.45 s calls, no warm-up, one size: timed call and memory calls to 1.35 s. With 1 s the
    # budget is spent: one timed call, not MIN_TIMED_CALLS; with 2 s the third starts at 1.8 s.
    for budget, timed in ((1.0, 1), (2.0, 3)):
        clock.now = 0
        prof, model = fake_profile(clock, 0.45, batch_sizes=[1], warmup=0, budget_s=budget)
        assert prof.batch(1).repeats == timed and prof.batch(1).memory.rss_measured
        assert clock.now - int(budget * 1e9) < model.step


def test_a_size_warmed_but_not_timed_is_skipped(clock):
    # The second size's warm-up call spends the budget: no memory or timed call follows.
    prof, model = fake_profile(clock, 0.1, batch_sizes=[1, 32], warmup=1, repeats=3, budget_s=0.65)
    b32 = prof.batch(32)
    assert b32.skipped and b32.warmup == 1 and b32.memory is None
    assert "and 1 warm-up call(s) at batch size 32" in prof.not_timed_reason(32)


def test_a_generous_budget_skips_nothing(clock):
    prof, model = fake_profile(clock, 0.001, batch_sizes=[1, 32, 1024], warmup=2, repeats=30, budget_s=5.0)
    assert prof.skipped_batches == [] and list(prof.timed_batches) == [1, 32, 1024]
    for bp in prof.batches.values():
        assert (bp.warmup, bp.repeats, bp.stopped_by_budget) == (2, 30, False)
        assert bp.memory is not None and bp.memory.rss_measured
    assert len(model.calls) == 3 * (2 + 2 + 30)
    assert not any("budget" in n or "not measured" in n for n in prof.notes)


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
