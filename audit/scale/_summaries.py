"""Mergeable per-partition summaries: what travels from a partition instead of its rows.

Each summary is keyed by a :class:`Request` (what, on which evaluation set) and
is made of integers only, so adding partitions' summaries in any order, on any
number of workers, gives bit-identical totals:

- counts per *fine cell* (one combination of every sensitive column's values)
  kept as ``{(value, ...): int64 array}``: confusion matrices, paired
  (true, base, derived) matrices;
- fixed-width histograms of scores and losses;
- sums of real values in fixed point (``round(x * 2**bits)`` as int64): a float
  sum would differ in its last bits between partitionings, an integer one
  cannot. The quantisation error is below ``2**-bits`` per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Request", "CellTable", "FeatureSketch", "SCORE_BINS", "LOSS_RANGE", "fixed_sums", "cell_keys", "summarise",
           "merge", "MISSING"]

SCORE_BINS = 1 << 16  # score histogram resolution: 1.5e-5
LOSS_BINS = 4096
LOSS_RANGE = {"brier": 2.0, "log_loss": 37.0}  # upper bounds of the per-row losses
MISSING = "<missing>"  # as audit.stats.group_codes names a missing sensitive value


@dataclass(frozen=True)
class Request:
    """One summary of one evaluation set: ``kind`` in confusion, paired, scores, loss, ece, psi, dups,
    missing, sketch."""

    kind: str
    evalset: str
    arg: Any = None


class CellTable(dict):
    """``{fine cell key: int64 array}``; ``+`` adds arrays key by key."""

    def __add__(self, other: CellTable) -> CellTable:
        out = CellTable(self)
        for k, v in other.items():
            out[k] = out[k] + v if k in out else v.copy()
        return out


def fixed_sums(values: np.ndarray, codes: np.ndarray, n_cells: int, bits: int, bound: float) -> np.ndarray:
    """Exact per-cell sums of ``values`` (|v| <= bound) in fixed point with ``bits`` fractional bits.

    ``np.bincount`` adds in float64, which is exact for integers while partial sums stay
    below 2**53; rows are fed in chunks small enough for that, then added as int64.
    """
    q = np.rint(np.asarray(values, dtype=np.float64) * float(1 << bits))
    per_row = bound * (1 << bits)
    chunk = max(1, int(2.0 ** 52 // max(per_row, 1.0)))
    out = np.zeros(n_cells, dtype=np.int64)
    for s in range(0, len(q), chunk):
        out += np.bincount(codes[s:s + chunk], q[s:s + chunk], minlength=n_cells).astype(np.int64)
    return out


def cell_keys(sens: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Fine-cell code of every row and the key (the columns' values as strings) of each code.

    Values are named as :func:`audit.stats.group_codes` names them (``str(value)``,
    ``<missing>`` for NaN), so merged keys label groups as an in-memory audit would.
    Coded by hashing (``pd.factorize``), not sorting, so a million strings cost ~0.1 s.
    """
    n = len(sens)
    if not cols:
        return np.zeros(n, dtype=np.int64), [()]
    combined = np.zeros(n, dtype=np.int64)
    uniques = []
    for c in cols:
        codes, uniq = pd.factorize(sens[c], use_na_sentinel=True)
        names = [str(u) for u in uniq] + [MISSING]
        codes = np.where(codes < 0, len(uniq), codes)
        # Distinct values with one name (1 and "1") share a key, as they do in group_codes.
        dense, labels = pd.factorize(pd.Index(names))
        uniques.append(np.asarray(labels, dtype=object))
        combined = combined * len(labels) + dense[codes]
    present, inv = np.unique(combined, return_inverse=True)
    keys = []
    for code in present:
        vals = []
        for u in reversed(uniques):
            vals.append(str(u[code % len(u)]))
            code //= len(u)
        keys.append(tuple(reversed(vals)))
    return inv.reshape(-1).astype(np.int64), keys


def _table(codes, keys, cell, size) -> CellTable:
    counts = np.bincount(codes * size + cell, minlength=len(keys) * size).reshape(len(keys), size)
    return CellTable({k: counts[i].astype(np.int64) for i, k in enumerate(keys) if counts[i].any()})


def _score_bins(score: np.ndarray, bins: int) -> np.ndarray:
    s = np.clip(np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.minimum((s * bins).astype(np.int64), bins - 1)


def _loss(kind: str, t_pos: np.ndarray, score: np.ndarray, proba, t_idx) -> np.ndarray:
    if kind == "brier":
        if proba is not None and proba.ndim == 2 and proba.shape[1] > 2:
            onehot = np.zeros_like(proba)
            onehot[np.arange(len(t_idx)), t_idx] = 1.0
            return ((onehot - proba) ** 2).sum(axis=1)
        return (t_pos - score) ** 2
    eps = np.finfo(np.float64).eps  # the clipping scikit-learn applies
    p_true = proba[np.arange(len(t_idx)), t_idx] if proba is not None and proba.ndim == 2 else np.where(
        t_pos == 1, score, 1.0 - score)
    return -np.log(np.clip(p_true, eps, 1.0 - eps))


@dataclass
class Rows:
    """What the summaries of one evaluation-set partition are computed from."""

    y: np.ndarray | None  # class index per row (classification) or None
    pred: np.ndarray  # class index per row
    score: np.ndarray | None  # positive-class score
    proba: np.ndarray | None
    codes: np.ndarray  # fine cell per row
    keys: list
    k: int  # number of classes
    pos: int  # index of the positive class
    frame: pd.DataFrame | None = None  # features + sensitive (missing-value counts)
    hashes: np.ndarray | None = None  # row hashes (duplicates)
    rows: np.ndarray | None = None  # global row numbers


def summarise(req: Request, r: Rows, base: Rows | None, plan) -> Any:
    """The summary ``req`` of one partition of one evaluation set (``base``: the base rows, for paired)."""
    k = r.k
    if req.kind == "confusion":
        return _table(r.codes, r.keys, r.y * k + r.pred, k * k)
    if req.kind == "paired":
        # Each derived row against the base prediction of the row it came from.
        bp = base.pred[r.rows - base.rows[0]]
        return _table(r.codes, r.keys, (r.y * k + bp) * k + r.pred, k ** 3)
    if req.kind == "scores":
        t = (r.y == r.pos).astype(np.int64)
        return np.bincount(t * SCORE_BINS + _score_bins(r.score, SCORE_BINS),
                           minlength=2 * SCORE_BINS).reshape(2, SCORE_BINS).astype(np.int64)
    if req.kind == "loss":
        bound = LOSS_RANGE[req.arg]
        loss = _loss(req.arg, (r.y == r.pos).astype(float), r.score, r.proba, r.y)
        b = np.minimum((loss / bound * LOSS_BINS).astype(np.int64), LOSS_BINS - 1)
        cell = r.y * LOSS_BINS + b
        size = k * LOSS_BINS
        return {"count": np.bincount(cell, minlength=size).astype(np.int64),
                "sum": fixed_sums(loss, cell, size, 32, bound),
                "sumsq": fixed_sums(loss * loss, cell, size, 24, bound * bound)}
    if req.kind == "ece":
        from audit.checks.performance import ECE_SUB_BINS

        nb, s = int(req.arg), ECE_SUB_BINS
        if r.pos is not None and k == 2:
            conf, hit = r.score, r.y == r.pos
        else:
            conf, hit = r.proba.max(axis=1), r.proba.argmax(axis=1) == r.y
        b = np.minimum((conf * nb).astype(np.int64), nb - 1)
        sub = np.clip(((conf * nb - b) * s).astype(np.int64), 0, s - 1)
        cell = (b * s + sub) * 2 + hit.astype(np.int64)
        size = nb * s * 2
        return {"count": np.bincount(cell, minlength=size).astype(np.int64),
                "sum": fixed_sums(conf, cell, size, 32, 1.0)}
    if req.kind == "psi":
        edges = plan.psi_edges[req.arg]
        cur = r.score if r.score is not None else r.proba.max(axis=1)
        return np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1).astype(np.int64)
    if req.kind == "dups":
        ref = plan.ref_hashes[bool(req.arg)]
        h = r.hashes[bool(req.arg)]
        pos = np.clip(np.searchsorted(ref, h), 0, max(len(ref) - 1, 0))
        dup = (ref[pos] == h) if len(ref) else np.zeros(len(h), dtype=bool)
        return {"count": np.int64(dup.sum()), "n": np.int64(len(h)), "first": np.sort(r.rows[dup])[:20]}
    if req.kind == "sketch":
        return _feature_sketch(r.frame, plan)
    if req.kind == "missing":
        return {"count": r.frame.isna().sum().to_numpy().astype(np.int64), "n": np.int64(len(r.frame))}
    raise ValueError(f"unknown summary kind {req.kind!r}")


def _feature_sketch(frame: pd.DataFrame, plan) -> FeatureSketch:
    """Drift sketch of every feature: exact, mergeable, and enough for the tests of
    :func:`audit.checks.shift.feature_pvalues`.

    Numeric: counts of values strictly between, and equal to, the reference's sorted
    distinct values (cell ``2j``: below ``u[j]`` and above ``u[j-1]``; ``2j + 1``: equal to
    ``u[j]``). The two-sample KS distance is attained at those points, so it is exact.
    Categorical: counts per category, named as the in-memory test names them.
    """
    out = FeatureSketch()
    for col, u in plan.ref_unique.items():
        if col not in frame.columns:
            continue
        if u is None:  # categorical
            vc = frame[col].value_counts(dropna=False, sort=False)
            acc: dict[str, int] = {}
            for v, m in vc.items():
                name = MISSING if pd.isna(v) else str(v)
                acc[name] = acc.get(name, 0) + int(m)
            out[col] = acc
            continue
        v = frame[col].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        idx = np.searchsorted(u, v, side="left")
        eq = (idx < len(u)) & (u[np.minimum(idx, len(u) - 1)] == v)
        out[col] = np.bincount(2 * idx + eq, minlength=2 * len(u) + 1).astype(np.int64)
    return out


class FeatureSketch(dict):
    """``{column: int64 array (numeric) or {category: count} (categorical)}``; ``+`` adds them."""

    def __add__(self, other: FeatureSketch) -> FeatureSketch:
        out = FeatureSketch(self)
        for col, v in other.items():
            if col not in out:
                out[col] = v
            elif isinstance(v, dict):
                acc = dict(out[col])
                for k, m in v.items():
                    acc[k] = acc.get(k, 0) + m
                out[col] = acc
            else:
                out[col] = out[col] + v
        return out


def merge(a: Any, b: Any) -> Any:
    """Add two summaries of the same request (integers only: order does not matter)."""
    if a is None:
        return b
    if isinstance(a, CellTable | FeatureSketch):
        return a + b
    if isinstance(a, dict):
        out = {}
        for key in a:
            if key == "first":
                out[key] = np.sort(np.concatenate([a[key], b[key]]))[:20]
            else:
                out[key] = a[key] + b[key]
        return out
    return a + b
