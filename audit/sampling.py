"""``audit sample``: a stratified evaluation sample of a large table, with its sampling weights.

Teams build representative audit sets from tables too large to audit whole (or
whose small groups would vanish in a simple random sample). The sample is the
audit's own sample pass (:func:`audit.passes.sample_task` on every partition, on
the chosen executor, then :func:`audit.passes.select_sample`): strata are the
label x sensitive-group cells; each stratum gets a share of ``rows`` in
proportion to its size, but at least ``floor`` rows (or all of its rows); within
a stratum the rows with the smallest seeded keys are taken, a simple random
sample without replacement that is the same for any partitioning and executor.

Each sample row gets its sampling weight ``N_h / n_h`` (rows of its stratum in
the table over rows of it in the sample: the inverse inclusion probability, the
Horvitz-Thompson weight), times the row's existing weight when the table has
one. Auditing the sample with ``data.weight`` set to that column estimates the
whole table's metrics, with the small groups measured on at least ``floor`` rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.data.sources import Partition, partitions, read_partition, whole
from audit.errors import DataError, InputError
from audit.passes import (
    FLOOR,
    SampleJob,
    inclusion_weights,
    merge_sample_pass,
    sample_task,
    select_sample,
    strata_of,
)

__all__ = ["SampleResult", "stratified_sample", "write_sample"]


@dataclass
class SampleResult:
    """A stratified sample and how it was drawn.

    Attributes
    ----------
    frame : DataFrame
        The sample's rows (every column of the table, in table order) and the weight column.
    strata : DataFrame
        One row per stratum: its values, rows in the table (``N_h``), rows in the sample
        (``n_h``) and the sampling weight ``N_h / n_h``.
    rows : int
        Rows in the table.
    weight_column : str
    stratify_by : list of str
    """

    frame: pd.DataFrame
    strata: pd.DataFrame
    rows: int
    weight_column: str
    stratify_by: list[str]


def stratified_sample(data, *, sensitive: list[str], rows: int, target: str | None = None, floor: int = FLOOR,
                      seed: int = 0, weight: str | None = None, weight_column: str = "sample_weight",
                      executor=None, partition_rows: int | None = None) -> SampleResult:
    """Draw the stratified sample of ``data`` (a path or a DataFrame); see the module docstring.

    Parameters
    ----------
    data : path or DataFrame
        CSV or Parquet file, folder or glob of Parquet files.
    sensitive : list of str
        Sensitive columns; their value combinations (times the label's) are the strata.
    rows : int
        Rows wanted; the sample has at least ``min(rows, table rows)`` rows (floors add some).
    target : str, optional
        The label column: classes stratify too (a continuous target does not).
    floor : int
        Rows every stratum keeps at least (all of its rows when it has fewer).
    weight : str, optional
        An existing weight column; the output weight is it times the sampling weight.
    weight_column : str
        Name of the weight column written.
    executor : executor, optional
        From :func:`audit.scale.make_executor`; default this process.
    partition_rows : int, optional
        Rows per partition; default one partition.

    Raises
    ------
    DataError
        Unknown columns, an empty table, an existing column named ``weight_column``, bad weights.
    """
    from audit.data.loading import infer_task
    from audit.inputs import open_data
    from audit.scale import make_executor

    if rows < 1 or floor < 1:
        raise InputError(f"--rows and --floor must be at least 1; got rows={rows}, floor={floor}")
    source = open_data(data)
    where = source.location
    columns = list(source.columns)
    named = [c for c in [target, weight, *sensitive] if c is not None]
    missing = [c for c in named if c not in columns]
    if missing:
        shown = columns[:25] + (["..."] if len(columns) > 25 else [])
        raise DataError(f"{where}: column(s) {missing} not found; the data has {shown}")
    if weight_column in columns:
        raise DataError(f"{where}: the data already has a column {weight_column!r}; choose another name for the "
                        "sampling weights (--weight-column), or pass it as --weight to multiply it")
    n = source.n_rows
    classification = False
    if target is not None:
        head = read_partition(source, Partition(0, 0, min(n, 2_000)), [target])
        classification = infer_task(head[target]) == "classification"
    strata = strata_of(target, sensitive, classification)
    if not strata:
        raise InputError("nothing to stratify by: give --sensitive columns (and --target for the label)")
    own = executor is None
    executor = make_executor("memory") if own else executor
    try:
        parts = [whole(source)] if partition_rows is None else partitions(source, partition_rows)
        merged, sample = _draw(executor, source, parts, columns, strata, rows, n, floor, seed, weight)
    finally:
        if own:
            executor.close()
    if weight is not None:
        from audit.data.weights import weight_error

        bad = weight_error(merged["weights"], weight, where)
        if bad:
            raise DataError(bad)
    design = inclusion_weights(merged, sample)
    w = design if weight is None else design * pd.to_numeric(sample[weight], errors="coerce").to_numpy(float)
    frame = sample.reset_index(drop=True)
    frame[weight_column] = w
    return SampleResult(frame, _strata_table(merged, sample, strata), n, weight_column, strata)


def _draw(executor, source, parts, columns, strata, rows, n, floor, seed, weight):
    # The audit's sample pass: widen the key threshold until every stratum's allocation is met.
    k = min(rows, n)
    threshold = 1.0 if k >= n else min(1.0, 1.5 * k / n)
    for _ in range(16):
        job = SampleJob(columns, strata, [], [], seed, threshold, floor, weight=weight)
        merged = merge_sample_pass(executor.map(sample_task, source, parts, job), job)
        sample = select_sample(merged, k, n, threshold, floor)
        if sample is not None:
            return merged, sample
        threshold = min(1.0, threshold * 2)
    raise RuntimeError("could not draw the stratified sample")  # unreachable: the threshold reaches 1


def _strata_table(merged: dict, sample: pd.DataFrame, strata: list[str]) -> pd.DataFrame:
    from audit.stats.summaries import cell_keys

    codes, keys = cell_keys(sample[strata], strata)
    taken = np.bincount(codes, minlength=len(keys))
    recs = []
    for key, size in sorted(merged["strata"].items()):
        i = keys.index(key) if key in keys else -1
        n_h = int(taken[i]) if i >= 0 else 0
        recs.append([*key, int(size[0]), n_h, int(size[0]) / n_h if n_h else float("nan")])
    return pd.DataFrame(recs, columns=[*strata, "table_rows", "sample_rows", "weight"])


def write_sample(result: SampleResult, out: str | Path, overwrite: bool = False) -> Path:
    """Write the sample as Parquet, atomically (a temporary file renamed into place)."""
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise InputError(f"--out {out}: expected a .parquet file")
    if out.exists() and not overwrite:
        raise InputError(f"--out {out}: the file exists; pass --overwrite to replace it")
    if not out.parent.exists():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        result.frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
