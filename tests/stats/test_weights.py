"""Weighted summaries and the weighted count bootstrap (audit.stats._weights, w:<kind> summaries).

- weight sums are exact and add up bit for bit in any partitioning and order;
- the unweighted path of a Tally is exactly the count bootstrap;
- the weighted replicates have the first two moments of a weighted row bootstrap, checked by
  simulation against a brute-force row bootstrap;
- Wilson-Kish is the Wilson interval when every weight is equal.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import reduce

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.stats import bootstrap_counts, wilson_interval
from audit.stats._weights import Tally, carry_weights, kish_n, wilson_kish
from audit.stats.summaries import (
    WEIGHTED,
    Request,
    Rows,
    WeightedCounts,
    cell_keys,
    merge,
    summarise,
)


def test_weighted_counts_are_exact_and_merge_in_any_order():
    rng = np.random.default_rng(0)
    n, cells = 200_000, 5
    w = rng.lognormal(0.0, 2.0, n)  # a wide range of magnitudes: float sums would drift
    cell = rng.integers(0, cells, n)
    whole = WeightedCounts.of(cell, cells, w)
    exact = [math.fsum(w[cell == c].tolist()) for c in range(cells)]
    exact2 = [float(sum(Fraction(x) ** 2 for x in w[cell == c].tolist())) for c in range(cells)]
    v = whole.values()
    assert v[:, 0].tolist() == exact  # fsum is correctly rounded: equal to the last bit
    assert v[:, 1].tolist() == exact2
    assert whole.counts.tolist() == np.bincount(cell, minlength=cells).tolist()
    cuts = np.sort(rng.choice(n, 7, replace=False))
    pieces = [WeightedCounts.of(cell[a:b], cells, w[a:b]) for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    for order in (pieces, pieces[::-1], [pieces[i] for i in rng.permutation(len(pieces))]):
        merged = reduce(merge, order, None)
        assert np.array_equal(merged.values(), v) and np.array_equal(merged.counts, whole.counts)
    assert sum(pieces).values().tolist() == v.tolist()  # sum() starts from 0


def _rows(df, w, k=2):
    codes, keys = cell_keys(df[["g"]], ["g"])
    return Rows(y=df["y"].to_numpy(), pred=df["p"].to_numpy(), score=df["s"].to_numpy(), proba=None, codes=codes,
                keys=keys, k=k, pos=1, frame=df[["x", "g"]], rows=np.arange(len(df)), w=w)


@pytest.mark.parametrize("kind, arg", [("confusion", None), ("labels", None), ("cells", None), ("scores", None),
                                       ("loss", "log_loss"), ("loss", "brier"), ("ece", 10),
                                       ("calibration", (10, 10)), ("missing", None)])
def test_every_weighted_kind_adds_up_over_partitions(kind, arg):
    rng = np.random.default_rng(1)
    n = 3000
    df = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n), "y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n),
                       "s": rng.random(n), "x": np.where(rng.random(n) < 0.1, np.nan, rng.random(n))})
    w = rng.gamma(2.0, 1.0, n)
    req = Request(WEIGHTED + kind, "base", arg)
    whole = summarise(req, _rows(df, w), None, None)
    parts = [summarise(req, _rows(df.iloc[a:b].reset_index(drop=True), w[a:b]), None, None)
             for a, b in [(0, 700), (700, 2200), (2200, n)]]
    merged = reduce(merge, parts[::-1], None)

    def flat(x):
        if isinstance(x, WeightedCounts):
            return [x.counts.tolist(), x.values().tolist()]
        if isinstance(x, dict):
            return {k: flat(v) for k, v in sorted(x.items())}
        if hasattr(x, "values") and callable(x.values):
            return x.values().tolist()
        return np.asarray(x).tolist()

    assert flat(merged) == flat(whole)
    # The counts of a weighted summary are the unweighted summary's counts.
    plain = summarise(Request(kind, "base", arg), _rows(df, None), None, None)
    if kind in ("confusion", "labels", "cells"):
        assert {k: v.counts.tolist() for k, v in whole.items()} == {k: v.tolist() for k, v in plain.items()}
    if kind == "scores":
        assert whole.counts.tolist() == np.asarray(plain).ravel().tolist()


def test_unweighted_tally_is_the_count_bootstrap():
    counts = np.array([[40, 3, 7, 50], [10, 0, 2, 8]])
    a = Tally(counts).resample(300, np.random.default_rng(7))
    b = bootstrap_counts(counts, 300, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert Tally(counts).point is counts


def test_carried_weights_match_a_weighted_row_bootstrap():
    # One cell of 400 rows with skewed weights: the replicate weight total's mean and variance
    # equal a brute-force row bootstrap's (m * mu, m * var given the drawn count m).
    rng = np.random.default_rng(3)
    w = rng.lognormal(0.0, 0.8, 400)
    n = np.array([len(w)])
    B = 40_000
    drawn = np.full((B, 1), len(w))
    reps = carry_weights(drawn, n, np.array([w.sum()]), np.array([(w * w).sum()]), rng)[:, 0]
    brute = rng.choice(w, size=(B, len(w)), replace=True).sum(axis=1)
    assert reps.mean() == pytest.approx(brute.mean(), rel=2e-3)
    assert reps.std() == pytest.approx(brute.std(), rel=0.03)
    # Equal weights: no noise, the replicate is the count times the weight.
    eq = carry_weights(np.array([[3.0], [5.0]]), np.array([4]), np.array([8.0]), np.array([16.0]), rng)
    assert eq[:, 0].tolist() == [6.0, 10.0]


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (50, 100), (997, 1000)])
def test_wilson_kish_with_equal_weights_is_wilson(k, n):
    for c in (1.0, 2.5):
        lo, hi = wilson_kish(k * c, n * c, n * c * c, 0.95)
        wl, wh = wilson_interval(k, n, 0.95)
        assert lo == pytest.approx(wl, abs=1e-12) and hi == pytest.approx(wh, abs=1e-12)
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert kish_n(10.0, 10.0) == 10.0  # ten rows of weight 1
    assert kish_n(10.0, 100.0) == 1.0  # one row of weight 10
