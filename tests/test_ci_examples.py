"""The CI examples in docs/examples run: the GitHub workflow's shell steps are executed here
against `audit demo`, the way the runner would (bash -eo pipefail, step by step, `if: always()`
steps after a failure); the GitLab job runs the same command and keeps the same files."""

from __future__ import annotations

import glob
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"


def _audit_shim(bin_dir: Path) -> None:
    """An `audit` executable running this checkout's code with this interpreter (what
    `pip install` puts on PATH)."""
    bin_dir.mkdir()
    shim = bin_dir / "audit"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m audit "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load((EXAMPLES / "github-audit.yml").read_text())


@pytest.fixture(scope="module")
def github_run(workflow, tmp_path_factory):
    """Run the job's `run:` steps in a fresh folder; the install step is a no-op here (the
    package is installed), --no-pdf keeps it fast."""
    job = workflow["jobs"]["audit"]
    work = tmp_path_factory.mktemp("gha")
    _audit_shim(work / "bin")
    summary = work / "step-summary.md"
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()},
           "PATH": f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
           "CI": "true", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["AUDIT_ARGS"] += " --no-pdf"
    outcomes, failed = {}, False
    for i, step in enumerate(job["steps"]):
        name = step.get("id") or step.get("name") or f"step{i}"
        if "run" not in step:
            outcomes[name] = "action"
            continue
        if failed and "always()" not in str(step.get("if", "")):
            outcomes[name] = "skipped"
            continue
        if step.get("id") == "install":
            outcomes[name] = "no-op"
            continue
        script = work / f"{name}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=900, check=False)
        outcomes[name] = proc.returncode
        failed = failed or proc.returncode != 0
    return {"work": work, "outcomes": outcomes, "summary": summary, "job": job, "proc": proc}


def test_the_audit_step_fails_the_job_on_exit_1(github_run):
    # The example audits the demo with --strict: it fails on purpose (built-in disparity).
    assert github_run["outcomes"]["audit"] == 1, github_run["proc"].stderr[-2000:]
    assert github_run["outcomes"]["install"] == "no-op"


def test_the_report_folder_is_uploaded_even_after_a_failure(github_run):
    steps = github_run["job"]["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert "always()" in upload["if"]
    assert steps.index(upload) > next(i for i, s in enumerate(steps) if s.get("id") == "audit")
    uploaded = github_run["work"] / upload["with"]["path"]
    folders = [p for p in uploaded.iterdir() if p.is_dir()]
    assert len(folders) == 1
    assert {"results.json", "report.html", "junit.xml", "policy.yaml"} <= {p.name for p in folders[0].iterdir()}


def test_the_markdown_summary_reaches_the_job_page(github_run):
    written = (github_run["work"] / "reports" / "summary.md").read_text()
    assert github_run["summary"].read_text() == written
    assert written.startswith("### Audit demo-credit: FAIL")
    assert "fairness.demographic_parity_ratio" in written


def test_the_log_has_whole_check_ids(github_run):
    import json

    log = github_run["proc"].stdout
    folder = next(p for p in (github_run["work"] / "reports").iterdir() if p.is_dir())
    for r in json.loads((folder / "results.json").read_text())["results"]:
        assert r["id"] in log


def test_gitlab_job_runs_the_same_audit_and_keeps_the_same_files(workflow, github_run):
    gitlab = yaml.safe_load((EXAMPLES / "gitlab-audit.yml").read_text())["model-audit"]
    audit_step = next(s for s in workflow["jobs"]["audit"]["steps"] if s.get("id") == "audit")
    assert gitlab["script"] == [audit_step["run"].strip()]
    assert gitlab["variables"]["AUDIT_ARGS"] == workflow["jobs"]["audit"]["env"]["AUDIT_ARGS"]
    assert gitlab["artifacts"]["when"] == "always" and "reports/" in gitlab["artifacts"]["paths"]
    junit = glob.glob(str(github_run["work"] / gitlab["artifacts"]["reports"]["junit"]))
    assert len(junit) == 1 and Path(junit[0]).name == "junit.xml"
