"""A real MLflow tracking store for the integration tests: SQLite in a temporary folder, no server.

Creating the SQLite schema takes MLflow ~15 s (its migrations), so one store serves the session.
``MLFLOW_TRACKING_URI`` points at it while the tests run, as a CI job would set it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """``{"uri", "artifacts", "client", "experiment_id"}`` of a fresh SQLite tracking store."""
    mlflow = pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = mlflow.MlflowClient()
    artifacts = root / "artifacts"
    exp_id = client.create_experiment("audits", artifact_location=artifacts.as_uri())
    yield {"uri": uri, "artifacts": artifacts, "client": client, "experiment_id": exp_id, "root": root}
    mp.undo()
