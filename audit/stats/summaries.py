"""Mergeable summaries: what a check reads instead of rows, on every executor.

Every summary-reading check computes from these, whether the audit ran in
memory (one partition) or streamed over many. A summary is computed from the
rows of one partition of one evaluation set (:func:`summarise`) and two
summaries of the same :class:`Request` add up (``a + b``, or :func:`merge`)
to the summary of both partitions, *bit for bit* in any order:

- counts per *fine cell* (one combination of every sensitive column's values)
  kept as ``{(value, ...): int64 array}`` (:class:`CellTable`): confusion
  matrices, paired (true, base, derived) matrices, calibration cells;
- fixed-width histograms of scores and losses (int64);
- sums of bounded real values in fixed point (:func:`fixed_sums`: ``round(x *
  2**bits)`` as int64; a float sum would differ in its last bits between
  partitionings, an integer one cannot; the quantisation error is below
  ``2**-bits`` per row);
- sums of unbounded real values exactly (:class:`ExactSums`, regression errors):
  numpy has no exact float summation and fixed point needs a bound known in
  advance, so each value is split into its integer mantissa and exponent and the
  mantissas are added as integers per exponent. The total is the exact real sum,
  rounded once when read.

Summary kinds (``Request.kind``): cells, labels, confusion, paired, scores, paired_scores, loss,
ece, calibration, moments, paired_moments, psi, score_sketch, dups, sketch,
missing. Kinds that need reference-side inputs (PSI edges, reference row hashes,
reference values) read them from a :class:`SummaryAux`, computed once per audit.

Weighted audits (``data.weight``): every kind has a weighted twin ``w:<kind>``
(:data:`WEIGHTED`), computed from the same rows with the row weights ``Rows.w``.
The twin keeps the same cells and, next to each cell's row count, the exact sums
(:class:`ExactSums`) of ``w`` and ``w**2`` and of whatever the kind averages
(``w * loss``, ``w * score``, ...): :class:`WeightedCounts`. An unweighted kind
never sees the weights, so an audit without a weight column computes exactly
what it computed before weights existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Request",
    "CellTable",
    "WeightedCounts",
    "WEIGHTED",
    "weighted_kind",
    "FeatureSketch",
    "Record",
    "ExactSums",
    "Rows",
    "SummaryAux",
    "SCORE_BINS",
    "LOSS_BINS",
    "LOSS_RANGE",
    "PAIRED_SCORE_BINS",
    "MISSING",
    "SUM_SCALE",
    "SUMMARY_KINDS",
    "WEIGHTED_KINDS",
    "DATA_KINDS",
    "PAIRED_KINDS",
    "fixed_sums",
    "cell_keys",
    "score_bin",
    "error_bin",
    "psi_edges",
    "value_sketch",
    "output_values",
    "category_counts",
    "summarise",
    "merge",
]

SCORE_BINS = 1 << 16  # score histogram resolution: 1.5e-5
LOSS_BINS = 4096
LOSS_RANGE = {"brier": 2.0, "log_loss": 37.0}  # upper bounds of the per-row losses
PAIRED_SCORE_BINS = 64  # logit-grid bins of a paired score cell table (per axis)
ERROR_BINS = 96  # log2 bins of |error| for regression moments (2 per octave)
MISSING = "<missing>"  # as audit.stats.group_codes names a missing sensitive value
SUM_BITS = 32
SUM_SCALE = float(1 << SUM_BITS)  # fixed point of score and confidence sums
WEIGHTED = "w:"  # prefix of a weighted twin kind: "w:confusion" is the weighted "confusion"


@dataclass(frozen=True)
class Request:
    """One summary of one evaluation set: ``kind`` (see the module docstring) with an argument."""

    kind: str
    evalset: str
    arg: Any = None


class CellTable(dict):
    """``{fine cell key: int64 array}`` (or :class:`ExactSums`); ``+`` adds them key by key."""

    def __add__(self, other: CellTable) -> CellTable:
        out = CellTable(self)
        for k, v in other.items():
            out[k] = out[k] + v if k in out else _copy(v)
        return out

    def total(self):
        """The sum over every cell (the summary of the whole evaluation set)."""
        vals = list(self.values())
        return sum(vals[1:], _copy(vals[0])) if vals else None


def _copy(v):
    return v.copy() if hasattr(v, "copy") else v


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


class Record(dict):
    """Named integer arrays added key by key; ``first`` (row numbers) keeps the 20 smallest."""

    def __add__(self, other: Record) -> Record:
        out = Record()
        for key in self:
            if key == "first":
                out[key] = np.sort(np.concatenate([self[key], other[key]]))[:20]
            else:
                out[key] = self[key] + other[key]
        return out


def _keys(slot: np.ndarray, expo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ExactSums keys ``slot * 4096 + (expo + 2048)`` and each value's rank.

    ``np.unique(keys, return_inverse=True)`` sorts; one summary's values span few exponents (a
    loss in [0, 35] about 50), so ``slot * span + (expo - lowest)`` numbers the keys densely and
    in the same order, and one bincount finds those present and their ranks. Sorting the 2M keys
    of a 1M-row partition's loss summary (two columns) took 0.2-0.25 s; this takes a quarter of
    that. Values spanning too many exponents for a dense table are sorted.
    """
    if len(slot) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(expo.min()), int(expo.max())
    span, n_slots = high - low + 1, int(slot.max()) + 1
    if n_slots * span > max(4 * len(slot), 1 << 20):
        uk, inv = np.unique(slot * 4096 + (expo.astype(np.int64) + 2048), return_inverse=True)
        return uk, inv.reshape(-1)
    dense = slot * span + (expo - low)
    present = np.bincount(dense, minlength=n_slots * span) > 0
    where = np.flatnonzero(present)
    return (where // span) * 4096 + (where % span + low + 2048), (np.cumsum(present) - 1)[dense]


class ExactSums:
    """Exact sums of float64 values per (cell, column), mergeable in any order.

    ``value = m * 2**(e - 53)`` with an integer mantissa ``m`` (``|m| < 2**53``); the
    mantissas are summed as integers per ``(cell, column, e)``, split into a signed
    high and a 26-bit low half so that int64 never overflows (up to 2**37 rows).
    Nothing is rounded until :meth:`values` rounds each exact total once.

    Attributes
    ----------
    n_cells, n_cols : int
    keys : ndarray of int64
        Sorted ``(cell * n_cols + col) * 4096 + (e + 2048)``.
    hi, lo : ndarray of int64
        Sums of the high and low mantissa halves per key.
    """

    __slots__ = ("n_cells", "n_cols", "keys", "hi", "lo")

    def __init__(self, n_cells: int, n_cols: int, keys=None, hi=None, lo=None):
        self.n_cells, self.n_cols = n_cells, n_cols
        empty = np.zeros(0, dtype=np.int64)
        self.keys = empty if keys is None else keys
        self.hi = empty if hi is None else hi
        self.lo = empty if lo is None else lo

    @classmethod
    def of(cls, values: np.ndarray, codes: np.ndarray, n_cells: int) -> ExactSums:
        """Sums of ``values`` (n, d) per cell ``codes`` (n,)."""
        v = np.asarray(values, dtype=np.float64)
        v = v[:, None] if v.ndim == 1 else v
        n, d = v.shape
        mant, expo = np.frexp(v)
        m = (mant * float(1 << 53)).astype(np.int64).ravel()  # exact: |mant| < 1
        slot = (np.asarray(codes, dtype=np.int64)[:, None] * d + np.arange(d)).ravel()
        expo = expo.ravel()
        nz = m != 0
        uk, inv = _keys(slot[nz], expo[nz])
        m = m[nz]
        hi = np.zeros(len(uk), dtype=np.int64)
        lo = np.zeros(len(uk), dtype=np.int64)
        step = 1 << 26  # float64 bincount of 26-bit halves is exact for this many rows per call
        for s in range(0, len(m), step):
            mm, ii = m[s:s + step], inv[s:s + step]
            hi += np.bincount(ii, (mm >> 26).astype(np.float64), minlength=len(uk)).astype(np.int64)
            lo += np.bincount(ii, (mm & ((1 << 26) - 1)).astype(np.float64), minlength=len(uk)).astype(np.int64)
        return cls(n_cells, d, uk, hi, lo)

    def __add__(self, other: ExactSums) -> ExactSums:
        keys = np.concatenate([self.keys, other.keys])
        uk, inv = np.unique(keys, return_inverse=True)
        hi = np.zeros(len(uk), dtype=np.int64)
        lo = np.zeros(len(uk), dtype=np.int64)
        np.add.at(hi, inv, np.concatenate([self.hi, other.hi]))
        np.add.at(lo, inv, np.concatenate([self.lo, other.lo]))
        return ExactSums(max(self.n_cells, other.n_cells), self.n_cols, uk, hi, lo)

    def copy(self) -> ExactSums:
        return ExactSums(self.n_cells, self.n_cols, self.keys.copy(), self.hi.copy(), self.lo.copy())

    def select(self, cells: np.ndarray, n_cells: int) -> ExactSums:
        """The sums of cells ``cells`` (a boolean mask over cells), renumbered ``0..n_cells-1``."""
        cell = self.keys // (4096 * self.n_cols)
        keep = cells[cell]
        new_cell = np.cumsum(cells) - 1
        rest = self.keys[keep] % (4096 * self.n_cols)
        return ExactSums(n_cells, self.n_cols, new_cell[cell[keep]] * 4096 * self.n_cols + rest,
                         self.hi[keep], self.lo[keep])

    def fractions(self) -> list:
        """The exact total of each column over every cell, as :class:`fractions.Fraction`."""
        from fractions import Fraction

        out = [Fraction(0)] * self.n_cols
        if not len(self.keys):
            return out
        cc, e = np.divmod(self.keys, 4096)
        col = (cc % self.n_cols).tolist()
        for j, h, lo_, ee in zip(col, self.hi.tolist(), self.lo.tolist(), (e - 2048 - 53).tolist(), strict=True):
            m = (h << 26) + lo_
            out[j] += Fraction(m * (1 << ee)) if ee >= 0 else Fraction(m, 1 << -ee)
        return out

    def values(self) -> np.ndarray:
        """The sums, shape (n_cells, n_cols), each the exact total rounded once to float64."""
        out = np.zeros((self.n_cells, self.n_cols))
        if not len(self.keys):
            return out
        cc, e = np.divmod(self.keys, 4096)
        # Exact integer per term (Python ints), grouped by (cell, col): keys are sorted, so groups
        # are runs.
        starts = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
        ends = np.r_[starts[1:], len(cc)]
        hi, lo, ee = self.hi.tolist(), self.lo.tolist(), (e - 2048).tolist()
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            e0 = ee[a]  # smallest exponent of the run (keys sorted)
            total = sum(((hi[i] << 26) + lo[i]) << (ee[i] - e0) for i in range(a, b))
            c, j = divmod(int(cc[a]), self.n_cols)
            out[c, j] = _ldexp_int(total, e0 - 53)
        return out


def _ldexp_int(m: int, e: int) -> float:
    # m * 2**e rounded once: Python's int -> float conversion rounds correctly (half to even).
    import math

    if m == 0:
        return 0.0
    shift = max(m.bit_length() - 64, 0)
    if shift:  # keep 64 bits and a sticky bit, so the single rounding stays correct
        sticky = 1 if m & ((1 << shift) - 1) else 0
        sign = -1 if m < 0 else 1
        mm = (abs(m) >> shift) | sticky
        return math.ldexp(sign * float(mm), e + shift)
    return math.ldexp(float(m), e)


class WeightedCounts:
    """Row counts per cell and exact per-cell sums of the row weights (a weighted summary's cells).

    ``sums`` holds, per cell, the exact sums of ``w``, ``w**2`` and of the ``extra`` columns a kind
    adds (``w * loss``, ...), so merged partitions give the same totals bit for bit, in any order.

    Attributes
    ----------
    counts : ndarray of int64, shape (m,)
        Rows per cell.
    sums : ExactSums
        ``m`` cells by ``2 + extra`` columns: ``w``, ``w**2``, then the extra columns.
    """

    __slots__ = ("counts", "sums")

    def __init__(self, counts: np.ndarray, sums: ExactSums):
        self.counts, self.sums = counts, sums

    @classmethod
    def of(cls, cell: np.ndarray, size: int, w: np.ndarray, extra=()) -> WeightedCounts:
        """Counts and weight sums of rows in cells ``cell`` (0..size-1) with weights ``w``."""
        cell = np.asarray(cell, dtype=np.int64)
        w = np.asarray(w, dtype=np.float64)
        cols = np.column_stack([w, w * w, *[np.asarray(e, dtype=np.float64) for e in extra]])
        return cls(np.bincount(cell, minlength=size).astype(np.int64), ExactSums.of(cols, cell, size))

    def __add__(self, other):
        if other is None or (isinstance(other, int) and other == 0):
            return self.copy()
        return WeightedCounts(self.counts + other.counts, self.sums + other.sums)

    __radd__ = __add__  # sum() and dict.get(k, 0) + v start from 0

    def copy(self) -> WeightedCounts:
        return WeightedCounts(self.counts.copy(), self.sums.copy())

    def values(self) -> np.ndarray:
        """Per-cell sums ``(m, 2 + extra)``, each exact total rounded once."""
        return self.sums.values()

    @property
    def shape(self) -> tuple:
        return self.counts.shape


def weighted_kind(kind: str) -> str:
    """The kind of the weighted twin of summary ``kind``."""
    return WEIGHTED + kind


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


def score_bin(score: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of scores in [0, 1] (NaN in bin 0, 1.0 in the last bin)."""
    s = np.clip(np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.minimum((s * bins).astype(np.int64), bins - 1)


def logit_bin(score: np.ndarray, bins: int = PAIRED_SCORE_BINS) -> np.ndarray:
    """Bin on a fixed grid of the logit in [-8, 8), plus one open-ended bin at each end: fine where
    scores crowd near 0 and 1, and the same grid on every partition."""
    s = np.clip(np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.5), 1e-300, 1.0 - 1e-16)
    z = np.log(s) - np.log1p(-s)
    idx = 1 + np.floor((z + 8.0) / 16.0 * (bins - 2)).astype(np.int64)
    return np.clip(idx, 0, bins - 1)


def error_bin(err: np.ndarray) -> np.ndarray:
    """Bin of |error| on a log2 grid, 2 bins per octave from 2**-40 to 2**8 (0 holds exact zeros):
    the regression moments' cells, the same on every partition."""
    a = np.abs(np.nan_to_num(np.asarray(err, dtype=np.float64), nan=0.0))
    with np.errstate(divide="ignore"):
        b = np.floor(2.0 * (np.log2(a) + 40.0)).astype(np.int64) + 1
    return np.where(a > 0, np.clip(b, 1, ERROR_BINS - 1), 0)


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
    """What the summaries of one partition of one evaluation set are computed from.

    Classification: ``y``/``pred`` are class indices, ``score`` the positive-class
    score, ``proba`` the class probabilities. Regression: ``y_value``/``pred_value``
    hold the numbers (``y``/``pred`` are None).
    """

    y: np.ndarray | None  # class index per row (classification) or None
    pred: np.ndarray | None  # class index per row
    score: np.ndarray | None  # positive-class score
    proba: np.ndarray | None
    codes: np.ndarray  # fine cell per row
    keys: list
    k: int  # number of classes (0: regression)
    pos: int  # index of the positive class
    frame: pd.DataFrame | None = None  # features + sensitive (missing-value counts, sketches)
    hashes: dict | None = None  # include_target -> row hashes (duplicates)
    rows: np.ndarray | None = None  # global row number (of the base row each row came from)
    y_value: np.ndarray | None = None  # regression target
    pred_value: np.ndarray | None = None  # regression prediction
    w: np.ndarray | None = None  # row weights (weighted audits; None: every row counts once)


@dataclass
class SummaryAux:
    """Reference-side inputs some summaries need, computed once per audit (never per partition).

    Attributes
    ----------
    psi_edges : dict
        bins -> inner PSI bin edges (quantiles of the reference's scores or predictions).
    score_unique : ndarray or None
        Sorted distinct reference scores (classification) or predictions (regression): the
        points at which a score sketch counts (exact KS distance).
    ref_unique : dict
        Feature -> sorted distinct reference values (None: categorical).
    ref_hashes : dict
        include_target -> sorted reference row hashes.
    ref_columns : list
        Columns the row hashes cover.
    """

    psi_edges: dict = field(default_factory=dict)
    score_unique: np.ndarray | None = None
    ref_unique: dict = field(default_factory=dict)
    ref_hashes: dict = field(default_factory=dict)
    ref_columns: list = field(default_factory=list)


# -- the kinds ---------------------------------------------------------------------------------

def _cells(r, base, arg, aux):
    return _table(r.codes, r.keys, np.zeros(len(r.codes), dtype=np.int64), 1)


def _labels(r, base, arg, aux):
    return _table(r.codes, r.keys, r.y, r.k)


def _confusion(r, base, arg, aux):
    return _table(r.codes, r.keys, r.y * r.k + r.pred, r.k * r.k)


def _base_of(r: Rows, base: Rows, values: np.ndarray) -> np.ndarray:
    # Each derived row's value on the base row it came from (``rows`` are global row numbers,
    # sorted in the base: a partition's contiguous range, or the sample's rows).
    return values[np.searchsorted(base.rows, r.rows)]


def _paired(r, base, arg, aux):
    bp = _base_of(r, base, base.pred)
    return _table(r.codes, r.keys, (r.y * r.k + bp) * r.k + r.pred, r.k ** 3)


def _scores(r, base, arg, aux):
    t = (r.y == r.pos).astype(np.int64)
    return np.bincount(t * SCORE_BINS + score_bin(r.score, SCORE_BINS),
                       minlength=2 * SCORE_BINS).reshape(2, SCORE_BINS).astype(np.int64)


def _paired_scores(r, base, arg, aux):
    nb = PAIRED_SCORE_BINS
    t = (r.y == r.pos).astype(np.int64)
    cell = (t * nb + logit_bin(_base_of(r, base, base.score), nb)) * nb + logit_bin(r.score, nb)
    return _table(r.codes, r.keys, cell, 2 * nb * nb)


def _loss_summary(r, base, arg, aux):
    # Per (true class, loss bin): the count and the exact sums of the loss and its square, so the
    # mean loss equals scikit-learn's to the last bits whatever the partitioning.
    bound = LOSS_RANGE[arg]
    loss = _loss(arg, (r.y == r.pos).astype(float), r.score, r.proba, r.y)
    b = np.minimum((loss / bound * LOSS_BINS).astype(np.int64), LOSS_BINS - 1)
    cell = r.y * LOSS_BINS + b
    size = r.k * LOSS_BINS
    return Record(count=np.bincount(cell, minlength=size).astype(np.int64),
                  sums=ExactSums.of(np.column_stack([loss, loss * loss]), cell, size))


def confidence_hits(r: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Calibration inputs: the positive-class score and hit (binary), else top-class confidence and
    whether the top class is right."""
    if r.k == 2:
        return r.score, r.y == r.pos
    return r.proba.max(axis=1), r.proba.argmax(axis=1) == r.y


def _ece(r, base, arg, aux):
    from audit.stats._calibration import ECE_SUB_BINS, calibration_cells

    nb = int(arg)
    conf, hit = confidence_hits(r)
    cell = calibration_cells(conf, hit, nb, ECE_SUB_BINS)
    size = nb * ECE_SUB_BINS * 2
    return Record(count=np.bincount(cell, minlength=size).astype(np.int64),
                  sum=fixed_sums(conf, cell, size, SUM_BITS, 1.0))


def _calibration(r, base, arg, aux):
    # Per fine cell: counts and fixed-point score sums per (score sub-bin, label); arg = (n_bins, n_sub).
    from audit.stats._calibration import calibration_cells

    nb, ns = arg
    size = nb * ns * 2
    hit = r.y == r.pos
    cell = calibration_cells(r.score, hit, nb, ns)
    cnt = np.bincount(r.codes * size + cell, minlength=len(r.keys) * size).reshape(len(r.keys), size)
    sums = fixed_sums(r.score, r.codes * size + cell, len(r.keys) * size, SUM_BITS, 1.0).reshape(len(r.keys), size)
    return CellTable({k: np.concatenate([cnt[i], sums[i]]).astype(np.int64)
                      for i, k in enumerate(r.keys) if cnt[i].any()})


REGRESSION_STATS = ("abs_error", "sq_error", "y", "y2", "pred")


def _stats_and_products(cols: list[np.ndarray]) -> np.ndarray:
    # [v_1..v_d, v_i v_j for i <= j]: sums of these give each cell's mean and covariance.
    d = len(cols)
    prods = [cols[i] * cols[j] for i in range(d) for j in range(i, d)]
    return np.column_stack(cols + prods)


def _moments(r, base, arg, aux):
    e = r.pred_value - r.y_value
    cols = [np.abs(e), e * e, r.y_value, r.y_value * r.y_value, r.pred_value]
    cell = r.codes * ERROR_BINS + error_bin(e)
    sums = ExactSums.of(_stats_and_products(cols), cell, len(r.keys) * ERROR_BINS)
    cnt = np.bincount(cell, minlength=len(r.keys) * ERROR_BINS).reshape(len(r.keys), ERROR_BINS)
    return _per_key(r.keys, cnt, sums, ERROR_BINS)


def _paired_moments(r, base, arg, aux):
    eb = _base_of(r, base, base.pred_value) - r.y_value
    ep = r.pred_value - r.y_value
    cols = [np.abs(eb), eb * eb, np.abs(ep), ep * ep, r.y_value, r.y_value * r.y_value]
    cell = r.codes * ERROR_BINS + error_bin(ep - eb)
    sums = ExactSums.of(_stats_and_products(cols), cell, len(r.keys) * ERROR_BINS)
    cnt = np.bincount(cell, minlength=len(r.keys) * ERROR_BINS).reshape(len(r.keys), ERROR_BINS)
    return _per_key(r.keys, cnt, sums, ERROR_BINS)


@dataclass
class Moments:
    """Counts per error bin and exact sums of the stats and their products per bin (one fine cell)."""

    counts: np.ndarray
    sums: ExactSums

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.counts + other.counts, self.sums + other.sums)

    def copy(self) -> Moments:
        return Moments(self.counts.copy(), self.sums.copy())


def _per_key(keys, cnt, sums: ExactSums, nbins: int) -> CellTable:
    out = CellTable()
    per_key = np.zeros(len(keys) * nbins, dtype=bool)
    for i, k in enumerate(keys):
        if cnt[i].any():
            per_key[:] = False
            per_key[i * nbins:(i + 1) * nbins] = True
            out[k] = Moments(cnt[i].astype(np.int64), sums.select(per_key, nbins))
    return out


def output_values(r: Rows) -> np.ndarray:
    """The quantity a drift test of the model's output compares: the positive-class score, the top
    class probability (multiclass), the predicted class index (no probabilities), or the
    prediction (regression)."""
    if r.pred_value is not None:
        return r.pred_value
    if r.score is not None:
        return r.score
    return r.proba.max(axis=1) if r.proba is not None else r.pred.astype(np.float64)


def _psi(r, base, arg, aux):
    edges = aux.psi_edges[arg]
    return np.bincount(np.searchsorted(edges, output_values(r), side="right"),
                       minlength=len(edges) + 1).astype(np.int64)


def psi_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner PSI bin edges: quantiles of the reference values (ties merged)."""
    ref = np.asarray(ref, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1]) if len(ref) else np.zeros(0)


def value_sketch(values: np.ndarray, unique: np.ndarray) -> np.ndarray:
    """Counts of ``values`` strictly between and equal to the sorted ``unique`` reference values.

    Cell ``2j`` holds values below ``unique[j]`` (and above ``unique[j-1]``), cell ``2j + 1``
    values equal to ``unique[j]``. The two-sample KS distance is attained at those points, so a
    KS test from the merged sketch is exact.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]  # a copy: sorted in place
    v.sort()
    # The reference values are looked up among the sorted values, not each value among the
    # reference's: a partition has more rows than the reference has distinct values, and the
    # counts between consecutive reference values are differences of those positions.
    below = np.searchsorted(v, unique, side="left")  # values < unique[j]
    upto = np.searchsorted(v, unique, side="right")  # values <= unique[j]
    out = np.empty(2 * len(unique) + 1, dtype=np.int64)
    out[1::2] = upto - below
    out[0:-1:2] = below - np.concatenate(([0], upto[:-1]))
    out[-1] = len(v) - (upto[-1] if len(unique) else 0)
    return out


def _score_sketch(r, base, arg, aux):
    return value_sketch(output_values(r), aux.score_unique)


def _in_reference(r, arg, aux) -> np.ndarray:
    """Whether each row's hash is among the reference's (with or without the target: ``arg``)."""
    # pandas' hash-table isin: 1M rows against 50k reference rows in 20 ms, where a binary search
    # of each row's hash in the sorted reference took 120 ms.
    return pd.Series(r.hashes[bool(arg)], copy=False).isin(aux.ref_hashes[bool(arg)]).to_numpy()


def _dups(r, base, arg, aux):
    dup = _in_reference(r, arg, aux)
    return Record(count=np.int64(dup.sum()), n=np.int64(len(dup)), first=np.sort(r.rows[dup])[:20])


def category_counts(s: pd.Series) -> dict[str, int]:
    """Counts per value, named as :func:`audit.stats.group_codes` names them (``<missing>`` for NaN)."""
    acc: dict[str, int] = {}
    for v, m in s.value_counts(dropna=False, sort=False).items():
        name = MISSING if pd.isna(v) else str(v)
        acc[name] = acc.get(name, 0) + int(m)
    return acc


def _sketch(r, base, arg, aux):
    out = FeatureSketch()
    for col, u in aux.ref_unique.items():
        if col not in r.frame.columns:
            continue
        out[col] = category_counts(r.frame[col]) if u is None else value_sketch(
            r.frame[col].to_numpy(dtype=float), u)
    return out


def _missing(r, base, arg, aux):
    return Record(count=r.frame.isna().sum().to_numpy().astype(np.int64), n=np.int64(len(r.frame)))


# -- weighted twins (``w:<kind>``): the same cells, with exact sums of the row weights --------------

def _split_keys(keys, wc: WeightedCounts, size: int) -> CellTable:
    # One WeightedCounts over (fine cell x cell), split into one per fine cell key.
    cnt = wc.counts.reshape(len(keys), size)
    mask = np.zeros(len(keys) * size, dtype=bool)
    out = CellTable()
    for i, k in enumerate(keys):
        if cnt[i].any():
            mask[:] = False
            mask[i * size:(i + 1) * size] = True
            out[k] = WeightedCounts(cnt[i].copy(), wc.sums.select(mask, size))
    return out


def _wtable(r: Rows, cell, size: int, extra=()) -> CellTable:
    idx = r.codes * size + np.asarray(cell, dtype=np.int64)
    return _split_keys(r.keys, WeightedCounts.of(idx, len(r.keys) * size, r.w, extra), size)


def _w_cells(r, base, arg, aux):
    return _wtable(r, np.zeros(len(r.codes), dtype=np.int64), 1)


def _w_labels(r, base, arg, aux):
    return _wtable(r, r.y, r.k)


def _w_confusion(r, base, arg, aux):
    return _wtable(r, r.y * r.k + r.pred, r.k * r.k)


def _w_paired(r, base, arg, aux):
    bp = _base_of(r, base, base.pred)
    return _wtable(r, (r.y * r.k + bp) * r.k + r.pred, r.k ** 3)


def _w_scores(r, base, arg, aux):
    t = (r.y == r.pos).astype(np.int64)
    return WeightedCounts.of(t * SCORE_BINS + score_bin(r.score, SCORE_BINS), 2 * SCORE_BINS, r.w)


def _w_paired_scores(r, base, arg, aux):
    nb = PAIRED_SCORE_BINS
    t = (r.y == r.pos).astype(np.int64)
    cell = (t * nb + logit_bin(_base_of(r, base, base.score), nb)) * nb + logit_bin(r.score, nb)
    return _wtable(r, cell, 2 * nb * nb)


def _w_loss(r, base, arg, aux):
    # Columns w, w^2, w*loss, w^2*loss, w^2*loss^2: the first and second moments of the per-row
    # vector (w, w*loss), so the weighted mean loss and its binned bootstrap come from the sums.
    loss = _loss(arg, (r.y == r.pos).astype(float), r.score, r.proba, r.y)
    b = np.minimum((loss / LOSS_RANGE[arg] * LOSS_BINS).astype(np.int64), LOSS_BINS - 1)
    w = r.w
    return WeightedCounts.of(r.y * LOSS_BINS + b, r.k * LOSS_BINS, w,
                             [w * loss, w * w * loss, w * w * loss * loss])


def _w_ece(r, base, arg, aux):
    from audit.stats._calibration import ECE_SUB_BINS, calibration_cells

    nb = int(arg)
    conf, hit = confidence_hits(r)
    return WeightedCounts.of(calibration_cells(conf, hit, nb, ECE_SUB_BINS), nb * ECE_SUB_BINS * 2, r.w,
                             [r.w * conf])


def _w_calibration(r, base, arg, aux):
    from audit.stats._calibration import calibration_cells

    nb, ns = arg
    cell = calibration_cells(r.score, r.y == r.pos, nb, ns)
    return _wtable(r, cell, nb * ns * 2, [r.w * r.score])


W_REGRESSION_STATS = ("w", "w_abs_error", "w_sq_error", "w_y", "w_y2", "w_pred")
W_PAIRED_STATS = ("w", "w_abs_error_base", "w_sq_error_base", "w_abs_error", "w_sq_error", "w_y", "w_y2")


def _w_moments(r, base, arg, aux):
    w, e = r.w, r.pred_value - r.y_value
    cols = [w, w * np.abs(e), w * e * e, w * r.y_value, w * r.y_value * r.y_value, w * r.pred_value]
    cell = r.codes * ERROR_BINS + error_bin(e)
    sums = ExactSums.of(_stats_and_products(cols), cell, len(r.keys) * ERROR_BINS)
    cnt = np.bincount(cell, minlength=len(r.keys) * ERROR_BINS).reshape(len(r.keys), ERROR_BINS)
    return _per_key(r.keys, cnt, sums, ERROR_BINS)


def _w_paired_moments(r, base, arg, aux):
    w = r.w
    eb = _base_of(r, base, base.pred_value) - r.y_value
    ep = r.pred_value - r.y_value
    cols = [w, w * np.abs(eb), w * eb * eb, w * np.abs(ep), w * ep * ep, w * r.y_value, w * r.y_value * r.y_value]
    cell = r.codes * ERROR_BINS + error_bin(ep - eb)
    sums = ExactSums.of(_stats_and_products(cols), cell, len(r.keys) * ERROR_BINS)
    cnt = np.bincount(cell, minlength=len(r.keys) * ERROR_BINS).reshape(len(r.keys), ERROR_BINS)
    return _per_key(r.keys, cnt, sums, ERROR_BINS)


def _w_psi(r, base, arg, aux):
    edges = aux.psi_edges[arg]
    return WeightedCounts.of(np.searchsorted(edges, output_values(r), side="right"), len(edges) + 1, r.w)


def sketch_cells(values: np.ndarray, unique: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`value_sketch` cell of each value, and which values count (not NaN)."""
    v = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(v)
    v = v[keep]
    idx = np.searchsorted(unique, v, side="left")
    eq = (idx < len(unique)) & (unique[np.minimum(idx, len(unique) - 1)] == v)
    return 2 * idx + eq, keep


def _w_value_sketch(values, unique, w) -> WeightedCounts:
    cells, keep = sketch_cells(values, unique)
    return WeightedCounts.of(cells, 2 * len(unique) + 1, np.asarray(w, dtype=np.float64)[keep])


def _w_score_sketch(r, base, arg, aux):
    return _w_value_sketch(output_values(r), aux.score_unique, r.w)


def _w_categories(s: pd.Series, w: np.ndarray) -> dict:
    # Named as category_counts names them (str(value), <missing>; equal names merged).
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    names = [str(u) for u in uniq] + [MISSING]
    codes = np.where(codes < 0, len(uniq), codes)
    dense, labels = pd.factorize(pd.Index(names))
    cell = dense[codes]
    wc = WeightedCounts.of(cell, len(labels), w)
    out = {}
    mask = np.zeros(len(labels), dtype=bool)
    for j, name in enumerate(labels):
        if wc.counts[j]:
            mask[:] = False
            mask[j] = True
            out[str(name)] = WeightedCounts(wc.counts[j:j + 1].copy(), wc.sums.select(mask, 1))
    return out


def _w_sketch(r, base, arg, aux):
    out = FeatureSketch()
    for col, u in aux.ref_unique.items():
        if col not in r.frame.columns:
            continue
        out[col] = _w_categories(r.frame[col], r.w) if u is None else _w_value_sketch(
            r.frame[col].to_numpy(dtype=float), u, r.w)
    return out


def _w_dups(r, base, arg, aux):
    dup = _in_reference(r, arg, aux).astype(np.float64)
    w = r.w
    sums = ExactSums.of(np.column_stack([w * dup, w * w * dup, w, w * w]), np.zeros(len(w), dtype=np.int64), 1)
    return Record(count=np.int64(dup.sum()), n=np.int64(len(dup)), first=np.sort(r.rows[dup > 0])[:20], w=sums)


def _w_missing(r, base, arg, aux):
    # Per column: sums of w and w^2 over missing cells; then the totals of w and w^2.
    na = r.frame.isna().to_numpy().astype(np.float64)
    w = r.w
    cols = np.column_stack([w[:, None] * na, (w * w)[:, None] * na, w, w * w])
    return Record(count=r.frame.isna().sum().to_numpy().astype(np.int64), n=np.int64(len(r.frame)),
                  w=ExactSums.of(cols, np.zeros(len(w), dtype=np.int64), 1))


SUMMARY_KINDS = {
    "cells": _cells, "labels": _labels, "confusion": _confusion, "paired": _paired, "scores": _scores, "paired_scores": _paired_scores,
    "loss": _loss_summary, "ece": _ece, "calibration": _calibration, "moments": _moments,
    "paired_moments": _paired_moments, "psi": _psi, "score_sketch": _score_sketch, "dups": _dups,
    "sketch": _sketch, "missing": _missing,
}
WEIGHTED_KINDS = {
    "cells": _w_cells, "labels": _w_labels, "confusion": _w_confusion, "paired": _w_paired, "scores": _w_scores,
    "paired_scores": _w_paired_scores, "loss": _w_loss, "ece": _w_ece, "calibration": _w_calibration,
    "moments": _w_moments, "paired_moments": _w_paired_moments, "psi": _w_psi, "score_sketch": _w_score_sketch,
    "dups": _w_dups, "sketch": _w_sketch, "missing": _w_missing,
}
assert set(WEIGHTED_KINDS) == set(SUMMARY_KINDS)
_PAIRED = frozenset({"paired", "paired_scores", "paired_moments"})
_DATA = frozenset({"cells", "labels", "missing", "dups", "sketch"})  # need no predictions
PAIRED_KINDS = _PAIRED | {WEIGHTED + k for k in _PAIRED}
DATA_KINDS = _DATA | {WEIGHTED + k for k in _DATA}


SCORE_KINDS = frozenset({"scores", "paired_scores", "loss", "ece", "calibration"})
_NO_LABELS = ("cells", "missing", "dups", "sketch", "psi", "score_sketch")  # kinds that need no target


def summarise(req: Request, r: Rows, base: Rows | None, aux: SummaryAux | None) -> Any:
    """The summary ``req`` of one partition of one evaluation set (``base``: the base rows, for paired).

    A weighted twin (``w:<kind>``) reads the row weights ``r.w``; every other kind ignores them.
    """
    weighted = req.kind.startswith(WEIGHTED)
    kind = req.kind[len(WEIGHTED):] if weighted else req.kind
    try:
        fn = (WEIGHTED_KINDS if weighted else SUMMARY_KINDS)[kind]
    except KeyError:
        raise ValueError(f"unknown summary kind {req.kind!r}; expected one of {sorted(SUMMARY_KINDS)} "
                         f"(or {WEIGHTED}<kind>)") from None
    if weighted and r.w is None:
        raise ValueError(f"weighted summary {req.kind!r} asked of rows without weights")
    if kind in SCORE_KINDS and r.score is None and r.proba is None:
        from audit.errors import CheckSkipped

        raise CheckSkipped("needs scores; no predicted probabilities for this evaluation set "
                           "(no score column, or the model has no predict_proba)")
    if r.y is None and r.y_value is None and kind not in _NO_LABELS:
        from audit.errors import CheckSkipped

        raise CheckSkipped(f"needs labels; evaluation set {req.evalset!r} has no target")
    return fn(r, base, req.arg, aux)


def merge(a: Any, b: Any) -> Any:
    """Add two summaries of the same request (integers only: order does not matter)."""
    if a is None:
        return b
    return a + b
