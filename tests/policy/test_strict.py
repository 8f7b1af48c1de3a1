"""Strict, finite, ordered values: no lax coercion, no .nan, bounds in order, every problem at once."""

import pytest

from audit.errors import PolicyError
from audit.policy import load_policy

BASE = """\
version: 1
name: strict
seed: 3
model: {path: model.skops}
data: {path: holdout.parquet, target: repaid, sensitive: [sex]}
defaults: {n_boot: 1000}
constraints:
  age: {min: 18, max: 100}
evalsets:
  noisy: {kind: perturbed.noise, severity: 0.2}
checks:
  - id: performance.accuracy
    threshold: {min: 0.6, warn_min: 0.7}
  - id: performance.expected_calibration_error
    params: {n_bins: 10}
    threshold: {max: 0.1, max_regression: {absolute: 0.02}}
"""


def _load(tmp_path, text):
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    return load_policy(f, check_files=False)


def _problems(tmp_path, text):
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, text)
    return info.value.problems


def test_base_is_valid(tmp_path):
    p = _load(tmp_path, BASE).policy
    # Integers where floats are expected stay fine (and become floats).
    assert p.constraints["age"].min == 18.0 and isinstance(p.constraints["age"].min, float)
    assert p.checks[0].threshold.min == 0.6


# (name, edit, key path, line, words)
CASES = [
    ("version as a float", ("version: 1", "version: 1.0"), "version", 1, ["integer 1", "1.0", "float"]),
    ("version as a bool", ("version: 1", "version: true"), "version", 1, ["integer 1", "True"]),
    ("quoted integer", ("n_boot: 1000", "n_boot: '1000'"), "defaults.n_boot", 6,
     ["valid integer", "'1000'", "without quotes"]),
    ("float for an integer", ("n_boot: 1000", "n_boot: 1000.0"), "defaults.n_boot", 6,
     ["valid integer", "decimal point"]),
    ("quoted boolean", ("{min: 0.6, warn_min: 0.7}", "{min: 0.6, warn_min: 0.7, blocking: 'yes'}"),
     "checks[0].threshold.blocking", 13, ["valid boolean", "'yes'", "true or false"]),
    ("YAML 1.1 yes is a string", ("{min: 0.6, warn_min: 0.7}", "{min: 0.6, warn_min: 0.7, blocking: yes}"),
     "checks[0].threshold.blocking", 13, ["valid boolean", "'yes'"]),
    ("quoted float", ("{min: 0.6, warn_min: 0.7}", "{min: '0.6', warn_min: 0.7}"),
     "checks[0].threshold.min", 13, ["valid number", "'0.6'"]),
    ("nan bound", ("{min: 0.6, warn_min: 0.7}", "{min: .nan, warn_min: 0.7}"),
     "checks[0].threshold.min", 13, ["finite number", "nan"]),
    ("inf bound", ("max: 0.1,", "max: .inf,"), "checks[1].threshold.max", 16, ["finite number", "inf"]),
    ("nan regression", ("absolute: 0.02", "absolute: .nan"), "checks[1].threshold.max_regression.absolute",
     16, ["finite number"]),
    ("nan severity", ("severity: 0.2", "severity: .nan"), "evalsets.noisy.severity", 10, ["finite number"]),
    ("inf constraint bound", ("{min: 18, max: 100}", "{min: 18, max: .inf}"), "constraints.age.max", 8,
     ["finite number"]),
    ("nan check parameter", ("n_bins: 10", "n_bins: .nan"), "checks[1].params.n_bins", 15,
     ["valid integer"]),
    ("quoted check parameter", ("n_bins: 10", "n_bins: '10'"), "checks[1].params.n_bins", 15,
     ["valid integer", "'10'"]),
    ("negative seed", ("seed: 3", "seed: -1"), "seed", 3, ["greater than or equal to 0", "-1"]),
    ("list pos_label", ("seed: 3", "seed: 3\npos_label: [1, 0]"), "pos_label", 4,
     ["single class label", "[1, 0]"]),
    ("nan pos_label", ("seed: 3", "seed: 3\npos_label: .nan"), "pos_label", 4, ["finite"]),
    ("warn_min above warn_max", ("{min: 0.6, warn_min: 0.7}", "{min: 0.6, warn_min: 0.9, warn_max: 0.8}"),
     "checks[0].threshold", 13, ["warn_min (0.9) is above warn_max (0.8)"]),
    ("min above warn_max", ("{min: 0.6, warn_min: 0.7}", "{min: 0.6, warn_max: 0.5}"),
     "checks[0].threshold", 13, ["min (0.6) is above warn_max (0.5)"]),
    ("warn_min above max", ("max: 0.1,", "max: 0.1, warn_min: 0.2,"),
     "checks[1].threshold", 16, ["warn_min (0.2) is above max (0.1)"]),
    ("categories with a numeric range", ("{min: 18, max: 100}", "{min: 18, categories: [a, b]}"),
     "constraints.age", 8, ["categories describe a non-numeric feature", "['min']"]),
    ("categories with integer", ("{min: 18, max: 100}", "{integer: true, categories: [a, b]}"),
     "constraints.age", 8, ["['integer']"]),
    ("repeated categories", ("{min: 18, max: 100}", "{categories: [a, b, a]}"), "constraints.age", 8,
     ["categories repeat ['a']"]),
    ("empty categories", ("{min: 18, max: 100}", "{categories: []}"), "constraints.age.categories", 8,
     ["at least 1"]),
    ("nested category", ("{min: 18, max: 100}", "{categories: [a, [b]]}"), "constraints.age.categories[1]", 8,
     ["expected bool, int, float or str", "['b']"]),
    ("trust in the policy", ("model: {path: model.skops}", "model: {path: model.skops, trust: true}"),
     "model.trust", 4, ["cannot grant trust", "--trust-model", "AUDIT_TRUST_MODEL=1"]),
    ("trust in models", ("model: {path: model.skops}", "models:\n  - {name: a, path: m.skops, trust: true}"),
     "models[0].trust", 5, ["cannot grant trust", "--trust-model"]),
    ("unknown framework", ("seed: 3", "seed: 3\nframeworks: [eu-ai-akt]"), "frameworks[0]", 4,
     ["eu-ai-act", "did you mean 'eu-ai-act'"]),
    ("repeated framework", ("seed: 3", "seed: 3\nframeworks: [nist-ai-rmf, nist-ai-rmf]"), "frameworks", 4,
     ["repeat ['nist-ai-rmf']"]),
    ("impossible review date", ("seed: 3", "seed: 3\nreview_by: '2025-02-30'"), "review_by", 4,
     ["ISO date", "2025-02-30"]),
    ("review timestamp", ("seed: 3", "seed: 3\nreview_by: 2025-06-30 10:00:00"), "review_by", 4,
     ["not a timestamp"]),
    ("review date in words", ("seed: 3", "seed: 3\nreview_by: next spring"), "review_by", 4, ["ISO date"]),
    ("empty owner", ("seed: 3", "seed: 3\nowner: ''"), "owner", 4, ["at least 1 character"]),
    ("misspelt evaluation-set kind", ("  - id: performance.accuracy\n",
                                      "  - id: performance.accuracy\n    evalset: perturbed.nosie@0.1\n"),
     "checks[0].evalset", 13, ["unknown evaluation set 'perturbed.nosie@0.1'", "did you mean 'perturbed.noise'"]),
    ("misspelt evalset name", ("  - id: performance.accuracy\n",
                               "  - id: performance.accuracy\n    evalset: noisyy\n"),
     "checks[0].evalset", 13, ["did you mean the evaluation set 'noisy'"]),
    ("infinite severity in a name", ("  - id: performance.accuracy\n",
                                     "  - id: performance.accuracy\n    evalset: perturbed.noise@1e999\n"),
     "checks[0].evalset", 13, ["finite number"]),
    ("misspelt evalset kind", ("kind: perturbed.noise", "kind: perturbed.noize"), "evalsets.noisy.kind", 10,
     ["did you mean 'perturbed.noise'"]),
    ("sensitive as a string", ("sensitive: [sex]", "sensitive: sex"), "data.sensitive", 5, ["valid list"]),
    ("check taking no parameters", ("  - id: performance.accuracy\n",
                                    "  - id: performance.accuracy\n    params: {n_bins: 3}\n"),
     "checks[0].params.n_bins", 13, ["takes no parameters"]),
]


@pytest.mark.parametrize("name,edit,path,line,words", CASES, ids=[c[0] for c in CASES])
def test_strictness_case_names_key_and_line(name, edit, path, line, words, tmp_path):
    old, new = edit
    assert old in BASE
    problems = _problems(tmp_path, BASE.replace(old, new, 1))
    hits = [p for p in problems if p.path == path]
    assert hits, problems
    assert hits[0].line == line, hits
    for w in words:
        assert w in hits[0].message, (w, hits[0].message)


def test_equal_bounds_are_allowed(tmp_path):
    th = _load(tmp_path, BASE.replace("{min: 0.6, warn_min: 0.7}",
                                      "{min: 0.6, warn_min: 0.6, warn_max: 0.6, max: 0.6}")).policy.checks[0].threshold
    assert (th.min, th.warn_min, th.warn_max, th.max) == (0.6, 0.6, 0.6, 0.6)


def test_exponent_floats_and_quoted_dates_are_read(tmp_path):
    p = _load(tmp_path, BASE.replace("max: 0.1,", "max: 1e-1,").replace(
        "seed: 3", "seed: 3\nreview_by: '2026-01-31'\nframeworks: [eu-ai-act, iso-42001]")).policy
    assert p.checks[1].threshold.max == 0.1
    assert p.review_by.isoformat() == "2026-01-31"
    assert p.frameworks == ["eu-ai-act", "iso-42001"]


def test_scalar_pos_labels_are_kept_as_written(tmp_path):
    for text, value in [("1", 1), ("'yes'", "yes"), ("true", True), ("0.5", 0.5)]:
        p = _load(tmp_path, BASE.replace("seed: 3", f"seed: 3\npos_label: {text}")).policy
        assert p.pos_label == value and type(p.pos_label) is type(value)


def test_trust_is_never_granted_by_the_policy(tmp_path):
    p = _load(tmp_path, BASE).policy
    assert p.model.trust is False
    assert "trust" not in type(p.model).model_fields


def test_all_problems_in_one_run_including_the_evaluation_set(tmp_path):
    # The misspelt kind used to be reported only once every other problem was fixed.
    text = (BASE.replace("  - id: performance.accuracy\n",
                         "  - id: performance.accuracy\n    evalset: perturbed.nosie@0.1\n")
            .replace("seed: 3", "seed: -3").replace("n_boot: 1000", "n_boot: '1000'")
            .replace("{min: 0.6, warn_min: 0.7}", "{min: .nan, warn_min: 0.7, blocking: 'yes'}")
            .replace("version: 1", "version: 1.0")
            .replace("performance.expected_calibration_error", "performance.expected_calibraton_error"))
    problems = _problems(tmp_path, text)
    paths = {p.path for p in problems}
    assert {"version", "seed", "defaults.n_boot", "checks[0].evalset", "checks[0].threshold.min",
            "checks[0].threshold.blocking", "checks[1].id"} <= paths, problems
    by_path = {p.path: p for p in problems}
    assert "did you mean 'perturbed.noise'" in by_path["checks[0].evalset"].message
    assert "did you mean 'performance.expected_calibration_error'" in by_path["checks[1].id"].message
    # Sorted by line, as a reader goes through the file.
    lines = [p.line for p in problems]
    assert lines == sorted(lines)
