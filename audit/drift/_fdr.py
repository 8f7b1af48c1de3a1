"""False discovery rate control over many per-feature tests."""

from __future__ import annotations

import numpy as np

__all__ = ["bh_qvalues"]


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values).

    Rejecting every hypothesis with ``q <= alpha`` controls the false discovery
    rate at ``alpha`` for independent (or positively dependent) tests.

    Parameters
    ----------
    p : array-like, 1-D
        p-values in [0, 1]; an empty array gives an empty array.

    Returns
    -------
    numpy.ndarray
        ``scipy.stats.false_discovery_control(p, method="bh")``, in the order of ``p``.

    Raises
    ------
    ValueError
        ``p`` not 1-D, or a value outside [0, 1] (NaN included).
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be a 1-D array; found shape {p.shape}")
    if p.size == 0:
        return p.copy()
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        where = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"p-values must lie in [0, 1]; found {p[bad][:5].tolist()} at position(s) {where}")
    from scipy import stats  # imported when used: scipy.stats takes a second to import

    return stats.false_discovery_control(p, method="bh")
