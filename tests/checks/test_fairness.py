"""Fairness checks: interval coverage, small and missing groups, predictions-only equals live model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit.checks import all_checks, get_check
from audit.context import AuditContext, AuditSettings
from audit.data.dataset import Dataset
from audit.policy import Threshold
from audit.results import Verdict
from audit.verdict import decide


def _ctx(df, *, n_boot=200, seed=0, min_group_size=30, score=True):
    ds = Dataset(X=df[["score"]], y=df["y"].to_numpy(), sensitive=df[[c for c in ("sex", "race") if c in df]],
                 prediction=df["yhat"].to_numpy(), score=df["score"].to_numpy() if score else None)
    return AuditContext(AuditSettings(seed=seed, n_boot=n_boot, min_group_size=min_group_size), ds, None)


def _run(ctx, cid, **params):
    spec = get_check(cid)
    return spec.func(ctx.for_check(cid, "base", 0), spec.params.model_validate(params))


def _two_groups(rng, n, rates=(0.3, 0.5)):
    sex = rng.choice(["F", "M"], n)
    y = rng.integers(0, 2, n)
    yhat = (rng.random(n) < np.where(sex == "F", rates[0], rates[1])).astype(int)
    return pd.DataFrame({"sex": sex, "y": y, "yhat": yhat, "score": rng.random(n)})


def test_interval_coverage_of_a_known_disparity():
    # True selection rates 0.30 and 0.50: demographic parity difference 0.2, ratio 0.6.
    # The 95 % interval must cover the truth in 90-99 % of 200 seeded repetitions.
    covered = {"fairness.demographic_parity_difference": 0, "fairness.demographic_parity_ratio": 0}
    truth = {"fairness.demographic_parity_difference": 0.2, "fairness.demographic_parity_ratio": 0.6}
    reps = 200
    for rep in range(reps):
        df = _two_groups(np.random.default_rng(1000 + rep), 2000)
        ctx = _ctx(df, seed=rep)
        for cid in covered:
            iv = _run(ctx, cid, sensitive=["sex"]).interval
            covered[cid] += iv.low <= truth[cid] <= iv.high
    for cid, k in covered.items():
        assert 0.90 <= k / reps <= 0.99, (cid, k / reps)


def test_equalized_odds_has_an_interval_that_covers():
    # TPR 0.6 vs 0.8 and FPR 0.2 vs 0.25: equalized odds difference = max(0.2, 0.05) = 0.2.
    hits, reps = 0, 100
    for rep in range(reps):
        rng = np.random.default_rng(5000 + rep)
        n = 3000
        sex = rng.choice(["F", "M"], n)
        y = rng.integers(0, 2, n)
        tpr = np.where(sex == "F", 0.6, 0.8)
        fpr = np.where(sex == "F", 0.2, 0.25)
        yhat = (rng.random(n) < np.where(y == 1, tpr, fpr)).astype(int)
        df = pd.DataFrame({"sex": sex, "y": y, "yhat": yhat, "score": rng.random(n)})
        iv = _run(_ctx(df, seed=rep), "fairness.equalized_odds_difference", sensitive=["sex"]).interval
        hits += iv.low <= 0.2 <= iv.high
    assert 0.88 <= hits / reps <= 1.0


def test_small_group_is_inconclusive_never_pass():
    rng = np.random.default_rng(0)
    df = _two_groups(rng, 1000, rates=(0.5, 0.5))
    df.loc[:9, "sex"] = "X"  # a 10-row group
    m = _run(_ctx(df, min_group_size=30), "fairness.demographic_parity_ratio", sensitive=["sex"])
    assert m.inconclusive and "sex=X" in m.inconclusive
    small = [g for g in m.groups if g.small]
    assert [g.group for g in small] == ["sex=X"] and small[0].n == 10
    verdict, _ = decide(m, Threshold(min=0.0))  # even a bound every value meets
    assert verdict == Verdict.INCONCLUSIVE


def test_small_group_excluded_with_a_note_and_still_reported():
    rng = np.random.default_rng(1)
    df = _two_groups(rng, 1000)
    df.loc[:4, "sex"] = "X"
    m = _run(_ctx(df, min_group_size=30), "fairness.demographic_parity_difference", sensitive=["sex"],
             small_groups="exclude")
    assert m.inconclusive is None
    assert "sex=X" in m.message
    assert any(g.group == "sex=X" and g.small for g in m.groups)
    big = df[df.sex != "X"]
    rates = big.groupby("sex").yhat.mean()
    assert m.value == pytest.approx(rates.max() - rates.min(), abs=1e-12)


def test_missing_sensitive_values_group_or_error():
    rng = np.random.default_rng(2)
    df = _two_groups(rng, 600)
    df["sex"] = df["sex"].astype(object)
    df.loc[:49, "sex"] = None
    m = _run(_ctx(df), "fairness.selection_rate", sensitive=["sex"])
    labels = {g.group: g for g in m.groups}
    assert labels["sex=<missing>"].n == 50
    with pytest.raises(Exception, match="missing"):
        _run(_ctx(df), "fairness.selection_rate", sensitive=["sex"], missing="error")


def test_unknown_sensitive_column_is_a_clear_error():
    df = _two_groups(np.random.default_rng(3), 200)
    with pytest.raises(Exception, match="race"):
        _run(_ctx(df), "fairness.demographic_parity_ratio", sensitive=["race"])


def test_group_table_extras_have_intervals():
    df = _two_groups(np.random.default_rng(4), 1500)
    m = _run(_ctx(df), "fairness.demographic_parity_ratio", sensitive=["sex"])
    for g in m.groups:
        for key in ("base_rate", "selection_rate", "tpr", "fpr", "precision"):
            cell = g.extra[key]
            assert cell["low"] <= cell["value"] <= cell["high"], (g.group, key, cell)
    json.dumps(m.model_dump(mode="json"))


def test_intersectional_heatmap_is_drawn():
    rng = np.random.default_rng(5)
    df = _two_groups(rng, 2000)
    df["race"] = rng.choice(["A", "B", "C"], len(df))
    m = _run(_ctx(df), "fairness.selection_rate", sensitive=["sex", "race"], groups="intersectional")
    kinds = [c["kind"] for c in m.details.get("charts", [])]
    assert "heatmap" in kinds
    assert len(m.groups) == 6


def test_same_seed_same_numbers_and_every_fairness_check_serialises():
    df = _two_groups(np.random.default_rng(6), 800)
    df["race"] = np.random.default_rng(7).choice(["A", "B"], len(df))
    for cid, spec in all_checks().items():
        if spec.family != "fairness" or "classification" not in spec.tasks:
            continue
        a = _run(_ctx(df, seed=3, min_group_size=5), cid).model_dump_json()
        b = _run(_ctx(df, seed=3, min_group_size=5), cid).model_dump_json()
        assert a == b, cid


def test_predictions_only_audit_equals_live_model_audit(tmp_path):
    """A CSV with label, prediction and score columns gives the numbers the live model gave."""
    from audit.data.demo import FEATURES, make_credit_data, train_demo_model
    from audit.models import wrap_model
    from audit.policy import load_policy
    from audit.runner import RunOptions, run_audit

    data = make_credit_data(3000, seed=4)
    train, hold = data.iloc[:2000].reset_index(drop=True), data.iloc[2000:].reset_index(drop=True)
    model = train_demo_model(train)
    import skops.io as sio

    sio.dump(model, tmp_path / "m.skops")
    hold.to_csv(tmp_path / "hold.csv", index=False)
    scored = hold.copy()
    p = wrap_model(model).predict_all(hold[FEATURES], "classification")
    scored["decision"], scored["score"] = p.labels, p.score
    scored.to_csv(tmp_path / "scored.csv", index=False)
    checks = """
checks:
  - {id: fairness.demographic_parity_ratio, params: {sensitive: [sex, age_band], groups: both}, threshold: {min: 0.8}}
  - {id: fairness.equalized_odds_difference, params: {sensitive: [sex, age_band]}, threshold: {max: 0.1}}
  - {id: fairness.calibration_difference, params: {sensitive: [sex]}, threshold: {max: 0.1}}
  - {id: performance.roc_auc, threshold: {min: 0.7}}
  - {id: latency.p50_ms, params: {batch_size: 1}, threshold: {max: 1000}}
"""
    live = tmp_path / "live.yaml"
    live.write_text("version: 1\nname: live\nmodel: {path: m.skops}\n"
                    "data: {path: hold.csv, target: repaid, sensitive: [sex, age_band], features: " +
                    json.dumps(FEATURES) + "}\n" + checks)
    stored = tmp_path / "stored.yaml"
    stored.write_text("version: 1\nname: stored\n"
                      "data: {path: scored.csv, target: repaid, sensitive: [sex, age_band], "
                      "prediction: decision, score: score, features: " + json.dumps(FEATURES) + "}\n" + checks)
    a = run_audit(load_policy(live), RunOptions(progress=False))
    b = run_audit(load_policy(stored), RunOptions(progress=False))
    for ra, rb in zip(a.results[:4], b.results[:4], strict=True):
        assert ra.value == pytest.approx(rb.value, abs=1e-12), ra.id
        assert ra.interval.low == pytest.approx(rb.interval.low, abs=1e-12), ra.id
        assert [g.group for g in ra.groups] == [g.group for g in rb.groups]
        assert [g.n for g in ra.groups] == [g.n for g in rb.groups]
        # scores went through a CSV file: equal to the last digits a float text keeps
        np.testing.assert_allclose([g.value for g in ra.groups], [g.value for g in rb.groups], atol=1e-12)
    assert b.results[4].verdict == Verdict.SKIPPED and "live model" in b.results[4].message
