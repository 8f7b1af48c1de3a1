"""feature_tests and score_ks against scipy called directly and closed forms (alibi-detect: test_alibi_equality)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.drift import FeatureTest, chi2_counts, feature_tests, score_ks
from audit.errors import DataError
from tests.drift._data import FEATURE_TYPES, tables


@pytest.fixture(scope="module")
def data():
    return tables()


def _scipy_numeric(a, b, test):
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    r = stats.ks_2samp(a, b, method="asymp") if test == "ks" else stats.cramervonmises_2samp(a, b)
    return r.statistic, r.pvalue


def _scipy_chi2(a: pd.Series, b: pd.Series):
    a = a.astype(object).where(a.notna(), "<missing>").astype(str)
    b = b.astype(object).where(b.notna(), "<missing>").astype(str)
    cats = sorted(set(a) | set(b))
    table = np.array([[np.sum(a == k) for k in cats], [np.sum(b == k) for k in cats]])
    r = stats.chi2_contingency(table)
    return r.statistic, r.pvalue


@pytest.mark.parametrize("test", ["ks", "cvm"])
def test_float64_equals_scipy(data, test):
    ref, cur = data
    res = feature_tests(ref, cur, FEATURE_TYPES, test, float32=False)
    assert list(res) == list(cur.columns)
    for col in ("x", "shifted", "ties", "gappy"):
        want = _scipy_numeric(ref[col].to_numpy(float), cur[col].to_numpy(float), test)
        assert (res[col].statistic, res[col].p_value) == want
        assert res[col].test == test
    for col in ("color", "flag", "holes", "const"):
        assert (res[col].statistic, res[col].p_value) == _scipy_chi2(ref[col], cur[col])
        assert res[col].test == "chi2"
    assert res["shifted"].p_value < 1e-6 < res["x"].p_value


@pytest.mark.parametrize("test", ["ks", "cvm"])
def test_default_is_scipy_rounded_to_float32(data, test):
    ref, cur = data
    exact = feature_tests(ref, cur, FEATURE_TYPES, test, float32=False)
    res = feature_tests(ref, cur, FEATURE_TYPES, test)
    for col, r in res.items():
        if r.p_value is None:
            continue
        assert r.statistic == float(np.float32(exact[col].statistic))
        assert r.p_value == float(np.float32(exact[col].p_value))


def test_result_is_a_tuple(data):
    ref, cur = data
    stat, p, test = feature_tests(ref[["x"]], cur[["x"]], {})["x"]
    assert isinstance(feature_tests(ref[["x"]], cur[["x"]], {})["x"], FeatureTest)
    assert test == "ks" and 0 <= p <= 1 and 0 <= stat <= 1


def test_edge_columns(data):
    ref, cur = data
    res = feature_tests(ref, cur, FEATURE_TYPES)
    # One non-missing value per side: nothing to test.
    assert res["tiny"] == FeatureTest(None, None, "ks")
    # One category on both sides: a 2 x 1 table has no degrees of freedom.
    assert res["const"] == FeatureTest(0.0, 1.0, "chi2")
    # No rows at all on one side.
    empty = feature_tests(ref[["color", "x"]], cur[["color", "x"]].iloc[:0], FEATURE_TYPES)
    assert empty == {"color": FeatureTest(None, None, "chi2"), "x": FeatureTest(None, None, "ks")}


def test_two_categories_use_yates_correction():
    # 2 x 2 table: chi2_contingency applies Yates' continuity correction (as alibi-detect did).
    ref = pd.DataFrame({"f": ["a"] * 30 + ["b"] * 20})
    cur = pd.DataFrame({"f": ["a"] * 15 + ["b"] * 25})
    r = feature_tests(ref, cur, {"f": "categorical"}, float32=False)["f"]
    obs = np.array([[30, 20], [15, 25]], dtype=float)
    exp = obs.sum(1, keepdims=True) * obs.sum(0, keepdims=True) / obs.sum()
    chi2 = np.sum((np.abs(obs - exp) - 0.5) ** 2 / exp)
    assert r.statistic == pytest.approx(chi2, rel=1e-12)
    assert r.p_value == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-12)


def test_chi2_counts_closed_form():
    ref, cur = {"a": 40, "b": 35, "c": 25}, {"a": 20, "b": 50, "d": 10}
    stat, p = chi2_counts(ref, cur)
    obs = np.array([[40, 35, 25, 0], [20, 50, 0, 10]], dtype=float)
    exp = obs.sum(1, keepdims=True) * obs.sum(0, keepdims=True) / obs.sum()
    want = np.sum((obs - exp) ** 2 / exp)
    assert stat == pytest.approx(want, rel=1e-12)
    assert p == pytest.approx(stats.chi2.sf(want, 3), rel=1e-10)


def test_cvm_small_samples_exact():
    # Both samples <= 20 rows: scipy's "auto" (and so alibi-detect's CVMDrift) uses the exact p-value.
    rng = np.random.default_rng(3)
    ref, cur = pd.DataFrame({"v": rng.normal(size=12)}), pd.DataFrame({"v": rng.normal(1, 1, size=9)})
    r = feature_tests(ref, cur, {}, "cvm", float32=False)["v"]
    want = stats.cramervonmises_2samp(ref["v"], cur["v"], method="exact")
    assert (r.statistic, r.p_value) == (want.statistic, want.pvalue)


def test_nullable_integers_and_booleans_as_numeric():
    ref = pd.DataFrame({"i": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"), "b": [True, False] * 3})
    cur = pd.DataFrame({"i": pd.array([7, None, 9, 10, 11], dtype="Int64"), "b": [True] * 5})
    res = feature_tests(ref, cur, {}, float32=False)
    want = stats.ks_2samp([1, 2, 4, 5, 6], [7, 9, 10, 11], method="asymp")
    assert (res["i"].statistic, res["i"].p_value) == (want.statistic, want.pvalue)
    want = stats.ks_2samp([1, 0] * 3, [1] * 5, method="asymp")
    assert (res["b"].statistic, res["b"].p_value) == (want.statistic, want.pvalue)


def test_score_ks_equals_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.beta(2, 5, 900), rng.beta(2.4, 5, 700)
    want = stats.ks_2samp(a, b, method="asymp")
    assert score_ks(a, b, float32=False) == (want.statistic, want.pvalue)
    assert score_ks(a, b) == (float(np.float32(want.statistic)), float(np.float32(want.pvalue)))


def test_bad_inputs_named(data):
    ref, cur = data
    with pytest.raises(DataError, match=r"\['extra'\].*not in the reference"):
        feature_tests(ref, cur.assign(extra=1.0), FEATURE_TYPES)
    with pytest.raises(DataError, match="column 'color' of the reference data.*non-numeric.*categorical"):
        feature_tests(ref, cur, {**FEATURE_TYPES, "color": "numeric"})
    with pytest.raises(DataError, match=r"unknown type\(s\) \{'x': 'float'\}"):
        feature_tests(ref, cur, {**FEATURE_TYPES, "x": "float"})
    with pytest.raises(ValueError, match=r"numeric_test must be one of \['ks', 'cvm'\]; found 'ad'"):
        feature_tests(ref, cur, FEATURE_TYPES, "ad")
    with pytest.raises(DataError, match="current data must be a pandas DataFrame; found ndarray"):
        feature_tests(ref, cur.to_numpy(), FEATURE_TYPES)
    with pytest.raises(DataError, match=r"cur_scores holds 1 NaN"):
        score_ks([0.1, 0.2], [0.3, np.nan])
    with pytest.raises(DataError, match=r"ref_scores must be a 1-D array.*\(2, 2\)"):
        score_ks(np.ones((2, 2)), [0.3])
    with pytest.raises(DataError, match="ref_scores is empty"):
        score_ks([], [0.3])
