"""Attack selection per model type, and the reasons and upper-bound marks it records."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from audit.adversarial import NumericSpace, describe_model, select_attack
from audit.evalsets import EvalSetSpec
from tests.adversarial import numeric_ctx, numeric_data
from tests.conftest import build_credit_ctx

X, Y, SENS = numeric_data(200, seed=2)

MODELS = {
    "lr": (LogisticRegression(), "pgd"),
    "linsvc": (LinearSVC(), "pgd"),
    "svc": (SVC(), "pgd"),
    "tree": (DecisionTreeClassifier(max_depth=4, random_state=0), "decision_tree"),
    "rf": (RandomForestClassifier(n_estimators=5, random_state=0), "tree_ensemble"),
    "gb": (GradientBoostingClassifier(n_estimators=5, random_state=0), "tree_ensemble"),
    "hgb": (HistGradientBoostingClassifier(max_iter=5), "tree_ensemble"),
    "knn": (KNeighborsClassifier(), "hopskipjump"),
    "scaled_tree": (Pipeline([("s", StandardScaler()), ("t", DecisionTreeClassifier(max_depth=3))]),
                    "tree_ensemble"),
    "scaled_lr": (Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]), "pgd"),
}


def info_of(model):
    sp = NumericSpace.build(X, {}, {})
    return describe_model(model.fit(X, Y), sp, list(X.columns))


@pytest.mark.parametrize("key", list(MODELS))
def test_auto_picks_the_strongest_supported_attack(key):
    model, expected = MODELS[key]
    choice = select_attack("auto", info_of(model))
    assert choice.attack == expected
    assert choice.reason
    assert not choice.upper_bound  # auto never takes a black-box attack where a white-box one exists


def test_demo_pipeline_gets_white_box_pgd():
    ctx = build_credit_ctx(0, n_holdout=300)
    es = ctx.evalset("adversarial@0.1")
    assert es.meta["report"]["attack"] == "pgd"
    assert "LogisticRegression" in es.meta["report"]["why"]


def test_black_box_on_a_gradient_model_is_an_upper_bound():
    info = info_of(LogisticRegression())
    for attack in ("hopskipjump", "random_search"):
        c = select_attack(attack, info)
        assert c.upper_bound and c.attack == attack
    # HopSkipJump on a forest is weaker than the tree attack the forest allows: an upper bound too.
    assert select_attack("hopskipjump", info_of(RandomForestClassifier(n_estimators=3))).upper_bound
    assert not select_attack("hopskipjump", info_of(KNeighborsClassifier())).upper_bound


def test_unsupported_requests_are_refused():
    with pytest.raises(ValueError, match="does not apply"):
        select_attack("pgd", info_of(RandomForestClassifier(n_estimators=3)))
    with pytest.raises(ValueError, match="does not apply"):
        select_attack("decision_tree", info_of(LogisticRegression()))
    with pytest.raises(ValueError, match="does not apply"):
        select_attack("autoattack", info_of(LogisticRegression()))


def test_non_affine_preprocessing_falls_back_to_black_box_with_reason():
    model = Pipeline([("q", QuantileTransformer(n_quantiles=50)), ("m", LogisticRegression())]).fit(X, Y)
    ctx = numeric_ctx(model, X, Y, SENS, specs={"adv": ("adversarial", 0.5, {"sample_size": 6, "max_queries": 60,
                                                                             "hsj_max_iter": 1})})
    rep = ctx.evalset("adv").meta["report"]
    assert rep["attack"] == "hopskipjump"
    assert "not affine" in rep["why"]


def test_decision_tree_attack_lowers_accuracy():
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, Y)
    ctx = numeric_ctx(tree, X, Y, SENS, specs={"adv": ("adversarial", 1.5, {"sample_size": 100})})
    es = ctx.evalset("adv")
    assert es.meta["report"]["attack"] == "decision_tree"
    clean = tree.predict(X.iloc[es.source_index]) == es.y
    adv = ctx.predictions("adv").labels == es.y
    assert adv.mean() < clean.mean()
    assert np.all(adv <= clean)  # no row becomes correct under attack


def test_policy_named_attack_is_recorded():
    lr = LogisticRegression().fit(X, Y)
    ctx = numeric_ctx(lr, X, Y, SENS)
    ctx.evalset_specs["a"] = EvalSetSpec(name="a", kind="adversarial", severity=0.3, params={"attack": "fgsm"})
    rep = ctx.evalset("a").meta["report"]
    assert rep["attack"] == "fgsm" and "named by the policy" in rep["why"]
