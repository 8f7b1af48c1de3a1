"""Perturbed tabular sets: only what should change changes, seeded, severity monotone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from audit.demo_context import demo_context
from audit.evalsets import get_builder

KINDS = [
    ("perturbed.noise", {}),
    ("perturbed.missing", {}),
    ("perturbed.missing", {"mechanism": "mnar", "feature": "income"}),
    ("perturbed.category_swap", {}),
    ("perturbed.dropout", {}),
    ("perturbed.scale", {"feature": "loan_amount", "direction": "down", "rows": 0.5}),
    ("perturbed.rounding", {}),
    ("perturbed.outliers", {}),
]


@pytest.fixture(scope="module")
def ctx():
    return demo_context(n=800, n_ref=800, model=False)


def build(ctx, kind, params, severity, seed):
    # The builder with ``seed`` as both the run seed and the set's seed (noise draws are keyed on
    # the run seed, so every severity of a kind scales the same draws).
    b = get_builder(kind)
    return b.func(dataclasses.replace(ctx.table, seed=seed), ctx.evalset("base"), b.params.model_validate(params),
                  severity, seed)


def distortion(base: pd.DataFrame, new: pd.DataFrame) -> float:
    """Mean over cells of |change| / feature sd (numeric) or 1 for a changed category / a new NaN."""
    tot = 0.0
    for c in base.columns:
        a, b = base[c].to_numpy(), new[c].to_numpy()
        if pd.api.types.is_numeric_dtype(base[c].dtype):
            a, b = a.astype(float), b.astype(float)
            d = np.where(np.isnan(b), 1.0, np.abs(b - a) / (np.std(a) or 1.0))
        else:
            d = (pd.isna(b) | (a != b)).astype(float)
        tot += d.sum()
    return tot / base.size


@pytest.mark.parametrize(("kind", "params"), KINDS)
def test_constraints_kept(ctx, kind, params):
    base = ctx.evalset("base")
    es = build(ctx, kind, params, 0.5, 1)
    assert list(es.X.columns) == list(base.X.columns)
    np.testing.assert_array_equal(es.source_index, np.arange(base.n_rows))
    # Immutable columns byte-identical, same dtype.
    for col in ("sex", "age"):
        assert es.X[col].dtype == base.X[col].dtype
        assert es.X[col].equals(base.X[col])
    assert es.X["age"].to_numpy().tobytes() == base.X["age"].to_numpy().tobytes()
    for col, c in ctx.constraints.items():
        v = es.X[col]
        if c.categories is not None:
            assert v.dropna().isin(c.categories).all(), col
        else:
            x = v.to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            assert (x >= c.min - 1e-9).all() and (x <= c.max + 1e-9).all(), col
            if c.integer:
                assert (x == np.round(x)).all(), col
    assert np.array_equal(es.y, base.y)
    assert es.description and es.meta["report"]


@pytest.mark.parametrize(("kind", "params"), KINDS)
def test_seeded(ctx, kind, params):
    a = build(ctx, kind, params, 0.3, 7)
    b = build(ctx, kind, params, 0.3, 7)
    pd.testing.assert_frame_equal(a.X, b.X)
    others = [build(ctx, kind, params, 0.3, s).X for s in (8, 9, 10)]
    if kind == "perturbed.missing" and params.get("mechanism") == "mnar":
        return  # the top share of one feature: deterministic except ties
    assert any(not o.equals(a.X) for o in others)


@pytest.mark.parametrize(("kind", "params"), KINDS)
def test_severity_monotone(ctx, kind, params):
    base = ctx.evalset("base").X
    sevs = [0.05, 0.1, 0.2] if kind == "perturbed.scale" else [0.1, 0.3, 0.6, 1.0]
    d = [distortion(base, build(ctx, kind, params, s, 3).X) for s in sevs]
    assert all(x < y for x, y in zip(d, d[1:], strict=False)), d


def test_noise_scale_matches_severity(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "perturbed.noise", {"features": ["debt_ratio"]}, 0.05, 1)
    delta = es.X["debt_ratio"] - base["debt_ratio"]
    # Clipping is rare at this scale: the noise sd is 0.05 x the feature's sd.
    assert np.std(delta) == pytest.approx(0.05 * np.std(base["debt_ratio"]), rel=0.1)
    assert (es.X.drop(columns="debt_ratio") == base.drop(columns="debt_ratio")).all().all()


def test_missing_rates(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "perturbed.missing", {}, 0.2, 1)
    mutable = [c for c in base.columns if c not in ("sex", "age")]
    assert es.X[mutable].isna().to_numpy().mean() == pytest.approx(0.2, abs=0.02)
    assert not es.X[["sex", "age"]].isna().any().any()
    mnar = build(ctx, "perturbed.missing", {"mechanism": "mnar", "feature": "income"}, 0.25, 1)
    miss = mnar.X["income"].isna().to_numpy()
    assert miss.sum() == round(0.25 * len(base))
    assert base["income"][miss].min() >= base["income"][~miss].max()


def test_category_swap_changes_category(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "perturbed.category_swap", {}, 1.0, 1)
    for c in ("employment", "housing", "purpose"):
        assert (es.X[c] != base[c]).all()


def test_dropout_named_features(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "perturbed.dropout", {"features": ["income", "housing", "sex"]}, None, 1)
    assert es.X["income"].nunique() == 1 and es.X["income"].iloc[0] == pytest.approx(base["income"].mean())
    assert (es.X["housing"] == base["housing"].mode()[0]).all()
    assert es.X["sex"].equals(base["sex"])  # immutable: never dropped
    assert es.X["purpose"].equals(base["purpose"])


def test_scale_factor(ctx):
    base = ctx.evalset("base").X
    es = build(ctx, "perturbed.scale", {"feature": "loan_amount", "factor": 1.1}, None, 1)
    lo, hi = ctx.constraints["loan_amount"].min, ctx.constraints["loan_amount"].max
    np.testing.assert_allclose(es.X["loan_amount"], np.clip(base["loan_amount"] * 1.1, lo, hi))
