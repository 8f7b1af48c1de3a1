"""Image perturbations on scikit-learn's bundled 8x8 digits (64 pixel columns, values 0-16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from audit.constraints import resolve_constraints
from audit.context import AuditContext, AuditSettings
from audit.data.dataset import Dataset
from audit.evalsets import get_builder

KINDS = ["perturbed.image_noise", "perturbed.blur", "perturbed.brightness", "perturbed.occlusion"]


@pytest.fixture(scope="module")
def ctx():
    d = load_digits()
    X = pd.DataFrame(d.data[:300], columns=[f"px{i}" for i in range(64)])
    sens = pd.DataFrame({"g": np.where(np.arange(300) % 2, "a", "b")})
    ds = Dataset(X=X, y=d.target[:300], sensitive=sens)
    cons = resolve_constraints(X, ds.feature_types, {})
    return AuditContext(settings=AuditSettings(), dataset=ds, model=None, constraints=cons)


def build(ctx, kind, severity, seed, **params):
    b = get_builder(kind)
    return b.func(ctx, ctx.evalset("base"), b.params.model_validate({"image_shape": [8, 8], **params}),
                  severity, np.random.default_rng(seed))


@pytest.mark.parametrize("kind", KINDS)
def test_shape_range_and_seed(ctx, kind):
    base = ctx.evalset("base").X
    es = build(ctx, kind, 0.4, 1)
    assert es.X.shape == base.shape and list(es.X.columns) == list(base.columns)
    v = es.X.to_numpy()
    assert v.min() >= 0 and v.max() <= 16
    pd.testing.assert_frame_equal(es.X, build(ctx, kind, 0.4, 1).X)
    if kind in ("perturbed.image_noise", "perturbed.occlusion"):  # the others are deterministic
        assert not es.X.equals(build(ctx, kind, 0.4, 2).X)


@pytest.mark.parametrize("kind", KINDS)
def test_monotone(ctx, kind):
    base = ctx.evalset("base").X.to_numpy()
    d = [np.abs(build(ctx, kind, s, 1).X.to_numpy() - base).mean() for s in (0.1, 0.3, 0.6, 1.0)]
    assert all(x < y for x, y in zip(d, d[1:], strict=False)), d


def test_blur_matches_scipy(ctx):
    from scipy.ndimage import gaussian_filter

    base = ctx.evalset("base").X.to_numpy().reshape(-1, 8, 8)
    es = build(ctx, "perturbed.blur", 1.0, 0)
    want = np.stack([gaussian_filter(im, 1.0, mode="nearest") for im in base]).reshape(len(base), -1)
    np.testing.assert_allclose(es.X.to_numpy(), np.clip(want, 0, 16))


def test_occlusion_patch(ctx):
    base = ctx.evalset("base").X.to_numpy()
    es = build(ctx, "perturbed.occlusion", 0.5, 0)
    zeros = (es.X.to_numpy() == 0).reshape(-1, 8, 8)
    # A 4x4 patch of zeros per image: at least 16 zero pixels, and only zeros were written.
    assert (zeros.sum(axis=(1, 2)) >= 16).all()
    changed = es.X.to_numpy() != base
    assert (es.X.to_numpy()[changed] == 0).all()
    assert changed.sum(axis=1).max() <= 16


def test_bad_shape(ctx):
    with pytest.raises(ValueError, match="image_shape"):
        build(ctx, "perturbed.blur", 1.0, 0, image_shape=[7, 9])
