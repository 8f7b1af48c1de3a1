"""Bugs the fuzz suite found, one named test each (exit 2 naming the key or file, never exit 3)."""

from __future__ import annotations

import json

from audit.cli import main

from ._harness import base_frame, problems, run_audit
from ._policy_text import write_policy


def _run(ws, name, *extra, edit=None, text=None):
    policy = write_policy(ws, name, edit=edit, text=text)
    return policy, run_audit(policy, *extra)


def test_unknown_key_with_a_bracket_is_named_not_an_internal_error(fuzz_workspace, capsys):
    # The error describer took a key holding '[' for a pydantic union tag and indexed an empty path.
    def edit(p):
        p["\x1b[2Jodd[0]"] = 1
        p["data"]["weights[1]"] = 2

    policy, outcome = _run(fuzz_workspace, "bracket-key", edit=edit)
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["odd[0]"])
    # The key is quoted with its escape character spelt out; no raw escape reaches the console.
    assert "unknown key '\\x1b[2Jodd[0]'" in outcome.stderr and "\x1b" not in outcome.stderr
    assert "data.weights[1] (line" in outcome.stderr and "unknown key 'weights[1]'" in outcome.stderr
    # Without the data too (pre-commit).
    assert main(["validate", "--schema-only", str(policy)]) == 2
    assert "unknown key 'weights[1]'" in capsys.readouterr().err


def test_feature_listed_twice_is_a_named_policy_error(fuzz_workspace, capsys):
    # A feature listed twice selected a two-column frame where one column was expected (exit 3).
    def edit(p):
        p["data"]["features"] = ["x1", "x2", "age", "x1"]
        p["data"]["sensitive"] = ["sex", "sex"]

    policy, outcome = _run(fuzz_workspace, "twice", edit=edit)
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["data.features"])
    assert "data.features (line 12): column(s) ['x1'] listed more than once" in outcome.stderr
    assert "data.sensitive (line 9): column(s) ['sex'] listed more than once" in outcome.stderr
    assert main(["validate", "--schema-only", str(policy)]) == 2
    assert "listed more than once" in capsys.readouterr().err


def test_empty_feature_list_is_refused_before_the_model_runs(fuzz_workspace):
    # The model got a table without columns and failed on the probe batch, naming no key.
    _, outcome = _run(fuzz_workspace, "no-features", edit=lambda p: p["data"].update(features=[]))
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["data.features"])
    assert "data.features" in outcome.stderr and "no input columns" in outcome.stderr
    assert "probe batch" not in outcome.stderr


def test_header_only_csv_says_it_has_no_rows(fuzz_workspace, tmp_path):
    # With no rows every column read as text: "column 'age' holds string values" instead of "empty".
    data = tmp_path / "header.csv"
    data.write_text(",".join(base_frame().columns) + "\n")
    _, outcome = _run(fuzz_workspace, "header-only", "--data", str(data))
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, [str(data)])
    assert f"{data}: a header line but no data rows (0 rows)" in outcome.stderr
    assert "string values" not in outcome.stderr


def test_header_only_csv_beside_others_in_a_folder_is_not_refused_for_that(fuzz_workspace, tmp_path):
    # Only a lone empty file is refused at the header: in a folder, the other files hold the rows.
    folder = tmp_path / "parts"
    folder.mkdir()
    df = base_frame()
    (folder / "a.csv").write_text(",".join(df.columns) + "\n")
    df.to_csv(folder / "b.csv", index=False)
    _, outcome = _run(fuzz_workspace, "header-folder", "--data", str(folder))
    assert "no data rows" not in outcome.stderr
    assert outcome.code in (0, 1), outcome.stderr
    assert not problems(outcome)
    # The audit read every row of b.csv (a.csv adds none).
    results = next(outcome.out.glob("*/results.json"))
    assert json.loads(results.read_text())["evalsets"]["base"]["rows"] == len(df)


def test_negative_severity_of_a_perturbed_set_is_a_policy_error(fuzz_workspace, capsys):
    # It passed validation; every check on the set became ERROR when the set was built (exit 1).
    def edit(p):
        p["evalsets"] = {"noisy": {"kind": "perturbed.noise", "severity": -1.0}}
        p["checks"][0]["evalset"] = "noisy"
        p["checks"].append({"id": "performance.accuracy", "evalset": "perturbed.missing@-0.5",
                            "threshold": {"min": 0.5}})

    policy, outcome = _run(fuzz_workspace, "negative-severity", edit=edit)
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["evalsets.noisy.severity"])
    assert "evalsets.noisy.severity" in outcome.stderr and "found -1.0" in outcome.stderr
    assert "checks[2].evalset" in outcome.stderr and "found -0.5" in outcome.stderr
    # A shifted set keeps its signed severity (the direction of the shift).
    ok = write_policy(fuzz_workspace, "signed-shift", edit=lambda p: p["checks"][0].update(
        evalset="shifted.covariate@-0.5"))
    assert main(["validate", "--schema-only", str(ok)]) == 0, capsys.readouterr().err
