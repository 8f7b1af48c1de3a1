"""Shared data for the streamed-audit tests: the demo data written as several Parquet files."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from audit.data.demo import FEATURES, TARGET, make_credit_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def scale_files(tmp_path_factory):
    """4,000 holdout rows in three Parquet files (uneven row groups), a reference and a model."""
    import skops.io as sio

    d = tmp_path_factory.mktemp("scale")
    train = make_credit_data(3000, seed=5)
    holdout = make_credit_data(4000, seed=6)
    # Some missing values, so missing-value and MCAR paths see them.
    holdout.loc[holdout.index % 97 == 0, "income"] = float("nan")
    holdout.loc[holdout.index % 89 == 0, "housing"] = None
    folder = d / "holdout"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 1300), (1300, 2900), (2900, 4000)]):
        pq.write_table(pa.Table.from_pandas(holdout.iloc[a:b], preserve_index=False),
                       folder / f"part-{i}.parquet", row_group_size=350)
    holdout.to_parquet(d / "holdout.parquet", index=False)
    train.to_parquet(d / "train.parquet", index=False)
    sio.dump(imputing_model(train), d / "model.skops")
    return {"dir": d, "folder": folder, "file": d / "holdout.parquet", "train": d / "train.parquet",
            "model": d / "model.skops"}


def imputing_model(train):
    """The demo's logistic pipeline with imputation, so sets with missing values can be predicted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = ["age", "income", "debt_ratio", "credit_history_months", "open_accounts", "loan_amount"]
    cat = ["employment", "housing", "purpose", "sex"]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cat),
    ])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])
    return model.fit(train[FEATURES], train[TARGET])


def write_policy(folder: Path, files: dict, checks: list[dict], **top) -> Path:
    """The demo policy's data section with ``checks``; written beside the data."""
    policy = {"version": 1, "name": "scale-test", "seed": 3,
              "model": {"path": str(files["model"])},
              "data": {"path": str(files["folder"]), "target": "repaid", "sensitive": ["sex", "age_band"],
                       "reference": str(files["train"])},
              "defaults": {"n_boot": 200, "min_group_size": 30},
              "constraints": {"sex": {"immutable": True}, "age": {"immutable": True, "integer": True},
                              "debt_ratio": {"min": 0, "max": 1}},
              **top, "checks": checks}
    path = folder / f"policy-{len(list(folder.glob('policy-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path
