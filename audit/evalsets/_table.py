"""What a builder may know of the whole table: a narrow, picklable description.

Builders never see the audit context (except the adversarial ones, which need
the model). They read a :class:`TableInfo`: feature types, constraints, the
positive label, the run seed and :class:`TableStats`, whole-table quantities
computed once before any set is built:

- counts (value counts of categorical and sensitive columns, label counts, row
  count) and numeric extremes are exact, from the audit's first pass over every
  row;
- moments and quantiles (spread, mean, median, sorted values) come from the
  audit's stratified sample, which is the same on every executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TableStats", "TableInfo", "table_stats", "typed_values"]


@dataclass
class TableStats:
    """Whole-table quantities the builders need (see the module docstring for their source)."""

    n: int
    spread: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    median: dict[str, float] = field(default_factory=dict)
    mode: dict[str, Any] = field(default_factory=dict)
    vocab: dict[str, list] = field(default_factory=dict)
    value_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)
    sample_values: dict[str, np.ndarray] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # table and reference


@dataclass
class TableInfo:
    """The narrow description of the table every builder reads.

    Attributes
    ----------
    feature_types : dict
        Column -> ``numeric | integer | categorical``.
    constraints : dict
        Completed feature constraints (declared ones plus observed ranges).
    declared_constraints : dict
        The policy's constraints as written.
    pos_label : object
        The positive class (classification).
    seed : int
        The run seed (shared draws across severities are keyed on it).
    stats : TableStats
    """

    feature_types: dict
    constraints: dict
    declared_constraints: dict
    pos_label: Any
    seed: int
    stats: TableStats


def spread(x) -> float:
    """Standard deviation of a numeric column (1.0 when it is constant or empty, so scales stay usable)."""
    s = float(np.nanstd(pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(dtype=float)))
    return s if np.isfinite(s) and s > 0 else 1.0


def typed_values(values: list[str], like: pd.Series) -> list:
    """Values counted by name (``str(value)``) mapped back to the column's own values where possible."""
    seen = {str(v): v for v in like.dropna().unique()}
    out = []
    for v in values:
        if v in seen:
            out.append(seen[v])
        elif pd.api.types.is_bool_dtype(like.dtype):
            out.append(v == "True")
        elif pd.api.types.is_numeric_dtype(like.dtype):
            out.append(pd.to_numeric(v, errors="coerce"))
        else:
            out.append(v)
    return sorted(out, key=str)


def table_stats(sample_X: pd.DataFrame, n: int, counts: dict, extremes: dict, types: dict, target: str,
                reference_X: pd.DataFrame | None = None) -> TableStats:
    """:class:`TableStats` from the exact first-pass counts and extremes and the stratified sample.

    Parameters
    ----------
    sample_X : DataFrame
        The sample's feature columns.
    n : int
        Rows of the whole table.
    counts : dict
        Column -> ``{value name: count}`` over the whole table (None: too many values).
    extremes : dict
        Numeric column -> (min, max) over the whole table.
    """
    from audit.stats.summaries import MISSING

    st = TableStats(n=int(n))
    for c in sample_X.columns:
        if types.get(c) == "categorical":
            vc = counts.get(c)
            vals = [v for v in (vc or {}) if v != MISSING]
            st.vocab[c] = typed_values(vals, sample_X[c]) if vc else sorted(
                pd.unique(sample_X[c].dropna()).tolist(), key=str)
            if vc:
                best = max(sorted(vals), key=lambda v: vc[v]) if vals else None
                st.mode[c] = typed_values([best], sample_X[c])[0] if best is not None else None
            else:
                m = sample_X[c].mode(dropna=True)
                st.mode[c] = m.iloc[0] if len(m) else None
        else:
            v = pd.to_numeric(sample_X[c], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(v)
            st.spread[c] = spread(v)
            st.mean[c] = float(np.mean(v[ok])) if ok.any() else 0.0
            st.median[c] = float(np.median(v[ok])) if ok.any() else 0.0
            st.sample_values[c] = np.sort(v[ok])
            lo, hi = extremes.get(c, (np.inf, -np.inf))
            if reference_X is not None and c in reference_X.columns:
                r = pd.to_numeric(reference_X[c], errors="coerce").to_numpy(dtype=float)
                r = r[np.isfinite(r)]
                if len(r):
                    lo, hi = min(lo, float(r.min())), max(hi, float(r.max()))
            st.ranges[c] = (float(lo), float(hi)) if np.isfinite(lo) else (float("nan"), float("nan"))
    st.value_counts = {c: vc for c, vc in counts.items() if vc is not None}
    st.label_counts = counts.get(target) or {}
    return st
