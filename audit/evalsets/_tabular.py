"""Shared pieces of the tabular evaluation-set builders (perturbed, shifted, ood).

Which columns a builder may touch, whole-table quantities read from
``env.stats``, row-keyed random draws, and the one place where a derived table
is projected back through the feature constraints and wrapped into an
:class:`EvaluationSet`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.constraints import FeatureConstraint, enforce_column
from audit.evalsets._base import EvaluationSet
from audit.stats._random import row_uniform

__all__ = [
    "feature_kinds",
    "mutable",
    "numeric_columns",
    "categorical_columns",
    "vocabulary",
    "finish",
    "subset",
    "check_columns",
    "observed_range",
    "relax_observed_ranges",
    "fresh",
    "uniforms",
]


def feature_kinds(env, X: pd.DataFrame) -> dict[str, str]:
    """Column -> ``numeric | integer | categorical`` for the columns of ``X``."""
    ft = env.feature_types
    out = {}
    for c in X.columns:
        k = ft.get(c)
        if k is None:
            k = "numeric" if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(
                X[c].dtype) else "categorical"
        out[c] = k
    return out


def mutable(env, cols: list[str]) -> list[str]:
    """The columns of ``cols`` that the constraints allow to change."""
    cons = env.constraints or {}
    return [c for c in cols if not cons.get(c, FeatureConstraint()).immutable]


def numeric_columns(env, X: pd.DataFrame, only_mutable: bool = True) -> list[str]:
    """Numeric and integer columns of ``X`` (mutable ones by default)."""
    cols = [c for c, k in feature_kinds(env, X).items() if k in ("numeric", "integer")]
    return mutable(env, cols) if only_mutable else cols


def categorical_columns(env, X: pd.DataFrame, only_mutable: bool = True) -> list[str]:
    """Categorical columns of ``X`` (mutable ones by default)."""
    cols = [c for c, k in feature_kinds(env, X).items() if k == "categorical"]
    return mutable(env, cols) if only_mutable else cols


def check_columns(X: pd.DataFrame, cols: list[str], what: str) -> None:
    """Raise a clear ValueError when a named column is not a model input."""
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise ValueError(f"{what}: unknown feature(s) {missing}; the model's features are {list(X.columns)}")


def vocabulary(env, X: pd.DataFrame, col: str) -> list[Any]:
    """Allowed categories of ``col``: the constraint's vocabulary, else the whole table's."""
    c = (env.constraints or {}).get(col)
    if c is not None and c.categories is not None:
        return list(c.categories)
    if col in env.stats.vocab:
        return list(env.stats.vocab[col])
    return sorted(pd.unique(X[col].dropna()).tolist(), key=str)


def observed_range(env, col: str) -> tuple[float, float]:
    """Observed min and max of ``col`` over the whole table and the reference data."""
    return env.stats.ranges.get(col, (float("nan"), float("nan")))


def relax_observed_ranges(env, X: pd.DataFrame) -> dict[str, FeatureConstraint]:
    """Constraints for out-of-distribution sets: observed-range bounds dropped, declared ones kept.

    The runner completes the policy's constraints with the observed ranges
    (:func:`audit.constraints.resolve_constraints`), but an OOD set must leave
    the observed range. A bound the policy declared is a real limit and holds;
    one filled in from the data is dropped. Immutability, integers and
    categories are kept. A column whose values are all non-negative keeps 0 as
    its lower bound, so amounts and counts never turn negative.
    """
    out = {}
    declared = env.declared_constraints or {}
    for col, c in (env.constraints or {}).items():
        if col not in X.columns or c.categories is not None or c.immutable:
            out[col] = c
            continue
        lo, _ = observed_range(env, col)
        d = declared.get(col)
        upd: dict[str, Any] = {}
        if c.min is not None and not (d is not None and d.min is not None):
            upd["min"] = 0.0 if lo >= 0 else None
        if c.max is not None and not (d is not None and d.max is not None):
            upd["max"] = None
        out[col] = c.model_copy(update=upd)
    for col in X.columns:
        if col not in out and feature_kinds(env, X[[col]])[col] != "categorical":
            lo, _ = observed_range(env, col)
            if lo >= 0:
                out[col] = FeatureConstraint(min=0.0)
    return out


def subset(base: EvaluationSet, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray | None, pd.DataFrame, np.ndarray]:
    """Rows ``rows`` (positions) of the base set: X, y, sensitive and their source (global) rows."""
    rows = np.asarray(rows, dtype=np.int64)
    X = base.X.iloc[rows].reset_index(drop=True)
    y = None if base.y is None else np.asarray(base.y)[rows]
    sens = base.sensitive.iloc[rows].reset_index(drop=True)
    src = np.asarray(base.source_index, dtype=np.int64)[rows]
    return X, y, sens, src


def fresh(base: EvaluationSet) -> pd.DataFrame:
    """A frame of the base's columns to replace columns in.

    Builders assign whole columns and never write into an array in place, so the
    base's arrays are shared, not copied.
    """
    return base.X.copy(deep=False)


def uniforms(seed: int, stream: str, base: EvaluationSet, draws: int = 1) -> np.ndarray:
    """Uniform draws keyed on each row's global index: the same whatever the partitioning."""
    return row_uniform(seed, stream, base.source_index, draws)


def _values(v) -> np.ndarray:
    # What a column assigned ``v`` gives back from to_numpy() (a categorical Series: objects).
    return v.to_numpy() if isinstance(v, pd.Series) else np.asarray(v)


def finish(env, base: EvaluationSet, kind: str, X: pd.DataFrame, *, touched: list[str] | None,
           description: str, report: dict[str, Any], rows: np.ndarray | None = None, y: Any = "keep",
           constraints: dict[str, FeatureConstraint] | None = None, meta: dict[str, Any] | None = None,
           original: pd.DataFrame | None = None) -> EvaluationSet:
    """Project the columns a builder touched through the constraints and wrap the rows as a set.

    Parameters
    ----------
    X : DataFrame
        The derived rows (row-aligned with ``base`` rows ``rows``).
    touched : list of str or None
        Columns the builder may have changed (None: all); the others are left as they are.
    rows : ndarray of int, optional
        Positions in ``base`` of each row (default: every base row, in order).
    y : "keep", None or ndarray
        ``"keep"`` takes the base labels of ``rows``.
    constraints : dict, optional
        Constraints to enforce (default: ``env.constraints``).
    original : DataFrame, optional
        The rows before the change (default: the base rows ``rows``).
    """
    if rows is None:
        y_base, sens, src = base.y, base.sensitive, np.asarray(base.source_index, dtype=np.int64)
        orig = base.X if original is None else original
    else:
        orig_rows, y_base, sens, src = subset(base, rows)
        orig = orig_rows if original is None else original
    cons = env.constraints if constraints is None else constraints
    cols = list(X.columns) if touched is None else [c for c in touched if c in X.columns]
    if cols and cons:
        # Column by column (enforce_constraints' projection of each), into X itself: the frames
        # of the touched columns enforce_constraints takes and returns were three copies of them.
        # A touched column without a constraint is only brought back to a NumPy array, as before.
        for c in cols:
            X[c] = _values(enforce_column(X[c], orig[c], cons[c]) if cons.get(c) is not None else X[c])
    return EvaluationSet(
        name="", kind=kind, X=X, y=y_base if isinstance(y, str) and y == "keep" else y,
        sensitive=sens, source_index=src, description=description,
        meta={"report": report, **(meta or {})},
    )
