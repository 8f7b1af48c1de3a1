"""Histogram summaries whose bootstrap costs O(B x bins), not O(B x rows).

Two statistics that are not functions of a few counts are bootstrapped here by
resampling cells of a fine histogram instead of rows:

- ROC AUC from per-class score histograms (:func:`class_score_counts`,
  :func:`auc_from_counts`): the Mann-Whitney statistic with ties counted half.
  When the scores take at most ``max_bins`` distinct values each value gets its
  own bin and the binned AUC *is* the exact AUC; otherwise rows in one bin are
  treated as tied (an error of at most half the share of same-bin
  positive/negative pairs, ~1/max_bins).
- Means of per-row quantities (losses, errors, y and y^2) from cell moments
  (:func:`binned_moments`, :func:`bootstrap_binned_means`): a replicate draws
  the cell counts from a multinomial and adds, per cell, a normal term with the
  cell's within-cell covariance times the drawn count. That reproduces the
  first two moments of a row bootstrap exactly; only the within-cell shape
  beyond the covariance is approximated (by a normal), which matters little
  because the total sums over many cells. With at most ``max_cells`` rows each
  row is its own cell and the result is a plain row bootstrap.

Bins are rank (quantile) bins built from one sort; tied values always share a bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.stats._order import matmul

__all__ = [
    "rank_bins",
    "cell_codes",
    "class_score_counts",
    "auc_from_counts",
    "BinnedMoments",
    "binned_moments",
    "bootstrap_binned_means",
]


def rank_bins(x, max_bins: int) -> tuple[np.ndarray, int, bool]:
    """Assign each value to one of at most ``max_bins`` roughly equal-count bins.

    Bins are consecutive runs of sorted distinct values, so equal values share
    a bin and bin order is value order. With at most ``max_bins`` distinct
    values each distinct value is its own bin (exact).

    Returns
    -------
    codes : ndarray of int64, shape (n,)
        Bin of each value, 0 .. n_bins-1 in increasing value order.
    n_bins : int
    exact : bool
        True when every distinct value has its own bin.
    """
    x = np.asarray(x)
    uniq, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    if len(uniq) <= max_bins:
        return inv.astype(np.int64), len(uniq), True
    before = np.cumsum(cnt) - cnt  # rows below each distinct value
    ub = (before * max_bins) // max(int(cnt.sum()), 1)
    _, dense = np.unique(ub, return_inverse=True)  # drop bins skipped by heavy ties
    return dense[inv].astype(np.int64), int(dense.max()) + 1, False


def cell_codes(keys, max_cells: int) -> tuple[np.ndarray, int]:
    """Cell of each row for one or more key arrays (a grid of rank bins).

    With at most ``max_cells`` rows every row is its own cell (an exact row
    bootstrap). Otherwise each key gets ``max_cells ** (1/len(keys))`` rank
    bins and only occupied grid cells are kept.

    Returns
    -------
    codes : ndarray of int64, shape (n,)
    n_cells : int
    """
    keys = [np.asarray(k) for k in keys]
    n = len(keys[0])
    if n <= max_cells:
        return np.arange(n, dtype=np.int64), n
    per_key = max(2, int(max_cells ** (1.0 / len(keys))))
    code = np.zeros(n, dtype=np.int64)
    for k in keys:
        c, nb, _ = rank_bins(k, per_key)
        code = code * nb + c
    _, dense = np.unique(code, return_inverse=True)
    return dense.reshape(-1).astype(np.int64), int(dense.max()) + 1


def class_score_counts(score, positive, max_bins: int = 1024) -> tuple[np.ndarray, bool]:
    """Per-class histograms of scores on shared rank bins.

    Parameters
    ----------
    score : array of float, shape (n,)
    positive : array of bool, shape (n,)
    max_bins : int

    Returns
    -------
    counts : ndarray of int64, shape (2, n_bins)
        Row 0 negatives, row 1 positives; bins in increasing score order.
    exact : bool
        True when each distinct score has its own bin (binned AUC == exact AUC).
    """
    codes, nb, exact = rank_bins(score, max_bins)
    pos = np.asarray(positive, dtype=bool)
    counts = np.bincount(codes + nb * pos, minlength=2 * nb).reshape(2, nb).astype(np.int64)
    return counts, exact


def auc_from_counts(counts) -> np.ndarray:
    """Mann-Whitney AUC from per-class bin counts, ties (same bin) counted half.

    Parameters
    ----------
    counts : array, shape (..., 2, n_bins)
        Negatives then positives per bin, bins in increasing score order;
        leading axes (e.g. bootstrap replicates) are kept.

    Returns
    -------
    ndarray of shape (...): NaN where a class is absent.
    """
    c = np.asarray(counts, dtype=np.float64)
    neg, pos = c[..., 0, :], c[..., 1, :]
    below = np.cumsum(neg, axis=-1) - neg  # negatives strictly below each bin
    num = (pos * (below + 0.5 * neg)).sum(axis=-1)
    den = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class BinnedMoments:
    """Per-cell count, mean vector and covariance square root of per-row statistics.

    Attributes
    ----------
    counts : ndarray of int64, shape (K,)
    means : ndarray, shape (K, d)
    roots : ndarray, shape (K, d, d)
        ``R`` with ``R @ R.T`` = within-cell (population) covariance.
    """

    counts: np.ndarray
    means: np.ndarray
    roots: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> np.ndarray:
        """The exact column means over all rows."""
        return (self.counts[:, None] * self.means).sum(axis=0) / max(self.n, 1)


def binned_moments(stats, codes, n_cells: int) -> BinnedMoments:
    """Summarise per-row statistics ``stats`` (n, d) per cell (``codes`` from :func:`cell_codes`)."""
    s = np.asarray(stats, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    d = s.shape[1]
    cnt = np.bincount(codes, minlength=n_cells).astype(np.int64)
    safe = np.maximum(cnt, 1)[:, None]
    means = np.stack([np.bincount(codes, s[:, j], minlength=n_cells) for j in range(d)], axis=1) / safe
    dev = s - means[codes]  # centred per cell: no cancellation in the covariance
    cov = np.empty((n_cells, d, d))
    for i in range(d):
        for j in range(i, d):
            cov[:, i, j] = cov[:, j, i] = np.bincount(codes, dev[:, i] * dev[:, j], minlength=n_cells)
    cov /= safe[:, :, None]
    w, v = np.linalg.eigh(cov)
    roots = v * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    return BinnedMoments(cnt, means, roots)


def bootstrap_binned_means(bm: BinnedMoments, n_boot: int, rng: np.random.Generator,
                           chunk: int = 256) -> np.ndarray:
    """Bootstrap replicates of the column means, shape (n_boot, d).

    Cost O(n_boot x cells x d^2), independent of the number of rows.
    """
    from audit.stats._bootstrap import bootstrap_counts

    n = bm.n
    d = bm.means.shape[1]
    draws = bootstrap_counts(bm.counts, n_boot, rng).astype(np.float64)  # (B, K)
    sums = matmul(draws, bm.means)  # (B, d)
    noisy = np.abs(bm.roots).sum(axis=(1, 2)) > 0  # cells with within-cell spread
    if noisy.any():
        roots = bm.roots[noisy]
        for s in range(0, n_boot, chunk):
            z = rng.standard_normal((min(chunk, n_boot - s), int(noisy.sum()), d))
            z *= np.sqrt(draws[s:s + chunk, noisy])[:, :, None]
            sums[s:s + chunk] += np.einsum("bkd,ked->be", z, roots)
    return sums / max(n, 1)
