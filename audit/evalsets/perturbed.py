"""Perturbed tabular evaluation sets: noise, missing values, category swaps, dropout, unit errors, rounding, outliers.

Every builder keeps the base rows in order (``source_index`` = the base rows,
so checks can pair rows), never touches immutable features and projects what
it changed back through the feature constraints (ranges, integers,
vocabularies). Every random draw is keyed on the row's global index
(:mod:`audit.stats._random`) and every whole-table quantity (a feature's
spread, mean, mode, vocabulary) comes from ``env.stats``, so the rows of
``perturbed.noise@0.2`` are the same whichever partition, worker or executor
builds them. All kinds are partitionable except MNAR missingness, which ranks
the whole table and is built on the audit's sample.

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
from scipy.special import ndtri

from audit.evalsets import _tabular as T
from audit.evalsets._base import register_evalset
from audit.stats._random import row_uniform

__all__: list[str] = []


def _sev(severity: float | None, default: float) -> float:
    s = default if severity is None else float(severity)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"severity must be a finite number >= 0; got {s}")
    return s


class _Cols(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, description="Features to perturb; default every mutable one of the kind.")


def _pick(env, base, params_features, kind: str) -> list[str]:
    X = base.X
    if params_features is not None:
        T.check_columns(X, params_features, kind)
        return T.mutable(env, list(params_features))
    return T.numeric_columns(env, X) if kind == "numeric" else T.categorical_columns(env, X)


def _shared_normal(env, stream: str, base) -> np.ndarray:
    """Normal draws keyed on the run seed, not the evaluation set: every severity of a kind
    scales the *same* draws (common random numbers), so a degradation curve moves with
    severity only, and a partition computes its draws once for all severities.

    Cached on the base set, so the cache lives as long as the base rows.
    """
    cache = base.meta.setdefault("normal_draws", {})
    z = cache.get((env.seed, stream))
    if z is None:
        z = cache[(env.seed, stream)] = ndtri(row_uniform(env.seed, stream, base.source_index)[:, 0])
    return z


@register_evalset("perturbed.noise", params=_Cols, min_severity=0, partitionable=True)
def noise(env, base, params, severity, seed):
    """Gaussian noise with sd = severity x each numeric feature's sd."""
    s = _sev(severity, 0.2)
    X = T.fresh(base)
    cols = _pick(env, base, params.features, "numeric")
    for c in cols:
        z = _shared_normal(env, f"perturbed.noise:{c}", base)
        X[c] = X[c].to_numpy(dtype=float) + s * env.stats.spread[c] * z
    return T.finish(env, base, "perturbed.noise", X, touched=cols,
                    description=f"Gaussian noise of {s:g} sd added to {len(cols)} numeric feature(s).",
                    report={"features": cols, "noise_sd_in_feature_sd": s})


class MissingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mechanism: Literal["mcar", "mnar"] = "mcar"
    feature: str | None = Field(None, description="MNAR: the feature that goes missing where it is high.")
    features: list[str] | None = Field(None, description="MCAR: features that may go missing (default all mutable).")


def _to_nullable(X: pd.DataFrame, c: str, kind: str) -> None:
    if pd.api.types.is_integer_dtype(X[c].dtype) or pd.api.types.is_bool_dtype(X[c].dtype):
        X[c] = X[c].astype(float) if kind != "categorical" else X[c].astype(object)


@register_evalset("perturbed.missing", params=MissingParams, min_severity=0,
                  partitionable=lambda params: params.mechanism == "mcar")
def missing(env, base, params, severity, seed):
    """Missing values: MCAR at rate = severity, or MNAR where a chosen feature is high."""
    s = min(_sev(severity, 0.1), 1.0)
    X = T.fresh(base)
    kinds = T.feature_kinds(env, X)
    if params.mechanism == "mnar":
        if params.feature is None:
            raise ValueError("perturbed.missing with mechanism 'mnar' needs 'feature'")
        T.check_columns(X, [params.feature], "perturbed.missing")
        cols = T.mutable(env, [params.feature])
        if cols:
            v = pd.to_numeric(X[params.feature], errors="coerce").to_numpy(dtype=float)
            # Highest values go missing first (a whole-table ranking: built on the sample);
            # a row-keyed uniform breaks ties so equal values are not all treated alike.
            u = T.uniforms(seed, "missing:mnar", base)[:, 0]
            order = np.lexsort((u, -np.nan_to_num(v, nan=-np.inf)))
            mask = np.zeros(len(X), dtype=bool)
            mask[order[: int(round(s * len(X)))]] = True
            _to_nullable(X, params.feature, kinds[params.feature])
            X[params.feature] = X[params.feature].mask(mask)
        desc = f"Feature {params.feature!r} missing in the {s:.0%} of rows where it is highest (MNAR)."
    else:
        if params.features is not None:
            T.check_columns(X, params.features, "perturbed.missing")
        cols = T.mutable(env, list(params.features) if params.features is not None else list(X.columns))
        for c in cols:
            mask = T.uniforms(seed, f"missing:{c}", base)[:, 0] < s
            _to_nullable(X, c, kinds[c])
            X[c] = X[c].mask(mask)
        desc = f"Values missing completely at random at rate {s:g} in {len(cols)} feature(s)."
    return T.finish(env, base, "perturbed.missing", X, touched=cols, description=desc,
                    report={"mechanism": params.mechanism, "features": cols, "rate": s})


@register_evalset("perturbed.category_swap", params=_Cols, min_severity=0, partitionable=True)
def category_swap(env, base, params, severity, seed):
    """A share (= severity) of categorical cells replaced by another category of the vocabulary."""
    s = min(_sev(severity, 0.1), 1.0)
    X = T.fresh(base)
    cols = _pick(env, base, params.features, "categorical")
    for c in cols:
        vocab = np.asarray(T.vocabulary(env, base.X, c), dtype=object)
        if len(vocab) < 2:
            continue
        cur = X[c].to_numpy(dtype=object)
        pos = pd.Index(vocab).get_indexer(cur)
        u = T.uniforms(seed, f"swap:{c}", base, 2)
        swap = (u[:, 0] < s) & (pos >= 0)
        # A uniform draw among the *other* categories: shift by 1..k-1 modulo k.
        step = 1 + np.minimum((u[:, 1] * (len(vocab) - 1)).astype(np.int64), len(vocab) - 2)
        new = vocab[(pos + step) % len(vocab)]
        X[c] = pd.Series(np.where(swap, new, cur), index=X.index).astype(base.X[c].dtype, errors="ignore")
    return T.finish(env, base, "perturbed.category_swap", X, touched=cols,
                    description=f"{s:.0%} of the cells of {len(cols)} categorical feature(s) swapped to another category.",
                    report={"features": cols, "share": s})


class DropoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, description="Features to drop; default a random share = severity.")


def dropout_columns(env, X, params, severity, rng) -> tuple[list[str], float | None]:
    """The features a dropout set replaces (named, or a random share = severity) and that share.

    One choice for the whole table: ``rng`` is seeded by the set, not the partition.
    """
    if params.features is not None:
        T.check_columns(X, params.features, "perturbed.dropout")
        return T.mutable(env, list(params.features)), None
    s = min(_sev(severity, 0.2), 1.0)
    pool = T.mutable(env, list(X.columns))
    k = int(round(s * len(pool)))
    k = max(k, 1) if s > 0 and pool else k
    cols = sorted(rng.choice(pool, size=k, replace=False).tolist(), key=list(X.columns).index) if k else []
    return cols, s


@register_evalset("perturbed.dropout", params=DropoutParams, min_severity=0, partitionable=True)
def dropout(env, base, params, severity, seed):
    """Features replaced by their mean (numeric) or mode (categorical): a share = severity, or named ones."""
    X = T.fresh(base)
    cols, s = dropout_columns(env, X, params, severity, np.random.default_rng(seed))
    kinds = T.feature_kinds(env, X)
    for c in cols:
        X[c] = env.stats.mode[c] if kinds[c] == "categorical" else env.stats.mean[c]
    return T.finish(env, base, "perturbed.dropout", X, touched=cols,
                    description=f"{len(cols)} feature(s) replaced by their mean or mode: {', '.join(cols)}.",
                    report={"features": cols, "share": s})


class ScaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str | None = Field(None, description="Feature with the unit error; default a random numeric one.")
    factor: float | None = Field(None, gt=0, description="Multiplier; default 10 ** (2 * severity).")
    direction: Literal["up", "down"] = Field("up", description="'down' divides by the factor.")
    rows: float = Field(1.0, gt=0, le=1, description="Share of rows with the error.")


def scale_target(env, X, params, severity, rng) -> tuple[str, float]:
    """The feature a unit error hits (named, or a random numeric one) and its multiplier."""
    if params.feature is not None:
        T.check_columns(X, [params.feature], "perturbed.scale")
        feat = params.feature
    else:
        pool = T.numeric_columns(env, X)
        if not pool:
            raise ValueError("perturbed.scale: no mutable numeric feature to scale")
        feat = str(rng.choice(pool))
    factor = params.factor if params.factor is not None else 10.0 ** (2.0 * _sev(severity, 0.5))
    return feat, factor if params.direction == "up" else 1.0 / factor


@register_evalset("perturbed.scale", params=ScaleParams, min_severity=0, partitionable=True)
def scale(env, base, params, severity, seed):
    """Unit errors: one feature multiplied (or divided) by a factor; factor = 10 ** (2 x severity)."""
    X = T.fresh(base)
    # One choice for the whole table: seeded by the set, not the partition.
    feat, mult = scale_target(env, X, params, severity, np.random.default_rng(seed))
    rows = T.uniforms(seed, "scale", base)[:, 0] < params.rows
    v = X[feat].to_numpy(dtype=float)
    X[feat] = np.where(rows, v * mult, v)
    return T.finish(env, base, "perturbed.scale", X, touched=[feat],
                    description=f"Feature {feat!r} multiplied by {mult:g} in {params.rows:.0%} of rows (unit error),"
                                " then clipped to its valid range.",
                    report={"feature": feat, "multiplier": mult, "rows_share": params.rows})


@register_evalset("perturbed.rounding", params=_Cols, min_severity=0, partitionable=True)
def rounding(env, base, params, severity, seed):
    """Numeric features quantised to a grid of step = severity x the feature's sd (random grid origin)."""
    s = _sev(severity, 0.5)
    X = T.fresh(base)
    cols = _pick(env, base, params.features, "numeric")
    rng = np.random.default_rng(seed)  # grid origins: one per feature for the whole table
    if s > 0:
        for c in cols:
            step = s * env.stats.spread[c]
            off = rng.uniform(0.0, step)
            v = X[c].to_numpy(dtype=float)
            X[c] = np.round((v - off) / step) * step + off
    return T.finish(env, base, "perturbed.rounding", X, touched=cols,
                    description=f"{len(cols)} numeric feature(s) rounded to a grid of {s:g} sd.",
                    report={"features": cols, "step_in_feature_sd": s})


class OutlierParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = None
    spreads: float = Field(5.0, gt=0, description="How far out: median +/- spreads x sd, then clipped to the valid range.")


@register_evalset("perturbed.outliers", params=OutlierParams, min_severity=0, partitionable=True)
def outliers(env, base, params, severity, seed):
    """A share (= severity) of rows get one numeric feature set to an extreme value within its valid range."""
    s = min(_sev(severity, 0.05), 1.0)
    X = T.fresh(base)
    cols = _pick(env, base, params.features, "numeric")
    u = T.uniforms(seed, "outliers", base, 3)
    hit = np.flatnonzero(u[:, 0] < s)
    if cols and len(hit):
        which = np.minimum((u[hit, 1] * len(cols)).astype(np.int64), len(cols) - 1)
        side = np.where(u[hit, 2] < 0.5, -1.0, 1.0)
        for j, c in enumerate(cols):
            r = hit[which == j]
            v = X[c].to_numpy(dtype=float, copy=True)  # written in place below: never the base's array
            v[r] = env.stats.median[c] + side[which == j] * params.spreads * env.stats.spread[c]
            X[c] = v
    return T.finish(env, base, "perturbed.outliers", X, touched=cols,
                    description=f"A share {s:.0%} of rows with one numeric feature set {params.spreads:g} sd from its"
                                " median (clipped to the valid range).",
                    report={"features": cols, "rows_share": s})
