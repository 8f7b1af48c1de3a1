"""Shifted evaluation sets: covariate, label-prior, subpopulation and temporal shift; the reference data.

Shifted sets resample base rows (rows themselves are unchanged, so the
constraints hold trivially; they are still enforced for uniformity).
``source_index`` records which base row each row is, so paired checks work.

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
from scipy import stats

from audit.errors import CheckSkipped
from audit.evalsets import _tabular as T
from audit.evalsets._base import EvaluationSet, register_evalset

__all__: list[str] = []


def _draw(idx: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    # Each row at most once while possible; beyond the stratum's size, every row once plus draws
    # with replacement (fewest duplicates for a given count).
    idx = np.asarray(idx, dtype=np.int64)
    if k <= len(idx):
        return rng.choice(idx, size=k, replace=False)
    if len(idx) == 0:
        raise ValueError("cannot draw rows from an empty stratum")
    return np.concatenate([idx, rng.choice(idx, size=k - len(idx), replace=True)])


def _resampled(ctx, base, kind, rows, description, report):
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    X, _, _, _ = T.subset(base, rows)
    return T.finish(ctx, base, kind, X, X, rows=rows, description=description, report=report)


class CovariateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str = Field(description="Numeric feature to shift along.")
    direction: Literal["high", "low"] = "high"
    n: int | None = Field(None, gt=0, description="Rows; default as many as the base set.")


@register_evalset("shifted.covariate", params=CovariateParams)
def covariate(ctx, base, params, severity, rng):
    """Importance resampling along a feature towards its high (or low) quantiles; strength = severity."""
    s = 0.5 if severity is None else float(severity)
    X = base.X
    col = params.feature
    if col in X.columns:
        v = X[col]
    elif col in base.sensitive.columns:
        v = base.sensitive[col]
    else:
        raise ValueError(f"shifted.covariate: unknown feature {col!r}")
    v = pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)
    if np.isnan(v).all():
        raise ValueError(f"shifted.covariate: feature {col!r} is not numeric")
    n_out = params.n or len(X)
    z = stats.norm.ppf((stats.rankdata(np.nan_to_num(v, nan=np.nanmedian(v))) - 0.5) / len(v))
    sign = 1.0 if params.direction == "high" else -1.0
    logw = sign * 2.0 * s * z
    w = np.exp(logw - logw.max())
    rows = rng.choice(len(X), size=n_out, replace=True, p=w / w.sum())
    return _resampled(ctx, base, "shifted.covariate", rows,
                      f"Rows resampled towards {params.direction} values of {col!r} (strength {s:g}).",
                      {"feature": col, "direction": params.direction, "strength": s,
                       "mean_before": float(np.nanmean(v)), "mean_after": float(np.nanmean(v[rows]))})


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


@register_evalset("shifted.label_prior", params=LabelPriorParams)
def label_prior(ctx, base, params, severity, rng):
    """Rows resampled so the positive class has a target share (= severity or positive_share)."""
    if base.y is None:
        raise CheckSkipped("shifted.label_prior needs labels")
    share = positive_share(params, severity)
    y = np.asarray(base.y)
    pos = y == ctx.pos_label
    n_out = params.n or len(y)
    k_pos = int(round(share * n_out))
    rows = np.concatenate([_draw(np.flatnonzero(pos), k_pos, rng), _draw(np.flatnonzero(~pos), n_out - k_pos, rng)])
    return _resampled(ctx, base, "shifted.label_prior", rows,
                      f"Rows resampled to a positive-class share of {share:.0%} (was {pos.mean():.1%}).",
                      {"positive_share": share, "positive_share_before": float(pos.mean())})


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


@register_evalset("shifted.subpopulation", params=SubpopulationParams)
def subpopulation(ctx, base, params, severity, rng):
    """A group over- or under-represented: its odds multiplied by factor = 5 ** severity."""
    g = _group_mask(base, params.group)
    p = g.mean()
    if p in (0.0, 1.0):
        raise ValueError(f"group {params.group!r} has {int(g.sum())} of {len(g)} rows; nothing to shift")
    n_out = params.n or len(g)
    factor, target = subpopulation_target(params, severity, p)
    k = int(round(target * n_out))
    rows = np.concatenate([_draw(np.flatnonzero(g), k, rng), _draw(np.flatnonzero(~g), n_out - k, rng)])
    return _resampled(ctx, base, "shifted.subpopulation", rows,
                      f"Group {params.group} resampled from {p:.1%} to {target:.1%} of rows (odds x {factor:g}).",
                      {"group": params.group, "factor": factor, "share_before": float(p), "share_after": k / n_out})


class TemporalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_column: str = Field(description="A feature or sensitive column holding times (dates or numbers).")


@register_evalset("shifted.temporal", params=TemporalParams)
def temporal(ctx, base, params, severity, rng):
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
    return _resampled(ctx, base, "shifted.temporal", rows,
                      f"The latest {share:.0%} of rows by {col!r} (from {cut}).",
                      {"time_column": col, "share": share, "from": None if cut is None else str(cut)})


@register_evalset("reference")
def reference(ctx, base, params, severity, rng):
    """The reference (training) data as an evaluation set, so it is predicted once and cached."""
    ref = ctx.dataset.reference
    if ref is None:
        raise CheckSkipped("no reference data (data.reference in the policy)")
    X = ref.X[list(base.X.columns)].reset_index(drop=True)
    sens = ref.sensitive.reset_index(drop=True) if ref.sensitive is not None else base.sensitive.iloc[:0]
    # Not derived from base: source_index is -1 (no base row to pair with).
    return EvaluationSet(name="reference", kind="reference", X=X, y=ref.y, sensitive=sens,
                         source_index=np.full(len(X), -1, dtype=np.int64),
                         description=f"The reference data ({Path(ref.source).name if ref.source else 'reference'}), {len(X)} rows.",
                         meta={"report": {"paired": False}})
