"""The bundled demo: a seeded synthetic credit-scoring dataset and model.

The data has numeric, integer and categorical features, a binary target
``repaid`` (1 = the loan was repaid, the favourable outcome) and two sensitive
attributes, ``sex`` and ``age_band``. A deliberate disparity is built in: the
historical labels of group ``sex=F`` carry a penalty, and the model learns it
through ``sex`` (a feature here, as in many deployed models) and through
proxies, so the demo's fairness checks have something to find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["make_credit_data", "train_demo_model", "write_demo"]

FEATURES = [
    "age", "income", "debt_ratio", "credit_history_months", "open_accounts",
    "loan_amount", "employment", "housing", "purpose", "sex",
]
SENSITIVE = ["sex", "age_band"]
TARGET = "repaid"


def make_credit_data(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Seeded synthetic credit applications with a group disparity.

    Parameters
    ----------
    n : int
        Rows.
    seed : int
        Same seed, same table.

    Returns
    -------
    DataFrame with the columns of :data:`FEATURES`, ``age_band`` and ``repaid``.
    """
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], size=n, p=[0.42, 0.58])
    age = np.clip(rng.gamma(2.5, 8.0, size=n) + 18, 18, 90).astype(np.int64)
    age_band = np.select([age < 25, age < 45], ["<25", "25-44"], "45+")
    employment = rng.choice(["employed", "self-employed", "unemployed", "retired"], size=n,
                            p=[0.62, 0.18, 0.1, 0.1])
    housing = rng.choice(["own", "mortgage", "rent"], size=n, p=[0.3, 0.35, 0.35])
    purpose = rng.choice(["car", "home", "education", "business", "other"], size=n)
    # Income is lower for F on average: a proxy through which the disparity also flows.
    log_income = rng.normal(10.6, 0.45, size=n) - 0.18 * (sex == "F") + 0.004 * (age - 40)
    income = np.round(np.exp(log_income), 2)
    debt_ratio = np.clip(rng.beta(2.0, 5.0, size=n) + 0.05 * (housing == "rent"), 0, 1).round(4)
    history = np.clip((age - 18) * 12 * rng.uniform(0.3, 1.0, size=n), 0, None).astype(np.int64)
    open_accounts = rng.poisson(3.0, size=n).astype(np.int64)
    loan_amount = np.round(np.exp(rng.normal(9.3, 0.6, size=n)), 2)
    z = (
        1.2
        + 1.1 * (log_income - 10.6) / 0.45
        - 2.4 * (debt_ratio - 0.3)
        + 0.004 * history
        - 0.35 * (loan_amount / income) * 4
        - 0.9 * (employment == "unemployed")
        + 0.2 * (housing == "own")
        - 0.08 * open_accounts
        # The historical penalty on group F: the injected disparity.
        - 0.9 * (sex == "F")
    )
    p = 1.0 / (1.0 + np.exp(-z))
    repaid = (rng.uniform(size=n) < p).astype(np.int64)
    return pd.DataFrame({
        "age": age, "income": income, "debt_ratio": debt_ratio,
        "credit_history_months": history, "open_accounts": open_accounts,
        "loan_amount": loan_amount, "employment": employment, "housing": housing,
        "purpose": purpose, "sex": sex, "age_band": age_band, TARGET: repaid,
    })


def train_demo_model(train: pd.DataFrame, seed: int = 0):
    """A scikit-learn pipeline (scaling + one-hot + logistic regression) fitted on ``train``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = ["age", "income", "debt_ratio", "credit_history_months", "open_accounts", "loan_amount"]
    cat = ["employment", "housing", "purpose", "sex"]
    pre = ColumnTransformer([
        ("num", StandardScaler(), num),
        ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
    ])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000, random_state=seed))])
    model.fit(train[FEATURES], train[TARGET])
    return model


def write_demo(folder: str | Path, seed: int = 0, n_train: int = 6000, n_test: int = 4000) -> dict[str, Path]:
    """Make the demo data and model and write them into ``folder``.

    Writes ``train.parquet`` (the reference data), ``holdout.parquet`` and
    ``model.skops``. Returns their paths.
    """
    from audit.models._skops_import import import_skops_io

    sio = import_skops_io()

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = make_credit_data(n_train + n_test, seed=seed)
    train, holdout = data.iloc[:n_train].reset_index(drop=True), data.iloc[n_train:].reset_index(drop=True)
    model = train_demo_model(train, seed=seed)
    paths = {"train": folder / "train.parquet", "holdout": folder / "holdout.parquet",
             "model": folder / "model.skops"}
    train.to_parquet(paths["train"], index=False)
    holdout.to_parquet(paths["holdout"], index=False)
    sio.dump(model, paths["model"])
    return paths
