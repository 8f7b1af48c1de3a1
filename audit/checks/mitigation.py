"""The mitigation what-if: what it would cost to close a fairness gap by post-processing.

``fairness.mitigation_whatif`` fits per-group thresholds on the model's scores
(fairlearn's ``ThresholdOptimizer``; the ``mitigation`` extra) so that a fairness
constraint holds, on one half of the audit's stratified sample, and reports on
the other half the disparity before and after and the cost in accuracy (or
balanced accuracy), with intervals, as a frontier of disparity against the
metric. It never changes the model; its value is the metric cost. The engine is
:mod:`audit.fairness._mitigation`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import register_check
from audit.errors import CheckError, CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import group_codes, percentile_interval

__all__ = ["MitigationParams"]

_DISPARITY = {"demographic_parity": "demographic parity difference",
              "equalized_odds": "equalized odds difference",
              "equal_opportunity": "equal opportunity (TPR) difference"}
_RATE = {"demographic_parity": "selection_rate", "equalized_odds": "tpr", "equal_opportunity": "tpr"}


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


class MitigationParams(BaseModel):
    """Parameters of ``fairness.mitigation_whatif``."""

    model_config = ConfigDict(extra="forbid")

    constraint: Literal["demographic_parity", "equalized_odds", "equal_opportunity"] = Field(
        "demographic_parity", description="The constraint the thresholds must satisfy (equal_opportunity: "
        "equal true positive rates).")
    metric: Literal["accuracy", "balanced_accuracy"] = Field(
        "accuracy", description="What the thresholds maximise, and whose cost the value is.")
    sensitive: list[str] | None = Field(
        None, min_length=1, description="Columns whose groups get their own thresholds (several: their "
        "combinations); default: every sensitive column.")
    tolerances: list[float] = Field(
        [0.02, 0.05, 0.1], max_length=10, description="Frontier: relaxations of the constraint (the constraint "
        "metric may differ between groups by at most this on the fit rows); not for equalized_odds, whose "
        "frontier mixes the model's and the mitigated decisions.")
    test_size: float = Field(0.5, ge=0.2, le=0.8, description="Share of the rows held out for evaluation "
                                                              "(stratified by group and label, seeded).")
    grid_size: int = Field(1000, ge=50, le=10_000, description="fairlearn's grid over the constraint metric.")


def _fmt(v, spec=".3f") -> str:
    return "undefined" if v is None or not np.isfinite(v) else format(float(v), spec)


@register_check("fairness.mitigation_whatif", params=MitigationParams, needs={"labels", "sensitive", "scores"},
                tasks={"classification"}, higher_is_better=False, extras={"fairlearn": "mitigation"})
def mitigation_whatif(ctx, params):
    """What-if: the metric cost of per-group thresholds that satisfy a fairness constraint (not a model change)."""
    from audit.fairness._mitigation import what_if

    classes = np.asarray(ctx.classes)
    if len(classes) != 2:
        raise CheckSkipped(f"threshold post-processing needs a binary classifier; this audit has {len(classes)} "
                           "classes")
    es = ctx.evalset()
    if es.y is None:
        raise CheckSkipped("no labels in this evaluation set")
    preds = ctx.predictions()
    if preds.score is None:
        raise CheckSkipped("needs positive-class scores (a score column, or a model with predict_proba)")
    available = list(es.sensitive.columns)
    cols = list(params.sensitive or available)
    absent = [c for c in cols if c not in available]
    if absent:
        raise CheckError(f"sensitive column(s) {absent} not in the data; available: {available}")
    codes, labels = group_codes(es.sensitive, cols)
    pos = ctx.pos_label
    y = (np.asarray(es.y) == pos).astype(np.int64)
    decisions = (np.asarray(preds.labels) == pos).astype(np.float64)
    w = ctx.row_weights()
    level = ctx.settings.confidence
    try:
        res = what_if(np.asarray(preds.score, dtype=np.float64), y, decisions, codes, labels, w,
                      constraint=params.constraint, metric=params.metric, tolerances=params.tolerances,
                      test_size=params.test_size, grid_size=params.grid_size, n_boot=ctx.settings.n_boot,
                      rng=ctx.rng("mitigation"),
                      # One split per audit seed, test size and groups: what-ifs of several constraints compare.
                      split_rng=ctx.audit.rng("mitigation-split", params.test_size, tuple(cols)))
    except ValueError as exc:
        raise CheckError(f"the what-if could not be fitted: {exc}") from exc
    before, after = res.before, res.after
    cost = before.metric - after.metric
    clo, chi = percentile_interval(res.cost_reps, level)
    dlo, dhi = percentile_interval(after.disparity_reps, level)
    blo, bhi = percentile_interval(before.disparity_reps, level)
    rate = _RATE[params.constraint]
    min_size = ctx.settings.min_group_size
    small = (res.n_fit < min_size) | (res.n_eval < min_size)
    groups, trows, rules = [], [], {}
    for g, label in enumerate(res.groups):
        th = (after.thresholds or {}).get(label)
        groups.append(GroupValue(
            group=label, n=int(res.n_eval[g]), value=_f(after.rates[rate][g]), small=bool(small[g]),
            extra={"rate": rate, "before": _f(before.rates[rate][g]), "after": _f(after.rates[rate][g]),
                   "selection_rate_before": _f(before.rates["selection_rate"][g]),
                   "selection_rate_after": _f(after.rates["selection_rate"][g]),
                   "tpr_before": _f(before.rates["tpr"][g]), "tpr_after": _f(after.rates["tpr"][g]),
                   "fpr_before": _f(before.rates["fpr"][g]), "fpr_after": _f(after.rates["fpr"][g]),
                   "fit_rows": int(res.n_fit[g]), "thresholds": _thresholds_text(th)}))
        rules[label] = _thresholds(th)
        trows.append([label, int(res.n_fit[g]), int(res.n_eval[g]), _thresholds_text(th),
                      _f(before.rates["selection_rate"][g]), _f(after.rates["selection_rate"][g]),
                      _f(before.rates["tpr"][g]), _f(after.rates["tpr"][g]),
                      _f(before.rates["fpr"][g]), _f(after.rates["fpr"][g])])
    frontier_rows, points = [], [before, *res.frontier]
    for pt in points:
        plo, phi = percentile_interval(pt.disparity_reps, level)
        mlo, mhi = percentile_interval(pt.metric_reps, level)
        frontier_rows.append({"point": pt.label, "setting": pt.setting, "disparity": _f(pt.disparity),
                              "disparity_low": _f(plo), "disparity_high": _f(phi), "metric": _f(pt.metric),
                              "metric_low": _f(mlo), "metric_high": _f(mhi)})
    order = sorted(range(len(points)), key=lambda i: (points[i].disparity, -points[i].metric))
    disp_name = _DISPARITY[params.constraint]
    chart = {"kind": "curve", "title": f"What-if frontier: {params.metric} against {disp_name}",
             "x": [frontier_rows[i]["disparity"] for i in order], "xlabel": f"{disp_name} (evaluation rows)",
             "ylabel": params.metric,
             "series": [{"name": "post-processing what-if (not the deployed model)",
                         "y": [frontier_rows[i]["metric"] for i in order],
                         "low": [frontier_rows[i]["metric_low"] for i in order],
                         "high": [frontier_rows[i]["metric_high"] for i in order]}],
             "threshold": {"min": None, "max": None}}
    ftable = {"title": "What-if frontier (evaluation rows; expected values of randomized thresholds)",
              "columns": ["point", "setting", disp_name, "low", "high", params.metric, "low", "high"],
              "rows": [[r["point"], r["setting"], r["disparity"], r["disparity_low"], r["disparity_high"], r["metric"],
                        r["metric_low"], r["metric_high"]] for r in frontier_rows]}
    gtable = {"title": "Per-group thresholds fitted on the fit rows, rates on the evaluation rows (before -> after)",
              "columns": ["group", "fit rows", "evaluation rows", "thresholds", "selection rate before",
                          "selection rate after", "TPR before", "TPR after", "FPR before", "FPR after"],
              "rows": trows, "flag_rows": [i for i, s in enumerate(small) if s]}
    n_fit, n_eval = int(res.n_fit.sum()), int(res.n_eval.sum())
    msg = (f"What-if, not a change to the model: per-group thresholds fitted on {n_fit:,} rows to satisfy "
           f"{params.constraint.replace('_', ' ')} would move the {disp_name} from {_fmt(before.disparity)} "
           f"[{_fmt(blo)}, {_fmt(bhi)}] to {_fmt(after.disparity)} [{_fmt(dlo)}, {_fmt(dhi)}] on the other "
           f"{n_eval:,} rows, at a cost of {_fmt(cost, '.4f')} [{_fmt(clo, '.4f')}, {_fmt(chi, '.4f')}] in "
           f"{params.metric} ({_fmt(before.metric, '.4f')} -> {_fmt(after.metric, '.4f')}); "
           "expected values of randomized thresholds.")
    inconclusive = None
    if small.any():
        names = ", ".join(f"{res.groups[i]} (fit {int(res.n_fit[i])}, evaluation {int(res.n_eval[i])})"
                          for i in np.flatnonzero(small))
        inconclusive = f"group(s) with fewer than min_group_size={min_size} rows on a side of the split: {names}"
    details = {"what_if": True, "constraint": params.constraint, "metric": params.metric,
               "disparity_before": _f(before.disparity), "disparity_after": _f(after.disparity),
               "disparity_after_interval": [_f(dlo), _f(dhi)], "metric_before": _f(before.metric),
               "metric_after": _f(after.metric), "fit_rows": n_fit, "evaluation_rows": n_eval,
               "weighted": res.weighted, "frontier": frontier_rows,
               # Per group, the randomized rule as data (GroupValue.extra holds its text).
               "thresholds": rules, "tables": [ftable, gtable], "charts": [chart],
               "note": "A what-if computed by post-processing the model's scores (fairlearn ThresholdOptimizer); "
                       "the audited model is unchanged. Intervals resample the evaluation rows with the "
                       "thresholds fixed."}
    return Measurement(value=_f(cost), interval=Interval(low=_f(clo), high=_f(chi), level=level,
                                                         method="paired-bootstrap-rows"),
                       n=n_eval, groups=groups, inconclusive=inconclusive, message=msg, details=details)


def _t(v) -> float | str:
    # JSON has no infinity: an always/never rule keeps its threshold as "inf" / "-inf".
    v = float(v)
    return v if np.isfinite(v) else ("inf" if v > 0 else "-inf")


def _thresholds(th: dict | None) -> list | None:
    """The randomized rule of one group: with probability p, predict positive when score > t (or < t)."""
    if th is None:
        return None
    out = [{"probability": float(th[f"p{i}"]), "operator": th[f"operation{i}"].operator,
            "threshold": _t(th[f"operation{i}"].threshold)} for i in (0, 1)]
    return [o for o in out if o["probability"] > 0]


def _thresholds_text(th: dict | None) -> str:
    parts = _thresholds(th) or []
    return "; ".join(f"{p['probability']:.3g} x [score {p['operator']} "
                     f"{p['threshold'] if isinstance(p['threshold'], str) else format(p['threshold'], '.4g')}]"
                     for p in parts) or "-"
