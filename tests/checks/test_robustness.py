"""Robustness checks against direct scikit-learn computations on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from audit.checks import get_check
from audit.data.demo import train_demo_model
from audit.demo_context import demo_context
from audit.errors import CheckError


@pytest.fixture(scope="module")
def ctx():
    return demo_context(n=1500, n_ref=1500, n_boot=200)


def run(ctx, cid, evalset, **params):
    spec = get_check(cid)
    return spec.func(ctx.for_check(cid, evalset, 0), spec.params.model_validate(params))


def direct(ctx, name):
    """Predictions straight from the estimator, not through the context's cache."""
    est = ctx.model.estimator
    X = ctx.evalset(name).X
    return est.predict(X), est.predict_proba(X)[:, 1]


@pytest.mark.parametrize(("metric", "fn"), [
    ("accuracy", accuracy_score), ("balanced_accuracy", balanced_accuracy_score), ("f1", f1_score),
    ("roc_auc", None)])
def test_metric_drop_equals_sklearn(ctx, metric, fn):
    name = "perturbed.noise@0.5"
    y = ctx.dataset.y
    pb, sb = direct(ctx, "base")
    pp, sp = direct(ctx, name)
    if fn is None:
        want = roc_auc_score(y, sb) - roc_auc_score(y, sp)
    else:
        want = fn(y, pb) - fn(y, pp)
    m = run(ctx, "robustness.metric_drop", name, metric=metric)
    # AUC comes from 2**16-bin score histograms: within half the share of tied positive-negative
    # pairs of each set (the bound the roc_auc check reports); counts are exact.
    tol = 1e-12 if fn is not None else sum(_tied(ctx.summaries.get("scores", s)) / 2 for s in ("base", name))
    assert m.value == pytest.approx(want, abs=tol + 1e-12)
    assert m.interval.low <= m.value <= m.interval.high
    rel = run(ctx, "robustness.metric_drop", name, metric=metric, mode="relative")
    base_val = roc_auc_score(y, sb) if fn is None else fn(y, pb)
    assert rel.value == pytest.approx(want / base_val, abs=2 * tol + 1e-12)


def _tied(counts):
    return float((counts[0] * counts[1]).sum()) / float(counts[0].sum() * counts[1].sum())


def test_paired_interval_narrower_than_unpaired(ctx):
    # The paired bootstrap exploits the row correspondence: its interval is much narrower than
    # the spread of either metric alone.
    m = run(ctx, "robustness.metric_drop", "perturbed.noise@0.2")
    c = m.details
    assert m.interval.high - m.interval.low < 0.04
    assert c["base_metric"] - c["perturbed_metric"] == pytest.approx(m.value)


def test_curve(ctx):
    sevs = [0.1, 0.5, 1.0]
    m = run(ctx, "robustness.metric_drop", "base", kind="perturbed.noise", severities=sevs)
    chart = m.details["charts"][0]
    assert chart["kind"] == "curve" and chart["x"] == [0.0, *sevs]
    y = ctx.dataset.y
    want = [accuracy_score(y, direct(ctx, "base")[0])]
    want += [accuracy_score(y, direct(ctx, f"perturbed.noise@{s:g}")[0]) for s in sevs]
    np.testing.assert_allclose(chart["series"][0]["y"], want)
    assert m.value == pytest.approx(max(want[0] - w for w in want[1:]))
    assert [g.group for g in m.groups] == [f"perturbed.noise@{s:g}" for s in sevs]


def test_unpaired_on_shifted_set(ctx):
    m = run(ctx, "robustness.metric_drop", "shifted.label_prior@0.3")
    es = ctx.evalset("shifted.label_prior@0.3")
    pb, _ = direct(ctx, "base")
    pp, _ = direct(ctx, "shifted.label_prior@0.3")
    want = accuracy_score(ctx.dataset.y, pb) - accuracy_score(es.y, pp)
    assert m.value == pytest.approx(want)
    assert m.interval.method == "bootstrap-counts"


def test_flip_rate(ctx):
    name = "perturbed.category_swap@0.3"
    pb, _ = direct(ctx, "base")
    pp, _ = direct(ctx, name)
    k, n = int((pb != pp).sum()), len(pb)
    m = run(ctx, "robustness.flip_rate", name)
    assert m.value == pytest.approx(k / n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (m.interval.low, m.interval.high) == pytest.approx((ci.low, ci.high))
    sex = ctx.dataset.sensitive["sex"].to_numpy()
    g = {x.group: x for x in m.groups}
    assert g["sex=F"].value == pytest.approx(np.mean(pb[sex == "F"] != pp[sex == "F"]))
    assert g["sex=F"].n == int((sex == "F").sum())


def test_group_degradation_gap(ctx):
    name = "perturbed.noise@1"
    y = ctx.dataset.y
    pb, _ = direct(ctx, "base")
    pp, _ = direct(ctx, name)
    sex = ctx.dataset.sensitive["sex"].to_numpy()
    drops = [accuracy_score(y[sex == s], pb[sex == s]) - accuracy_score(y[sex == s], pp[sex == s]) for s in "FM"]
    m = run(ctx, "robustness.group_degradation_gap", name, sensitive=["sex"])
    assert m.value == pytest.approx(max(drops) - min(drops))
    assert [g.value for g in m.groups] == pytest.approx(drops)
    assert m.inconclusive is None


def test_small_group_inconclusive():
    c = demo_context(n=150, n_ref=300, n_boot=100)
    m = run(c, "robustness.group_degradation_gap", "perturbed.noise@0.5", sensitive=["sex", "age_band"])
    assert m.inconclusive and "min_group_size" in m.inconclusive


def test_missing_values_error_is_clear(ctx):
    with pytest.raises(CheckError, match="missing values"):
        run(ctx, "robustness.metric_drop", "perturbed.missing@0.1")


def test_seeded_numbers():
    a = run(demo_context(n=500, n_ref=500), "robustness.metric_drop", "perturbed.noise@0.3")
    b = run(demo_context(n=500, n_ref=500), "robustness.metric_drop", "perturbed.noise@0.3")
    assert a.model_dump() == b.model_dump()


class Counting:
    """A wrapper that counts calls to the model per evaluation-set size and first row."""

    def __init__(self, est):
        self.est, self.calls = est, 0
        self.classes_ = est.classes_

    def predict_proba(self, X):
        self.calls += 1
        return self.est.predict_proba(X)

    def predict(self, X):
        self.calls += 1
        return self.est.predict(X)


def test_each_evalset_predicted_once():
    from audit.data.demo import make_credit_data

    est = Counting(train_demo_model(make_credit_data(1000, seed=0).iloc[:500], seed=0))
    c = demo_context(n=500, n_ref=500, n_boot=100, estimator=est)
    for _ in range(2):
        run(c, "robustness.metric_drop", "perturbed.noise@0.2")
        run(c, "robustness.metric_drop", "perturbed.noise@0.2", metric="roc_auc")
        run(c, "robustness.flip_rate", "perturbed.noise@0.2")
        run(c, "robustness.group_degradation_gap", "perturbed.noise@0.2")
        run(c, "robustness.metric_drop", "base", kind="perturbed.noise", severities=[0.2, 0.5])
        run(c, "shift.prediction_drift", "base")
        run(c, "ood.detection_auroc", "base")
        run(c, "ood.detection_rate", "base")
    predicted = set(c._preds)
    assert predicted == {"base", "perturbed.noise@0.2", "perturbed.noise@0.5", "reference", "ood.far@1"}
    assert est.calls == len(predicted)


def test_regression_metric_drop_equals_sklearn():
    from dataclasses import replace

    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    from audit.models.adapter import ModelAdapter

    c = demo_context(n=600, n_ref=600, model=False, n_boot=100)
    num = ["age", "income", "debt_ratio", "open_accounts", "loan_amount"]
    c.dataset.X = c.dataset.X[num]
    c.dataset.feature_types = {k: c.dataset.feature_types[k] for k in num}
    y = 5.0 * c.dataset.sensitive["sex"].eq("F").to_numpy() + 10.0 * c.dataset.X["debt_ratio"].to_numpy()
    c.dataset.y = y
    c.settings = replace(c.settings, task="regression", pos_label=None)
    c.model = ModelAdapter(LinearRegression().fit(c.dataset.X, y))
    pb = c.model.estimator.predict(c.dataset.X)
    pp = c.model.estimator.predict(c.evalset("perturbed.noise@0.5").X)
    m = run(c, "robustness.metric_drop", "perturbed.noise@0.5", metric="mae")
    assert m.value == pytest.approx(mean_absolute_error(y, pp) - mean_absolute_error(y, pb))
    m = run(c, "robustness.metric_drop", "perturbed.noise@0.5", metric="rmse")
    assert m.value == pytest.approx(np.sqrt(mean_squared_error(y, pp)) - np.sqrt(mean_squared_error(y, pb)))
    assert m.interval.low <= m.value <= m.interval.high


def test_multiclass_images_metric_drop():
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from audit.constraints import resolve_constraints
    from audit.context import AuditContext, AuditSettings
    from audit.data.dataset import Dataset
    from audit.models.adapter import ModelAdapter

    d = load_digits()
    X = pd.DataFrame(d.data, columns=[f"px{i}" for i in range(64)])
    est = LogisticRegression(max_iter=300).fit(X.iloc[:1000], d.target[:1000])
    Xt, yt = X.iloc[1000:].reset_index(drop=True), d.target[1000:]
    ds = Dataset(X=Xt, y=yt, sensitive=pd.DataFrame({"half": np.where(np.arange(len(yt)) % 2, "a", "b")}))
    c = AuditContext(settings=AuditSettings(n_boot=100), dataset=ds, model=ModelAdapter(est),
                     constraints=resolve_constraints(Xt, ds.feature_types, {}))
    for kind in ("perturbed.image_noise@0.3", "perturbed.blur@1", "perturbed.occlusion@0.5"):
        pp = est.predict(c.evalset(kind).X)
        want = accuracy_score(yt, est.predict(Xt)) - accuracy_score(yt, pp)
        m = run(c, "robustness.metric_drop", kind)
        assert m.value == pytest.approx(want)
        b = run(c, "robustness.metric_drop", kind, metric="balanced_accuracy")
        assert b.value == pytest.approx(balanced_accuracy_score(yt, est.predict(Xt)) - balanced_accuracy_score(yt, pp))
