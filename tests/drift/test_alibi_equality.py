"""The scipy engine gives alibi-detect 0.13's numbers exactly (alibi-detect run here, directly)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.drift import feature_tests, score_ks
from tests._alibi import ALIBI, import_alibi_cd
from tests.drift._data import FEATURE_TYPES, tables

pytestmark = ALIBI


@pytest.fixture(scope="module")
def data():
    return tables()


def _alibi(det, x):
    r = det.predict(x, drift_type="feature", return_p_val=True, return_distance=True)["data"]
    return float(r["distance"][0]), float(r["p_val"][0])


@pytest.mark.parametrize("test", ["ks", "cvm"])
def test_feature_tests_equal_alibi_detectors(data, test):
    cd = import_alibi_cd()
    ref, cur = data
    res = feature_tests(ref, cur, FEATURE_TYPES, test)
    for col in ("x", "shifted", "ties", "gappy"):
        a, b = ref[col].to_numpy(float), cur[col].to_numpy(float)
        a, b = a[~np.isnan(a)][:, None], b[~np.isnan(b)][:, None]
        det = (cd.KSDrift if test == "ks" else cd.CVMDrift)(a, p_val=0.05)
        assert (res[col].statistic, res[col].p_value) == _alibi(det, b)
    for col in ("color", "flag", "holes", "const"):
        # The ordinal coding the old checks gave ChiSquareDrift (missing values a category).
        a = ref[col].astype(object).where(ref[col].notna(), "<missing>").astype(str)
        b = cur[col].astype(object).where(cur[col].notna(), "<missing>").astype(str)
        vocab = pd.Index(sorted(set(a) | set(b)))
        det = cd.ChiSquareDrift(vocab.get_indexer(a).astype(float)[:, None], p_val=0.05)
        assert (res[col].statistic, res[col].p_value) == _alibi(det, vocab.get_indexer(b).astype(float)[:, None])


@pytest.mark.parametrize("seed", range(5))
def test_score_ks_equals_ksdrift(seed):
    cd = import_alibi_cd()
    rng = np.random.default_rng(seed)
    a, b = rng.beta(2, 5, 400 + 100 * seed), rng.beta(2 + 0.1 * seed, 5, 300)
    assert score_ks(a, b) == _alibi(cd.KSDrift(a[:, None], p_val=0.05), b[:, None])


@pytest.mark.parametrize("test", ["ks", "cvm"])
def test_equals_the_pre_rewrite_check(test):
    """Continuity with ``audit.checks.shift.feature_pvalues`` while it exists (the checks move to
    this engine; the test is skipped once the old function is gone)."""
    shift = pytest.importorskip("audit.checks.shift")
    if not hasattr(shift, "feature_pvalues"):
        pytest.skip("the pre-rewrite feature_pvalues is gone")
    from audit.demo_context import demo_context
    from audit.evalsets import EvalSetSpec

    ctx = demo_context(n=600, n_ref=600, model=False)
    ctx.evalset_specs["cov"] = EvalSetSpec(name="cov", kind="shifted.covariate", severity=1.0,
                                           params={"feature": "income"})
    ref, cur = ctx.dataset.reference.X, ctx.evalset("cov").X
    old = shift.feature_pvalues(ref, cur, ctx.dataset.feature_types, test)
    new = feature_tests(ref, cur, ctx.dataset.feature_types, test)
    assert {c: tuple(v) for c, v in new.items()} == old
