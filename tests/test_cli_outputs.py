"""The command line's CI outputs: --format json (run, validate, compare), --summary-md and
$GITHUB_STEP_SUMMARY, --mlflow without its extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from audit.cli import main

POLICY = """\
version: 1
name: ci-outputs
seed: 0
model: {{path: {model}}}
data: {{path: {data}, target: repaid, sensitive: [sex]}}
defaults: {{n_boot: 200}}
checks:
  - id: performance.accuracy
    threshold: {{min: 0.6}}
  - id: fairness.demographic_parity_ratio
    threshold: {{min: 0.8}}
  - id: performance.roc_auc
    threshold: {{min: 0.99, blocking: false}}
"""


@pytest.fixture
def policy(demo_files, tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY.format(model=demo_files["model"], data=demo_files["holdout"]))
    return p


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is one JSON object


def test_run_json_matches_the_report_folder(policy, tmp_path, capsys, monkeypatch):
    step = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    code = main(["run", str(policy), "--out", str(tmp_path / "reports"), "--no-pdf", "--format", "json",
                 "--summary-md", str(tmp_path / "md" / "summary.md")])
    obj = _json(capsys)
    folder = Path(obj["report_folders"][0])
    saved = json.loads((folder / "results.json").read_text())
    assert code == obj["exit_code"] == obj["audit_exit_code"] == saved["summary"]["exit_code"] == 1
    assert obj["decision"] == saved["summary"]["decision"] == "FAIL"
    assert obj["counts"] == saved["summary"]["counts"]
    assert [f["id"] for f in obj["blocking_failures"]] == ["fairness.demographic_parity_ratio"]
    failing = next(r for r in saved["results"] if r["id"] == "fairness.demographic_parity_ratio")
    assert obj["blocking_failures"][0]["value"] == failing["value"]
    assert obj["models"][0]["report_folder"] == str(folder) and obj["side_by_side_report"] is None
    md = (tmp_path / "md" / "summary.md").read_text()
    assert obj["summary_md"] == str(tmp_path / "md" / "summary.md")
    assert step.read_text() == md and obj["github_step_summary"] == str(step)
    assert "fairness.demographic_parity_ratio" in md and "performance.roc_auc" not in md  # non-blocking


def test_demo_json_reports_the_lenient_exit_code(tmp_path, capsys, monkeypatch):
    # The demo itself is slow; its policy is swapped for the small one above to test the wiring.
    import audit.cli as cli

    small = tmp_path / "policies"
    small.mkdir()
    (small / "demo.yaml").write_text(POLICY.format(model="unused.skops", data="unused.parquet"))
    monkeypatch.setattr(cli, "_bundled_policy", lambda name: small / name)
    code = main(["demo", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "reports"), "--no-pdf",
                 "--format", "json"])
    obj = _json(capsys)
    assert code == obj["exit_code"] == 0 and obj["audit_exit_code"] == 1 and obj["decision"] == "FAIL"


def test_validate_json(policy, tmp_path, capsys):
    assert main(["validate", str(policy), "--format", "json"]) == 0
    assert _json(capsys) == {"valid": True, "policy": str(policy), "exit_code": 0, "name": "ci-outputs",
                             "checks": 3, "problems": []}
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy.read_text().replace("min: 0.6", "minimum: 0.6").replace("accuracy", "acuracy"))
    assert main(["validate", str(bad), "--format", "json"]) == 2
    obj = _json(capsys)
    assert obj["valid"] is False and obj["exit_code"] == 2
    paths = {p["path"]: p for p in obj["problems"]}
    assert paths["checks[0].threshold.minimum"]["line"] == 9
    assert "did you mean 'min'" in paths["checks[0].threshold.minimum"]["message"]
    assert "performance.accuracy" in paths["checks[0].id"]["message"]


def test_compare_json(policy, tmp_path, capsys):
    main(["run", str(policy), "--out", str(tmp_path / "a"), "--no-pdf", "--format", "json"])
    before = Path(_json(capsys)["report_folders"][0])
    worse = tmp_path / "worse.yaml"
    worse.write_text(policy.read_text().replace("min: 0.6", "min: 0.99"))  # accuracy now FAILs
    main(["run", str(worse), "--out", str(tmp_path / "b"), "--no-pdf", "--format", "json"])
    after = Path(_json(capsys)["report_folders"][0])
    code = main(["compare", str(before), str(after), "--format", "json"])
    obj = _json(capsys)
    assert code == obj["exit_code"] == 1 and obj["regressions"] == 1
    row = next(r for r in obj["rows"] if r["regression"])
    a = json.loads((before / "results.json").read_text())["results"][0]
    b = json.loads((after / "results.json").read_text())["results"][0]
    assert (row["name"], row["before_verdict"], row["after_verdict"]) == ("performance.accuracy", a["verdict"],
                                                                           b["verdict"])
    assert row["before"] == a["value"] and row["after"] == b["value"]
    assert obj["changed_files"]["policy"]["before"] != obj["changed_files"]["policy"]["after"]


def test_mlflow_without_its_extra_fails_before_auditing(policy, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    code = main(["run", str(policy), "--out", str(tmp_path / "reports"), "--mlflow"])
    assert code == 2
    assert "pip install 'audit[mlflow]'" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()  # nothing was audited
