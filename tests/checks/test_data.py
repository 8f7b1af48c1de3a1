"""Data checks: planted duplicates and leaks found exactly; shares against pandas/numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from audit.checks import get_check
from audit.demo_context import demo_context


def run(ctx, cid, evalset="base", **params):
    spec = get_check(cid)
    return spec.func(ctx.for_check(cid, evalset, 0), spec.params.model_validate(params))


def test_planted_duplicates_counted_exactly():
    assert run(demo_context(n=1000, n_ref=1000, model=False), "data.train_test_duplicates").details["duplicates"] == 0
    c = demo_context(n=1000, n_ref=1000, model=False)  # fresh: the base set is built from the planted data
    rows = np.random.default_rng(0).choice(1000, size=37, replace=False)
    X = c.dataset.X.copy()
    X.iloc[rows[:30]] = c.dataset.reference.X.iloc[:30].to_numpy()
    X.iloc[rows[30:]] = c.dataset.reference.X.iloc[500:507].to_numpy()
    c.dataset.X = X.astype(c.dataset.reference.X.dtypes.to_dict())
    m = run(c, "data.train_test_duplicates")
    assert m.details["duplicates"] == 37 and m.value == pytest.approx(0.037)
    ci = binomtest(37, 1000).proportion_ci(method="wilson")
    assert (m.interval.low, m.interval.high) == pytest.approx((ci.low, ci.high))
    # A near-duplicate (one cent off) is not a duplicate.
    X2 = c.dataset.X.copy()
    X2.loc[rows[0], "income"] += 0.01
    c2 = demo_context(n=1000, n_ref=1000, model=False)
    c2.dataset.X = X2
    assert run(c2, "data.train_test_duplicates").details["duplicates"] == 36


def test_planted_leak_found():
    c = demo_context(n=1000, n_ref=300, model=False)
    y = c.dataset.y
    rng = np.random.default_rng(1)
    leak = y + rng.normal(0, 0.2, size=len(y))
    flip = rng.random(len(y)) < 0.02
    leak_cat = np.where((y == 1) ^ flip, "yes", "no")
    c.dataset.X = c.dataset.X.assign(leak=leak, leak_cat=leak_cat)
    c.dataset.feature_types = {**c.dataset.feature_types, "leak": "numeric", "leak_cat": "categorical"}
    m = run(c, "data.single_feature_leakage", flag_at=0.95)
    g = {x.group: x for x in m.groups}
    assert m.groups[0].group == "leak"
    assert m.value == pytest.approx(roc_auc_score(y, leak))
    assert g["leak"].extra["flagged"] and g["leak_cat"].extra["flagged"]
    assert g["leak_cat"].value == pytest.approx(0.98, abs=0.015)
    # Honest features are below the flag; each numeric one equals sklearn's AUROC (or 1 - AUROC).
    a = roc_auc_score(y, c.dataset.X["income"])
    assert g["income"].value == pytest.approx(max(a, 1 - a))
    assert not g["income"].extra["flagged"]
    assert m.details["tables"][0]["flag_rows"] == [0, 1]


def test_class_balance_and_groups():
    c = demo_context(n=1000, n_ref=300, model=False)
    y = c.dataset.y
    m = run(c, "data.class_balance")
    assert m.value == pytest.approx(np.bincount(y).min() / len(y))
    g = run(c, "data.group_representation")
    shares = pd.concat([c.dataset.sensitive[col].value_counts(normalize=True) for col in ("sex", "age_band")])
    assert g.value == pytest.approx(shares.min())
    k = int((c.dataset.sensitive["age_band"] == "<25").sum())
    ci = binomtest(k, 1000).proportion_ci(method="wilson")
    gv = {x.group: x for x in g.groups}["age_band=<25"]
    assert (gv.interval.low, gv.interval.high) == pytest.approx((ci.low, ci.high))
    inter = run(c, "data.group_representation", intersectional=True)
    assert inter.value == pytest.approx(c.dataset.sensitive.value_counts(normalize=True).min())


def test_missing_values():
    c = demo_context(n=500, n_ref=300, model=False)
    m = run(c, "data.missing_values", "perturbed.missing@0.3")
    X = c.evalset("perturbed.missing@0.3").X
    assert m.value == pytest.approx(X.isna().mean().max())
    table = m.details["tables"][0]
    got = {r[0]: r[2] for r in table["rows"]}
    for col, share in X.isna().mean().items():
        assert got[col] == pytest.approx(share)
    assert got["age_band"] == 0
    assert run(c, "data.missing_values").value == 0
