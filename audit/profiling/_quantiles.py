"""Distribution-free confidence intervals for quantiles of timings.

The number of timings at or below the true q-quantile is Binomial(n, q)
whatever the timing distribution, so two order statistics bracket the
quantile with an exactly computable coverage (no bootstrap, no normality).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["order_statistic_interval", "min_repeats_for"]


def min_repeats_for(q: float) -> int:
    """Fewest timed calls for which the ``q``-quantile is estimable at all.

    With fewer than ``1 / (1 - q)`` calls, no observation is expected above the
    quantile (p99 needs 100, p95 needs 20, p50 needs 2).
    """
    return math.ceil(1.0 / (1.0 - q) - 1e-9)


def order_statistic_interval(values: np.ndarray, q: float, level: float = 0.95):
    """Order-statistic confidence interval for the ``q``-quantile of ``values``.

    Parameters
    ----------
    values : array_like
        Independent draws (e.g. timings), any order.
    q : float
        Quantile in (0, 1), e.g. 0.95.
    level : float
        Two-sided confidence level.

    Returns
    -------
    low, high : float or None
        ``X_(l)`` and ``X_(u)`` (1-based ranks in sorted order); ``None`` where
        the sample is too small to bound that side (e.g. the upper side of p99
        with fewer than ~370 draws at 95 %).
    ranks : tuple of (int or None, int or None)
        ``(l, u)``.
    coverage : float
        Exact coverage ``P(l <= B <= u - 1)`` with ``B ~ Binomial(n, q)``, using
        0 / n + 1 for a missing side.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    a = (1.0 - level) / 2.0
    from scipy import stats  # imported where used: scipy.stats costs ~0.8 s

    cdf = stats.binom.cdf(np.arange(n + 1), n, q)  # cdf[j] = P(B <= j)
    # P(X_(l) <= xi_q) = 1 - cdf[l-1] >= 1 - a: the largest such l.
    below = np.flatnonzero(cdf <= a)
    lo_rank = int(below[-1]) + 1 if below.size else None
    # P(X_(u) >= xi_q) = cdf[u-1] >= 1 - a: the smallest such u; u = n + 1 is off the sample.
    up_j = int(np.argmax(cdf >= 1.0 - a))
    hi_rank = up_j + 1 if up_j + 1 <= n else None
    low_cdf = cdf[lo_rank - 1] if lo_rank is not None else 0.0
    high_cdf = cdf[hi_rank - 1] if hi_rank is not None else 1.0
    low = float(x[lo_rank - 1]) if lo_rank is not None else None
    high = float(x[hi_rank - 1]) if hi_rank is not None else None
    return low, high, (lo_rank, hi_rank), float(high_cdf - low_cdf)
