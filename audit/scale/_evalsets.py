"""Evaluation sets built partition by partition, identically for any partitioning.

The in-memory builders (:mod:`audit.evalsets.perturbed`, ``shifted``) draw from
one sequential generator over the whole table. Here every random draw comes
from :mod:`audit.scale._random`, keyed on the row's global index, and every
whole-table quantity (a feature's spread, a group's share, a category list) is
computed before the pass: exactly from merged counts where it is a count, from
the audit's stratified sample where it is a moment or a quantile. A partition's
rows of ``perturbed.noise@0.2`` are then the same whichever worker builds them.

Resampling (shifted sets) becomes Poisson sampling: row ``i`` appears
``Poisson(lambda_i)`` times, with ``lambda_i`` the importance weight that the
in-memory builder would give it, so the expected size is the requested ``n``.

Kinds without a streamed builder (``ood.*``, ``adversarial*``, image
perturbations, ``shifted.temporal``, MNAR missingness) are built from the
sample by the in-memory builders, and the checks that use them run on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtri

from audit.evalsets import _tabular as T
from audit.evalsets._base import EvaluationSet, get_builder
from audit.evalsets.perturbed import _pick, _sev, dropout_columns, scale_target
from audit.evalsets.shifted import _group_mask, positive_share, subpopulation_target
from audit.scale._random import row_uniform

__all__ = ["TableStats", "STREAMED_KINDS", "build_partition", "streamable"]


@dataclass
class TableStats:
    """Whole-table quantities the streamed builders need (see the module docstring for their source)."""

    n: int
    spread: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    median: dict[str, float] = field(default_factory=dict)
    mode: dict[str, object] = field(default_factory=dict)
    vocab: dict[str, list] = field(default_factory=dict)
    value_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)
    sample_values: dict[str, np.ndarray] = field(default_factory=dict)


STREAMED_KINDS: dict[str, object] = {}


def streamable(kind: str):
    """Register the partition-wise builder of ``kind``."""

    def deco(fn):
        STREAMED_KINDS[kind] = fn
        return fn

    return deco


def build_partition(plan, name: str, base: EvaluationSet) -> EvaluationSet:
    """Evaluation set ``name`` restricted to the base partition ``base`` (rows keyed by ``base.source_index``)."""
    spec = plan.specs[name]
    builder = get_builder(spec.kind)
    params = builder.params.model_validate(spec.params)
    seed = plan.evalset_seeds[name]
    es = STREAMED_KINDS[spec.kind](plan, base, params, spec.severity, seed, plan.stats)
    es.name, es.seed = name, seed
    return es


def _finish(plan, base, kind, X, description, report, touched=None):
    """Wrap rows as a set, projecting the columns the builder touched through the constraints.

    Unlike :func:`audit.evalsets._tabular.finish`, untouched columns are left as they are
    and the share of changed cells is not counted: both cost a pass over every column of
    every partition, and neither changes the rows a perturbation made.
    """
    from audit.constraints import enforce_constraints

    cols = list(X.columns) if touched is None else [c for c in touched if c in X.columns]
    if cols:
        fixed = enforce_constraints(X[cols], base.X[cols], plan.constraints or {})
        for c in cols:
            X[c] = fixed[c].to_numpy()
    return EvaluationSet(name="", kind=kind, X=X, y=base.y, sensitive=base.sensitive,
                         source_index=base.source_index, description=description, meta={"report": report})


def _fresh(base) -> pd.DataFrame:
    """A frame of the base's columns to replace columns in (builders assign whole columns and
    never write into an array in place, so the base's arrays can be shared, not copied)."""
    return base.X.copy(deep=False)


def _u(seed, stream, base, draws=1):
    return row_uniform(seed, stream, base.source_index, draws)


def _shared_normal(plan, stream: str, base) -> np.ndarray:
    """Normal draws keyed on the run seed, not the evaluation set: every severity of a kind
    scales the *same* draws (common random numbers), so a degradation curve moves with
    severity only, and a partition computes its draws once for all severities.

    Cached on the partition's base set, so the cache lives as long as the task.
    """
    cache = base.meta.setdefault("normal_draws", {})
    z = cache.get(stream)
    if z is None:
        z = cache[stream] = ndtri(row_uniform(plan.seed, stream, base.source_index)[:, 0])
    return z


@streamable("perturbed.noise")
def noise(plan, base, params, severity, seed, stats):
    s = _sev(severity, 0.2)
    X = _fresh(base)
    cols = _pick(plan, base, params.features, "numeric")
    for c in cols:
        z = _shared_normal(plan, f"perturbed.noise:{c}", base)
        X[c] = X[c].to_numpy(dtype=float) + s * stats.spread[c] * z
    return _finish(plan, base, "perturbed.noise", X,
                   f"Gaussian noise of {s:g} sd added to {len(cols)} numeric feature(s).",
                   {"features": cols, "noise_sd_in_feature_sd": s}, cols)


@streamable("perturbed.missing")
def missing(plan, base, params, severity, seed, stats):
    if params.mechanism != "mcar":
        raise NotImplementedError("MNAR missingness ranks the whole table; it is built from the sample")
    s = min(_sev(severity, 0.1), 1.0)
    X = _fresh(base)
    cols = T.mutable(plan, list(params.features) if params.features is not None else list(X.columns))
    kinds = T.feature_kinds(plan, X)
    for c in cols:
        mask = _u(seed, f"missing:{c}", base)[:, 0] < s
        if pd.api.types.is_integer_dtype(X[c].dtype) or pd.api.types.is_bool_dtype(X[c].dtype):
            X[c] = X[c].astype(float) if kinds[c] != "categorical" else X[c].astype(object)
        X[c] = X[c].mask(mask)
    return _finish(plan, base, "perturbed.missing", X,
                   f"Values missing completely at random at rate {s:g} in {len(cols)} feature(s).",
                   {"mechanism": "mcar", "features": cols, "rate": s}, cols)


@streamable("perturbed.category_swap")
def category_swap(plan, base, params, severity, seed, stats):
    s = min(_sev(severity, 0.1), 1.0)
    X = _fresh(base)
    cols = _pick(plan, base, params.features, "categorical")
    for c in cols:
        vocab = np.asarray(stats.vocab[c], dtype=object)
        if len(vocab) < 2:
            continue
        cur = X[c].to_numpy(dtype=object)
        pos = pd.Index(vocab).get_indexer(cur)
        u = _u(seed, f"swap:{c}", base, 2)
        swap = (u[:, 0] < s) & (pos >= 0)
        step = 1 + np.minimum((u[:, 1] * (len(vocab) - 1)).astype(np.int64), len(vocab) - 2)
        new = vocab[(pos + step) % len(vocab)]
        X[c] = pd.Series(np.where(swap, new, cur), index=X.index).astype(base.X[c].dtype, errors="ignore")
    return _finish(plan, base, "perturbed.category_swap", X,
                   f"{s:.0%} of the cells of {len(cols)} categorical feature(s) swapped to another category.",
                   {"features": cols, "share": s}, cols)


@streamable("perturbed.scale")
def scale(plan, base, params, severity, seed, stats):
    X = _fresh(base)
    # One choice for the whole table: seeded by the set, not the partition.
    feat, mult = scale_target(plan, X, params, severity, np.random.default_rng(seed))
    rows = _u(seed, "scale", base)[:, 0] < params.rows
    v = X[feat].to_numpy(dtype=float)
    X[feat] = np.where(rows, v * mult, v)
    return _finish(plan, base, "perturbed.scale", X,
                   f"Feature {feat!r} multiplied by {mult:g} in {params.rows:.0%} of rows (unit error),"
                   " then clipped to its valid range.",
                   {"feature": feat, "multiplier": mult, "rows_share": params.rows}, [feat])


@streamable("perturbed.rounding")
def rounding(plan, base, params, severity, seed, stats):
    s = _sev(severity, 0.5)
    X = _fresh(base)
    cols = _pick(plan, base, params.features, "numeric")
    rng = np.random.default_rng(seed)  # grid origins: one per feature for the whole table
    if s > 0:
        for c in cols:
            step = s * stats.spread[c]
            off = rng.uniform(0.0, step)
            v = X[c].to_numpy(dtype=float)
            X[c] = np.round((v - off) / step) * step + off
    return _finish(plan, base, "perturbed.rounding", X,
                   f"{len(cols)} numeric feature(s) rounded to a grid of {s:g} sd.",
                   {"features": cols, "step_in_feature_sd": s}, cols)


@streamable("perturbed.dropout")
def dropout(plan, base, params, severity, seed, stats):
    X = _fresh(base)
    cols, s = dropout_columns(plan, X, params, severity, np.random.default_rng(seed))
    kinds = T.feature_kinds(plan, X)
    for c in cols:
        X[c] = stats.mode[c] if kinds[c] == "categorical" else stats.mean[c]
    return _finish(plan, base, "perturbed.dropout", X,
                   f"{len(cols)} feature(s) replaced by their mean or mode: {', '.join(cols)}.",
                   {"features": cols, "share": s}, cols)


@streamable("perturbed.outliers")
def outliers(plan, base, params, severity, seed, stats):
    s = min(_sev(severity, 0.05), 1.0)
    X = _fresh(base)
    cols = _pick(plan, base, params.features, "numeric")
    u = _u(seed, "outliers", base, 3)
    hit = np.flatnonzero(u[:, 0] < s)
    if cols and len(hit):
        which = np.minimum((u[hit, 1] * len(cols)).astype(np.int64), len(cols) - 1)
        side = np.where(u[hit, 2] < 0.5, -1.0, 1.0)
        for j, c in enumerate(cols):
            r = hit[which == j]
            v = X[c].to_numpy(dtype=float, copy=True)  # written in place below: never the base's array
            v[r] = stats.median[c] + side[which == j] * params.spreads * stats.spread[c]
            X[c] = v
    return _finish(plan, base, "perturbed.outliers", X,
                   f"A share {s:.0%} of rows with one numeric feature set {params.spreads:g} sd from its median"
                   " (clipped to the valid range).",
                   {"features": cols, "rows_share": s}, cols)


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


def _resample(plan, base, kind, lam, seed, description, report):
    m = poisson_from_uniform(_u(seed, "resample", base)[:, 0], lam)
    rows = np.repeat(np.arange(base.n_rows), m)
    X, y, sens, src = T.subset(base, rows)
    # Rows are copied unchanged: nothing to project.
    return EvaluationSet(name="", kind=kind, X=X, y=y, sensitive=sens, source_index=src,
                         description=description, meta={"report": report})


@streamable("shifted.subpopulation")
def subpopulation(plan, base, params, severity, seed, stats):
    col, val = (x.strip() for x in params.group.split("=", 1)) if "=" in params.group else (params.group, "")
    counts = stats.value_counts.get(col)
    if counts is None:
        raise NotImplementedError(f"no exact counts for column {col!r}")
    n_g, n = counts.get(val, 0), stats.n
    if n_g in (0, n):
        raise ValueError(f"group {params.group!r} has {n_g} of {n} rows; nothing to shift")
    p = n_g / n
    n_out = params.n or n
    factor, target = subpopulation_target(params, severity, p)
    g = _group_mask(base, params.group)
    lam = np.where(g, target * n_out / n_g, (1 - target) * n_out / (n - n_g))
    return _resample(plan, base, "shifted.subpopulation", lam, seed,
                     f"Group {params.group} Poisson-resampled from {p:.1%} to {target:.1%} of rows (odds x {factor:g}).",
                     {"group": params.group, "factor": factor, "share_before": p, "share_expected": target})


@streamable("shifted.label_prior")
def label_prior(plan, base, params, severity, seed, stats):
    share = positive_share(params, severity)
    n = stats.n
    n_pos = stats.label_counts.get(str(plan.pos_label), 0)
    if n_pos in (0, n):
        raise ValueError(f"shifted.label_prior: {n_pos} of {n} rows are positive; nothing to shift")
    n_out = params.n or n
    pos = np.asarray(base.y) == plan.pos_label
    lam = np.where(pos, share * n_out / n_pos, (1 - share) * n_out / (n - n_pos))
    return _resample(plan, base, "shifted.label_prior", lam, seed,
                     f"Rows Poisson-resampled to a positive-class share of {share:.0%} (was {n_pos / n:.1%}).",
                     {"positive_share": share, "positive_share_before": n_pos / n})


@streamable("shifted.covariate")
def covariate(plan, base, params, severity, seed, stats):
    s = 0.5 if severity is None else float(severity)
    col = params.feature
    frame = base.X if col in base.X.columns else base.sensitive
    if col not in frame.columns:
        raise ValueError(f"shifted.covariate: unknown feature {col!r}")
    ref = stats.sample_values.get(col)
    if ref is None or not len(ref):
        raise ValueError(f"shifted.covariate: feature {col!r} is not numeric")
    sign = 1.0 if params.direction == "high" else -1.0

    def weight(v):
        # Normal score of the value's mid-rank in the sample: the in-memory builder's rank, estimated.
        v = np.nan_to_num(v, nan=float(np.median(ref)))
        m = len(ref)
        r = (np.searchsorted(ref, v, "left") + np.searchsorted(ref, v, "right")) / 2.0
        return np.exp(sign * 2.0 * s * ndtri(np.clip(r, 0.5, m - 0.5) / m))

    mean_w = float(np.mean(weight(ref)))
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    n_out = params.n or stats.n
    lam = weight(v) / mean_w * n_out / stats.n
    return _resample(plan, base, "shifted.covariate", lam, seed,
                     f"Rows Poisson-resampled towards {params.direction} values of {col!r} (strength {s:g}).",
                     {"feature": col, "direction": params.direction, "strength": s})
