"""Hypothesis strategies for hostile datasets: the valid table, mutated, written as Parquet or CSV.

A case is a :class:`DataCase`: a function that writes the data file(s) into a folder and
returns the path to pass as ``--data``, the mutations' labels, whether the data must be
refused (exit 2) and the names a refusal must mention. Mutations: empty tables, one row, one
class, NaN/inf in features or labels, mixed types, constant columns, huge and duplicate column
names, a sensitive column with many values, labels not in the model's classes, wrong dtypes,
list cells, missing columns, and broken files (zero bytes, header only, invalid UTF-8, a folder
of mismatched files, a FIFO).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import strategies as st

from ._harness import FEATURES, SENSITIVE, TARGET, base_frame

__all__ = ["DataCase", "data_cases"]


@dataclass(frozen=True)
class DataCase:
    """One generated dataset."""

    write: Callable[[Path], Path]
    labels: tuple[str, ...]
    must_refuse: bool
    names: tuple[str, ...]


def _rows(draw, n):
    if n == 0:  # an earlier mutation emptied the table
        return []
    return sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=max(1, n // 4)))))


def _mutate(draw, df: pd.DataFrame):
    """Apply one table mutation; (frame, label, must_refuse, names)."""
    kind = draw(st.sampled_from([
        "empty", "one row", "one class", "nan feature", "inf feature", "nan label", "huge values",
        "mixed types", "constant", "long extra name", "long feature name", "many groups", "unseen labels",
        "string labels", "float labels", "bool labels", "string numbers", "categorical dtype", "bool feature",
        "datetime feature", "list cells", "drop target", "drop feature", "drop sensitive", "nan sensitive",
        "numeric sensitive", "control names", "three classes", "continuous target", "few rows",
    ]))
    n = len(df)
    if kind == "empty":
        return df.iloc[:0], kind, True, ("no rows", "empty", "0 rows", "data.parquet", "data.csv")
    if kind == "one row":
        return df.iloc[:1].copy(), kind, None, ()
    if kind == "few rows":
        return df.iloc[: draw(st.integers(2, 12))].copy(), kind, None, ()
    if kind == "one class":
        out = df.copy()
        out[TARGET] = draw(st.sampled_from([0, 1]))
        return out, kind, None, (TARGET,)
    if kind in ("nan feature", "inf feature", "huge values"):
        out = df.copy()
        col = draw(st.sampled_from(FEATURES))
        value = {"nan feature": np.nan, "inf feature": draw(st.sampled_from([np.inf, -np.inf])),
                 "huge values": draw(st.sampled_from([1e308, -1e308, 1e300]))}[kind]
        out.loc[_rows(draw, n), col] = value
        return out, f"{kind} in {col}", None, (col,)
    if kind == "nan label":
        out = df.copy()
        out[TARGET] = out[TARGET].astype("float64")
        out.loc[_rows(draw, n), TARGET] = np.nan
        return out, kind, None, (TARGET,)
    if kind == "mixed types":
        out = df.copy()
        col = draw(st.sampled_from(FEATURES))
        values = out[col].astype(str).tolist()
        for r in _rows(draw, n):
            values[r] = draw(st.sampled_from(["abc", "", "1,5", "NaN", "\x00"]))
        out[col] = values
        return out, f"text in {col}", None, (col,)
    if kind == "constant":
        out = df.copy()
        col = draw(st.sampled_from(FEATURES))
        out[col] = 1.0
        return out, f"constant {col}", None, ()
    if kind == "long extra name":
        out = df.copy()
        out["z" * draw(st.integers(300, 20_000))] = 1.0
        return out, kind, None, ()
    if kind == "long feature name":
        # The policy names x1; the data has only the long name: x1 is missing.
        out = df.rename(columns={"x1": "x" * draw(st.integers(300, 20_000))})
        return out, kind, True, ("x1",)
    if kind == "many groups":
        out = df.copy()
        k = draw(st.integers(3, max(3, n)))
        out[SENSITIVE] = [f"g{i % k}" for i in range(n)]
        return out, f"{k} groups", None, (SENSITIVE,)
    if kind == "unseen labels":
        out = df.copy()
        out[TARGET] = out[TARGET] + draw(st.sampled_from([2, 10, -5]))
        return out, kind, None, (TARGET,)
    if kind == "string labels":
        out = df.copy()
        out[TARGET] = np.where(out[TARGET] == 1, "yes", "no")
        return out, kind, None, (TARGET,)
    if kind == "float labels":
        out = df.copy()
        out[TARGET] = out[TARGET].astype("float64")
        return out, kind, None, (TARGET,)
    if kind == "bool labels":
        out = df.copy()
        out[TARGET] = out[TARGET].astype(bool)
        return out, kind, None, (TARGET,)
    if kind == "three classes":
        out = df.copy()
        out.loc[_rows(draw, n), TARGET] = 2
        return out, kind, None, (TARGET,)
    if kind == "continuous target":
        out = df.copy()
        out[TARGET] = out["x1"] * 3.3 + 0.1
        return out, kind, None, (TARGET,)
    if kind == "string numbers":
        out = df.copy()
        col = draw(st.sampled_from(FEATURES))
        out[col] = out[col].map(lambda v: f"{v:.3f}")
        return out, f"numbers as text in {col}", None, (col,)
    if kind == "categorical dtype":
        out = df.copy()
        col = draw(st.sampled_from([*FEATURES, SENSITIVE]))
        out[col] = out[col].astype("category")
        return out, f"categorical {col}", None, (col,)
    if kind == "bool feature":
        out = df.copy()
        out["x2"] = out["x2"] > 0
        return out, kind, None, ("x2",)
    if kind == "datetime feature":
        out = df.copy()
        out["x2"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(n), unit="D")
        return out, kind, None, ("x2",)
    if kind == "list cells":
        out = df.copy()
        col = draw(st.sampled_from([SENSITIVE, "x1"]))
        # Every cell a list (Parquet cannot store a column mixing lists and scalars).
        out[col] = [[v, v] for v in out[col]]
        return out, f"list cells in {col}", None, (col,)
    if kind == "drop target":
        return df.drop(columns=[TARGET]), kind, True, (TARGET,)
    if kind == "drop feature":
        col = draw(st.sampled_from(FEATURES))
        return df.drop(columns=[col]), f"drop {col}", True, (col,)
    if kind == "drop sensitive":
        return df.drop(columns=[SENSITIVE]), kind, True, (SENSITIVE,)
    if kind == "nan sensitive":
        out = df.copy()
        values = out[SENSITIVE].tolist()
        for r in _rows(draw, n):
            values[r] = None
        out[SENSITIVE] = values
        return out, kind, None, (SENSITIVE,)
    if kind == "numeric sensitive":
        out = df.copy()
        out[SENSITIVE] = out[draw(st.sampled_from(["x1", "age"]))].to_numpy()
        return out, kind, None, (SENSITIVE,)
    # control characters and bidi overrides in column names and group values
    out = df.rename(columns={"region": "\x1b[2Jregion\u202e"})
    out[SENSITIVE] = out[SENSITIVE].map(lambda v: "\x1b]0;t\x07" + v)
    return out, kind, None, ()


def _writer(df: pd.DataFrame, fmt: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        if fmt == "parquet":
            path = folder / "data.parquet"
            try:
                df.to_parquet(path)
                return path
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                # A column mixing types Parquet cannot store (labels 'no' and 2): CSV holds it as text.
                path.unlink(missing_ok=True)
        path = folder / "data.csv"
        df.to_csv(path, index=False)
        return path
    return write


def _raw_file(name: str, content: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path
    return write


def _special(draw):
    """File-level breakage; (writer, label, must_refuse, names)."""
    df = base_frame()
    kind = draw(st.sampled_from(["zero bytes csv", "zero bytes parquet", "header only", "garbage parquet",
                                 "invalid utf-8", "duplicate csv columns", "mismatched folder", "empty folder",
                                 "fifo", "missing file", "ragged csv", "csv semicolons"]))
    header = ",".join(df.columns).encode()
    if kind == "zero bytes csv":
        return _raw_file("data.csv", b""), kind, True, ("data.csv",)
    if kind == "zero bytes parquet":
        return _raw_file("data.parquet", b""), kind, True, ("data.parquet",)
    if kind == "header only":
        return _raw_file("data.csv", header + b"\n"), kind, True, ("data.csv", "no rows", "empty")
    if kind == "garbage parquet":
        return _raw_file("data.parquet", b"PAR1" + draw(st.binary(min_size=0, max_size=200))), kind, True, \
            ("data.parquet",)
    if kind == "invalid utf-8":
        body = df.to_csv(index=False).encode()
        return _raw_file("data.csv", body.replace(b",f,", b",\xff\xfe,", 3)), kind, None, ("data.csv",)
    if kind == "duplicate csv columns":
        body = df.to_csv(index=False).encode().replace(b"x2", b"x1", 1)
        return _raw_file("data.csv", body), kind, True, ("x1", "x2", "duplicate")
    if kind == "ragged csv":
        lines = df.to_csv(index=False).encode().splitlines()
        lines[5] = lines[5] + b",1,2,3"
        return _raw_file("data.csv", b"\n".join(lines) + b"\n"), kind, True, ("data.csv",)
    if kind == "csv semicolons":
        return _raw_file("data.csv", df.to_csv(index=False, sep=";").encode()), kind, True, \
            ("data.csv", TARGET, "x1")
    if kind == "missing file":
        return (lambda folder: folder / "nowhere.parquet"), kind, True, ("nowhere.parquet",)
    if kind == "empty folder":
        def write(folder: Path) -> Path:
            (folder / "parts").mkdir()
            return folder / "parts"
        return write, kind, True, ("parts",)
    if kind == "fifo":
        def write(folder: Path) -> Path:
            path = folder / "data.csv"
            os.mkfifo(path)
            return path
        return write, kind, True, ("data.csv",)

    def write(folder: Path) -> Path:
        parts = folder / "parts"
        parts.mkdir()
        df.iloc[:100].to_parquet(parts / "a.parquet")
        other = df.iloc[100:].rename(columns={"x2": "x2_renamed"})
        other.to_parquet(parts / "b.parquet")
        return parts
    return write, kind, True, ("x2", "parts", "b.parquet")


@st.composite
def data_cases(draw) -> DataCase:
    """The valid table with one or two mutations, as Parquet or CSV; one time in four a broken file."""
    if draw(st.integers(0, 3)) == 0:
        write, label, refuse, names = _special(draw)
        return DataCase(write, (label,), bool(refuse), names)
    df = base_frame()
    labels, refuse, names = [], False, []
    for _ in range(draw(st.integers(1, 2))):
        try:
            df, label, bad, ns = _mutate(draw, df)
        except (KeyError, ValueError, TypeError):
            # An earlier mutation removed or retyped the column this one edits: the earlier one stands.
            continue
        labels.append(label)
        if bad:
            refuse = True
            names.extend(ns)
    fmt = draw(st.sampled_from(["parquet", "csv"]))
    return DataCase(_writer(df, fmt), (*labels, fmt), refuse, tuple(names))
