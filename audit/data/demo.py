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

__all__ = ["make_credit_data", "train_demo_model", "write_demo", "skops_bytes", "parquet_bytes", "write_files"]

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


def skops_bytes(model) -> bytes:
    """``skops.io.dumps(model)`` made reproducible: the same model gives the same bytes.

    skops names each array file and memo entry after the Python object's ``id()`` and
    stamps every zip entry with the current time, so two dumps of one model differ. Here
    the ids are renumbered 1, 2, ... in document order (the ``__id__`` fields and the
    ``<id>.npy`` names that refer to them), and the entries get a fixed time and mode.
    The archive loads exactly as skops wrote it (the same memo structure, the same arrays).
    """
    import io
    import json
    import zipfile

    from audit.models._skops_import import import_skops_io

    sio = import_skops_io()

    raw = sio.dumps(model)
    with zipfile.ZipFile(io.BytesIO(raw)) as zin:
        infos = zin.infolist()
        schema = json.loads(zin.read("schema.json"))
        names = {i.filename for i in infos}
        ids: dict[int, int] = {}

        def new_id(old: int) -> int:
            return ids.setdefault(old, len(ids) + 1)  # from 1: skops ignores a falsy __id__

        renamed: dict[str, str] = {}

        def walk(node) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("__id__"), int):
                    node["__id__"] = new_id(node["__id__"])
                f = node.get("file")
                if "__loader__" in node and isinstance(f, str) and f in names:
                    stem, dot, ext = f.partition(".")
                    renamed.setdefault(f, f"{new_id(int(stem))}.{ext}" if stem.isdigit() and dot
                                       else f"{len(renamed) + 1}-{f}")
                    node["file"] = renamed[f]
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zout:
            for info in infos:
                name = "schema.json" if info.filename == "schema.json" else renamed.get(info.filename, info.filename)
                data = (json.dumps(schema, indent=2).encode("utf-8") if info.filename == "schema.json"
                        else zin.read(info))
                fixed = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type = info.compress_type
                fixed.external_attr = 0o644 << 16
                zout.writestr(fixed, data)
    return out.getvalue()


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """A table as Parquet bytes (pyarrow writes no timestamps: the same table, the same bytes)."""
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def write_files(folder: str | Path, contents: dict[str, bytes], what: str) -> dict[str, Path]:
    """Write ``contents`` (file name -> bytes) into ``folder``, never replacing a different file.

    A file already there with the same bytes is kept as it is (the same seed makes the same
    files); a file with other bytes is an earlier run's input, which an earlier report's
    hashes refer to: :class:`~audit.errors.InputError`, nothing written. New files are written
    under a temporary name and renamed into place.

    Returns
    -------
    dict
        File name -> path.
    """
    import hashlib
    import os

    from audit.errors import InputError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; expected a work folder for {what}")
    for name, data in contents.items():
        p = folder / name
        if p.exists() and (not p.is_file() or p.read_bytes() != data):
            have = hashlib.sha256(p.read_bytes()).hexdigest()[:12] if p.is_file() else "a folder"
            raise InputError(
                f"{p}: holds other content (SHA-256 {have}...) than {what} makes; it may be the input of "
                f"an earlier report, so it is not overwritten. Choose another --work folder, or remove "
                f"{folder} to start over")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in contents.items():
        p = paths[name] = folder / name
        if p.exists():
            continue
        tmp = folder / f".{name}.tmp-{os.getpid()}"
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    return paths


def write_demo(folder: str | Path, seed: int = 0, n_train: int = 6000, n_test: int = 4000) -> dict[str, Path]:
    """Make the demo data and model and write them into ``folder``.

    Writes ``train.parquet`` (the reference data), ``holdout.parquet`` and
    ``model.skops``, byte for byte the same for the same arguments (see
    :func:`skops_bytes`). Files already there with the same bytes are kept; different
    ones are never overwritten (:func:`write_files` raises InputError). Returns their paths.
    """
    data = make_credit_data(n_train + n_test, seed=seed)
    train, holdout = data.iloc[:n_train].reset_index(drop=True), data.iloc[n_train:].reset_index(drop=True)
    model = train_demo_model(train, seed=seed)
    files = write_files(folder, {"train.parquet": parquet_bytes(train), "holdout.parquet": parquet_bytes(holdout),
                                 "model.skops": skops_bytes(model)},
                        f"the demo (seed {seed}, {n_train} + {n_test} rows)")
    return {"train": files["train.parquet"], "holdout": files["holdout.parquet"], "model": files["model.skops"]}
