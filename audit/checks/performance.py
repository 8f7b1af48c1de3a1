"""Performance checks: accuracy-type, ranking, probabilistic and regression metrics.

Every value comes with a seeded percentile-bootstrap interval whose cost does
not grow with ``n_boot x rows``:

- confusion-matrix metrics resample the k x k cell counts (multinomial,
  :func:`audit.stats.bootstrap_counts`): exact in distribution;
- ROC AUC resamples per-class score histograms on shared rank bins
  (:mod:`audit.stats._histograms`);
- log loss, Brier score, MAE, RMSE and R^2 resample per-cell moments of the
  per-row quantities (:func:`audit.stats.bootstrap_binned_means`);
- ECE resamples (fine score bin, hit) cell counts.

Point values are exact (the same numbers scikit-learn gives). The checks only
read ``ctx.evalset()`` and ``ctx.predictions()``, so they run on any evaluation
set and in predictions-only audits.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import NoParams, register_check, register_summaries
from audit.errors import CheckError, CheckSkipped
from audit.results import Interval, Measurement
from audit.stats import (
    auc_from_counts,
    binned_moments,
    bootstrap_binned_means,
    bootstrap_counts,
    cell_codes,
    class_score_counts,
    confusion_matrix_counts,
    percentile_interval,
    wilson_interval,
)

__all__ = ["AverageParams", "ECEParams"]

# Histogram resolution of the AUC and mean bootstraps: 2 x 1024 cells cost ~0.1 s
# per 1000 replicates; the binning error of AUC is then below ~1/2048.
MAX_BINS = 1024
# Sub-bins per ECE bin: scores within a sub-bin (width 1/(n_bins*64)) are
# replaced by the sub-bin's mean score in bootstrap replicates.
ECE_SUB_BINS = 64
# The confusion-matrix table is skipped above this many classes (keeps details small).
MAX_TABLE_CLASSES = 20


class AverageParams(BaseModel):
    """Parameters of precision, recall and F1."""

    model_config = ConfigDict(extra="forbid")

    average: Literal["binary", "macro"] | None = Field(
        None, description="'binary' (positive class only) or 'macro' (unweighted mean over classes); "
                          "default: binary with two classes, macro otherwise")


class ECEParams(BaseModel):
    """Parameters of the expected calibration error."""

    model_config = ConfigDict(extra="forbid")

    n_bins: int = Field(10, ge=2, le=100, description="equal-width probability bins")


# --------------------------------------------------------------------------- inputs
def _labels(ctx):
    es = ctx.evalset()
    if es.y is None:
        raise CheckSkipped(f"needs labels; evaluation set {es.name!r} has no target")
    preds = ctx.predictions()
    return es, preds, np.asarray(es.y), np.asarray(preds.labels)


def _classes(ctx, *arrays) -> np.ndarray:
    parts = [np.asarray(a).ravel() for a in arrays]
    if ctx.classes is not None:
        parts.append(np.asarray(ctx.classes).ravel())
    return np.unique(np.concatenate(parts))


def _index_of(classes: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    order = np.argsort(classes, kind="stable")
    pos = np.clip(np.searchsorted(classes[order], values), 0, len(classes) - 1)
    idx = order[pos]
    if values.size and not np.array_equal(classes[idx], values):
        bad = np.unique(values[classes[idx] != values])[:5].tolist()
        raise CheckError(f"{what} {bad} not among the classes {classes.tolist()}")
    return idx


def _probabilities(ctx, y: np.ndarray, preds):
    """Class-probability matrix P (n, k), each row's true column t, the positive column
    (binary only, else None) and the column names.

    A stored single score column (predictions-only) is the positive-class score by
    the Dataset contract, whichever class is positive: it becomes P = [1-s, s].
    """
    if preds.proba is None:
        raise CheckSkipped("needs scores; no predicted probabilities for this evaluation set "
                           "(no score column, or the model has no predict_proba)")
    proba = np.asarray(preds.proba, dtype=np.float64)
    single = proba.ndim == 1 or (preds.stored and np.ndim(ctx.evalset().score) == 1)
    if single:
        s = proba if proba.ndim == 1 else proba[:, 1]
        if len(_classes(ctx, y)) > 2:
            raise CheckError("a single score column needs a binary target; "
                             f"found classes {_classes(ctx, y).tolist()}")
        P = np.column_stack([1.0 - s, s])
        return P, (y == ctx.pos_label).astype(np.int64), 1, ["other", str(ctx.pos_label)]
    classes = preds.classes if preds.classes is not None else ctx.classes
    if classes is None or len(classes) != proba.shape[1]:
        raise CheckError(f"probabilities have {proba.shape[1]} columns but the classes are {classes}")
    classes = np.asarray(classes)
    t = _index_of(classes, y, "target labels")
    pos = None
    if len(classes) == 2:
        pos = int(_index_of(classes, np.asarray([ctx.pos_label]), "pos_label")[0])
    return proba, t, pos, [str(c) for c in classes]


def _require_probabilities(P: np.ndarray) -> None:
    lo, hi = float(np.nanmin(P)), float(np.nanmax(P))
    if lo < 0.0 or hi > 1.0:
        raise CheckError(f"scores range over [{lo:.4g}, {hi:.4g}]; this metric needs probabilities in [0, 1]")


# --------------------------------------------------------------------------- output
def _fmt(v, spec: str) -> str:
    return "undefined" if v is None or not np.isfinite(v) else format(float(v), spec)


def _measurement(ctx, label: str, value: float, reps: np.ndarray, n: int, method: str,
                 details: dict | None = None, spec: str = ".3f", note: str = "") -> Measurement:
    """Value + percentile interval of ``reps`` + one-sentence message."""
    level = ctx.settings.confidence
    lo, hi = percentile_interval(reps, level) if len(reps) else (np.nan, np.nan)
    lo, hi = float(lo), float(hi)
    value = float(value)
    undefined = not np.isfinite(value)
    msg = (f"{label} {_fmt(value, spec)} [{_fmt(lo, spec)}, {_fmt(hi, spec)}] on {n:,} rows"
           + (f" ({note})" if note else ""))
    return Measurement(
        value=value, interval=Interval(low=lo, high=hi, level=level, method=method), n=int(n),
        message=msg, details=details or {},
        inconclusive=f"{label} is undefined on these rows (a class or a denominator is empty)"
        if undefined else None,
    )


def _boot(ctx) -> tuple[int, np.random.Generator]:
    return max(int(ctx.settings.n_boot), 0), ctx.rng("bootstrap")


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else None


# ------------------------------------------------------------- confusion-count metrics
def _from_counts(ctx, label: str, metric, counts: np.ndarray, n: int, details: dict) -> Measurement:
    """The shared path of every confusion-count metric: exact value, multinomial bootstrap.

    ``metric`` maps counts of shape ``(..., *counts.shape)`` to values of shape ``(...)``.
    Cost O(n_boot x cells), whatever the number of rows.
    """
    b, rng = _boot(ctx)
    reps = bootstrap_counts(counts.ravel(), b, rng).reshape((b,) + counts.shape)
    return _measurement(ctx, label, metric(counts), metric(reps), n, "bootstrap-counts", details)


def _per_class(cm: np.ndarray):
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    return tp, cm.sum(axis=-2) - tp, cm.sum(axis=-1) - tp  # tp, fp, fn per class


def _div(num, den, undefined=np.nan):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), undefined)


def _accuracy(cm):
    cm = np.asarray(cm, dtype=np.float64)
    return _div(np.trace(cm, axis1=-2, axis2=-1), cm.sum(axis=(-2, -1)))


def _balanced_accuracy(cm):
    # Recall averaged over the classes present in y_true (as scikit-learn).
    tp, _, fn = _per_class(cm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicate: undefined
        return np.nanmean(_div(tp, tp + fn), axis=-1)


_PRF = {  # numerator and denominator of each rate from (tp, fp, fn)
    "precision": lambda tp, fp, fn: (tp, tp + fp),
    "recall": lambda tp, fp, fn: (tp, tp + fn),
    "f1": lambda tp, fp, fn: (2 * tp, 2 * tp + fp + fn),
}
_PRF_LABEL = {"precision": "precision", "recall": "recall", "f1": "F1"}


def _prf_metric(kind: str):
    def build(ctx, classes, params):
        average = params.average or ("binary" if len(classes) == 2 else "macro")
        if average == "binary":
            if len(classes) != 2:
                raise CheckError(f"average='binary' needs two classes; found {len(classes)}: "
                                 "use average: macro")
            pos = int(_index_of(classes, np.asarray([ctx.pos_label]), "pos_label")[0])

            def metric(cm):
                num, den = _PRF[kind](*_per_class(cm))
                return _div(num[..., pos], den[..., pos])

            return metric, f"{_PRF_LABEL[kind]} (positive class {ctx.pos_label})"

        def macro(cm):
            # scikit-learn's macro average: classes seen in y_true or y_pred, 0 where undefined.
            tp, fp, fn = _per_class(cm)
            num, den = _PRF[kind](tp, fp, fn)
            seen = (tp + fp + fn) > 0
            return _div((_div(num, den, 0.0) * seen).sum(axis=-1), seen.sum(axis=-1))

        return macro, f"macro {_PRF_LABEL[kind]}"

    return build


def _confusion_table(cm: np.ndarray, classes: np.ndarray) -> dict:
    return {"title": "Confusion matrix (rows: true class, columns: predicted class)",
            "columns": ["true \\ predicted"] + [str(c) for c in classes],
            "rows": [[str(c)] + [int(v) for v in row] for c, row in zip(classes, cm, strict=True)]}


def _confusion_check(id: str, doc: str, build, params=NoParams) -> None:
    def check(ctx, params):
        if ctx.summaries is not None:
            cm, classes = ctx.summaries.confusion(ctx.evalset_name)
        else:
            _, _, y, yp = _labels(ctx)
            classes = _classes(ctx, y, yp)
            cm = confusion_matrix_counts(y, yp, classes)
        metric, label = build(ctx, classes, params)
        tables = [_confusion_table(cm, classes)] if len(classes) <= MAX_TABLE_CLASSES else []
        return _from_counts(ctx, label, metric, cm, int(cm.sum()), {"tables": tables})

    check.__doc__ = doc
    check.__name__ = check.__qualname__ = id.split(".", 1)[1]
    register_check(id, params=params, needs={"labels"}, tasks={"classification"},
                   higher_is_better=True)(check)
    register_summaries(id, lambda es, params, ctx: [("confusion", es, None)])


_confusion_check("performance.accuracy", "Share of correct predictions (any number of classes).",
                 lambda ctx, classes, p: (_accuracy, "accuracy"))
_confusion_check("performance.balanced_accuracy",
                 "Recall averaged over the true classes (robust to class imbalance).",
                 lambda ctx, classes, p: (_balanced_accuracy, "balanced accuracy"))
_confusion_check("performance.precision",
                 "Precision: share of predicted positives that are positive (binary or macro).",
                 _prf_metric("precision"), AverageParams)
_confusion_check("performance.recall",
                 "Recall: share of actual positives predicted positive (binary or macro).",
                 _prf_metric("recall"), AverageParams)
_confusion_check("performance.f1", "F1 score: harmonic mean of precision and recall (binary or macro).",
                 _prf_metric("f1"), AverageParams)


# ---------------------------------------------------------------------------- ROC AUC
@register_check("performance.roc_auc", needs={"labels", "scores"}, tasks={"classification"},
                higher_is_better=True)
def roc_auc(ctx, params):
    """Area under the ROC curve of the positive-class score (binary classification)."""
    from sklearn.metrics import roc_auc_score

    if ctx.summaries is not None:
        return _roc_auc_streamed(ctx)
    _, preds, y, _ = _labels(ctx)
    P, t, pos, _ = _probabilities(ctx, y, preds)
    if pos is None:
        raise CheckSkipped("ROC AUC is computed for binary classification only; "
                           f"this audit has {P.shape[1]} classes")
    score, positive = P[:, pos], t == pos
    value = roc_auc_score(positive, score) if 0 < positive.sum() < len(positive) else np.nan
    counts, exact = class_score_counts(score, positive, MAX_BINS)
    # Rows in one rank bin count as tied in the replicates; the replicates are shifted
    # by the observed binning error (zero when every distinct score has its own bin).
    shift = 0.0 if exact or not np.isfinite(value) else value - float(auc_from_counts(counts))
    b, rng = _boot(ctx)
    reps = auc_from_counts(bootstrap_counts(counts.ravel(), b, rng).reshape(b, 2, -1)) + shift
    table = {"title": "Rows by class", "columns": ["class", "rows"],
             "rows": [[f"positive ({ctx.pos_label})", int(positive.sum())],
                      ["negative", int((~positive).sum())]]}
    return _measurement(ctx, "ROC AUC", value, reps, len(y), "bootstrap-score-histogram",
                        {"tables": [table], "charts": [_score_histogram(score, positive, ctx.pos_label)]},
                        note=f"{counts.shape[1]} score bins{'' if exact else ', binned bootstrap'}")


def _roc_auc_streamed(ctx) -> Measurement:
    """ROC AUC from the merged fine score histogram of a streamed audit (2**16 equal-width bins).

    Scores in one bin count as tied, so the value can differ from the exact AUC by at most
    half the share of positive-negative pairs that share a bin (reported in the message).
    """
    counts = ctx.summaries.get("scores", ctx.evalset_name)  # (2, bins): negatives, positives
    value = float(auc_from_counts(counts))
    tied = float((counts[0] * counts[1]).sum()) / max(float(counts[0].sum() * counts[1].sum()), 1.0)
    # The bootstrap runs on 1024 coarser bins, shifted by their binning error (as in memory).
    coarse = counts.reshape(2, MAX_BINS, -1).sum(axis=2)
    shift = value - float(auc_from_counts(coarse)) if np.isfinite(value) else 0.0
    b, rng = _boot(ctx)
    reps = auc_from_counts(bootstrap_counts(coarse.ravel(), b, rng).reshape(b, 2, -1)) + shift
    n_pos, n = int(counts[1].sum()), int(counts.sum())
    table = {"title": "Rows by class", "columns": ["class", "rows"],
             "rows": [[f"positive ({ctx.pos_label})", n_pos], ["negative", n - n_pos]]}
    hist = counts.reshape(2, 16, -1).sum(axis=2)  # 16 chart bins: they divide the 2**16 score bins
    edges = np.linspace(0.0, 1.0, hist.shape[1] + 1)
    chart = {"kind": "histogram", "title": "Score by true class", "xlabel": "positive-class score",
             "edges": [float(e) for e in edges],
             "series": [{"name": f"positive ({ctx.pos_label})", "counts": [int(c) for c in hist[1]]},
                        {"name": "negative", "counts": [int(c) for c in hist[0]]}]}
    return _measurement(ctx, "ROC AUC", value, reps, n, "bootstrap-score-histogram",
                        {"tables": [table], "charts": [chart], "tied_pair_share": tied},
                        note=f"{counts.shape[1]:,} score bins; error at most {tied / 2:.1e}")


register_summaries("performance.roc_auc", lambda es, params, ctx: [("scores", es, None)])


def _score_histogram(score, positive, pos_label, bins: int = 20) -> dict:
    lo, hi = float(np.min(score)), float(np.max(score))
    if 0.0 <= lo and hi <= 1.0:
        lo, hi = 0.0, 1.0
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    series = [{"name": name, "counts": [int(c) for c in np.histogram(score[mask], edges)[0]]}
              for name, mask in ((f"positive ({pos_label})", positive), ("negative", ~positive))]
    return {"kind": "histogram", "title": "Score by true class", "xlabel": "positive-class score",
            "edges": [float(e) for e in edges], "series": series}


# ----------------------------------------------------------------- mean-loss metrics
def _mean_of_rows(ctx, label: str, values: np.ndarray, keys, spec: str, details: dict) -> Measurement:
    """Exact mean of per-row values, interval by the binned-moment bootstrap.

    Cost O(n) once (one sort per key) plus O(n_boot x cells); with at most
    MAX_BINS rows it is a plain row bootstrap ("bootstrap-rows").
    """
    codes, k = cell_codes(keys, MAX_BINS)
    b, rng = _boot(ctx)
    reps = bootstrap_binned_means(binned_moments(values, codes, k), b, rng)[:, 0]
    method = "bootstrap-rows" if k == len(values) else "bootstrap-binned"
    return _measurement(ctx, label, float(np.mean(values)), reps, len(values), method, details, spec)


def _loss_by_class(loss: np.ndarray, t: np.ndarray, names: list[str], label: str) -> dict:
    k = len(names)
    cnt = np.bincount(t, minlength=k)
    tot = np.bincount(t, loss, minlength=k)
    rows = [[names[i], int(cnt[i]), _num(tot[i] / cnt[i]) if cnt[i] else None] for i in range(k)]
    return {"tables": [{"title": f"Mean {label} by true class", "columns": ["class", "rows", label],
                        "rows": rows}]}


@register_check("performance.log_loss", needs={"labels", "scores"}, tasks={"classification"},
                higher_is_better=False)
def log_loss(ctx, params):
    """Log loss (cross-entropy) of the predicted class probabilities."""
    if ctx.summaries is not None:
        return _loss_streamed(ctx, "log_loss", "log loss")
    _, preds, y, _ = _labels(ctx)
    P, t, pos, names = _probabilities(ctx, y, preds)
    _require_probabilities(P)
    eps = np.finfo(np.float64).eps  # the clipping scikit-learn applies
    loss = -np.log(np.clip(P[np.arange(len(t)), t], eps, 1.0 - eps))
    return _mean_of_rows(ctx, "log loss", loss, [loss], ".4f",
                         _loss_by_class(loss, t, names, "log loss"))


@register_check("performance.brier_score", needs={"labels", "scores"}, tasks={"classification"},
                higher_is_better=False)
def brier_score(ctx, params):
    """Brier score: mean squared error of the predicted probabilities (binary: of the positive class)."""
    if ctx.summaries is not None:
        return _loss_streamed(ctx, "brier", "Brier score")
    _, preds, y, _ = _labels(ctx)
    P, t, pos, names = _probabilities(ctx, y, preds)
    _require_probabilities(P)
    if pos is not None:
        loss = ((t == pos) - P[:, pos]) ** 2
    else:  # scikit-learn's multiclass Brier score: sum over classes, not halved
        onehot = np.zeros_like(P)
        onehot[np.arange(len(t)), t] = 1.0
        loss = ((onehot - P) ** 2).sum(axis=1)
    return _mean_of_rows(ctx, "Brier score", loss, [loss], ".4f",
                         _loss_by_class(loss, t, names, "Brier score"))


def _loss_streamed(ctx, kind: str, label: str) -> Measurement:
    """Mean loss of a streamed audit from per-(class, loss bin) counts and fixed-point sums.

    The value is exact up to the 2**-32 fixed point; the interval bootstraps the
    loss-bin cells with their within-cell spread (:func:`bootstrap_binned_means`).
    """
    from audit.scale import SUM_SCALE, SUMSQ_SCALE
    from audit.stats import BinnedMoments

    s = ctx.summaries.get("loss", ctx.evalset_name, kind)
    cnt = s["count"]
    total = s["sum"].astype(np.float64) / SUM_SCALE
    sq = s["sumsq"].astype(np.float64) / SUMSQ_SCALE
    safe = np.maximum(cnt, 1)
    means = total / safe
    roots = np.sqrt(np.clip(sq / safe - means ** 2, 0.0, None))
    bm = BinnedMoments(cnt, means[:, None], roots[:, None, None])
    b, rng = _boot(ctx)
    reps = bootstrap_binned_means(bm, b, rng)[:, 0]
    n = int(cnt.sum())
    classes = ctx.summaries.classes
    k = len(classes)
    by_cnt = cnt.reshape(k, -1).sum(axis=1)
    by_tot = total.reshape(k, -1).sum(axis=1)
    names = [str(c) for c in classes]
    rows = [[names[i], int(by_cnt[i]), _num(by_tot[i] / by_cnt[i]) if by_cnt[i] else None] for i in range(k)]
    details = {"tables": [{"title": f"Mean {label} by true class", "columns": ["class", "rows", label],
                           "rows": rows}]}
    return _measurement(ctx, label, float(total.sum()) / max(n, 1), reps, n, "bootstrap-binned", details, ".4f")


for _id, _kind in (("performance.log_loss", "log_loss"), ("performance.brier_score", "brier")):
    register_summaries(_id, lambda es, params, ctx, _k=_kind: [("loss", es, _k)])


# ------------------------------------------------------------------------------- ECE
def _ece(counts, means, n_bins: int):
    """ECE from (bin, sub-bin, hit) cell counts ``(..., n_bins*S*2)`` and cell mean scores."""
    c = np.asarray(counts, dtype=np.float64).reshape(np.shape(counts)[:-1] + (n_bins, -1, 2))
    conf = (c * means.reshape(n_bins, -1, 2)).sum(axis=(-2, -1))
    hits = c[..., 1].sum(axis=-1)
    return _div(np.abs(hits - conf).sum(axis=-1), c.sum(axis=(-3, -2, -1)))


@register_check("performance.expected_calibration_error", params=ECEParams,
                needs={"labels", "scores"}, tasks={"classification"}, higher_is_better=False)
def expected_calibration_error(ctx, params):
    """Expected calibration error: row-weighted gap between predicted probability and observed rate.

    Binary: the positive-class probability against the positive rate, in
    ``n_bins`` equal-width bins ``[b/K, (b+1)/K)`` (the last one closed).
    Multiclass: the top-class probability against accuracy.

    ECE is biased upward in finite samples (|gap| of a noisy bin > 0) and its
    bootstrap replicates more so: the interval shows the sampling spread and
    often sits above the point value; compare the point value with thresholds.
    """
    k, s = params.n_bins, ECE_SUB_BINS
    if ctx.summaries is not None:
        from audit.scale import SUM_SCALE

        e = ctx.summaries.get("ece", ctx.evalset_name, k)
        counts = e["count"]
        means = e["sum"].astype(np.float64) / SUM_SCALE / np.maximum(counts, 1)
        binary = len(ctx.summaries.classes) == 2
        return _ece_measurement(ctx, counts, means, k, binary)
    _, preds, y, _ = _labels(ctx)
    P, t, pos, _ = _probabilities(ctx, y, preds)
    _require_probabilities(P)
    if pos is not None:
        conf, hit = P[:, pos], (t == pos)
    else:
        conf, hit = P.max(axis=1), P.argmax(axis=1) == t
    b = np.minimum((conf * k).astype(np.int64), k - 1)
    sub = np.clip(((conf * k - b) * s).astype(np.int64), 0, s - 1)
    cell = (b * s + sub) * 2 + hit.astype(np.int64)
    counts = np.bincount(cell, minlength=k * s * 2).astype(np.int64)
    # Replicates replace each score by its (sub-bin, hit) cell mean: error < 1/(k*s) per row.
    means = np.bincount(cell, conf, minlength=k * s * 2) / np.maximum(counts, 1)
    return _ece_measurement(ctx, counts, means, k, pos is not None)


def _ece_measurement(ctx, counts, means, k: int, binary: bool) -> Measurement:
    boot, rng = _boot(ctx)
    reps = _ece(bootstrap_counts(counts, boot, rng), means, k)
    details = _reliability(counts, means, k, ctx.settings.confidence,
                           f"positive rate ({ctx.pos_label})" if binary else "accuracy")
    return _measurement(ctx, "expected calibration error", _ece(counts, means, k), reps, int(counts.sum()),
                        "bootstrap-counts", details, note=f"{k} bins")


register_summaries("performance.expected_calibration_error",
                   lambda es, params, ctx: [("ece", es, params.n_bins)])


def _reliability(counts, means, k: int, level: float, observed: str) -> dict:
    c = counts.reshape(k, -1, 2).astype(np.float64)
    n_b = c.sum(axis=(1, 2))
    conf_b = _div((c * means.reshape(k, -1, 2)).sum(axis=(1, 2)), n_b)
    hits_b = c[..., 1].sum(axis=1)
    lo, hi = wilson_interval(hits_b, n_b, level)
    rate = _div(hits_b, n_b)
    rows, x, ys, lows, highs = [], [], [], [], []
    for i in range(k):
        rows.append([f"[{i / k:.2f}, {(i + 1) / k:.2f}{']' if i == k - 1 else ')'}", int(n_b[i]),
                     _num(conf_b[i]), _num(rate[i]), _num(rate[i] - conf_b[i])])
        if n_b[i] > 0:
            x.append(_num(conf_b[i]))
            ys.append(_num(rate[i]))
            lows.append(_num(lo[i]))
            highs.append(_num(hi[i]))
    table = {"title": "Reliability table", "columns": ["probability bin", "rows", "mean predicted",
                                                       observed, "gap"], "rows": rows}
    chart = {"kind": "curve", "title": "Reliability diagram", "x": x, "xlabel": "mean predicted probability",
             "ylabel": observed, "threshold": {"min": None, "max": None},
             "series": [{"name": f"observed {observed}", "y": ys, "low": lows, "high": highs},
                        {"name": "perfect calibration", "y": list(x), "low": None, "high": None}]}
    return {"tables": [table], "charts": [chart]}


# ------------------------------------------------------------------------ regression
# Per-row statistics [|e|, e^2, yc, yc^2] (yc = y - mean y, centred to avoid cancellation).
def _mae(m):
    return m[..., 0]


def _rmse(m):
    return np.sqrt(m[..., 1])


def _r2(m):
    return 1.0 - _div(m[..., 1], m[..., 3] - m[..., 2] ** 2)


def _regression_check(id: str, label: str, metric, higher: bool, doc: str) -> None:
    def check(ctx, params):
        _, _, y, yp = _labels(ctx)
        y, yp = y.astype(np.float64), yp.astype(np.float64)
        e = yp - y
        yc = y - y.mean()
        stats = np.column_stack([np.abs(e), e * e, yc, yc * yc])
        # Cells on a grid of |error| x y rank bins: O(n log n) once, then O(n_boot x cells).
        codes, k = cell_codes([np.abs(e), y], MAX_BINS)
        b, rng = _boot(ctx)
        reps = metric(bootstrap_binned_means(binned_moments(stats, codes, k), b, rng))
        m = stats.mean(axis=0)
        rows = [["rows", len(y)], ["mean error (prediction - target)", _num(e.mean())],
                ["MAE", _num(_mae(m))], ["RMSE", _num(_rmse(m))], ["R²", _num(_r2(m))]]
        edges = np.histogram_bin_edges(e, bins=30)
        details = {"tables": [{"title": "Error summary", "columns": ["statistic", "value"], "rows": rows}],
                   "charts": [{"kind": "histogram", "title": "Residuals (prediction - target)",
                               "xlabel": "residual", "edges": [float(v) for v in edges],
                               "series": [{"name": "rows", "counts": [int(c) for c in np.histogram(e, edges)[0]]}]}]}
        method = "bootstrap-rows" if k == len(y) else "bootstrap-binned"
        return _measurement(ctx, label, metric(m), reps, len(y), method, details, spec="#.4g")

    check.__doc__ = doc
    check.__name__ = check.__qualname__ = id.split(".", 1)[1]
    register_check(id, needs={"labels"}, tasks={"regression"}, higher_is_better=higher)(check)


_regression_check("performance.mae", "MAE", _mae, False, "Mean absolute error of the predictions.")
_regression_check("performance.rmse", "RMSE", _rmse, False, "Root mean squared error of the predictions.")
_regression_check("performance.r2", "R²", _r2, True,
                  "Coefficient of determination R² (1 - residual / total sum of squares).")

