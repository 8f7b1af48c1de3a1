"""JUnit XML: parses (stdlib and junitparser), one case per check named from the policy, and CI
turns red exactly when the audit fails (blocking failures only)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from audit.report import render_junit
from audit.report.junit import case_names
from audit.results import Verdict
from audit.runner import summarise

from .conftest import EVIL, build_result


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def _props(case: ET.Element) -> dict:
    return {p.get("name"): p.get("value") for p in case.find("properties").findall("property")}


def test_cases_named_from_the_policy_and_counts():
    result = build_result()
    suite = _suite(render_junit(result))
    cases = suite.findall("testcase")
    assert len(cases) == len(result.results) == int(suite.get("tests"))
    assert suite.get("name") == result.policy_name  # escaped on write, intact on read
    # Independent count from the fixture: only blocking FAIL is a failure, blocking ERROR an error.
    assert int(suite.get("failures")) == sum(r.verdict == Verdict.FAIL and r.blocking for r in result.results)
    assert int(suite.get("errors")) == sum(r.verdict == Verdict.ERROR and r.blocking for r in result.results)
    assert int(suite.get("skipped")) == sum(r.verdict == Verdict.SKIPPED for r in result.results)
    for case, r in zip(cases, result.results, strict=True):
        assert case.get("classname") == r.id.split(".")[0]
        assert case.get("name") == f"{r.name} [{r.evalset}]"  # the policy's name:, not the id
        assert _props(case)["verdict"] == r.verdict.value and _props(case)["check_id"] == r.id
    by_verdict = {r.verdict: c for r, c in zip(result.results, cases, strict=True)}
    assert EVIL in by_verdict[Verdict.FAIL].find("failure").get("message")
    error = by_verdict[Verdict.ERROR].find("error")
    assert error is not None and "Traceback (most recent call last)" in error.text
    assert by_verdict[Verdict.SKIPPED].find("skipped").get("message").startswith("needs a live model")
    for v in (Verdict.WARN, Verdict.INCONCLUSIVE):
        c = by_verdict[v]
        assert c.find("failure") is None and c.find("error") is None
        assert v.value in c.find("system-out").text
    assert by_verdict[Verdict.PASS].find("system-out") is None


def test_repeated_names_get_a_suffix():
    result = build_result()
    for r in result.results[:3]:
        r.name, r.evalset = "Accuracy", "base"
    names = case_names(result)
    assert names[:3] == ["Accuracy [base]", "Accuracy [base] #2", "Accuracy [base] #3"]
    assert len(set(names)) == len(names)
    cases = _suite(render_junit(result)).findall("testcase")
    assert [c.get("name") for c in cases] == names


def test_non_blocking_fail_and_error_pass_with_output():
    result = build_result()
    for r in result.results:
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            r.blocking = False
    result.summary = summarise(result.results)
    assert result.summary.exit_code == 0 and result.summary.decision == "PASS WITH WARNINGS"
    suite = _suite(render_junit(result))
    assert suite.get("failures") == "0" and suite.get("errors") == "0"  # CI green, as the exit code
    for case, r in zip(suite.findall("testcase"), result.results, strict=True):
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            assert case.find("failure") is None and case.find("error") is None
            out = case.find("system-out").text
            assert out.startswith(r.verdict.value) and "non-blocking check: does not fail the audit" in out
            assert _props(case)["verdict"] == r.verdict.value and _props(case)["blocking"] == "false"


def test_inconclusive_fails_when_policy_says_so():
    result = build_result()
    result.manifest["inconclusive_fails"] = True
    suite = _suite(render_junit(result))
    assert int(suite.get("failures")) == 2  # the FAIL and the blocking INCONCLUSIVE
    inc = [r for r in result.results if r.verdict == Verdict.INCONCLUSIVE][0]
    case = [c for c in suite.findall("testcase") if c.get("name").startswith(inc.name)][0]
    assert case.find("failure").get("type") == "INCONCLUSIVE"
    # a non-blocking inconclusive check never fails the suite
    inc.blocking = False
    suite = _suite(render_junit(result))
    assert int(suite.get("failures")) == 1


def test_suite_properties_carry_the_decision_and_digest():
    from audit.digest import with_digest

    result = build_result()
    result.summary = summarise(result.results)
    result = with_digest(result)
    props = {p.get("name"): p.get("value")
             for p in _suite(render_junit(result)).find("properties").findall("property")}
    assert props["decision"] == "FAIL" and props["exit_code"] == "1"
    assert props["reason"] == result.summary.reason and props["run_digest"] == result.manifest["run_digest"]


def test_junitparser_reads_it_as_ci_would(tmp_path):
    junitparser = pytest.importorskip("junitparser")
    result = build_result()
    result.summary = summarise(result.results)
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(result), encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    cases = list(suites[0])
    assert [c.name for c in cases] == case_names(result)
    failing = [c.name for c in cases if not c.is_passed and not c.is_skipped]
    # exactly the blocking FAIL/ERROR, the same checks the summary lists as blocking failures
    assert sorted(failing) == sorted(result.summary.blocking_failures)
    assert all(isinstance(r, junitparser.Failure | junitparser.Error) for c in cases for r in c.result
               if not isinstance(r, junitparser.Skipped))
