"""Adversarial checks against closed forms on a linear model, plus caching, seeding and skips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from audit.checks import all_checks, get_check
from audit.constraints import FeatureConstraint
from audit.errors import CheckSkipped
from tests.adversarial import numeric_ctx, numeric_data
from tests.conftest import build_credit_ctx

ADV = sorted(k for k in all_checks() if k.startswith("adversarial."))
EPS = 0.3
SPEC = {"adv": ("adversarial.pgd", EPS, {"eps_units": "absolute", "sample_size": 300})}


def run(ctx, check_id, evalset="adv", **params):
    spec = get_check(check_id)
    return spec.func(ctx.for_check(check_id, evalset, 0), spec.params.model_validate(params))


def wilson(k, n, level=0.95):
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


@pytest.fixture(scope="module")
def linear():
    X, y, sens = numeric_data(300, seed=4)
    model = LogisticRegression().fit(X, y)
    w = model.coef_[0]
    margin = model.decision_function(X)
    correct = model.predict(X) == y
    min_eps = np.abs(margin) / np.abs(w).sum()  # smallest L-inf change that flips each row
    return model, X, y, sens, correct, min_eps


def fresh(linear, **kw):
    model, X, y, sens, *_ = linear
    return numeric_ctx(model, X, y, sens, specs=SPEC, **kw)


def test_registered_with_needs_and_directions():
    assert ADV == ["adversarial.attack_success_rate", "adversarial.empirical_robustness",
                   "adversarial.group_robustness_gap", "adversarial.robust_accuracy"]
    for cid in ADV:
        spec = get_check(cid)
        assert spec.needs == {"model", "labels"} and spec.tasks == {"classification"}
        assert spec.default_evalset.startswith("adversarial")
    assert get_check("adversarial.robust_accuracy").higher_is_better is True
    assert get_check("adversarial.attack_success_rate").higher_is_better is False


def test_robust_accuracy_and_wilson_interval_match_closed_form(linear):
    _, X, y, sens, correct, min_eps = linear
    m = run(fresh(linear), "adversarial.robust_accuracy")
    k_true = int(np.sum(correct & (min_eps > EPS)))
    assert m.n == 300
    assert abs(m.value * 300 - k_true) <= 1
    lo, hi = wilson(round(m.value * 300), 300)
    assert m.interval.low == pytest.approx(lo) and m.interval.high == pytest.approx(hi)
    for g in m.groups:
        sel = sens["grp"].to_numpy() == g.group.split("=")[1]
        assert abs(g.value * g.n - np.sum((correct & (min_eps > EPS))[sel])) <= 1
    json.dumps(m.model_dump(mode="json"), allow_nan=False)


def test_success_rate_matches_closed_form(linear):
    *_, correct, min_eps = linear
    m = run(fresh(linear), "adversarial.attack_success_rate")
    assert m.n == int(correct.sum())
    assert abs(m.value * m.n - np.sum(correct & (min_eps <= EPS))) <= 1


def test_curve_follows_closed_form_at_every_epsilon(linear):
    *_, correct, min_eps = linear
    epss = [0.0, 0.1, 0.2, 0.5]
    m = run(fresh(linear), "adversarial.robust_accuracy", epsilons=epss)
    chart = m.details["charts"][0]
    assert chart["kind"] == "curve" and chart["x"] == sorted(set(epss) | {EPS})
    overall = chart["series"][0]
    for e, v in zip(chart["x"], overall["y"], strict=True):
        assert abs(v * 300 - np.sum(correct & (min_eps > e))) <= 1
    assert {s["name"] for s in chart["series"]} == {"all rows", "grp=a", "grp=b"}
    assert overall["y"] == sorted(overall["y"], reverse=True)
    attacks = next(t for t in m.details["tables"] if t["title"] == "Attacks used")
    assert len(attacks["rows"]) == 5 and {r[1] for r in attacks["rows"]} == {"pgd"}


def test_empirical_robustness_median_matches_closed_form(linear):
    *_, correct, min_eps = linear
    max_eps, steps = 2.0, 8
    m = run(fresh(linear), "adversarial.empirical_robustness", max_eps=max_eps, steps=steps)
    true = np.where(min_eps[correct] <= max_eps, min_eps[correct], np.inf)
    assert m.n == int(correct.sum())
    assert abs(m.value - np.median(true)) <= max_eps / 2**steps + 1e-6
    assert m.interval.low <= m.value <= m.interval.high


def test_group_gap_matches_per_group_closed_form(linear):
    _, X, y, sens, correct, min_eps = linear
    m = run(fresh(linear, n_boot=200), "adversarial.group_robustness_gap")
    rob = correct & (min_eps > EPS)
    g = sens["grp"].to_numpy()
    gap = abs(rob[g == "a"].mean() - rob[g == "b"].mean())
    assert m.value == pytest.approx(gap, abs=1.5 / min(np.sum(g == "a"), np.sum(g == "b")))
    assert m.interval.low <= m.value <= m.interval.high
    assert m.inconclusive is None


def test_checks_share_one_attack_run(linear, monkeypatch):
    import audit.adversarial._engine as eng

    calls = []
    real = eng.gradient_attack
    monkeypatch.setattr(eng, "gradient_attack", lambda *a, **k: calls.append(1) or real(*a, **k))
    ctx = fresh(linear)
    for cid in ("adversarial.robust_accuracy", "adversarial.attack_success_rate",
                "adversarial.group_robustness_gap"):
        run(ctx, cid)
    assert len(calls) == 1


def test_same_seed_same_numbers(linear):
    def numbers(seed):
        ctx = fresh(linear, seed=seed, n_boot=100)
        out = []
        for cid in ADV:
            d = run(ctx, cid).model_dump(mode="json")
            d["details"].pop("timings", None)  # attack wall times: outside the reproducibility promise
            out.append(d)
        return json.dumps(out, sort_keys=True)

    assert numbers(1) == numbers(1)


def test_demo_examples_list_exactly_the_changed_cells():
    ctx = build_credit_ctx(0, n_holdout=800, with_reference=True)
    ctx.constraints = {"sex": FeatureConstraint(immutable=True),
                       "age": FeatureConstraint(immutable=True, integer=True, min=18, max=100)}
    m = run(ctx, "adversarial.robust_accuracy", evalset="adversarial@0.3", examples=2)
    es = ctx.evalset("adversarial@0.3")
    table = next(t for t in m.details["tables"] if t["title"].startswith("Example"))
    X0 = ctx.dataset.X.iloc[es.source_index].reset_index(drop=True)
    for ex in {r[0] for r in table["rows"]}:
        src = next(r[1] for r in table["rows"] if r[0] == ex)
        i = int(np.flatnonzero(es.source_index == src)[0])
        changed = {c for c in X0.columns if X0[c].iloc[i] != es.X[c].iloc[i]}
        assert changed == {r[3] for r in table["rows"] if r[0] == ex}
        assert not changed & {"sex", "age"}
    # 200 rows of the demo: the smallest age band is below 30 rows -> the gap check is inconclusive.
    gap = run(ctx, "adversarial.group_robustness_gap", evalset="adversarial@0.3")
    assert gap.inconclusive and "age_band" in gap.inconclusive


def test_predictions_only_audit_skips():
    ctx = build_credit_ctx(0, n_holdout=300, predictions_only=True)
    with pytest.raises(CheckSkipped):
        run(ctx, "adversarial.robust_accuracy", evalset="adversarial@0.1")


def test_non_adversarial_evalset_skips(linear):
    with pytest.raises(CheckSkipped, match="not an adversarial set"):
        run(fresh(linear), "adversarial.robust_accuracy", evalset="base")
