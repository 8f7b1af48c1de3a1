"""The stratified sample: proportional by label x group, every stratum present, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.adversarial import stratified_sample


def test_proportional_allocation_and_small_strata_kept():
    rng = np.random.default_rng(0)
    n = 5000
    y = rng.integers(0, 2, n)
    g = np.where(rng.uniform(size=n) < 0.01, "tiny", np.where(rng.uniform(size=n) < 0.4, "a", "b"))
    sens = pd.DataFrame({"g": g})
    idx = stratified_sample(y, sens, 200, np.random.default_rng(1))
    assert len(idx) == 200 and len(np.unique(idx)) == 200
    full = pd.crosstab(y, g, normalize=True)
    got = pd.crosstab(y[idx], g[idx])
    assert (got.to_numpy() >= 1).all()  # every label x group stratum represented
    expect = full.to_numpy() * 200
    assert np.abs(got.to_numpy() - expect).max() <= 1.5


def test_seeded_and_all_rows_when_small():
    y = np.arange(100) % 2
    a = stratified_sample(y, None, 30, np.random.default_rng(3))
    b = stratified_sample(y, None, 30, np.random.default_rng(3))
    c = stratified_sample(y, None, 30, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(stratified_sample(y, None, 500, np.random.default_rng(0)), np.arange(100))
