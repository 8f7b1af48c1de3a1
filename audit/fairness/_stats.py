"""Sufficient statistics per fine cell and their bootstrap replicates.

Classification: confusion counts, bootstrapped by multinomial draws of the
counts within each cell (:func:`audit.stats.bootstrap_counts`): the cost does
not depend on the number of rows. fairlearn resamples rows instead; this is
the piece it lacks.

Calibration: counts and score sums per (cell, score sub-bin, label). A
replicate redraws the counts; each sub-bin's score sum is its redrawn count
times the observed mean score of that sub-bin, an approximation whose error is
bounded by the sub-bin width (1 / (n_bins * n_sub)). The point estimate is exact.

Regression: sums per cell, bootstrapped by resampling rows within each cell
(O(rows x replicates), chunked).
"""

from __future__ import annotations

import numpy as np

from audit.stats import bootstrap_counts, bootstrap_row_weights, confusion_counts

__all__ = ["classification_stats", "calibration_stats", "regression_stats"]


def classification_stats(y, yhat, pos_label, codes, n_fine, n_boot, rng):
    """Confusion counts per fine cell ``(G, 4)`` and replicates ``(B, G, 4)``."""
    c = confusion_counts(y, yhat, pos_label, codes=codes, n_groups=n_fine)
    return c.astype(float), bootstrap_counts(c, n_boot, rng).astype(float)


def _score_bins(score, n_bins, n_sub):
    m = n_bins * n_sub
    s = np.clip(np.asarray(score, dtype=float), 0.0, 1.0)
    # Equal-width bins; a score of exactly 1 goes into the last bin.
    return np.minimum((s * m).astype(np.int64), m - 1)


def calibration_stats(y, score, pos_label, codes, n_fine, n_bins, n_sub, n_boot, rng):
    """Per fine cell ``[count x m, positives x m, score sum x m]``, point and replicates."""
    m = n_bins * n_sub
    t = (np.asarray(y) == pos_label).astype(np.int64)
    b = _score_bins(score, n_bins, n_sub)
    cell = (np.asarray(codes, dtype=np.int64) * m + b) * 2 + t
    size = n_fine * m * 2
    cnt = np.bincount(cell, minlength=size).reshape(n_fine, m, 2).astype(float)
    ssum = np.bincount(cell, weights=np.asarray(score, dtype=float), minlength=size).reshape(n_fine, m, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, ssum / np.where(cnt > 0, cnt, 1), 0.0)

    def pack(c, s):
        return np.concatenate([c.sum(-1), c[..., 1], s.sum(-1)], axis=-1)

    point = pack(cnt, ssum)
    rep = bootstrap_counts(cnt.reshape(n_fine, 2 * m), n_boot, rng).reshape(n_boot, n_fine, m, 2)
    rep = rep.astype(float)
    return point, pack(rep, rep * mean)


def regression_stats(y, pred, codes, n_fine, n_boot, rng, block: int = 4_000_000):
    """Per fine cell ``[n, sum|e|, sum e^2, sum pred]``, point ``(G, 4)`` and replicates ``(B, G, 4)``."""
    yv = np.asarray(y, dtype=float)
    pv = np.asarray(pred, dtype=float)
    e = pv - yv
    rows = np.column_stack([np.ones_like(e), np.abs(e), e * e, pv])
    codes = np.asarray(codes, dtype=np.int64)
    point = np.stack([np.bincount(codes, weights=rows[:, k], minlength=n_fine) for k in range(4)], axis=1)
    rep = np.zeros((n_boot, n_fine, 4))
    for g in range(n_fine):
        idx = np.flatnonzero(codes == g)
        if idx.size == 0:
            continue
        r = rows[idx]
        done = 0
        chunk = max(1, block // idx.size)
        for w in bootstrap_row_weights(idx.size, n_boot, rng, chunk=chunk):
            rep[done:done + len(w), g, :] = w @ r
            done += len(w)
    return point, rep
