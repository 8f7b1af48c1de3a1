"""OOD detectors against scikit-learn, scipy and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg
from scipy.spatial.distance import mahalanobis
from scipy.stats import multivariate_normal
from sklearn.covariance import MinCovDet
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from audit.errors import DataError
from audit.ood import (
    DETECTORS,
    GMMDetector,
    IsolationForestDetector,
    MahalanobisDetector,
    StandardEncoder,
    make_detector,
)


def _gaussian(n, d=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ a + np.arange(d)


def test_iforest_is_the_negated_decision_function():
    X, Y = _gaussian(500), _gaussian(200, seed=1) * 1.5
    s = make_detector("iforest", seed=11).fit(X).score(Y)
    forest = IsolationForest(n_estimators=100, random_state=11).fit(X)
    # contamination="auto": decision_function = score_samples + 0.5 (offset -0.5).
    np.testing.assert_array_equal(s, -forest.decision_function(Y))
    np.testing.assert_allclose(s, -forest.score_samples(Y) - 0.5, rtol=0, atol=1e-15)
    other = make_detector("iforest", seed=12).fit(X).score(Y)
    assert not np.array_equal(s, other)


def test_gmm_is_the_negative_log_density():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(-3, 1, size=(300, 3)), rng.normal(3, 0.5, size=(200, 3))])
    Y = rng.normal(0, 3, size=(100, 3))
    det = make_detector("gmm", seed=5).fit(X)
    g = det.mixture_
    assert g.n_components == 2 and g.tol == 1e-3 and g.max_iter == 100 and g.random_state == 5
    dens = sum(w * multivariate_normal(m, c).pdf(Y) for w, m, c in zip(g.weights_, g.means_, g.covariances_,
                                                                        strict=True))
    np.testing.assert_allclose(det.score(Y), -np.log(dens), rtol=1e-10)
    # Two well-separated clusters: the mixture finds them.
    assert sorted(np.round(g.weights_, 1).tolist()) == [0.4, 0.6]


def test_mahalanobis_full_rank_equals_scipy():
    X, Y = _gaussian(800), _gaussian(50, seed=3)
    s = make_detector("mahalanobis", seed=0).fit(X).score(Y)
    vi = np.linalg.inv(np.cov(X, rowvar=False, bias=True))
    want = [mahalanobis(y, X.mean(axis=0), vi) for y in Y]
    np.testing.assert_allclose(s, want, rtol=1e-9)


def test_mahalanobis_singular_uses_the_reference_subspace():
    # One-hot columns sum to one: the covariance is singular. The distance is measured in the
    # span of the reference rows (pseudo-inverse); moves along the null direction do not count.
    rng = np.random.default_rng(4)
    num = rng.normal(size=(600, 2))
    onehot = np.eye(3)[rng.integers(0, 3, 600)]
    X = np.hstack([num, onehot])
    Y = np.hstack([rng.normal(size=(40, 2)), np.eye(3)[rng.integers(0, 3, 40)]])
    det = make_detector("mahalanobis", seed=0).fit(X)
    cov = np.cov(X, rowvar=False, bias=True)
    vi = linalg.pinvh(cov, atol=1e-10)
    want = [mahalanobis(y, X.mean(axis=0), vi) for y in Y]
    np.testing.assert_allclose(det.score(Y), want, rtol=1e-8)
    null = np.r_[0, 0, 1, 1, 1] / np.sqrt(3)  # the one-hot sum direction
    np.testing.assert_allclose(det.score(Y + 0.7 * null), det.score(Y), rtol=1e-8)
    assert det.basis_.shape == (5, 4)


def test_robust_mahalanobis_equals_min_cov_det():
    X, Y = _gaussian(700, seed=5), _gaussian(60, seed=6)
    det = make_detector("mahalanobis", seed=9, robust=True).fit(X)
    mcd = MinCovDet(random_state=9).fit(X)
    # The MCD is affine equivariant: fitted on the centred principal coordinates it keeps the same
    # rows. Centre and covariance are the mean and ML covariance of those rows: the MCD's
    # reweighted location_, and its covariance_ before the consistency factor scikit-learn
    # applies (one constant for all rows, so no ranking changes).
    np.testing.assert_array_equal(det.support_, mcd.support_)
    rows = X[mcd.support_]
    np.testing.assert_allclose(rows.mean(axis=0), mcd.location_, rtol=1e-12)
    vi = np.linalg.inv(np.cov(rows, rowvar=False, bias=True))
    want = [mahalanobis(y, mcd.location_, vi) for y in Y]
    np.testing.assert_allclose(det.score(Y), want, rtol=1e-8)
    factor = mcd.covariance_ / np.cov(rows, rowvar=False, bias=True)
    np.testing.assert_allclose(factor, factor[0, 0], rtol=1e-8)
    np.testing.assert_allclose(det.score(Y), np.sqrt(mcd.mahalanobis(Y) * factor[0, 0]), rtol=1e-8)


def test_robust_mahalanobis_on_one_hot_columns(recwarn):
    # The MCD sees the continuous columns only; the one-hot block's mean and covariance are
    # taken over the rows it keeps; no degenerate-subset warnings.
    rng = np.random.default_rng(8)
    cont = rng.standard_t(3, size=(800, 2))
    X = np.hstack([cont, np.eye(3)[rng.integers(0, 3, 800)], rng.integers(0, 2, (800, 1))])
    Y = np.hstack([rng.normal(size=(30, 2)), np.eye(3)[rng.integers(0, 3, 30)], np.ones((30, 1))])
    det = make_detector("mahalanobis", seed=2, robust=True).fit(X)
    keep = MinCovDet(random_state=2).fit(cont).support_
    np.testing.assert_array_equal(det.support_, keep)
    rows = X[keep]
    vi = linalg.pinvh(np.cov(rows, rowvar=False, bias=True), atol=1e-10)
    want = [mahalanobis(y, rows.mean(axis=0), vi) for y in Y]
    np.testing.assert_allclose(det.score(Y), want, rtol=1e-8)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    with pytest.warns(RuntimeWarning, match="no encoded column has more than two distinct values"):
        only_flags = make_detector("mahalanobis", seed=2, robust=True).fit(X[:, 2:])
    assert only_flags.support_.all()


def test_reweighting_rule_equals_min_cov_det():
    # The rule the robust detector applies to every row of a large reference, checked against
    # scikit-learn's own reweighting on the rows the MCD was fitted on.
    from audit.ood._sklearn import reweighted_support

    for seed in range(3):
        rng = np.random.default_rng(seed)
        P = np.vstack([rng.standard_t(4, size=(500, 3)), rng.normal(6, 1, size=(40, 3))])
        mcd = MinCovDet(random_state=seed).fit(P)
        np.testing.assert_array_equal(reweighted_support(mcd, P), mcd.support_)


def test_robust_mahalanobis_on_a_sample_above_the_row_limit(monkeypatch):
    import audit.ood._sklearn as sk

    monkeypatch.setattr(sk, "MCD_MAX_ROWS", 300)
    rng = np.random.default_rng(5)
    clean, far = rng.normal(size=(1350, 3)), rng.normal(7, 1, size=(150, 3))
    X = np.vstack([clean, far])
    a = make_detector("mahalanobis", seed=4, robust=True).fit(X)
    b = make_detector("mahalanobis", seed=4, robust=True).fit(X)
    np.testing.assert_array_equal(a.support_, b.support_)
    assert not a.support_[1350:].any()          # every planted outlier left out
    assert a.support_[:1350].mean() > 0.95      # ~97.5% of clean Gaussian rows kept
    rows = X[a.support_]
    vi = np.linalg.inv(np.cov(rows, rowvar=False, bias=True))
    np.testing.assert_allclose(a.score(far[:5]), [mahalanobis(y, rows.mean(axis=0), vi) for y in far[:5]],
                               rtol=1e-9)


def test_robust_mahalanobis_resists_reference_outliers():
    rng = np.random.default_rng(7)
    clean = rng.normal(size=(900, 3))
    X = np.vstack([clean, rng.normal(8, 1, size=(100, 3))])  # 10% contamination
    probe = np.array([[4.0, 4.0, 4.0]])
    plain = make_detector("mahalanobis", seed=0).fit(X).score(probe)[0]
    robust = make_detector("mahalanobis", seed=0, robust=True).fit(X).score(probe)[0]
    # Closed form for the clean N(0, I) part: distance sqrt(3 * 16) = 6.93.
    assert robust == pytest.approx(np.sqrt(48), rel=0.15)
    assert plain < 0.5 * robust


def test_detectors_separate_far_rows_on_the_demo_data():
    from audit.demo_context import demo_context

    ctx = demo_context(n=600, n_ref=600, model=False)
    enc = StandardEncoder(ctx.dataset.feature_types).fit(ctx.dataset.reference.X)
    xr, xi = enc.transform(ctx.dataset.reference.X), enc.transform(ctx.dataset.X)
    es = ctx.evalset("ood.far@1")
    xo = enc.transform(es.X)[np.asarray(es.meta["is_ood"], dtype=bool)]
    for kind in DETECTORS:
        for robust in ([False, True] if kind == "mahalanobis" else [False]):
            det = make_detector(kind, seed=1, robust=robust).fit(xr)
            si, so = det.score(xi), det.score(xo)
            auc = roc_auc_score(np.r_[np.zeros(len(si)), np.ones(len(so))], np.r_[si, so])
            assert auc > 0.95, (kind, robust)


def test_same_seed_same_scores():
    X, Y = _gaussian(300), _gaussian(100, seed=1)
    for kind in DETECTORS:
        a = make_detector(kind, seed=3).fit(X).score(Y)
        b = make_detector(kind, seed=3).fit(X.copy()).score(Y)
        np.testing.assert_array_equal(a, b)


def test_factory_and_bad_input():
    assert isinstance(make_detector("iforest", seed=0), IsolationForestDetector)
    assert isinstance(make_detector("gmm", seed=0), GMMDetector)
    assert make_detector("mahalanobis", seed=0, robust=True).robust
    assert isinstance(make_detector("mahalanobis", seed=0), MahalanobisDetector)
    with pytest.raises(ValueError, match=r"unknown detector 'lof'; expected one of \['iforest', 'gmm', "):
        make_detector("lof", seed=0)
    with pytest.raises(ValueError, match="robust=True applies to the 'mahalanobis' detector only"):
        make_detector("gmm", seed=0, robust=True)
    det = make_detector("iforest", seed=0)
    with pytest.raises(RuntimeError, match="score called before fit"):
        det.score(np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"2-D array \(rows x encoded features\); found shape \(5,\)"):
        det.fit(np.zeros(5))
    X = _gaussian(50)
    X[3, 2] = np.nan
    with pytest.raises(DataError, match=r"1 NaN or infinite value\(s\) in encoded column\(s\) \[2\]"):
        det.fit(X)
    det.fit(_gaussian(50))
    with pytest.raises(DataError, match="X has 3 encoded columns; the detector was fitted on 4"):
        det.score(np.zeros((2, 3)))
    with pytest.raises(DataError, match="at least 2 reference rows; found 1"):
        make_detector("gmm", seed=0).fit(np.zeros((1, 3)))
    with pytest.raises(DataError, match="every reference row is the same point"):
        make_detector("mahalanobis", seed=0).fit(np.ones((10, 3)))
    assert det.score(np.zeros((0, 4))).shape == (0,)
