"""Group fairness with confidence intervals, from per-group sufficient statistics.

fairlearn computes the same group metrics (tests cross-check against it) but
resamples rows for its intervals and has none for equalized odds. Here every
classification metric is a function of per-group confusion counts, and every
disparity's interval comes from a multinomial bootstrap of those counts within
each group (:func:`audit.stats.bootstrap_counts`): seeded, and its cost does
not grow with the number of rows.

- :mod:`._groups`: fine cells (all sensitive columns combined) and the marginal
  or intersectional partitions summed from them.
- :mod:`._metrics`: the table of per-group metrics (selection rate, TPR, ...,
  ECE, MAE) as functions of statistics.
- :mod:`._disparity`: differences and ratios against the best, worst or a reference group.
- per fine cell statistics come from the mergeable summaries of :mod:`audit.stats.summaries`.
- :mod:`._measure`: the engine that builds a Measurement; :mod:`._report` its message,
  table and charts.
"""

from audit.fairness._disparity import combine, disparity, group_gaps
from audit.fairness._groups import GroupStructure, Partition, group_structure
from audit.fairness._measure import FairnessMetric, component, measure, summaries_needed
from audit.fairness._metrics import RATES, balanced_accuracy, ece_from_bins
from audit.fairness._params import (
    CalibrationParams,
    DisparityParams,
    GroupParams,
    SelectionRateParams,
)

__all__ = [
    "RATES",
    "CalibrationParams",
    "DisparityParams",
    "FairnessMetric",
    "GroupParams",
    "GroupStructure",
    "Partition",
    "SelectionRateParams",
    "balanced_accuracy",
    "combine",
    "component",
    "disparity",
    "ece_from_bins",
    "group_gaps",
    "group_structure",
    "measure",
    "summaries_needed",
]
