"""Performance checks: accuracy-type, ranking, probabilistic and regression metrics.

Every check computes from mergeable summaries (:mod:`audit.stats.summaries`),
so it has one code path and gives the same numbers on every executor. Every
value comes with a seeded percentile-bootstrap interval whose cost does not
grow with ``n_boot x rows``:

- confusion-matrix metrics resample the k x k cell counts (multinomial,
  :func:`audit.stats.bootstrap_counts`): exact in distribution;
- ROC AUC resamples per-class score histograms (2**16 equal-width score bins,
  coarsened to 1024 for the replicates);
- log loss, Brier score, MAE, RMSE and R^2 resample per-cell moments of the
  per-row quantities (:func:`audit.stats.bootstrap_binned_means`);
- ECE resamples (fine score bin, hit) cell counts.

Point values are scikit-learn's: exact for counts and regression errors (exact
sums), within 2**-32 per row for the fixed-point loss sums, and for ROC AUC
within half the share of positive-negative pairs sharing a score bin (reported).

In a weighted audit (``data.weight``) every metric is scikit-learn's with
``sample_weight``: computed from the weighted twins of the same summaries
(exact weight sums per cell), with the weighted count bootstrap
(:mod:`audit.stats._weights`: rows resampled, each cell carrying its weights).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import NoParams, register_check
from audit.errors import CheckError, CheckSkipped
from audit.results import Interval, Measurement
from audit.stats import (
    auc_from_counts,
    bootstrap_binned_means,
    bootstrap_counts,
    percentile_interval,
    wilson_interval,
)
from audit.stats._moments import REGRESSION_COLUMNS, moments_of
from audit.stats.summaries import SUM_SCALE

__all__ = ["AverageParams", "ECEParams"]

# Histogram resolution of the AUC bootstrap: 2 x 1024 cells cost ~0.1 s per 1000
# replicates; the replicates are shifted by the binning error of the coarser bins.
MAX_BINS = 1024
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
def _index_of(classes: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    order = np.argsort(classes, kind="stable")
    pos = np.clip(np.searchsorted(classes[order], values), 0, len(classes) - 1)
    idx = order[pos]
    if values.size and not np.array_equal(classes[idx], values):
        bad = np.unique(values[classes[idx] != values])[:5].tolist()
        raise CheckError(f"{what} {bad} not among the classes {classes.tolist()}")
    return idx


def _binary(ctx, what: str) -> None:
    k = len(ctx.summaries.classes)
    if k != 2:
        raise CheckSkipped(f"{what} is computed for binary classification only; this audit has {k} classes")


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
def _weight_details(t) -> dict:
    """What a weighted value rests on: the weight total and Kish's effective number of rows."""
    from audit.stats._weights import kish_n

    w, w2 = float(np.sum(t.w)), float(np.sum(t.w2))
    return {"weighted": {"sum_of_weights": w, "effective_rows": float(kish_n(w, w2))}}


def _from_tally(ctx, label: str, metric, t, n: int, details: dict) -> Measurement:
    """The weighted path of a confusion-count metric: weighted counts, weighted count bootstrap."""
    b, rng = _boot(ctx)
    shape = t.n.shape
    reps = t.map(np.ravel).resample(b, rng).reshape((b,) + shape)
    return _measurement(ctx, label, metric(t.w), metric(reps), n, "bootstrap-weighted-counts",
                        {**details, **_weight_details(t)})


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
        cm, classes = ctx.summaries.confusion(ctx.evalset_name)
        metric, label = build(ctx, classes, params)
        tables = [_confusion_table(cm, classes)] if len(classes) <= MAX_TABLE_CLASSES else []
        if ctx.summaries.weighted:
            k = len(classes)
            t = ctx.summaries.tally("confusion", ctx.evalset_name, size=k * k).map(lambda a: np.reshape(a, (k, k)))
            return _from_tally(ctx, label, metric, t, int(cm.sum()), {"tables": tables})
        return _from_counts(ctx, label, metric, cm, int(cm.sum()), {"tables": tables})

    check.__doc__ = doc
    check.__name__ = check.__qualname__ = id.split(".", 1)[1]
    register_check(id, params=params, needs={"labels"}, tasks={"classification"}, higher_is_better=True,
                   summaries=lambda es, params, view: [("confusion", es, None)])(check)


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
                higher_is_better=True, summaries=lambda es, params, view: [("scores", es, None)])
def roc_auc(ctx, params):
    """Area under the ROC curve of the positive-class score (binary classification).

    From the merged per-class score histogram (2**16 equal-width bins): scores in one
    bin count as tied, so the value can differ from the exact AUC by at most half the
    share of positive-negative pairs that share a bin (reported in the message).
    """
    _binary(ctx, "ROC AUC")
    counts = ctx.summaries.get("scores", ctx.evalset_name)  # (2, bins): negatives, positives
    if ctx.summaries.weighted:
        return _weighted_auc(ctx, counts, ctx.summaries.weighted_summary("scores", ctx.evalset_name))
    value = float(auc_from_counts(counts))
    tied = float((counts[0] * counts[1]).sum()) / max(float(counts[0].sum() * counts[1].sum()), 1.0)
    # The bootstrap runs on 1024 coarser bins, shifted by their binning error.
    coarse = counts.reshape(2, MAX_BINS, -1).sum(axis=2)
    shift = value - float(auc_from_counts(coarse)) if np.isfinite(value) else 0.0
    b, rng = _boot(ctx)
    reps = auc_from_counts(bootstrap_counts(coarse.ravel(), b, rng).reshape(b, 2, -1)) + shift
    n_pos, n = int(counts[1].sum()), int(counts.sum())
    table = {"title": "Rows by class", "columns": ["class", "rows"],
             "rows": [[f"positive ({ctx.pos_label})", n_pos], ["negative", n - n_pos]]}
    return _measurement(ctx, "ROC AUC", value, reps, n, "bootstrap-score-histogram",
                        {"tables": [table], "charts": [_score_histogram(counts, ctx.pos_label)],
                         "tied_pair_share": tied},
                        note=f"{counts.shape[1]:,} score bins; error at most {tied / 2:.1e}")


def _weighted_auc(ctx, counts, wsum) -> Measurement:
    """ROC AUC with row weights: the weighted Mann-Whitney statistic (scikit-learn's ``roc_auc_score``
    with ``sample_weight``) from weighted score histograms; weighted bootstrap of the coarse bins."""
    from audit.stats._weights import Tally

    v = wsum.values()
    w, w2 = v[:, 0].reshape(2, -1), v[:, 1].reshape(2, -1)
    value = float(auc_from_counts(w))
    tied = float((w[0] * w[1]).sum()) / max(float(w[0].sum() * w[1].sum()), 1e-300)

    def coarse(a):
        return a.reshape(2, MAX_BINS, -1).sum(axis=2)

    t = Tally(coarse(counts), coarse(w), coarse(w2))
    shift = value - float(auc_from_counts(t.w)) if np.isfinite(value) else 0.0
    b, rng = _boot(ctx)
    reps = auc_from_counts(t.map(np.ravel).resample(b, rng).reshape(b, 2, -1)) + shift
    n_pos, n = int(counts[1].sum()), int(counts.sum())
    table = {"title": "Rows by class", "columns": ["class", "rows", "sum of weights"],
             "rows": [[f"positive ({ctx.pos_label})", n_pos, float(w[1].sum())],
                      ["negative", n - n_pos, float(w[0].sum())]]}
    return _measurement(ctx, "ROC AUC", value, reps, n, "bootstrap-weighted-score-histogram",
                        {"tables": [table], "charts": [_score_histogram(counts, ctx.pos_label)],
                         "tied_pair_share": tied, **_weight_details(t)},
                        note=f"weighted; {counts.shape[1]:,} score bins; error at most {tied / 2:.1e}")


def _score_histogram(counts: np.ndarray, pos_label, bins: int = 20) -> dict:
    # 20 chart bins of the 2**16 score bins (shares, so classes of different sizes compare).
    hist = counts.reshape(2, bins, -1).sum(axis=2) if counts.shape[1] % bins == 0 else None
    if hist is None:
        hist = np.stack([np.bincount(np.arange(counts.shape[1]) * bins // counts.shape[1], weights=c,
                                     minlength=bins) for c in counts])
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {"kind": "histogram", "title": "Score by true class", "xlabel": "positive-class score",
            "edges": [float(e) for e in edges],
            "series": [{"name": f"positive ({pos_label})", "counts": [int(c) for c in hist[1]]},
                       {"name": "negative", "counts": [int(c) for c in hist[0]]}]}


# ----------------------------------------------------------------- mean-loss metrics
@register_check("performance.log_loss", needs={"labels", "scores"}, tasks={"classification"},
                higher_is_better=False, summaries=lambda es, params, view: [("loss", es, "log_loss")])
def log_loss(ctx, params):
    """Log loss (cross-entropy) of the predicted class probabilities."""
    return _loss(ctx, "log_loss", "log loss")


@register_check("performance.brier_score", needs={"labels", "scores"}, tasks={"classification"},
                higher_is_better=False, summaries=lambda es, params, view: [("loss", es, "brier")])
def brier_score(ctx, params):
    """Brier score: mean squared error of the predicted probabilities (binary: of the positive class)."""
    return _loss(ctx, "brier", "Brier score")


def _loss(ctx, kind: str, label: str) -> Measurement:
    """Mean loss from per-(class, loss bin) counts and exact sums.

    The value is the exact mean, rounded once; the interval bootstraps the loss-bin
    cells with their within-cell spread (:func:`bootstrap_binned_means`).
    """
    from audit.stats import BinnedMoments

    if ctx.summaries.weighted:
        return _weighted_loss(ctx, kind, label)
    s = ctx.summaries.get("loss", ctx.evalset_name, kind)
    cnt = s["count"]
    sums = s["sums"].values()
    total, sq = sums[:, 0], sums[:, 1]
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
    value = float(s["sums"].fractions()[0] / n) if n else float("nan")
    return _measurement(ctx, label, value, reps, n, "bootstrap-binned", details, ".4f")


def _weighted_loss(ctx, kind: str, label: str) -> Measurement:
    """Weighted mean loss ``sum(w * loss) / sum(w)`` (exact sums, rounded once); the interval
    bootstraps the loss-bin cells of the per-row vector ``(w, w * loss)`` (moment-matched) and
    takes the ratio of the replicate sums."""
    from audit.stats._weights import Tally, binned_from_sums

    wc = ctx.summaries.weighted_summary("loss", ctx.evalset_name, kind)
    cnt = wc.counts
    v = wc.values()  # w, w^2, w*loss, w^2*loss, w^2*loss^2 per cell
    first = np.column_stack([v[:, 0], v[:, 2]])
    second = np.stack([np.stack([v[:, 1], v[:, 3]], -1), np.stack([v[:, 3], v[:, 4]], -1)], -2)
    b, rng = _boot(ctx)
    reps = bootstrap_binned_means(binned_from_sums(cnt, first, second), b, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = reps[:, 1] / reps[:, 0]
    fr = wc.sums.fractions()
    n = int(cnt.sum())
    value = float(fr[2] / fr[0]) if fr[0] else float("nan")
    classes = ctx.summaries.classes
    k = len(classes)
    by_cnt = cnt.reshape(k, -1).sum(axis=1)
    by_w = v[:, 0].reshape(k, -1).sum(axis=1)
    by_tot = v[:, 2].reshape(k, -1).sum(axis=1)
    rows = [[str(classes[i]), int(by_cnt[i]), float(by_w[i]), _num(by_tot[i] / by_w[i]) if by_w[i] else None]
            for i in range(k)]
    details = {"tables": [{"title": f"Weighted mean {label} by true class",
                           "columns": ["class", "rows", "sum of weights", label], "rows": rows}],
               **_weight_details(Tally(cnt, v[:, 0], v[:, 1]))}
    return _measurement(ctx, label, value, reps, n, "bootstrap-weighted-binned", details, ".4f", note="weighted")


# ------------------------------------------------------------------------------- ECE
def _ece(counts, means, n_bins: int):
    """ECE from (bin, sub-bin, hit) cell counts ``(..., n_bins*S*2)`` and cell mean scores."""
    c = np.asarray(counts, dtype=np.float64).reshape(np.shape(counts)[:-1] + (n_bins, -1, 2))
    conf = (c * means.reshape(n_bins, -1, 2)).sum(axis=(-2, -1))
    hits = c[..., 1].sum(axis=-1)
    return _div(np.abs(hits - conf).sum(axis=-1), c.sum(axis=(-3, -2, -1)))


@register_check("performance.expected_calibration_error", params=ECEParams,
                needs={"labels", "scores"}, tasks={"classification"}, higher_is_better=False,
                summaries=lambda es, params, view: [("ece", es, params.n_bins)])
def expected_calibration_error(ctx, params):
    """Expected calibration error: row-weighted gap between predicted probability and observed rate.

    Binary: the positive-class probability against the positive rate, in
    ``n_bins`` equal-width bins ``[b/K, (b+1)/K)`` (the last one closed).
    Multiclass: the top-class probability against accuracy.

    ECE is biased upward in finite samples (|gap| of a noisy bin > 0) and its
    bootstrap replicates more so: the interval shows the sampling spread and
    often sits above the point value; compare the point value with thresholds.
    """
    k = params.n_bins
    if ctx.summaries.weighted:
        return _weighted_ece(ctx, k, len(ctx.summaries.classes) == 2)
    e = ctx.summaries.get("ece", ctx.evalset_name, k)
    counts = e["count"]
    # Replicates replace each score by its (sub-bin, hit) cell mean: error < 1/(k*64) per row.
    means = e["sum"].astype(np.float64) / SUM_SCALE / np.maximum(counts, 1)
    return _ece_measurement(ctx, counts, means, k, len(ctx.summaries.classes) == 2)


def _ece_measurement(ctx, counts, means, k: int, binary: bool) -> Measurement:
    boot, rng = _boot(ctx)
    reps = _ece(bootstrap_counts(counts, boot, rng), means, k)
    details = _reliability(counts, means, k, ctx.settings.confidence,
                           f"positive rate ({ctx.pos_label})" if binary else "accuracy")
    return _measurement(ctx, "expected calibration error", _ece(counts, means, k), reps, int(counts.sum()),
                        "bootstrap-counts", details, note=f"{k} bins")


def _weighted_ece(ctx, k: int, binary: bool) -> Measurement:
    """ECE with row weights: ``sum_b |sum w (hit - conf)| / sum w`` over the bins; replicates carry
    each (sub-bin, hit) cell's weights and its weighted mean confidence."""
    from audit.stats._weights import Tally

    wc = ctx.summaries.weighted_summary("ece", ctx.evalset_name, k)
    v = wc.values()  # w, w^2, w*conf per cell
    t = Tally(wc.counts, v[:, 0], v[:, 1])
    means = _div(v[:, 2], v[:, 0], 0.0)
    boot, rng = _boot(ctx)
    reps = _ece(t.resample(boot, rng), means, k)
    details = _reliability(t.w, means, k, ctx.settings.confidence,
                           f"positive rate ({ctx.pos_label})" if binary else "accuracy", w2=t.w2)
    details.update(_weight_details(t))
    return _measurement(ctx, "expected calibration error", _ece(t.w, means, k), reps, int(t.n.sum()),
                        "bootstrap-weighted-counts", details, note=f"weighted; {k} bins")


def _reliability(counts, means, k: int, level: float, observed: str, w2=None) -> dict:
    c = counts.reshape(k, -1, 2).astype(np.float64)
    n_b = c.sum(axis=(1, 2))
    conf_b = _div((c * means.reshape(k, -1, 2)).sum(axis=(1, 2)), n_b)
    hits_b = c[..., 1].sum(axis=1)
    if w2 is None:
        lo, hi = wilson_interval(hits_b, n_b, level)
    else:  # weighted: Wilson on Kish's effective rows of each bin
        from audit.stats._weights import wilson_kish

        lo, hi = wilson_kish(hits_b, n_b, np.asarray(w2).reshape(k, -1).sum(axis=1), level)
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
# Per-row statistics [|e|, e^2, y, y^2, prediction] in cells of |error| (log2 bins); their
# exact sums give exact point values, their within-cell moments the bootstrap.
def _mae(m):
    return m[..., 0]


def _rmse(m):
    return np.sqrt(m[..., 1])


def _r2(m):
    return 1.0 - _div(m[..., 1], m[..., 3] - m[..., 2] ** 2)


def _regression_check(id: str, label: str, metric, exact, higher: bool, doc: str) -> None:
    def check(ctx, params):
        if ctx.summaries.weighted:
            return _weighted_regression(ctx, id, label)
        mom = moments_of(ctx.summaries.get("moments", ctx.evalset_name))
        b, rng = _boot(ctx)
        reps = metric(bootstrap_binned_means(mom.binned, b, rng))
        n = mom.n
        f = mom.exact_means()
        mean_err = f["pred"] - f["y"]
        rows = [["rows", n], ["mean error (prediction - target)", _num(mean_err)],
                ["MAE", _num(f["abs_error"])], ["RMSE", _num(np.sqrt(f["sq_error"]))],
                ["R²", _num(mom.exact_r2())]]
        details = {"tables": [{"title": "Error summary", "columns": ["statistic", "value"], "rows": rows}],
                   "charts": [mom.error_chart()]}
        return _measurement(ctx, label, exact(mom), reps, n, "bootstrap-binned", details, spec="#.4g")

    check.__doc__ = doc
    check.__name__ = check.__qualname__ = id.split(".", 1)[1]
    register_check(id, needs={"labels"}, tasks={"regression"}, higher_is_better=higher,
                   summaries=lambda es, params, view: [("moments", es, None)])(check)


def _w_mae(m):
    return m[..., 1] / m[..., 0]


def _w_rmse(m):
    return np.sqrt(m[..., 2] / m[..., 0])


def _w_r2(m):
    # scikit-learn's weighted R^2: 1 - sum w e^2 / sum w (y - mean_w y)^2.
    return 1.0 - _div(m[..., 2], m[..., 4] - m[..., 3] ** 2 / m[..., 0])


_W_REG = {"performance.mae": _w_mae, "performance.rmse": _w_rmse, "performance.r2": _w_r2}


def _weighted_regression(ctx, id: str, label: str) -> Measurement:
    """Weighted MAE / RMSE / R^2 from the weighted moments (exact sums of ``w``, ``w |e|``, ``w e^2``,
    ``w y``, ``w y^2``, ``w prediction`` and their products per |error| bin): exact point values,
    binned bootstrap of the weighted sums."""
    from fractions import Fraction

    from audit.stats.summaries import W_REGRESSION_STATS

    mom = moments_of(ctx.summaries.weighted_summary("moments", ctx.evalset_name), W_REGRESSION_STATS)
    b, rng = _boot(ctx)
    reps = _W_REG[id](bootstrap_binned_means(mom.binned, b, rng))
    s = mom.exact_sums()
    w = s["w"]
    if w:
        mae, mse = s["w_abs_error"] / w, s["w_sq_error"] / w
        sst = s["w_y2"] - s["w_y"] * s["w_y"] / w
        r2 = float(1 - s["w_sq_error"] / sst) if sst else float("nan")
        exact = {"performance.mae": float(mae), "performance.rmse": float(np.sqrt(float(mse))),
                 "performance.r2": r2}
        mean_err = float((s["w_pred"] - s["w_y"]) / w)
    else:
        exact, mae, mse, r2, mean_err = {}, Fraction(0), Fraction(0), float("nan"), float("nan")
    rows = [["rows", mom.n], ["sum of weights", float(w)], ["weighted mean error (prediction - target)",
                                                            _num(mean_err)],
            ["weighted MAE", _num(float(mae)) if w else None],
            ["weighted RMSE", _num(np.sqrt(float(mse))) if w else None], ["weighted R²", _num(r2)]]
    from audit.stats._weights import kish_n

    details = {"tables": [{"title": "Weighted error summary", "columns": ["statistic", "value"], "rows": rows}],
               "weighted": {"sum_of_weights": float(w), "effective_rows": float(kish_n(float(w), _sum_w2(mom)))}}
    return _measurement(ctx, label, exact.get(id, float("nan")), reps, mom.n, "bootstrap-weighted-binned",
                        details, spec="#.4g", note="weighted")


def _sum_w2(mom) -> float:
    # Sum of w^2: the product column (w, w) of the weighted moments (the first product column).
    return float(mom.sums.fractions()[mom.d])


_regression_check("performance.mae", "MAE", _mae, lambda m: m.exact_means()["abs_error"], False,
                  "Mean absolute error of the predictions.")
_regression_check("performance.rmse", "RMSE", _rmse, lambda m: float(np.sqrt(m.exact_means()["sq_error"])),
                  False, "Root mean squared error of the predictions.")
_regression_check("performance.r2", "R²", _r2, lambda m: m.exact_r2(), True,
                  "Coefficient of determination R² (1 - residual / total sum of squares).")
assert REGRESSION_COLUMNS[:4] == ("abs_error", "sq_error", "y", "y2")
