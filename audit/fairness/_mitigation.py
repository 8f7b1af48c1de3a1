"""Mitigation what-if: per-group thresholds that would satisfy a fairness constraint, and their cost.

A what-if, not a change to the model. fairlearn's ``ThresholdOptimizer``
(post-processing, Hardt et al. 2016) fits per-group randomized thresholds on the
model's positive-class scores so that a constraint holds (demographic parity,
equalized odds, equal opportunity = true-positive-rate parity) while the chosen
metric (accuracy or balanced accuracy) is as high as possible. The thresholds are
fitted on one split of the rows and evaluated on the other (seeded, stratified
by group x label), so the reported disparity and cost are out-of-sample.

Evaluation is deterministic: a randomized threshold predicts positive with a
known probability ``p_i`` (:func:`positive_probability`, the same rule as
fairlearn's ``_pmf_predict``), and every rate is the *expected* rate under that
randomization (sums of ``p_i``). Intervals are a percentile bootstrap of the
evaluation rows (rows resampled, paired across the model's own decisions and
every frontier point), with the thresholds held fixed: they do not include the
variability of fitting the thresholds.

The frontier relaxes the constraint (fairlearn's ``tol``: the constraint metric
may differ between groups by at most ``tol`` on the fit rows) for demographic
parity and equal opportunity; fairlearn cannot relax equalized odds, so its
frontier mixes the model's decisions with the mitigated ones (predict the
mitigated decision with probability ``alpha``), a set of classifiers that is
achievable too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audit.stats._order import matmul

__all__ = ["CONSTRAINTS", "OBJECTIVES", "WhatIfPoint", "WhatIf", "positive_probability", "group_rates",
           "disparity", "metric_value", "stratified_split", "fit_thresholds", "what_if"]

# Our names -> fairlearn's.
CONSTRAINTS = {"demographic_parity": "demographic_parity", "equalized_odds": "equalized_odds",
               "equal_opportunity": "true_positive_rate_parity"}
OBJECTIVES = {"accuracy": "accuracy_score", "balanced_accuracy": "balanced_accuracy_score"}
MIXES = (0.25, 0.5, 0.75)  # equalized-odds frontier: share of mitigated decisions


def _score_column():
    """The estimator ThresholdOptimizer post-processes: it returns the score column it is given, so
    live and predictions-only audits are thresholded alike (a fitted scikit-learn estimator, built
    here so that scikit-learn is imported only when the check runs)."""
    from sklearn.base import BaseEstimator

    class ScoreColumn(BaseEstimator):
        def fit(self, X, y=None, **kwargs):
            self.fitted_ = True
            return self

        def predict(self, X):
            return np.asarray(X, dtype=np.float64)[:, 0]

    return ScoreColumn().fit(None)


def positive_probability(interpolation: dict, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Probability that each row is predicted positive under fitted per-group randomized thresholds.

    ``interpolation`` is fairlearn's ``interpolated_thresholder_.interpolation_dict``: per group
    ``p0, operation0, p1, operation1`` (and optionally ``p_ignore, prediction_constant``); an
    operation is ``score > t`` or ``score < t``. Rows of a group without thresholds get NaN.
    """
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(len(s), np.nan)
    for g, it in interpolation.items():
        m = groups == g
        if not m.any():
            continue
        v = it["p0"] * _op(it["operation0"], s[m]) + it["p1"] * _op(it["operation1"], s[m])
        if "p_ignore" in it:
            v = it["p_ignore"] * it["prediction_constant"] + (1 - it["p_ignore"]) * v
        out[m] = v
    return out


def _op(op, s: np.ndarray) -> np.ndarray:
    t = float(op.threshold)
    return (s > t if op.operator == ">" else s < t).astype(np.float64)


def group_rates(sums: np.ndarray) -> dict:
    """Per-group rates from per-group sums ``(..., G, 4)`` of ``[w, w y, w p, w p y]``.

    Returns selection rate, TPR, FPR, accuracy and balanced accuracy per group, and overall
    accuracy and balanced accuracy (leading axes kept; NaN where a denominator is 0).
    """
    s = np.asarray(sums, dtype=np.float64)
    w, wy, wp, wpy = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    neg, pneg = w - wy, wp - wpy
    with np.errstate(invalid="ignore", divide="ignore"):
        sel = wp / w
        tpr = wpy / wy
        fpr = pneg / neg
        acc = (wpy + (neg - pneg)) / w
        W, WY, WPY, WPN = w.sum(-1), wy.sum(-1), wpy.sum(-1), pneg.sum(-1)
        tpr_all, tnr_all = WPY / WY, 1.0 - WPN / (W - WY)
        acc_all = (WPY + (W - WY - WPN)) / W
    return {"selection_rate": sel, "tpr": tpr, "fpr": fpr, "accuracy": acc,
            "overall_accuracy": acc_all, "overall_balanced_accuracy": (tpr_all + tnr_all) / 2.0}


def _spread(v: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(v, axis=-1) - np.nanmin(v, axis=-1)


def disparity(rates: dict, constraint: str) -> np.ndarray:
    """The constraint's disparity: max - min over groups of the selection rate (demographic parity),
    of the TPR (equal opportunity), or the larger of the TPR and FPR spreads (equalized odds) —
    fairlearn's ``demographic_parity_difference`` / ``equalized_odds_difference``."""
    if constraint == "demographic_parity":
        return _spread(rates["selection_rate"])
    if constraint == "equal_opportunity":
        return _spread(rates["tpr"])
    return np.maximum(_spread(rates["tpr"]), _spread(rates["fpr"]))


def metric_value(rates: dict, metric: str) -> np.ndarray:
    return rates["overall_accuracy"] if metric == "accuracy" else rates["overall_balanced_accuracy"]


def stratified_split(codes: np.ndarray, y: np.ndarray, test_size: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the evaluation rows: in every (group, label) stratum a seeded share
    ``test_size`` of its rows (a stratum of one row stays on the fit side)."""
    strata = np.asarray(codes, dtype=np.int64) * 2 + np.asarray(y, dtype=np.int64)
    test = np.zeros(len(strata), dtype=bool)
    for h in np.unique(strata):
        idx = np.flatnonzero(strata == h)
        k = int(np.floor(test_size * len(idx) + 0.5)) if len(idx) > 1 else 0
        k = min(k, len(idx) - 1)
        test[rng.permutation(idx)[:k]] = True
    return test


def fit_thresholds(scores, y, groups, constraint: str, metric: str, tol: float | None, grid_size: int) -> dict:
    """Fit fairlearn's ThresholdOptimizer on the score column; return its per-group interpolation."""
    import warnings

    import pandas as pd
    from fairlearn.postprocessing import ThresholdOptimizer

    to = ThresholdOptimizer(estimator=_score_column(), constraints=CONSTRAINTS[constraint],
                            objective=OBJECTIVES[metric], prefit=True, predict_method="predict",
                            grid_size=grid_size, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to.fit(np.asarray(scores, dtype=np.float64)[:, None], np.asarray(y, dtype=np.int64),
               sensitive_features=pd.Series(np.asarray(groups, dtype=object)))
    return {g: dict(b) for g, b in to.interpolated_thresholder_.interpolation_dict.items()}


@dataclass
class WhatIfPoint:
    """One point of the frontier: a setting, its positive probabilities on the evaluation rows,
    and its disparity and metric (point and bootstrap replicates)."""

    label: str
    setting: float | None  # tol (relaxation) or alpha (mix); None for the model's own decisions
    p: np.ndarray
    disparity: float = float("nan")
    metric: float = float("nan")
    disparity_reps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    metric_reps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rates: dict = field(default_factory=dict)
    thresholds: dict | None = None


@dataclass
class WhatIf:
    """The what-if of one constraint: the model's decisions, the strict mitigation, the frontier."""

    constraint: str
    metric: str
    groups: list[str]
    n_fit: np.ndarray
    n_eval: np.ndarray
    before: WhatIfPoint
    after: WhatIfPoint
    frontier: list[WhatIfPoint]
    cost_reps: np.ndarray
    weighted: bool


def _sums(p: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int, w: np.ndarray) -> np.ndarray:
    cols = np.column_stack([w, w * y, w * p, w * p * y])
    return np.stack([np.bincount(codes, cols[:, j], minlength=n_groups) for j in range(4)], axis=-1)


def _boot_sums(points: list[WhatIfPoint], y, codes, n_groups, w, n_boot: int, rng, chunk: int = 128):
    """Per replicate and point, per-group sums ``(B, G, 4)``: rows resampled (multinomial counts),
    the same draws for every point (paired)."""
    n = len(y)
    onehot = np.zeros((n, n_groups))
    onehot[np.arange(n), codes] = 1.0
    # Per point the (n, 4G) matrix of per-row contributions; a replicate is counts @ it.
    mats = [(np.column_stack([w, w * y, w * pt.p, w * pt.p * y])[:, :, None] * onehot[:, None, :]).reshape(n, -1)
            for pt in points]
    out = [np.zeros((n_boot, 4, n_groups)) for _ in points]
    probs = np.full(n, 1.0 / n)
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        counts = rng.multinomial(n, probs, size=b).astype(np.float64)
        for o, m in zip(out, mats, strict=True):
            o[s:s + b] = matmul(counts, m).reshape(b, 4, n_groups)
    return [np.swapaxes(o, 1, 2) for o in out]


def what_if(scores, y, decisions, codes, labels: list[str], w, *, constraint: str, metric: str,
            tolerances: list[float], test_size: float, grid_size: int, n_boot: int, rng,
            split_rng=None) -> WhatIf:
    """Fit on one split, evaluate on the other: the model's decisions, the strict mitigation and the
    frontier, with paired bootstrap replicates (see the module docstring).

    Parameters
    ----------
    scores : positive-class scores; y : 1 for the positive class; decisions : the model's own
    decisions (1 positive); codes : group code per row (``labels[code]``); w : row weights;
    rng : the bootstrap's (and weighted resample's) generator; split_rng : the split's (default
    ``rng``), so that what-ifs of several constraints can share one split.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    weighted = not np.all(w == w[0]) if len(w) else False
    G = len(labels)
    test = stratified_split(codes, y, test_size, rng if split_rng is None else split_rng)
    fit = ~test
    s_f, y_f, g_f = scores[fit], y[fit], np.asarray(labels, dtype=object)[codes[fit]]
    if weighted:  # ThresholdOptimizer takes no sample weights: fit on a weight-proportional resample
        pw = w[fit] / w[fit].sum()
        take = rng.choice(int(fit.sum()), size=int(fit.sum()), replace=True, p=pw)
        s_f, y_f, g_f = s_f[take], y_f[take], g_f[take]
    s_e, y_e, c_e, w_e = scores[test], y[test], codes[test], w[test]
    g_e = np.asarray(labels, dtype=object)[c_e]
    before = WhatIfPoint("model as is", None, np.asarray(decisions, dtype=np.float64)[test])
    strict = fit_thresholds(s_f, y_f, g_f, constraint, metric, None, grid_size)
    after = WhatIfPoint("mitigated (constraint exact)", 0.0, positive_probability(strict, s_e, g_e),
                        thresholds=strict)
    frontier = [after]
    if constraint == "equalized_odds":
        for a in MIXES:
            frontier.append(WhatIfPoint(f"mix {a:g} mitigated", a, (1 - a) * before.p + a * after.p))
    else:
        for tol in sorted(t for t in tolerances if t > 0):
            th = fit_thresholds(s_f, y_f, g_f, constraint, metric, float(tol), grid_size)
            frontier.append(WhatIfPoint(f"relaxed (tol {tol:g})", float(tol), positive_probability(th, s_e, g_e),
                                        thresholds=th))
    missing = [labels[g] for g in np.unique(c_e) if np.isnan(after.p[c_e == g]).any()]
    if missing:
        raise ValueError(f"group(s) {missing} have no rows on the fit side; too few rows to fit their thresholds")
    points = [before, *frontier]
    reps = _boot_sums(points, y_e, c_e, G, w_e, n_boot, rng)
    for pt, r in zip(points, reps, strict=True):
        rates = group_rates(_sums(pt.p, y_e, c_e, G, w_e))
        pt.rates = rates
        pt.disparity = float(disparity(rates, constraint))
        pt.metric = float(metric_value(rates, metric))
        rr = group_rates(r)
        pt.disparity_reps = disparity(rr, constraint)
        pt.metric_reps = metric_value(rr, metric)
    return WhatIf(constraint, metric, list(labels), np.bincount(codes[fit], minlength=G),
                  np.bincount(c_e, minlength=G), before, after, frontier,
                  before.metric_reps - after.metric_reps, weighted)
