"""Disparities between groups: differences and ratios against the best, worst or a reference group.

All functions are vectorised over leading (bootstrap) axes: values have shape
``(..., n_groups)``. Groups not included (excluded small groups) and undefined
values (NaN) take no part. A disparity needs at least two defined groups.

- difference, best or worst: ``max - min`` (the largest gap between any two groups);
  reference: ``max |v_g - v_ref|``.
- ratio, best or worst: ``min / max``; reference: ``min_g min(v_g, v_ref) / max(v_g, v_ref)``
  (symmetric, so a group far above the reference counts as much as one far below,
  and 1 means parity).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["disparity", "group_gaps", "comparison_index", "combine"]


def _quiet(fn, *a, **k):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*a, **k)


def disparity(values: np.ndarray, kind: str, include: np.ndarray, ref: int | None = None) -> np.ndarray:
    """Disparity over the included groups, per leading index.

    Parameters
    ----------
    values : ndarray (..., G)
    kind : {"difference", "ratio"}
    include : bool ndarray (G,)
    ref : int, optional
        Index of the reference group (``compare_to: reference``); None compares
        the extreme groups.
    """
    v = np.where(include, np.asarray(values, dtype=float), np.nan)
    defined = np.sum(~np.isnan(v), axis=-1)
    if ref is None:
        hi = _quiet(np.nanmax, v, axis=-1)
        lo = _quiet(np.nanmin, v, axis=-1)
        out = hi - lo if kind == "difference" else _quiet(np.divide, lo, hi)
    else:
        r = v[..., ref : ref + 1]
        if kind == "difference":
            out = _quiet(np.nanmax, np.abs(v - r), axis=-1)
        else:
            out = _quiet(np.nanmin, _quiet(np.divide, np.fmin(v, r), np.fmax(v, r)), axis=-1)
        defined = np.where(np.isnan(r[..., 0]), 0, defined)
    return np.where(defined >= 2, out, np.nan)


def combine(parts: list[np.ndarray], kind: str) -> np.ndarray:
    """Worst of several disparities: the largest difference or the smallest ratio (NaN-aware)."""
    out = parts[0]
    for p in parts[1:]:
        out = np.fmax(out, p) if kind == "difference" else np.fmin(out, p)
    return out


def comparison_index(values: np.ndarray, include: np.ndarray, compare_to: str,
                     higher_is_better: bool, ref: int | None) -> int | None:
    """Index of the group the others are compared with (None if no defined group)."""
    if compare_to == "reference":
        return ref
    v = np.where(include, values, np.nan)
    if np.all(np.isnan(v)):
        return None
    best = np.nanargmax(v) if higher_is_better else np.nanargmin(v)
    worst = np.nanargmin(v) if higher_is_better else np.nanargmax(v)
    return int(best if compare_to == "best" else worst)


def group_gaps(values: np.ndarray, kind: str, cmp: int | None) -> np.ndarray:
    """Each group's difference (absolute) or ratio (smaller/larger) to the comparison group."""
    v = np.asarray(values, dtype=float)
    if cmp is None:
        return np.full_like(v, np.nan)
    r = v[cmp]
    if kind == "difference":
        return np.abs(v - r)
    return _quiet(np.divide, np.fmin(v, r), np.fmax(v, r))
