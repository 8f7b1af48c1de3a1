"""The alibi-detect OOD backend: equal to the scikit-learn detectors, to alibi-detect used
directly, and (online Mahalanobis) to the pre-rewrite check; a clear error when it is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from audit.errors import InputError
from audit.ood import StandardEncoder, make_alibi_detector, make_detector
from tests._alibi import import_alibi_od, requires_alibi


def _data(seed=0):
    from audit.demo_context import demo_context

    ctx = demo_context(n=500, n_ref=700, seed=seed, model=False)
    enc = StandardEncoder(ctx.dataset.feature_types).fit(ctx.dataset.reference.X)
    return ctx, enc.transform(ctx.dataset.reference.X), enc.transform(ctx.evalset("ood.far@1").X)


def test_missing_alibi_names_the_extra(monkeypatch):
    for name in ("alibi_detect", "alibi_detect.cd", "alibi_detect.od"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InputError, match=r'pip install "audit\[alibi-detect\]"'):
        make_alibi_detector("iforest", seed=0)


def test_backend_argument_errors():
    with pytest.raises(ValueError, match=r"unknown detector 'knn'; expected one of \['iforest', 'gmm', "):
        make_alibi_detector("knn", seed=0)
    with pytest.raises(ValueError, match="robust=True is not available with the alibi-detect backend"):
        make_alibi_detector("mahalanobis", seed=0, robust=True)


@requires_alibi
@pytest.mark.parametrize("kind", ["iforest", "gmm"])
def test_equals_sklearn_detectors(kind):
    _, xr, x = _data()
    a = make_alibi_detector(kind, seed=123).fit(xr).score(x)
    np.testing.assert_array_equal(a, make_detector(kind, seed=123).fit(xr).score(x))


@requires_alibi
def test_sklearn_detectors_equal_alibi_used_directly():
    od = import_alibi_od()
    from alibi_detect.od._gmm import GMM

    _, xr, x = _data(1)
    forest = od.IForest(threshold=0.0, n_estimators=100)
    forest.isolationforest.set_params(random_state=77)
    forest.fit(xr)
    np.testing.assert_array_equal(make_detector("iforest", seed=77).fit(xr).score(x), forest.score(x))
    # alibi-detect's GMM draws its k-means start from numpy's global generator: seeded with 77,
    # it must fit what GaussianMixture(random_state=77) fits.
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(77)  # noqa: NPY002
        gmm = GMM(n_components=2, backend="sklearn")
        gmm.fit(xr)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    np.testing.assert_array_equal(make_detector("gmm", seed=77).fit(xr).score(x), gmm.score(x))


@requires_alibi
def test_gmm_fit_restores_numpys_global_generator():
    _, xr, _ = _data()
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    make_alibi_detector("gmm", seed=5).fit(xr)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


@requires_alibi
def test_online_mahalanobis_state_restored():
    _, xr, x = _data()
    det = make_alibi_detector("mahalanobis", seed=0).fit(xr)
    a = det.score(x)
    det.score(x[::-1])  # scoring updates the online statistics; they must be put back
    np.testing.assert_array_equal(det.score(x), a)
