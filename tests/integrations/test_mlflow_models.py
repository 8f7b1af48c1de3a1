"""Models from a real MLflow registry (SQLite store): models:/name/version and runs:/<id>/model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")

from audit.data.demo import FEATURES, make_credit_data, train_demo_model  # noqa: E402
from audit.errors import ModelLoadError, UntrustedModelError  # noqa: E402
from audit.models import load_model  # noqa: E402
from audit.models.loading import model_manifest  # noqa: E402
from audit.models.mlflow import load_mlflow_model  # noqa: E402


class Halves(mlflow.pyfunc.PythonModel):
    """A pyfunc without a scikit-learn flavor: 1 when income is above 40,000."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return (model_input["income"] > 40_000).astype(int).to_numpy()


@pytest.fixture(scope="module")
def registered(mlflow_store):
    """The demo pipeline registered as credit v1 (sklearn flavor) and a pyfunc as rule v1."""
    data = make_credit_data(1500, seed=5)
    model = train_demo_model(data.iloc[:1000], seed=5)
    X = data[FEATURES].iloc[1000:].reset_index(drop=True)
    with mlflow.start_run(experiment_id=mlflow_store["experiment_id"]) as run:
        # Requirements given: MLflow would otherwise import every library to infer them (~15 s).
        mlflow.sklearn.log_model(model, name="model", registered_model_name="credit",
                                 pip_requirements=["scikit-learn"])
        mlflow.pyfunc.log_model(name="rule", python_model=Halves(), registered_model_name="rule",
                                pip_requirements=["pandas"])
    return {"model": model, "X": X, "run_id": run.info.run_id}


def _files_sha256(folder: Path) -> str:
    """The documented content hash, computed here from the files in the artifact store."""
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file() and q.name != "registered_model_meta"):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()


def _stored_folder(client, name: str, version: str) -> Path:
    """Where the store keeps the registered version's files (a file:// artifact location)."""
    from urllib.parse import urlparse

    source = client.get_model_version(name, version).source
    if source.startswith("models:/"):
        source = client.get_logged_model(source.split("/", 1)[1].lstrip("/")).artifact_location
    return Path(urlparse(source).path)


def test_registered_sklearn_model_loads_with_its_flavor(mlflow_store, registered):
    adapter, info = load_mlflow_model("models:/credit/1", trust=True)
    assert adapter.kind == "sklearn" and adapter.has_proba
    X, model = registered["X"], registered["model"]
    np.testing.assert_array_equal(adapter.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(adapter.predict(X), model.predict(X))
    ml = info["mlflow"]
    assert (ml["name"], ml["version"], ml["run_id"], ml["flavor"]) == ("credit", "1", registered["run_id"], "sklearn")
    assert "python_function" in ml["flavors"] and ml["tracking_uri"] == mlflow_store["uri"]
    expected = _files_sha256(_stored_folder(mlflow_store["client"], "credit", "1"))
    assert info["sha256"] == expected and info["source"] == "models:/credit/1"
    assert model_manifest(adapter)["mlflow"]["version"] == "1"


def test_runs_uri_and_registry_uri_hash_alike(registered):
    _, by_run = load_mlflow_model(f"runs:/{registered['run_id']}/model", trust=True)
    _, by_version = load_mlflow_model("models:/credit/1", trust=True)
    assert by_run["sha256"] == by_version["sha256"]
    assert by_run["mlflow"]["run_id"] == registered["run_id"] and by_run["mlflow"]["version"] is None


def test_alias_resolves_to_the_version_it_points_at(mlflow_store, registered):
    mlflow_store["client"].set_registered_model_alias("credit", "champion", "1")
    adapter, info = load_mlflow_model("models:/credit@champion", trust=True)
    assert info["mlflow"]["version"] == "1" and info["mlflow"]["resolved_uri"] == "models:/credit/1"
    np.testing.assert_array_equal(adapter.predict(registered["X"]), registered["model"].predict(registered["X"]))


def test_a_model_without_sklearn_flavor_loads_as_pyfunc(registered):
    adapter = load_model(mlflow="models:/rule/1", trust=True)
    assert adapter.kind == "callable" and not adapter.has_proba
    X = registered["X"]
    np.testing.assert_array_equal(np.asarray(adapter.predict(X)), (X["income"] > 40_000).astype(int).to_numpy())
    assert adapter.meta["manifest"]["mlflow"]["flavor"] == "python_function"


def test_trust_comes_from_the_command_line(registered):
    with pytest.raises(UntrustedModelError, match="--trust-model.*policy file cannot grant"):
        load_mlflow_model("models:/credit/1")
    with pytest.raises(UntrustedModelError):
        load_model(mlflow="models:/credit/1")


@pytest.mark.parametrize("uri,words", [
    ("models:/credit/99", "cannot find the model"),
    ("models:/no-such-model/1", "cannot find the model"),
    ("runs:/0123456789abcdef0123456789abcdef/model", "cannot find the model"),
    ("runs:/justarun", "expected 'runs:/<run id>/<path>'"),
    ("s3://bucket/model", "expected 'models:/<name>/<version>'"),
])
def test_bad_uris_are_clear(mlflow_store, uri, words):
    with pytest.raises(ModelLoadError, match=words):
        load_mlflow_model(uri, trust=True)
