"""Sufficient statistics: confusion counts per group, from label arrays, with bincount.

Counts are mergeable: counts of two chunks of rows add up to the counts of
both, which is what lets one machine and a cluster give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TN", "FP", "FN", "TP", "confusion_counts", "group_codes"]

# Column order of a binary confusion-count array.
TN, FP, FN, TP = 0, 1, 2, 3


def confusion_counts(y_true, y_pred, pos_label, codes=None, n_groups: int | None = None) -> np.ndarray:
    """Binary confusion counts ``[tn, fp, fn, tp]``, overall or per group.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    pos_label : scalar
        The positive class.
    codes : array of int of shape (n,), optional
        Group code of each row (0..n_groups-1). Without it, one row of counts.
    n_groups : int, optional
        Number of groups (defaults to ``codes.max() + 1``).

    Returns
    -------
    ndarray of int64, shape (4,) or (n_groups, 4)
    """
    t = np.asarray(y_true) == pos_label
    p = np.asarray(y_pred) == pos_label
    cell = 2 * t.astype(np.int64) + p.astype(np.int64)  # tn=0, fp=1, fn=2, tp=3
    if codes is None:
        return np.bincount(cell, minlength=4).astype(np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    g = int(codes.max()) + 1 if n_groups is None else int(n_groups)
    return np.bincount(codes * 4 + cell, minlength=4 * g).reshape(g, 4).astype(np.int64)


def group_codes(frame: pd.DataFrame, columns: list[str], missing: str = "group") -> tuple[np.ndarray, list[str]]:
    """Integer code per row for the combination of ``columns``, and a label per code.

    Parameters
    ----------
    frame : DataFrame
    columns : list of str
        One column gives its groups; several give their intersection
        (labels like ``sex=F & age_band=<25``).
    missing : {"group", "error"}
        Missing values form their own group ``<missing>``, or raise ValueError.

    Returns
    -------
    codes : ndarray of int64 of shape (n,)
    labels : list of str, sorted, one per code (only combinations present in the data)
    """
    parts = []
    for col in columns:
        s = frame[col]
        if s.isna().any():
            if missing == "error":
                raise ValueError(f"sensitive column {col!r} has {int(s.isna().sum())} missing value(s)")
            s = s.astype(object).where(s.notna(), "<missing>")
        parts.append(s.astype(str).to_numpy())
    if len(columns) == 1:
        keys = parts[0]
        uniq, codes = np.unique(keys, return_inverse=True)
        return codes.astype(np.int64), [f"{columns[0]}={u}" for u in uniq]
    # Combine per-column codes arithmetically instead of building strings per row.
    codes = np.zeros(len(frame), dtype=np.int64)
    uniques = []
    for p in parts:
        u, c = np.unique(p, return_inverse=True)
        uniques.append(u)
        codes = codes * len(u) + c
    present, dense = np.unique(codes, return_inverse=True)
    labels = []
    for code in present:
        vals = []
        for u in reversed(uniques):
            vals.append(u[code % len(u)])
            code //= len(u)
        vals.reverse()
        labels.append(" & ".join(f"{c}={v}" for c, v in zip(columns, vals, strict=True)))
    return dense.astype(np.int64), labels
