"""Out-of-distribution detection quality: how well OOD rows are told apart from the base rows.

Scores (higher = more OOD) come from the model's own confidence
(``1 - max probability``) or from an outlier detector fitted on the reference
data (:mod:`audit.ood`: isolation forest, Mahalanobis distance, optionally
robust, Gaussian mixture, on scikit-learn; alibi-detect's as an optional
backend), on a one-hot + standardised encoding fitted on the reference. Scores
are computed once per (detector, evaluation set) and cached on the audit.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._paired import auc_from_hist
from audit.checks._registry import register_check
from audit.errors import CheckSkipped
from audit.results import Interval, Measurement
from audit.stats import bootstrap_counts, percentile_interval, wilson_interval

__all__ = ["ood_scores"]

Detector = Literal["confidence", "iforest", "mahalanobis", "gmm"]
_BINS = 1000


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


class _Detector:
    """A detector fitted on the reference data, scoring tables."""

    def __init__(self, ctx, detector: str, backend: str = "scikit-learn", robust: bool = False):
        from audit.ood import StandardEncoder, make_alibi_detector, make_detector

        ref = ctx.dataset.reference
        if ref is None:
            raise CheckSkipped(f"detector {detector!r} is fitted on reference data; the policy names none")
        self.enc = StandardEncoder(ctx.dataset.feature_types).fit(ref.X)
        # Seeded per audit and detector, not per check: the fitted detector is shared by every
        # check that uses it, so its seed must not depend on which check happened to fit it.
        seed = int(getattr(ctx, "audit", ctx).rng("ood-detector", detector).integers(2**31 - 1))
        make = make_alibi_detector if backend == "alibi-detect" else make_detector
        self.det = make(detector, seed=seed, robust=robust).fit(self.enc.transform(ref.X))

    def score(self, X) -> np.ndarray:
        return np.asarray(self.det.score(self.enc.transform(X)), dtype=float)


def ood_scores(ctx, detector: str, name: str, backend: str = "scikit-learn", robust: bool = False) -> np.ndarray:
    """OOD scores (higher = more out-of-distribution) of evaluation set ``name``, cached per audit."""
    audit = ctx.audit
    cache = audit.cache("ood_scores")
    key = (detector, backend, robust, name)
    with audit._lock:
        if key in cache:
            return cache[key]
        if detector == "confidence":
            p = ctx.predictions(name)
            if p.proba is None:
                raise CheckSkipped("the confidence detector needs class probabilities (predict_proba)")
            s = 1.0 - np.asarray(p.proba, dtype=float).max(axis=1)
        else:
            fk = ("__fitted__", detector, backend, robust)
            if fk not in cache:
                cache[fk] = _Detector(ctx, detector, backend, robust)
            s = cache[fk].score(ctx.evalset(name).X)
        cache[key] = s
        return s


class OODParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: Detector = "confidence"
    ood_set: str = Field("ood.far@1", description="The OOD evaluation set; the check's own set is the in-distribution side.")
    false_alarm_rate: float = Field(0.05, gt=0, lt=1, description="Share of in-distribution rows flagged.")
    robust: bool = Field(False, description="Mahalanobis: robust mean and covariance (minimum covariance "
                                            "determinant) instead of the plain ones.")
    backend: Literal["scikit-learn", "alibi-detect"] = Field(
        "scikit-learn", description="scikit-learn (the core), or alibi-detect's detectors (the alibi-detect "
                                    "extra; Business Source License, non-production use).")


def _pair(ctx, params):
    ind = ood_scores(ctx, params.detector, ctx.evalset_name, params.backend, params.robust)
    es = ctx.evalset(params.ood_set)
    out = ood_scores(ctx, params.detector, params.ood_set, params.backend, params.robust)
    mask = es.meta.get("is_ood")
    if mask is not None:
        out = out[np.asarray(mask, dtype=bool)]
    if len(ind) == 0 or len(out) == 0:
        raise CheckSkipped("no in-distribution or no OOD rows to compare")
    return ind, out


def detection_at(ind, out, far: float):
    """Threshold at the (1 - far) quantile of in-distribution scores; share of OOD rows above it."""
    thr = float(np.quantile(ind, 1.0 - far))
    k = int(np.sum(out > thr))
    return thr, k, len(out)


def _hist_chart(ind, out, name_in, name_out, detector):
    lo, hi = float(min(ind.min(), out.min())), float(max(ind.max(), out.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
    return {"kind": "histogram", "title": f"OOD scores ({detector})", "xlabel": "OOD score (higher = more unusual)",
            "edges": edges.tolist(), "series": [{"name": name_in, "counts": np.histogram(ind, edges)[0].tolist()},
                                                {"name": name_out, "counts": np.histogram(out, edges)[0].tolist()}]}


def _reads(evalset, params, view):
    return [evalset, params.ood_set]


@register_check("ood.detection_auroc", params=OODParams, needs=set(), higher_is_better=True, reads=_reads)
def detection_auroc(ctx, params):
    """AUROC of separating OOD rows from the evaluation set's rows by the model's confidence or a detector."""
    from sklearn.metrics import roc_auc_score

    level = ctx.settings.confidence
    ind, out = _pair(ctx, params)
    y = np.r_[np.zeros(len(ind)), np.ones(len(out))]
    s = np.r_[ind, out]
    auc = float(roc_auc_score(y, s))
    # Bootstrap on common quantile bins of both score sets (cost independent of rows); the
    # replicates are shifted by the binning error so they centre on the exact AUROC.
    edges = np.unique(np.quantile(s, np.linspace(0, 1, _BINS + 1))[1:-1])
    hi_c = np.bincount(np.searchsorted(edges, ind, side="right"), minlength=len(edges) + 1)
    ho_c = np.bincount(np.searchsorted(edges, out, side="right"), minlength=len(edges) + 1)
    rng = ctx.rng("auroc")
    reps = auc_from_hist(bootstrap_counts(ho_c, ctx.settings.n_boot, rng),
                         bootstrap_counts(hi_c, ctx.settings.n_boot, rng))
    reps = np.clip(reps + (auc - float(auc_from_hist(ho_c, hi_c))), 0.0, 1.0)
    lo, hi = percentile_interval(reps, level)
    thr, k, n = detection_at(ind, out, params.false_alarm_rate)
    dlo, dhi = wilson_interval(k, n, level)
    table = {"title": "OOD detection", "columns": ["detector", "AUROC", "low", "high",
                                                   f"detection rate at {params.false_alarm_rate:.0%} false alarms",
                                                   "rate low", "rate high", "threshold"],
             "rows": [[params.detector, auc, _f(lo), _f(hi), k / n, _f(dlo), _f(dhi), thr]]}
    return Measurement(
        value=auc, interval=Interval(low=_f(lo), high=_f(hi), level=level, method="bootstrap-counts"),
        n=len(ind) + len(out),
        details={"detection_rate": k / n, "false_alarm_rate": params.false_alarm_rate, "threshold": thr,
                 "tables": [table], "charts": [_hist_chart(ind, out, ctx.evalset_name, params.ood_set,
                                                           params.detector)]},
        message=f"{params.detector}: AUROC {auc:.3f} separating {params.ood_set} ({len(out)} rows) from "
                f"{ctx.evalset_name} ({len(ind)} rows); {k / n:.1%} detected at "
                f"{params.false_alarm_rate:.0%} false alarms.")


@register_check("ood.detection_rate", params=OODParams, needs=set(), higher_is_better=True, reads=_reads)
def detection_rate(ctx, params):
    """Share of OOD rows flagged when the threshold lets through a given false-alarm rate on the evaluation set."""
    level = ctx.settings.confidence
    ind, out = _pair(ctx, params)
    thr, k, n = detection_at(ind, out, params.false_alarm_rate)
    lo, hi = wilson_interval(k, n, level)
    actual_far = float(np.mean(ind > thr))
    return Measurement(
        value=k / n, interval=Interval(low=_f(lo), high=_f(hi), level=level, method="wilson"), n=n,
        details={"threshold": thr, "false_alarm_rate": params.false_alarm_rate,
                 "false_alarm_rate_observed": actual_far,
                 "charts": [_hist_chart(ind, out, ctx.evalset_name, params.ood_set, params.detector)]},
        message=f"{params.detector}: {k} of {n} OOD rows ({k / n:.1%}) flagged at a threshold with "
                f"{actual_far:.1%} false alarms on {ctx.evalset_name}. The interval is conditional on the threshold.")
