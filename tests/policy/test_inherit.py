"""Policy inheritance: every merge rule, remove, locked, cycles, missing files, provenance."""

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from audit.errors import PolicyError
from audit.policy import Provenance, effective_yaml, load_policy, validate_policy
from audit.policy._yaml import load_yaml
from audit.policy.inherit import MAX_BASELINES, loosenings

BASE = """\
version: 1
name: base
baseline: true
owner: risk
approved_by: committee
review_by: 2030-01-01
frameworks: [nist-ai-rmf]
seed: 1
data: {target: repaid, sensitive: [sex, age_band], reference: ref.parquet}
defaults: {confidence: 0.9, n_boot: 500, min_group_size: 40}
constraints:
  age: {immutable: true, min: 18}
evalsets:
  noisy: {kind: perturbed.noise, severity: 0.2}
execution: {executor: local, partition_rows: 5000}
checks:
  - id: performance.roc_auc
    threshold: {min: 0.7, warn_min: 0.8, locked: true, reference: "MRS-3"}
  - id: performance.accuracy
    threshold: {min: 0.6}
  - id: fairness.demographic_parity_ratio
    threshold: {min: 0.8, locked: true}
  - id: performance.expected_calibration_error
    params: {n_bins: 10}
    threshold: {max: 0.1, locked: true}
  - id: performance.recall
    name: recall-noisy
    evalset: noisy
    threshold: {min: 0.5}
"""

CHILD = """\
version: 1
name: child
extends: [base.yaml]
model: {path: m.skops}
data: {path: hold.parquet}
checks:
  - id: performance.f1
    threshold: {min: 0.5}
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


def _load(tmp_path, files, top="child.yaml", **kw):
    _write(tmp_path, files)
    return load_policy(tmp_path / top, check_files=False, **kw)


def _problems(tmp_path, files, top="child.yaml"):
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, files, top)
    return info.value.problems


def _check(policy, cid, name=None):
    (c,) = [c for c in policy.checks if c.id == cid and c.name == name]
    return c


# -- merge rules -------------------------------------------------------------------------------

def test_child_adds_checks_after_the_inherited_ones(tmp_path):
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": CHILD}).policy
    assert [c.id for c in p.checks] == ["performance.roc_auc", "performance.accuracy",
                                        "fairness.demographic_parity_ratio",
                                        "performance.expected_calibration_error", "performance.recall",
                                        "performance.f1"]
    assert "extends" not in p.model_fields_set and p.extends is None and p.remove is None


def test_threshold_keys_merge_one_by_one(tmp_path):
    child = CHILD + "  - id: performance.roc_auc\n    threshold: {min: 0.75}\n"
    th = _check(_load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy, "performance.roc_auc").threshold
    assert (th.min, th.warn_min, th.locked, th.reference) == (0.75, 0.8, True, "MRS-3")


def test_unlocked_threshold_may_be_loosened(tmp_path):
    child = CHILD + "  - id: performance.accuracy\n    threshold: {min: 0.4, blocking: false}\n"
    th = _check(_load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy, "performance.accuracy").threshold
    assert (th.min, th.blocking) == (0.4, False)


def test_identity_uses_the_default_evaluation_set_and_the_name(tmp_path):
    # 'evalset: base' written out is the same check as the baseline's default; a name makes a new one.
    child = CHILD + ("  - id: performance.accuracy\n    evalset: base\n    threshold: {min: 0.65}\n"
                     "  - id: performance.accuracy\n    name: strict\n    threshold: {min: 0.9}\n"
                     "  - id: performance.recall\n    name: recall-noisy\n    evalset: noisy\n"
                     "    threshold: {min: 0.55}\n")
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy
    assert _check(p, "performance.accuracy").threshold.min == 0.65
    assert _check(p, "performance.accuracy", "strict").threshold.min == 0.9
    assert _check(p, "performance.recall", "recall-noisy").threshold.min == 0.55
    assert len(p.checks) == 7


def test_blocks_merge_key_by_key_lists_replace_and_child_wins(tmp_path):
    child = CHILD.replace("data: {path: hold.parquet}", """\
data: {path: hold.parquet, sensitive: [sex]}
defaults: {n_boot: 2000}
constraints:
  age: {max: 99}
  income: {min: 0}
evalsets:
  noisy: {severity: 0.3}
execution: {workers: 2}
seed: 7""")
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy
    assert p.data.target == "repaid" and p.data.path == "hold.parquet"
    assert p.data.sensitive == ["sex"]                                  # lists are replaced
    assert (p.defaults.confidence, p.defaults.n_boot, p.defaults.min_group_size) == (0.9, 2000, 40)
    assert p.constraints["age"].model_dump(exclude_defaults=True) == {"immutable": True, "min": 18, "max": 99}
    assert p.constraints["income"].min == 0
    assert (p.evalsets["noisy"].kind, p.evalsets["noisy"].severity) == ("perturbed.noise", 0.3)
    assert (p.execution.executor, p.execution.partition_rows, p.execution.workers) == ("local", 5000, 2)
    assert p.seed == 7 and p.frameworks == ["nist-ai-rmf"]


def test_null_removes_an_inherited_value(tmp_path):
    child = CHILD.replace("data: {path: hold.parquet}", "data: {path: hold.parquet, reference: null}\n"
                          "defaults: {n_boot: null}") + \
        "  - id: performance.accuracy\n    threshold: {min: 0.6, max: 0.99}\n" \
        "  - id: performance.recall\n    name: recall-noisy\n    evalset: noisy\n    threshold: {min: null, max: 0.99}\n"
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy
    assert p.data.reference is None
    assert p.defaults.n_boot == 1000                                    # the schema's default again
    th = _check(p, "performance.recall", "recall-noisy").threshold
    assert (th.min, th.max) == (None, 0.99)


def test_metadata_describes_one_file_and_is_not_inherited(tmp_path):
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": CHILD}).policy
    assert (p.name, p.owner, p.approved_by, p.review_by, p.baseline) == ("child", None, None, None, False)
    child = CHILD.replace("name: child", "name: child\nowner: lending\nreview_by: 2027-03-31")
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).policy
    assert (p.owner, p.review_by.isoformat()) == ("lending", "2027-03-31")


def test_several_baselines_later_wins_and_child_wins_over_all(tmp_path):
    a = "version: 1\nname: a\nbaseline: true\nseed: 1\ndefaults: {n_boot: 100, min_group_size: 11}\n" \
        "checks:\n  - {id: performance.accuracy, threshold: {min: 0.5}}\n"
    b = "version: 1\nname: b\nbaseline: true\nseed: 2\ndefaults: {n_boot: 200}\n" \
        "checks:\n  - {id: performance.accuracy, threshold: {min: 0.6}}\n  - {id: performance.f1, threshold: {min: 0.1}}\n"
    child = "version: 1\nname: c\nextends: [a.yaml, b.yaml]\nmodel: {path: m.skops}\n" \
            "data: {path: d.parquet, target: y}\ndefaults: {n_boot: 300}\n" \
            "checks:\n  - {id: performance.f1, threshold: {min: 0.2}}\n"
    lp = _load(tmp_path, {"a.yaml": a, "b.yaml": b, "child.yaml": child})
    p = lp.policy
    assert (p.seed, p.defaults.n_boot, p.defaults.min_group_size) == (2, 300, 11)
    assert [(c.id, c.threshold.min) for c in p.checks] == [("performance.accuracy", 0.6), ("performance.f1", 0.2)]
    assert [f.name for f in lp.provenance.files] == ["a.yaml", "b.yaml", "child.yaml"]
    acc = lp.provenance.checks[0]
    assert acc.added_by.file == "a.yaml" and acc.changed_by == ["b.yaml"]
    assert acc.threshold["min"].file == "b.yaml"


def test_chain_and_diamond(tmp_path):
    root = "version: 1\nname: root\nbaseline: true\nchecks:\n  - {id: performance.accuracy, threshold: {min: 0.5}}\n"
    left = "version: 1\nname: left\nbaseline: true\nextends: [root.yaml]\n" \
           "checks:\n  - {id: performance.accuracy, threshold: {min: 0.55}}\n"
    right = "version: 1\nname: right\nbaseline: true\nextends: [root.yaml]\n" \
            "checks:\n  - {id: performance.f1, threshold: {min: 0.3}}\n"
    child = "version: 1\nname: c\nextends: [left.yaml, right.yaml]\nmodel: {path: m.skops}\n" \
            "data: {path: d.parquet, target: y}\nchecks: []\n"
    lp = _load(tmp_path, {"root.yaml": root, "left.yaml": left, "right.yaml": right, "child.yaml": child})
    # root.yaml is read once; right.yaml's copy of root's accuracy check merges into left's.
    assert [f.name for f in lp.provenance.files] == ["root.yaml", "left.yaml", "right.yaml", "child.yaml"]
    assert [(c.id, c.threshold.min) for c in lp.policy.checks] == [("performance.accuracy", 0.5),
                                                                   ("performance.f1", 0.3)]
    assert [f.extends for f in lp.provenance.files] == [[], ["root.yaml"], ["root.yaml"],
                                                        ["left.yaml", "right.yaml"]]


def test_baseline_in_another_folder_keeps_its_file_paths(tmp_path):
    base = "version: 1\nname: shared\nbaseline: true\nmodel: {path: models/m.skops}\n" \
           "data: {path: data/*.parquet, target: y, reference: data/train.parquet}\n" \
           "checks:\n  - {id: performance.accuracy, threshold: {min: 0.5}}\n"
    child = "version: 1\nname: c\nextends: [../shared/base.yaml]\n"
    _write(tmp_path, {"shared/base.yaml": base, "team/child.yaml": child,
                      "shared/models/m.skops": "x", "shared/data/train.parquet": "x",
                      "shared/data/part-0.parquet": "x"})
    lp = load_policy(tmp_path / "team" / "child.yaml")       # files checked: they must be found
    assert lp.policy.model.path == "../shared/models/m.skops"
    assert lp.resolve(lp.policy.data.reference).resolve() == (tmp_path / "shared/data/train.parquet").resolve()
    assert lp.provenance.files[0].name == "../shared/base.yaml"


# -- remove ------------------------------------------------------------------------------------

def test_remove_with_reason_is_recorded(tmp_path):
    child = CHILD.replace("checks:", "remove:\n  - {id: performance.accuracy, reason: \"balanced accuracy instead\"}\n"
                          "  - {id: performance.recall, evalset: noisy, name: recall-noisy, reason: no noise here}\n"
                          "checks:")
    lp = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child})
    assert {c.id for c in lp.policy.checks} == {"performance.roc_auc", "fairness.demographic_parity_ratio",
                                                "performance.expected_calibration_error", "performance.f1"}
    r = {x.id: x for x in lp.provenance.removed}
    assert r["performance.accuracy"].reason == "balanced accuracy instead"
    assert r["performance.accuracy"].removed_by.model_dump() == {"file": "child.yaml", "line": 7}
    assert r["performance.accuracy"].defined_in.model_dump() == {"file": "base.yaml", "line": 19}
    assert r["performance.accuracy"].threshold == {"min": 0.6}
    assert (r["performance.recall"].evalset, r["performance.recall"].name) == ("noisy", "recall-noisy")


@pytest.mark.parametrize("entry,words", [
    ("{id: performance.accuracy}", ["remove[0].reason", "required key 'reason'"]),
    ("{id: performance.accuracy, reason: '  '}", ["remove[0].reason", "pattern"]),
    ("{id: performance.acuracy, reason: x}", ["remove[0]", "removes nothing", "did you mean 'performance.accuracy'"]),
    ("{id: performance.recall, reason: x}", ["remove[0]", "removes nothing", "named 'recall-noisy'"]),
    ("{id: performance.roc_auc, reason: x}", ["remove[0]", "cannot remove", "base.yaml, line 18"]),
    ("{id: performance.f1, reason: x}", ["remove[0]", "removes nothing"]),
])
def test_bad_removals(entry, words, tmp_path):
    child = CHILD.replace("checks:", f"remove:\n  - {entry}\nchecks:")
    problems = _problems(tmp_path, {"base.yaml": BASE, "child.yaml": child})
    text = "\n".join(str(p) for p in problems)
    for w in words:
        assert w in text, text
    assert all(p.line == 7 for p in problems if p.path.startswith("remove[0]")), problems


def test_remove_and_relist_is_an_error(tmp_path):
    child = CHILD.replace("checks:", "remove:\n  - {id: performance.accuracy, reason: x}\nchecks:") + \
        "  - {id: performance.accuracy, threshold: {min: 0.1}}\n"
    (p,) = [p for p in _problems(tmp_path, {"base.yaml": BASE, "child.yaml": child}) if p.path == "remove[0]"]
    assert "both removed and listed" in p.message


def test_remove_without_extends_is_an_error(tmp_path):
    text = CHILD.replace("extends: [base.yaml]\n", "").replace("{path: hold.parquet}", "{path: h, target: y}").replace(
        "checks:", "remove:\n  - {id: performance.accuracy, reason: x}\nchecks:")
    (p,) = _problems(tmp_path, {"child.yaml": text})
    assert p.path == "remove" and "extends nothing" in p.message


# -- locked ------------------------------------------------------------------------------------

LOOSEN = [
    ("performance.roc_auc", "{min: 0.69}", "lowers min from 0.7 to 0.69"),
    ("performance.roc_auc", "{warn_min: 0.75}", "lowers warn_min from 0.8 to 0.75"),
    ("performance.roc_auc", "{min: null}", "drops min (0.7)"),
    ("performance.roc_auc", "{blocking: false}", "makes it non-blocking"),
    ("performance.roc_auc", "{decision: interval}", "changes decision from the default to interval"),
    ("performance.roc_auc", "{locked: false}", "unlocks it"),
    ("performance.expected_calibration_error", "{max: 0.2}", "raises max from 0.1 to 0.2"),
    ("performance.expected_calibration_error", "{warn_max: 0.05, max: 0.1}", None),     # tightening
]


@pytest.mark.parametrize("cid,threshold,why", LOOSEN)
def test_locked_threshold_can_be_tightened_not_loosened(cid, threshold, why, tmp_path):
    child = CHILD + f"  - id: {cid}\n    threshold: {threshold}\n"
    files = {"base.yaml": BASE, "child.yaml": child}
    if why is None:
        _load(tmp_path, files)
        return
    problems = _problems(tmp_path, files)
    (p,) = [p for p in problems if "locked" in p.message]
    assert p.file is None and p.line == 10 and p.path == "checks[1].threshold"   # in the child
    assert why in p.message
    assert f"locked in {tmp_path / 'base.yaml'}, line " in p.message              # names both files
    assert "never loosen" in p.message


def test_locked_check_pins_the_parameters_its_baseline_sets(tmp_path):
    ok = CHILD + ("  - id: fairness.demographic_parity_ratio\n    params: {sensitive: [sex]}\n"
                  "    threshold: {min: 0.85, reference: ECOA}\n"
                  "  - id: performance.expected_calibration_error\n    params: {n_bins: 10}\n    threshold: {max: 0.05}\n")
    p = _load(tmp_path, {"base.yaml": BASE, "child.yaml": ok}).policy
    assert _check(p, "fairness.demographic_parity_ratio").params == {"sensitive": ["sex"]}
    bad = CHILD + "  - id: performance.expected_calibration_error\n    params: {n_bins: 20}\n    threshold: {max: 0.05}\n"
    (prob,) = [x for x in _problems(tmp_path, {"base.yaml": BASE, "child.yaml": bad}) if "locked" in x.message]
    assert "changes params.n_bins from 10 to 20" in prob.message


def test_lock_holds_across_two_baselines(tmp_path):
    a = "version: 1\nname: a\nbaseline: true\nchecks:\n  - {id: performance.accuracy, threshold: {min: 0.7, locked: true}}\n"
    b = "version: 1\nname: b\nbaseline: true\nchecks:\n  - {id: performance.accuracy, threshold: {min: 0.6}}\n"
    child = "version: 1\nname: c\nextends: [a.yaml, b.yaml]\nmodel: {path: m}\ndata: {path: d, target: y}\n"
    problems = _problems(tmp_path, {"a.yaml": a, "b.yaml": b, "child.yaml": child})
    (p,) = problems
    assert p.file == str(tmp_path / "b.yaml") and p.line == 5 and "locked in " in p.message
    assert str(tmp_path / "a.yaml") in p.message and "lowers min from 0.7 to 0.6" in p.message


@pytest.mark.parametrize("old,new,expected", [
    ({"min": 0.5}, {"min": 0.6}, []),
    ({"min": 0.5}, {"min": 0.5, "max": 0.9}, []),
    ({"max": 0.5}, {"max": 0.4, "warn_max": 0.3}, []),
    ({"min": 0.5, "min_samples": 100}, {"min": 0.5, "min_samples": 50}, ["lowers min_samples from 100 to 50"]),
    ({"min": 0.5, "min_samples": 100}, {"min": 0.5, "min_samples": 200}, []),
    ({"min": 0.5, "blocking": False}, {"min": 0.5, "blocking": True}, []),
    ({"max": 1, "max_regression": {"absolute": 0.02}}, {"max": 1, "max_regression": {"absolute": 0.05}},
     ["raises max_regression.absolute from 0.02 to 0.05"]),
    ({"max": 1, "max_regression": {"absolute": 0.02}}, {"max": 1}, ["drops max_regression"]),
    ({"max": 1, "max_regression": {"absolute": 0.02}}, {"max": 1, "max_regression": {"relative": 0.01}},
     ["not comparable"]),
    ({"min": 0.5, "reference": "A"}, {"min": 0.5, "reference": "B"}, []),
])
def test_loosenings_table(old, new, expected):
    got = loosenings({**old, "locked": True}, {**new, "locked": True})
    assert [w for w in got if not any(e in w for e in expected)] == [] and len(got) == len(expected), got


# -- files -------------------------------------------------------------------------------------

def test_cycle_names_the_files(tmp_path):
    a = "version: 1\nname: a\nbaseline: true\nextends: [b.yaml]\n"
    b = "version: 1\nname: b\nbaseline: true\nextends: [a.yaml]\n"
    child = CHILD.replace("[base.yaml]", "[a.yaml]")
    (p,) = _problems(tmp_path, {"a.yaml": a, "b.yaml": b, "child.yaml": child})
    assert p.file == str(tmp_path / "b.yaml") and p.path == "extends[0]" and p.line == 4
    assert f"inheritance cycle: {tmp_path / 'a.yaml'} -> {tmp_path / 'b.yaml'} -> {tmp_path / 'a.yaml'}" in p.message


def test_extending_itself_is_a_cycle(tmp_path):
    (p,) = _problems(tmp_path, {"child.yaml": CHILD.replace("[base.yaml]", "[child.yaml]")})
    assert p.path == "extends[0]" and p.line == 3 and "inheritance cycle" in p.message


def test_missing_baseline_names_both_files(tmp_path, capsys):
    from audit.cli import main

    _write(tmp_path, {"child.yaml": CHILD.replace("[base.yaml]", "[base.yaml, nope/org.yaml]"),
                      "base.yaml": BASE})
    assert main(["validate", "--schema-only", str(tmp_path / "child.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'child.yaml'}:3: extends[1]: baseline not found: 'nope/org.yaml' " \
           f"(looked for {tmp_path / 'nope' / 'org.yaml'})" in err


def test_problems_in_a_baseline_name_the_baseline_file_and_line(tmp_path, capsys):
    from audit.cli import main

    base = BASE.replace("defaults: {confidence: 0.9,", "defaults: {confidance: 0.9,").replace(
        "{min: 0.6}", "{min: 0.6, minimum: 1}")
    _write(tmp_path, {"base.yaml": base, "child.yaml": CHILD.replace("seed", "sed")})
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "child.yaml", check_files=False)
    by = {(p.file, p.path): p for p in info.value.problems}
    bf = str(tmp_path / "base.yaml")
    assert by[(bf, "defaults.confidance")].line == 10
    assert "did you mean 'confidence'" in by[(bf, "defaults.confidance")].message
    assert by[(bf, "checks[1].threshold.minimum")].line == 20
    assert main(["validate", "--schema-only", str(tmp_path / "child.yaml")]) == 2
    assert f"{bf}:20: checks[1].threshold.minimum: unknown key 'minimum'" in capsys.readouterr().err


def test_unsafe_yaml_in_a_baseline_is_refused(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    (p,) = _problems(tmp_path, {"base.yaml": bomb, "child.yaml": CHILD})
    assert p.file == str(tmp_path / "base.yaml") and "alias expansion" in p.message


def test_extends_must_be_a_list_of_local_files(tmp_path):
    (p,) = _problems(tmp_path, {"child.yaml": CHILD.replace("[base.yaml]", "base.yaml")})
    assert p.path == "extends" and "list of baseline policy files" in p.message
    (p,) = _problems(tmp_path, {"child.yaml": CHILD.replace("[base.yaml]", "[https://example.org/b.yaml]")})
    assert p.path == "extends[0]" and "local files" in p.message


def test_too_many_files(tmp_path):
    files = {f"b{i}.yaml": f"version: 1\nname: b{i}\nbaseline: true\nextends: [b{i + 1}.yaml]\n"
             for i in range(MAX_BASELINES + 2)}
    files[f"b{MAX_BASELINES + 2}.yaml"] = "version: 1\nname: last\nbaseline: true\n"
    files["child.yaml"] = CHILD.replace("[base.yaml]", "[b0.yaml]")
    problems = _problems(tmp_path, files)
    assert any(f"more than {MAX_BASELINES}" in p.message for p in problems)


def test_repeated_identity_in_a_file_taking_part_in_inheritance(tmp_path):
    child = CHILD + "  - id: performance.f1\n    threshold: {min: 0.6}\n"
    (p,) = _problems(tmp_path, {"base.yaml": BASE, "child.yaml": child})
    assert p.path == "checks[1]" and "give one a 'name'" in p.message


# -- baselines, provenance, effective policy ----------------------------------------------------

def test_a_baseline_validates_alone_but_does_not_run(tmp_path):
    _write(tmp_path, {"base.yaml": BASE})
    checked = validate_policy(tmp_path / "base.yaml", check_files=False)
    assert checked.is_baseline and len(checked.document["checks"]) == 5
    with pytest.raises(PolicyError, match="this file is a baseline") as info:
        load_policy(tmp_path / "base.yaml", check_files=False)
    assert info.value.problems[0].line == 3
    _write(tmp_path, {"bad.yaml": BASE.replace("seed: 1", "sede: 1")})
    with pytest.raises(PolicyError, match="did you mean 'seed'"):
        validate_policy(tmp_path / "bad.yaml", check_files=False)


def test_provenance_of_every_check_and_threshold_key(tmp_path):
    child = CHILD + "  - id: performance.roc_auc\n    threshold: {min: 0.72, decision: point}\n"
    child = child.replace("decision: point", "warn_max: 0.99")
    lp = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child})
    prov = lp.provenance
    assert prov.policy == "child.yaml" and prov.inherited
    assert [(f.name, f.sha256) for f in prov.files] == [
        (n, hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()) for n in ("base.yaml", "child.yaml")]
    assert (prov.files[0].owner, prov.files[0].review_by.isoformat()) == ("risk", "2030-01-01")
    assert [c.index for c in prov.checks] == list(range(len(lp.policy.checks)))
    auc = prov.checks[0]
    assert (auc.id, auc.evalset, auc.added_by.file, auc.added_by.line) == ("performance.roc_auc", "base", "base.yaml", 17)
    assert auc.changed_by == ["child.yaml"] and auc.locked_in == "base.yaml"
    assert {k: (o.file, o.line) for k, o in auc.threshold.items()} == {
        "min": ("child.yaml", 10), "warn_min": ("base.yaml", 18), "locked": ("base.yaml", 18),
        "reference": ("base.yaml", 18), "warn_max": ("child.yaml", 10)}
    f1 = prov.checks[-1]
    assert (f1.id, f1.added_by.file, f1.changed_by, f1.locked_in) == ("performance.f1", "child.yaml", [], None)
    assert prov.checks[4].evalset == "noisy" and prov.checks[4].name == "recall-noisy"
    assert prov.settings["defaults.n_boot"].file == "base.yaml"
    assert prov.settings["data.path"].model_dump() == {"file": "child.yaml", "line": 5}
    assert prov.settings["data.sensitive"].file == "base.yaml"


def test_provenance_is_json(tmp_path):
    child = CHILD.replace("checks:", "remove:\n  - {id: performance.accuracy, reason: why}\nchecks:")
    prov = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child}).provenance
    text = json.dumps(prov.to_json())
    back = Provenance.model_validate(json.loads(text))
    assert back == prov
    assert json.loads(text)["files"][0]["review_by"] == "2030-01-01"
    assert json.loads(text)["removed"][0]["reason"] == "why"


def test_single_file_provenance_and_text(tmp_path):
    text = CHILD.replace("extends: [base.yaml]\n", "").replace("{path: hold.parquet}", "{path: h, target: y}")
    _write(tmp_path, {"solo.yaml": text})
    lp = load_policy(tmp_path / "solo.yaml", check_files=False)
    assert lp.text == (tmp_path / "solo.yaml").read_text()
    assert lp.sha256 == hashlib.sha256((tmp_path / "solo.yaml").read_bytes()).hexdigest()
    assert not lp.provenance.inherited and lp.provenance.checks[0].added_by.file == "solo.yaml"


def test_effective_policy_text_reloads_to_the_same_policy(tmp_path):
    child = CHILD.replace("checks:", "remove:\n  - {id: performance.accuracy, reason: \"balanced\"}\nchecks:") + \
        "  - id: performance.roc_auc\n    threshold: {min: 0.75}\n"
    lp = _load(tmp_path, {"base.yaml": BASE, "child.yaml": child})
    assert lp.sha256 == hashlib.sha256(lp.text.encode()).hexdigest()
    assert lp.text == effective_yaml(lp.document, lp.provenance)
    assert "# from base.yaml, changed by child.yaml; threshold locked in base.yaml" in lp.text
    assert "# removed by child.yaml: performance.accuracy on base (from base.yaml); reason: balanced" in lp.text
    doc = load_yaml(lp.text).data
    assert "extends" not in doc and "remove" not in doc
    (tmp_path / "effective.yaml").write_text(lp.text)
    again = load_policy(tmp_path / "effective.yaml", check_files=False)
    assert again.policy == lp.policy
    assert not again.provenance.inherited


# -- the shipped pair ---------------------------------------------------------------------------

POLICIES = Path(__file__).parents[2] / "policies"


def test_shipped_credit_scoring_extends_the_org_baseline():
    lp = load_policy(POLICIES / "credit-scoring.yaml", check_files=False)
    assert [f.name for f in lp.provenance.files] == ["org-baseline.yaml", "credit-scoring.yaml"]
    got = {c.id: (c.params, {k: v for k, v in c.threshold.model_dump().items()
                             if v is not None and k not in ("reference", "locked", "blocking")})
           for c in lp.policy.checks}
    # The checks and bounds credit-scoring had as a standalone policy, written out independently.
    assert got == {
        "performance.roc_auc": ({}, {"min": 0.75, "warn_min": 0.80, "decision": "interval"}),
        "performance.balanced_accuracy": ({}, {"min": 0.70}),
        "performance.expected_calibration_error": ({"n_bins": 10}, {"max": 0.05}),
        "performance.recall": ({}, {"min": 0.70}),
        "performance.precision": ({}, {"min": 0.70}),
        "fairness.demographic_parity_ratio": ({"sensitive": ["sex", "age_band"]}, {"min": 0.8}),
        "fairness.equal_opportunity_difference": ({"sensitive": ["sex", "age_band"]},
                                                  {"max": 0.10, "decision": "interval"}),
        "fairness.predictive_parity_difference": ({"sensitive": ["sex"]}, {"max": 0.10}),
        "fairness.calibration_difference": ({"sensitive": ["sex", "age_band"]}, {"max": 0.05}),
    }
    assert all(c.threshold.blocking for c in lp.policy.checks)
    p = lp.policy
    assert (p.defaults.confidence, p.defaults.n_boot, p.defaults.min_group_size) == (0.95, 1000, 50)
    assert (p.data.target, p.data.sensitive, p.seed) == ("repaid", ["sex", "age_band"], 0)
    assert [r.id for r in lp.provenance.removed] == ["performance.accuracy"]
    assert lp.provenance.checks[0].locked_in == "org-baseline.yaml"
