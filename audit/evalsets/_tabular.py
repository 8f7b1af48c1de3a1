"""Shared pieces of the tabular evaluation-set builders (perturbed, shifted, ood).

Which columns a builder may touch, each numeric column's spread, and the one
place where a derived table is projected back through the feature constraints
and wrapped into an :class:`EvaluationSet`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.constraints import FeatureConstraint, enforce_constraints
from audit.evalsets._base import EvaluationSet

if TYPE_CHECKING:
    from audit.context import AuditContext

__all__ = [
    "feature_kinds",
    "mutable",
    "numeric_columns",
    "categorical_columns",
    "spread",
    "vocabulary",
    "finish",
    "subset",
    "check_columns",
    "observed_range",
    "relax_observed_ranges",
]


def feature_kinds(ctx: AuditContext, X: pd.DataFrame) -> dict[str, str]:
    """Column -> ``numeric | integer | categorical`` for the columns of ``X``."""
    ft = ctx.dataset.feature_types
    out = {}
    for c in X.columns:
        k = ft.get(c)
        if k is None:
            k = "numeric" if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(
                X[c].dtype) else "categorical"
        out[c] = k
    return out


def mutable(ctx: AuditContext, cols: list[str]) -> list[str]:
    """The columns of ``cols`` that the constraints allow to change."""
    cons = ctx.constraints or {}
    return [c for c in cols if not cons.get(c, FeatureConstraint()).immutable]


def numeric_columns(ctx: AuditContext, X: pd.DataFrame, only_mutable: bool = True) -> list[str]:
    """Numeric and integer columns of ``X`` (mutable ones by default)."""
    cols = [c for c, k in feature_kinds(ctx, X).items() if k in ("numeric", "integer")]
    return mutable(ctx, cols) if only_mutable else cols


def categorical_columns(ctx: AuditContext, X: pd.DataFrame, only_mutable: bool = True) -> list[str]:
    """Categorical columns of ``X`` (mutable ones by default)."""
    cols = [c for c, k in feature_kinds(ctx, X).items() if k == "categorical"]
    return mutable(ctx, cols) if only_mutable else cols


def check_columns(X: pd.DataFrame, cols: list[str], what: str) -> None:
    """Raise a clear ValueError when a named column is not a model input."""
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise ValueError(f"{what}: unknown feature(s) {missing}; the model's features are {list(X.columns)}")


def spread(x: pd.Series) -> float:
    """Standard deviation of a numeric column (1.0 when it is constant or empty, so scales stay usable)."""
    s = float(np.nanstd(pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)))
    return s if np.isfinite(s) and s > 0 else 1.0


def vocabulary(ctx: AuditContext, X: pd.DataFrame, col: str) -> list[Any]:
    """Allowed categories of ``col``: the constraint's vocabulary, else the observed one."""
    c = (ctx.constraints or {}).get(col)
    if c is not None and c.categories is not None:
        return list(c.categories)
    return sorted(pd.unique(X[col].dropna()).tolist(), key=str)


def observed_range(ctx: AuditContext, X: pd.DataFrame, col: str) -> tuple[float, float]:
    """Observed min and max of ``col`` over the base and reference data (as the constraints infer them)."""
    vals = [pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)]
    ref = ctx.dataset.reference
    if ref is not None and col in ref.X.columns:
        vals.append(pd.to_numeric(ref.X[col], errors="coerce").to_numpy(dtype=float))
    v = np.concatenate(vals)
    return float(np.nanmin(v)), float(np.nanmax(v))


def relax_observed_ranges(ctx: AuditContext, X: pd.DataFrame) -> dict[str, FeatureConstraint]:
    """Constraints for out-of-distribution sets: observed-range bounds dropped, declared ones kept.

    The runner completes the policy's constraints with the observed ranges
    (:func:`audit.constraints.resolve_constraints`), but an OOD set must leave
    the observed range. A bound equal to the observed extreme carries nothing
    beyond the data, so it is dropped here; a declared bound wider than the data
    (a physical limit) is kept, as are immutability, integers and categories.
    A column whose values are all non-negative keeps 0 as its lower bound, so
    amounts and counts never turn negative.
    """
    out = {}
    declared = getattr(ctx, "declared_constraints", None)
    for col, c in (ctx.constraints or {}).items():
        if col not in X.columns or c.categories is not None or c.immutable:
            out[col] = c
            continue
        lo, hi = observed_range(ctx, X, col)
        upd: dict[str, Any] = {}
        d = (declared or {}).get(col)
        # A bound the policy declared is a real limit and holds; one the runner filled in from
        # the data is dropped. Without the declared set, a bound at the observed extreme is
        # taken to be a filled-in one.
        min_declared = d is not None and d.min is not None if declared is not None else c.min is not None and c.min < lo
        max_declared = d is not None and d.max is not None if declared is not None else c.max is not None and c.max > hi
        if c.min is not None and not min_declared:
            upd["min"] = 0.0 if lo >= 0 else None
        if c.max is not None and not max_declared:
            upd["max"] = None
        out[col] = c.model_copy(update=upd)
    for col in X.columns:
        if col not in out and feature_kinds(ctx, X[[col]])[col] != "categorical":
            lo, _ = observed_range(ctx, X, col)
            if lo >= 0:
                out[col] = FeatureConstraint(min=0.0)
    return out


def subset(base: EvaluationSet, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray | None, pd.DataFrame, np.ndarray]:
    """Rows ``rows`` (positions) of the base set: X, y, sensitive and their source positions."""
    rows = np.asarray(rows, dtype=np.int64)
    X = base.X.iloc[rows].reset_index(drop=True)
    y = None if base.y is None else np.asarray(base.y)[rows]
    sens = base.sensitive.iloc[rows].reset_index(drop=True)
    src = np.asarray(base.source_index, dtype=np.int64)[rows]
    return X, y, sens, src


def finish(
    ctx: AuditContext,
    base: EvaluationSet,
    kind: str,
    X_new: pd.DataFrame,
    X_orig: pd.DataFrame,
    *,
    rows: np.ndarray | None = None,
    description: str,
    report: dict[str, Any],
    y: Any = "keep",
    constraints: dict[str, FeatureConstraint] | None = None,
    meta: dict[str, Any] | None = None,
) -> EvaluationSet:
    """Enforce the constraints on ``X_new`` and wrap it as an evaluation set.

    Parameters
    ----------
    X_new, X_orig : DataFrame
        The derived rows and the rows they came from (row-aligned, same columns).
    rows : ndarray of int, optional
        Positions in ``base`` of each row (default: every base row, in order).
    y : "keep", None or ndarray
        ``"keep"`` takes the base labels of ``rows``.
    constraints : dict, optional
        Constraints to enforce (default: the audit's).
    """
    if rows is None:
        rows = np.arange(base.n_rows)
    _, y_base, sens, src = subset(base, rows)
    cons = ctx.constraints if constraints is None else constraints
    X_new = X_new.reset_index(drop=True)
    X_orig = X_orig.reset_index(drop=True)
    X_out = enforce_constraints(X_new, X_orig, cons or {})
    changed = _changed_share(X_out, X_orig)
    rep = {**report, "cells_changed": round(changed, 6)}
    m = {"report": rep, **(meta or {})}
    return EvaluationSet(
        name="", kind=kind, X=X_out, y=y_base if isinstance(y, str) and y == "keep" else y,
        sensitive=sens, source_index=src, description=description, meta=m,
    )


def _changed_share(a: pd.DataFrame, b: pd.DataFrame) -> float:
    # Share of feature cells that differ (NaN vs value counts as changed; NaN vs NaN does not).
    if a.size == 0:
        return 0.0
    diff = 0
    for c in a.columns:
        x, z = a[c].to_numpy(), b[c].to_numpy()
        na_x, na_z = pd.isna(x), pd.isna(z)
        with np.errstate(invalid="ignore"):
            neq = np.asarray(x != z, dtype=bool)
        diff += int(np.sum((neq & ~(na_x & na_z)) | (na_x != na_z)))
    return diff / a.size
