"""Order-statistic quantile intervals against binomial closed forms and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.profiling import min_repeats_for, order_statistic_interval


def test_median_ranks_match_the_textbook_table():
    # Conover, Practical Nonparametric Statistics: n = 100, 95 % CI for the median is X(40), X(61).
    x = np.arange(1.0, 101.0)  # X(k) = k
    low, high, ranks, coverage = order_statistic_interval(x[::-1], 0.5, 0.95)
    assert ranks == (40, 61)
    assert (low, high) == (40.0, 61.0)
    expected = stats.binom.cdf(60, 100, 0.5) - stats.binom.cdf(39, 100, 0.5)
    assert coverage == pytest.approx(expected)
    assert coverage >= 0.95


def test_p99_upper_bound_needs_368_draws():
    # The largest draw bounds the p99 from above with prob 1 - 0.99**n >= 0.975 iff n >= 368.
    assert int(np.ceil(np.log(0.025) / np.log(0.99))) == 368
    _, high, ranks, _ = order_statistic_interval(np.arange(367.0), 0.99, 0.95)
    assert high is None and ranks[1] is None
    _, high, ranks, _ = order_statistic_interval(np.arange(368.0), 0.99, 0.95)
    assert ranks[1] == 368 and high == 367.0


def test_low_side_missing_for_tiny_samples():
    low, high, ranks, _ = order_statistic_interval([3.0, 1.0, 2.0], 0.5, 0.95)
    # P(B <= 0) = 1/8 > 0.025: no order statistic bounds the median from below.
    assert low is None and ranks[0] is None


@pytest.mark.parametrize("q,n", [(0.5, 41), (0.95, 120), (0.9, 60)])
def test_simulated_coverage_matches_the_reported_coverage(q, n):
    rng = np.random.default_rng(1)
    _, _, (lo, hi), coverage = order_statistic_interval(np.arange(n, dtype=float), q, 0.95)
    sims = np.sort(rng.uniform(size=(6000, n)), axis=1)  # uniform: the true q-quantile is q
    lo_v = sims[:, lo - 1] if lo else np.full(6000, -np.inf)
    hi_v = sims[:, hi - 1] if hi else np.full(6000, np.inf)
    hit = np.mean((lo_v <= q) & (q <= hi_v))
    assert hit == pytest.approx(coverage, abs=0.015)
    assert coverage >= 0.95


def test_min_repeats():
    assert [min_repeats_for(q) for q in (0.5, 0.95, 0.99, 0.999)] == [2, 20, 100, 1000]
