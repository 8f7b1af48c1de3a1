"""Audits that scale: the table streamed in partitions, locally or on a Dask cluster.

A streamed audit never holds the table. It makes two passes over its partitions
(:mod:`audit.scale._partitions`):

1. **Sample pass.** Each partition returns exact counts (rows, strata, value
   counts, numeric extremes) and the rows that may enter a stratified sample
   (by label x sensitive cell) chosen by the smallest row keys. The sample
   is the same for any partitioning, because a row's key depends only on the
   seed and its global index.
2. **Summary pass.** Each partition builds its rows of every streamed
   evaluation set (:mod:`audit.scale._evalsets`, seeded per row), predicts
   each once with the model shipped to the worker once, and returns integer
   summaries (:mod:`audit.scale._summaries`): per-cell confusion and paired
   counts, fine score histograms, fixed-point sums. They add up exactly.

Checks that declare their summaries (``register_summaries``) are computed from
the merged summaries of the whole table and read them through
``ctx.summaries``; everything else (adversarial attacks, OOD detectors, feature
drift tests, latency profiles...) runs unchanged on the sample, and says so in
its message. Local and Dask executors, and any partition count, give identical
``results.json`` values.
"""

from audit.scale._evalsets import STREAMED_KINDS, TableStats
from audit.scale._executors import DaskExecutor, LocalExecutor, make_executor
from audit.scale._partitions import Partition, TableSource, open_source, partitions, read_partition
from audit.scale._random import row_normal, row_uniform
from audit.scale._state import StreamedState, project_groups
from audit.scale._summaries import MISSING, CellTable, Request, fixed_sums

SUM_SCALE = float(1 << 32)  # fixed point of loss, score and confidence sums
SUMSQ_SCALE = float(1 << 24)  # fixed point of sums of squared losses

__all__ = [
    "STREAMED_KINDS",
    "TableStats",
    "DaskExecutor",
    "LocalExecutor",
    "make_executor",
    "Partition",
    "TableSource",
    "open_source",
    "partitions",
    "read_partition",
    "row_normal",
    "row_uniform",
    "StreamedState",
    "project_groups",
    "MISSING",
    "CellTable",
    "Request",
    "fixed_sums",
    "SUM_SCALE",
    "SUMSQ_SCALE",
    "run_streamed",
]


def run_streamed(*args, **kwargs):
    """Run a streamed audit; see :func:`audit.scale._run.run_streamed`."""
    from audit.scale._run import run_streamed as _run

    return _run(*args, **kwargs)
