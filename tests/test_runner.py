"""The runner: a crashing check becomes ERROR, the audit goes on; skips; exit codes."""

import pytest

from audit.checks import _registry
from audit.checks._registry import register_check
from audit.policy import load_policy
from audit.results import Measurement, Verdict
from audit.runner import RunOptions, run_audit, summarise


@pytest.fixture
def test_checks():
    """Register two throw-away checks for the test, and remove them afterwards."""
    before = dict(_registry._REGISTRY)

    @register_check("testing.boom")
    def boom(ctx, params):
        """Always raises."""
        raise RuntimeError("deliberate failure inside a check")

    @register_check("testing.rows", higher_is_better=True)
    def rows(ctx, params):
        """Number of rows of the evaluation set, predicted once."""
        preds = ctx.predictions()
        return Measurement(value=float(len(preds.labels)), n=len(preds.labels), message="rows")

    @register_check("testing.needs_model", needs={"model"})
    def needs_model(ctx, params):
        """Needs a live model."""
        return Measurement(value=1.0, n=1)

    yield
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(before)


POLICY = """\
version: 1
name: runner-test
model: {{path: {model}}}
data: {{path: {data}, target: repaid, sensitive: [sex]}}
checks:
  - id: testing.boom
    threshold: {{min: 0}}
  - id: testing.rows
    threshold: {{min: 1}}
  - id: testing.rows
    name: too many rows wanted
    threshold: {{min: 1000000}}
  - id: testing.needs_model
    threshold: {{min: 0}}
"""


def _policy(tmp_path, files, text=POLICY):
    f = tmp_path / "p.yaml"
    f.write_text(text.format(model=files["model"], data=files["holdout"]))
    return load_policy(f)


def test_crashing_check_is_error_and_audit_goes_on(test_checks, demo_files, tmp_path):
    res = run_audit(_policy(tmp_path, demo_files), RunOptions(progress=False))
    verdicts = [r.verdict for r in res.results]
    assert verdicts == [Verdict.ERROR, Verdict.PASS, Verdict.FAIL, Verdict.PASS]
    err = res.results[0].error
    assert err["type"] == "RuntimeError" and "deliberate failure" in err["message"]
    assert "Traceback" in err["traceback"]
    assert res.summary.exit_code == 1
    assert res.summary.counts["ERROR"] == 1 and res.summary.counts["FAIL"] == 1


def test_predictions_only_skips_model_checks(test_checks, demo_files, tmp_path):
    import pandas as pd

    df = pd.read_parquet(demo_files["holdout"])
    df["decision"] = 1
    data = tmp_path / "scored.csv"
    df.to_csv(data, index=False)
    text = POLICY.replace("model: {{path: {model}}}\n", "").replace(
        "sensitive: [sex]}}", "sensitive: [sex], prediction: decision}}")
    res = run_audit(_policy(tmp_path, {"model": None, "holdout": data}, text), RunOptions(progress=False))
    by = {r.name: r for r in res.results}
    assert by["testing.needs_model"].verdict == Verdict.SKIPPED
    assert "predictions-only" in by["testing.needs_model"].message
    assert by["testing.rows"].verdict == Verdict.PASS
    assert res.manifest["files"]["model"]["source"] == "predictions-only"


def test_manifest_holds_hashes_versions_hardware(test_checks, demo_files, tmp_path):
    res = run_audit(_policy(tmp_path, demo_files), RunOptions(progress=False, seed=7))
    man = res.manifest
    assert man["seed"] == 7
    for k in ("policy", "model", "data"):
        assert len(man["files"][k]["sha256"]) == 64
    assert {"numpy", "scikit-learn", "python"} <= set(man["libraries"])
    assert man["hardware"]["cores"] >= 1 and man["hardware"]["memory_gb"] > 0
    assert man["started_at"].endswith("Z") and man["finished_at"] >= man["started_at"]


def test_summary_gating():
    from audit.results import CheckResult

    def r(v, blocking=True):
        return CheckResult(id="a.b", name="a.b", family="a", evalset="base", verdict=v, blocking=blocking)

    assert summarise([r(Verdict.PASS), r(Verdict.WARN)]).exit_code == 0
    assert summarise([r(Verdict.PASS), r(Verdict.FAIL, blocking=False)]).exit_code == 0
    assert summarise([r(Verdict.FAIL)]).exit_code == 1
    assert summarise([r(Verdict.ERROR)]).exit_code == 1
    assert summarise([r(Verdict.INCONCLUSIVE)]).exit_code == 0
    assert summarise([r(Verdict.INCONCLUSIVE)], inconclusive_fails=True).exit_code == 1
    assert summarise([r(Verdict.PASS)]).decision == "PASS"


def test_policy_models_list_audits_each_model(test_checks, demo_files, tmp_path):
    text = POLICY.replace("model: {{path: {model}}}",
                          "models:\n  - {{name: first, path: {model}}}\n  - {{name: second, path: {model}}}")
    from audit.runner import run_audits

    results = run_audits(_policy(tmp_path, demo_files, text), RunOptions(progress=False))
    assert [r.manifest["model_name"] for r in results] == ["first", "second"]
    assert [r.verdict for r in results[0].results] == [r.verdict for r in results[1].results]


def test_baseline_run_records_changed_inputs(test_checks, demo_files, tmp_path):
    first = run_audit(_policy(tmp_path, demo_files), RunOptions(progress=False))
    base = tmp_path / "base.json"
    base.write_text(first.model_dump_json())
    again = run_audit(_policy(tmp_path, demo_files), RunOptions(progress=False, baseline=str(base)))
    assert again.manifest["changed_since_baseline"] == {}
    assert all(r.baseline["matched"] for r in again.results)
    edited = POLICY.replace("too many rows wanted", "too many rows, renamed")
    third = run_audit(_policy(tmp_path, demo_files, edited), RunOptions(progress=False, baseline=str(base)))
    assert set(third.manifest["changed_since_baseline"]) == {"policy"}
