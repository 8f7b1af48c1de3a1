"""Performance checks against scikit-learn, scipy and numpy on the same predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import mannwhitneyu
from sklearn import metrics as skm

from audit.checks import all_checks, get_check
from audit.context import AuditContext
from audit.data.demo import FEATURES
from audit.errors import CheckError, CheckSkipped
from audit.evalsets import EvaluationSet
from tests.conftest import build_regression_ctx, credit_split, multiclass_split

PERF = sorted(k for k in all_checks() if k.startswith("performance."))
CLASSIFICATION = [k for k in PERF if "classification" in get_check(k).tasks]
SCORE_CHECKS = ["performance.roc_auc", "performance.log_loss", "performance.brier_score",
                "performance.expected_calibration_error"]
CONFUSION = ["performance.accuracy", "performance.balanced_accuracy", "performance.precision",
             "performance.recall", "performance.f1"]


def run(ctx: AuditContext, check_id: str, evalset: str = "base", index: int = 0, **params):
    spec = get_check(check_id)
    return spec.func(ctx.for_check(check_id, evalset, index), spec.params.model_validate(params))


def credit_truth(seed, n_holdout):
    """Labels, decisions and positive-class scores computed here, not by the audit."""
    _, holdout, model = credit_split(seed, n_holdout)
    X = holdout[FEATURES]
    return holdout["repaid"].to_numpy(), model.predict(X), model.predict_proba(X)


def ece_numpy(conf, hit, n_bins):
    """Direct ECE: equal-width bins, the last one closed."""
    b = np.clip(np.digitize(conf, np.linspace(0, 1, n_bins + 1)[1:-1]), 0, n_bins - 1)
    total = 0.0
    for i in range(n_bins):
        m = b == i
        if m.any():
            total += m.sum() * abs(hit[m].mean() - conf[m].mean())
    return total / len(conf)


# ----------------------------------------------------------------------- exact values
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(make_credit_ctx, seed):
    ctx = make_credit_ctx(seed, n_holdout=1000, n_boot=50)
    y, yhat, proba = credit_truth(seed, 1000)
    expected = {
        "performance.accuracy": skm.accuracy_score(y, yhat),
        "performance.balanced_accuracy": skm.balanced_accuracy_score(y, yhat),
        "performance.precision": skm.precision_score(y, yhat),
        "performance.recall": skm.recall_score(y, yhat),
        "performance.f1": skm.f1_score(y, yhat),
        "performance.log_loss": skm.log_loss(y, proba),
        "performance.brier_score": skm.brier_score_loss(y, proba[:, 1]),
    }
    for cid, want in expected.items():
        assert run(ctx, cid).value == pytest.approx(want, rel=1e-12, abs=1e-12), cid
    # ROC AUC: scikit-learn's number and the Mann-Whitney U / (n1 n0) of scipy, within the stated
    # bound: half the share of positive-negative pairs that share one of the 2**16 score bins.
    m = run(ctx, "performance.roc_auc")
    auc, bound = m.value, m.details["tied_pair_share"] / 2 + 1e-12
    assert 0 < bound < 1e-4
    assert abs(auc - skm.roc_auc_score(y, proba[:, 1])) <= bound
    u = mannwhitneyu(proba[y == 1, 1], proba[y == 0, 1]).statistic
    assert abs(auc - u / ((y == 1).sum() * (y == 0).sum())) <= bound
    for kind, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        got = run(ctx, f"performance.{kind}", average="macro").value
        assert got == pytest.approx(fn(y, yhat, average="macro"), rel=1e-12)


def test_other_positive_label_follows_the_policy(make_credit_ctx):
    ctx = make_credit_ctx(0, n_holdout=1000, n_boot=50, pos_label=0)
    y, yhat, proba = credit_truth(0, 1000)
    assert run(ctx, "performance.precision").value == pytest.approx(skm.precision_score(y, yhat, pos_label=0))
    assert run(ctx, "performance.recall").value == pytest.approx(skm.recall_score(y, yhat, pos_label=0))
    m = run(ctx, "performance.roc_auc")
    assert abs(m.value - skm.roc_auc_score(y == 0, proba[:, 0])) <= m.details["tied_pair_share"] / 2 + 1e-12
    assert run(ctx, "performance.brier_score").value == pytest.approx(
        skm.brier_score_loss(y, proba[:, 0], pos_label=0), rel=1e-12)


def test_multiclass_metrics_equal_sklearn(multiclass_ctx):
    X, y, _, model = multiclass_split(0)
    yhat, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "performance.accuracy": skm.accuracy_score(y, yhat),
        "performance.balanced_accuracy": skm.balanced_accuracy_score(y, yhat),
        "performance.precision": skm.precision_score(y, yhat, average="macro"),
        "performance.recall": skm.recall_score(y, yhat, average="macro"),
        "performance.f1": skm.f1_score(y, yhat, average="macro"),
        "performance.log_loss": skm.log_loss(y, proba, labels=model.classes_),
        "performance.brier_score": skm.brier_score_loss(y, proba, labels=model.classes_),
    }
    for cid, want in expected.items():
        m = run(multiclass_ctx, cid)
        assert m.value == pytest.approx(want, rel=1e-12), cid
        assert m.interval.low <= m.value <= m.interval.high, cid
    table = run(multiclass_ctx, "performance.accuracy").details["tables"][0]
    assert np.array(table["rows"])[:, 1:].astype(int).tolist() == skm.confusion_matrix(y, yhat).tolist()
    ece = run(multiclass_ctx, "performance.expected_calibration_error").value
    assert ece == pytest.approx(ece_numpy(proba.max(1), proba.argmax(1) == y, 10), rel=1e-9)
    with pytest.raises(CheckError, match="two classes"):
        run(multiclass_ctx, "performance.precision", average="binary")
    with pytest.raises(CheckSkipped, match="binary"):
        run(multiclass_ctx, "performance.roc_auc")


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_equal_sklearn(make_regression_ctx, seed):
    ctx = make_regression_ctx(seed, n_boot=200)
    y, pred = ctx.dataset.y, ctx.model.estimator.predict(ctx.dataset.X)
    for cid, want in (("performance.mae", skm.mean_absolute_error(y, pred)),
                      ("performance.rmse", skm.root_mean_squared_error(y, pred)),
                      ("performance.r2", skm.r2_score(y, pred))):
        m = run(ctx, cid)
        assert m.value == pytest.approx(want, rel=1e-10), cid
        assert m.interval.low < m.value < m.interval.high, cid
        assert m.interval.method == "bootstrap-binned"
        assert m.n == len(y)


@pytest.mark.parametrize("n_bins", [10, 15])
def test_ece_equals_direct_numpy(credit_ctx, n_bins):
    y, _, proba = credit_truth(0, 2000)
    m = run(credit_ctx, "performance.expected_calibration_error", n_bins=n_bins)
    assert m.value == pytest.approx(ece_numpy(proba[:, 1], y == 1, n_bins), rel=1e-9)
    table = m.details["tables"][0]
    assert len(table["rows"]) == n_bins and sum(r[1] for r in table["rows"]) == 2000
    chart = m.details["charts"][0]
    assert chart["kind"] == "curve" and len(chart["x"]) == len(chart["series"][0]["y"])
    assert chart["series"][1]["y"] == chart["x"]  # the diagonal


def test_checks_use_the_named_evaluation_set(credit_ctx):
    # Any evaluation set works: here a hand-made subset injected into the context's cache.
    base = credit_ctx.evalset("base")
    keep = np.arange(0, base.n_rows, 3)
    credit_ctx._sets["thirds"] = EvaluationSet(
        name="thirds", kind="test.subset", X=base.X.iloc[keep], y=base.y[keep],
        sensitive=base.sensitive.iloc[keep], source_index=keep)
    y, yhat, proba = credit_truth(0, 2000)
    m = run(credit_ctx, "performance.accuracy", evalset="thirds")
    assert m.n == len(keep)
    assert m.value == pytest.approx(skm.accuracy_score(y[keep], yhat[keep]))
    auc = run(credit_ctx, "performance.roc_auc", evalset="thirds")
    assert abs(auc.value - skm.roc_auc_score(y[keep], proba[keep, 1])) <= auc.details["tied_pair_share"] / 2 + 1e-12


# -------------------------------------------------------------------------- intervals
def test_intervals_are_seeded_and_reproducible(make_credit_ctx):
    for cid in ["performance.accuracy", "performance.roc_auc", "performance.log_loss",
                "performance.expected_calibration_error"]:
        a = run(make_credit_ctx(0, n_holdout=1000, n_boot=300), cid)
        b = run(make_credit_ctx(0, n_holdout=1000, n_boot=300), cid)
        assert a.model_dump_json() == b.model_dump_json(), cid
        other_index = run(make_credit_ctx(0, n_holdout=1000, n_boot=300), cid, index=1)
        assert other_index.value == a.value
        assert (other_index.interval.low, other_index.interval.high) != (a.interval.low, a.interval.high)
    for cid in ["performance.mae", "performance.r2"]:
        a, b = run(build_regression_ctx(0, n_boot=300), cid), run(build_regression_ctx(0, n_boot=300), cid)
        assert a.model_dump_json() == b.model_dump_json()
        assert run(build_regression_ctx(0, n_boot=300), cid, index=3).interval.low != a.interval.low
    # Another audit seed: another stream (same data and model).
    a = run(make_credit_ctx(0, n_holdout=1000), "performance.accuracy")
    c = run(make_credit_ctx(0, n_holdout=1000, audit_seed=5), "performance.accuracy")
    assert c.value == a.value and c.interval.low != a.interval.low


def test_count_bootstrap_agrees_with_row_bootstrap(credit_ctx):
    """Resample rows with numpy, recompute with scikit-learn; compare with the checks' intervals."""
    y, yhat, proba = credit_truth(0, 2000)
    idx = np.random.default_rng(123).integers(0, len(y), size=(300, len(y)))
    rows = {
        "performance.accuracy": (yhat[idx] == y[idx]).mean(axis=1),
        "performance.f1": np.array([skm.f1_score(y[i], yhat[i]) for i in idx]),
        "performance.balanced_accuracy": np.array([skm.balanced_accuracy_score(y[i], yhat[i]) for i in idx]),
        "performance.roc_auc": np.array([skm.roc_auc_score(y[i], proba[i, 1]) for i in idx]),
        "performance.log_loss": np.array([skm.log_loss(y[i], proba[i]) for i in idx]),
        "performance.brier_score": ((y[idx] - proba[idx, 1]) ** 2).mean(axis=1),
        "performance.expected_calibration_error": np.array([ece_numpy(proba[i, 1], y[i] == 1, 10)
                                                            for i in idx]),
    }
    for cid, reps in rows.items():
        m = run(credit_ctx, cid)
        lo, hi = np.quantile(reps, [0.025, 0.975])
        assert abs(m.interval.low - lo) < 0.02 and abs(m.interval.high - hi) < 0.02, cid
        # Replicate SD from the interval width (normal approximation) within 15%.
        assert (m.interval.high - m.interval.low) == pytest.approx(hi - lo, rel=0.15), cid


def test_regression_bootstrap_agrees_with_row_bootstrap(regression_ctx):
    y = regression_ctx.dataset.y
    pred = regression_ctx.model.estimator.predict(regression_ctx.dataset.X)
    idx = np.random.default_rng(7).integers(0, len(y), size=(400, len(y)))
    e = (pred - y)[idx]
    yy = y[idx]
    rows = {"performance.mae": np.abs(e).mean(1), "performance.rmse": np.sqrt((e ** 2).mean(1)),
            "performance.r2": 1 - (e ** 2).sum(1) / ((yy - yy.mean(1, keepdims=True)) ** 2).sum(1)}
    for cid, reps in rows.items():
        m = run(regression_ctx, cid)
        lo, hi = np.quantile(reps, [0.025, 0.975])
        width = hi - lo
        assert abs(m.interval.low - lo) < 0.15 * width and abs(m.interval.high - hi) < 0.15 * width, cid
        assert (m.interval.high - m.interval.low) == pytest.approx(width, rel=0.15), cid


# --------------------------------------------------------------------- predictions-only
def test_predictions_only_gives_the_same_numbers(make_credit_ctx):
    live = make_credit_ctx(0, n_holdout=1000, n_boot=200)
    stored = make_credit_ctx(0, n_holdout=1000, n_boot=200, predictions_only=True)
    assert stored.model is None
    for cid in CLASSIFICATION:
        a, b = run(live, cid), run(stored, cid)
        assert b.value == pytest.approx(a.value, rel=1e-12), cid
        assert b.interval.low == pytest.approx(a.interval.low, rel=1e-9), cid
        assert b.interval.high == pytest.approx(a.interval.high, rel=1e-9), cid


def test_predictions_only_without_score_skips_score_metrics(make_credit_ctx):
    ctx = make_credit_ctx(0, n_holdout=500, n_boot=50, predictions_only=True, with_score=False)
    for cid in SCORE_CHECKS:
        assert "scores" in get_check(cid).needs
        with pytest.raises(CheckSkipped, match="needs scores"):
            run(ctx, cid)
    for cid in CONFUSION:
        assert run(ctx, cid).value is not None


def test_regression_predictions_only(make_regression_ctx):
    live, stored = make_regression_ctx(0, n_boot=100), make_regression_ctx(0, n_boot=100, predictions_only=True)
    for cid in ["performance.mae", "performance.rmse", "performance.r2"]:
        assert run(stored, cid).model_dump_json() == run(live, cid).model_dump_json()


def test_undefined_precision_is_inconclusive_not_zero(make_credit_ctx):
    ctx = make_credit_ctx(0, n_holdout=500, n_boot=50, predictions_only=True, with_score=False)
    ctx.dataset.prediction = np.zeros(500, dtype=int)  # nobody predicted positive
    m = run(ctx, "performance.precision")
    assert m.value is None and m.inconclusive and "undefined" in m.message
    assert run(ctx, "performance.recall").value == 0.0


# -------------------------------------------------------------------- declarations, JSON
def test_registry_declarations():
    expected_hib = {"accuracy": True, "balanced_accuracy": True, "precision": True, "recall": True,
                    "f1": True, "roc_auc": True, "log_loss": False, "brier_score": False,
                    "expected_calibration_error": False, "mae": False, "rmse": False, "r2": True}
    assert sorted(PERF) == sorted(f"performance.{k}" for k in expected_hib)
    for name, hib in expected_hib.items():
        spec = get_check(f"performance.{name}")
        assert spec.higher_is_better is hib, name
        assert "model" not in spec.needs and "labels" in spec.needs
        assert ("scores" in spec.needs) == (spec.id in SCORE_CHECKS)
        assert spec.tasks == ({"regression"} if name in ("mae", "rmse", "r2") else {"classification"})
        assert spec.description


@pytest.mark.parametrize("check_id", PERF)
def test_params_forbid_extra_keys(check_id):
    with pytest.raises(ValidationError):
        get_check(check_id).params.model_validate({"n_bootstrap": 10})


def test_param_values_are_validated():
    with pytest.raises(ValidationError):
        get_check("performance.expected_calibration_error").params.model_validate({"n_bins": 1})
    with pytest.raises(ValidationError):
        get_check("performance.f1").params.model_validate({"average": "weighted"})


def test_results_are_json_serialisable(credit_ctx, regression_ctx):
    for cid in PERF:
        ctx = regression_ctx if "regression" in get_check(cid).tasks else credit_ctx
        m = run(ctx, cid)
        back = json.loads(m.model_dump_json())
        json.dumps(back["details"], allow_nan=False)
        assert back["value"] == m.value and back["n"] == 2000
        assert m.interval.level == 0.95 and m.interval.method.startswith("bootstrap")
        assert m.message.endswith("on 2,000 rows") or "on 2,000 rows (" in m.message


def test_message_format(credit_ctx):
    m = run(credit_ctx, "performance.accuracy")
    assert m.message == f"accuracy {m.value:.3f} [{m.interval.low:.3f}, {m.interval.high:.3f}] on 2,000 rows"
