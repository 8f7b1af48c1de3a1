"""Bootstrap that resamples counts, not rows.

For any statistic that is a function of cell counts (confusion counts, score
histograms, per-group counts), resampling n rows with replacement is the same
as drawing the cell counts from a multinomial with the observed cell shares.
Drawing B multinomials costs O(B x cells), independent of the number of rows.
fairlearn's MetricFrame bootstrap resamples rows (O(B x n)); this is the piece
it lacks for large holdouts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_counts", "bootstrap_row_weights"]


def bootstrap_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial bootstrap replicates of cell counts.

    Parameters
    ----------
    counts : ndarray of int, shape (k,) or (g, k)
        Cell counts; with two dimensions each row (a group) is resampled with its
        own total fixed (a stratified bootstrap: group sizes as observed).
    n_boot : int
        Number of replicates.
    rng : numpy Generator

    Returns
    -------
    ndarray of int64, shape (n_boot, k) or (n_boot, g, k)
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim == 1:
        n = int(c.sum())
        if n == 0:
            return np.zeros((n_boot, c.size), dtype=np.int64)
        return rng.multinomial(n, c / n, size=n_boot).astype(np.int64)
    out = np.zeros((n_boot,) + c.shape, dtype=np.int64)
    for g in range(c.shape[0]):
        n = int(c[g].sum())
        if n:
            out[:, g, :] = rng.multinomial(n, c[g] / n, size=n_boot)
    return out


def bootstrap_row_weights(n: int, n_boot: int, rng: np.random.Generator, chunk: int = 64):
    """Yield blocks of row-resampling weights, shape (b, n), b <= ``chunk``.

    Row ``i``'s weight is how often it is drawn in that replicate (a multinomial
    with equal shares). For statistics that are not functions of a few counts
    (regression metrics); costs O(B x n), so it is yielded in chunks.
    """
    done = 0
    p = np.full(n, 1.0 / n)
    while done < n_boot:
        b = min(chunk, n_boot - done)
        yield rng.multinomial(n, p, size=b).astype(np.float64)
        done += b
