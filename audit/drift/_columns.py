"""Column access for the drift tests: names checked, values coded, problems named.

Both the scipy engine and the alibi-detect backend read columns through these
helpers, so they see exactly the same numbers: numeric columns as float64 with
missing values dropped, categorical columns as string codes in which a missing
value is its own category (``"<missing>"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from audit.errors import DataError

__all__ = ["FEATURE_TYPES", "MISSING", "category_codes", "check_tables", "numeric_values"]

FEATURE_TYPES = ("numeric", "integer", "categorical")
MISSING = "<missing>"


def check_tables(ref: pd.DataFrame, cur: pd.DataFrame, feature_types: Mapping[str, str]) -> None:
    """Raise :class:`~audit.errors.DataError` unless every column of ``cur`` can be tested.

    Parameters
    ----------
    ref, cur : pandas.DataFrame
        Reference and current tables; every column of ``cur`` must be in ``ref``.
    feature_types : mapping
        Column -> ``"numeric"``, ``"integer"`` or ``"categorical"``; a column not named is numeric.
    """
    for name, table in (("reference", ref), ("current", cur)):
        if not isinstance(table, pd.DataFrame):
            raise DataError(f"the {name} data must be a pandas DataFrame; found {type(table).__name__}")
    missing = [c for c in cur.columns if c not in ref.columns]
    if missing:
        raise DataError(f"column(s) {missing} of the current data are not in the reference data "
                        f"(reference columns: {list(ref.columns)})")
    bad = {c: t for c, t in feature_types.items() if c in cur.columns and t not in FEATURE_TYPES}
    if bad:
        raise DataError(f"feature_types: unknown type(s) {bad}; expected one of {list(FEATURE_TYPES)}")


def numeric_values(column: pd.Series, side: str) -> np.ndarray:
    """Non-missing values of a numeric column as float64.

    Parameters
    ----------
    column : pandas.Series
        The column (its name is used in the error message).
    side : str
        ``"reference"`` or ``"current"``, for the error message.

    Returns
    -------
    numpy.ndarray
        The values without NaN (infinite values are kept: both tests rank them).
    """
    try:
        v = column.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        sample = column.dropna().astype(str).head(3).tolist()
        raise DataError(f"column {column.name!r} of the {side} data is tested as numeric but holds "
                        f"non-numeric values (dtype {column.dtype}, e.g. {sample}); declare it "
                        f"categorical in feature_types") from exc
    return v[~np.isnan(v)]


def category_codes(column: pd.Series) -> pd.Series:
    """A categorical column as strings, missing values as the category ``"<missing>"``.

    Values are compared as strings so ``1`` and ``"1"`` are one category, the
    coding the per-feature chi-square test has always used.
    """
    return column.astype(object).where(column.notna(), MISSING).astype(str)
