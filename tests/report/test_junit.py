"""JUnit XML: parses, one case per check, counts match the verdict mapping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit.report import render_junit
from audit.results import Verdict

from .conftest import EVIL, build_result


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def test_cases_and_counts():
    result = build_result()
    suite = _suite(render_junit(result))
    cases = suite.findall("testcase")
    assert len(cases) == len(result.results) == int(suite.get("tests"))
    assert suite.get("name") == result.policy_name  # escaped on write, intact on read
    by_verdict = {r.verdict: r for r in result.results}
    # independent count from the fixture's verdicts
    assert int(suite.get("failures")) == sum(r.verdict == Verdict.FAIL for r in result.results)
    assert int(suite.get("errors")) == sum(r.verdict == Verdict.ERROR for r in result.results)
    assert int(suite.get("skipped")) == sum(r.verdict == Verdict.SKIPPED for r in result.results)
    for case, r in zip(cases, result.results, strict=True):
        assert case.get("classname") == r.id.split(".")[0]
        assert case.get("name") == f"{r.id} [{r.evalset}]"
    cases_by_name = {c.get("name"): c for c in cases}

    def case_of(v):
        r = by_verdict[v]
        return cases_by_name[f"{r.id} [{r.evalset}]"]

    assert case_of(Verdict.FAIL).find("failure") is not None
    assert EVIL in case_of(Verdict.FAIL).find("failure").get("message")
    error = case_of(Verdict.ERROR).find("error")
    assert error is not None and "Traceback (most recent call last)" in error.text
    assert case_of(Verdict.SKIPPED).find("skipped").get("message").startswith("needs a live model")
    for v in (Verdict.WARN, Verdict.INCONCLUSIVE):
        c = case_of(v)
        assert c.find("failure") is None and c.find("error") is None
        assert v.value in c.find("system-out").text
    assert len(case_of(Verdict.PASS)) == 0


def test_inconclusive_fails_when_policy_says_so():
    result = build_result()
    result.manifest["inconclusive_fails"] = True
    suite = _suite(render_junit(result))
    assert int(suite.get("failures")) == 2  # the FAIL and the blocking INCONCLUSIVE
    inc = [r for r in result.results if r.verdict == Verdict.INCONCLUSIVE][0]
    case = [c for c in suite.findall("testcase") if c.get("name").startswith(inc.id)][0]
    assert case.find("failure").get("type") == "INCONCLUSIVE"
    # a non-blocking inconclusive check never fails the suite
    inc.blocking = False
    suite = _suite(render_junit(result))
    assert int(suite.get("failures")) == 1
