"""Shifted sets: resampled base rows (Poisson resampling, so sizes and shares hold in expectation),
the intended shift, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.demo_context import demo_context
from audit.evalsets import get_builder


@pytest.fixture(scope="module")
def ctx():
    return demo_context(n=1000, n_ref=500, model=False)


def build(ctx, kind, severity, seed=1, **params):
    b = get_builder(kind)
    return b.func(ctx.table, ctx.evalset("base"), b.params.model_validate(params), severity, seed)


def within(share: float, got: float, n: int, k: float = 4.0) -> bool:
    """``got`` within k standard errors of a binomial share over n rows."""
    return abs(got - share) <= k * np.sqrt(share * (1 - share) / n)


def same_rows(ctx, es):
    base = ctx.evalset("base")
    pd.testing.assert_frame_equal(es.X, base.X.iloc[es.source_index].reset_index(drop=True))
    np.testing.assert_array_equal(es.y, base.y[es.source_index])
    pd.testing.assert_frame_equal(es.sensitive, base.sensitive.iloc[es.source_index].reset_index(drop=True))


def test_covariate_monotone_and_direction(ctx):
    base = ctx.evalset("base").X["income"].mean()
    means = [build(ctx, "shifted.covariate", s, feature="income").X["income"].mean() for s in (0.0, 0.3, 0.6, 1.0)]
    assert means[0] == pytest.approx(base, rel=0.05)
    assert all(a < b for a, b in zip(means, means[1:], strict=False)), means
    low = build(ctx, "shifted.covariate", 0.6, feature="income", direction="low")
    assert low.X["income"].mean() < base
    same_rows(ctx, low)


def test_label_prior_share(ctx):
    for share in (0.2, 0.5, 0.8):
        es = build(ctx, "shifted.label_prior", share)
        assert within(share, float((es.y == 1).mean()), len(es.y))
        assert abs(len(es.y) - 1000) <= 4 * np.sqrt(1000)  # Poisson: n rows expected
        same_rows(ctx, es)


def test_subpopulation(ctx):
    base = ctx.evalset("base")
    p = (base.sensitive["sex"] == "F").mean()
    for sev in (-1.0, 1.0):
        es = build(ctx, "shifted.subpopulation", sev, group="sex=F")
        f = 5.0**sev
        want = p * f / (p * f + 1 - p)
        assert within(want, float((es.sensitive["sex"] == "F").mean()), len(es.y))
        same_rows(ctx, es)
    with pytest.raises(ValueError, match="column=value"):
        build(ctx, "shifted.subpopulation", 1.0, group="sex")


def test_temporal_latest_share(ctx):
    c = demo_context(n=400, n_ref=100, model=False)
    dates = pd.date_range("2020-01-01", periods=400, freq="D").astype(str)
    c.dataset.sensitive = c.dataset.sensitive.assign(applied=np.random.default_rng(0).permutation(dates))
    es = build(c, "shifted.temporal", 0.25, time_column="applied")
    assert len(es.X) == 100
    assert pd.to_datetime(es.sensitive["applied"]).min() == pd.Timestamp("2020-01-01") + pd.Timedelta(days=300)
    with pytest.raises(ValueError, match="no column"):
        build(c, "shifted.temporal", 0.25, time_column="nope")


def test_seeded(ctx):
    a = build(ctx, "shifted.covariate", 0.5, 3, feature="debt_ratio")
    b = build(ctx, "shifted.covariate", 0.5, 3, feature="debt_ratio")
    c = build(ctx, "shifted.covariate", 0.5, 4, feature="debt_ratio")
    np.testing.assert_array_equal(a.source_index, b.source_index)
    assert not np.array_equal(a.source_index, c.source_index)


def test_reference_set(ctx):
    es = ctx.evalset("reference")
    assert es.n_rows == 500 and (es.source_index == -1).all()
    pd.testing.assert_frame_equal(es.X, ctx.dataset.reference.X.reset_index(drop=True))
