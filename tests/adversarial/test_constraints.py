"""Adversarial examples on the demo pipeline respect the feature constraints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.constraints import FeatureConstraint
from audit.evalsets import EvalSetSpec
from tests.conftest import build_credit_ctx

CONS = {"sex": FeatureConstraint(immutable=True),
        "age": FeatureConstraint(immutable=True, integer=True, min=18, max=100),
        "debt_ratio": FeatureConstraint(min=0.0, max=1.0)}
NUMERIC = ["income", "debt_ratio", "credit_history_months", "open_accounts", "loan_amount"]


def demo_ctx(specs):
    ctx = build_credit_ctx(0, n_holdout=600, with_reference=True)
    ctx.constraints = dict(CONS)
    ctx.evalset_specs.update({k: EvalSetSpec(name=k, kind=v[0], severity=v[1], params=v[2])
                              for k, v in specs.items()})
    return ctx


CASES = {
    "pgd": ("adversarial.pgd", 1.0, {"sample_size": 120}),
    "fgsm": ("adversarial.fgsm", 2.0, {"sample_size": 120}),
    "rs": ("adversarial.random_search", 1.0, {"sample_size": 60, "max_queries": 100}),
    "hsj": ("adversarial.hopskipjump", 1.0, {"sample_size": 8, "max_queries": 150, "hsj_max_iter": 2}),
}


@pytest.fixture(scope="module")
def built():
    ctx = demo_ctx(CASES)
    return ctx, {k: ctx.evalset(k) for k in CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_immutables_byte_identical_and_types_hold(built, name):
    ctx, sets = built
    es = sets[name]
    X0 = ctx.dataset.X.iloc[es.source_index].reset_index(drop=True)
    Xa = es.X
    for col in ["sex", "age", "employment", "housing", "purpose"]:
        a, b = X0[col].to_numpy(), Xa[col].to_numpy()
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes() if a.dtype != object else list(a) == list(b)
    assert list(Xa.columns) == list(X0.columns)
    for col in ["age", "credit_history_months", "open_accounts"]:
        assert pd.api.types.is_integer_dtype(Xa[col].dtype)
    assert Xa["debt_ratio"].between(0, 1).all()
    assert Xa["age"].between(18, 100).all()
    ref = pd.concat([ctx.dataset.X, ctx.dataset.reference.X])  # resolve_constraints: observed range of both
    for col in NUMERIC:
        if col != "debt_ratio":
            assert Xa[col].min() >= ref[col].min() - 1e-9 and Xa[col].max() <= ref[col].max() + 1e-9


@pytest.mark.parametrize("name", ["pgd", "fgsm", "rs", "hsj"])
def test_changes_stay_inside_the_epsilon_ball(built, name):
    ctx, sets = built
    es = sets[name]
    eps = CASES[name][1]
    X0 = ctx.dataset.X.iloc[es.source_index].reset_index(drop=True)
    std = ctx.dataset.reference.X[NUMERIC].to_numpy(float).std(axis=0)
    moved = np.abs(es.X[NUMERIC].to_numpy(float) - X0[NUMERIC].to_numpy(float)) / std
    assert moved.max() <= eps + 1e-6


def test_attacks_change_predictions_and_count_discards(built):
    ctx, sets = built
    es = sets["pgd"]
    rep = es.meta["report"]
    out = es.meta["outcome"]
    y = es.y
    adv = ctx.predictions("pgd").labels
    clean = ctx.predictions("base").labels[es.source_index]
    assert rep["flipped"] == int(np.sum((clean == y) & (adv != y))) > 0
    assert rep["discarded_invalid"] == int(np.sum(out.raw_flip & ~out.valid_flip))
    assert rep["attack"] == "pgd" and not rep["upper_bound"]
    assert sets["rs"].meta["report"]["upper_bound"]


def test_projection_rounds_integers_within_ball_and_truncates_otherwise():
    from audit.adversarial import NumericSpace

    X = pd.DataFrame({"k": np.array([5, 5, 5], dtype=np.int64), "z": [0.0, 1.0, 2.0]})
    sp = NumericSpace.build(X, {"k": "integer", "z": "numeric"}, {"k": FeatureConstraint(integer=True, min=0, max=9)},
                            units="absolute")
    moved = X.assign(k=[5.6, 4.2, 6.9])
    out = sp.project(moved, X, eps=1.0)
    assert out["k"].tolist() == [6, 4, 6]  # 5.6 -> 6 fits the ball; 6.9 -> 7 would not: truncated to 6
    assert out["k"].dtype == np.int64
