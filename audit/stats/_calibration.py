"""Calibration cells: (probability bin, sub-bin, hit), shared by the ECE and its per-group version.

A bin ``b`` of ``n_bins`` equal-width bins ``[b/K, (b+1)/K)`` (the last closed) is cut
into ``n_sub`` sub-bins; bootstrap replicates replace each score by its cell's mean,
an error below ``1 / (n_bins * n_sub)`` per row. The bin is computed first, as
``floor(conf * K)``, so a row's bin never depends on the sub-bin resolution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ECE_SUB_BINS", "calibration_cells"]

ECE_SUB_BINS = 64


def calibration_cells(conf: np.ndarray, hit: np.ndarray, n_bins: int, n_sub: int) -> np.ndarray:
    """Cell ``(b * n_sub + sub) * 2 + hit`` of every row (``conf`` clipped to [0, 1])."""
    c = np.clip(np.nan_to_num(np.asarray(conf, dtype=np.float64), nan=0.0), 0.0, 1.0)
    b = np.minimum((c * n_bins).astype(np.int64), n_bins - 1)
    sub = np.clip(((c * n_bins - b) * n_sub).astype(np.int64), 0, n_sub - 1)
    return (b * n_sub + sub) * 2 + np.asarray(hit, dtype=np.int64)
