"""`audit run ... --mlflow-experiment NAME` against a real SQLite tracking store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from audit.cli import main  # noqa: E402

POLICY = """\
version: 1
name: ci-mlflow
model: {{path: {model}}}
data: {{path: {data}, target: repaid, sensitive: [sex]}}
defaults: {{n_boot: 100}}
checks:
  - id: performance.accuracy
    threshold: {{min: 0.6}}
  - id: fairness.demographic_parity_ratio
    threshold: {{min: 0.8}}
"""


@pytest.fixture
def policy(demo_files, tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY.format(model=demo_files["model"], data=demo_files["holdout"]))
    return p


def test_run_logs_each_model_and_prints_the_run_ids(mlflow_store, policy, demo_files, tmp_path, capsys):
    client = mlflow_store["client"]
    models = []
    for name in ("cand-a", "cand-b"):
        models += ["--model", str(shutil.copy(demo_files["model"], tmp_path / f"{name}.skops"))]
    code = main(["run", str(policy), *models, "--out", str(tmp_path / "reports"), "--no-pdf",
                 "--format", "json", "--mlflow-experiment", "audits"])
    obj = json.loads(capsys.readouterr().out)
    assert code == obj["exit_code"] == 1
    runs = obj["mlflow"]
    parent = client.get_run(runs["parent"])
    assert parent.data.tags["audit.side_by_side"] == "true"
    assert {a.path for a in client.list_artifacts(runs["parent"], "audit-report")} == {
        f"audit-report/{p.name}" for p in Path(obj["side_by_side_report"]).parent.iterdir()}
    for run_id, folder, name in zip(runs["runs"], obj["report_folders"], ("cand-a", "cand-b"), strict=True):
        run = client.get_run(run_id)
        saved = json.loads((Path(folder) / "results.json").read_text())
        assert run.data.tags["mlflow.parentRunId"] == runs["parent"] and run.info.run_name == name
        assert run.data.tags["audit.decision"] == saved["summary"]["decision"]
        assert run.data.metrics["performance.accuracy/base"] == saved["results"][0]["value"]
        assert run.data.tags["audit.sha256.model"] == saved["manifest"]["files"]["model"]["sha256"]
