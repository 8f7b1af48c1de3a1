"""Latency checks inside an AuditContext on the demo model, against independent computations."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from audit.checks import all_checks, get_check
from audit.errors import CheckSkipped
from audit.profiling import _cache

LATENCY = sorted(k for k in all_checks() if k.startswith("latency."))
SMALL = {"batch_sizes": [1, 32], "warmup": 1, "repeats": 25, "budget_s": 5.0}
PARAMS = {
    "latency.p50_ms": SMALL, "latency.p95_ms": SMALL, "latency.p99_ms": SMALL,
    "latency.throughput_rows_per_s": {**SMALL, "batch_size": 32},
    "latency.peak_memory_mb": SMALL, "latency.model_size_mb": {}, "latency.cold_start_s": {},
}
MB = 2**20


def run(ctx, check_id, **params):
    spec = get_check(check_id)
    return spec.func(ctx.for_check(check_id, "base", 0), spec.params.model_validate(params))


def timings(ctx, batch):
    (prof,) = [v for k, v in ctx.cache("profiles").items() if k[0] == "timing"]
    return prof.batch(batch).timings_ms


def test_the_family_is_registered_and_needs_a_model():
    assert set(PARAMS) == set(LATENCY)
    for cid in LATENCY:
        assert get_check(cid).needs == frozenset({"model"})
        with pytest.raises(ValidationError):
            get_check(cid).params.model_validate({"no_such_param": 1})
    for bad in ({"batch_sizes": [0]}, {"batch_sizes": []}, {"repeats": 0}, {"budget_s": 0}, {"batch_size": 0}):
        with pytest.raises(ValidationError):
            get_check("latency.p95_ms").params.model_validate(bad)


@pytest.mark.parametrize("cid", sorted(PARAMS))
def test_measurements_are_json_ready(credit_ctx, cid):
    m = run(credit_ctx, cid, **PARAMS[cid])
    dumped = m.model_dump(mode="json")
    json.dumps(dumped, allow_nan=False)
    assert m.value is not None and m.value > 0
    assert m.details["tables"]
    for t in m.details["tables"]:
        assert all(len(r) == len(t["columns"]) for r in t["rows"])


@pytest.mark.parametrize("cid", sorted(PARAMS))
def test_predictions_only_is_skipped(make_credit_ctx, cid):
    ctx = make_credit_ctx(predictions_only=True)
    with pytest.raises(CheckSkipped):
        run(ctx, cid, **PARAMS[cid])


def test_checks_share_one_profile(credit_ctx, monkeypatch):
    calls = []
    real = _cache.profile_model
    monkeypatch.setattr(_cache, "profile_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    for cid in ("latency.p50_ms", "latency.p95_ms", "latency.throughput_rows_per_s", "latency.peak_memory_mb"):
        run(credit_ctx, cid, **PARAMS[cid])
    assert len(calls) == 1
    run(credit_ctx, "latency.p50_ms", **{**SMALL, "repeats": 5})  # other settings, other profile
    assert len(calls) == 2


@pytest.mark.parametrize("pct", [50, 95])
def test_percentile_value_and_order_statistic_interval(credit_ctx, pct):
    m = run(credit_ctx, f"latency.p{pct}_ms", **SMALL)
    t = timings(credit_ctx, 1)
    assert m.value == np.percentile(t, pct) and m.n == t.size == 25
    # Independent bounds: ranks from scipy's binomial quantile function.
    n, q, a = t.size, pct / 100, 0.025
    lo_rank = int(stats.binom.ppf(a, n, q))  # smallest j with P(B <= j) >= a
    if stats.binom.cdf(lo_rank, n, q) > a:
        lo_rank -= 1  # the largest j with P(B <= j) <= a is the 0-based index of the lower bound
    hi_rank = int(stats.binom.ppf(1 - a, n, q)) + 1
    s = np.sort(t)
    assert m.interval.low == (s[lo_rank] if lo_rank >= 0 else None)
    assert m.interval.high == (s[hi_rank - 1] if hi_rank <= n else None)
    assert m.interval.method == "order-statistic"
    assert m.inconclusive is None


def test_p99_with_too_few_calls_is_inconclusive(credit_ctx):
    m = run(credit_ctx, "latency.p99_ms", **SMALL)
    assert m.inconclusive and "needs at least 100" in m.inconclusive
    assert m.interval.high is None  # 25 calls cannot bound a p99 from above


def test_throughput_is_batch_over_mean_latency_with_a_seeded_interval(credit_ctx, make_credit_ctx):
    m = run(credit_ctx, "latency.throughput_rows_per_s", **SMALL, batch_size=32)
    t = timings(credit_ctx, 32)
    assert m.value == pytest.approx(32 / (t.mean() / 1e3))
    assert m.interval.low < m.value < m.interval.high
    m2 = run(credit_ctx, "latency.throughput_rows_per_s", **SMALL, batch_size=32)
    assert (m2.interval.low, m2.interval.high) == (m.interval.low, m.interval.high)


def test_a_batch_size_outside_the_list_is_profiled(credit_ctx):
    m = run(credit_ctx, "latency.p50_ms", **SMALL, batch_size=7)
    assert m.value == np.percentile(timings(credit_ctx, 7), 50)
    box, curve = m.details["charts"]
    assert [s["name"] for s in box["series"]] == ["batch 1", "batch 7", "batch 32"]
    assert curve["x"] == [1.0, 7.0, 32.0]


def test_details_charts_summarise_the_timings(credit_ctx):
    m = run(credit_ctx, "latency.p95_ms", **SMALL)
    box, curve = m.details["charts"]
    assert box["kind"] == "box" and curve["kind"] == "curve"
    for s, b in zip(box["series"], (1, 32), strict=True):
        t = timings(credit_ctx, b)
        assert s["q"] == pytest.approx(list(np.percentile(t, [0, 25, 50, 75, 100])))
        assert s["extra"]["p99"] == pytest.approx(np.percentile(t, 99))
        assert curve["series"][0]["y"][[1, 32].index(b)] == pytest.approx(b / (t.mean() / 1e3))
    table, env = m.details["tables"]
    assert [r[0] for r in table["rows"]] == [1, 32]
    assert {r[0] for r in env["rows"]} >= {"CPU", "thread pools", "libraries"}


def test_peak_memory_is_the_larger_measure(credit_ctx):
    m = run(credit_ctx, "latency.peak_memory_mb", **SMALL)
    (prof,) = credit_ctx.cache("profiles").values()
    mem = prof.batch(32).memory  # default: the largest batch size profiled
    assert m.value == pytest.approx(max(mem.tracemalloc_bytes, mem.rss_delta_bytes or 0) / MB)
    m_tm = run(credit_ctx, "latency.peak_memory_mb", **SMALL, source="tracemalloc", batch_size=1)
    assert m_tm.value == pytest.approx(prof.batch(1).memory.tracemalloc_bytes / MB)


def test_model_size(credit_ctx, tmp_path):
    m = run(credit_ctx, "latency.model_size_mb")
    assert m.value == pytest.approx(len(pickle.dumps(credit_ctx.model.estimator, protocol=5)) / MB)
    with pytest.raises(CheckSkipped):  # the fixture's model has no file
        run(credit_ctx, "latency.model_size_mb", kind="disk")
    import joblib

    f = tmp_path / "model.joblib"
    joblib.dump(credit_ctx.model.estimator, f)
    credit_ctx.model.source = str(f)
    credit_ctx._caches.pop("profiles")
    m = run(credit_ctx, "latency.model_size_mb", kind="disk")
    assert m.value == pytest.approx(f.stat().st_size / MB)


def test_cold_start_without_file_is_in_process(credit_ctx):
    m = run(credit_ctx, "latency.cold_start_s")
    assert "in-process-unpickle" in m.message
    rows = dict((r[0], r[1]) for r in m.details["tables"][0]["rows"])
    assert m.value == pytest.approx(rows["load (s), imports included"] + rows["first prediction, 1 row (s)"])
