"""OOD sets: beyond the observed data where they should be, constraints otherwise kept, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.demo_context import demo_context
from audit.evalsets import get_builder

NUMERIC = ["income", "debt_ratio", "credit_history_months", "open_accounts", "loan_amount"]


@pytest.fixture(scope="module")
def ctx():
    return demo_context(n=600, n_ref=600, model=False)


def build(ctx, kind, severity, seed=1, **params):
    b = get_builder(kind)
    return b.func(ctx, ctx.evalset("base"), b.params.model_validate(params), severity,
                  np.random.default_rng(seed))


def observed(ctx, col):
    v = pd.concat([ctx.dataset.X[col], ctx.dataset.reference.X[col]])
    return v.min(), v.max()


def common(ctx, es):
    base = ctx.evalset("base").X
    assert es.y is None and es.meta["is_ood"].dtype == bool
    assert es.X["sex"].equals(base["sex"]) and es.X["age"].equals(base["age"])
    for c in ("employment", "housing", "purpose"):
        assert es.X[c].isin(ctx.constraints[c].categories).all()
    for c in ("credit_history_months", "open_accounts"):
        assert (es.X[c] == np.round(es.X[c])).all()


def test_far(ctx):
    es = build(ctx, "ood.far", 1.0)
    common(ctx, es)
    assert es.meta["is_ood"].all()
    for c in NUMERIC:
        lo, hi = observed(ctx, c)
        v = es.X[c]
        assert ((v > hi) | (v < lo)).all(), c
        assert (v >= 0).all()  # non-negative features stay non-negative
    d = [np.abs(build(ctx, "ood.far", k).X["income"] - observed(ctx, "income")[1]).mean() for k in (0.5, 1, 2)]
    assert d[0] < d[1] < d[2]


def test_range_one_feature_per_row(ctx):
    es = build(ctx, "ood.range", 0.5, n_features=2)
    common(ctx, es)
    out = np.zeros(len(es.X), dtype=int)
    for c in NUMERIC:
        lo, hi = observed(ctx, c)
        out += ((es.X[c] > hi) | (es.X[c] < lo)).to_numpy()
    assert (out == 2).all()


def test_shuffle_keeps_marginals_breaks_correlation(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "ood.shuffle", 1.0)
    common(ctx, es)
    for c in NUMERIC + ["employment"]:
        assert sorted(es.X[c].tolist()) == sorted(base[c].tolist())
    r0 = np.corrcoef(base["age"], base["credit_history_months"])[0, 1]
    r1 = np.corrcoef(es.X["age"], es.X["credit_history_months"])[0, 1]
    assert r0 > 0.5 and abs(r1) < 0.15


def test_mix_and_seed(ctx):
    es = build(ctx, "ood.far", 1.0, 5, mix=0.3)
    base = ctx.evalset("base").X
    m = es.meta["is_ood"]
    assert 0.2 < m.mean() < 0.4
    pd.testing.assert_frame_equal(es.X[~m].reset_index(drop=True), base[~m].reset_index(drop=True))
    again = build(ctx, "ood.far", 1.0, 5, mix=0.3)
    pd.testing.assert_frame_equal(es.X, again.X)
    assert not es.X.equals(build(ctx, "ood.far", 1.0, 6, mix=0.3).X)
