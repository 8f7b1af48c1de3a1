"""Where the rows of a held-out dataset come from, and its partitions.

A dataset is a Parquet file, a folder of Parquet files, a glob, a CSV
file, or a pandas DataFrame already in memory (:class:`FrameSource`). Its files, in sorted order, form one table; a partition is the row range
``[start, stop)`` of that table. Offsets come from Parquet metadata (no data is
read) or from one pass counting CSV lines, so every row has a *global index*
that does not depend on how the table is split. Everything random in a streamed
audit is keyed on that index, which is why the number of partitions and of
workers never changes a result.

A task reads only the row groups (or CSV lines) overlapping its range, so the
memory a partition costs is bounded by its size (plus one Parquet row group).
"""

from __future__ import annotations

import glob as _glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.errors import DataError

__all__ = ["Piece", "Partition", "TableSource", "FrameSource", "open_source", "partitions", "read_partition",
           "whole"]

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".txt", ".tsv")


@dataclass(frozen=True)
class Piece:
    """One file of the table: its rows ``[start, start + rows)`` and, for Parquet, row-group sizes."""

    path: str
    start: int
    rows: int
    row_groups: tuple[int, ...] = ()
    line_offsets: tuple[int, ...] = ()  # CSV: byte offset of every `csv_block`-th data line


@dataclass(frozen=True)
class TableSource:
    """The files of a dataset, in order, with the global row offset of each."""

    location: str
    kind: str  # "parquet" | "csv"
    pieces: tuple[Piece, ...]
    columns: tuple[str, ...]
    csv_block: int = 0
    # Column -> dtype every partition is read with, so a column is typed alike in every
    # partition (an integer column with a null somewhere is float everywhere, as pandas reads
    # the whole table); otherwise group names could differ between partitions ("1" vs "1.0").
    dtypes: dict | None = None

    @property
    def n_rows(self) -> int:
        return self.pieces[-1].start + self.pieces[-1].rows if self.pieces else 0


@dataclass(frozen=True)
class Partition:
    """Rows ``[start, stop)`` of a :class:`TableSource`; ``index`` is its position."""

    index: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def _files(location: str) -> list[Path]:
    p = Path(location)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in PARQUET + CSV)
        if not files:
            raise DataError(f"{location}: the folder holds no .parquet or .csv files")
        return files
    if any(ch in location for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(location))
        if not files:
            raise DataError(f"{location}: the pattern matches no file")
        return files
    if not p.exists():
        raise DataError(f"data file not found: {location}")
    return [p]


def open_source(location: str | Path, csv_block: int = 65_536) -> TableSource:
    """Describe the dataset at ``location`` (file, folder or glob) without reading its rows.

    Raises
    ------
    DataError
        No such file, mixed formats, files whose columns differ, or an unknown format.
    """
    location = str(location)
    files = _files(location)
    kinds = {("parquet" if f.suffix.lower() in PARQUET else "csv" if f.suffix.lower() in CSV else f.suffix)
             for f in files}
    if len(kinds) != 1 or not kinds <= {"parquet", "csv"}:
        raise DataError(f"{location}: expected .parquet or .csv files of one format; found {sorted(kinds)}")
    kind = kinds.pop()
    pieces, columns, start = [], None, 0
    for f in files:
        cols, piece = (_parquet_piece if kind == "parquet" else _csv_piece)(f, start, csv_block)
        if columns is None:
            columns = cols
        elif cols != columns:
            raise DataError(f"{f}: columns {list(cols)} differ from those of {files[0]}: {list(columns)}")
        pieces.append(piece)
        start += piece.rows
    if start == 0:
        raise DataError(f"{location}: the data is empty (0 rows)")
    dtypes = (_parquet_dtypes if kind == "parquet" else _csv_dtypes)(files, columns, csv_block)
    return TableSource(location, kind, tuple(pieces), tuple(columns), csv_block if kind == "csv" else 0, dtypes)


def _parquet_dtypes(files, columns, _block) -> dict:
    # Integer columns that hold a null in any row group of any file are read as float64
    # everywhere, as pandas reads the whole table (statistics give null counts without reading).
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = {}
    for f in files:
        pf = pq.ParquetFile(f)
        md = pf.metadata
        schema = md.schema.to_arrow_schema()
        for j in range(md.num_columns):
            name = md.schema.column(j).name
            field = schema.field(name) if name in schema.names else None
            if field is None or not pa.types.is_integer(field.type) or name in out:
                continue
            for g in range(md.num_row_groups):
                st = md.row_group(g).column(j).statistics
                if st is not None and st.has_null_count:
                    nulls = st.null_count
                else:  # no statistics written: read that one column chunk
                    nulls = pf.read_row_group(g, columns=[name]).column(0).null_count
                if nulls > 0:
                    out[name] = "float64"
                    break
    return out


def _csv_dtypes(files, columns, block) -> dict:
    # CSV has no schema, and pandas types each chunk by what it holds: an integer column with a
    # blank further down would be int in some partitions and float in others. One parse of the
    # whole table in chunks finds the type pandas gives each column when it reads it whole,
    # and every partition is then read with it. (CSV is read twice; prefer Parquet at scale.)
    seen: dict[str, set] = {}
    for f in files:
        sep = "\t" if f.suffix.lower() == ".tsv" else ","
        for chunk in pd.read_csv(f, sep=sep, chunksize=max(block, 65_536)):
            for c in chunk.columns:
                seen.setdefault(c, set()).add(chunk[c].dtype.kind)
    out = {}
    for c, kinds in seen.items():
        if kinds - {"i", "u", "f", "b"}:
            out[c] = "str"  # pandas 2: object of str; pandas 3: its string dtype (as a whole-table read gives)
        elif "f" in kinds or len(kinds) > 1:
            out[c] = "float64"
    return out


def _parquet_piece(f: Path, start: int, _block: int):
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(f).metadata
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise DataError(f"{f}: cannot read the Parquet metadata: {exc}") from exc
    groups = tuple(md.row_group(i).num_rows for i in range(md.num_row_groups))
    cols = tuple(md.schema.to_arrow_schema().names)
    cols = tuple(c for c in cols if not c.startswith("__index_level_"))
    return cols, Piece(str(f), start, int(md.num_rows), row_groups=groups)


def _csv_piece(f: Path, start: int, block: int):
    # One pass over the bytes: the offset of every `block`-th line, so a task seeks straight to
    # its rows. (Assumes no newline inside a quoted field, as dask.dataframe.read_csv does.)
    offsets, n, pos = [], 0, 0
    with open(f, "rb") as fh:
        header = fh.readline()
        pos = len(header)
        for line in fh:
            if line.strip():  # pandas skips blank lines: they are not rows
                if n % block == 0:
                    offsets.append(pos)
                n += 1
            pos += len(line)
    cols = tuple(pd.read_csv(f, nrows=0, sep="\t" if f.suffix.lower() == ".tsv" else ",").columns)
    return cols, Piece(str(f), start, n, line_offsets=tuple(offsets))


@dataclass(frozen=True, eq=False)
class FrameSource:
    """A DataFrame already in memory, read through the same interface as files.

    Partitions are row slices of the frame (no copy); ``location`` names it in
    messages (e.g. ``"<DataFrame>"``).
    """

    frame: pd.DataFrame
    location: str = "<DataFrame>"
    kind: str = "frame"

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.frame.columns)

    @property
    def pieces(self) -> tuple:
        return ()


def whole(source) -> Partition:
    """The one partition covering every row (the in-memory executor's partition)."""
    return Partition(0, 0, source.n_rows)


def partitions(source: TableSource, partition_rows: int) -> list[Partition]:
    """Split the table into consecutive partitions of ``partition_rows`` rows (the last may be shorter)."""
    if partition_rows < 1:
        raise ValueError(f"partition_rows must be >= 1; got {partition_rows}")
    n = source.n_rows
    return [Partition(i, s, min(s + partition_rows, n)) for i, s in enumerate(range(0, n, partition_rows))]


def read_partition(source: TableSource, part: Partition, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows ``[part.start, part.stop)`` of the table (only ``columns``), index = global row numbers."""
    if isinstance(source, FrameSource):
        df = source.frame.iloc[part.start:part.stop]
        df = df[list(columns)] if columns is not None else df
        df = df.copy(deep=False)
        df.index = pd.RangeIndex(part.start, part.stop)
        return df
    frames = []
    for piece in source.pieces:
        lo, hi = max(part.start, piece.start), min(part.stop, piece.start + piece.rows)
        if lo >= hi:
            continue
        reader = _read_parquet if source.kind == "parquet" else _read_csv
        frames.append(reader(source, piece, lo - piece.start, hi - piece.start, columns))
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]  # a new frame: no copy
    df.index = pd.RangeIndex(part.start, part.stop)
    return df


def _read_parquet(source, piece: Piece, lo: int, hi: int, columns):
    import pyarrow.parquet as pq

    ends = np.cumsum(piece.row_groups)
    first = int(np.searchsorted(ends, lo, side="right"))
    last = int(np.searchsorted(ends, hi - 1, side="right"))
    base = int(ends[first - 1]) if first else 0
    pf = pq.ParquetFile(piece.path)
    groups = list(range(first, last + 1))
    if (lo == base and hi == int(ends[last])) or _has_dictionary(pf, columns):
        table = pf.read_row_groups(groups, columns=columns)
    else:
        table = _decoded_up_to(pf, groups, columns, hi - base)
    df = table.slice(lo - base, hi - lo).to_pandas()
    cast = {c: t for c, t in (source.dtypes or {}).items() if c in df.columns and df[c].dtype != t}
    return df.astype(cast) if cast else df


_BATCH = 65_536  # rows decoded at a time when a read ends inside a row group


def _decoded_up_to(pf, groups: list[int], columns, stop: int):
    """The rows before ``stop`` of row groups ``groups`` (counted from the first one's start).

    A row group is decoded as a whole by ``read_row_groups``: with the default of 1M rows per
    group a 250k-row partition decoded four times its rows. Decoding in batches stops at the
    partition's end (rows before its start are still decoded: Parquet cannot skip to a row).
    """
    import pyarrow as pa

    batches, n = [], 0
    for b in pf.iter_batches(batch_size=_BATCH, row_groups=groups, columns=columns):
        batches.append(b)
        n += b.num_rows
        if n >= stop:
            break
    return pa.Table.from_batches(batches, schema=batches[0].schema)


def _has_dictionary(pf, columns) -> bool:
    # Dictionary (categorical) columns decoded in batches may carry one dictionary per batch, so
    # pandas' categories could come out in another order than from a whole-group read: such
    # tables keep the whole-group read.
    import pyarrow as pa

    schema = pf.schema_arrow
    names = schema.names if columns is None else [c for c in columns if c in schema.names]
    return any(pa.types.is_dictionary(schema.field(c).type) for c in names)


def _read_csv(source, piece: Piece, lo: int, hi: int, columns):
    block = source.csv_block
    k = lo // block
    skip = lo - k * block
    sep = "\t" if piece.path.lower().endswith(".tsv") else ","
    with open(piece.path, "rb") as fh:
        fh.seek(piece.line_offsets[k])
        # Read from the block's first row and drop the rows before `lo` (blank lines are
        # skipped by the parser, so counting rows, not lines, stays right).
        df = pd.read_csv(fh, sep=sep, header=None, names=list(source.columns), nrows=hi - lo + skip,
                         usecols=columns, dtype=source.dtypes or None)
    df = df.iloc[skip:]
    return df[list(columns)] if columns is not None else df
