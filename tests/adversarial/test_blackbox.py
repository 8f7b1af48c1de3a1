"""Black-box attacks on a tree ensemble: they lower accuracy and stay within their query budget."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from audit.evalsets import EvalSetSpec
from tests.adversarial import CountingModel, numeric_ctx, numeric_data

N = 40


@pytest.fixture(scope="module")
def forest():
    X, y, sens = numeric_data(400, seed=1)
    return RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0).fit(X, y), X, y, sens


@pytest.mark.parametrize("attack,budget", [("random_search", 100), ("hopskipjump", 120)])
def test_blackbox_lowers_accuracy_and_respects_budget(forest, attack, budget):
    rf, X, y, sens = forest
    counted = CountingModel(rf)
    ctx = numeric_ctx(counted, X, y, sens, wide=False, specs={
        "adv": (f"adversarial.{attack}", 1.0, {"sample_size": N, "max_queries": budget, "hsj_max_iter": 3})})
    es = ctx.evalset("adv")
    out = es.meta["outcome"]
    rows_during_build = counted.rows
    adv = ctx.predictions("adv").labels
    clean = rf.predict(X.iloc[es.source_index])
    acc_clean, acc_adv = np.mean(clean == es.y), np.mean(adv == es.y)
    assert acc_adv < acc_clean - 0.1
    # Every attacked row stayed within its budget ...
    assert out.queries.max() <= budget
    assert es.meta["report"]["max_queries_per_row"] <= budget
    # ... and the model saw exactly: clean predictions + the attack's queries + the raw and projected results.
    assert rows_during_build == N + int(out.queries.sum()) + 2 * N


def test_blackbox_is_seeded(forest):
    rf, X, y, sens = forest
    spec = {"adv": ("adversarial.hopskipjump", 0.8, {"sample_size": 12, "max_queries": 100, "hsj_max_iter": 2})}
    a = numeric_ctx(rf, X, y, sens, specs=spec, seed=5).evalset("adv").X
    b = numeric_ctx(rf, X, y, sens, specs=spec, seed=5).evalset("adv").X
    assert a.equals(b)
    spec = {"adv": ("adversarial.random_search", 0.8, {"sample_size": 30, "max_queries": 50})}
    a = numeric_ctx(rf, X, y, sens, specs=spec, seed=5).evalset("adv").X
    b = numeric_ctx(rf, X, y, sens, specs=spec, seed=5).evalset("adv").X
    c = numeric_ctx(rf, X, y, sens, specs=spec, seed=6).evalset("adv").X
    assert a.equals(b) and not a.equals(c)


def test_hopskipjump_minimal_run_is_shared_across_epsilons(forest, monkeypatch):
    import audit.adversarial._engine as engine_mod

    rf, X, y, sens = forest
    calls = []
    real = engine_mod.hopskipjump
    monkeypatch.setattr(engine_mod, "hopskipjump", lambda *a, **k: calls.append(1) or real(*a, **k))
    ctx = numeric_ctx(rf, X, y, sens)
    params = {"sample_size": 10, "max_queries": 80, "hsj_max_iter": 2}
    for eps in (0.2, 0.5, 1.0):
        ctx.evalset_specs[f"h{eps}"] = EvalSetSpec(name=f"h{eps}", kind="adversarial.hopskipjump", severity=eps,
                                                   params=params)
    flips = [ctx.evalset(f"h{e}").meta["report"]["flipped"] for e in (0.2, 0.5, 1.0)]
    assert len(calls) == 1
    assert flips == sorted(flips)  # a larger ball keeps every example a smaller one found
