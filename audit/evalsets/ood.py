"""Out-of-distribution evaluation sets: far clusters, feature-wise shuffles, out-of-range values.

They are built on the audit's stratified sample (a shuffle mixes rows across the
table; the clusters are drawn for the set as a whole); observed ranges and
spreads are the whole table's (``env.stats``).

OOD rows have no meaningful label, so ``y`` is None; ``meta["is_ood"]`` marks
the OOD rows (all rows unless ``mix`` < 1, where the rest are base rows left
as they are). Immutable features, integers and vocabularies are kept; numeric
ranges are the exception: an OOD set must leave the *observed* range, so only
declared bounds wider than the data hold (see
:func:`audit.evalsets._tabular.relax_observed_ranges`).

Severity per kind:

- ``ood.far``: distance beyond the observed edge, in feature sds (default 1).
- ``ood.shuffle``: share of mutable features shuffled across rows (default 1).
- ``ood.range``: distance beyond the observed edge, in feature sds, of
  ``n_features`` features per row (default 0.5).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.evalsets import _tabular as T
from audit.evalsets._base import register_evalset

__all__: list[str] = []


class _OODParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mix: float = Field(1.0, gt=0, le=1, description="Share of rows made OOD; the rest stay base rows.")


class FarParams(_OODParams):
    n_clusters: int = Field(3, ge=1, description="Far clusters, each in its own direction.")


class RangeParams(_OODParams):
    n_features: int = Field(1, ge=1, description="Features pushed out of range per row.")


def _rows(n: int, mix: float, rng) -> np.ndarray:
    return rng.random(n) < mix if mix < 1 else np.ones(n, dtype=bool)


def _finish(env, base, kind, X, ood, cols, desc, report):
    return T.finish(env, base, kind, X, touched=cols, description=desc, y=None,
                    constraints=T.relax_observed_ranges(env, base.X),
                    report={**report, "ood_rows": int(ood.sum())}, meta={"is_ood": ood})


@register_evalset("ood.far", params=FarParams)
def far(env, base, params, severity, seed):
    """Far clusters: every mutable numeric feature pushed k (= severity) sds beyond the observed range."""
    rng = np.random.default_rng(seed)
    k = 1.0 if severity is None else float(severity)
    X = base.X.copy()
    n = len(X)
    ood = _rows(n, params.mix, rng)
    cols = T.numeric_columns(env, X)
    cluster = rng.integers(0, params.n_clusters, size=n)
    signs = rng.choice([-1.0, 1.0], size=(params.n_clusters, len(cols)))
    for j, c in enumerate(cols):
        lo, hi = T.observed_range(env, c)
        sd = env.stats.spread.get(c, 1.0)
        sgn = signs[cluster, j]
        if lo >= 0:
            # Non-negative features (amounts, counts) cannot go below 0: push them up instead.
            sgn = np.abs(sgn)
        # Each cluster is a tight blob k sds past the edge in its own direction.
        dist = k * sd * (1.0 + 0.1 * rng.random(n))
        edge = np.where(sgn > 0, hi, lo)
        v = X[c].to_numpy(dtype=float)
        X[c] = np.where(ood, edge + sgn * dist, v)
    return _finish(env, base, "ood.far", X, ood, cols,
                   f"{int(ood.sum())} row(s) in {params.n_clusters} far cluster(s), {len(cols)} numeric feature(s) "
                   f"pushed {k:g} sd beyond the observed range.",
                   {"features": cols, "spreads_beyond": k, "n_clusters": params.n_clusters})


@register_evalset("ood.shuffle", params=_OODParams)
def shuffle(env, base, params, severity, seed):
    """Feature-wise shuffles: each chosen column permuted across rows, breaking correlations (marginals kept)."""
    rng = np.random.default_rng(seed)
    s = min(1.0 if severity is None else float(severity), 1.0)
    X = base.X.copy()
    n = len(X)
    ood = _rows(n, params.mix, rng)
    pool = T.mutable(env, list(X.columns))
    k = int(round(s * len(pool)))
    cols = sorted(rng.choice(pool, size=k, replace=False).tolist(), key=list(X.columns).index) if k else []
    idx = np.flatnonzero(ood)
    for c in cols:
        v = X[c].to_numpy(copy=True)
        v[idx] = v[rng.permutation(idx)]
        X[c] = v
    return _finish(env, base, "ood.shuffle", X, ood, cols,
                   f"{len(cols)} feature(s) shuffled independently across {len(idx)} row(s).",
                   {"features": cols, "share": s})


@register_evalset("ood.range", params=RangeParams)
def out_of_range(env, base, params, severity, seed):
    """Values beyond the observed range: n_features per row pushed k (= severity) sds past an edge."""
    rng = np.random.default_rng(seed)
    k = 0.5 if severity is None else float(severity)
    X = base.X.copy()
    n = len(X)
    ood = _rows(n, params.mix, rng)
    cols = T.numeric_columns(env, X)
    if not cols:
        raise ValueError("ood.range: no mutable numeric feature")
    m = min(params.n_features, len(cols))
    # Random m distinct features per row: the m smallest of uniform keys.
    chosen = np.argsort(rng.random((n, len(cols))), axis=1)[:, :m]
    for j, c in enumerate(cols):
        hit = ood & (chosen == j).any(axis=1)
        lo, hi = T.observed_range(env, c)
        sd = env.stats.spread.get(c, 1.0)
        up = (rng.random(n) < 0.5) | (lo >= 0)
        val = np.where(up, hi + k * sd * (1 + rng.random(n)), lo - k * sd * (1 + rng.random(n)))
        v = X[c].to_numpy(dtype=float)
        X[c] = np.where(hit, val, v)
    return _finish(env, base, "ood.range", X, ood, cols,
                   f"{int(ood.sum())} row(s) with {m} numeric feature(s) each set {k:g}-{2 * k:g} sd beyond "
                   "the observed range.",
                   {"features": cols, "spreads_beyond": k, "features_per_row": m})
