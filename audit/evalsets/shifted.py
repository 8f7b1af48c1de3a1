"""Shifted evaluation sets: covariate, label-prior, subpopulation and temporal shift; the reference data.

Shifted sets resample base rows (rows themselves are unchanged).
``source_index`` records which base row each row is, so paired checks work.

Resampling is Poisson sampling: row ``i`` appears ``Poisson(lambda_i)`` times,
``lambda_i`` being the importance weight that gives the requested expected
size ``n`` and the requested shift. A row's count depends only on its own
row-keyed uniform and on whole-table quantities (exact group and label counts,
the sample's quantiles), so these sets are built partition by partition and are
the same on every executor. The temporal split ranks the whole table and is
built on the audit's sample.

Severity per kind:

- ``shifted.covariate``: ``strength``; rows are drawn with weights
  ``exp(+-2 x strength x z)`` where ``z`` is the normal score of the feature's
  rank, which shifts the mean normal score by about ``2 x strength`` (default 0.5).
- ``shifted.label_prior``: the target share of the positive class (default 0.5).
- ``shifted.subpopulation``: the group is over-represented by ``5 ** severity``
  (``-1`` under-represents it five-fold; ``factor`` overrides; default 1).
- ``shifted.temporal``: the latest share of rows by ``time_column`` (default 0.2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri

from audit.errors import CheckSkipped
from audit.evalsets import _tabular as T
from audit.evalsets._base import EvaluationSet, register_evalset

__all__ = ["poisson_from_uniform"]


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson(lam) variates by inverting the CDF at ``u`` (elementwise, so partition-free).

    Small rates walk the CDF up from 0 (fast, vectorised); rates above 30, where
    ``exp(-lam)`` loses precision and the walk gets long, use scipy's quantile function.
    """
    from scipy.stats import poisson

    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape)
    big = lam > 30
    if big.any():
        out = np.empty(u.shape, dtype=np.int64)
        out[big] = poisson.ppf(u[big], lam[big]).astype(np.int64)
        out[~big] = poisson_from_uniform(u[~big], lam[~big])
        return out
    k = np.zeros(u.shape, dtype=np.int64)
    p = np.exp(-lam)
    cdf = p.copy()
    active = u > cdf
    i = 0
    while active.any() and i < 10_000:
        i += 1
        p = p * lam / i
        cdf = cdf + p
        k += active
        active &= u > cdf
    return k


def _resample(env, base, kind, lam, seed, description, report):
    m = poisson_from_uniform(T.uniforms(seed, "resample", base)[:, 0], lam)
    rows = np.repeat(np.arange(base.n_rows), m)
    X, y, sens, src = T.subset(base, rows)
    # Rows are copied unchanged: nothing to project.
    return EvaluationSet(name="", kind=kind, X=X, y=y, sensitive=sens, source_index=src,
                         description=description, meta={"report": report})


class CovariateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str = Field(description="Numeric feature to shift along.")
    direction: Literal["high", "low"] = "high"
    n: int | None = Field(None, gt=0, description="Rows; default as many as the base set.")


@register_evalset("shifted.covariate", params=CovariateParams, partitionable=True)
def covariate(env, base, params, severity, seed):
    """Importance resampling along a feature towards its high (or low) quantiles; strength = severity."""
    s = 0.5 if severity is None else float(severity)
    col = params.feature
    frame = base.X if col in base.X.columns else base.sensitive
    if col not in frame.columns:
        raise ValueError(f"shifted.covariate: unknown feature {col!r}")
    ref = env.stats.sample_values.get(col)
    if ref is None or not len(ref):
        raise ValueError(f"shifted.covariate: feature {col!r} is not numeric")
    sign = 1.0 if params.direction == "high" else -1.0

    def weight(v):
        # Normal score of the value's mid-rank among the sample's values (the whole table's
        # rank, estimated from the sample, which is the same on every executor).
        v = np.nan_to_num(v, nan=float(np.median(ref)))
        m = len(ref)
        r = (np.searchsorted(ref, v, "left") + np.searchsorted(ref, v, "right")) / 2.0
        return np.exp(sign * 2.0 * s * ndtri(np.clip(r, 0.5, m - 0.5) / m))

    mean_w = float(np.mean(weight(ref)))
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    n_out = params.n or env.stats.n
    lam = weight(v) / mean_w * n_out / env.stats.n
    return _resample(env, base, "shifted.covariate", lam, seed,
                     f"Rows Poisson-resampled towards {params.direction} values of {col!r} (strength {s:g}).",
                     {"feature": col, "direction": params.direction, "strength": s})


class LabelPriorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positive_share: float | None = Field(None, gt=0, lt=1, description="Target share; default the severity.")
    n: int | None = Field(None, gt=0)


def positive_share(params, severity) -> float:
    """Target share of the positive class: ``positive_share``, else the severity (default 0.5)."""
    share = params.positive_share if params.positive_share is not None else (0.5 if severity is None else float(severity))
    if not 0 < share < 1:
        raise ValueError(f"shifted.label_prior: the positive share must be in (0, 1); got {share}")
    return share


@register_evalset("shifted.label_prior", params=LabelPriorParams, partitionable=True)
def label_prior(env, base, params, severity, seed):
    """Rows resampled so the positive class has a target share (= severity or positive_share)."""
    if base.y is None:
        raise CheckSkipped("shifted.label_prior needs labels")
    share = positive_share(params, severity)
    n = env.stats.n
    n_pos = env.stats.label_counts.get(str(env.pos_label), 0)
    if n_pos in (0, n):
        raise ValueError(f"shifted.label_prior: {n_pos} of {n} rows are positive; nothing to shift")
    n_out = params.n or n
    pos = np.asarray(base.y) == env.pos_label
    lam = np.where(pos, share * n_out / n_pos, (1 - share) * n_out / (n - n_pos))
    return _resample(env, base, "shifted.label_prior", lam, seed,
                     f"Rows Poisson-resampled to a positive-class share of {share:.0%} (was {n_pos / n:.1%}).",
                     {"positive_share": share, "positive_share_before": n_pos / n})


class SubpopulationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="'column=value', e.g. 'sex=F' (a sensitive column or a feature).")
    factor: float | None = Field(None, gt=0, description="Odds multiplier of the group; default 5 ** severity.")
    n: int | None = Field(None, gt=0)


def _group_mask(base: EvaluationSet, group: str) -> np.ndarray:
    if "=" not in group:
        raise ValueError(f"group {group!r} must be 'column=value', e.g. 'sex=F'")
    col, val = group.split("=", 1)
    col = col.strip()
    frame = base.sensitive if col in base.sensitive.columns else base.X
    if col not in frame.columns:
        raise ValueError(f"group {group!r}: no column {col!r} among the sensitive columns or features")
    return frame[col].astype(str).to_numpy() == val.strip()


def subpopulation_target(params, severity, share: float) -> tuple[float, float]:
    """Odds multiplier (``factor``, else ``5 ** severity``) and the group's target share."""
    factor = params.factor if params.factor is not None else 5.0 ** (1.0 if severity is None else float(severity))
    return factor, share * factor / (share * factor + 1 - share)


@register_evalset("shifted.subpopulation", params=SubpopulationParams, partitionable=True)
def subpopulation(env, base, params, severity, seed):
    """A group over- or under-represented: its odds multiplied by factor = 5 ** severity."""
    if "=" not in params.group:
        raise ValueError(f"group {params.group!r} must be 'column=value', e.g. 'sex=F'")
    col, val = (x.strip() for x in params.group.split("=", 1))
    counts = env.stats.value_counts.get(col)
    if counts is None:
        raise ValueError(f"group {params.group!r}: column {col!r} is not a sensitive or categorical column "
                         "with counted values")
    n_g, n = counts.get(val, 0), env.stats.n
    if n_g in (0, n):
        raise ValueError(f"group {params.group!r} has {n_g} of {n} rows; nothing to shift")
    p = n_g / n
    n_out = params.n or n
    factor, target = subpopulation_target(params, severity, p)
    g = _group_mask(base, params.group)
    lam = np.where(g, target * n_out / n_g, (1 - target) * n_out / (n - n_g))
    return _resample(env, base, "shifted.subpopulation", lam, seed,
                     f"Group {params.group} Poisson-resampled from {p:.1%} to {target:.1%} of rows (odds x {factor:g}).",
                     {"group": params.group, "factor": factor, "share_before": p, "share_expected": target})


class TemporalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_column: str = Field(description="A feature or sensitive column holding times (dates or numbers).")


@register_evalset("shifted.temporal", params=TemporalParams)
def temporal(env, base, params, severity, seed):
    """The latest share (= severity) of rows by a time column."""
    share = min(0.2 if severity is None else float(severity), 1.0)
    col = params.time_column
    frame = base.X if col in base.X.columns else base.sensitive
    if col not in frame.columns:
        raise ValueError(f"shifted.temporal: no column {col!r} among the features or sensitive columns; "
                         "list the time column under data.features (or data.sensitive)")
    t = frame[col]
    if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_datetime64_any_dtype(t)):
        t = pd.to_datetime(t, errors="coerce")
    key = t.rank(method="first").to_numpy(dtype=float)
    k = int(round(share * len(key)))
    rows = np.flatnonzero(key > len(key) - k) if k else np.array([], dtype=np.int64)
    cut = t.iloc[rows].min() if len(rows) else None
    X, y, sens, src = T.subset(base, np.sort(rows))
    return EvaluationSet(name="", kind="shifted.temporal", X=X, y=y, sensitive=sens, source_index=src,
                         description=f"The latest {share:.0%} of rows by {col!r} (from {cut}).",
                         meta={"report": {"time_column": col, "share": share,
                                          "from": None if cut is None else str(cut)}})


@register_evalset("reference")
def reference(env, base, params, severity, seed):
    """The reference (training) data as an evaluation set, so it is predicted once and cached."""
    ref = getattr(env, "reference", None)
    if ref is None:
        raise CheckSkipped("no reference data (data.reference in the policy)")
    X = ref.X[list(base.X.columns)].reset_index(drop=True)
    sens = ref.sensitive.reset_index(drop=True) if ref.sensitive is not None else base.sensitive.iloc[:0]
    # Not derived from base: source_index is -1 (no base row to pair with).
    return EvaluationSet(name="reference", kind="reference", X=X, y=ref.y, sensitive=sens,
                         source_index=np.full(len(X), -1, dtype=np.int64),
                         description=f"The reference data ({Path(ref.source).name if ref.source else 'reference'}), {len(X)} rows.",
                         meta={"report": {"paired": False}})
