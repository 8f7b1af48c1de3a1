"""Shared fixtures: small seeded audit contexts any test file can use.

- ``credit_ctx``: binary classification, the demo credit data and model, 2,000
  holdout rows, seed 0 (live model).
- ``regression_ctx``: regression on the same demo table (target
  ``credit_history_months``), 2,000 holdout rows, seed 0.
- ``multiclass_ctx``: three classes from ``make_classification``, 1,500 rows.
- ``make_credit_ctx(...)``: a factory for variants (other seeds or sizes,
  predictions-only with or without a score column, other settings).

Trained models are cached per (seed, size) for the whole session; contexts
are built fresh per test (their caches are cheap to refill).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The package is not installed in the venv: make the repository importable.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from audit.context import AuditContext, AuditSettings  # noqa: E402
from audit.data.dataset import Dataset  # noqa: E402
from audit.data.demo import FEATURES, SENSITIVE, TARGET, make_credit_data, train_demo_model  # noqa: E402
from audit.models.adapter import ModelAdapter  # noqa: E402

pytest_plugins = ["tests._fixtures"]

N_TRAIN = 3000
N_HOLDOUT = 2000


@lru_cache(maxsize=16)
def credit_split(seed: int = 0, n_holdout: int = N_HOLDOUT, n_train: int = N_TRAIN):
    """(train, holdout, fitted model) of the demo credit data, cached per arguments."""
    data = make_credit_data(n_train + n_holdout, seed=seed)
    train = data.iloc[:n_train].reset_index(drop=True)
    holdout = data.iloc[n_train:].reset_index(drop=True)
    return train, holdout, train_demo_model(train, seed=seed)


def build_credit_ctx(seed: int = 0, n_holdout: int = N_HOLDOUT, *, predictions_only: bool = False,
                     with_score: bool = True, with_reference: bool = False, audit_seed: int | None = None,
                     **settings) -> AuditContext:
    """A binary-classification AuditContext on the demo credit data.

    Parameters
    ----------
    seed : int
        Seed of the data, the model and the audit.
    n_holdout : int
        Holdout rows.
    predictions_only : bool
        Store the model's decisions (and scores) in the Dataset and pass ``model=None``.
    with_score : bool
        In a predictions-only context, whether a positive-class score column exists.
    with_reference : bool
        Attach the training table as reference data.
    audit_seed : int, optional
        Seed of the audit (bootstrap streams) when it should differ from ``seed``.
    **settings
        Overrides of :class:`AuditSettings` (n_boot, confidence, min_group_size, ...).
    """
    train, holdout, model = credit_split(seed, n_holdout)
    X = holdout[FEATURES]
    prediction = score = None
    if predictions_only:
        prediction = model.predict(X)
        score = model.predict_proba(X)[:, 1] if with_score else None
    reference = None
    if with_reference:
        reference = Dataset(X=train[FEATURES], y=train[TARGET].to_numpy(), sensitive=train[SENSITIVE],
                            source="demo:train", target=TARGET)
    ds = Dataset(X=X, y=holdout[TARGET].to_numpy(), sensitive=holdout[SENSITIVE], prediction=prediction,
                 score=score, reference=reference, source="demo:holdout", target=TARGET)
    adapter = None if predictions_only else ModelAdapter(model, kind="sklearn", source="demo")
    s = AuditSettings(**{"seed": seed if audit_seed is None else audit_seed, "task": "classification",
                         **settings})
    return AuditContext(settings=s, dataset=ds, model=adapter)


REG_TARGET = "credit_history_months"
REG_FEATURES = ["age", "income", "debt_ratio", "open_accounts", "loan_amount", "employment",
                "housing", "purpose", "sex"]


@lru_cache(maxsize=4)
def regression_split(seed: int = 0, n_holdout: int = N_HOLDOUT, n_train: int = N_TRAIN):
    """(holdout, fitted ridge pipeline) predicting ``credit_history_months``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = make_credit_data(n_train + n_holdout, seed=seed)
    train, holdout = data.iloc[:n_train], data.iloc[n_train:].reset_index(drop=True)
    num = ["age", "income", "debt_ratio", "open_accounts", "loan_amount"]
    pre = ColumnTransformer([("num", StandardScaler(), num),
                             ("cat", OneHotEncoder(handle_unknown="ignore"),
                              ["employment", "housing", "purpose", "sex"])])
    model = Pipeline([("pre", pre), ("reg", Ridge(alpha=1.0))])
    model.fit(train[REG_FEATURES], train[REG_TARGET].astype(float))
    return holdout, model


def build_regression_ctx(seed: int = 0, n_holdout: int = N_HOLDOUT, *, predictions_only: bool = False,
                         **settings) -> AuditContext:
    """A regression AuditContext (live model, or predictions-only)."""
    holdout, model = regression_split(seed, n_holdout)
    X = holdout[REG_FEATURES]
    ds = Dataset(X=X, y=holdout[REG_TARGET].to_numpy(dtype=float), sensitive=holdout[SENSITIVE],
                 prediction=model.predict(X) if predictions_only else None,
                 source="demo:holdout", target=REG_TARGET)
    adapter = None if predictions_only else ModelAdapter(model, kind="sklearn", source="demo-regression")
    s = AuditSettings(**{"seed": seed, "task": "regression", **settings})
    return AuditContext(settings=s, dataset=ds, model=adapter)


@lru_cache(maxsize=2)
def multiclass_split(seed: int = 0, n: int = 1500):
    """(X DataFrame, y, sensitive DataFrame, fitted LogisticRegression) with 3 classes."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    Xa, y = make_classification(n_samples=2 * n, n_features=6, n_informative=4, n_classes=3,
                                random_state=seed)
    X = pd.DataFrame(Xa, columns=[f"x{i}" for i in range(Xa.shape[1])])
    model = LogisticRegression(max_iter=1000).fit(X.iloc[:n], y[:n])
    rng = np.random.default_rng(seed)
    sens = pd.DataFrame({"group": rng.choice(["a", "b"], size=n)})
    return X.iloc[n:].reset_index(drop=True), y[n:], sens, model


@pytest.fixture
def credit_ctx() -> AuditContext:
    """Binary demo credit audit: 2,000 holdout rows, seed 0, live model."""
    return build_credit_ctx(0)


@pytest.fixture
def regression_ctx() -> AuditContext:
    """Regression audit on the demo table: 2,000 holdout rows, seed 0, live model."""
    return build_regression_ctx(0)


@pytest.fixture
def multiclass_ctx() -> AuditContext:
    """Three-class audit, 1,500 rows, seed 0, live model."""
    X, y, sens, model = multiclass_split(0)
    ds = Dataset(X=X, y=y, sensitive=sens, source="make_classification", target="y")
    return AuditContext(settings=AuditSettings(seed=0, task="classification"), dataset=ds,
                        model=ModelAdapter(model, kind="sklearn", source="multiclass"))


@pytest.fixture
def make_credit_ctx():
    """Factory fixture: ``make_credit_ctx(seed=0, n_holdout=2000, predictions_only=False, ...)``."""
    return build_credit_ctx


@pytest.fixture
def make_regression_ctx():
    """Factory fixture: ``make_regression_ctx(seed=0, n_holdout=2000, predictions_only=False, ...)``."""
    return build_regression_ctx
