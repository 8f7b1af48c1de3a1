"""Weighted audits (data.weight): every metric against scikit-learn's and fairlearn's sample_weight.

Audits run through the whole pipeline (audit.run: plan, summary pass, checks) on the demo
credit data with skewed row weights. Point values must equal the independent weighted
computation; the weighted bootstrap's spread must match a brute-force weighted row bootstrap;
weights of 1 must give the unweighted point values; bad weights are exit-2 input errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as fm
from sklearn import metrics as skm

import audit
from audit.data.demo import FEATURES, TARGET
from tests.conftest import credit_split, regression_split

N_BOOT = 400


def _weights(n: int, seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).gamma(1.5, 1.0, n)


def _policy(checks, weight="w", target=TARGET, features=FEATURES, **data):
    return {"version": 1, "name": "weighted", "seed": 5,
            "data": {"path": "unused.parquet", "target": target, "sensitive": ["sex", "age_band"],
                     "features": list(features), **({"weight": weight} if weight else {}), **data},
            "defaults": {"n_boot": N_BOOT, "min_group_size": 5},
            "checks": [c if isinstance(c, dict) else {"id": c[0], "params": c[1], "threshold": {"max": 1e9}}
                       for c in checks]}


@pytest.fixture(scope="module")
def credit():
    train, holdout, model = credit_split(0)
    df = holdout.copy()
    df["w"] = _weights(len(df))
    X = df[FEATURES]
    return {"df": df, "train": train, "model": model, "y": df[TARGET].to_numpy(), "w": df["w"].to_numpy(),
            "yhat": model.predict(X), "p": model.predict_proba(X)[:, 1]}


@pytest.fixture(scope="module")
def performance(credit):
    ids = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier_score"]
    res = audit.run(_policy([(f"performance.{i}", {}) for i in ids]), model=credit["model"], data=credit["df"])
    return {r.id.split(".")[1]: r for r in res.results}


def test_weighted_performance_equals_scikit_learn_sample_weight(credit, performance):
    y, yh, p, w = credit["y"], credit["yhat"], credit["p"], credit["w"]
    ref = {"accuracy": skm.accuracy_score(y, yh, sample_weight=w),
           "balanced_accuracy": skm.balanced_accuracy_score(y, yh, sample_weight=w),
           "precision": skm.precision_score(y, yh, sample_weight=w),
           "recall": skm.recall_score(y, yh, sample_weight=w),
           "f1": skm.f1_score(y, yh, sample_weight=w),
           "log_loss": skm.log_loss(y, p, sample_weight=w),
           "brier_score": skm.brier_score_loss(y, p, sample_weight=w)}
    for k, v in ref.items():
        r = performance[k]
        assert r.verdict.value == "PASS", r.message
        assert r.value == pytest.approx(v, rel=1e-12, abs=1e-12), k
        assert r.interval.method in ("bootstrap-weighted-counts", "bootstrap-weighted-binned")
        assert r.details["weighted"]["sum_of_weights"] == pytest.approx(w.sum(), rel=1e-12)
        assert r.n == len(y)  # n counts rows, not weight
    auc = performance["roc_auc"]
    tied = auc.details["tied_pair_share"]
    assert abs(auc.value - skm.roc_auc_score(y, p, sample_weight=w)) <= tied / 2 + 1e-12
    assert auc.interval.method == "bootstrap-weighted-score-histogram"


def test_weighted_bootstrap_spread_matches_a_weighted_row_bootstrap(credit, performance):
    # The replicates must spread like scikit-learn's metrics on weighted rows resampled with
    # replacement (2,000 brute-force replicates); interval widths within 20 %.
    y, yh, p, w = credit["y"], credit["yhat"], credit["p"], credit["w"]
    rng = np.random.default_rng(0)
    n, B = len(y), 2000
    brute = {"accuracy": [], "log_loss": [], "roc_auc": []}
    for _ in range(B):
        i = rng.integers(0, n, n)
        brute["accuracy"].append(skm.accuracy_score(y[i], yh[i], sample_weight=w[i]))
        brute["log_loss"].append(skm.log_loss(y[i], p[i], sample_weight=w[i]))
        brute["roc_auc"].append(skm.roc_auc_score(y[i], p[i], sample_weight=w[i]))
    for k, reps in brute.items():
        lo, hi = np.quantile(reps, [0.025, 0.975])
        r = performance[k]
        assert r.interval.high - r.interval.low == pytest.approx(hi - lo, rel=0.2), k
        assert r.interval.low < r.value < r.interval.high


def test_unit_weights_give_the_unweighted_values(credit):
    df = credit["df"].assign(w=1.0)
    checks = [("performance.accuracy", {}), ("performance.roc_auc", {}), ("performance.log_loss", {}),
              ("fairness.demographic_parity_difference", {}), ("data.group_representation", {})]
    a = audit.run(_policy(checks), model=credit["model"], data=df)
    b = audit.run(_policy(checks, weight=None), model=credit["model"], data=df.drop(columns="w"))
    for ra, rb in zip(a.results, b.results, strict=True):
        assert ra.value == pytest.approx(rb.value, rel=1e-12, abs=1e-14), ra.id
        assert [g.value for g in ra.groups] == pytest.approx([g.value for g in rb.groups], rel=1e-12)
        assert "weighted" in ra.interval.method or "kish" in ra.interval.method
        # Count bootstraps: same rows, same draws, so with equal weights the weighted replicates are the
        # unweighted ones. The binned mean (log loss) draws its within-cell noise for the vector
        # (w, w loss) instead of loss alone: close, not equal.
        tol = 2e-2 if ra.id == "performance.log_loss" else 1e-9
        assert ra.interval.low == pytest.approx(rb.interval.low, rel=tol), ra.id
        assert ra.interval.high == pytest.approx(rb.interval.high, rel=tol), ra.id


def test_weighted_fairness_equals_fairlearn_metricframe(credit):
    y, yh, w, df = credit["y"], credit["yhat"], credit["w"], credit["df"]
    checks = [("fairness.demographic_parity_difference", {"groups": "both"}),
              ("fairness.equalized_odds_difference", {}), ("fairness.selection_rate", {"sensitive": ["sex"]})]
    res = audit.run(_policy(checks), model=credit["model"], data=df)
    dpd, eod, sel = res.results
    sw = {"sample_weight": w}
    mf = fm.MetricFrame(metrics={"sel": fm.selection_rate, "tpr": fm.true_positive_rate,
                                 "fpr": fm.false_positive_rate},
                        y_true=y, y_pred=yh, sensitive_features=df["sex"],
                        sample_params={"sel": sw, "tpr": sw, "fpr": sw})
    by = {g.group: g for g in dpd.groups}
    for sex, row in mf.by_group.iterrows():
        g = by[f"sex={sex}"]
        assert g.value == pytest.approx(row["sel"], rel=1e-12)
        assert g.extra["tpr"]["value"] == pytest.approx(row["tpr"], rel=1e-12)
        assert g.extra["fpr"]["value"] == pytest.approx(row["fpr"], rel=1e-12)
        assert g.interval.method == "wilson-kish"
        assert g.n == int((df["sex"] == sex).sum())  # group sizes count rows
    inter = fm.MetricFrame(metrics=fm.selection_rate, y_true=y, y_pred=yh,
                           sensitive_features=df[["sex", "age_band"]], sample_params={"sample_weight": w})
    for (sex, band), v in inter.by_group.items():
        assert by[f"sex={sex} & age_band={band}"].value == pytest.approx(v, rel=1e-12)
    worst = max(fm.demographic_parity_difference(y, yh, sensitive_features=df[c], sample_weight=w)
                for c in ("sex", "age_band"))
    assert dpd.value == pytest.approx(max(worst, inter.difference()), rel=1e-12)
    assert eod.value == pytest.approx(max(fm.equalized_odds_difference(y, yh, sensitive_features=df[c],
                                                                       sample_weight=w)
                                          for c in ("sex", "age_band")), rel=1e-12)
    assert eod.interval.method == "bootstrap-weighted-counts"
    assert sel.value == pytest.approx(mf.by_group["sel"].min(), rel=1e-12)


def test_weighted_regression_equals_scikit_learn():
    holdout, model = regression_split(0)
    from tests.conftest import REG_FEATURES, REG_TARGET

    df = holdout.copy()
    df["w"] = _weights(len(df), 3)
    y, w = df[REG_TARGET].to_numpy(float), df["w"].to_numpy()
    pred = model.predict(df[REG_FEATURES])
    pol = _policy([("performance.mae", {}), ("performance.rmse", {}), ("performance.r2", {}),
                   ("fairness.group_mae_difference", {"sensitive": ["sex"]})],
                  target=REG_TARGET, features=REG_FEATURES, task=None)
    pol["task"] = "regression"
    pol["data"].pop("task", None)
    res = audit.run(pol, model=model, data=df)
    mae, rmse, r2, gap = res.results
    assert mae.value == pytest.approx(skm.mean_absolute_error(y, pred, sample_weight=w), rel=1e-12)
    assert rmse.value == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred, sample_weight=w)), rel=1e-12)
    assert r2.value == pytest.approx(skm.r2_score(y, pred, sample_weight=w), rel=1e-10)
    assert mae.interval.method == "bootstrap-weighted-binned"
    assert mae.interval.low < mae.value < mae.interval.high
    per = {s: skm.mean_absolute_error(y[df["sex"] == s], pred[df["sex"] == s], sample_weight=w[df["sex"] == s])
           for s in ("F", "M")}
    assert {g.group: g.value for g in gap.groups} == pytest.approx({f"sex={k}": v for k, v in per.items()},
                                                                    rel=1e-12)
    assert gap.value == pytest.approx(abs(per["F"] - per["M"]), rel=1e-10)


def test_weighted_data_robustness_and_drift_checks(credit):
    df, w = credit["df"], credit["w"]
    df = df.copy()
    df.loc[df.index % 7 == 0, "income"] = np.nan  # missing values to count
    checks = [("data.class_balance", {}), ("data.group_representation", {"sensitive": ["age_band"]}),
              ("data.missing_values", {}), ("robustness.flip_rate", {}),
              {"id": "robustness.metric_drop", "evalset": "perturbed.noise@0.3", "threshold": {"max": 1e9}},
              ("shift.feature_drift", {"features": ["age", "employment"]})]
    pol = _policy(checks)
    res = audit.run(pol, model=_imputing(credit), data=df, reference=credit["train"])
    bal, rep, miss, flip, drop, drift = res.results
    for r in res.results:
        assert r.verdict.value == "PASS", (r.id, r.message)
    W = w.sum()
    cls = pd.Series(w).groupby(df[TARGET].to_numpy()).sum() / W
    assert bal.value == pytest.approx(cls.min(), rel=1e-12)
    shares = pd.Series(w).groupby(df["age_band"].to_numpy()).sum() / W
    assert {g.group: g.value for g in rep.groups} == pytest.approx(
        {f"age_band={k}": v for k, v in shares.items()}, rel=1e-12)
    assert miss.value == pytest.approx(w[df["income"].isna().to_numpy()].sum() / W, rel=1e-12)
    # Flip rate and metric drop on the perturbed set the audit built, predicted independently.
    assert flip.interval.method == "wilson-kish" and drop.interval.method == "paired-bootstrap-weighted-counts"
    assert 0.0 <= flip.value <= 1.0
    assert drop.details["base_metric"] == pytest.approx(
        skm.accuracy_score(df[TARGET], _imputing(credit).predict(df[FEATURES]), sample_weight=w), rel=1e-12)
    # Drift: the KS distance of the weighted ECDF of age against the reference's ECDF.
    ref_age = np.sort(credit["train"]["age"].to_numpy(float))
    x = df["age"].to_numpy(float)
    grid = np.unique(np.concatenate([ref_age, x]))
    f_ref = np.searchsorted(ref_age, grid, side="right") / len(ref_age)
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / W
    f_cur = np.concatenate([[0.0], cw])[np.searchsorted(x[order], grid, side="right")]
    d = np.abs(f_ref - f_cur).max()
    got = next(g for g in drift.groups if g.group == "age")
    assert got.extra["statistic"] == pytest.approx(d, rel=1e-6)


def _imputing(credit):
    # The demo model cannot predict rows with a missing income: the scale tests' imputing pipeline.
    from tests.scale.conftest import imputing_model

    if "imputing" not in credit:
        credit["imputing"] = imputing_model(credit["train"])
    return credit["imputing"]


@pytest.mark.parametrize("bad, what", [(-1.0, "1 negative"), (np.nan, "1 missing"), (np.inf, "1 infinite")])
def test_bad_weights_are_input_errors_naming_the_column(credit, bad, what):
    df = credit["df"].copy()
    df.loc[5, "w"] = bad
    with pytest.raises(audit.InputError, match=rf"weight column 'w' has {what}"):
        audit.run(_policy([("performance.accuracy", {})]), model=credit["model"], data=df)


def test_all_zero_weights_and_missing_column_are_input_errors(credit):
    with pytest.raises(audit.InputError, match="weight column 'w' is 0 on every row"):
        audit.run(_policy([("performance.accuracy", {})]), model=credit["model"], data=credit["df"].assign(w=0.0))
    with pytest.raises(audit.InputError, match=r"data\.weight .*weight column 'wt' not found.*did you mean 'w'"):
        audit.run(_policy([("performance.accuracy", {})], weight="wt"), model=credit["model"], data=credit["df"])


def test_weight_column_is_never_a_feature():
    from audit.policy.schema import DataRef

    with pytest.raises(ValueError, match="weight column 'w' is listed as a feature"):
        DataRef.model_validate({"path": "a.csv", "target": "y", "features": ["a", "w"], "weight": "w"})
    with pytest.raises(ValueError, match="also the target column"):
        DataRef.model_validate({"path": "a.csv", "target": "y", "weight": "y"})


def test_weighted_flip_rate_and_metric_drop_equal_scikit_learn_on_the_perturbed_rows(credit):
    # A standalone context (one partition): the perturbed set it builds is predicted here
    # independently, and the weighted shares computed with scikit-learn.
    from audit.checks import get_check
    from audit.context import AuditContext, AuditSettings
    from audit.data.dataset import Dataset
    from audit.models.adapter import ModelAdapter

    df, w = credit["df"], credit["w"]
    ds = Dataset(X=df[FEATURES], y=df[TARGET].to_numpy(), sensitive=df[["sex", "age_band"]], weight=w,
                 target=TARGET)
    ctx = AuditContext(AuditSettings(seed=2, n_boot=200, min_group_size=5), ds,
                       ModelAdapter(credit["model"], kind="sklearn", source="test"))
    name = "perturbed.noise@0.3"

    def run(cid, **params):
        spec = get_check(cid)
        return spec.func(ctx.for_check(cid, name, 0), spec.params.model_validate(params))

    flip, drop = run("robustness.flip_rate"), run("robustness.metric_drop", metric="balanced_accuracy")
    es = ctx.evalset(name)
    pert = credit["model"].predict(es.X)
    base = credit["yhat"][es.source_index]
    y = df[TARGET].to_numpy()[es.source_index]
    ww = w[es.source_index]
    assert flip.value == pytest.approx(ww[pert != base].sum() / ww.sum(), rel=1e-12)
    sexes = df["sex"].to_numpy()[es.source_index]
    for g in flip.groups:
        m = sexes == g.group.split("=")[1] if g.group.startswith("sex=") else None
        if m is not None:
            assert g.value == pytest.approx(ww[m & (pert != base)].sum() / ww[m].sum(), rel=1e-12)
    expect = (skm.balanced_accuracy_score(y, base, sample_weight=ww)
              - skm.balanced_accuracy_score(y, pert, sample_weight=ww))
    assert drop.value == pytest.approx(expect, rel=1e-10)
    assert drop.interval.low <= drop.value <= drop.interval.high


def test_weighted_auc_drop_and_regression_drop_equal_scikit_learn(credit):
    from audit.checks import get_check
    from audit.context import AuditContext, AuditSettings
    from audit.data.dataset import Dataset
    from audit.models.adapter import ModelAdapter
    from tests.conftest import REG_FEATURES, REG_TARGET

    name = "perturbed.noise@0.5"

    def run(ctx, cid, **params):
        spec = get_check(cid)
        return spec.func(ctx.for_check(cid, name, 0), spec.params.model_validate(params))

    df, w = credit["df"], credit["w"]
    ds = Dataset(X=df[FEATURES], y=df[TARGET].to_numpy(), sensitive=df[["sex", "age_band"]], weight=w,
                 target=TARGET)
    ctx = AuditContext(AuditSettings(seed=4, n_boot=200), ds, ModelAdapter(credit["model"], kind="sklearn",
                                                                          source="test"))
    drop = run(ctx, "robustness.metric_drop", metric="roc_auc")
    es = ctx.evalset(name)
    ww, y = w[es.source_index], df[TARGET].to_numpy()[es.source_index]
    p_pert = credit["model"].predict_proba(es.X)[:, 1]
    expect = (skm.roc_auc_score(y, credit["p"][es.source_index], sample_weight=ww)
              - skm.roc_auc_score(y, p_pert, sample_weight=ww))
    assert drop.value == pytest.approx(expect, abs=2e-5)  # 2**16-bin histograms: ties within a bin
    assert drop.interval.method == "paired-bootstrap-weighted-score-cells"

    holdout, model = regression_split(0)
    hw = _weights(len(holdout), 5)
    rds = Dataset(X=holdout[REG_FEATURES], y=holdout[REG_TARGET].to_numpy(float), sensitive=holdout[["sex"]],
                  weight=hw, target=REG_TARGET)
    rctx = AuditContext(AuditSettings(seed=4, n_boot=200, task="regression"), rds,
                        ModelAdapter(model, kind="sklearn", source="test"))
    rdrop = run(rctx, "robustness.metric_drop", metric="mae")
    res = rctx.evalset(name)
    yy, wr = holdout[REG_TARGET].to_numpy(float)[res.source_index], hw[res.source_index]
    base = model.predict(holdout[REG_FEATURES])[res.source_index]
    expect = (skm.mean_absolute_error(yy, model.predict(res.X), sample_weight=wr)
              - skm.mean_absolute_error(yy, base, sample_weight=wr))
    assert rdrop.value == pytest.approx(expect, rel=1e-9)
    assert rdrop.interval.method == "paired-bootstrap-weighted-binned"
    assert rdrop.interval.low <= rdrop.value <= rdrop.interval.high


def test_weighted_calibration_duplicates_leakage_and_prediction_drift(credit):
    # ECE, duplicates, single-feature leakage and PSI with weights, each against numpy / scikit-learn.
    df, w, p, y = credit["df"].copy(), credit["w"].copy(), credit["p"], credit["y"]
    train = credit["train"]
    dup_rows = [3, 10, 77, 500]  # evaluation rows copied from the training data: known duplicates
    df.loc[dup_rows, FEATURES] = train.loc[dup_rows, FEATURES].to_numpy()
    p = credit["model"].predict_proba(df[FEATURES])[:, 1]
    checks = [("performance.expected_calibration_error", {"n_bins": 10}), ("data.train_test_duplicates", {}),
              ("data.single_feature_leakage", {}), ("shift.prediction_drift", {"bins": 10})]
    res = audit.run(_policy(checks), model=credit["model"], data=df, reference=train)
    ece, dups, leak, psi = res.results
    W = w.sum()
    b = np.minimum((p * 10).astype(int), 9)
    expect = sum(abs((w[b == k] * (y[b == k] - p[b == k])).sum()) for k in range(10)) / W
    assert ece.value == pytest.approx(expect, rel=1e-9)
    is_dup = np.zeros(len(df), dtype=bool)
    is_dup[dup_rows] = True
    assert dups.details["duplicates"] == len(dup_rows)
    assert dups.value == pytest.approx(w[is_dup].sum() / W, rel=1e-12)
    assert dups.interval.method == "wilson-kish"
    # Leakage: weighted AUROC of each numeric feature alone (the sample is the whole table here).
    auc = {c: skm.roc_auc_score(y, df[c].fillna(df[c].median()), sample_weight=w)
           for c in ("age", "income", "debt_ratio")}
    got = {g.group: g.value for g in leak.groups}
    for c, a in auc.items():
        assert got[c] == pytest.approx(max(a, 1 - a), rel=1e-12)
    # PSI: reference scores' deciles as edges, the evaluation side's weighted shares.
    ref_p = credit["model"].predict_proba(train[FEATURES])[:, 1]
    edges = np.unique(np.quantile(ref_p, np.linspace(0, 1, 11))[1:-1])
    hr = np.bincount(np.searchsorted(edges, ref_p, side="right"), minlength=len(edges) + 1) / len(ref_p)
    hc = np.bincount(np.searchsorted(edges, p, side="right"), weights=w, minlength=len(edges) + 1) / W
    pr, pc = np.clip(hr, 1e-4, None), np.clip(hc, 1e-4, None)
    assert psi.value == pytest.approx(((pc - pr) * np.log(pc / pr)).sum(), rel=1e-9)
    assert psi.interval.method == "bootstrap-weighted-counts"


def test_weighted_categorical_drift_is_chi_square_on_kish_scaled_counts(credit):
    from scipy import stats

    df, w, train = credit["df"], credit["w"], credit["train"]
    res = audit.run(_policy([("shift.feature_drift", {"features": ["employment"]})]), model=credit["model"],
                    data=df, reference=train)
    ref_counts = train["employment"].astype(str).value_counts()
    cur = pd.Series(w).groupby(df["employment"].astype(str).to_numpy()).sum()
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    cats = sorted(set(ref_counts.index) | set(cur.index))
    table = np.array([[ref_counts.get(c, 0) for c in cats], [cur.get(c, 0) / w.sum() * n_eff for c in cats]])
    chi = stats.chi2_contingency(table)
    g = res.results[0].groups[0]
    assert g.extra["statistic"] == pytest.approx(float(np.float32(chi.statistic)), rel=1e-6)
    assert g.value == pytest.approx(float(np.float32(chi.pvalue)), rel=1e-5, abs=1e-30)


def test_an_unweighted_audit_plans_no_weighted_summary():
    from audit.plan import Facts, build_plan
    from audit.policy import load_policy

    lp = load_policy(Path(__file__).parents[2] / "policies" / "demo.yaml", check_files=False)
    for weighted in (False, True):
        plan = build_plan(lp.policy, Facts(task="classification", has_model=True, has_proba=True, has_scores=True,
                                           has_reference=True, sensitive=("sex", "age_band"), weighted=weighted))
        kinds = {r.kind for reqs in plan.requests.values() for r in reqs}
        assert any(k.startswith("w:") for k in kinds) is weighted
        if weighted:  # every summary is planned next to its weighted twin
            assert {k for k in kinds if not k.startswith("w:")} == {k[2:] for k in kinds if k.startswith("w:")}
