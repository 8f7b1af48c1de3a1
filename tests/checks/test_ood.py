"""OOD detection checks against scikit-learn's roc_auc_score on the same scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from audit.checks import get_check
from audit.checks.ood import ood_scores
from audit.demo_context import demo_context


def run(ctx, cid, evalset="base", **params):
    spec = get_check(cid)
    c = ctx.for_check(cid, evalset, 0)
    return spec.func(c, spec.params.model_validate(params)), c


@pytest.fixture(scope="module")
def ctx():
    return demo_context(n=800, n_ref=800, n_boot=300)


@pytest.mark.parametrize("detector", ["confidence", "iforest", "mahalanobis", "gmm"])
@pytest.mark.parametrize("ood_set", ["ood.far@1", "ood.range@0.5"])
def test_auroc_equals_sklearn(ctx, detector, ood_set):
    m, c = run(ctx, "ood.detection_auroc", detector=detector, ood_set=ood_set)
    ind, out = ood_scores(c, detector, "base"), ood_scores(c, detector, ood_set)
    want = roc_auc_score(np.r_[np.zeros(len(ind)), np.ones(len(out))], np.r_[ind, out])
    assert m.value == pytest.approx(want, abs=1e-12)
    assert m.interval.low <= m.value + 1e-9 and m.value - 1e-9 <= m.interval.high
    thr = np.quantile(ind, 0.95)
    assert m.details["detection_rate"] == pytest.approx(np.mean(out > thr))
    chart = m.details["charts"][0]
    assert chart["kind"] == "histogram" and sum(chart["series"][0]["counts"]) == len(ind)


def test_confidence_scores_independent(ctx):
    m, _ = run(ctx, "ood.detection_auroc", detector="confidence", ood_set="ood.range@0.5")
    est = ctx.model.estimator
    ind = 1 - est.predict_proba(ctx.dataset.X).max(axis=1)
    out = 1 - est.predict_proba(ctx.evalset("ood.range@0.5").X).max(axis=1)
    assert m.value == pytest.approx(roc_auc_score(np.r_[np.zeros(800), np.ones(800)], np.r_[ind, out]))


def test_detectors_find_far_clusters(ctx):
    for det in ("iforest", "mahalanobis", "gmm"):
        m, _ = run(ctx, "ood.detection_auroc", detector=det)
        assert m.value > 0.95, det
        r, _ = run(ctx, "ood.detection_rate", detector=det)
        assert r.value > 0.9


def test_detection_rate_wilson(ctx):
    from scipy.stats import binomtest

    r, c = run(ctx, "ood.detection_rate", detector="iforest", ood_set="ood.range@0.5", false_alarm_rate=0.1)
    ind, out = ood_scores(c, "iforest", "base"), ood_scores(c, "iforest", "ood.range@0.5")
    k = int(np.sum(out > np.quantile(ind, 0.9)))
    assert r.value == pytest.approx(k / len(out))
    ci = binomtest(k, len(out)).proportion_ci(method="wilson")
    assert (r.interval.low, r.interval.high) == pytest.approx((ci.low, ci.high))


def test_mahalanobis_scores_stable():
    # A fitted detector scores the same rows the same way every time (no state carried between calls).
    c = demo_context(n=300, n_ref=600, model=False)
    cc = c.for_check("ood.detection_auroc", "base", 0)
    a = ood_scores(cc, "mahalanobis", "base")
    c.cache("ood_scores").pop(("mahalanobis", "scikit-learn", False, "base"))
    b = ood_scores(cc, "mahalanobis", "base")
    np.testing.assert_array_equal(a, b)


def test_seeded():
    a, _ = run(demo_context(n=300, n_ref=300), "ood.detection_auroc", detector="iforest")
    b, _ = run(demo_context(n=300, n_ref=300), "ood.detection_auroc", detector="iforest")
    assert a.model_dump() == b.model_dump()
