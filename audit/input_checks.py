"""Everything the policy names, checked against the data before any work.

Two stages, each collecting every problem (with key path, line and "did you mean")
into one :class:`~audit.errors.PolicyError`:

1. **Against the data's schema** (:func:`check_schema`): column names and types, read from
   Parquet metadata, a CSV header and its first rows, or a DataFrame's dtypes; no table is
   read. The target, sensitive, feature, prediction and score columns; constraints (on
   columns that exist, of the column's kind); columns named by check and evaluation-set
   parameters; the score's and positive label's types; duplicate or nested columns; the
   limits on columns and name lengths (``execution.max_columns``, ``max_name_length``).
   :func:`data_check` runs it while the policy loads, so a policy's own problems and the
   data's are reported together.
2. **Against the sample pass's exact counts** (:func:`check_values`), still before any
   evaluation set is built or any model predicts: the target's classes (one class, a
   continuous target audited as classification, missing labels), the positive label and how
   it was chosen (:func:`positive_label`), groups named by ``reference_group`` and
   ``shifted.subpopulation``, and the number of groups per sensitive column
   (``execution.max_groups``).

Then every model answers a probe batch (:func:`probe_models`): a model that raises, exits,
hangs past its budget or breaks the output contract stops the audit with exit code 2.

Files are read only when they are regular files (:func:`audit.files.regular_file`): a path
that is, or links to, a device or a FIFO is refused before a byte is read.
"""

from __future__ import annotations

import csv
import difflib
import glob as _glob
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import DataError, InputError, ModelCallError, PolicyError, PolicyProblem
from audit.files import regular_file
from audit.policy._problems import Collector
from audit.policy.schema import Execution

__all__ = ["implicit_features", "DataSchema", "Limits", "read_schema", "data_files", "data_check", "check_schema", "check_values",
           "positive_label", "probe_models", "PROBE_ROWS"]

PROBE_ROWS = 64
"""Rows of the probe batch every model answers before the audit."""

_HEAD_ROWS = 1000  # rows of a CSV read to type its columns (the schema stage reads no more)
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".txt", ".tsv")


# -- the data's schema ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSchema:
    """Column names and kinds of a dataset, read without reading its rows.

    Attributes
    ----------
    location : str
        The data as messages name it.
    columns : tuple of str
        In the data's order.
    kinds : dict
        Column -> ``"integer"``, ``"float"``, ``"bool"``, ``"string"``, ``"datetime"``,
        ``"nested"`` (lists, maps, structs) or ``"other"``.
    duplicates : tuple of str
        Names given to more than one column.
    detail : dict
        Column -> the storage type behind a ``"nested"`` or ``"other"`` kind (for messages).
    """

    location: str
    columns: tuple[str, ...]
    kinds: dict[str, str]
    duplicates: tuple[str, ...] = ()
    detail: dict[str, str] = field(default_factory=dict)

    def numeric(self, column: str) -> bool:
        """True for integer and float columns (booleans are categories here)."""
        return self.kinds.get(column) in ("integer", "float")


def data_files(location: str | Path, what: str = "data") -> list[Path]:
    """The files of a dataset (a file, a folder or a glob of them), each a regular file.

    Raises
    ------
    DataError
        Nothing matches, or a file is a device, FIFO, socket or a link to one.
    """
    text = str(location)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in _PARQUET + _CSV)
        if not files:
            raise DataError(f"{text}: the folder holds no .parquet or .csv files")
    elif any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(text))
        if not files:
            raise DataError(f"{text}: the pattern matches no file")
    else:
        files = [p]
    return [regular_file(f, f"{what} file", DataError) for f in files]


def read_schema(data, what: str = "data") -> DataSchema:
    """The :class:`DataSchema` of a DataFrame or of the files at a path.

    Raises
    ------
    DataError
        Missing or special files, an unknown format, unreadable metadata or header.
    """
    if isinstance(data, pd.DataFrame):
        return _frame_schema(data, f"<{what} DataFrame>")
    files = data_files(data, what)
    suffix = files[0].suffix.lower()
    if suffix in _PARQUET:
        return _parquet_schema(str(data), files[0])
    if suffix in _CSV:
        # The first file with rows describes the columns (a header-only file reads every column as text).
        first = next((f for f in files if _csv_has_rows(f)), files[0])
        return _csv_schema(str(data), first, only=len(files) == 1)
    raise DataError(f"{files[0]}: unknown data format {suffix!r}; expected .csv or .parquet")


def _frame_schema(df: pd.DataFrame, location: str) -> DataSchema:
    names = [str(c) for c in df.columns]
    kinds, detail = {}, {}
    for name, (_, s) in zip(names, df.items(), strict=True):
        if isinstance(s, pd.DataFrame):  # a duplicated label selects several columns
            continue
        kinds[name], why = _pandas_kind(s)
        if why:
            detail[name] = why
    return DataSchema(location, tuple(names), kinds, _repeated(names), detail)


def _pandas_kind(s: pd.Series) -> tuple[str, str]:
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "bool", ""
    if pd.api.types.is_integer_dtype(dt):
        return "integer", ""
    if pd.api.types.is_float_dtype(dt):
        return "float", ""
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "datetime", ""
    if isinstance(dt, pd.CategoricalDtype):
        return ("float" if pd.api.types.is_numeric_dtype(dt.categories.dtype) else "string"), ""
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred in ("string", "empty", "categorical"):
        return "string", ""
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "float", ""
    if inferred == "boolean":
        return "bool", ""
    # Anything else may hold lists, dicts or sets: they cannot be counted or compared as values.
    odd = s.map(lambda v: isinstance(v, list | dict | set | tuple | np.ndarray))
    if bool(odd.any()):
        first = s[odd].iloc[0]
        return "nested", f"{type(first).__name__} values (e.g. {repr(first)[:40]})"
    return ("string" if inferred in ("mixed", "mixed-integer", "bytes") else "other"), ""


def _parquet_schema(location: str, first: Path) -> DataSchema:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(first)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise DataError(f"{first}: cannot read the Parquet metadata: {exc}") from None
    names = [n for n in schema.names if not n.startswith("__index_level_")]
    kinds, detail = {}, {}
    for name in names:
        t = schema.field(name).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_boolean(t):
            kinds[name] = "bool"
        elif pa.types.is_integer(t):
            kinds[name] = "integer"
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            kinds[name] = "float"
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            kinds[name] = "string"
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            kinds[name] = "datetime"
        elif pa.types.is_nested(t):
            kinds[name], detail[name] = "nested", f"Parquet type {t}"
        else:
            kinds[name], detail[name] = "other", f"Parquet type {t}"
    return DataSchema(location, tuple(names), kinds, _repeated(names), detail)


def _csv_schema(location: str, first: Path, only: bool = True) -> DataSchema:
    sep = "\t" if first.suffix.lower() == ".tsv" else ","
    with open(first, "rb") as fh:
        raw = fh.readline(16 << 20)  # a header over 16 MiB is not a header
    try:
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{first}: the header is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    csv.field_size_limit(16 << 20)
    header = next(csv.reader(io.StringIO(line), delimiter=sep), [])
    if not header or header == [""]:
        raise DataError(f"{first}: the file is empty or has no header line; expected column names on the first line")
    try:
        head = pd.read_csv(first, sep=sep, nrows=_HEAD_ROWS, header=0, names=_unique(header),
                           encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - any parser failure is bad input
        raise DataError(f"{first}: cannot read the CSV file: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if head.empty and only:
        # Found by the fuzz suite: with no rows every column reads as text, and the policy's numeric
        # constraints were reported as "holds string values" instead of the empty file.
        raise DataError(f"{first}: a header line but no data rows (0 rows); expected at least one row")
    kinds, detail = {}, {}
    for name, (_, s) in zip(header, head.items(), strict=True):
        kinds.setdefault(name, _pandas_kind(s)[0])
    return DataSchema(location, tuple(header), kinds, _repeated(header), detail)


def _csv_has_rows(path: Path) -> bool:
    """Whether a CSV file has a non-blank line after its header (reads two lines at most)."""
    with open(path, "rb") as fh:
        fh.readline(16 << 20)
        return bool(fh.readline(16 << 20).strip())


def _unique(names: list[str]) -> list[str]:
    # pandas refuses duplicate names= ; the schema reports duplicates itself.
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if not k else f"{n}\x00{k}")
    return out


def _repeated(names: list[str]) -> tuple[str, ...]:
    seen, out = set(), []
    for n in names:
        if n in seen and n not in out:
            out.append(n)
        seen.add(n)
    return tuple(out)


# -- limits ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """The bounds of ``execution`` (``max_groups``, ``max_columns``, ``max_name_length``)."""

    max_groups: int
    max_columns: int
    max_name_length: int

    @classmethod
    def of(cls, doc: dict) -> Limits:
        """From a policy document, each falling back to its default when absent or invalid."""
        ex = doc.get("execution") if isinstance(doc.get("execution"), dict) else {}
        out = {}
        for key in ("max_groups", "max_columns", "max_name_length"):
            v, f = ex.get(key), Execution.model_fields[key]
            lo = next((m.ge for m in f.metadata if hasattr(m, "ge")), 1)
            out[key] = v if type(v) is int and v >= lo else f.default
        return cls(**out)


# -- stage 1: names and kinds -----------------------------------------------------------------------

def data_check(data=None, reference=None):
    """A loader hook (``load_policy(..., data_check=...)``) checking the policy against the data.

    ``data`` and ``reference`` override the policy's files (paths or DataFrames). Files
    that do not exist are left to the loader, which reports them already.
    """
    def check(doc: dict, col: Collector, base_dir: Path) -> None:
        check_strings(doc, col)
        d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        schema = _schema_at(data, d.get("path"), base_dir, ("data", "path"), col, "data")
        if schema is None:
            return
        ref = _schema_at(reference, d.get("reference"), base_dir, ("data", "reference"), col, "reference")
        check_schema(doc, col, schema, ref)
        if col.problems and _names_resolved(doc, schema):
            # The policy fails anyway: report its groups and labels too, in the same error.
            _values_too(doc, col, data if data is not None else _resolved(d.get("path"), base_dir), schema)

    return check


def _names_resolved(doc: dict, schema: DataSchema) -> bool:
    # The counts need the target column; missing sensitive columns are skipped.
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    return isinstance(d.get("target"), str) and d["target"] in schema.columns


def _resolved(rel, base_dir: Path):
    p = Path(rel).expanduser()
    return p if p.is_absolute() else base_dir / p


def _values_too(doc: dict, col: Collector, data, schema: DataSchema) -> None:
    """Stage 2 on a streamed count of the target and sensitive columns, so a policy that fails
    anyway gets its group and label problems in the same report."""
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    target = d.get("target")
    sensitive = [n for _, n in _names(d.get("sensitive"))]
    groups = _group_columns(doc)
    columns = list(dict.fromkeys(c for c in [target, *sensitive, *groups] if isinstance(c, str) and c in schema.columns))
    if not isinstance(target, str) or target not in schema.columns or schema.duplicates:
        return
    vocab = max(1000, Limits.of(doc).max_groups)
    try:
        counts = light_counts(data, columns, vocab)
    except Exception:  # noqa: BLE001 - the run's own reading reports unreadable data
        return
    task = _doc_task(doc, target, counts, schema)
    value_problems(doc, col.add, counts, target, [c for c in sensitive if c in schema.columns], task, schema, vocab)


def _group_columns(doc: dict) -> list[str]:
    sets = doc.get("evalsets") if isinstance(doc.get("evalsets"), dict) else {}
    out = []
    for d in sets.values():
        params = d.get("params") if isinstance(d, dict) else None
        group = params.get("group") if isinstance(params, dict) else None
        if isinstance(group, str) and "=" in group:
            out.append(group.split("=", 1)[0].strip())
    return out


def _schema_at(given, rel, base_dir: Path, loc: tuple, col: Collector, what: str) -> DataSchema | None:
    if given is None:
        if not isinstance(rel, str):
            return None
        p = Path(rel).expanduser()
        target = p if p.is_absolute() else base_dir / p
        if not (target.exists() or target.is_symlink() or any(ch in rel for ch in "*?[")):
            return None  # the loader says "file not found"
        given = target
    try:
        return read_schema(given, what)
    except InputError as exc:
        col.add(loc, str(exc))
        return None


def check_strings(doc: Any, col: Collector, loc: tuple = ()) -> None:
    """Every string of the policy must be valid Unicode (a ``"\\ud800"`` escape makes a lone
    surrogate, which no file, report or terminal can hold)."""
    if isinstance(doc, str):
        try:
            doc.encode("utf-8")
        except UnicodeEncodeError as exc:
            col.add(loc, f"the text holds an invalid character (a lone surrogate, U+{ord(doc[exc.start]):04X}, "
                         f"at position {exc.start}); write it as valid Unicode")
    elif isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(k, str) and not _valid(k):
                col.add(loc + (k,), "the key holds an invalid character (a lone surrogate); write it as valid Unicode")
            check_strings(v, col, loc + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            check_strings(v, col, loc + (i,))


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(value) -> list[tuple[int | None, str]]:
    """(index, name) of a key holding one column name or a list of them; other values ignored."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str)]
    return []


def _hint(name: str, options) -> str:
    options = [o for o in options if isinstance(o, str)]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    shown = options[:25] + (["..."] if len(options) > 25 else [])
    return f"; the data has {shown}"


def _short(name: str, limit: int = 60) -> str:
    return repr(name) if len(name) <= limit else repr(name[:limit - 3] + "...")


def implicit_features(columns: list[str], roles: list[str | None], sensitive: list[str],
                      with_sensitive: bool) -> list[str]:
    """The features of a policy that lists none: every column but the target, prediction, score
    and weight columns (``roles``), and but the sensitive ones unless ``data.sensitive_features``.

    One rule for the check against the data's schema and for the audit itself
    (:func:`audit.inputs.data_columns`).
    """
    drop = {r for r in roles if r is not None} | (set() if with_sensitive else set(sensitive))
    return [c for c in columns if c not in drop]


class _Roles:
    """Which columns play which part, resolved from the raw ``data`` block and the schema."""

    def __init__(self, doc: dict, schema: DataSchema):
        d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        cols = set(schema.columns)
        self.target = d.get("target") if isinstance(d.get("target"), str) else None
        self.sensitive = [n for _, n in _names(d.get("sensitive")) if isinstance(d.get("sensitive"), list)]
        self.prediction = d.get("prediction") if isinstance(d.get("prediction"), str) else None
        self.score = d.get("score") if isinstance(d.get("score"), str) else None
        self.weight = d.get("weight") if isinstance(d.get("weight"), str) else None
        listed = d.get("features")
        if isinstance(listed, list):
            self.features = [n for _, n in _names(listed) if n in cols]
            self.listed = True
        else:
            self.features = implicit_features(schema.columns, [self.target, self.prediction, self.score, self.weight],
                                              self.sensitive, d.get("sensitive_features") is not False)
            self.listed = False

    @property
    def used(self) -> list[str]:
        extra = [c for c in (self.target, self.prediction, self.score, self.weight) if c is not None]
        return list(dict.fromkeys([*self.features, *extra, *self.sensitive]))


def check_schema(doc: dict, col: Collector, schema: DataSchema, ref: DataSchema | None = None) -> None:
    """Stage 1 (see the module docstring): every problem goes to ``col`` at its key path."""
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    cols = set(schema.columns)
    where = schema.location
    limits = Limits.of(doc)
    if schema.duplicates:
        col.add(("data", "path"), f"{where}: column name(s) {list(schema.duplicates)[:10]} appear more than once; "
                                  "every column needs a name of its own")

    def need(loc: tuple, name: str, role: str) -> bool:
        if name in cols:
            return True
        col.add(loc, f"{role} column {_short(name)} not found in {where}{_hint(name, schema.columns)}")
        return False

    for key, role in (("target", "target"), ("prediction", "prediction"), ("score", "score"), ("weight", "weight")):
        if isinstance(d.get(key), str):
            need(("data", key), d[key], role)
    for key, role in (("sensitive", "sensitive"), ("features", "feature")):
        for i, name in _names(d.get(key)) if isinstance(d.get(key), list) else []:
            need(("data", key, i), name, role)
    roles = _Roles(doc, schema)
    if roles.listed and roles.target is not None:
        for i, name in _names(d.get("features")):
            if name == roles.target:
                col.add(("data", "features", i), f"the target column {name!r} is also listed as a feature; "
                                                  "a model must not see the answer")
    if d.get("features") == [] and roles.prediction is None:
        # Found by the fuzz suite: the model got a table with no columns and failed on the probe
        # batch with numpy's "at least one array or dtype is required", naming no key.
        col.add(("data", "features"), "an empty list: the model would get no input columns; name its "
                                      "features, or leave data.features out to use every other column")
    _check_limits(col, roles, schema, limits)
    _check_kinds(doc, col, roles, schema)
    _check_constraints(doc, col, roles, schema)
    _check_params(doc, col, roles, schema)
    if ref is not None:
        _check_reference(col, roles, schema, ref)


def _check_limits(col: Collector, roles: _Roles, schema: DataSchema, limits: Limits) -> None:
    used = [c for c in roles.used if c in schema.kinds or c in schema.columns]
    if len(used) > limits.max_columns:
        loc = ("data", "features") if roles.listed else ("data", "path")
        col.add(loc, f"the audit would read {len(used):,} columns of {schema.location} ({len(roles.features):,} "
                     f"features); the limit is execution.max_columns = {limits.max_columns:,}. Name the model's "
                     "inputs in data.features, or raise execution.max_columns")
    long = [c for c in used if len(c) > limits.max_name_length]
    if long:
        col.add(("data", "path"), f"{len(long)} column name(s) of {schema.location} are longer than "
                                  f"execution.max_name_length = {limits.max_name_length:,} characters (the longest "
                                  f"has {max(map(len, long)):,}, starting {_short(long[0], 40)}); rename them, or raise "
                                  "execution.max_name_length")


def _check_kinds(doc: dict, col: Collector, roles: _Roles, schema: DataSchema) -> None:
    kinds = schema.kinds
    for c in roles.used:
        if kinds.get(c) == "nested":
            what = schema.detail.get(c, "lists or records")
            col.add(_role_loc(doc, roles, c), f"column {_short(c)} of {schema.location} holds {what}; expected "
                                              "numbers, strings, booleans or dates in every cell")
    if roles.score is not None and roles.score in kinds and not schema.numeric(roles.score):
        col.add(("data", "score"), f"score column {roles.score!r} holds {kinds[roles.score]} values; expected "
                                   "numbers (the positive class's probability, in [0, 1])")
    if roles.weight is not None and roles.weight in kinds and not schema.numeric(roles.weight):
        col.add(("data", "weight"), f"weight column {roles.weight!r} holds {kinds[roles.weight]} values; expected "
                                    "non-negative numbers (each row's sampling weight)")
    task = doc.get("task")
    t = roles.target
    if t is not None and t in kinds:
        if task == "regression" and not schema.numeric(t):
            col.add(("data", "target"), f"task is regression, but target column {t!r} holds {kinds[t]} values; "
                                        "expected numbers (or task: classification)")
        pos = doc.get("pos_label")
        if pos is not None and task != "regression":
            _check_pos_type(col, pos, t, kinds[t])


def _check_pos_type(col: Collector, pos, target: str, kind: str) -> None:
    if kind in ("integer", "float") and isinstance(pos, str):
        col.add(("pos_label",), f"pos_label {pos!r} is a string, but target column {target!r} holds numbers; "
                                "write the label as the data holds it, without quotes (e.g. pos_label: 1)")
    elif kind == "string" and isinstance(pos, int | float) and not isinstance(pos, bool):
        col.add(("pos_label",), f"pos_label {pos!r} is a number, but target column {target!r} holds text; "
                                f"write it in quotes as the data holds it (pos_label: '{pos}')")
    elif kind == "bool" and not isinstance(pos, bool):
        col.add(("pos_label",), f"pos_label {pos!r} is not a boolean, but target column {target!r} holds "
                                "true/false; write pos_label: true (or false)")


def _role_loc(doc: dict, roles: _Roles, c: str) -> tuple:
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    for key in ("target", "prediction", "score"):
        if d.get(key) == c:
            return ("data", key)
    for key in ("sensitive", "features"):
        for i, name in _names(d.get(key)) if isinstance(d.get(key), list) else []:
            if name == c:
                return ("data", key, i)
    return ("data", "path")


def _check_constraints(doc: dict, col: Collector, roles: _Roles, schema: DataSchema) -> None:
    cons = doc.get("constraints") if isinstance(doc.get("constraints"), dict) else {}
    for name, c in cons.items():
        if not isinstance(name, str):
            continue
        if name not in schema.columns:
            col.add(("constraints", name), f"constraint on column {_short(name)}, which is not in "
                                           f"{schema.location} (a constraint on a missing column protects "
                                           f"nothing){_hint(name, schema.columns)}")
            continue
        if not isinstance(c, dict):
            continue
        kind = schema.kinds.get(name)
        if c.get("categories") is not None and schema.numeric(name):
            col.add(("constraints", name, "categories"), f"categories describe a non-numeric feature, but column "
                                                         f"{name!r} holds numbers ({kind}); give min/max/integer")
        numeric_keys = [k for k in ("min", "max") if c.get(k) is not None]
        if c.get("integer") is True:
            numeric_keys.append("integer")
        if numeric_keys and kind in ("string", "bool", "datetime"):
            col.add(("constraints", name, numeric_keys[0]), f"{'/'.join(numeric_keys)} describe a numeric "
                                                            f"feature, but column {name!r} holds {kind} values; "
                                                            "give categories instead")


# Parameters that name columns: of checks, and of evaluation sets.
_CHECK_FEATURE_KEYS = ("features",)
_SET_FEATURE_KEYS = ("feature", "features", "columns")


def _features_named(col: Collector, loc: tuple, params: dict, keys: tuple[str, ...], features: list[str]) -> None:
    """Every column the ``keys`` of ``params`` name (a name or a list) must be a feature."""
    for key in keys:
        for j, name in _names(params.get(key)):
            if name not in features:
                col.add(loc + (key,) + (() if j is None else (j,)),
                        f"feature {_short(name)} is not among the features{_hint(name, features)}")


def _check_params(doc: dict, col: Collector, roles: _Roles, schema: DataSchema) -> None:
    cols = set(schema.columns)
    declared = roles.sensitive
    checks = doc.get("checks") if isinstance(doc.get("checks"), list) else []
    for i, entry in enumerate(checks):
        params = entry.get("params") if isinstance(entry, dict) else None
        if not isinstance(params, dict):
            continue
        for j, name in _names(params.get("sensitive")):
            loc = ("checks", i, "params", "sensitive") + (() if j is None else (j,))
            if name in declared:
                continue
            if name in cols:
                col.add(loc, f"column {name!r} is not a sensitive column: add it to data.sensitive to audit "
                             f"groups of it (data.sensitive is {declared})")
            else:
                col.add(loc, f"sensitive column {_short(name)} not found in {schema.location}{_hint(name, declared or list(cols))}")
        _features_named(col, ("checks", i, "params"), params, _CHECK_FEATURE_KEYS, roles.features)
        ref = params.get("reference_group")
        if isinstance(ref, dict):
            for k in ref:
                if isinstance(k, str) and k not in declared:
                    col.add(("checks", i, "params", "reference_group", k),
                            f"reference_group names column {_short(k)}, which is not a sensitive column"
                            f"{_hint(k, declared)}")
        elif isinstance(ref, str) and "=" in ref:
            c = ref.split("=", 1)[0].strip()
            if c not in declared:
                col.add(("checks", i, "params", "reference_group"),
                        f"reference_group {ref!r} names column {c!r}, which is not a sensitive column{_hint(c, declared)}")
    sets = doc.get("evalsets") if isinstance(doc.get("evalsets"), dict) else {}
    for name, d in sets.items():
        params = d.get("params") if isinstance(d, dict) else None
        if not isinstance(params, dict):
            continue
        _features_named(col, ("evalsets", name, "params"), params, _SET_FEATURE_KEYS, roles.features)
        tc = params.get("time_column")
        if isinstance(tc, str) and tc not in roles.features and tc not in declared:
            col.add(("evalsets", name, "params", "time_column"),
                    f"time column {_short(tc)} is not a feature or sensitive column{_hint(tc, list(cols))}")
        group = params.get("group")
        if isinstance(group, str):
            if "=" not in group:
                col.add(("evalsets", name, "params", "group"), f"group {group!r} must be 'column=value', e.g. 'sex=F'")
                continue
            c = group.split("=", 1)[0].strip()
            if c not in declared and c not in roles.features:
                col.add(("evalsets", name, "params", "group"),
                        f"group {group!r} names column {c!r}, which is not a sensitive column or feature"
                        f"{_hint(c, declared + roles.features)}")
            elif c not in declared and schema.numeric(c):
                col.add(("evalsets", name, "params", "group"),
                        f"group {group!r} names the numeric column {c!r}; a subpopulation is a value of a "
                        "sensitive or categorical column")


def _check_reference(col: Collector, roles: _Roles, schema: DataSchema, ref: DataSchema) -> None:
    missing = [c for c in roles.features if c not in ref.columns]
    if missing:
        col.add(("data", "reference"), f"the reference data {ref.location} lacks feature column(s) "
                                       f"{[_short(c, 40) for c in missing[:10]]}; it must hold every feature")
    if ref.duplicates:
        col.add(("data", "reference"), f"{ref.location}: column name(s) {list(ref.duplicates)[:10]} appear more "
                                       "than once")
    nested = [c for c in roles.features if ref.kinds.get(c) == "nested"]
    if nested:
        col.add(("data", "reference"), f"{ref.location}: column(s) {nested[:10]} hold lists or records; expected "
                                       "numbers, strings, booleans or dates")


# -- stage 2: values, from the sample pass's exact counts -------------------------------------------

_CONVENTIONAL = ({"0", "1"}, {"False", "True"}, {"-1", "1"}, {"0.0", "1.0"}, {"-1.0", "1.0"})


def positive_label(pos, class_names: list[str]) -> tuple[str | None, str]:
    """Which class is positive, and how that was decided (recorded in the manifest).

    Returns ``(name, rule)``; ``name`` is None when the policy must say (``pos_label``):
    two classes other than 0/1, false/true or -1/1 (``yes``/``no``, ``1``/``2``, ``good``/``bad``:
    sorting would pick one by the alphabet, not by meaning). With three or more classes the
    last in sorted order is the positive class of one-vs-rest metrics, and the rule says so.
    """
    if pos is not None:
        return str(pos), "pos_label given by the policy"
    if len(class_names) == 2 and set(class_names) in _CONVENTIONAL:
        name = max(class_names, key=float) if set(class_names) != {"False", "True"} else "True"
        return name, f"{name}, the larger of the classes {sorted(class_names)} (conventional; set pos_label to change)"
    if len(class_names) == 2:
        return None, ""
    name = class_names[-1] if class_names else None
    return name, (f"{name}, the last of {len(class_names)} classes in sorted order, for one-vs-rest metrics "
                  "(set pos_label to choose another)")


def check_values(lp, counts: dict, columns, task: str, schema: DataSchema | None = None,
                 max_vocab: int | None = None) -> list[PolicyProblem]:
    """Stage 2 (see the module docstring): the problems found against the exact counts.

    Parameters
    ----------
    lp : LoadedPolicy
        The policy; places problems at their key paths (``lp.problem``).
    counts : dict
        Column -> {value name: rows} (``<missing>`` for missing values), or None when the
        column had more distinct values than were counted.
    columns : audit.inputs.Columns
        Which columns play which part (``target``, ``sensitive``).
    task : str
    schema : DataSchema, optional
        Column kinds (a float target audited as classification).
    max_vocab : int, optional
        How many distinct values were counted per column.
    """
    problems: list[PolicyProblem] = []
    value_problems(lp.document, lambda loc, msg: problems.append(lp.problem(loc, msg)), counts,
                   columns.target, list(columns.sensitive), task, schema, max_vocab)
    return sorted(problems, key=lambda p: (p.file is not None, p.file or "", p.line or 0))


def value_problems(doc: dict, add, counts: dict, target: str, sensitive: list[str], task: str,
                   schema: DataSchema | None, max_vocab: int | None) -> None:
    """:func:`check_values` on a policy document (valid or not): ``add(loc, message)`` per problem."""
    from audit.stats.summaries import MISSING

    limits = Limits.of(doc)
    t = target
    tc = counts.get(t)
    if tc is not None and tc.get(MISSING):
        add(("data", "target"), f"target column {t!r} has {tc[MISSING]:,} missing value(s); expected a label on "
                                "every row")
    if task == "classification":
        pos = doc.get("pos_label")
        _check_classes(add, doc, pos if isinstance(pos, str | int | float | bool) else None, t, tc, schema,
                       max_vocab)
    for i, c in enumerate(sensitive):
        if c not in counts:
            continue
        vc = counts.get(c)
        n_values = None if vc is None else len([v for v in vc if v != MISSING])
        if vc is None or n_values > limits.max_groups:
            shown = f"more than {max_vocab:,}" if vc is None else f"{n_values:,}"
            add(("data", "sensitive", i), f"sensitive column {c!r} has {shown} distinct values; each is a group of "
                                          f"the fairness checks, and the limit is execution.max_groups = "
                                          f"{limits.max_groups:,} (raise it to audit that many groups, each needing "
                                          "min_group_size rows)")
            continue
        long = [v for v in vc if len(v) > limits.max_name_length]
        if long:
            add(("data", "sensitive", i), f"sensitive column {c!r} has {len(long)} value(s) longer than "
                                          f"execution.max_name_length = {limits.max_name_length:,} characters "
                                          f"(e.g. {_short(long[0], 40)})")
    _check_groups(add, doc, counts, sensitive)


def _check_classes(add, doc: dict, pos, t: str, tc: dict | None, schema: DataSchema | None, max_vocab) -> None:
    from audit.stats.summaries import MISSING

    kind = schema.kinds.get(t) if schema is not None else None
    if tc is None:
        add(("data", "target"), f"target column {t!r} has more than {max_vocab or 1000:,} distinct values: a "
                                "continuous target, not classes; set task: regression")
        return
    names = sorted((v for v in tc if v != MISSING), key=_sort_key)
    if kind == "float" and any(not _integral(v) for v in names):
        shown = [v for v in names if not _integral(v)][:3]
        add(("task",) if doc.get("task") == "classification" else ("data", "target"),
            f"target column {t!r} holds continuous values (e.g. {', '.join(shown)}; {len(names):,} distinct), but "
            "the audit treats it as classification; set task: regression (or give class labels)")
        return
    if len(names) < 2:
        add(("data", "target"), f"target column {t!r} has one class ({names[0]!r} on every row); a classifier "
                                "needs at least two to be audited" if names else f"target column {t!r} has no labels")
        return
    if pos is not None and not any(_same(pos, v) for v in names):
        close = difflib.get_close_matches(str(pos), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        add(("pos_label",), f"pos_label {pos!r} is not a class of target column {t!r}; its classes are "
                            f"{names[:20]}{hint}")
        return
    name, _ = positive_label(pos, names)
    if name is None:
        add(("pos_label",), f"target column {t!r} has the classes {names}: which is the positive (favourable) "
                            f"outcome cannot be told from the labels; set pos_label in the policy "
                            f"(e.g. pos_label: {names[-1]!r})")


def light_counts(data, columns: list[str], max_vocab: int) -> dict:
    """Exact value counts of a few columns, streamed over the table in partitions (bounded memory).

    The loader hook uses them to report the groups and labels a policy names together with
    the policy's other problems, when it already has some (a run whose policy is clean gets
    the same counts from the sample pass, at no extra cost).
    """
    from audit.data.sources import FrameSource, open_source, partitions, read_partition
    from audit.stats.summaries import category_counts

    source = FrameSource(data.reset_index(drop=True)) if isinstance(data, pd.DataFrame) else open_source(data)
    counts: dict = {c: {} for c in columns}
    for part in partitions(source, 250_000):
        df = read_partition(source, part, columns)
        for c in columns:
            if counts[c] is None:
                continue
            for v, m in category_counts(df[c]).items():
                counts[c][v] = counts[c].get(v, 0) + m
            if len(counts[c]) > max_vocab:
                counts[c] = None
    return counts


def _doc_task(doc: dict, target: str, counts: dict, schema: DataSchema) -> str:
    """The task as the run would infer it (audit.data.loading.infer_task), from the counts."""
    if doc.get("task") in ("classification", "regression"):
        return doc["task"]
    if not schema.numeric(target) or schema.kinds.get(target) == "bool":
        return "classification"
    names = counts.get(target)
    if names is None:
        return "regression"
    values = [v for v in names if v != "<missing>"]
    return "classification" if all(_integral(v) for v in values) and len(values) <= 20 else "regression"


def _check_groups(add, doc: dict, counts: dict, sensitive: list[str]) -> None:
    from audit.stats.summaries import MISSING

    def values(c):
        return [v for v in (counts.get(c) or {}) if v != MISSING]

    checks = doc.get("checks") if isinstance(doc.get("checks"), list) else []
    for i, entry in enumerate(checks):
        params = entry.get("params") if isinstance(entry, dict) else None
        ref = params.get("reference_group") if isinstance(params, dict) else None
        if ref is None:
            continue
        loc = ("checks", i, "params", "reference_group")
        named = [s for _, s in _names(params.get("sensitive"))] or sensitive
        if isinstance(ref, dict):
            for c, v in ref.items():
                if c in sensitive and counts.get(c) is not None and str(v) not in values(c):
                    add(loc + (c,), f"reference group {c}={v} does not occur in the data; {c!r} has "
                                    f"{_shown_values(values(c))}{_value_hint(str(v), values(c))}")
        elif isinstance(ref, str):
            if "=" in ref:
                c, v = (x.strip() for x in ref.split("=", 1))
                if c in sensitive and counts.get(c) is not None and v not in values(c):
                    add(loc, f"reference group {ref!r} does not occur in the data; {c!r} has "
                             f"{_shown_values(values(c))}{_value_hint(v, values(c))}")
            elif not any(ref in values(c) for c in named if c in sensitive):
                pool = [v for c in named if c in sensitive for v in values(c)]
                add(loc, f"reference group {ref!r} is not a value of {named}; they have "
                         f"{_shown_values(pool)}{_value_hint(ref, pool)}")
    sets = doc.get("evalsets") if isinstance(doc.get("evalsets"), dict) else {}
    for name, d in sets.items():
        params = d.get("params") if isinstance(d, dict) else None
        group = params.get("group") if isinstance(params, dict) else None
        if not isinstance(group, str) or "=" not in group:
            continue
        c, v = (x.strip() for x in group.split("=", 1))
        vc = counts.get(c)
        if vc is None:
            continue
        n = sum(vc.values())
        if v not in vc:
            add(("evalsets", name, "params", "group"), f"group {group!r} does not occur in the data; {c!r} has "
                                                      f"{_shown_values(values(c))}{_value_hint(v, values(c))}")
        elif vc[v] == n:
            add(("evalsets", name, "params", "group"), f"group {group!r} is every row of the data; a subpopulation "
                                                      "shift needs rows outside the group")


def _shown_values(values: list[str]) -> str:
    shown = sorted(values, key=_sort_key)[:20]
    return repr(shown)[:-1] + ", ...]" if len(values) > 20 else repr(shown)


def _value_hint(v: str, values: list[str]) -> str:
    close = difflib.get_close_matches(v, values, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _sort_key(v: str):
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def _integral(v: str) -> bool:
    try:
        x = float(v)
    except ValueError:
        return True
    return x == int(x) if np.isfinite(x) else False


def _same(pos, name: str) -> bool:
    if str(pos) == name:
        return True
    if isinstance(pos, int | float) and not isinstance(pos, bool):
        try:
            return float(name) == float(pos)
        except ValueError:
            return False
    return False


def raise_problems(lp, problems: list[PolicyProblem]) -> None:
    """Raise the problems found against the data as one PolicyError (nothing when there are none)."""
    if problems:
        raise PolicyError(str(lp.path), problems)


# -- the probe batch ---------------------------------------------------------------------------------

def probe_models(models, X: pd.DataFrame, task: str, classes) -> None:
    """Every model predicts the first :data:`PROBE_ROWS` rows of ``X`` before the audit.

    Raises
    ------
    ModelCallError
        A model raised, exited, exceeded its time budget or broke the output contract
        (exit code 2: nothing was audited). The same failure on an evaluation set later only
        makes that set's checks ERROR.
    """
    batch = X.iloc[:PROBE_ROWS]
    for m in models:
        a = m.adapter
        if a is None:
            continue
        a.expect(task, classes)
        try:
            a.predict_all(batch, task)
        except ModelCallError as exc:
            raise type(exc)(exc.model, f"on a probe batch of the first {len(batch)} rows, before the audit: "
                                       f"{exc.detail}") from None
        except Exception as exc:  # noqa: BLE001 - the model's own error, reported as a model problem
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ModelCallError(a.name, f"failed on a probe batch of the first {len(batch)} rows, before the "
                                         f"audit: {type(exc).__name__}: {first}") from None
