"""Paired metrics for robustness checks: base vs derived predictions on the same source rows.

Classification metrics are functions of a confusion matrix. Each row of a
paired comparison falls in one cell ``(true class, base prediction, derived
prediction)``; the multinomial bootstrap of those K^3 cell counts
(:func:`audit.stats.bootstrap_counts`) resamples rows *jointly* for both
predictions, at a cost independent of the number of rows. AUC-type metrics
use the same idea on score histograms (cells ``(class, base bin, derived
bin)``); error metrics of regressions resample rows with multinomial weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.errors import CheckError, CheckSkipped
from audit.stats import bootstrap_counts, bootstrap_row_weights, percentile_interval

__all__ = [
    "CLASS_METRICS",
    "SCORE_METRICS",
    "REG_METRICS",
    "LOWER_IS_BETTER",
    "PairedResult",
    "paired_metric",
    "paired_from_counts",
    "metric_from_confusion",
    "auc_from_hist",
    "predict_or_explain",
]

CLASS_METRICS = {"accuracy", "balanced_accuracy", "f1", "precision", "recall", "error_rate"}
SCORE_METRICS = {"roc_auc"}
REG_METRICS = {"mae", "rmse", "r2"}
LOWER_IS_BETTER = {"mae", "rmse", "error_rate"}
AUC_BINS = 100


def predict_or_explain(ctx, name: str):
    """``ctx.predictions(name)``, turning a model's NaN failure into a clear CheckError."""
    try:
        return ctx.predictions(name)
    except (ValueError, TypeError) as exc:
        es = ctx.evalset(name)
        if es.X.isna().to_numpy().any():
            raise CheckError(
                f"the model cannot predict evaluation set {name!r}, which has missing values "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0]}). Add imputation to the model "
                "pipeline, or drop this evaluation set from the policy.") from exc
        raise


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
            return np.nanmean(rec, axis=-1) if rec.shape[-1] else rec
        k = cm.shape[-1]
        prec = diag / cols
        rec = diag / rows
        f1 = 2 * diag / (rows + cols)
        if k == 2:
            return {"precision": prec, "recall": rec, "f1": f1}[metric][..., pos]
        return np.nanmean({"precision": prec, "recall": rec, "f1": f1}[metric], axis=-1)
    raise ValueError(f"unknown metric {metric!r}")


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


def _class_codes(classes, *arrays):
    index = pd.Index(classes)
    out = []
    for a in arrays:
        codes = index.get_indexer(np.asarray(a))
        if (codes < 0).any():
            raise CheckError("labels or predictions outside the model's classes")
        out.append(codes.astype(np.int64))
    return out


def paired_metric(metric, y, base_pred, pert_pred, base_score, pert_score, classes, pos_label,
                  n_boot, rng, codes=None, n_groups=None) -> PairedResult:
    """Metric on base and derived predictions of the same rows, with paired bootstrap replicates.

    With ``codes`` (group per row), values and replicates are per group (stratified bootstrap).
    """
    if metric in CLASS_METRICS:
        classes = np.asarray(classes if classes is not None else np.unique(np.concatenate([y, base_pred])))
        yc, bc, pc = _class_codes(classes, y, base_pred, pert_pred)
        k = len(classes)
        cell = (yc * k + bc) * k + pc
        pos = int(np.flatnonzero(classes == pos_label)[0]) if pos_label in classes.tolist() else k - 1
        return paired_from_counts(metric, _cell_counts(cell, k ** 3, codes, n_groups), k, pos, n_boot, rng)
    if metric in SCORE_METRICS:
        if base_score is None or pert_score is None:
            raise CheckSkipped(f"metric {metric!r} needs positive-class scores of a binary classifier")
        return _paired_auc(y, base_score, pert_score, pos_label, n_boot, rng, codes, n_groups)
    if metric in REG_METRICS:
        return _paired_regression(metric, y, base_pred, pert_pred, n_boot, rng, codes, n_groups)
    raise CheckError(f"unknown metric {metric!r}")


def paired_from_counts(metric, counts, k: int, pos: int, n_boot: int, rng) -> PairedResult:
    """Paired values and replicates from (true, base, derived) cell counts ``(..., k**3)``.

    The one place both in-memory rows and a streamed audit's merged counts go through.
    """
    reps = bootstrap_counts(counts, n_boot, rng)

    def both(c):
        c = c.reshape(c.shape[:-1] + (k, k, k))
        return (metric_from_confusion(c.sum(-1), metric, pos), metric_from_confusion(c.sum(-2), metric, pos))

    b, p = both(counts)
    br, pr = both(reps)
    return PairedResult(b, p, br, pr)


def _cell_counts(cell, n_cells, codes, n_groups):
    if codes is None:
        return np.bincount(cell, minlength=n_cells).astype(np.int64)
    g = int(n_groups)
    return np.bincount(np.asarray(codes) * n_cells + cell, minlength=g * n_cells).reshape(g, n_cells)


def _paired_auc(y, sb, sp, pos_label, n_boot, rng, codes, n_groups):
    from sklearn.metrics import roc_auc_score

    t = (np.asarray(y) == pos_label).astype(np.int64)
    # Common quantile bins of both score sets; the exact AUC is the point value, and the
    # bootstrap runs on (class, base bin, derived bin) counts, shifted by the binning error.
    edges = np.unique(np.quantile(np.concatenate([sb, sp]), np.linspace(0, 1, AUC_BINS + 1)))
    nb = len(edges) + 1
    bb, bp = np.searchsorted(edges, sb, side="right"), np.searchsorted(edges, sp, side="right")
    cell = (t * nb + bb) * nb + bp
    counts = _cell_counts(cell, 2 * nb * nb, codes, n_groups)
    reps = bootstrap_counts(counts, n_boot, rng)

    def both(c):
        c = c.reshape(c.shape[:-1] + (2, nb, nb))
        hb, hp = c.sum(-1), c.sum(-2)
        return auc_from_hist(hb[..., 1, :], hb[..., 0, :]), auc_from_hist(hp[..., 1, :], hp[..., 0, :])

    bin_b, bin_p = both(counts)
    br, pr = both(reps)

    def exact(s, mask=None):
        tt, ss = (t, s) if mask is None else (t[mask], s[mask])
        return roc_auc_score(tt, ss) if 0 < tt.sum() < len(tt) else np.nan

    if codes is None:
        eb, ep = np.asarray(exact(sb)), np.asarray(exact(sp))
    else:
        eb = np.array([exact(sb, codes == g) for g in range(n_groups)])
        ep = np.array([exact(sp, codes == g) for g in range(n_groups)])
    return PairedResult(eb, ep, br + (eb - bin_b), pr + (ep - bin_p))


def _paired_regression(metric, y, pb, pp, n_boot, rng, codes, n_groups):
    y = np.asarray(y, dtype=float)
    eb, ep = np.asarray(pb, dtype=float) - y, np.asarray(pp, dtype=float) - y
    if codes is not None:
        vals = [_paired_regression(metric, y[codes == g], pb[codes == g], pp[codes == g], n_boot,
                                   rng, None, None) for g in range(n_groups)]
        return PairedResult(np.array([v.base for v in vals]), np.array([v.pert for v in vals]),
                            np.stack([v.base_reps for v in vals], -1), np.stack([v.pert_reps for v in vals], -1))

    def stat(w, e):
        n = w.sum(-1)
        if metric == "mae":
            return (w @ np.abs(e)) / n
        if metric == "rmse":
            return np.sqrt((w @ e**2) / n)
        ym = (w @ y) / n
        sst = w @ y**2 - n * ym**2
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - (w @ e**2) / sst

    one = np.ones((1, len(y)))
    br, pr = [], []
    for w in bootstrap_row_weights(len(y), n_boot, rng):
        br.append(stat(w, eb))
        pr.append(stat(w, ep))
    return PairedResult(stat(one, eb)[0], stat(one, ep)[0], np.concatenate(br), np.concatenate(pr))


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
