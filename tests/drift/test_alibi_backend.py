"""The alibi-detect backend: same numbers as the scipy engine, multivariate tests checked against
numpy/scikit-learn recomputations, and a clear error naming the extra when it is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from audit.drift import (
    ALIBI_DETECT_LICENSE,
    alibi_feature_tests,
    alibi_multivariate_drift,
    alibi_score_ks,
    feature_tests,
    require_alibi,
    score_ks,
)
from audit.errors import InputError
from tests._alibi import requires_alibi
from tests.drift._data import FEATURE_TYPES, tables


def test_missing_alibi_names_the_extra(monkeypatch):
    for name in ("alibi_detect", "alibi_detect.cd", "alibi_detect.od"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    with pytest.raises(InputError, match=r'pip install "audit\[alibi-detect\]".*BUSL-1.1'):
        require_alibi()
    ref, cur = tables(50, 50)
    with pytest.raises(InputError, match="alibi-detect"):
        alibi_feature_tests(ref, cur, FEATURE_TYPES)
    assert InputError.exit_code == 2
    assert ALIBI_DETECT_LICENSE == "BUSL-1.1"


@pytest.mark.parametrize("test", ["ks", "cvm"])
@requires_alibi
def test_feature_tests_through_alibi(test):
    ref, cur = tables()
    assert alibi_feature_tests(ref, cur, FEATURE_TYPES, test) == feature_tests(ref, cur, FEATURE_TYPES, test)


@requires_alibi
def test_score_ks_through_alibi():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(size=500), rng.uniform(0.05, 1.05, size=400)
    assert alibi_score_ks(a, b) == score_ks(a, b)


def _shifted(n, seed, shift):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n, 4))
    cur = rng.normal(size=(n, 4))
    cur[:, 0] += shift
    return ref, cur


@requires_alibi
def test_mmd_statistic_equals_numpy():
    ref, cur = _shifted(150, 0, 1.0)
    r = alibi_multivariate_drift(ref, cur, "mmd", seed=0, n_permutations=50)
    # Unbiased MMD^2 with a Gaussian kernel whose bandwidth is the median heuristic on the
    # reference's pairwise squared distances (off-diagonal), as alibi-detect configures it.
    x, y = ref.astype(np.float32).astype(float), cur.astype(np.float32).astype(float)
    d_ref = ((x[:, None] - x[None]) ** 2).sum(-1)
    off = np.sort(d_ref[~np.eye(len(x), dtype=bool)])
    sigma2 = 0.5 * off[(len(off)) // 2 - 1]
    z = np.vstack([x, y])
    k = np.exp(-((z[:, None] - z[None]) ** 2).sum(-1) / (2 * sigma2))
    np.fill_diagonal(k, 0.0)
    n, m = len(x), len(y)
    mmd2 = k[:n, :n].sum() / (n * (n - 1)) + k[n:, n:].sum() / (m * (m - 1)) - 2 * k[n:, :n].mean()
    assert r.method == "mmd"
    assert r.statistic == pytest.approx(mmd2, rel=1e-4)
    assert r.p_value == 0.0  # no permutation reaches a 1-sd mean shift


@requires_alibi
def test_multivariate_reproducible_and_restores_global_state():
    import torch

    ref, cur = _shifted(200, 1, 0.0)
    np_before = np.random.get_state()[1].copy()  # noqa: NPY002
    torch_before = torch.random.get_rng_state().clone()
    a = alibi_multivariate_drift(ref, cur, "lsdd", seed=3, n_permutations=50)
    b = alibi_multivariate_drift(ref, cur, "lsdd", seed=3, n_permutations=50)
    assert a == b
    assert np.array_equal(np.random.get_state()[1], np_before)  # noqa: NPY002
    assert torch.equal(torch.random.get_rng_state(), torch_before)
    assert a.p_value > 0.05  # same distribution
    assert alibi_multivariate_drift(*_shifted(200, 1, 1.0), "lsdd", seed=3, n_permutations=50).p_value < 0.05


@requires_alibi
def test_classifier_two_sample_test_equals_sklearn():
    ref, cur = _shifted(300, 2, 0.5)
    model = LogisticRegression()
    r = alibi_multivariate_drift(ref, cur, "classifier", seed=7, model=model)
    # Out-of-fold probabilities of "current" from 5 stratified folds, then a one-sided KS test.
    x = np.vstack([ref, cur]).astype(np.float32)
    y = np.r_[np.zeros(len(ref), int), np.ones(len(cur), int)]
    probs = np.empty(len(y))
    for tr, te in StratifiedKFold(n_splits=5, shuffle=True, random_state=7).split(np.zeros(len(y)), y):
        probs[te] = clone(model).fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
    want = stats.ks_2samp(probs[y == 0], probs[y == 1], alternative="greater")
    assert r.statistic == pytest.approx(want.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(want.pvalue, rel=1e-6)
    assert r.p_value < 0.05


@requires_alibi
def test_multivariate_bad_input():
    ref, cur = _shifted(20, 0, 0.0)
    with pytest.raises(ValueError, match=r"method must be one of \['mmd', 'lsdd', 'classifier'\]"):
        alibi_multivariate_drift(ref, cur, "energy", seed=0)
    with pytest.raises(ValueError, match="ref has 4 columns and cur 3"):
        alibi_multivariate_drift(ref, cur[:, :3], "mmd", seed=0)
    cur[0, 0] = np.nan
    with pytest.raises(ValueError, match="cur holds NaN"):
        alibi_multivariate_drift(ref, cur, "mmd", seed=0)
