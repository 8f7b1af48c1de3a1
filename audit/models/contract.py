"""What a model's answers must look like before the audit computes anything from them.

A model that returns probabilities outside [0, 1], rows that do not sum to 1, NaN or
infinite values, the wrong number of rows or columns, or labels that are not classes
would otherwise pass checks it should fail (a probability of 7 is "confident"), or fail
deep inside a metric with a message about the metric. Each function here returns the
output as a numpy array, or raises :class:`~audit.errors.ModelOutputError` naming the
model, the method, and what it returned.
"""

from __future__ import annotations

import numpy as np

from audit.errors import ModelOutputError

__all__ = ["checked_proba", "checked_labels", "checked_values", "PROBA_TOLERANCE"]

PROBA_TOLERANCE = 1e-3
"""How far a probability may lie outside [0, 1], and a row's sum from 1 (float32 models, rounding)."""


def _array(model: str, method: str, out, n: int) -> np.ndarray:
    if out is None:
        raise ModelOutputError(model, f"{method}() returned None for {n:,} rows; expected an array")
    try:
        arr = np.asarray(out)
    except Exception as exc:  # noqa: BLE001 - anything that is not array-like
        raise ModelOutputError(model, f"{method}() returned {type(out).__name__}, which is not an array: "
                                      f"{exc}") from None
    if arr.ndim == 0 or len(arr) != n:
        got = "a scalar" if arr.ndim == 0 else f"{len(arr):,} rows"
        raise ModelOutputError(model, f"{method}() returned {got} (shape {arr.shape}) for {n:,} input rows; "
                                      "expected one row per input row")
    return arr


def _numeric(model: str, method: str, arr: np.ndarray, what: str) -> np.ndarray:
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError):
        sample = [v for v in arr.ravel()[:3].tolist()]
        raise ModelOutputError(model, f"{method}() returned non-numeric {what} (e.g. {sample!r})") from None
    bad = ~np.isfinite(num)
    if bad.any():
        rows = bad.reshape(len(num), -1).any(axis=1)
        kinds = sorted({"NaN" if np.isnan(v) else "infinity" for v in num[bad].ravel()[:1000]})
        raise ModelOutputError(model, f"{method}() returned {' and '.join(kinds)} in {int(rows.sum()):,} of "
                                      f"{len(num):,} rows (first at row {int(np.flatnonzero(rows)[0])})")
    return num


def checked_proba(model: str, out, n: int, classes) -> np.ndarray:
    """Class probabilities: shape (n, k) with k the number of ``classes`` (or (n,) for a binary
    model's positive class), every value in [0, 1], every row summing to 1.

    Parameters
    ----------
    model : str
        How messages name the model.
    out : array-like
        What ``predict_proba`` returned.
    n : int
        Rows given to the model.
    classes : array-like or None
        The model's classes (``classes_``), when it says.
    """
    method = "predict_proba"
    arr = _array(model, method, out, n)
    if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] == 0):
        raise ModelOutputError(model, f"{method}() returned an array of shape {arr.shape}; expected (rows, classes)")
    p = _numeric(model, method, arr, "probabilities")
    k = None if classes is None else len(classes)
    if p.ndim == 2 and k is not None and p.shape[1] != k:
        raise ModelOutputError(model, f"{method}() returned {p.shape[1]} column(s) for {k} classes "
                                      f"{_show(classes)}; expected one probability per class")
    lo, hi = float(p.min(initial=0.0)), float(p.max(initial=0.0))
    if lo < -PROBA_TOLERANCE or hi > 1 + PROBA_TOLERANCE:
        outside = (p < -PROBA_TOLERANCE) | (p > 1 + PROBA_TOLERANCE)
        rows = outside.reshape(len(p), -1).any(axis=1)
        raise ModelOutputError(model, f"{method}() returned values outside [0, 1] (from {lo:.6g} to {hi:.6g}) in "
                                      f"{int(rows.sum()):,} of {len(p):,} rows; expected probabilities "
                                      "(scores or logits are not probabilities)")
    if p.ndim == 2 and p.shape[1] > 1 and len(p):
        sums = p.sum(axis=1)
        off = np.abs(sums - 1.0) > PROBA_TOLERANCE
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise ModelOutputError(model, f"{method}() returned rows that do not sum to 1 ({int(off.sum()):,} of "
                                          f"{len(p):,} rows; row {i} sums to {sums[i]:.6g}); expected one "
                                          "probability per class, summing to 1")
    return p


def checked_labels(model: str, out, n: int, classes) -> np.ndarray:
    """Predicted class labels: one per row, each among ``classes`` (when given)."""
    method = "predict"
    arr = _array(model, method, out, n)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ModelOutputError(model, f"{method}() returned an array of shape {arr.shape}; expected one "
                                      "label per row")
    if arr.dtype.kind == "f":
        _numeric(model, method, arr, "labels")
    if classes is not None and len(arr):
        known = np.asarray(classes)
        try:
            stray = ~np.isin(arr, known)
        except TypeError:  # mixed types numpy cannot compare: compare as text
            stray = ~np.isin(arr.astype(str), known.astype(str))
        if stray.any():
            bad = list(dict.fromkeys(arr[stray].tolist()))[:5]
            raise ModelOutputError(model, f"{method}() returned label(s) {bad!r} in {int(stray.sum()):,} of "
                                          f"{len(arr):,} rows, not among the classes {_show(known)}")
    return arr


def checked_values(model: str, out, n: int) -> np.ndarray:
    """Regression predictions: one finite number per row."""
    method = "predict"
    arr = _array(model, method, out, n)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ModelOutputError(model, f"{method}() returned an array of shape {arr.shape}; expected one value per row")
    return _numeric(model, method, arr, "predictions")


def _show(classes) -> str:
    items = np.asarray(classes).tolist()
    return repr(items[:10])[:-1] + ", ...]" if len(items) > 10 else repr(items)
