"""Model loading: skops safe, pickle only with trust, entry points."""

import sys

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from audit.errors import ModelLoadError, UntrustedModelError
from audit.models import load_model


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def test_skops_loads_without_trust(fitted, tmp_path):
    est, X = fitted
    sio.dump(est, tmp_path / "m.skops")
    m = load_model(tmp_path / "m.skops")
    np.testing.assert_array_equal(m.predict(X), est.predict(X))
    assert m.has_proba and m.kind == "sklearn"


def test_pickle_needs_trust(fitted, tmp_path):
    est, X = fitted
    joblib.dump(est, tmp_path / "m.joblib")
    with pytest.raises(UntrustedModelError, match="--trust-model") as info:
        load_model(tmp_path / "m.joblib")
    assert "arbitrary code" in str(info.value)
    m = load_model(tmp_path / "m.joblib", trust=True)
    np.testing.assert_array_equal(m.predict(X), est.predict(X))


def test_entrypoint(fitted, tmp_path, monkeypatch):
    est, X = fitted
    mod = tmp_path / "my_models.py"
    mod.write_text("from sklearn.dummy import DummyClassifier\nimport numpy as np\n"
                   "def make():\n    return DummyClassifier(strategy='constant', constant=1).fit(np.zeros((2, 3)), [0, 1])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UntrustedModelError, match="--trust-model"):  # importing it runs code
        load_model(entrypoint="my_models:make")
    assert "my_models" not in sys.modules
    m = load_model(entrypoint="my_models:make", trust=True)
    assert set(m.predict(X)) == {1}
    sys.modules.pop("my_models", None)


@pytest.mark.parametrize("spec,words", [("nocolon", "form"), ("no_such_mod_xyz:a", "cannot import"),
                                        ("json:nothing_here", "no attribute")])
def test_bad_entrypoints(spec, words):
    with pytest.raises(ModelLoadError, match=words):
        load_model(entrypoint=spec, trust=True)


def test_unknown_format_and_missing(tmp_path):
    (tmp_path / "m.bin").write_text("x")
    with pytest.raises(ModelLoadError, match="unknown model format"):
        load_model(tmp_path / "m.bin")
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "none.skops")


def test_batched_predictions_equal_unbatched(fitted):
    from audit.models import wrap_model

    est, _ = fitted
    X = np.random.default_rng(1).normal(size=(1000, 3))
    m = wrap_model(est, batch_size=64)
    np.testing.assert_array_equal(m.predict(X), est.predict(X))
    p = m.predict_all(X, "classification")
    np.testing.assert_allclose(p.proba, est.predict_proba(X))
    np.testing.assert_array_equal(p.labels, est.predict(X))
