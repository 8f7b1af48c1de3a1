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
    "latency.peak_memory_mb": SMALL, "latency.model_size_mb": {}, "latency.cold_start_s": {"budget_s": 0.05},
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
    assert "note" not in table["columns"]  # nothing was left out: no note column
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
    m = run(credit_ctx, "latency.cold_start_s", budget_s=0.05)
    assert "in-process-unpickle" in m.message
    runs = m.details["tables"][1]
    assert runs["title"] == "Cold-start runs" and len(runs["rows"]) == m.n >= 1
    walls = [r[1] + r[2] for r in runs["rows"]]
    assert [r[3] for r in runs["rows"]] == pytest.approx(walls)
    assert m.value == pytest.approx(float(np.median(walls)))
    # Interval: least CPU time (or wall, if less) of a run to the longest wall time.
    assert m.interval.low == pytest.approx(min(min(r[4], r[3]) for r in runs["rows"]))
    assert m.interval.high == pytest.approx(max(walls)) and m.interval.method == "cpu-wall-bracket"


# -- the precision rule, on timings made up for the purpose (no clock involved) -------------------
def inject(ctx, params: dict, ms_by_batch: dict, batch_size: int, stopped_by_budget: bool = True):
    """Put a profile with these timings (ms) where the checks' shared-profile cache looks it up."""
    from audit.profiling import BatchProfile, ProfileParams, RuntimeProfile

    pp = ProfileParams.model_validate({k: v for k, v in params.items() if k in ProfileParams.model_fields})
    batches = {b: BatchProfile(b, np.round(np.asarray(ms) * 1e6).astype(np.int64), 0, pp.repeats,
                               stopped_by_budget) for b, ms in sorted(ms_by_batch.items())}
    env = {"threads": {"openmp": 1, "blas": 1, "torch": None, "env": {"OMP_NUM_THREADS": "1"}}}
    prof = RuntimeProfile(batches, "predict_proba", "base", 100, env, 50.0, 0.1)
    key = ("timing", id(ctx.model), "base", pp.key(batch_size))
    ctx.cache("profiles")[key] = prof
    return prof


def _ranks_needed(q: float, level: float = 0.95) -> int:
    """Independently: the fewest calls whose interval has both order statistics (scipy.stats.binom)."""
    a = (1 - level) / 2
    n = 1
    while not (stats.binom.cdf(0, n, q) <= a and stats.binom.cdf(n - 1, n, q) >= 1 - a):
        n += 1
    return n


@pytest.mark.parametrize("pct", [50, 95, 99])
def test_a_percentile_without_both_interval_ends_is_inconclusive(credit_ctx, pct):
    from audit.checks.latency import two_sided_calls

    need = _ranks_needed(pct / 100)
    assert two_sided_calls(pct / 100, 0.95) == need == {50: 6, 95: 72, 99: 368}[pct]
    params = {"batch_sizes": [1], "repeats": 5000, "max_relative_width": 10.0}
    rng = np.random.default_rng(pct)
    short = (1e6 + rng.integers(0, 10_000, need - 1)) / 1e6  # tight timings (whole ns): only the count is short
    inject(credit_ctx, params, {1: short}, 1)
    m = run(credit_ctx, f"latency.p{pct}_ms", **params)
    assert m.value == np.percentile(short, pct)
    assert m.inconclusive and "not precise enough" in m.inconclusive and f"needs {need}" in m.inconclusive
    assert "raise budget_s" in m.inconclusive
    enough = (1e6 + rng.integers(0, 10_000, need)) / 1e6
    credit_ctx._caches.pop("profiles")
    inject(credit_ctx, params, {1: enough}, 1)
    m = run(credit_ctx, f"latency.p{pct}_ms", **params)
    assert m.interval.low is not None and m.interval.high is not None and m.inconclusive is None


def test_a_wide_interval_is_inconclusive(credit_ctx):
    rng = np.random.default_rng(1)
    wide = rng.lognormal(0.0, 1.0, 400)  # p95 of a heavy tail: its interval spans far more than half of it
    params = {"batch_sizes": [1], "repeats": 5000}
    inject(credit_ctx, params, {1: wide}, 1)
    m = run(credit_ctx, "latency.p95_ms", **params)
    s = np.sort(wide)
    a = 0.025
    lo = int(stats.binom.ppf(a, 400, 0.95))
    lo -= stats.binom.cdf(lo, 400, 0.95) > a
    hi = int(stats.binom.ppf(1 - a, 400, 0.95)) + 1
    width = (s[hi - 1] - s[lo]) / np.percentile(wide, 95)
    assert width > 0.5
    assert m.inconclusive and f"spans {width:.0%}" in m.inconclusive and "max_relative_width=0.5" in m.inconclusive
    m = run(credit_ctx, "latency.p95_ms", **params, max_relative_width=width * 1.01)
    assert m.inconclusive is None


def test_throughput_follows_the_rule(credit_ctx):
    params = {"batch_sizes": [64], "repeats": 5000, "batch_size": 64}
    inject(credit_ctx, params, {64: np.full(50, 2.0) + np.linspace(0, 0.02, 50)}, 64)
    m = run(credit_ctx, "latency.throughput_rows_per_s", **params)
    assert m.inconclusive is None and (m.interval.high - m.interval.low) / m.value < 0.5
    credit_ctx._caches.pop("profiles")
    inject(credit_ctx, params, {64: np.array([0.1, 10.0, 0.1, 10.0])}, 64)
    m = run(credit_ctx, "latency.throughput_rows_per_s", **params)
    assert m.inconclusive and "not precise enough" in m.inconclusive


def test_the_message_names_the_threads_measured_at(credit_ctx):
    inject(credit_ctx, {"batch_sizes": [1]}, {1: np.full(400, 1.0)}, 1)
    m = run(credit_ctx, "latency.p50_ms", batch_sizes=[1])
    assert "1 OpenMP and 1 BLAS thread(s), as this process is configured (OMP_NUM_THREADS=1)" in m.message


def test_cold_start_bracket_decides_precision(credit_ctx, monkeypatch):
    from audit.profiling import ColdStart, ColdStartRun

    quiet = ColdStart([ColdStartRun(1.0, 0.1, 1.05, 1.3), ColdStartRun(1.1, 0.1, 1.15, 1.4)], "subprocess", 2.0)
    busy = ColdStart([ColdStartRun(2.0, 0.2, 1.0, 2.5)], "subprocess", 2.0)
    for cs, precise in ((quiet, True), (busy, False)):
        monkeypatch.setattr(_cache, "cold_start", lambda *a, _cs=cs, **k: _cs)
        credit_ctx._caches.pop("profiles", None)
        m = run(credit_ctx, "latency.cold_start_s")
        walls = [r.load_s + r.first_predict_s for r in cs.runs]
        assert m.value == pytest.approx(np.median(walls)) and m.n == len(walls)
        assert (m.interval.low, m.interval.high) == pytest.approx(
            (min(min(r.cpu_s, w) for r, w in zip(cs.runs, walls, strict=True)), max(walls)))
        assert (m.inconclusive is None) == precise, m.inconclusive


# -- the budget is a cap: checks at what it did not reach are INCONCLUSIVE (fake clock, no wall time) --
BUDGET_CUT = {"batch_sizes": [1, 32, 1024], "budget_s": 1.0}
NOT_TIMED = ("batch size {} not timed: the 1 s latency budget (latency profile budget_s) was spent after "
             "timing batch size 1; raise budget_s to time it")


@pytest.fixture
def slow_model(monkeypatch):
    """Profiles time a model whose calls take 0.5 s of a fake clock instead of the context's model:
    the 1 s budget holds one warm-up and one timed call at batch size 1, nothing else."""
    from audit.models.adapter import ModelAdapter
    from tests.profiling import ClockModel, use_fake_clock

    model = ClockModel(use_fake_clock(monkeypatch), 0.5)
    real = _cache.profile_model
    monkeypatch.setattr(_cache, "profile_model", lambda adapter, X, params, **kw: real(
        ModelAdapter(model), X, params, **{**kw, "task": "regression"}))
    return model


@pytest.mark.parametrize(("cid", "params", "what", "why"), [
    ("latency.p95_ms", {"batch_size": 1024}, "p95 latency at batch size 1024", NOT_TIMED.format(1024)),
    ("latency.p50_ms", {"batch_size": 32}, "p50 latency at batch size 32", NOT_TIMED.format(32)),
    ("latency.throughput_rows_per_s", {}, "throughput at batch size 1024", NOT_TIMED.format(1024)),
    ("latency.peak_memory_mb", {}, "peak memory of one call at batch size 1024", NOT_TIMED.format(1024)),
    ("latency.peak_memory_mb", {"batch_size": 1, "source": "tracemalloc"}, "peak memory of one call at batch size 1",
     "peak memory at batch size 1 not measured: the 1 s latency budget (latency profile budget_s) was spent "
     "before its memory calls (after timing batch size 1); raise budget_s to measure it"),
])
def test_a_check_the_budget_did_not_reach_is_inconclusive(credit_ctx, slow_model, cid, params, what, why):
    m = run(credit_ctx, cid, **BUDGET_CUT, **params)
    assert (m.value, m.n, m.inconclusive, m.message) == (None, 0, why, f"{what}: not measured")
    assert [rows for rows, _ in slow_model.calls] == [1, 1]  # the profile: one warm-up, one timed call
    json.dumps(m.model_dump(mode="json"), allow_nan=False)
    table = m.details["tables"][0]
    assert table["columns"][:4] == ["batch size", "note", "timed calls", "warm-up"]
    assert [r[:4] for r in table["rows"]] == [
        [1, "memory not measured (budget_s spent)", 1, 1],
        [32, "not timed, memory not measured (budget_s spent)", 0, 0],
        [1024, "not timed, memory not measured (budget_s spent)", 0, 0]]
    assert all(v is None for r in table["rows"][1:] for v in r[4:])
    box, curve = m.details["charts"]
    assert [s["name"] for s in box["series"]] == ["batch 1"] and curve["x"] == [1.0]
    assert any("batch size(s) 32, 1024 not timed" in n for n in m.details["notes"])


def test_at_the_size_the_budget_reached_the_checks_say_what_is_short(credit_ctx, slow_model):
    m = run(credit_ctx, "latency.p50_ms", **BUDGET_CUT)
    assert m.value == 500.0 and m.n == 1 and "only 1 timed calls; p50 needs at least 2" in m.inconclusive
    assert "batch size(s) 32, 1024 not timed" in m.message  # the profile's notes
    m = run(credit_ctx, "latency.throughput_rows_per_s", **BUDGET_CUT, batch_size=1)
    assert m.value == pytest.approx(2.0) and m.inconclusive and "fewer than 2 timed calls" in m.inconclusive


def test_rss_cut_by_the_budget(credit_ctx, monkeypatch):
    from audit.models.adapter import ModelAdapter
    from tests.profiling import ClockModel, use_fake_clock

    model = ClockModel(use_fake_clock(monkeypatch), 0.45)  # warm-up, timed, tracemalloc: 1.35 s
    real = _cache.profile_model
    monkeypatch.setattr(_cache, "profile_model", lambda adapter, X, params, **kw: real(
        ModelAdapter(model), X, params, **{**kw, "task": "regression"}))
    params = {"batch_sizes": [1], "budget_s": 1.0, "warmup": 1}
    m = run(credit_ctx, "latency.peak_memory_mb", **params, source="tracemalloc")
    assert m.inconclusive is None and m.value is not None and m.value >= 0
    for source in ("max", "rss"):
        m = run(credit_ctx, "latency.peak_memory_mb", **params, source=source)
        assert m.value is None and m.inconclusive.startswith("RSS at batch size 1 not measured: the 1 s latency")
    assert len(model.calls) == 3  # one profile for all three


# -- in the runner: the interval decides, the cold start overlaps the other checks ----------------
def _audit(demo_files, tmp_path, checks: str):
    from audit.policy import load_policy
    from audit.runner import RunOptions, run_audit

    f = tmp_path / "p.yaml"
    f.write_text(f"version: 1\nname: timing\nmodel: {{path: {demo_files['model']}}}\n"
                 f"data: {{path: {demo_files['holdout']}, target: repaid, sensitive: [sex]}}\n"
                 "defaults: {n_boot: 50}\nchecks:\n" + checks)
    return run_audit(load_policy(f), RunOptions(progress=False))


def test_the_runner_decides_timings_on_their_interval(demo_files, tmp_path, monkeypatch):
    from audit.profiling import BatchProfile, RuntimeProfile

    # p50 1.0 ms, interval about [0.99, 1.01]: a bound at 1.0 ms is straddled.
    ms = 0.99 + 0.02 * np.random.default_rng(0).random(400)

    def fake(adapter, X, params, **kw):
        sizes = params.key(kw.get("extra_batch"))[0]
        return RuntimeProfile({b: BatchProfile(b, np.round(ms * 1e6).astype(np.int64), 0, params.repeats, True)
                               for b in sizes}, "predict_proba", "base", len(X), {}, 50.0, 0.1)

    monkeypatch.setattr(_cache, "profile_model", fake)
    res = _audit(demo_files, tmp_path, "\n".join([
        "  - {id: latency.p50_ms, threshold: {max: 1.0}}",
        "  - {id: latency.p50_ms, name: point, threshold: {max: 1.0, decision: point}}",
        "  - {id: latency.p50_ms, name: clear, threshold: {max: 1.5}}",
        "  - {id: performance.accuracy, threshold: {max: 0.99}}",
    ]) + "\n")
    straddled, point, clear, acc = res.results
    p50 = np.percentile(np.round(ms * 1e6) / 1e6, 50)
    assert straddled.value == pytest.approx(p50)
    assert straddled.interval.low < 1.0 < straddled.interval.high
    assert straddled.verdict.value == "INCONCLUSIVE" and "straddles" in straddled.message
    assert point.verdict.value == ("PASS" if p50 <= 1.0 else "FAIL")  # the policy asked for the point
    assert clear.verdict.value == "PASS"
    assert acc.verdict.value == "PASS"  # other checks keep the policy's default decision (point)


def test_the_cold_start_begins_before_the_other_checks(demo_files, tmp_path, monkeypatch):
    import audit.runner as runner

    order = []
    real_start, real_one = _cache.start_cold_start, runner._run_one
    monkeypatch.setattr("audit.checks.latency.start_cold_start",
                        lambda *a, **k: order.append("cold start begun") or real_start(*a, **k))
    monkeypatch.setattr(runner, "_run_one", lambda ctx, plan, pc, *a, **k: order.append(pc.entry.id)
                        or real_one(ctx, plan, pc, *a, **k))
    res = _audit(demo_files, tmp_path, "  - {id: latency.cold_start_s, threshold: {max: 1000}}\n"
                                       "  - {id: performance.accuracy, threshold: {min: 0}}\n")
    assert order == ["cold start begun", "performance.accuracy", "latency.cold_start_s"]
    cold = res.results[0]
    assert cold.verdict.value != "ERROR", cold.message
    runs = cold.details["tables"][1]["rows"]
    assert cold.n == len(runs) >= 1 and cold.value == pytest.approx(float(np.median([r[3] for r in runs])))
    assert "subprocess" in cold.message


def test_the_cold_start_child_loads_skops_as_the_audit_does(demo_files, tmp_path):
    from audit.models.loading import load_model
    from audit.profiling import cold_start

    m = load_model(demo_files["model"])
    X = __import__("pandas").read_parquet(demo_files["holdout"]).drop(columns="repaid").iloc[:1]
    cs = cold_start(m.estimator, m.source, "predict_proba", X, expected_sha256=m.meta["sha256"], budget_s=0.1)
    assert cs.method == "subprocess" and len(cs.runs) == 1  # one run: the next would not fit in 0.1 s
    r = cs.runs[0]
    assert r.process_s > r.seconds > 0 and r.cpu_s > 0
    assert "without scikit-learn's torch/dask shims" in cs.extra["skops import"]


def test_the_report_shows_the_sizes_the_budget_did_not_reach(demo_files, tmp_path, slow_model):
    from audit.report.writer import write_report

    res = _audit(demo_files, tmp_path, "\n".join([
        "  - {id: latency.p95_ms, params: {batch_size: 1024}, threshold: {max: 1000}}",
        "  - {id: latency.throughput_rows_per_s, threshold: {min: 1}}",
        "  - {id: latency.peak_memory_mb, threshold: {max: 1000}}",
        "  - {id: latency.p50_ms, threshold: {max: 1000}}",
    ]) + "\n")
    assert [rows for rows, _ in slow_model.calls] == [1, 1]  # one shared profile, two calls
    folder = write_report(res, tmp_path / "out", pdf=False)
    doc = json.loads((folder / "results.json").read_text())
    got = {r["id"]: r for r in doc["results"]}
    for cid in ("latency.p95_ms", "latency.throughput_rows_per_s", "latency.peak_memory_mb", "latency.p50_ms"):
        assert got[cid]["verdict"] == "INCONCLUSIVE", got[cid]["message"]
    for cid in ("latency.p95_ms", "latency.throughput_rows_per_s", "latency.peak_memory_mb"):
        r = got[cid]
        assert r["value"] is None and NOT_TIMED.format(1024) in r["message"]
        rows = {row[0]: row for row in r["details"]["tables"][0]["rows"]}
        assert rows[1024][1:4] == ["not timed, memory not measured (budget_s spent)", 0, 0]
        assert rows[32][1:4] == ["not timed, memory not measured (budget_s spent)", 0, 0]
        assert rows[1][2] == 1
    html = (folder / "report.html").read_text()
    assert "batch size 1024 not timed: the 1 s latency budget (latency profile budget_s)" in html
    assert html.count("not timed, memory not measured (budget_s spent)") >= 2  # the 32 and 1024 columns
