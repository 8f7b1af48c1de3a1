"""Paired metrics for robustness checks: base vs derived predictions, from summaries.

Classification metrics are functions of a confusion matrix. Each row of a
paired comparison falls in one cell ``(true class, base prediction, derived
prediction)``; the multinomial bootstrap of those K^3 cell counts
(:func:`audit.stats.bootstrap_counts`) resamples rows *jointly* for both
predictions, at a cost independent of the number of rows. ROC AUC uses the same
idea on (class, base score bin, derived score bin) cells on a fixed logit grid,
shifted by the binning error to the exact point values of the fine score
histograms. Regression errors use the binned moments of the paired per-row
errors (:mod:`audit.stats._moments`).

An unpaired comparison (a resampled set) bootstraps the base set and the
derived set each on its own.

In a weighted audit the same cells carry their weight sums (the ``w:`` twins of
the summaries): point values are the weighted metrics and the replicates carry
each cell's weights (:class:`audit.stats._weights.Tally`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.errors import CheckError
from audit.stats import (
    auc_from_counts,
    bootstrap_binned_means,
    bootstrap_counts,
    percentile_interval,
)
from audit.stats._weights import Tally, table_tallies

__all__ = [
    "CLASS_METRICS",
    "SCORE_METRICS",
    "REG_METRICS",
    "LOWER_IS_BETTER",
    "PairedResult",
    "paired_from_counts",
    "paired_result",
    "metric_from_confusion",
    "metric_family",
    "auc_from_hist",
    "grouped",
    "grouped_tally",
    "tallies",
    "method",
    "degradation",
    "interval",
]

CLASS_METRICS = {"accuracy", "balanced_accuracy", "f1", "precision", "recall", "error_rate"}
SCORE_METRICS = {"roc_auc"}
REG_METRICS = {"mae", "rmse", "r2"}
LOWER_IS_BETTER = {"mae", "rmse", "error_rate"}
COARSE_AUC_BINS = 1024


def metric_family(metric: str) -> str:
    """``class``, ``score`` or ``reg``: which summaries a paired metric comes from."""
    if metric in CLASS_METRICS:
        return "class"
    if metric in SCORE_METRICS:
        return "score"
    if metric in REG_METRICS:
        return "reg"
    raise CheckError(f"unknown metric {metric!r}")


def method(metric: str, paired: bool, weighted: bool = False) -> str:
    """The interval method label of a robustness value (documented in docs/methods.md)."""
    fam = metric_family(metric)
    if weighted:
        if fam == "reg":
            return "paired-bootstrap-weighted-binned" if paired else "bootstrap-weighted-binned"
        if fam == "score":
            return "paired-bootstrap-weighted-score-cells" if paired else "bootstrap-weighted-score-histogram"
        return "paired-bootstrap-weighted-counts" if paired else "bootstrap-weighted-counts"
    if fam == "reg":
        return "paired-bootstrap-binned" if paired else "bootstrap-binned"
    if fam == "score":
        return "paired-bootstrap-score-cells" if paired else "bootstrap-score-histogram"
    return "paired-bootstrap-counts" if paired else "bootstrap-counts"


def metric_from_confusion(cm: np.ndarray, metric: str, pos: int) -> np.ndarray:
    """A metric of confusion matrices ``cm[..., true, pred]`` (vectorised over leading axes).

    ``pos`` is the index of the positive class (binary ``f1``/``precision``/``recall``;
    with more classes those are macro averages). NaN where undefined.
    """
    cm = np.asarray(cm, dtype=float)
    tot = cm.sum(axis=(-1, -2))
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    rows = cm.sum(axis=-1)  # per true class
    cols = cm.sum(axis=-2)  # per predicted class
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return diag.sum(-1) / tot
        if metric == "error_rate":
            return 1.0 - diag.sum(-1) / tot
        if metric == "balanced_accuracy":
            rec = np.where(rows > 0, diag / rows, np.nan)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(rec, axis=-1) if rec.shape[-1] else rec
        k = cm.shape[-1]
        prec = diag / cols
        rec = diag / rows
        f1 = 2 * diag / (rows + cols)
        if k == 2:
            return {"precision": prec, "recall": rec, "f1": f1}[metric][..., pos]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean({"precision": prec, "recall": rec, "f1": f1}[metric], axis=-1)


def auc_from_hist(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC from score histograms on common bins (ties within a bin count one half).

    ``pos``/``neg``: counts per bin, bins in increasing score order, leading axes vectorised.
    """
    pos = np.asarray(pos, dtype=float)
    neg = np.asarray(neg, dtype=float)
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / (pos.sum(-1) * neg.sum(-1))


@dataclass
class PairedResult:
    """Point values and bootstrap replicates of a metric on base and derived rows.

    ``base_reps``/``pert_reps`` have shape (n_boot,) or (n_boot, G) with groups.
    """

    base: np.ndarray
    pert: np.ndarray
    base_reps: np.ndarray
    pert_reps: np.ndarray


def paired_from_counts(metric, counts, k: int, pos: int, n_boot: int, rng) -> PairedResult:
    """Paired values and replicates from (true, base, derived) cell counts ``(..., k**3)`` (or a
    :class:`~audit.stats._weights.Tally` of them: weighted values and replicates when weighted)."""
    t = counts if isinstance(counts, Tally) else Tally(counts)
    reps = t.resample(n_boot, rng)

    def both(c):
        c = c.reshape(c.shape[:-1] + (k, k, k))
        return (metric_from_confusion(c.sum(-1), metric, pos), metric_from_confusion(c.sum(-2), metric, pos))

    b, p = both(t.point)
    br, pr = both(reps)
    return PairedResult(b, p, br, pr)


def grouped(sm, table, cols):
    """Cell-table counts summed into the groups of ``cols``: ``(labels or None, (G, ...) counts)``."""
    if not cols:
        return None, table.total()
    return project_groups(table, sm.sensitive, list(cols))


def tallies(sm, kind: str, name: str) -> dict:
    """``{fine cell key: Tally}`` of a cell-table summary (with its weights when weighted)."""
    return table_tallies(sm.get(kind, name), sm.weighted_summary(kind, name))


def grouped_tally(sm, table: dict, cols):
    """A ``{key: Tally}`` table summed into the groups of ``cols``: ``(labels or None, Tally)``; the
    labels and order of :func:`grouped`."""
    import pandas as pd

    from audit.stats import group_codes

    def add(a, b):
        return Tally(a.n + b.n, None if b.w is None else a.w + b.w, None if b.w2 is None else a.w2 + b.w2)

    # Keys in sorted order: the float weight sums are added in one order whatever the partitioning.
    items = [table[k] for k in sorted(table)]
    if not cols:
        out = items[0]
        for t in items[1:]:
            out = add(out, t)
        return None, out
    pos = [sm.sensitive.index(c) for c in cols]
    merged: dict = {}
    for key, t in sorted(table.items()):
        sub = tuple(key[j] for j in pos)
        merged[sub] = add(merged[sub], t) if sub in merged else t
    keys = sorted(merged)
    codes, names = group_codes(pd.DataFrame(keys, columns=list(cols)), list(cols))
    first = items[0]
    n = np.zeros((len(names), *first.n.shape), dtype=np.int64)
    w = None if first.w is None else np.zeros((len(names), *first.n.shape))
    w2 = None if first.w is None else np.zeros((len(names), *first.n.shape))
    for key, code in zip(keys, codes, strict=True):
        n[code] += merged[key].n
        if w is not None:
            w[code] += merged[key].w
            w2[code] += merged[key].w2
    return names, Tally(n, w, w2)


def project_groups(table, sensitive: list[str], cols: list[str], other=None):
    """Counts of ``table`` (and ``other``) summed into the groups of ``cols``.

    Groups are labelled and ordered by :func:`audit.stats.group_codes`. Returns
    ``(labels, counts[, other_counts])``, counts of shape ``(n_groups, ...)``.
    """
    import pandas as pd

    from audit.stats import group_codes

    pos = [sensitive.index(c) for c in cols]

    def project(t):
        out: dict = {}
        for key, v in t.items():
            sub = tuple(key[j] for j in pos)
            out[sub] = out[sub] + v if sub in out else v.copy()
        return out

    tables = [project(table)] + ([project(other)] if other is not None else [])
    keys = sorted(set().union(*tables))
    codes, names = group_codes(pd.DataFrame(keys, columns=cols), cols)
    shape = next(v for t in tables for v in t.values()).shape
    outs = []
    for t in tables:
        arr = np.zeros((len(names), *shape), dtype=np.int64)
        for key, code in zip(keys, codes, strict=True):
            if key in t:
                arr[code] += t[key]
        outs.append(arr)
    return (names, *outs)


# -- per family ---------------------------------------------------------------------------------

def paired_result(sm, name: str, metric: str, paired: bool, cols, n_boot: int, rng):
    """``(PairedResult, group labels or None, derived-set group sizes or None)`` of set ``name``."""
    fam = metric_family(metric)
    if fam == "class":
        return _class(sm, name, metric, paired, cols, n_boot, rng)
    if fam == "score":
        return _score(sm, name, paired, cols, n_boot, rng)
    return _regression(sm, name, metric, paired, cols, n_boot, rng)


def _class(sm, name, metric, paired, cols, n_boot, rng):
    k, pos = len(sm.classes), sm.pos_index
    if sm.weighted:
        return _class_weighted(sm, name, metric, paired, cols, n_boot, rng, k, pos)
    if paired:
        names, counts = grouped(sm, sm.get("paired", name), cols)
        r = paired_from_counts(metric, counts, k, pos, n_boot, rng)
        return r, names, None if names is None else counts.sum(-1)
    # Unpaired: a (y, p, p) cell table of each set, bootstrapped on its own.
    tb, te = _cube(sm.get("confusion", "base"), k), _cube(sm.get("confusion", name), k)
    if cols:
        names, cb, ce = project_groups(tb, sm.sensitive, list(cols), te)
    else:
        names, cb, ce = None, tb.total(), te.total()
    rb = paired_from_counts(metric, cb, k, pos, n_boot, rng)
    re_ = paired_from_counts(metric, ce, k, pos, n_boot, rng)
    return PairedResult(rb.base, re_.pert, rb.base_reps, re_.pert_reps), names, \
        None if names is None else ce.sum(-1)


def _class_weighted(sm, name, metric, paired, cols, n_boot, rng, k, pos):
    if paired:
        names, t = grouped_tally(sm, tallies(sm, "paired", name), cols)
        r = paired_from_counts(metric, t, k, pos, n_boot, rng)
        return r, names, None if names is None else t.n.sum(-1)
    tb = {key: t.map(lambda a: _cube_one(a, k)) for key, t in tallies(sm, "confusion", "base").items()}
    te = {key: t.map(lambda a: _cube_one(a, k)) for key, t in tallies(sm, "confusion", name).items()}
    names, cb = grouped_tally(sm, tb, cols)
    names_e, ce = grouped_tally(sm, te, cols)
    if names != names_e:
        raise CheckError("the base and derived sets have different groups; compare on a perturbed set")
    rb = paired_from_counts(metric, cb, k, pos, n_boot, rng)
    re_ = paired_from_counts(metric, ce, k, pos, n_boot, rng)
    return PairedResult(rb.base, re_.pert, rb.base_reps, re_.pert_reps), names, \
        None if names is None else ce.n.sum(-1)


def _cube_one(cm, k: int):
    cm = np.asarray(cm)
    c = np.zeros((k, k, k), dtype=cm.dtype)
    idx = np.arange(k)
    c[idx[:, None], idx[None, :], idx[None, :]] = cm.reshape(k, k)
    return c.ravel()


def _cube(table, k: int):
    out = {}
    idx = np.arange(k)
    for key, cm in table.items():
        c = np.zeros((k, k, k), dtype=np.int64)
        c[idx[:, None], idx[None, :], idx[None, :]] = cm.reshape(k, k)
        out[key] = c.ravel()
    return type(table)(out)


def _auc_reps(hist: np.ndarray, n_boot: int, rng) -> tuple[float, np.ndarray]:
    # Exact-ish point from the fine histogram; replicates on coarser bins shifted by their error.
    value = float(auc_from_counts(hist))
    coarse = hist.reshape(2, COARSE_AUC_BINS, -1).sum(axis=2)
    shift = value - float(auc_from_counts(coarse)) if np.isfinite(value) else 0.0
    reps = auc_from_counts(bootstrap_counts(coarse.ravel(), n_boot, rng).reshape(n_boot, 2, -1)) + shift
    return value, reps


def _auc_reps_weighted(counts: np.ndarray, wsum, n_boot: int, rng) -> tuple[float, np.ndarray]:
    # The weighted histograms: exact-ish weighted AUC; weighted replicates on the coarse bins.
    v = wsum.values()

    def coarse(a):
        return a.reshape(2, COARSE_AUC_BINS, -1).sum(axis=2)

    w = v[:, 0].reshape(2, -1)
    value = float(auc_from_counts(w))
    t = Tally(coarse(counts), coarse(w), coarse(v[:, 1].reshape(2, -1)))
    shift = value - float(auc_from_counts(t.w)) if np.isfinite(value) else 0.0
    reps = auc_from_counts(t.map(np.ravel).resample(n_boot, rng).reshape(n_boot, 2, -1)) + shift
    return value, reps


def _score(sm, name, paired, cols, n_boot, rng):
    from audit.stats.summaries import PAIRED_SCORE_BINS

    if len(sm.classes) != 2:
        raise CheckError("metric 'roc_auc' needs a binary classifier")
    if sm.weighted:
        return _score_weighted(sm, name, paired, cols, n_boot, rng, PAIRED_SCORE_BINS)
    if not paired:
        if cols:
            raise CheckError("a per-group ROC AUC drop needs a perturbed (row-preserving) evaluation set")
        vb, rb = _auc_reps(sm.get("scores", "base"), n_boot, rng)
        vp, rp = _auc_reps(sm.get("scores", name), n_boot, rng)
        return PairedResult(np.asarray(vb), np.asarray(vp), rb, rp), None, None
    nb = PAIRED_SCORE_BINS
    names, counts = grouped(sm, sm.get("paired_scores", name), cols)
    reps = bootstrap_counts(counts, n_boot, rng)

    def both(c):
        c = np.asarray(c, dtype=float).reshape(c.shape[:-1] + (2, nb, nb))
        hb, hp = c.sum(-1), c.sum(-2)
        return auc_from_hist(hb[..., 1, :], hb[..., 0, :]), auc_from_hist(hp[..., 1, :], hp[..., 0, :])

    bin_b, bin_p = both(counts)
    br, pr = both(reps)
    if cols:  # per group: the paired cells' own values (binned; see the module docstring)
        return PairedResult(bin_b, bin_p, br, pr), names, counts.sum(-1)
    eb = float(auc_from_counts(sm.get("scores", "base")))
    ep = float(auc_from_counts(sm.get("scores", name)))
    return PairedResult(np.asarray(eb), np.asarray(ep), br + (eb - bin_b), pr + (ep - bin_p)), None, None


def _score_weighted(sm, name, paired, cols, n_boot, rng, nb):
    def exact(setname):
        return float(auc_from_counts(sm.weighted_summary("scores", setname).values()[:, 0].reshape(2, -1)))

    if not paired:
        if cols:
            raise CheckError("a per-group ROC AUC drop needs a perturbed (row-preserving) evaluation set")
        vb, rb = _auc_reps_weighted(sm.get("scores", "base"), sm.weighted_summary("scores", "base"), n_boot, rng)
        vp, rp = _auc_reps_weighted(sm.get("scores", name), sm.weighted_summary("scores", name), n_boot, rng)
        return PairedResult(np.asarray(vb), np.asarray(vp), rb, rp), None, None
    names, t = grouped_tally(sm, tallies(sm, "paired_scores", name), cols)
    reps = t.resample(n_boot, rng)

    def both(c):
        c = np.asarray(c, dtype=float).reshape(c.shape[:-1] + (2, nb, nb))
        hb, hp = c.sum(-1), c.sum(-2)
        return auc_from_hist(hb[..., 1, :], hb[..., 0, :]), auc_from_hist(hp[..., 1, :], hp[..., 0, :])

    bin_b, bin_p = both(t.w)
    br, pr = both(reps)
    if cols:
        return PairedResult(bin_b, bin_p, br, pr), names, t.n.sum(-1)
    eb, ep = exact("base"), exact(name)
    return PairedResult(np.asarray(eb), np.asarray(ep), br + (eb - bin_b), pr + (ep - bin_p)), None, None


def _w_reg_metric(metric: str, m: np.ndarray, abs_i: int, sq_i: int, y_i: int, y2_i: int) -> np.ndarray:
    # Weighted metric from the means of (w, w |e|, w e^2, ..., w y, w y^2): column 0 is w.
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "mae":
            return m[..., abs_i] / m[..., 0]
        if metric == "rmse":
            return np.sqrt(m[..., sq_i] / m[..., 0])
        return 1.0 - m[..., sq_i] / (m[..., y2_i] - m[..., y_i] ** 2 / m[..., 0])


def _reg_metric(metric: str, m: np.ndarray, abs_i: int, sq_i: int, y_i: int, y2_i: int) -> np.ndarray:
    if metric == "mae":
        return m[..., abs_i]
    if metric == "rmse":
        return np.sqrt(m[..., sq_i])
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - m[..., sq_i] / (m[..., y2_i] - m[..., y_i] ** 2)


def _regression(sm, name, metric, paired, cols, n_boot, rng):
    from audit.stats._moments import PAIRED_COLUMNS, REGRESSION_COLUMNS, group_moments, moments_of
    from audit.stats.summaries import W_PAIRED_STATS, W_REGRESSION_STATS

    weighted = sm.weighted
    fn = _w_reg_metric if weighted else _reg_metric

    def values(ms, *idxs):
        # One bootstrap draw per moment summary: a paired summary's base and derived metrics
        # come from the same replicate rows.
        means = ms.exact_means()
        point = np.array([means[c] for c in ms.columns])
        reps = bootstrap_binned_means(ms.binned, n_boot, rng)
        return [(fn(metric, point, *i), fn(metric, reps, *i)) for i in idxs]

    def per_groups(kind, setname, columns):
        table = sm.weighted_summary(kind, setname) if weighted else sm.get(kind, setname)
        if cols:
            names, ms = group_moments(table, sm.sensitive, list(cols), columns)
            return names, ms
        return None, [moments_of(table, columns)]

    if paired:
        # Weighted columns: (w, w|e_base|, w e_base^2, w|e|, w e^2, w y, w y^2).
        cols_p, ib, ip = ((W_PAIRED_STATS, (1, 2, 5, 6), (3, 4, 5, 6)) if weighted
                          else (PAIRED_COLUMNS, (0, 1, 4, 5), (2, 3, 4, 5)))
        names, ms = per_groups("paired_moments", name, cols_p)
        both = [values(m, ib, ip) for m in ms]
        b, p = [x[0] for x in both], [x[1] for x in both]
        ng = None if names is None else np.array([m.n for m in ms])
    else:
        cols_r, ir = (W_REGRESSION_STATS, (1, 2, 3, 4)) if weighted else (REGRESSION_COLUMNS, (0, 1, 2, 3))
        names, mb = per_groups("moments", "base", cols_r)
        names_e, me = per_groups("moments", name, cols_r)
        if names != names_e:
            raise CheckError("the base and derived sets have different groups; compare on a perturbed set")
        b = [values(m, ir)[0] for m in mb]
        p = [values(m, ir)[0] for m in me]
        ng = None if names is None else np.array([m.n for m in me])
    if names is None:
        return PairedResult(b[0][0], p[0][0], b[0][1], p[0][1]), None, None
    return (PairedResult(np.array([x[0] for x in b]), np.array([x[0] for x in p]),
                         np.stack([x[1] for x in b], -1), np.stack([x[1] for x in p], -1)), names, ng)


def degradation(metric: str, base, pert, mode: str):
    """Degradation (positive = worse): base - derived, or derived - base for error metrics; relative to |base|."""
    d = (pert - base) if metric in LOWER_IS_BETTER else (base - pert)
    if mode == "relative":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = d / np.abs(base)
    return d


def interval(reps, level):
    lo, hi = percentile_interval(reps, level)
    return lo, hi
