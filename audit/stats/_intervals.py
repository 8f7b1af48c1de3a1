"""Confidence intervals from bootstrap replicates and closed forms."""

from __future__ import annotations

import numpy as np

__all__ = ["percentile_interval", "wilson_interval"]


def percentile_interval(replicates: np.ndarray, level: float = 0.95, axis: int = 0):
    """Percentile bootstrap interval, ignoring undefined (NaN) replicates.

    Returns ``(low, high)`` arrays (or floats) along ``axis``; NaN where every
    replicate is undefined.
    """
    a = (1.0 - level) / 2.0
    r = np.asarray(replicates, dtype=float)
    with np.errstate(all="ignore"), _quiet():
        lo = np.nanquantile(r, a, axis=axis)
        hi = np.nanquantile(r, 1.0 - a, axis=axis)
    return lo, hi


def wilson_interval(k, n, level: float = 0.95):
    """Wilson score interval for a binomial proportion ``k / n`` (vectorised)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    from scipy.special import (
        ndtri,  # lighter than scipy.stats: the command line imports this module
    )

    z = ndtri(0.5 + level / 2.0)
    with np.errstate(all="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


class _quiet:
    # nanquantile warns "All-NaN slice"; an all-undefined statistic is reported as None instead.
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)
