"""Numeric encoding of mixed tables for the OOD detectors (they need a metric space).

One-hot for categorical columns and z-scores for numeric ones, fitted on the
reference rows. Moved from ``audit/checks/_encode.py`` unchanged in what it
computes (so detector scores do not move); it now also names the column when
the input cannot be encoded.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from audit.errors import DataError

__all__ = ["StandardEncoder"]


def _numeric_block(X: pd.DataFrame, columns: list[str], side: str) -> np.ndarray:
    try:
        # One conversion of the whole block, as before the move: the array's memory layout
        # decides the summation order of the means, and so their last bits.
        v = X[columns].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        for c in columns:
            try:
                X[c].to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                sample = X[c].dropna().astype(str).head(3).tolist()
                raise DataError(f"column {c!r} of the {side} data is encoded as numeric but holds "
                                f"non-numeric values (dtype {X[c].dtype}, e.g. {sample}); declare "
                                f"it categorical in feature_types") from exc
        raise
    inf = np.isinf(v)
    if inf.any():
        cols = [columns[j] for j in np.flatnonzero(inf.any(axis=0))]
        raise DataError(f"column(s) {cols} of the {side} data hold {int(inf.sum())} infinite "
                        f"value(s); expected finite numbers or missing values")
    return v


def _as_str(values, dtype) -> list[str]:
    # The strings pandas' astype(str) gives these values (as it would inside their column).
    return pd.Series(values, dtype=dtype).astype(str).tolist()


def _factorizable(column: pd.Series) -> bool:
    # Distinct values have distinct strings unless an object column mixes types (1, 1.0 and
    # True are one hash key but three strings): those columns are converted row by row.
    return column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) == "string"


def _distinct_str(column: pd.Series) -> list[str]:
    if _factorizable(column):
        return _as_str(pd.unique(column), column.dtype)
    return column.astype(str).unique().tolist()


def _category_positions(column: pd.Series, vocab: pd.Index) -> np.ndarray:
    """Position of each value's string in ``vocab`` (-1 if absent), as
    ``vocab.get_indexer(column.astype(str))`` but converting each distinct value once."""
    if not _factorizable(column):
        return vocab.get_indexer(column.astype(str))
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    lut = vocab.get_indexer(_as_str(uniques, column.dtype)) if len(uniques) else np.zeros(0, np.intp)
    pos = np.where(codes >= 0, lut[np.maximum(codes, 0)] if len(lut) else -1, -1)
    missing = codes < 0
    if missing.any():
        # Missing values stringify to "nan", "None" or "<NA>": absent from the vocabulary unless
        # the reference held that literal text.
        pos[missing] = vocab.get_indexer(column[missing].astype(str))
    return pos


class StandardEncoder:
    """One-hot for categorical columns, z-scores for numeric ones; fitted on reference rows.

    Missing numeric values become the reference mean (0 after scaling); unseen
    categories and missing categorical values get all-zero indicators. A
    numeric column constant in the reference is centred but not scaled.

    Parameters
    ----------
    feature_types : mapping
        Column -> ``"numeric"``, ``"integer"`` or ``"categorical"``; a column not
        named is numeric.

    Attributes
    ----------
    num, cat : list of str
        Numeric and categorical columns, in the fitted table's order.
    mean, sd : numpy.ndarray
        Reference mean and standard deviation (population, ``ddof=0``) of the numeric columns.
    vocab : dict
        Categorical column -> sorted reference categories (as strings).
    """

    def __init__(self, feature_types: Mapping[str, str]):
        self.feature_types = feature_types

    def fit(self, X: pd.DataFrame) -> StandardEncoder:
        """Learn means, spreads and categories from the reference rows.

        Raises
        ------
        audit.errors.DataError
            Non-numeric or infinite values in a numeric column.
        """
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"StandardEncoder.fit needs a pandas DataFrame; found {type(X).__name__}")
        self.num = [c for c in X.columns if self.feature_types.get(c, "numeric") != "categorical"]
        self.cat = [c for c in X.columns if self.feature_types.get(c) == "categorical"]
        v = _numeric_block(X, self.num, "reference")
        self.mean = np.nanmean(v, axis=0) if len(self.num) else np.zeros(0)
        sd = np.nanstd(v, axis=0) if len(self.num) else np.zeros(0)
        self.sd = np.where(sd > 0, sd, 1.0)
        self.vocab = {c: pd.Index(sorted(set(_distinct_str(X[c].dropna())))) for c in self.cat}
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode rows: ``(n_rows, n_numeric + total categories)`` float64.

        Raises
        ------
        audit.errors.DataError
            A fitted column missing from ``X``, or non-numeric or infinite values
            in a numeric column.
        """
        if not hasattr(self, "num"):
            raise RuntimeError("StandardEncoder.transform called before fit")
        missing = [c for c in self.num + self.cat if c not in X.columns]
        if missing:
            raise DataError(f"column(s) {missing} the encoder was fitted on are not in the data "
                            f"(found columns {list(X.columns)})")
        widths = [len(self.num)] + [len(self.vocab[c]) for c in self.cat]
        out = np.zeros((len(X), sum(widths)))
        if self.num:
            z = (_numeric_block(X, self.num, "current") - self.mean) / self.sd
            out[:, :len(self.num)] = np.nan_to_num(z, nan=0.0)
        offset = len(self.num)
        for c in self.cat:
            pos = _category_positions(X[c], self.vocab[c])
            rows = np.flatnonzero(pos >= 0)
            out[rows, offset + pos[rows]] = 1.0
            offset += len(self.vocab[c])
        return out

    def feature_names(self) -> list[str]:
        """Names of the encoded columns: numeric names, then ``"column=category"`` indicators."""
        return list(self.num) + [f"{c}={v}" for c in self.cat for v in self.vocab[c]]
