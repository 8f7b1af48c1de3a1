"""Drift checks: p-values agree with scipy, BH agrees with scipy, shifted features found, FDR held."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.checks import get_check
from audit.checks.shift import bh_qvalues, feature_pvalues
from audit.demo_context import demo_context
from audit.evalsets import EvalSetSpec


def run(ctx, cid, evalset="base", **params):
    spec = get_check(cid)
    return spec.func(ctx.for_check(cid, evalset, 0), spec.params.model_validate(params))


@pytest.fixture(scope="module")
def ctx():
    c = demo_context(n=800, n_ref=800, n_boot=200)
    c.evalset_specs["cov"] = EvalSetSpec(name="cov", kind="shifted.covariate", severity=1.0,
                                         params={"feature": "income"})
    return c


def test_bh_matches_scipy():
    p = np.random.default_rng(0).uniform(size=40) ** 3
    np.testing.assert_allclose(bh_qvalues(p), stats.false_discovery_control(p, method="bh"))


@pytest.mark.parametrize("test", ["ks", "cvm"])
def test_pvalues_agree_with_scipy(ctx, test):
    ref, cur = ctx.dataset.reference.X, ctx.evalset("cov").X
    res = feature_pvalues(ref, cur, ctx.dataset.feature_types, test)
    for col in ("income", "debt_ratio", "open_accounts"):
        a, b = ref[col].to_numpy(float), cur[col].to_numpy(float)
        if test == "ks":
            r = stats.ks_2samp(a, b, method="asymp")
        else:
            r = stats.cramervonmises_2samp(a, b)
        assert res[col][0] == pytest.approx(r.statistic, rel=1e-5)
        assert res[col][1] == pytest.approx(r.pvalue, rel=1e-4, abs=1e-12)
    for col in ("employment", "housing", "sex"):
        cats = sorted(set(ref[col]) | set(cur[col]))
        table = np.array([[np.sum(ref[col] == k) for k in cats], [np.sum(cur[col] == k) for k in cats]])
        chi2, p, _, _ = stats.chi2_contingency(table)
        assert res[col][0] == pytest.approx(chi2, rel=1e-5)
        assert res[col][1] == pytest.approx(p, rel=1e-4, abs=1e-12)


def test_shifted_feature_flagged(ctx):
    m = run(ctx, "shift.feature_drift", "cov")
    g = {x.group: x for x in m.groups}
    assert g["income"].extra["drifted"]
    table = m.details["tables"][0]
    assert table["columns"][:4] == ["feature", "test", "statistic", "p-value"]
    q = bh_qvalues(np.array([r[3] for r in table["rows"]]))
    np.testing.assert_allclose([r[4] for r in table["rows"]], q)
    assert m.value == pytest.approx(np.mean(q <= 0.05))


def test_fdr_over_seeds():
    # Reference and evaluation data from the same distribution, except income x 1.5 in the
    # evaluation data: income is flagged every time, the 9 untouched features rarely.
    false_pos, runs, found = 0, 50, 0
    for seed in range(runs):
        c = demo_context(n=300, n_ref=300, seed=seed, model=False)
        c.dataset.X = c.dataset.X.assign(income=c.dataset.X["income"] * 1.5)
        m = run(c, "shift.feature_drift")
        flagged = {g.group for g in m.groups if g.extra["drifted"]}
        found += "income" in flagged
        false_pos += len(flagged - {"income"})
    assert found == runs
    # Expected false discoveries under BH at 5%: well below 0.05 x 9 x 50 = 22.5.
    assert false_pos <= 15


def test_prediction_drift(ctx):
    est = ctx.model.estimator
    ref = est.predict_proba(ctx.dataset.reference.X)[:, 1]
    cur = est.predict_proba(ctx.evalset("cov").X)[:, 1]
    m = run(ctx, "shift.prediction_drift", "cov", statistic="ks")
    assert m.value == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-5)
    m = run(ctx, "shift.prediction_drift", "cov")
    edges = np.quantile(ref, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    a = np.histogram(ref, edges)[0] / len(ref)
    b = np.histogram(cur, edges)[0] / len(cur)
    a, b = np.clip(a, 1e-4, None), np.clip(b, 1e-4, None)
    assert m.value == pytest.approx(np.sum((b - a) * np.log(b / a)), rel=1e-6)
    base = run(ctx, "shift.prediction_drift", "base")
    assert base.value < 0.1 < m.value
    assert m.details["charts"][0]["kind"] == "histogram"
