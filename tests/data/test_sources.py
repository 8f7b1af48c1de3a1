"""Unit tests of audit.data.sources: a dataset's files as one table, read by row range."""

import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.data.sources import Partition, open_source, partitions, read_partition
from audit.errors import DataError


def _frame(n, seed=0, start=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": np.arange(start, start + n, dtype=np.int64),
        "x": rng.normal(size=n),
        "cat": rng.choice(["a", "b", "c"], size=n).astype(object),
        "flag": rng.random(n) < 0.3,
    })
    df.loc[df.index % 11 == 3, "x"] = np.nan  # missing floats must survive the round trip
    return df


def _write_parquet(df, path, row_group_size):
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group_size)


def _boundaries(sizes):
    # Global row numbers where a new row group / file starts (excluding 0 and n).
    return list(np.cumsum(sizes)[:-1])


def _check_roundtrip(src, expected, sizes, columns=None, boundaries=()):
    """Every partitioning of `src` concatenates back to `expected` (pandas' own read)."""
    n = len(expected)
    want = (expected if columns is None else expected[columns]).reset_index(drop=True)
    for k in sizes:
        parts = partitions(src, k)
        # Consecutive, covering, at most k rows each.
        assert [p.index for p in parts] == list(range(len(parts)))
        assert parts[0].start == 0 and parts[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
        assert all(0 < p.rows <= k for p in parts)
        assert len(parts) == math.ceil(n / k)
        frames = [read_partition(src, p, columns) for p in parts]
        for p, f in zip(parts, frames, strict=True):
            assert list(f.index) == list(range(p.start, p.stop))  # index = global row numbers
            assert f.dtypes.to_dict() == frames[0].dtypes.to_dict()  # one type per column, every partition
        # pandas' own concatenation may widen a string column to object (an empty file's column is object
        # under pandas 3): the values must match, and the partitions' types be the table's one type.
        pd.testing.assert_frame_equal(pd.concat(frames), want, check_dtype=False)
        for c in want.columns:
            assert pd.api.types.is_numeric_dtype(want[c]) == pd.api.types.is_numeric_dtype(frames[0][c]), c
    # The chosen sizes really do cut through row-group / file boundaries.
    if boundaries:
        cut = [any(p.start < b < p.stop for p in partitions(src, k) for b in boundaries) for k in sizes]
        assert any(cut)


def test_single_parquet_file_with_row_groups(tmp_path):
    df = _frame(500)
    path = tmp_path / "t.parquet"
    _write_parquet(df, path, 37)
    src = open_source(path)
    assert src.kind == "parquet"
    assert src.n_rows == 500
    assert src.columns == ("id", "x", "cat", "flag")
    assert len(src.pieces[0].row_groups) == math.ceil(500 / 37)
    expected = pd.read_parquet(path)
    sizes = [1, 36, 37, 50, 123, 499, 500, 10_000]
    _check_roundtrip(src, expected, sizes, boundaries=_boundaries([37] * 13 + [19]))
    _check_roundtrip(src, expected, [50, 123], columns=["cat", "id"])  # subset, reordered


def test_folder_of_parquet_files(tmp_path):
    # Uneven files, one of them empty, plus a non-data file the folder listing must ignore.
    sizes_per_file = [130, 0, 250, 120]
    frames, start = [], 0
    for i, m in enumerate(sizes_per_file):
        f = _frame(m, seed=i, start=start)
        _write_parquet(f, tmp_path / f"part-{i}.parquet", 40)
        frames.append(f)
        start += m
    (tmp_path / "README.md").write_text("not data")
    src = open_source(tmp_path)
    assert src.n_rows == sum(sizes_per_file)
    assert src.columns == ("id", "x", "cat", "flag")
    assert [p.rows for p in src.pieces] == sizes_per_file
    expected = pd.concat([pd.read_parquet(tmp_path / f"part-{i}.parquet") for i in range(4)], ignore_index=True)
    assert expected["id"].tolist() == list(range(500))  # the files are read in sorted order
    _check_roundtrip(src, expected, [1, 7, 40, 129, 131, 200, 500],
                     boundaries=[*range(40, 130, 40), 130, *range(170, 380, 40), 380, 420, 460])
    _check_roundtrip(src, expected, [129, 131], columns=["flag", "x"])


def test_glob_pattern_selects_matching_files_only(tmp_path):
    a0, a1 = _frame(60, seed=1), _frame(45, seed=2, start=60)
    _write_parquet(a0, tmp_path / "a-0.parquet", 16)
    _write_parquet(a1, tmp_path / "a-1.parquet", 16)
    # Different columns: opening it would fail, so it must not be matched.
    pq.write_table(pa.table({"other": [1, 2]}), tmp_path / "b-0.parquet")
    src = open_source(str(tmp_path / "a-*.parquet"))
    assert src.n_rows == 105
    assert len(src.pieces) == 2
    assert src.columns == ("id", "x", "cat", "flag")
    expected = pd.concat([pd.read_parquet(tmp_path / "a-0.parquet"), pd.read_parquet(tmp_path / "a-1.parquet")],
                         ignore_index=True)
    _check_roundtrip(src, expected, [1, 10, 59, 61, 105], boundaries=[16, 32, 48, 60, 76, 92])


def test_csv_file_seeks_by_block(tmp_path):
    df = _frame(100, seed=4)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    src = open_source(path, csv_block=7)
    assert src.kind == "csv"
    assert src.n_rows == 100
    assert src.columns == ("id", "x", "cat", "flag")
    assert len(src.pieces[0].line_offsets) == math.ceil(100 / 7)  # one offset per block
    expected = pd.read_csv(path)
    _check_roundtrip(src, expected, [1, 6, 7, 8, 13, 50, 99, 100, 1000], boundaries=list(range(7, 100, 7)))
    _check_roundtrip(src, expected, [8, 13], columns=["cat", "id"])


def test_folder_of_csv_and_tsv(tmp_path):
    d = tmp_path / "csv"
    d.mkdir()
    a, b = _frame(23, seed=5), _frame(31, seed=6, start=23)
    a.to_csv(d / "a.csv", index=False)
    b.to_csv(d / "b.csv", index=False)
    src = open_source(d, csv_block=4)
    expected = pd.concat([pd.read_csv(d / "a.csv"), pd.read_csv(d / "b.csv")], ignore_index=True)
    assert src.n_rows == 54
    _check_roundtrip(src, expected, [1, 5, 22, 24, 54], boundaries=[23])
    # Tab-separated files are read with a tab separator.
    a.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    tsv = open_source(tmp_path / "t.tsv", csv_block=3)
    assert tsv.columns == ("id", "x", "cat", "flag")
    _check_roundtrip(tsv, pd.read_csv(tmp_path / "t.tsv", sep="\t"), [2, 23])


def test_partitions_rejects_non_positive_size(tmp_path):
    _write_parquet(_frame(10), tmp_path / "t.parquet", 5)
    src = open_source(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="partition_rows"):
        partitions(src, 0)
    with pytest.raises(ValueError):
        partitions(src, -3)


# -- errors: DataError naming the path ----------------------------------------------------

def _raises_naming(path):
    return pytest.raises(DataError, match=re.escape(str(path)))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.parquet"
    with _raises_naming(path):
        open_source(path)


def test_empty_folder(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    (d / "notes.md").write_text("no data here")  # a non-data file does not count
    with _raises_naming(d):
        open_source(d)


def test_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "none-*.parquet")
    with _raises_naming(pattern):
        open_source(pattern)


def test_files_with_different_columns(tmp_path):
    _write_parquet(_frame(5), tmp_path / "a.parquet", 5)
    _write_parquet(_frame(5).rename(columns={"x": "y"}), tmp_path / "b.parquet", 5)
    with _raises_naming(tmp_path / "b.parquet") as info:
        open_source(tmp_path)
    assert "a.parquet" in str(info.value)  # and the file it was compared with


def test_csv_files_with_different_columns(tmp_path):
    _frame(5).to_csv(tmp_path / "a.csv", index=False)
    _frame(5)[["id", "x"]].to_csv(tmp_path / "b.csv", index=False)
    with _raises_naming(tmp_path / "b.csv"):
        open_source(tmp_path)


def test_mixed_csv_and_parquet(tmp_path):
    _write_parquet(_frame(5), tmp_path / "a.parquet", 5)
    _frame(5).to_csv(tmp_path / "b.csv", index=False)
    with _raises_naming(tmp_path) as info:
        open_source(tmp_path)
    assert "csv" in str(info.value) and "parquet" in str(info.value)


def test_unknown_format_and_empty_data(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{}")
    with _raises_naming(path):
        open_source(path)
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with _raises_naming(empty):
        open_source(empty)


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with _raises_naming(path):
        open_source(path)


# -- regressions: bugs found and fixed ----------------------------------------------------

def test_csv_blank_line_is_not_a_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a\n0\n1\n\n2\n3\n")
    expected = pd.read_csv(path)  # 4 rows: pandas skips the blank line
    src = open_source(path, csv_block=2)
    assert src.n_rows == len(expected)
    got = pd.concat([read_partition(src, p) for p in partitions(src, 2)])
    pd.testing.assert_frame_equal(got, expected)


def test_partition_dtypes_do_not_depend_on_partitioning(tmp_path):
    # Nulls only in the second row group: pandas reads the whole column as float64, but a
    # partition inside the first row group comes back int64, so str(value) is "1" there and
    # "1.0" elsewhere (cell keys and value counts split one group in two).
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"g": pa.array([1, 2, 1, 2, None, 1], type=pa.int64())}), path, row_group_size=3)
    full = pd.read_parquet(path)
    src = open_source(path)
    for p in partitions(src, 3):
        assert read_partition(src, p)["g"].dtype == full["g"].dtype


def test_read_partition_single_row_at_every_position(tmp_path):
    # Direct Partition objects (not from partitions()): any range is readable on its own.
    df = _frame(20)
    _write_parquet(df, tmp_path / "t.parquet", 6)
    src = open_source(tmp_path / "t.parquet")
    full = pd.read_parquet(tmp_path / "t.parquet")
    for i in range(20):
        got = read_partition(src, Partition(0, i, i + 1))
        pd.testing.assert_frame_equal(got, full.iloc[i:i + 1])
    pd.testing.assert_frame_equal(read_partition(src, Partition(3, 5, 13)), full.iloc[5:13])


def test_a_partition_ending_inside_a_large_row_group_reads_exactly_its_rows(tmp_path, monkeypatch):
    # A row group larger than the decoding batch: the read stops at the partition's last row
    # (audit.data.sources._decoded_up_to), batches of 1,000 here so that it stops mid-group.
    from audit.data import sources

    monkeypatch.setattr(sources, "_BATCH", 1_000)
    df = _frame(12_000, seed=5)
    _write_parquet(df, tmp_path / "one.parquet", row_group_size=10_000)
    decoded = []
    real = sources._decoded_up_to
    monkeypatch.setattr(sources, "_decoded_up_to",
                        lambda pf, groups, columns, stop: decoded.append(stop) or real(pf, groups, columns, stop))
    _check_roundtrip(open_source(tmp_path / "one.parquet"), df, [2_500, 3_333, 7_000], boundaries=[10_000])
    assert decoded and min(decoded) < 10_000  # some read stopped inside the first group
    src = open_source(tmp_path / "one.parquet")
    for lo, hi in [(0, 1), (999, 1_001), (4_321, 9_999), (9_999, 10_001), (10_500, 12_000)]:
        got = read_partition(src, Partition(index=0, start=lo, stop=hi))
        pd.testing.assert_frame_equal(got.reset_index(drop=True), df.iloc[lo:hi].reset_index(drop=True),
                                      check_dtype=False)
