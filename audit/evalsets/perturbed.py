"""Perturbed tabular evaluation sets: noise, missing values, category swaps, dropout, unit errors, rounding, outliers.

Every builder keeps the base rows in order (``source_index`` = base positions,
so checks can pair rows), never touches immutable features and projects its
result back through the feature constraints (ranges, integers, vocabularies).

Severity per kind (``kind@severity``; distortion grows with it):

==================  ============================================================  =======
kind                severity means                                                default
==================  ============================================================  =======
perturbed.noise     Gaussian noise sd, in units of each numeric feature's sd       0.2
perturbed.missing   share of cells set missing (MCAR) / of rows (MNAR)            0.1
perturbed.category_swap  share of categorical cells swapped to another category   0.1
perturbed.dropout   share of features replaced by their mean / mode               0.2
perturbed.scale     unit-error factor ``10 ** (2 * severity)`` (0.5 -> x10)       0.5
perturbed.rounding  grid step, in units of each numeric feature's sd              0.5
perturbed.outliers  share of rows given an extreme value                          0.05
==================  ============================================================  =======
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.evalsets import _tabular as T
from audit.evalsets._base import register_evalset

__all__: list[str] = []


def _sev(severity: float | None, default: float) -> float:
    s = default if severity is None else float(severity)
    if s < 0:
        raise ValueError(f"severity must be >= 0; got {s}")
    return s


class _Cols(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, description="Features to perturb; default every mutable one of the kind.")


def _pick(ctx, base, params_features, kind: str) -> list[str]:
    X = base.X
    if params_features is not None:
        T.check_columns(X, params_features, kind)
        return T.mutable(ctx, list(params_features))
    return T.numeric_columns(ctx, X) if kind == "numeric" else T.categorical_columns(ctx, X)


@register_evalset("perturbed.noise", params=_Cols)
def noise(ctx, base, params, severity, rng):
    """Gaussian noise with sd = severity x each numeric feature's sd."""
    s = _sev(severity, 0.2)
    X = base.X.copy()
    cols = _pick(ctx, base, params.features, "numeric")
    for c in cols:
        v = X[c].to_numpy(dtype=float)
        X[c] = v + rng.normal(0.0, s * T.spread(base.X[c]), size=len(v))
    return T.finish(ctx, base, "perturbed.noise", X, base.X,
                    description=f"Gaussian noise of {s:g} sd added to {len(cols)} numeric feature(s).",
                    report={"features": cols, "noise_sd_in_feature_sd": s})


class MissingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mechanism: Literal["mcar", "mnar"] = "mcar"
    feature: str | None = Field(None, description="MNAR: the feature that goes missing where it is high.")
    features: list[str] | None = Field(None, description="MCAR: features that may go missing (default all mutable).")


@register_evalset("perturbed.missing", params=MissingParams)
def missing(ctx, base, params, severity, rng):
    """Missing values: MCAR at rate = severity, or MNAR where a chosen feature is high."""
    s = min(_sev(severity, 0.1), 1.0)
    X = base.X.copy()
    n = len(X)
    if params.mechanism == "mnar":
        if params.feature is None:
            raise ValueError("perturbed.missing with mechanism 'mnar' needs 'feature'")
        T.check_columns(X, [params.feature], "perturbed.missing")
        cols = T.mutable(ctx, [params.feature])
        if cols:
            v = pd.to_numeric(X[params.feature], errors="coerce").to_numpy(dtype=float)
            # Highest values go missing first; a random key breaks ties so equal values are not
            # all treated alike.
            order = np.lexsort((rng.random(n), -np.nan_to_num(v, nan=-np.inf)))
            rows = order[: int(round(s * n))]
            X[params.feature] = X[params.feature].astype(float)
            X.loc[rows, params.feature] = np.nan
        desc = f"Feature {params.feature!r} missing in the {s:.0%} of rows where it is highest (MNAR)."
    else:
        if params.features is not None:
            T.check_columns(X, params.features, "perturbed.missing")
            cols = T.mutable(ctx, list(params.features))
        else:
            cols = T.mutable(ctx, list(X.columns))
        for c in cols:
            mask = rng.random(n) < s
            if pd.api.types.is_integer_dtype(X[c].dtype) or pd.api.types.is_bool_dtype(X[c].dtype):
                X[c] = X[c].astype(float) if T.feature_kinds(ctx, X[[c]])[c] != "categorical" else X[c].astype(object)
            X[c] = X[c].mask(mask)
        desc = f"Values missing completely at random at rate {s:g} in {len(cols)} feature(s)."
    return T.finish(ctx, base, "perturbed.missing", X, base.X, description=desc,
                    report={"mechanism": params.mechanism, "features": cols, "rate": s})


@register_evalset("perturbed.category_swap", params=_Cols)
def category_swap(ctx, base, params, severity, rng):
    """A share (= severity) of categorical cells replaced by another category of the vocabulary."""
    s = min(_sev(severity, 0.1), 1.0)
    X = base.X.copy()
    cols = _pick(ctx, base, params.features, "categorical")
    n = len(X)
    for c in cols:
        vocab = np.asarray(T.vocabulary(ctx, base.X, c), dtype=object)
        if len(vocab) < 2:
            continue
        cur = X[c].to_numpy(dtype=object)
        pos = pd.Index(vocab).get_indexer(cur)
        swap = (rng.random(n) < s) & (pos >= 0)
        # A uniform draw among the *other* categories: shift by 1..k-1 modulo k.
        step = rng.integers(1, len(vocab), size=n)
        new = vocab[(pos + step) % len(vocab)]
        X[c] = pd.Series(np.where(swap, new, cur), index=X.index).astype(base.X[c].dtype, errors="ignore")
    return T.finish(ctx, base, "perturbed.category_swap", X, base.X,
                    description=f"{s:.0%} of the cells of {len(cols)} categorical feature(s) swapped to another category.",
                    report={"features": cols, "share": s})


class DropoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, description="Features to drop; default a random share = severity.")


def dropout_columns(ctx, X, params, severity, rng) -> tuple[list[str], float | None]:
    """The features a dropout set replaces (named, or a random share = severity) and that share.

    One choice for the whole table (streamed builders call this with the set's seed too).
    """
    if params.features is not None:
        T.check_columns(X, params.features, "perturbed.dropout")
        return T.mutable(ctx, list(params.features)), None
    s = min(_sev(severity, 0.2), 1.0)
    pool = T.mutable(ctx, list(X.columns))
    k = int(round(s * len(pool)))
    k = max(k, 1) if s > 0 and pool else k
    cols = sorted(rng.choice(pool, size=k, replace=False).tolist(), key=list(X.columns).index) if k else []
    return cols, s


@register_evalset("perturbed.dropout", params=DropoutParams)
def dropout(ctx, base, params, severity, rng):
    """Features replaced by their mean (numeric) or mode (categorical): a share = severity, or named ones."""
    X = base.X.copy()
    cols, s = dropout_columns(ctx, X, params, severity, rng)
    kinds = T.feature_kinds(ctx, X)
    for c in cols:
        if kinds[c] == "categorical":
            X[c] = X[c].mode(dropna=True).iloc[0]
        else:
            X[c] = float(np.nanmean(X[c].to_numpy(dtype=float)))
    return T.finish(ctx, base, "perturbed.dropout", X, base.X,
                    description=f"{len(cols)} feature(s) replaced by their mean or mode: {', '.join(cols)}.",
                    report={"features": cols, "share": s})


class ScaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str | None = Field(None, description="Feature with the unit error; default a random numeric one.")
    factor: float | None = Field(None, gt=0, description="Multiplier; default 10 ** (2 * severity).")
    direction: Literal["up", "down"] = Field("up", description="'down' divides by the factor.")
    rows: float = Field(1.0, gt=0, le=1, description="Share of rows with the error.")


def scale_target(ctx, X, params, severity, rng) -> tuple[str, float]:
    """The feature a unit error hits (named, or a random numeric one) and its multiplier."""
    if params.feature is not None:
        T.check_columns(X, [params.feature], "perturbed.scale")
        feat = params.feature
    else:
        pool = T.numeric_columns(ctx, X)
        if not pool:
            raise ValueError("perturbed.scale: no mutable numeric feature to scale")
        feat = str(rng.choice(pool))
    factor = params.factor if params.factor is not None else 10.0 ** (2.0 * _sev(severity, 0.5))
    return feat, factor if params.direction == "up" else 1.0 / factor


@register_evalset("perturbed.scale", params=ScaleParams)
def scale(ctx, base, params, severity, rng):
    """Unit errors: one feature multiplied (or divided) by a factor; factor = 10 ** (2 x severity)."""
    X = base.X.copy()
    feat, mult = scale_target(ctx, X, params, severity, rng)
    rows = rng.random(len(X)) < params.rows
    v = X[feat].to_numpy(dtype=float)
    X[feat] = np.where(rows, v * mult, v)
    return T.finish(ctx, base, "perturbed.scale", X, base.X,
                    description=f"Feature {feat!r} multiplied by {mult:g} in {params.rows:.0%} of rows (unit error),"
                                " then clipped to its valid range.",
                    report={"feature": feat, "multiplier": mult, "rows_share": params.rows})


@register_evalset("perturbed.rounding", params=_Cols)
def rounding(ctx, base, params, severity, rng):
    """Numeric features quantised to a grid of step = severity x the feature's sd (random grid origin)."""
    s = _sev(severity, 0.5)
    X = base.X.copy()
    cols = _pick(ctx, base, params.features, "numeric")
    if s > 0:
        for c in cols:
            step = s * T.spread(base.X[c])
            off = rng.uniform(0.0, step)  # the grid's origin: seeded, so different seeds give other grids
            v = X[c].to_numpy(dtype=float)
            X[c] = np.round((v - off) / step) * step + off
    return T.finish(ctx, base, "perturbed.rounding", X, base.X,
                    description=f"{len(cols)} numeric feature(s) rounded to a grid of {s:g} sd.",
                    report={"features": cols, "step_in_feature_sd": s})


class OutlierParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = None
    spreads: float = Field(5.0, gt=0, description="How far out: median +/- spreads x sd, then clipped to the valid range.")


@register_evalset("perturbed.outliers", params=OutlierParams)
def outliers(ctx, base, params, severity, rng):
    """A share (= severity) of rows get one numeric feature set to an extreme value within its valid range."""
    s = min(_sev(severity, 0.05), 1.0)
    X = base.X.copy()
    cols = _pick(ctx, base, params.features, "numeric")
    n = len(X)
    rows = np.flatnonzero(rng.random(n) < s)
    if cols and len(rows):
        which = rng.integers(0, len(cols), size=len(rows))
        side = rng.choice([-1.0, 1.0], size=len(rows))
        for j, c in enumerate(cols):
            r = rows[which == j]
            med = float(np.nanmedian(base.X[c].to_numpy(dtype=float)))
            vals = med + side[which == j] * params.spreads * T.spread(base.X[c])
            v = X[c].to_numpy(dtype=float)
            v[r] = vals
            X[c] = v
    return T.finish(ctx, base, "perturbed.outliers", X, base.X,
                    description=f"{len(rows)} row(s) ({s:.0%}) with one numeric feature set {params.spreads:g} sd"
                                " from its median (clipped to the valid range).",
                    report={"features": cols, "rows_share": s, "outlier_rows": int(len(rows))})
