"""The methods reference and the matrix against a real audit: the demo's results.json."""

from __future__ import annotations

import pytest

from audit.compliance import matrix, methods
from audit.results import AuditResult
from tests._demo_result import demo_results_json


@pytest.fixture(scope="module")
def demo() -> dict:
    return demo_results_json()


def test_every_interval_in_the_demo_is_listed_for_its_check(demo):
    cat = methods()
    for r in demo["results"]:
        entry = cat.check(r["id"])
        if r["interval"] is not None:
            assert r["interval"]["method"] in entry.intervals, (r["id"], r["interval"]["method"])
        for g in r["groups"]:
            if g["interval"] is not None:
                assert g["interval"]["method"] in entry.group_intervals, (
                    r["id"],
                    g["interval"]["method"],
                )


def test_checks_that_report_groups_say_what_a_group_value_is(demo):
    for r in demo["results"]:
        if r["groups"]:
            assert methods().check(r["id"]).group_value, r["id"]


def test_checks_without_an_interval_in_the_demo_list_none(demo):
    for r in demo["results"]:
        if r["interval"] is None and r["verdict"] not in ("SKIPPED", "ERROR"):
            # shift.prediction_drift has one only with PSI; the rest never have one.
            entry = methods().check(r["id"])
            assert entry.intervals == [] or r["id"] == "shift.prediction_drift", r["id"]


def test_matrix_of_the_demo(demo):
    rows = {(r["framework"], r["clause_id"]): r for r in matrix(AuditResult.model_validate(demo))}
    # The demo's impact ratio (0.46, bound 0.8, compare_to best) is evidence of adverse impact.
    four_fifths = rows[("eeoc-uniform-guidelines", "cfr-1607-4-d-ratio")]
    assert four_fifths["status"] == "evidenced" and four_fifths["outcome"] == "fail"
    assert four_fifths["verdicts"] == {"fairness.demographic_parity_ratio": ["FAIL"]}
    # Marginal groups only: the intersectional calculation of 6 RCNY 5-301(b)(3) is missing.
    inter = rows[("nyc-ll144", "rcny-5-301-b-3")]
    assert inter["status"] == "partially"
    assert [i["satisfied"] for i in inter["evidence"]] == [True, False]
    # Robust accuracy passes under PGD: Art. 15(5) partially evidenced (coverage is partial).
    art155 = rows[("eu-ai-act", "art15-5")]
    assert art155["status"] == "partially" and art155["outcome"] == "pass"
    # A scoring tool's median split is never computed.
    assert rows[("nyc-ll144", "rcny-5-301-c")]["status"] == "gap"
