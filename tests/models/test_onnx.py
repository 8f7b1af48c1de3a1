"""ONNX models: skl2onnx conversions read back through onnxruntime and compared with scikit-learn.

Every expectation comes from the scikit-learn model the ONNX file was converted from,
from numpy on the graph's own weights, or from hashlib: never from the ONNX adapter itself.
ONNX runs in float32, scikit-learn in float64, so probabilities agree to float32 precision.
"""

from __future__ import annotations

import hashlib
import pickle
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")

from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from audit.data.demo import FEATURES, TARGET, make_credit_data  # noqa: E402
from audit.errors import MissingExtraError, ModelLoadError  # noqa: E402
from audit.models import load_model  # noqa: E402
from audit.models.onnx import OnnxClassifier, OnnxModel  # noqa: E402

NUM = ["age", "income", "debt_ratio", "credit_history_months", "open_accounts", "loan_amount"]
CAT = ["employment", "housing", "purpose", "sex"]
# float32 carries ~7 significant digits; probabilities in [0, 1] agree to well under 1e-6.
PROBA_TOL = 1e-6


def _text(col: pd.Series) -> bool:
    # object (pandas 2) or the string dtype (pandas 3): a text column.
    return col.dtype == object or pd.api.types.is_string_dtype(col)


def _initial_types(X: pd.DataFrame) -> list:
    """One ONNX input per column: text columns as strings, numbers as float."""
    return [(c, StringTensorType([None, 1]) if _text(X[c]) else FloatTensorType([None, 1]))
            for c in X.columns]


@pytest.fixture(scope="module")
def credit():
    data = make_credit_data(2500, seed=3)
    train, test = data.iloc[:1500], data.iloc[1500:].reset_index(drop=True)
    pre = ColumnTransformer([("num", StandardScaler(), NUM),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(train[FEATURES], train[TARGET])
    return model, test[FEATURES]


@pytest.fixture(scope="module")
def onnx_file(credit, tmp_path_factory):
    model, X = credit
    path = tmp_path_factory.mktemp("onnx") / "credit.onnx"
    path.write_bytes(skl2onnx.to_onnx(model, initial_types=_initial_types(X)).SerializeToString())
    return path


def test_pipeline_labels_equal_probabilities_within_float32(credit, onnx_file):
    model, X = credit
    adapter = load_model(onnx_file)  # no trust needed: no code runs
    assert adapter.kind == "onnx" and adapter.has_proba
    assert isinstance(adapter.estimator, OnnxClassifier)
    np.testing.assert_array_equal(adapter.classes_, model.classes_)
    expected = model.predict_proba(X)
    got = adapter.predict_proba(X)
    assert got.shape == expected.shape and got.dtype == np.float64
    diff = float(np.abs(got - expected).max())
    assert diff < PROBA_TOL, diff
    np.testing.assert_array_equal(adapter.predict(X), model.predict(X))
    preds = adapter.predict_all(X, "classification")
    np.testing.assert_array_equal(preds.labels, model.predict(X))
    np.testing.assert_allclose(preds.score, expected[:, 1], atol=PROBA_TOL, rtol=0)


def test_manifest_hash_is_the_file_sha256(onnx_file):
    from audit.models.loading import model_manifest

    adapter = load_model(onnx_file)
    expected = hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    entry = model_manifest(adapter)
    assert entry["sha256"] == expected and entry["kind"] == "onnx" and entry["source"] == str(onnx_file)
    assert entry["onnx"]["inputs"] == FEATURES
    assert (entry["onnx"]["label_output"], entry["onnx"]["proba_output"]) == (
        "output_label", "output_probability")


def test_batches_give_the_same_answers(credit, onnx_file):
    model, X = credit
    calls = []
    adapter = load_model(onnx_file, batch_size=97)
    run = adapter.estimator._session.run
    adapter.estimator._session = type("Spy", (), {"run": lambda self, names, feeds: (
        calls.append(len(next(iter(feeds.values())))), run(names, feeds))[1]})()
    got = adapter.predict_proba(X)
    assert calls == [97] * (len(X) // 97) + [len(X) % 97]
    np.testing.assert_allclose(got, model.predict_proba(X), atol=PROBA_TOL, rtol=0)


def test_tensor_probability_output_without_zipmap(credit, tmp_path):
    model, X = credit
    onx = skl2onnx.to_onnx(model, initial_types=_initial_types(X), options={id(model): {"zipmap": False}})
    path = tmp_path / "nozipmap.onnx"
    path.write_bytes(onx.SerializeToString())
    adapter = load_model(path)
    np.testing.assert_array_equal(adapter.classes_, model.classes_)
    np.testing.assert_allclose(adapter.predict_proba(X), model.predict_proba(X), atol=PROBA_TOL, rtol=0)


def test_pickle_round_trip_recreates_the_session(credit, onnx_file):
    model, X = credit
    est = load_model(onnx_file).estimator
    copy = pickle.loads(pickle.dumps(est))
    assert isinstance(copy, OnnxClassifier) and copy._session is not est._session
    np.testing.assert_allclose(copy.predict_proba(X[:50]), model.predict_proba(X[:50]),
                               atol=PROBA_TOL, rtol=0)


def test_string_classes_come_from_the_graph(credit, tmp_path):
    _, X = credit
    y = np.where(X["income"] > X["income"].median(), "yes", "no")
    model = Pipeline([("pre", ColumnTransformer([("num", StandardScaler(), NUM),
                                                 ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])),
                      ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)
    path = tmp_path / "yesno.onnx"
    path.write_bytes(skl2onnx.to_onnx(model, initial_types=_initial_types(X)).SerializeToString())
    adapter = load_model(path)
    assert adapter.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(adapter.predict(X), model.predict(X))


def test_single_float_tensor_input(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - X["c"] > 0).astype(int)
    model = LogisticRegression().fit(X.to_numpy(), y)
    path = tmp_path / "tensor.onnx"
    path.write_bytes(skl2onnx.to_onnx(model, initial_types=[("float_input", FloatTensorType([None, 4]))],
                                      options={id(model): {"zipmap": False}}).SerializeToString())
    adapter = load_model(path)
    np.testing.assert_allclose(adapter.predict_proba(X), model.predict_proba(X.to_numpy()),
                               atol=PROBA_TOL, rtol=0)
    np.testing.assert_allclose(adapter.predict_proba(X.to_numpy()), model.predict_proba(X.to_numpy()),
                               atol=PROBA_TOL, rtol=0)
    with pytest.raises(ValueError, match=r"takes 4 columns per row; got 5"):
        adapter.predict(X.assign(e=1.0))
    with pytest.raises(ValueError, match=r"columns \['t'\] hold text"):
        adapter.predict(X.drop(columns="d").assign(t="x"))
    # The columns option picks and orders them.
    picked = load_model(path, onnx={"columns": ["a", "b", "c", "d"]})
    np.testing.assert_allclose(picked.predict_proba(X.assign(e=1.0)[["e", "d", "c", "b", "a"]]),
                               model.predict_proba(X.to_numpy()), atol=PROBA_TOL, rtol=0)


def test_regressor_has_no_probabilities(credit, tmp_path):
    _, X = credit
    y = X["credit_history_months"].to_numpy(dtype=float)
    feats = [c for c in X.columns if c != "credit_history_months"]
    model = Pipeline([("pre", ColumnTransformer([("num", StandardScaler(), [c for c in NUM if c in feats]),
                                                 ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])),
                      ("reg", Ridge())]).fit(X[feats], y)
    path = tmp_path / "ridge.onnx"
    path.write_bytes(skl2onnx.to_onnx(model, initial_types=_initial_types(X[feats])).SerializeToString())
    adapter = load_model(path)
    assert type(adapter.estimator) is OnnxModel and not adapter.has_proba
    assert adapter.predict_proba(X[feats]) is None
    got, expected = adapter.predict(X[feats]), model.predict(X[feats])
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)  # float32 on values ~100


def _logits_model(path, W: np.ndarray, b: np.ndarray, out_name: str = "logits") -> None:
    """A hand-built graph: logits = x @ W + b (what an exported torch classifier looks like)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], [out_name])],
        "logits", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, W.shape[0]])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [None, W.shape[1]])],
        initializer=[numpy_helper.from_array(W.astype(np.float32), "W"),
                     numpy_helper.from_array(b.astype(np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_logits_get_a_softmax(tmp_path):
    from scipy.special import softmax

    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["p", "q", "r"])
    path = tmp_path / "logits.onnx"
    _logits_model(path, W, b)
    adapter = load_model(path, onnx={"scores": "logits", "classes": ["a", "b", "c", "d"]})
    expected = softmax(X.to_numpy() @ W + b, axis=1)
    np.testing.assert_allclose(adapter.predict_proba(X), expected, atol=PROBA_TOL, rtol=0)
    np.testing.assert_array_equal(adapter.predict(X), np.array(list("abcd"))[expected.argmax(axis=1)])
    # Read as probabilities, logits are refused with the fix in the message.
    plain = load_model(path, onnx={"proba_output": "logits"})
    with pytest.raises(ValueError, match="does not hold probabilities.*scores: logits"):
        plain.predict_proba(X)


def test_one_logit_gets_a_sigmoid(tmp_path):
    from scipy.special import expit

    rng = np.random.default_rng(2)
    W, b = rng.normal(size=(2, 1)), rng.normal(size=1)
    X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["u", "v"])
    path = tmp_path / "one_logit.onnx"
    _logits_model(path, W, b)
    adapter = load_model(path, onnx={"scores": "logits"})
    p1 = expit(X.to_numpy() @ W[:, 0] + b[0])
    assert adapter.classes_.tolist() == [0, 1]
    np.testing.assert_allclose(adapter.predict_proba(X), np.column_stack([1 - p1, p1]), atol=PROBA_TOL, rtol=0)


def test_integer_inputs_are_rounded_and_missing_values_named(credit, tmp_path):
    model, X = credit
    types = [(c, Int64TensorType([None, 1]) if c in ("age", "open_accounts") else t)
             for c, t in _initial_types(X)]
    path = tmp_path / "ints.onnx"
    path.write_bytes(skl2onnx.to_onnx(model, initial_types=types).SerializeToString())
    adapter = load_model(path)
    nudged = X.assign(age=X["age"] + 0.4)  # rounds back to the original integers
    np.testing.assert_allclose(adapter.predict_proba(nudged), model.predict_proba(X), atol=PROBA_TOL, rtol=0)
    with pytest.raises(ValueError, match=r"column 'open_accounts' feeds an integer input.*missing values"):
        adapter.predict(X.assign(open_accounts=np.where(np.arange(len(X)) == 3, np.nan, X["open_accounts"])))


def test_missing_text_is_an_unknown_category(credit, onnx_file):
    model, X = credit
    holes = X.copy()
    holes.loc[::5, "housing"] = None  # unseen by the encoder: all-zero one-hot in both
    expected = model.predict_proba(holes.fillna({"housing": "__none__"}))
    np.testing.assert_allclose(load_model(onnx_file).predict_proba(holes), expected, atol=PROBA_TOL, rtol=0)


def test_clear_errors(credit, onnx_file, tmp_path):
    _, X = credit
    with pytest.raises(ModelLoadError, match=r"names output 'nope'.*outputs: \['output_label', "
                                             r"'output_probability'\]"):
        load_model(onnx_file, onnx={"label_output": "nope"})
    with pytest.raises(ModelLoadError, match="bad ONNX options.*colour"):
        load_model(onnx_file, onnx={"colour": "red"})
    with pytest.raises(ValueError, match=r"no column \['sex'\]"):
        load_model(onnx_file).predict(X.drop(columns="sex"))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="junk.onnx: onnxruntime cannot load the model"):
        load_model(tmp_path / "junk.onnx")
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "absent.onnx")


def test_missing_extra_names_it(onnx_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"'onnx' extra.*pip install 'audit\[onnx\]'") as info:
        load_model(onnx_file)
    assert info.value.exit_code == 2
