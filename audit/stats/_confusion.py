"""A k x k confusion matrix from label arrays, with one bincount.

Counts are mergeable (chunks add up) and every confusion-based metric is a
function of them, so its bootstrap resamples the k*k cells, not the rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix_counts"]


def confusion_matrix_counts(y_true, y_pred, classes) -> np.ndarray:
    """Counts ``C[i, j]`` of rows with true class ``classes[i]`` predicted as ``classes[j]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    classes : array-like of shape (k,)
        Sorted class labels; every value of ``y_true`` and ``y_pred`` must be one of them.

    Returns
    -------
    ndarray of int64, shape (k, k)

    Raises
    ------
    ValueError
        When a label is not in ``classes``.
    """
    classes = np.asarray(classes)
    k = len(classes)
    codes = []
    for a in (np.asarray(y_true), np.asarray(y_pred)):
        c = np.clip(np.searchsorted(classes, a), 0, k - 1)
        if a.size and not np.array_equal(classes[c], a):
            bad = np.unique(a[classes[c] != a])[:5]
            raise ValueError(f"labels {bad.tolist()} are not among the classes {classes.tolist()}")
        codes.append(c.astype(np.int64))
    return np.bincount(codes[0] * k + codes[1], minlength=k * k).reshape(k, k).astype(np.int64)
