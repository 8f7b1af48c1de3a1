"""Two-sample tests per feature and on model scores, with scipy.stats.

Numeric features: Kolmogorov-Smirnov (``ks_2samp`` with the asymptotic
p-value) or Cramer-von Mises (``cramervonmises_2samp``, exact p-value for
samples of at most 20 rows, asymptotic above), missing values dropped per
column. Categorical features: Pearson's chi-square on the 2 x k table of
category counts (``chi2_contingency``, Yates-corrected when k = 2), missing
values counted as a category.

These are the tests, options and codings alibi-detect 0.13's ``KSDrift``,
``CVMDrift`` and ``ChiSquareDrift`` apply (it calls the same scipy functions),
so the numbers equal the ones earlier audits reported. alibi-detect stores
its results in float32; by default they are rounded the same way
(``float32=True``) so that a baseline ``results.json`` from before the switch,
and the streamed audit's drift sketches (which reproduce the float32 values),
compare equal to new runs. ``float32=False`` returns scipy's float64 values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from audit.drift._columns import category_codes, check_tables, numeric_values
from audit.errors import DataError

__all__ = ["NUMERIC_TESTS", "FeatureTest", "chi2_counts", "feature_tests", "score_ks"]

NUMERIC_TESTS = ("ks", "cvm")


class FeatureTest(NamedTuple):
    """Result of one feature's test: unpacks as ``(statistic, p_value, test)``.

    ``statistic`` and ``p_value`` are None when a numeric column has fewer than
    two non-missing values on either side, or a categorical column no rows.
    ``test`` is ``"ks"``, ``"cvm"`` or ``"chi2"``.
    """

    statistic: float | None
    p_value: float | None
    test: str


def _out(x, float32: bool) -> float:
    return float(np.float32(x)) if float32 else float(x)


def _check_numeric_test(numeric_test: str) -> None:
    if numeric_test not in NUMERIC_TESTS:
        raise ValueError(f"numeric_test must be one of {list(NUMERIC_TESTS)}; found {numeric_test!r}")


def chi2_counts(ref_counts: Mapping[str, int], cur_counts: Mapping[str, int]) -> tuple[float, float]:
    """Chi-square test of homogeneity on two category-count mappings.

    Parameters
    ----------
    ref_counts, cur_counts : mapping
        Category -> count. Categories absent from one side count 0 there.

    Returns
    -------
    (statistic, p_value) : tuple of float
        ``scipy.stats.chi2_contingency`` of the 2 x k table over the joint
        categories in sorted order (with Yates' correction when k = 2; with a
        single category the table has no degrees of freedom: 0.0 and 1.0).
    """
    from scipy import stats

    vocab = sorted(set(ref_counts) | set(cur_counts))
    table = np.array([[int(ref_counts.get(v, 0)) for v in vocab],
                      [int(cur_counts.get(v, 0)) for v in vocab]], dtype=np.int64)
    res = stats.chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def _numeric(a: np.ndarray, b: np.ndarray, numeric_test: str) -> tuple[float, float]:
    # scipy.stats takes a second to import: only when a test runs (keeps `audit --help` fast).
    from scipy import stats

    if numeric_test == "ks":
        # alibi-detect always asked for the asymptotic p-value (scipy's "auto" would be exact
        # below 10,000 rows); kept so the numbers do not move.
        r = stats.ks_2samp(a, b, method="asymp")
    else:
        r = stats.cramervonmises_2samp(a, b, method="auto")
    return float(r.statistic), float(r.pvalue)


def feature_tests(ref: pd.DataFrame, cur: pd.DataFrame, feature_types: Mapping[str, str],
                  numeric_test: str = "ks", *, float32: bool = True) -> dict[str, FeatureTest]:
    """Test every column of ``cur`` for a distribution change against ``ref``.

    Parameters
    ----------
    ref : pandas.DataFrame
        Reference (training) rows; must hold every column of ``cur``.
    cur : pandas.DataFrame
        Current rows (an evaluation set). Its columns are tested, in order.
    feature_types : mapping
        Column -> ``"numeric"``, ``"integer"`` or ``"categorical"`` (as in
        ``Dataset.feature_types``); a column not named is numeric.
    numeric_test : {"ks", "cvm"}
        Kolmogorov-Smirnov or Cramer-von Mises for numeric and integer columns.
    float32 : bool
        Round statistics and p-values to float32 as alibi-detect did (default), for
        continuity with earlier results; False keeps scipy's float64 values.

    Returns
    -------
    dict
        Column -> :class:`FeatureTest` ``(statistic, p_value, test)``. No multiple-testing
        correction is applied: pass the p-values to :func:`bh_qvalues`.

    Raises
    ------
    audit.errors.DataError
        A column of ``cur`` missing from ``ref``, an unknown feature type, or
        non-numeric values in a column tested as numeric.
    ValueError
        ``numeric_test`` not ``"ks"`` or ``"cvm"``.
    """
    _check_numeric_test(numeric_test)
    check_tables(ref, cur, feature_types)
    out: dict[str, FeatureTest] = {}
    for col in cur.columns:
        if feature_types.get(col) == "categorical":
            a, b = category_codes(ref[col]), category_codes(cur[col])
            if len(a) == 0 or len(b) == 0:
                out[col] = FeatureTest(None, None, "chi2")
                continue
            # value_counts is one hash pass per column; alibi-detect compared the whole
            # column with each category in turn.
            stat, p = chi2_counts(a.value_counts().to_dict(), b.value_counts().to_dict())
            out[col] = FeatureTest(_out(stat, float32), _out(p, float32), "chi2")
            continue
        a, b = numeric_values(ref[col], "reference"), numeric_values(cur[col], "current")
        if len(a) < 2 or len(b) < 2:
            out[col] = FeatureTest(None, None, numeric_test)
            continue
        stat, p = _numeric(a, b, numeric_test)
        out[col] = FeatureTest(_out(stat, float32), _out(p, float32), numeric_test)
    return out


def _scores(x, name: str) -> np.ndarray:
    try:
        v = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numbers; found {type(x).__name__}") from exc
    if v.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of scores; found shape {v.shape}")
    if len(v) == 0:
        raise DataError(f"{name} is empty; the KS test needs at least one score on each side")
    if np.isnan(v).any():
        raise DataError(f"{name} holds {int(np.isnan(v).sum())} NaN score(s); a model's scores "
                        f"cannot be missing")
    return v


def score_ks(ref_scores, cur_scores, *, float32: bool = True) -> tuple[float, float]:
    """Kolmogorov-Smirnov distance and p-value between two score samples.

    Parameters
    ----------
    ref_scores, cur_scores : array-like, 1-D
        Model scores on the reference and on the current rows (no NaN).
    float32 : bool
        Round to float32 as alibi-detect's ``KSDrift`` did (default).

    Returns
    -------
    (distance, p_value) : tuple of float
        ``scipy.stats.ks_2samp(ref, cur, method="asymp")``.
    """
    a, b = _scores(ref_scores, "ref_scores"), _scores(cur_scores, "cur_scores")
    d, p = _numeric(a, b, "ks")
    return _out(d, float32), _out(p, float32)
