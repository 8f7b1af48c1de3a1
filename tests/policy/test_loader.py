"""Bad policies: every problem is reported with key path and line, exit code 2."""

import json
import re
import textwrap

import pytest

from audit.cli import main
from audit.errors import PolicyError
from audit.policy import load_policy, policy_json_schema, validate_policy

VALID = """\
version: 1
name: test-policy
seed: 3
model:
  path: {model}
data:
  path: {data}
  target: repaid
  sensitive: [sex, age_band]
  reference: {train}
constraints:
  age: {{immutable: true, min: 18, max: 100}}
checks:
  - id: performance.accuracy
    threshold:
      min: 0.6
      warn_min: 0.7
  - id: performance.roc_auc
    threshold: {{min: 0.7}}
"""


def _valid(files):
    return VALID.format(model=files["model"], data=files["holdout"], train=files["train"])


# (name, edit of the valid text, key path expected in the message, line expected, other words expected)
CASES = [
    ("unknown top-level key", lambda t: t + "thresholds: {}\n", "thresholds", 20, ["unknown key"]),
    ("misspelt check id", lambda t: t.replace("performance.accuracy", "performance.acuracy"),
     "checks[0].id", 14, ["did you mean", "performance.accuracy"]),
    ("wrong type", lambda t: t.replace("seed: 3", "seed: three"), "seed", 3, ["integer", "three"]),
    ("min above max", lambda t: t.replace("min: 0.6", "min: 0.6\n      max: 0.5"),
     "checks[0].threshold", 15, ["above max"]),
    ("missing data file", lambda t: re.sub(r"\S*holdout\.parquet", "/nonexistent/holdout.parquet", t),
     "data.path", 7, ["file not found"]),
    ("bad YAML", lambda t: t.replace("sensitive: [sex, age_band]", "sensitive: [sex, age_band"),
     "", 10, ["invalid YAML"]),
    ("duplicate check", lambda t: t + "  - id: performance.roc_auc\n    threshold: {min: 0.7}\n",
     "checks[2]", 20, ["duplicate of checks[1]"]),
    ("unknown threshold key", lambda t: t.replace("warn_min: 0.7", "minimum: 0.7"),
     "checks[0].threshold.minimum", 17, ["did you mean 'min'"]),
    ("missing target", lambda t: t.replace("  target: repaid\n", ""), "data.target", 6, ["missing"]),
    ("unsupported version", lambda t: t.replace("version: 1", "version: 2"), "version", 1, ["1", "2"]),
    ("unknown check parameter", lambda t: t.replace("    threshold: {min: 0.7}", "    params: {bogus: 1}\n    threshold: {min: 0.7}"),
     "checks[1].params.bogus", 19, ["unknown key"]),
    ("unknown evaluation set", lambda t: t.replace("  - id: performance.roc_auc\n", "  - id: performance.roc_auc\n    evalset: nosuch.kind@0.1\n"),
     "checks[1].evalset", 19, ["unknown evaluation set"]),
    ("bad decision", lambda t: t.replace("warn_min: 0.7", "decision: maybe"),
     "checks[0].threshold.decision", 17, ["point", "interval", "maybe"]),
    ("threshold without bounds", lambda t: t.replace("threshold: {min: 0.7}", "threshold: {blocking: true}"),
     "checks[1].threshold", 19, ["at least one bound"]),
    ("duplicate YAML key", lambda t: t.replace("seed: 3", "seed: 3\nseed: 4"), "seed", 4, ["twice"]),
    ("model path and entrypoint", lambda t: t.replace("model:\n", "model:\n  entrypoint: a.b:c\n"),
     "model", 4, ["exactly one"]),
    ("constraint min above max", lambda t: t.replace("min: 18, max: 100", "min: 100, max: 18"),
     "constraints.age", 12, ["above max"]),
    ("no checks", lambda t: t.split("checks:")[0] + "checks: []\n", "checks", 13, ["at least 1"]),
    ("warn bound outside fail bound", lambda t: t.replace("warn_min: 0.7", "warn_min: 0.5"),
     "checks[0].threshold", 15, ["never warn"]),
    ("confidence out of range", lambda t: t.replace("seed: 3", "seed: 3\ndefaults: {confidence: 1.5}"),
     "defaults.confidence", 4, ["less than 1"]),
    ("missing model file", lambda t: re.sub(r"\S*model\.skops", "/nonexistent/model.skops", t),
     "model.path", 5, ["file not found"]),
]


@pytest.mark.parametrize("name,edit,path,line,words", CASES, ids=[c[0] for c in CASES])
def test_bad_policy_exit_2_names_key_and_line(name, edit, path, line, words, demo_files, tmp_path, capsys):
    f = tmp_path / "policy.yaml"
    f.write_text(edit(_valid(demo_files)))
    code = main(["validate", str(f)])
    err = capsys.readouterr().err
    assert code == 2, err
    # One line per problem: FILE:LINE: KEY: MESSAGE (what editors and pre-commit show).
    assert f"{f}:{line}: {path or '<policy>'}: " in err, err
    for w in words:
        assert w in err, (w, err)
    # The same problem, raised by load_policy, names key and line the same way.
    with pytest.raises(PolicyError) as info:
        load_policy(f)
    assert any(p.path == path and p.line == line for p in info.value.problems), info.value


def test_cases_table_has_at_least_15():
    assert len(CASES) >= 15


def test_valid_policy_loads(demo_files, tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text(_valid(demo_files))
    lp = load_policy(f)
    assert lp.policy.name == "test-policy"
    assert len(lp.sha256) == 64
    assert main(["validate", str(f)]) == 0


def test_every_problem_reported_together(demo_files, tmp_path):
    text = _valid(demo_files).replace("seed: 3", "seed: x").replace(
        "performance.accuracy", "performance.acuracy").replace("warn_min: 0.7", "minimum: 0.7")
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(f)
    paths = {p.path for p in info.value.problems}
    assert {"seed", "checks[0].id", "checks[0].threshold.minimum"} <= paths


def test_missing_policy_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_schema_command_prints_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(policy_json_schema()))
    assert "checks" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_shipped_policies_are_valid():
    # The ready-made policies parse against the schema and name only registered checks;
    # their data paths point at the demo folder, so only schema-level problems count here.
    from pathlib import Path

    files = sorted((Path(__file__).parents[2] / "policies").glob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        checked = validate_policy(f, check_files=False)
        assert checked.is_baseline == (f.name == "org-baseline.yaml"), f.name


def test_dedent_helper_is_consistent():
    # Guard for the table above: line numbers refer to this exact layout.
    assert textwrap.dedent(VALID).splitlines()[13] == "  - id: performance.accuracy"
