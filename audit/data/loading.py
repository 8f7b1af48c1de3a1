"""Reading held-out and reference data from CSV or Parquet, with clear errors.

Every error names the file and the column, what was expected and what was found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audit.data.dataset import Dataset, infer_feature_types
from audit.errors import DataError

__all__ = ["read_table", "load_dataset", "dataset_from_frame", "infer_task", "table_sha256", "weight_values"]


def table_sha256(path: str | Path, files: list[Path] | None = None) -> str:
    """SHA-256 of a data file; of a folder or glob, the SHA-256 of its files' hashes in order.

    ``files``: the folder's or glob's files in the order the table reads them, when already
    listed (:func:`audit.input_checks.data_files`).
    """
    import hashlib

    from audit.models.loading import file_sha256

    path = Path(path)
    if not (path.is_dir() or any(ch in str(path) for ch in "*?[")):
        return file_sha256(path)
    if files is None:
        from audit.data.sources import open_source

        files = [Path(piece.path) for piece in open_source(path).pieces]
    h = hashlib.sha256()
    for f in files:
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (or a folder or glob of them, as one table) into a DataFrame."""
    path = Path(path)
    if path.is_dir() or any(ch in str(path) for ch in "*?["):
        # A folder or glob of files: the same reader streamed audits use, for the whole table.
        from audit.data.sources import open_source, read_partition, whole

        src = open_source(path)
        return read_partition(src, whole(src)).reset_index(drop=True)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(f"{path}: unknown data format {suffix!r}; expected .csv or .parquet")
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from exc
    if df.empty:
        raise DataError(f"{path}: the data is empty ({len(df)} rows, {df.shape[1]} columns)")
    return df


def infer_task(y: pd.Series) -> str:
    """``classification`` for non-float targets or integral floats with few values, else ``regression``."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    vals = y.dropna().to_numpy()
    if pd.api.types.is_integer_dtype(y) or np.all(np.mod(vals, 1) == 0):
        return "classification" if len(np.unique(vals)) <= 20 else "regression"
    return "regression"


def _need(df: pd.DataFrame, cols: list[str], what: str, path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        shown = list(df.columns[:25]) + (["..."] if df.shape[1] > 25 else [])
        raise DataError(f"{path}: {what} column(s) {missing} not found; the file has {shown}")


def load_dataset(path, *, target: str, sensitive: list[str], features: list[str] | None = None,
                 sensitive_features: bool = True, prediction: str | None = None,
                 score: str | None = None, reference=None, task: str | None = None,
                 weight: str | None = None) -> tuple[Dataset, str]:
    """Load the held-out data (and optional reference data) into a :class:`Dataset`.

    Returns
    -------
    dataset : Dataset
    task : str
        ``classification`` or ``regression`` (given, or inferred from the target).

    Raises
    ------
    DataError
        Missing file or column, empty data, missing target values, a one-class
        target, a non-numeric score, or feature types that differ from the reference.
    """
    return dataset_from_frame(read_table(path), path, target=target, sensitive=sensitive, features=features,
                              sensitive_features=sensitive_features, prediction=prediction, score=score,
                              reference=reference, task=task, weight=weight)


def dataset_from_frame(df: pd.DataFrame, path, *, target: str, sensitive: list[str],
                       features: list[str] | None = None, sensitive_features: bool = True,
                       prediction: str | None = None, score: str | None = None, reference=None,
                       task: str | None = None, weight: str | None = None) -> tuple[Dataset, str]:
    """:func:`load_dataset` on a table already read (``path`` names it in errors)."""
    _need(df, [target], "target", path)
    _need(df, sensitive, "sensitive", path)
    extra = [c for c in (prediction, score, weight) if c is not None]
    _need(df, extra, "prediction/score", path)
    if features is None:
        drop = {target, *extra} | (set() if sensitive_features else set(sensitive))
        features = [c for c in df.columns if c not in drop]
    else:
        _need(df, features, "feature", path)
    if target in features:
        raise DataError(f"{path}: the target column {target!r} is also listed as a feature")
    y_s = df[target]
    if y_s.isna().any():
        raise DataError(f"{path}: target column {target!r} has {int(y_s.isna().sum())} missing value(s); "
                        "expected a value on every row")
    task = task or infer_task(y_s)
    if task == "classification" and y_s.nunique() < 2:
        raise DataError(f"{path}: target column {target!r} has one class ({y_s.iloc[0]!r}); "
                        "expected at least two to audit a classifier")
    if task == "regression" and not pd.api.types.is_numeric_dtype(y_s):
        raise DataError(f"{path}: target column {target!r} is {y_s.dtype}; expected numbers for regression")
    score_arr = None
    if score is not None:
        s = df[score]
        if not pd.api.types.is_numeric_dtype(s):
            raise DataError(f"{path}: score column {score!r} is {s.dtype}; expected numbers in [0, 1]")
        if task == "classification" and (s.min() < 0 or s.max() > 1):
            raise DataError(f"{path}: score column {score!r} ranges over [{s.min()}, {s.max()}]; "
                            "expected probabilities in [0, 1]")
        score_arr = s.to_numpy(dtype=float)
    X = df[features]
    types = infer_feature_types(X)
    ref = None
    if reference is not None:
        rdf = reference if isinstance(reference, pd.DataFrame) else read_table(reference)
        if isinstance(reference, pd.DataFrame):
            reference = "<reference DataFrame>"
        if rdf.empty:
            raise DataError(f"{reference}: the reference data is empty ({len(rdf)} rows)")
        _need(rdf, features, "feature", reference)
        rtypes = infer_feature_types(rdf[features])
        diff = [f"{c!r} is {rtypes[c]} there but {types[c]} here" for c in features if rtypes[c] != types[c]
                and {rtypes[c], types[c]} != {"numeric", "integer"}]
        if diff:
            raise DataError(f"{reference}: feature types differ from {path}: " + "; ".join(diff))
        rsens = [c for c in sensitive if c in rdf.columns]
        ref = Dataset(X=rdf[features], y=rdf[target].to_numpy() if target in rdf.columns else None,
                      sensitive=rdf[rsens], feature_types=types, source=str(reference), target=target)
        if weight is not None and weight in rdf.columns:
            ref.weight = weight_values(rdf[weight], weight, reference)
    ds = Dataset(X=X, y=y_s.to_numpy(), sensitive=df[sensitive], feature_types=types,
                 prediction=df[prediction].to_numpy() if prediction else None, score=score_arr,
                 reference=ref, source=str(path), target=target,
                 weight=None if weight is None else weight_values(df[weight], weight, path))
    return ds, task


def weight_values(s: pd.Series, column: str, where) -> np.ndarray:
    """Row weights of column ``column`` as float64; DataError unless every one is finite and >= 0 and
    some are positive."""
    from audit.data.weights import weight_error, weight_problems

    problems = weight_problems(s)
    if problems:
        raise DataError(weight_error(problems, column, where))
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
