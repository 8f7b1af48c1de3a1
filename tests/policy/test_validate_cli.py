"""`audit validate`: many files, one line per problem, --schema-only, --show-effective, exit codes."""

import re
from datetime import date

import pytest

from audit.cli import main
from audit.policy import load_policy, load_yaml

GOOD = """\
version: 1
name: good
model: {path: model.skops}
data: {path: holdout.parquet, target: repaid, sensitive: [sex]}
checks:
  - id: performance.accuracy
    threshold: {min: 0.6}
"""

BAD = GOOD.replace("name: good", "name: bad\nseed: '3'").replace("{min: 0.6}", "{minimum: 0.6}")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    return tmp_path


def test_schema_only_needs_no_data_files(files, capsys):
    good = str(files / "good.yaml")
    assert main(["validate", good]) == 2                     # model and data files are missing
    err = capsys.readouterr().err
    assert f"{good}:3: model.path: file not found" in err and f"{good}:4: data.path: file not found" in err
    assert main(["validate", "--schema-only", good]) == 0
    assert capsys.readouterr().out == f"{good}: valid (policy 'good', 1 checks)\n"


def test_many_files_one_line_per_problem_exit_2_if_any_is_bad(files, capsys):
    good, bad = str(files / "good.yaml"), str(files / "bad.yaml")
    assert main(["validate", "--schema-only", good, bad]) == 2
    out, err = capsys.readouterr()
    assert out == f"{good}: valid (policy 'good', 1 checks)\n"
    lines = err.splitlines()
    assert lines == [
        f"{bad}:3: seed: input should be a valid integer; found '3' (a string; write the number without quotes)",
        f"{bad}:8: checks[0].threshold.minimum: unknown key 'minimum'; expected one of ['blocking', "
        "'decision', 'locked', 'max', 'max_regression', 'min', 'min_samples', 'reference', 'warn_max', "
        "'warn_min']; did you mean 'min'?",
    ]
    for line in lines:
        assert re.fullmatch(r"[^:]+:\d+: [\w.\[\]]+: .+", line), line


def test_all_good_files_exit_0(files, capsys):
    (files / "good2.yaml").write_text(GOOD.replace("name: good", "name: good2"))
    assert main(["validate", "--schema-only", str(files / "good.yaml"), str(files / "good2.yaml")]) == 0
    assert capsys.readouterr().out.count(": valid (policy") == 2


def test_missing_file_and_yaml_error_are_one_line_each(files, capsys):
    (files / "broken.yaml").write_text("version: 1\nname: [x\n")
    assert main(["validate", str(files / "nope.yaml"), str(files / "broken.yaml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{files / 'nope.yaml'}: <policy>: policy file not found: {files / 'nope.yaml'}"
    assert err[1].startswith(f"{files / 'broken.yaml'}:3: <policy>: invalid YAML")
    assert len(err) == 2


def test_show_effective_prints_the_merged_policy_as_yaml(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(
        "version: 1\nname: base\nbaseline: true\ndefaults: {n_boot: 500}\n"
        "checks:\n  - {id: performance.roc_auc, threshold: {min: 0.7, locked: true}}\n")
    (tmp_path / "child.yaml").write_text(GOOD.replace("name: good", "name: child\nextends: [base.yaml]"))
    assert main(["validate", "--schema-only", "--show-effective", str(tmp_path / "child.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == f"{tmp_path / 'child.yaml'}: valid (policy 'child', 2 checks, extends base.yaml)\n"
    doc = load_yaml(out).data                                 # stdout is YAML only
    assert doc == load_policy(tmp_path / "child.yaml", check_files=False).document
    assert [c["id"] for c in doc["checks"]] == ["performance.roc_auc", "performance.accuracy"]
    assert doc["defaults"] == {"n_boot": 500} and "extends" not in doc
    assert out.startswith("# Effective policy child.yaml")


def test_show_effective_of_several_files_is_a_yaml_stream(files, capsys):
    (files / "good2.yaml").write_text(GOOD.replace("name: good", "name: good2"))
    assert main(["validate", "--schema-only", "--show-effective", str(files / "good.yaml"),
                 str(files / "good2.yaml")]) == 0
    import yaml

    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["name"] for d in docs] == ["good", "good2"]


def test_baselines_and_overdue_reviews(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text("version: 1\nname: base\nbaseline: true\n"
                                        "checks:\n  - {id: performance.roc_auc, threshold: {min: 0.7}}\n")
    (tmp_path / "old.yaml").write_text(GOOD.replace("name: good", "name: old\nreview_by: 2001-01-01"))
    assert main(["validate", "--schema-only", str(tmp_path / "base.yaml"), str(tmp_path / "old.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'base.yaml'}: valid (baseline 'base', 1 checks)" in out
    assert f"{tmp_path / 'old.yaml'}: note: review_by 2001-01-01 has passed" in out
    assert date.today() > date(2001, 1, 1)


def test_run_refuses_a_baseline(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text("version: 1\nname: base\nbaseline: true\n")
    assert main(["run", str(tmp_path / "base.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "this file is a baseline" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
