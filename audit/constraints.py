"""Feature constraints: what a perturbation or an attack may change, and how.

The policy's ``constraints:`` block maps feature names to
:class:`FeatureConstraint`. Every evaluation-set builder and every attack calls
:func:`enforce_constraints` on what it made, so immutable features stay
byte-identical, values stay in range, integers stay integers and categories
stay in their vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["FeatureConstraint", "resolve_constraints", "enforce_constraints", "enforce_column", "frozen_mask"]


class FeatureConstraint(BaseModel):
    """Constraint on one feature.

    Attributes
    ----------
    immutable : bool
        Never changed by perturbations or attacks (e.g. sensitive attributes, age).
    min, max : float or None
        Valid range; values are clipped into it.
    integer : bool
        Values are rounded to integers.
    categories : list or None
        Allowed values of a categorical feature.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    immutable: bool = False
    min: float | None = None
    max: float | None = None
    integer: bool = False
    categories: list[Any] | None = None

    @model_validator(mode="after")
    def _range(self):
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


def resolve_constraints(
    X: pd.DataFrame,
    feature_types: dict[str, str],
    declared: dict[str, FeatureConstraint] | None = None,
    reference: pd.DataFrame | None = None,
    *,
    ranges: dict[str, tuple[float, float]] | None = None,
    vocab: dict[str, list] | None = None,
) -> dict[str, FeatureConstraint]:
    """Complete the policy's constraints with what the data shows.

    Numeric features without a declared range get the observed range (over ``X``
    and the reference data); integer columns stay integer; categorical columns
    get their observed vocabulary. Declared values win. ``ranges`` and ``vocab``,
    when given, are the observed ranges and vocabularies of the whole table
    (exact, from a first pass over every partition) and replace what ``X`` shows.
    """
    declared = declared or {}
    src = pd.concat([X, reference[X.columns]]) if reference is not None else X
    out = {}
    for col in X.columns:
        d = declared.get(col, FeatureConstraint())
        kind = feature_types.get(col, "numeric")
        upd: dict[str, Any] = {}
        if kind == "categorical":
            if d.categories is None:
                seen = set(map(str, vocab[col])) if vocab and col in vocab else set()
                vals = list(vocab[col]) if vocab and col in vocab else []
                vals += [v for v in pd.unique(src[col].dropna()).tolist() if str(v) not in seen]
                upd["categories"] = sorted(dict.fromkeys(vals), key=str)
        else:
            if ranges and col in ranges and np.isfinite(ranges[col][0]):
                lo, hi = ranges[col]
            else:
                vals = pd.to_numeric(src[col], errors="coerce")
                ok = vals.notna().any()
                lo = float(np.nanmin(vals)) if ok else None
                hi = float(np.nanmax(vals)) if ok else None
            if d.min is None:
                upd["min"] = lo
            if d.max is None:
                upd["max"] = hi
            if kind == "integer":
                upd["integer"] = True
        out[col] = d.model_copy(update=upd)
    return out


def frozen_mask(columns: list[str], constraints: dict[str, FeatureConstraint]) -> np.ndarray:
    """1.0 where a feature may change, 0.0 where it is immutable (ART's ``mask`` convention)."""
    return np.array([0.0 if constraints.get(c, FeatureConstraint()).immutable else 1.0 for c in columns])


def enforce_constraints(
    X_new: pd.DataFrame,
    X_orig: pd.DataFrame,
    constraints: dict[str, FeatureConstraint],
) -> pd.DataFrame:
    """Project perturbed rows back into the valid space.

    Immutable columns are copied from ``X_orig`` (row-aligned); numeric values
    are clipped to ``[min, max]`` and rounded when ``integer``; categorical
    values outside the vocabulary are reset to the original value. Missing
    values (NaN) are left as they are: missingness is a perturbation of its own.
    Column dtypes of ``X_orig`` are kept.
    """
    out = X_new.copy()
    for col in out.columns:
        c = constraints.get(col)
        if c is None:
            continue
        out[col] = enforce_column(out[col], X_orig[col], c, out.index)
    return out


def enforce_column(new: pd.Series, orig: pd.Series, c: FeatureConstraint, index=None):
    """One column of :func:`enforce_constraints`: ``new`` projected by ``c`` (``orig``: the column
    before the change, row-aligned by position), as the values to assign to the column."""
    if c.immutable:
        return orig.to_numpy()
    if c.categories is not None:
        vals = new.to_numpy(dtype=object)
        ok = pd.isna(vals) | pd.Series(vals).isin(c.categories).to_numpy()
        vals = np.where(ok, vals, orig.to_numpy())
        return pd.Series(vals, index=index).astype(orig.dtype, errors="ignore")
    vals = new.to_numpy(dtype=float)
    lo = -np.inf if c.min is None else c.min
    hi = np.inf if c.max is None else c.max
    vals = np.clip(vals, lo, hi)
    if c.integer:
        vals = np.round(vals)
    if pd.api.types.is_integer_dtype(orig.dtype) and not np.isnan(vals).any():
        return vals.astype(orig.dtype)
    return vals
