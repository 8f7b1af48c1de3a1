"""Statistics for audit numbers: mergeable counts, count bootstrap, intervals.

Classification metrics are functions of confusion counts, so their bootstrap
resamples the counts (multinomial) and costs nothing per row.
"""

from audit.stats._bootstrap import bootstrap_counts, bootstrap_row_weights
from audit.stats._confusion import confusion_matrix_counts
from audit.stats._counts import FN, FP, TN, TP, confusion_counts, group_codes
from audit.stats._histograms import (
    BinnedMoments,
    auc_from_counts,
    binned_moments,
    bootstrap_binned_means,
    cell_codes,
    class_score_counts,
    rank_bins,
)
from audit.stats._intervals import percentile_interval, wilson_interval

__all__ = [
    "TN",
    "FP",
    "FN",
    "TP",
    "bootstrap_counts",
    "bootstrap_row_weights",
    "confusion_counts",
    "group_codes",
    "percentile_interval",
    "wilson_interval",
    "confusion_matrix_counts",
    "BinnedMoments",
    "auc_from_counts",
    "binned_moments",
    "bootstrap_binned_means",
    "cell_codes",
    "class_score_counts",
    "rank_bins",
]
