"""Audit evidence logged to a real MLflow store, read back with MlflowClient, compared with results.json."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow.utils.validation import _validate_metric_name, _validate_tag_name  # noqa: E402

from audit.errors import IntegrationError, MissingExtraError  # noqa: E402
from audit.integrations.mlflow import check_keys, log_audit, log_audits, metric_name  # noqa: E402
from audit.report.writer import write_report  # noqa: E402
from audit.results import AuditResult  # noqa: E402
from tests.report.conftest import build_result  # noqa: E402

DIGEST = "f" * 64


def _result(model_name: str = "candidate-a") -> AuditResult:
    """The report tests' result (every verdict, hostile strings, an error), with input hashes,
    a run digest and a model name in the manifest, as a real run has."""
    r = build_result()
    files = {"policy": {"path": "p.yaml", "sha256": "1" * 64}, "data": {"path": "d.parquet", "sha256": "2" * 64},
             "reference": {"path": "t.parquet", "sha256": "3" * 64},
             "model": {"name": model_name, "source": "m.skops", "kind": "sklearn", "sha256": "4" * 64}}
    return r.model_copy(update={"manifest": {**r.manifest, "files": files, "run_digest": DIGEST,
                                             "model_name": model_name}})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One result and its report folder with every file (the PDF too)."""
    result = _result()
    folder = write_report(result, tmp_path_factory.mktemp("reports"), pdf=True)
    return result, folder


def test_one_run_holds_values_intervals_verdicts_thresholds_hashes_and_the_report(mlflow_store, written):
    result, folder = written
    client = mlflow_store["client"]
    run_id = log_audit(result, folder, experiment="audits", run_name="nightly")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.experiment_id == mlflow_store["experiment_id"]
    assert run.info.run_name == "nightly"
    metrics, tags = run.data.metrics, run.data.tags
    saved = json.loads((folder / "results.json").read_text())  # what the report folder says

    keys = check_keys(result)
    assert len(set(keys)) == len(saved["results"])
    for key, r in zip(keys, saved["results"], strict=True):
        _validate_metric_name(key)  # MLflow's own rule, not ours
        assert key.startswith(r["id"] + "/")
        assert tags[f"verdict/{key}"] == r["verdict"]
        if r["value"] is None:
            assert key not in metrics
        else:
            assert metrics[key] == r["value"]
        if r["interval"] is not None:
            assert metrics[f"{key}/ci_low"] == r["interval"]["low"]
            assert metrics[f"{key}/ci_high"] == r["interval"]["high"]
        else:
            assert f"{key}/ci_low" not in metrics
        shown = [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", tags[f"threshold/{key}"])]
        for bound in ("min", "max", "warn_min", "warn_max"):
            if r["threshold"].get(bound) is not None:
                assert r["threshold"][bound] in [pytest.approx(x, rel=1e-3) for x in shown], (key, bound)

    summary = saved["summary"]
    assert tags["audit.decision"] == summary["decision"] == "FAIL"
    assert tags["audit.exit_code"] == str(summary["exit_code"]) and metrics["audit/exit_code"] == 1.0
    for verdict, n in summary["counts"].items():
        assert metrics[f"audit/count/{verdict}"] == n
    for name in ("policy", "data", "reference", "model"):
        assert tags[f"audit.sha256.{name}"] == saved["manifest"]["files"][name]["sha256"]
    assert tags["audit.run_digest"] == DIGEST
    assert tags["audit.results_sha256"] == hashlib.sha256((folder / "results.json").read_bytes()).hexdigest()
    assert tags["audit.policy"] == saved["policy_name"] and tags["audit.model"] == "candidate-a"
    assert run.data.params == {"policy": saved["policy_name"], "model": "candidate-a", "seed": "0"}
    # The Markdown summary is the run's description; user text stays inert there too.
    assert tags["mlflow.note.content"].startswith("### Audit ")
    assert "<script>" not in tags["mlflow.note.content"]

    listed = {a.path for a in client.list_artifacts(run_id, "audit-report")}
    assert listed == {f"audit-report/{p.name}" for p in folder.iterdir()}
    assert {"audit-report/report.pdf", "audit-report/junit.xml", "audit-report/report.html"} <= listed
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="audit-report/results.json",
                                                dst_path=str(mlflow_store["root"] / "dl"))
    assert open(local, "rb").read() == (folder / "results.json").read_bytes()


def test_side_by_side_is_a_parent_run_with_one_child_per_model(mlflow_store, tmp_path):
    client = mlflow_store["client"]
    results = [_result("cand-a"), _result("cand-b")]
    results[1] = results[1].model_copy(update={"summary": results[1].summary.model_copy(
        update={"decision": "PASS", "exit_code": 0, "blocking_failures": []})})
    folders = [write_report(r, tmp_path / r.manifest["model_name"], pdf=False) for r in results]
    logged = log_audits(results, folders, experiment="audits")
    parent = client.get_run(logged.parent)
    assert parent.data.tags["audit.decision"] == "FAIL" and parent.data.tags["audit.exit_code"] == "1"
    assert parent.data.tags["audit.models"] == "cand-a, cand-b"
    children = [client.get_run(c) for c in logged.children]
    assert [c.data.tags["mlflow.parentRunId"] for c in children] == [logged.parent] * 2
    assert [c.info.run_name for c in children] == ["cand-a", "cand-b"]
    assert [c.data.tags["audit.decision"] for c in children] == ["FAIL", "PASS"]
    found = client.search_runs([mlflow_store["experiment_id"]],
                               f"tags.mlflow.parentRunId = '{logged.parent}'")
    assert sorted(r.info.run_id for r in found) == sorted(logged.children)


def test_experiment_from_mlflows_environment_variable(mlflow_store, written, monkeypatch):
    result, folder = written
    client = mlflow_store["client"]
    exp_id = client.create_experiment("from-env", artifact_location=(mlflow_store["root"] / "env").as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    run_id = log_audit(result, None)
    run = client.get_run(run_id)
    assert run.info.experiment_id == exp_id
    assert client.list_artifacts(run_id) == []  # no folder given, none logged
    assert "audit.results_sha256" not in run.data.tags


def test_a_deleted_experiment_is_a_clear_error(mlflow_store, written):
    client = mlflow_store["client"]
    client.delete_experiment(client.create_experiment("retired", artifact_location=(
        mlflow_store["root"] / "retired").as_uri()))
    with pytest.raises(IntegrationError, match="experiment 'retired' is deleted") as info:
        log_audit(written[0], written[1], experiment="retired")
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text", [
    "performance.accuracy/perturbed.noise@0.2", "a/../b", "/leading/slash", "trailing/", "x//y",
    "名前 with ünïcode", "colon:here", "../..", "", "a" * 400, "tab\there|pipe`tick<html>",
])
def test_metric_names_are_valid_for_mlflow(text):
    name = metric_name(text)
    _validate_metric_name(name)
    _validate_tag_name(f"verdict/{name}"[:250])
    assert 1 <= len(name) <= 250


def test_keys_are_unique_and_stable_when_checks_share_id_and_evalset():
    r = _result()
    twin = r.results[2].model_copy(update={"name": "Same check, other params"})
    r2 = r.model_copy(update={"results": [*r.results, twin]})
    keys = check_keys(r2)
    assert len(set(keys)) == len(keys)
    assert keys[2] == "fairness.demographic_parity_ratio/base/Impact ratio _four-fifths rule_"
    assert keys[-1] == "fairness.demographic_parity_ratio/base/Same check_ other params"
    assert check_keys(r2) == keys
    # Unaffected checks keep their plain key.
    assert keys[0] == "performance.accuracy/base"


def test_missing_extra_names_it(written, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'audit\[mlflow\]'"):
        log_audit(written[0], written[1])


def test_result_logs_itself_from_the_python_api(mlflow_store, written):
    # audit.run(...) returns a Result; result.log_to_mlflow() is the same logging as the CLI's --mlflow.
    from audit.api import Result

    result, folder = written
    api_result = Result.model_validate(result.model_dump())
    run_id = api_result.log_to_mlflow(folder, experiment="audits", run_name="from-python")
    run = mlflow_store["client"].get_run(run_id)
    assert run.info.run_name == "from-python"
    assert run.data.tags["audit.decision"] == result.summary.decision
    names = {a.path for a in mlflow_store["client"].list_artifacts(run_id, "audit-report")}
    assert "audit-report/results.json" in names
