"""Governance metadata (owner, approval, review date, frameworks) and where trust comes from."""

from datetime import date, datetime, timedelta

import pytest

from audit.errors import InputError
from audit.policy import FRAMEWORKS, Policy, review_overdue
from audit.trust import TRUST_ENV, trust_granted

MINIMAL = {"version": 1, "name": "m", "data": {"path": "d.parquet", "target": "y"},
           "checks": [{"id": "performance.accuracy", "threshold": {"min": 0.5}}]}


def _policy(**top) -> Policy:
    return Policy.model_validate({**MINIMAL, **top}, strict=True)


def test_review_overdue_only_after_the_review_date():
    p = _policy(review_by=date(2026, 6, 30))
    day = timedelta(days=1)
    assert review_overdue(p, date(2026, 6, 30) - day) is False
    assert review_overdue(p, date(2026, 6, 30)) is False          # still in date on the day itself
    assert review_overdue(p, date(2026, 6, 30) + day) is True
    assert review_overdue(_policy(), date(2999, 1, 1)) is False    # no date, never overdue


def test_review_overdue_wants_a_date():
    with pytest.raises(TypeError, match="datetime.date"):
        review_overdue(_policy(review_by=date(2026, 1, 1)), datetime(2026, 1, 2, 12, 0))
    with pytest.raises(TypeError, match="datetime.date"):
        review_overdue(_policy(review_by=date(2026, 1, 1)), "2026-01-02")


def test_metadata_fields_and_frameworks():
    p = _policy(owner="Credit Risk", approved_by="Model Risk Committee", review_by="2027-01-15",
                frameworks=list(FRAMEWORKS))
    assert (p.owner, p.approved_by, p.review_by) == ("Credit Risk", "Model Risk Committee", date(2027, 1, 15))
    assert FRAMEWORKS == ("eu-ai-act", "nyc-ll144", "eeoc-uniform-guidelines", "nist-ai-rmf", "iso-42001")
    assert p.frameworks == list(FRAMEWORKS)


def test_json_schema_describes_the_new_keys():
    from audit.policy import policy_json_schema

    s = policy_json_schema()
    props = s["properties"]
    assert {"owner", "approved_by", "review_by", "frameworks", "extends", "remove", "baseline"} <= set(props)
    assert props["frameworks"]["items"]["enum"] == list(FRAMEWORKS)
    assert props["frameworks"]["uniqueItems"] is True
    assert {"format": "date", "type": "string"} in props["review_by"]["anyOf"]
    assert props["version"] == {"const": 1, "title": "Version", "type": "integer"}
    assert props["seed"]["minimum"] == 0
    assert "trust" not in s["$defs"]["ModelRef"]["properties"]
    assert "locked" in s["$defs"]["Threshold"]["properties"]
    assert s["$defs"]["CheckRemoval"]["required"] == ["id", "reason"]
    assert {"type": "array"} not in props["pos_label"]["anyOf"]
    cons = s["$defs"]["Constraint"]
    assert cons["additionalProperties"] is False and "categories" in cons["properties"]


def test_json_schema_accepts_the_shipped_policies_and_rejects_bad_ones():
    # An independent validator (jsonschema, as an editor's YAML language server would use).
    jsonschema = pytest.importorskip("jsonschema")
    from pathlib import Path

    from audit.policy import load_yaml, policy_json_schema

    schema = policy_json_schema()
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for f in sorted((Path(__file__).parents[2] / "policies").glob("*.yaml")):
        doc = load_yaml(f.read_bytes()).data
        doc = {k: (v.isoformat() if k == "review_by" else v) for k, v in doc.items()}
        errors = [e.message for e in checker.iter_errors(doc)
                  if not (doc.get("baseline") and e.validator == "required")]
        assert not errors, (f.name, errors)
    bad = {**MINIMAL, "frameworks": ["eu-ai-akt"], "model": {"path": "m", "trust": True}}
    messages = " ".join(e.message for e in checker.iter_errors(bad))
    assert "eu-ai-akt" in messages and "trust" in messages


@pytest.mark.parametrize("flag,env,expected", [
    (False, {}, False), (True, {}, True),
    (False, {TRUST_ENV: "1"}, True), (False, {TRUST_ENV: "TRUE"}, True), (False, {TRUST_ENV: "yes"}, True),
    (False, {TRUST_ENV: "0"}, False), (False, {TRUST_ENV: ""}, False), (False, {TRUST_ENV: "no"}, False),
    (True, {TRUST_ENV: "0"}, True),
])
def test_trust_comes_from_the_flag_or_the_environment(flag, env, expected):
    assert trust_granted(flag, env) is expected


def test_a_mistyped_trust_variable_is_an_input_error(monkeypatch):
    with pytest.raises(InputError, match="AUDIT_TRUST_MODEL='ture'"):
        trust_granted(False, {TRUST_ENV: "ture"})
    monkeypatch.setenv(TRUST_ENV, "1")
    assert trust_granted(False) is True
