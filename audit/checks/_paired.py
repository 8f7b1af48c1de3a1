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


def method(metric: str, paired: bool) -> str:
    """The interval method label of a robustness value (documented in docs/methods.md)."""
    fam = metric_family(metric)
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
    """Paired values and replicates from (true, base, derived) cell counts ``(..., k**3)``."""
    reps = bootstrap_counts(counts, n_boot, rng)

    def both(c):
        c = c.reshape(c.shape[:-1] + (k, k, k))
        return (metric_from_confusion(c.sum(-1), metric, pos), metric_from_confusion(c.sum(-2), metric, pos))

    b, p = both(counts)
    br, pr = both(reps)
    return PairedResult(b, p, br, pr)


def grouped(sm, table, cols):
    """Cell-table counts summed into the groups of ``cols``: ``(labels or None, (G, ...) counts)``."""
    if not cols:
        return None, table.total()
    return project_groups(table, sm.sensitive, list(cols))


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


def _score(sm, name, paired, cols, n_boot, rng):
    from audit.stats.summaries import PAIRED_SCORE_BINS

    if len(sm.classes) != 2:
        raise CheckError("metric 'roc_auc' needs a binary classifier")
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


def _reg_metric(metric: str, m: np.ndarray, abs_i: int, sq_i: int, y_i: int, y2_i: int) -> np.ndarray:
    if metric == "mae":
        return m[..., abs_i]
    if metric == "rmse":
        return np.sqrt(m[..., sq_i])
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - m[..., sq_i] / (m[..., y2_i] - m[..., y_i] ** 2)


def _regression(sm, name, metric, paired, cols, n_boot, rng):
    from audit.stats._moments import PAIRED_COLUMNS, REGRESSION_COLUMNS, group_moments, moments_of

    def values(ms, *idxs):
        # One bootstrap draw per moment summary: a paired summary's base and derived metrics
        # come from the same replicate rows.
        means = ms.exact_means()
        point = np.array([means[c] for c in ms.columns])
        reps = bootstrap_binned_means(ms.binned, n_boot, rng)
        return [(_reg_metric(metric, point, *i), _reg_metric(metric, reps, *i)) for i in idxs]

    def per_groups(table, columns):
        if cols:
            names, ms = group_moments(table, sm.sensitive, list(cols), columns)
            return names, ms
        return None, [moments_of(table, columns)]

    if paired:
        names, ms = per_groups(sm.get("paired_moments", name), PAIRED_COLUMNS)
        both = [values(m, (0, 1, 4, 5), (2, 3, 4, 5)) for m in ms]
        b, p = [x[0] for x in both], [x[1] for x in both]
        ng = None if names is None else np.array([m.n for m in ms])
    else:
        names, mb = per_groups(sm.get("moments", "base"), REGRESSION_COLUMNS)
        names_e, me = per_groups(sm.get("moments", name), REGRESSION_COLUMNS)
        if names != names_e:
            raise CheckError("the base and derived sets have different groups; compare on a perturbed set")
        b = [values(m, (0, 1, 2, 3))[0] for m in mb]
        p = [values(m, (0, 1, 2, 3))[0] for m in me]
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
