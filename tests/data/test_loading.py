"""Data loading: clear errors naming the file and column."""

import numpy as np
import pandas as pd
import pytest

from audit.data.loading import infer_task, load_dataset
from audit.errors import DataError


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=50), "cat": rng.choice(["a", "b"], 50),
                         "sex": rng.choice(["F", "M"], 50), "y": rng.integers(0, 2, 50)})


def _write(df, tmp_path, name="d.csv"):
    p = tmp_path / name
    (df.to_parquet if name.endswith(".parquet") else lambda f: df.to_csv(f, index=False))(p)
    return p


@pytest.mark.parametrize("name", ["d.csv", "d.parquet"])
def test_loads_csv_and_parquet(frame, tmp_path, name):
    ds, task = load_dataset(_write(frame, tmp_path, name), target="y", sensitive=["sex"])
    assert task == "classification"
    assert list(ds.X.columns) == ["x", "cat", "sex"]
    assert ds.feature_types == {"x": "numeric", "cat": "categorical", "sex": "categorical"}
    np.testing.assert_array_equal(ds.y, frame["y"].to_numpy())


def test_sensitive_kept_apart_when_not_features(frame, tmp_path):
    ds, _ = load_dataset(_write(frame, tmp_path), target="y", sensitive=["sex"], sensitive_features=False)
    assert "sex" not in ds.X.columns and list(ds.sensitive.columns) == ["sex"]


@pytest.mark.parametrize("kwargs,words", [
    (dict(target="label"), ["target", "'label'", "not found"]),
    (dict(target="y", sensitive=["race"]), ["sensitive", "'race'"]),
    (dict(target="y", features=["x", "nope"]), ["feature", "'nope'"]),
    (dict(target="y", score="cat"), ["score column 'cat'", "expected numbers"]),
])
def test_missing_or_wrong_columns_named(frame, tmp_path, kwargs, words):
    kwargs.setdefault("sensitive", ["sex"])
    with pytest.raises(DataError) as info:
        load_dataset(_write(frame, tmp_path), **kwargs)
    for w in words:
        assert w in str(info.value)
    assert "d.csv" in str(info.value)


def test_one_class_target(frame, tmp_path):
    frame["y"] = 1
    with pytest.raises(DataError, match="one class"):
        load_dataset(_write(frame, tmp_path), target="y", sensitive=[])


def test_empty_data(frame, tmp_path):
    with pytest.raises(DataError, match="empty"):
        load_dataset(_write(frame.iloc[:0], tmp_path), target="y", sensitive=[])


def test_missing_target_values(frame, tmp_path):
    frame["y"] = frame["y"].astype(float)
    frame.loc[3, "y"] = np.nan
    with pytest.raises(DataError, match="'y' has 1 missing"):
        load_dataset(_write(frame, tmp_path), target="y", sensitive=[])


def test_reference_with_other_types(frame, tmp_path):
    ref = frame.copy()
    ref["x"] = "text"
    with pytest.raises(DataError, match="'x' is categorical there but numeric here"):
        load_dataset(_write(frame, tmp_path), target="y", sensitive=[], reference=_write(ref, tmp_path, "r.csv"))


def test_missing_file_and_format(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "none.csv", target="y", sensitive=[])
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown data format"):
        load_dataset(tmp_path / "d.xlsx", target="y", sensitive=[])


def test_infer_task():
    assert infer_task(pd.Series([0, 1, 1])) == "classification"
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 100))) == "regression"
