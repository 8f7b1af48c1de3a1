"""Tests of audit.adversarial; small seeded contexts shared with tests/checks/test_adversarial.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.constraints import FeatureConstraint
from audit.context import AuditContext, AuditSettings
from audit.data.dataset import Dataset
from audit.evalsets import EvalSetSpec
from audit.models.adapter import ModelAdapter

FEATS = [f"x{i}" for i in range(5)]


def numeric_data(n: int = 400, seed: int = 0):
    """Seeded standardised features, a noisy linear label and a two-level group."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATS)))
    X = (X - X.mean(0)) / X.std(0)
    w = np.array([1.5, -1.0, 0.7, 0.0, 0.4])
    y = (X @ w + rng.normal(scale=0.8, size=n) > 0).astype(np.int64)
    grp = np.where(rng.uniform(size=n) < 0.45, "a", "b")
    return pd.DataFrame(X, columns=FEATS), y, pd.DataFrame({"grp": grp})


def numeric_ctx(model, X, y, sens, *, seed: int = 0, wide: bool = True, specs: dict | None = None,
                **settings) -> AuditContext:
    """An AuditContext on a numeric table; ``wide`` declares ranges the attack never reaches."""
    cons = {c: FeatureConstraint(min=-100.0, max=100.0) for c in X.columns} if wide else {}
    s = AuditSettings(seed=seed, task="classification", **settings)
    specs = {k: EvalSetSpec(name=k, kind=v[0], severity=v[1], params=v[2]) for k, v in (specs or {}).items()}
    return AuditContext(settings=s, dataset=Dataset(X, y, sens), model=ModelAdapter(model), constraints=cons,
                        evalset_specs=specs)


class CountingModel:
    """Forwards to a fitted classifier and counts the rows it is asked about."""

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_
        self.rows = 0
        self.calls = 0

    def predict_proba(self, X):
        self.rows += len(X)
        self.calls += 1
        return self.model.predict_proba(X)

    def predict(self, X):
        self.rows += len(X)
        self.calls += 1
        return self.model.predict(X)
