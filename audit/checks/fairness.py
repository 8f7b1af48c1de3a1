"""Fairness checks: group disparities with bootstrap intervals.

Thin registrations over one table; the work is in :mod:`audit.fairness`.
They need labels and sensitive columns but no live model, so they run in
predictions-only audits on the stored decisions and scores.
"""

from __future__ import annotations

from audit.checks._registry import register_check
from audit.fairness import (
    CalibrationParams,
    DisparityParams,
    FairnessMetric,
    SelectionRateParams,
    measure,
    summaries_needed,
)

__all__ = ["FAIRNESS_CHECKS"]

_CLS = frozenset({"classification"})
_REG = frozenset({"regression"})

# id -> (metric, params model, tasks, extra needs, higher_is_better, one-line description)
FAIRNESS_CHECKS = {
    "selection_rate": (
        FairnessMetric("Selection rate", ("selection_rate",), "aggregate"), SelectionRateParams,
        _CLS, (), None, "Share of positive decisions per group; value = the lowest (or highest) group."),
    "demographic_parity_difference": (
        FairnessMetric("Demographic parity difference", ("selection_rate",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in selection rate between groups."),
    "demographic_parity_ratio": (
        FairnessMetric("Demographic parity ratio (impact ratio)", ("selection_rate",), "ratio"),
        DisparityParams, _CLS, (), True,
        "Lowest group selection rate over the highest (impact ratio, four-fifths rule)."),
    "equalized_odds_difference": (
        FairnessMetric("Equalized odds difference", ("tpr", "fpr"), "difference"),
        DisparityParams, _CLS, (), False, "Larger of the TPR and FPR gaps between groups."),
    "equalized_odds_ratio": (
        FairnessMetric("Equalized odds ratio", ("tpr", "fpr"), "ratio"),
        DisparityParams, _CLS, (), True, "Smaller of the TPR and FPR ratios between groups."),
    "equal_opportunity_difference": (
        FairnessMetric("Equal opportunity (TPR) difference", ("tpr",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in true positive rate between groups."),
    "false_positive_rate_difference": (
        FairnessMetric("False positive rate difference", ("fpr",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in false positive rate between groups."),
    "false_negative_rate_difference": (
        FairnessMetric("False negative rate difference", ("fnr",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in false negative rate between groups."),
    "predictive_parity_difference": (
        FairnessMetric("Predictive parity (precision) difference", ("precision",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in precision between groups."),
    "accuracy_difference": (
        FairnessMetric("Accuracy difference", ("accuracy",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in accuracy between groups."),
    "balanced_accuracy_difference": (
        FairnessMetric("Balanced accuracy difference", ("balanced_accuracy",), "difference"),
        DisparityParams, _CLS, (), False, "Largest gap in balanced accuracy between groups."),
    "calibration_difference": (
        FairnessMetric("Calibration (ECE) difference", ("ece",), "difference", "calibration"),
        CalibrationParams, _CLS, ("scores",), False,
        "Spread of the expected calibration error across groups."),
    "group_mae_difference": (
        FairnessMetric("Group MAE difference", ("mae",), "difference", "regression"),
        DisparityParams, _REG, (), False, "Largest gap in mean absolute error between groups."),
    "group_rmse_difference": (
        FairnessMetric("Group RMSE difference", ("rmse",), "difference", "regression"),
        DisparityParams, _REG, (), False, "Largest gap in root mean squared error between groups."),
    "mean_prediction_difference": (
        FairnessMetric("Mean prediction difference", ("mean_prediction",), "difference", "regression"),
        DisparityParams, _REG, (), False, "Largest gap in mean prediction between groups."),
}


def _make(metric: FairnessMetric, doc: str):
    def check(ctx, params):
        return measure(ctx, params, metric)

    check.__doc__ = doc
    return check


for _name, (_metric, _params, _tasks, _needs, _hib, _doc) in FAIRNESS_CHECKS.items():
    _fn = _make(_metric, _doc)
    _fn.__name__ = _fn.__qualname__ = _name
    register_check(f"fairness.{_name}", params=_params, needs={"labels", "sensitive", *_needs},
                   tasks=_tasks, higher_is_better=_hib,
                   summaries=lambda es, params, view, _m=_metric: summaries_needed(_m, params, es))(_fn)
