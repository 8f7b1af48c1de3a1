"""White-box attacks on a linear classifier against the closed form.

For a linear decision ``f(x) = w.x + b`` the smallest L-inf change that flips
a correctly classified point has size ``|f(x)| / ||w||_1`` (move every
feature by eps against the sign of its weight). With per-feature epsilons
``eps * s_j`` (spread units) it is ``|f(x)| / sum_j |w_j| s_j``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from tests.adversarial import numeric_ctx, numeric_data


def closed_form_robust(model, X, y, eps, scale=None):
    w = np.ravel(model.coef_)
    s = np.ones_like(w) if scale is None else scale
    margin = model.decision_function(X)
    correct = model.predict(X) == y
    return correct & (np.abs(margin) > eps * np.sum(np.abs(w) * s))


@pytest.fixture(scope="module")
def data():
    return numeric_data(400, seed=0)


@pytest.mark.parametrize("attack", ["pgd", "fgsm"])
@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5])
def test_linear_robust_accuracy_equals_closed_form(data, attack, eps):
    X, y, sens = data
    model = LogisticRegression().fit(X, y)
    ctx = numeric_ctx(model, X, y, sens, specs={
        "adv": (f"adversarial.{attack}", eps, {"eps_units": "absolute", "sample_size": 400})})
    es = ctx.evalset("adv")
    got = ctx.predictions("adv").labels == es.y
    want = closed_form_robust(model, X.iloc[es.source_index], es.y, eps)
    assert len(es.y) == 400
    # float32 inside ART: points exactly on the boundary may differ; allow one.
    assert abs(int(got.sum()) - int(want.sum())) <= 1
    assert np.sum(got != want) <= 1


def test_std_units_scale_each_feature(data):
    X, y, sens = data
    X = X * np.array([1.0, 3.0, 0.5, 2.0, 10.0])  # different spreads
    model = LogisticRegression(max_iter=1000).fit(X, y)
    ctx = numeric_ctx(model, X, y, sens, specs={"adv": ("adversarial.pgd", 0.2, {"sample_size": 400})})
    es = ctx.evalset("adv")
    got = ctx.predictions("adv").labels == es.y
    want = closed_form_robust(model, X, es.y, 0.2, scale=X.std(ddof=0).to_numpy())
    assert np.sum(got != want) <= 1
    # And each feature moved by at most eps standard deviations.
    moved = np.abs(es.X.to_numpy() - X.to_numpy()) / X.std(ddof=0).to_numpy()
    assert moved.max() <= 0.2 + 1e-5


def test_linear_svc_closed_form(data):
    X, y, sens = data
    model = LinearSVC().fit(X, y)
    ctx = numeric_ctx(model, X, y, sens, specs={
        "adv": ("adversarial", 0.3, {"eps_units": "absolute", "sample_size": 400})})
    es = ctx.evalset("adv")
    assert es.meta["report"]["attack"] == "pgd"
    got = ctx.predictions("adv").labels == es.y
    assert np.sum(got != closed_form_robust(model, X, es.y, 0.3)) <= 1


def test_pipeline_surrogate_matches_closed_form():
    """The demo-style pipeline (scaler + one-hot + LR) composed exactly: closed form in raw units."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y, sens = numeric_data(300, seed=3)
    X = X * 5 + 2
    X["colour"] = np.where(np.arange(300) % 3 == 0, "red", "blue")
    pre = ColumnTransformer([("num", StandardScaler(), list(X.columns[:5])), ("cat", OneHotEncoder(), ["colour"])])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(X, y)
    ctx = numeric_ctx(model, X, y, sens, specs={
        "adv": ("adversarial", 0.4, {"eps_units": "absolute", "sample_size": 300})})
    es = ctx.evalset("adv")
    got = ctx.predictions("adv").labels == es.y
    # Raw-unit weights of the pipeline: w / scaler scale.
    w = model[-1].coef_[0][:5] / model[0].named_transformers_["num"].scale_
    margin = model.decision_function(X)
    want = (model.predict(X) == y) & (np.abs(margin) > 0.4 * np.abs(w).sum())
    assert np.sum(got != want) <= 1
    assert (es.X["colour"].to_numpy() == X["colour"].to_numpy()).all()
    assert isinstance(es.X, pd.DataFrame)


def test_rbf_svc_pgd_runs_and_respects_per_feature_ball(data):
    from sklearn.svm import SVC

    X, y, sens = data
    X = X * np.array([1.0, 3.0, 0.5, 2.0, 10.0])
    model = SVC().fit(X.iloc[:200], y[:200])
    ctx = numeric_ctx(model, X, y, sens, specs={"adv": ("adversarial", 0.3, {"sample_size": 40, "max_iter": 5})})
    es = ctx.evalset("adv")
    assert es.meta["report"]["attack"] == "pgd"
    X0 = X.iloc[es.source_index].to_numpy()
    moved = np.abs(es.X.to_numpy() - X0) / X.std(ddof=0).to_numpy()
    assert moved.max() <= 0.3 + 1e-5
    clean = model.predict(X.iloc[es.source_index]) == es.y
    assert np.mean(ctx.predictions("adv").labels == es.y) < clean.mean()
