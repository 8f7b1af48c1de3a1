"""Numbers the methods reference states, checked against independent computations.

Each test first asserts that methods.yaml still makes the claim (so an edited number is
re-checked), then verifies it with scipy, scikit-learn, a closed form or a simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from audit.compliance import methods
from audit.profiling import order_statistic_interval
from audit.stats import auc_from_counts, bootstrap_counts, wilson_interval


def _claims(text: str, *needles: str) -> None:
    for needle in needles:
        assert needle in text, (
            f"methods.yaml no longer says {needle!r}; update this test with the claim"
        )


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (50, 100), (997, 1000), (1, 7)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_label_equals_scipy_wilson(k, n, level):
    _claims(
        methods().interval("wilson").what,
        "scipy.stats.binomtest(k, n).proportion_ci(method='wilson')",
    )
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    lo, hi = wilson_interval(k, n, level)
    assert lo == pytest.approx(ci.low, abs=1e-12)
    assert hi == pytest.approx(ci.high, abs=1e-12)


def _smallest_n_with_upper_bound(q: float, level: float) -> int:
    # The largest order statistic bounds the q-quantile from above with probability 1 - q^n.
    a = (1 - level) / 2
    n = 1
    while stats.binom.cdf(n - 1, n, q) < 1 - a:
        n += 1
    return n


@pytest.mark.parametrize("q, n_claimed", [(0.99, 368), (0.95, 72)])
def test_order_statistic_upper_bound_needs_the_stated_number_of_calls(q, n_claimed):
    text = methods().interval("order-statistic").exact_when
    _claims(text, f"at least {n_claimed}")
    assert _smallest_n_with_upper_bound(q, 0.95) == n_claimed
    assert int(np.ceil(np.log(0.025) / np.log(q))) == n_claimed  # closed form: 1 - q^n >= 0.975
    rng = np.random.default_rng(0)
    _, high_short, _, _ = order_statistic_interval(rng.exponential(size=n_claimed - 1), q, 0.95)
    _, high_enough, _, coverage = order_statistic_interval(rng.exponential(size=n_claimed), q, 0.95)
    assert high_short is None and high_enough is not None
    assert coverage >= 0.95


def test_p99_below_368_calls_has_no_upper_bound():
    _claims(methods().check("latency.p99_ms").limitations[-1], "368", "INCONCLUSIVE")
    _, high, _, _ = order_statistic_interval(np.arange(367.0), 0.99, 0.95)
    assert high is None
    _, high, _, _ = order_statistic_interval(np.arange(368.0), 0.99, 0.95)
    assert high is not None


def test_order_statistic_interval_covers_at_least_its_level():
    # Distribution-free: simulate a skewed distribution and count how often the interval covers
    # the true 95th percentile.
    rng = np.random.default_rng(1)
    true = stats.lognorm(s=1.0).ppf(0.95)
    hits = 0
    reps = 2000
    for _ in range(reps):
        lo, hi, _, _ = order_statistic_interval(rng.lognormal(size=300), 0.95, 0.95)
        hits += lo <= true <= hi
    assert hits / reps >= 0.94  # nominal 0.95, exact coverage >= 0.95; 0.01 for simulation noise


def test_percentile_endpoint_monte_carlo_error_is_as_stated():
    text = methods().interval("bootstrap-counts").approximation
    _claims(
        text,
        "about 25 replicates",
        "0.085 standard deviations",
        "about 2 % of the interval's width",
    )
    b, p = 1000, 0.025
    assert b * p == 25
    # Asymptotic standard error of a sample p-quantile of B normal draws (sd 1):
    # sqrt(p(1-p)/B) / phi(z_p).
    se = np.sqrt(p * (1 - p) / b) / stats.norm.pdf(stats.norm.ppf(p))
    assert se == pytest.approx(0.085, abs=0.001)
    assert se / (2 * stats.norm.ppf(1 - p)) == pytest.approx(0.02, abs=0.0025)
    # And by simulation: the spread of the 2.5 % quantile over many sets of 1000 replicates.
    rng = np.random.default_rng(2)
    q = np.quantile(rng.standard_normal((4000, b)), p, axis=1)
    assert q.std() == pytest.approx(se, rel=0.06)


def test_count_bootstrap_has_the_row_bootstrap_distribution():
    _claims(
        methods().interval("bootstrap-counts").exact_when,
        "exactly the distribution a row bootstrap gives",
    )
    # Accuracy of n rows with k correct: under a row bootstrap the count is Binomial(n, k/n).
    n, k, b = 400, 300, 40_000
    reps = bootstrap_counts(np.array([k, n - k]), b, np.random.default_rng(3))[:, 0]
    for q in (0.025, 0.5, 0.975):
        assert abs(np.quantile(reps, q) - stats.binom.ppf(q, n, k / n)) <= 1
    assert reps.mean() == pytest.approx(k, rel=2e-3)
    assert reps.var() == pytest.approx(n * (k / n) * (1 - k / n), rel=0.03)
    # Groups keep their observed totals (a stratified bootstrap).
    grouped = bootstrap_counts(np.array([[10, 5], [3, 30]]), 100, np.random.default_rng(4))
    assert (grouped.sum(axis=2) == [15, 33]).all()


def test_score_histogram_auc_is_exact_without_shared_bins_and_within_the_bound_otherwise():
    from audit.stats.summaries import SCORE_BINS, score_bin

    text = methods().interval("bootstrap-score-histogram")
    _claims(text.exact_when, "no positive and negative share a score bin")
    _claims(text.approximation, "within half the share of positive-negative pairs that share one of the 2^16 bins")

    def hist(score, y):
        return np.bincount(y.astype(int) * SCORE_BINS + score_bin(score, SCORE_BINS),
                           minlength=2 * SCORE_BINS).reshape(2, SCORE_BINS)

    rng = np.random.default_rng(5)
    y = rng.random(20_000) < 0.3
    # Scores on a grid coarser than the bins: classes never share a bin unless they share a value,
    # and equal values are ties for scikit-learn too, so the value is exact.
    grid = (np.floor(rng.random(20_000) * 1000) + 0.5) / 1000
    counts = hist(grid, y)
    assert float(auc_from_counts(counts)) == pytest.approx(roc_auc_score(y, grid), abs=1e-12)
    many = rng.random(20_000) * 0.5 + 0.3 * y
    counts = hist(many, y)
    tied = float((counts[0] * counts[1]).sum()) / float(counts[0].sum() * counts[1].sum())
    assert 0 < tied
    assert abs(float(auc_from_counts(counts)) - roc_auc_score(y, many)) <= tied / 2


def test_hash_collision_bound_for_duplicates_is_negligible_at_audit_sizes():
    _claims(methods().check("data.train_test_duplicates").estimator, "n m / 2^64")
    # Ten million evaluation rows against ten million training rows.
    assert 1e7 * 1e7 / 2.0**64 < 1e-5
