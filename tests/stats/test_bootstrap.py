"""Count and histogram bootstraps against plain row bootstraps and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score

from audit.stats import (
    auc_from_counts,
    binned_moments,
    bootstrap_binned_means,
    bootstrap_counts,
    cell_codes,
    class_score_counts,
    confusion_matrix_counts,
    percentile_interval,
    rank_bins,
)


def _binary_scores(n, seed, decimals=None):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    return y, (np.round(s, decimals) if decimals is not None else s)


def _row_replicates(n, n_boot, seed):
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def test_bootstrap_counts_seeded_and_keeps_totals():
    counts = np.array([50, 7, 12, 131])
    a = bootstrap_counts(counts, 300, np.random.default_rng(1))
    b = bootstrap_counts(counts, 300, np.random.default_rng(1))
    c = bootstrap_counts(counts, 300, np.random.default_rng(2))
    assert a.shape == (300, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a.sum(axis=1) == counts.sum()).all()
    # Cell means of a multinomial are n * p.
    np.testing.assert_allclose(a.mean(axis=0), counts, rtol=0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_confusion_matrix_counts_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y, p = rng.choice(list("abc"), 500), rng.choice(list("abcd"), 500)
    classes = np.array(list("abcd"))
    np.testing.assert_array_equal(confusion_matrix_counts(y, p, classes),
                                  confusion_matrix(y, p, labels=classes))
    with pytest.raises(ValueError, match="not among the classes"):
        confusion_matrix_counts(y, p, np.array(list("ab")))


def test_rank_bins_keep_ties_and_order():
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=20_000), 2)  # many ties
    codes, nb, exact = rank_bins(x, 64)
    assert nb <= 64 and not exact
    # Equal values share one bin, and bins follow value order.
    for v in np.unique(x)[:50]:
        assert len(np.unique(codes[x == v])) == 1
    order = np.argsort(x, kind="stable")
    assert (np.diff(codes[order]) >= 0).all()
    # Roughly equal counts (ties may merge neighbours).
    cnt = np.bincount(codes)
    assert cnt.max() < 3 * len(x) / 64
    small, nb2, exact2 = rank_bins(np.array([3.0, 1.0, 3.0, 2.0]), 64)
    assert exact2 and nb2 == 3
    np.testing.assert_array_equal(small, [2, 0, 2, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_from_exact_histogram_equals_sklearn(seed):
    y, s = _binary_scores(3000, seed, decimals=2)  # <= 101 distinct scores: exact bins, many ties
    counts, exact = class_score_counts(s, y, max_bins=1024)
    assert exact
    assert auc_from_counts(counts) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_binned_auc_close_to_exact_and_nan_without_a_class():
    y, s = _binary_scores(20_000, 3)
    counts, exact = class_score_counts(s, y, max_bins=1024)
    assert not exact and counts.shape == (2, 1024)
    assert abs(auc_from_counts(counts) - roc_auc_score(y, s)) < 1e-3
    assert np.isnan(auc_from_counts(np.array([[0, 0], [3, 4]])))


def test_auc_histogram_bootstrap_agrees_with_row_bootstrap():
    y, s = _binary_scores(2000, 4)
    counts, exact = class_score_counts(s, y, max_bins=256)  # binning active
    assert not exact
    shift = roc_auc_score(y, s) - auc_from_counts(counts)
    reps = auc_from_counts(bootstrap_counts(counts.ravel(), 1000, np.random.default_rng(0))
                           .reshape(1000, 2, -1)) + shift
    rows = np.array([roc_auc_score(y[i], s[i]) for i in _row_replicates(len(y), 400, 1)])
    lo, hi = percentile_interval(reps, 0.95)
    rlo, rhi = percentile_interval(rows, 0.95)
    assert abs(lo - rlo) < 0.02 and abs(hi - rhi) < 0.02
    assert reps.std() == pytest.approx(rows.std(), rel=0.15)


def test_binned_means_small_n_is_a_plain_row_bootstrap():
    x = np.random.default_rng(0).exponential(size=300)
    codes, k = cell_codes([x], max_cells=1024)
    assert k == 300
    bm = binned_moments(x, codes, k)
    reps = bootstrap_binned_means(bm, 200, np.random.default_rng(5))[:, 0]
    w = bootstrap_counts(np.ones(300, dtype=np.int64), 200, np.random.default_rng(5))
    np.testing.assert_allclose(reps, w @ x / 300, rtol=1e-12)
    assert bm.mean()[0] == pytest.approx(x.mean(), rel=1e-12)


def test_binned_means_agree_with_row_bootstrap_on_skewed_data():
    rng = np.random.default_rng(1)
    x = rng.lognormal(0.0, 1.0, size=20_000)
    codes, k = cell_codes([x], max_cells=128)  # coarse bins: the within-cell term matters
    bm = binned_moments(x, codes, k)
    assert bm.mean()[0] == pytest.approx(x.mean(), rel=1e-12)
    reps = bootstrap_binned_means(bm, 1000, np.random.default_rng(2))[:, 0]
    idx = _row_replicates(len(x), 500, 3)
    rows = x[idx].mean(axis=1)
    assert reps.std() == pytest.approx(rows.std(), rel=0.15)
    lo, hi = percentile_interval(reps)
    rlo, rhi = percentile_interval(rows)
    assert abs(lo - rlo) < 0.25 * rows.std() and abs(hi - rhi) < 0.25 * rows.std()
    # With very coarse cells the within-cell term carries most of the spread; without it
    # the interval would be far too narrow (so the check above can fail).
    codes, k = cell_codes([x], max_cells=3)
    coarse = binned_moments(x, codes, k)
    with_within = bootstrap_binned_means(coarse, 1000, np.random.default_rng(2))[:, 0]
    no_within = bootstrap_counts(coarse.counts, 1000, np.random.default_rng(2)) @ coarse.means[:, 0] / len(x)
    assert with_within.std() == pytest.approx(rows.std(), rel=0.15)
    assert no_within.std() < 0.7 * rows.std()


def test_binned_r2_agrees_with_row_bootstrap():
    rng = np.random.default_rng(2)
    n = 5000
    y = rng.normal(10, 3, n)
    pred = y + rng.standard_t(4, n) * 1.5
    e = pred - y
    yc = y - y.mean()
    stats = np.column_stack([np.abs(e), e * e, yc, yc * yc])
    codes, k = cell_codes([np.abs(e), y], max_cells=256)
    assert k < n
    m = bootstrap_binned_means(binned_moments(stats, codes, k), 1000, np.random.default_rng(0))
    r2 = 1 - m[:, 1] / (m[:, 3] - m[:, 2] ** 2)
    idx = _row_replicates(n, 400, 1)
    yy, ee = y[idx], e[idx]
    rows = 1 - (ee ** 2).sum(1) / ((yy - yy.mean(1, keepdims=True)) ** 2).sum(1)
    assert r2.std() == pytest.approx(rows.std(), rel=0.15)
    assert abs(np.median(r2) - np.median(rows)) < 0.01
