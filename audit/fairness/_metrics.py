"""Per-group metrics as functions of sufficient statistics, one table for all checks.

Every function takes statistics of shape ``(..., n_groups, k)`` (the leading
axes are bootstrap replicates, if any) and returns ``(value, support)``:
the metric per group (NaN where undefined) and the number of rows it rests on
(its denominator), which is compared with ``min_group_size``.

Classification statistics are confusion counts ``[tn, fp, fn, tp]``
(:data:`audit.stats.TN` ...). Calibration and regression statistics are sums,
laid out by :mod:`audit.fairness._stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.stats import FN, FP, TN, TP

__all__ = ["RateMetric", "RATES", "balanced_accuracy", "ece_from_bins", "REGRESSION"]


def _ratio(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


@dataclass(frozen=True)
class RateMetric:
    """A proportion of confusion cells: ``sum(num cells) / sum(den cells)``.

    Attributes
    ----------
    label : str
        Human-readable name.
    num, den : tuple of int
        Cells (TN, FP, FN, TP) summed in the numerator and the denominator.
    higher_is_better : bool
        Which group is the "best" one when comparing to the best or worst group.
    """

    label: str
    num: tuple[int, ...]
    den: tuple[int, ...]
    higher_is_better: bool = True

    def __call__(self, c: np.ndarray):
        c = np.asarray(c, dtype=float)
        num = c[..., list(self.num)].sum(axis=-1)
        den = c[..., list(self.den)].sum(axis=-1)
        return _ratio(num, den), den

    def counts(self, c: np.ndarray):
        """``(k, n)`` of the proportion, for Wilson intervals."""
        c = np.asarray(c, dtype=float)
        return c[..., list(self.num)].sum(axis=-1), c[..., list(self.den)].sum(axis=-1)


_ALL = (TN, FP, FN, TP)
RATES: dict[str, RateMetric] = {
    "selection_rate": RateMetric("selection rate", (FP, TP), _ALL, True),
    "base_rate": RateMetric("base rate", (FN, TP), _ALL, True),
    "tpr": RateMetric("true positive rate", (TP,), (FN, TP), True),
    "fpr": RateMetric("false positive rate", (FP,), (TN, FP), False),
    "fnr": RateMetric("false negative rate", (FN,), (FN, TP), False),
    "tnr": RateMetric("true negative rate", (TN,), (TN, FP), True),
    "precision": RateMetric("precision", (TP,), (FP, TP), True),
    "accuracy": RateMetric("accuracy", (TN, TP), _ALL, True),
}


def balanced_accuracy(c: np.ndarray):
    """Mean of TPR and TNR per group; support is the smaller class."""
    tpr, npos = RATES["tpr"](c)
    tnr, nneg = RATES["tnr"](c)
    return (tpr + tnr) / 2.0, np.minimum(npos, nneg)


def ece_from_bins(stats: np.ndarray, n_bins: int, n_sub: int):
    """Expected calibration error per group from fine score-bin sums.

    ``stats[..., g, :]`` holds, for each of ``n_bins * n_sub`` equal-width score
    sub-bins, the row count, then the positive count, then the score sum (three
    blocks). ECE uses ``n_bins`` equal-width bins: ``sum_b |pos_b - score_b| / n``.
    """
    s = np.asarray(stats, dtype=float)
    m = n_bins * n_sub
    shape = s.shape[:-1] + (n_bins, n_sub)
    cnt = s[..., :m].reshape(shape).sum(-1)
    pos = s[..., m:2 * m].reshape(shape).sum(-1)
    sc = s[..., 2 * m:].reshape(shape).sum(-1)
    n = cnt.sum(-1)
    return _ratio(np.abs(pos - sc).sum(-1), n), n


# Regression statistics per group: [n, sum |err|, sum err^2, sum prediction].
def _mae(s):
    return _ratio(s[..., 1], s[..., 0]), s[..., 0]


def _rmse(s):
    v, n = _ratio(s[..., 2], s[..., 0]), s[..., 0]
    return np.sqrt(v), n


def _mean_pred(s):
    return _ratio(s[..., 3], s[..., 0]), s[..., 0]


# name -> (function, label, higher_is_better)
REGRESSION = {
    "mae": (_mae, "mean absolute error", False),
    "rmse": (_rmse, "root mean squared error", False),
    "mean_prediction": (_mean_pred, "mean prediction", True),
}
