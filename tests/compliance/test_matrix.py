"""The regulation matrix: clauses reference real checks, and matrix() reads verdicts, conditions
and gaps off an AuditResult correctly."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from audit.checks import all_checks
from audit.compliance import (
    DISCLAIMER,
    FRAMEWORK_IDS,
    STATUSES,
    frameworks,
    load_frameworks,
    matrix,
)
from audit.results import AuditResult, CheckResult, GroupValue, Interval, Summary, Verdict

# Checks the matrix references before they exist (none today: data.representativeness and
# data.reference_mix are registered). Remove an id from this set when its check is registered
# (test_pending_ids_are_still_pending_and_referenced says when).
PENDING_CHECK_IDS: set[str] = set()


def _patterns():
    for fw in frameworks().values():
        for c in fw.clauses:
            for p in c.check_patterns():
                yield fw.id, c.id, p


def test_every_clause_names_registered_checks():
    registered = list(all_checks())
    for fw, clause, pattern in _patterns():
        if pattern in PENDING_CHECK_IDS:
            continue
        assert any(fnmatchcase(cid, pattern) for cid in registered), (
            f"{fw} {clause}: {pattern!r} matches no registered check id"
        )


def test_pending_ids_are_still_pending_and_referenced():
    registered = set(all_checks())
    now_registered = PENDING_CHECK_IDS & registered
    assert not now_registered, (
        f"now registered, remove from PENDING_CHECK_IDS: {sorted(now_registered)}"
    )
    referenced = {p for _, _, p in _patterns()}
    assert PENDING_CHECK_IDS <= referenced


def test_the_five_frameworks_and_the_brief_s_clauses_are_there():
    fws = frameworks()
    assert tuple(fws) == FRAMEWORK_IDS
    clauses = {fid: [c.clause for c in fw.clauses] for fid, fw in fws.items()}
    for c in (
        "Art. 10(2)(f)",
        "Art. 10(2)(g)",
        "Art. 10(3)",
        "Art. 10(4)",
        "Art. 10(5)",
        "Art. 15(1)",
        "Art. 15(3)",
        "Art. 15(4)",
        "Art. 15(5)",
    ):
        assert c in clauses["eu-ai-act"]
    assert [n.clause for n in fws["eu-ai-act"].not_mapped if n.clause == "Art. 15(2)"]
    for c in ("MEASURE 2.5", "MEASURE 2.6", "MEASURE 2.7", "MEASURE 2.11"):
        assert c in clauses["nist-ai-rmf"]
    assert {"A.7.4", "A.6.2.4"} <= set(clauses["iso-42001"])
    assert any("1607.4(D)" in c for c in clauses["eeoc-uniform-guidelines"])
    assert any("5-301(b)(3)" in c for c in clauses["nyc-ll144"])
    assert any("5-301(d)" in c for c in clauses["nyc-ll144"])
    assert "not legal advice" in DISCLAIMER.lower()


# -- a synthetic result ----------------------------------------------------------------------------


def _r(
    id_, verdict, evalset="base", params=None, threshold=None, groups=None, message="", value=0.5
):
    return CheckResult(
        id=id_,
        name=id_,
        family=id_.split(".")[0],
        evalset=evalset,
        params=params or {},
        threshold=threshold or {"max": 1.0},
        verdict=verdict,
        value=None if verdict in (Verdict.SKIPPED, Verdict.ERROR) else value,
        interval=Interval(low=0.4, high=0.6),
        groups=groups or [],
        message=message,
    )


MARGINAL = [
    GroupValue(group="sex=F", n=400, value=0.4),
    GroupValue(group="sex=M", n=600, value=0.5),
]
BOTH = MARGINAL + [
    GroupValue(group="sex=F & race=B", n=100, value=0.35),
    GroupValue(group="sex=M & race=W", n=300, value=0.5),
]


def _result(*results, evalsets=None) -> AuditResult:
    counts = {v.value: sum(r.verdict == v for r in results) for v in Verdict}
    return AuditResult(
        policy_name="synthetic",
        manifest={},
        results=list(results),
        evalsets=evalsets or {"base": {"kind": "base", "rows": 1000}},
        summary=Summary(counts=counts, decision="PASS", exit_code=0),
    )


def _rows(result, fw):
    return {row["clause_id"]: row for row in matrix(result, [fw])}


DPR = "fairness.demographic_parity_ratio"
DPR_PARAMS = {"compare_to": "best", "groups": "both", "missing": "group"}


def test_four_fifths_is_evidenced_only_with_a_bound_of_at_least_0_8():
    passing = _r(
        DPR, Verdict.PASS, params=DPR_PARAMS, threshold={"min": 0.8}, groups=BOTH, value=0.85
    )
    row = _rows(_result(passing), "eeoc-uniform-guidelines")["cfr-1607-4-d-ratio"]
    assert row["status"] == "evidenced" and row["outcome"] == "pass"
    assert row["verdicts"] == {DPR: ["PASS"]}
    assert row["evidence"][0]["results"][0]["counts"] is True

    lax = _r(DPR, Verdict.PASS, params=DPR_PARAMS, threshold={"min": 0.7}, groups=BOTH)
    row = _rows(_result(lax), "eeoc-uniform-guidelines")["cfr-1607-4-d-ratio"]
    assert row["status"] == "gap" and row["outcome"] is None
    assert row["verdicts"] == {DPR: ["PASS"]}  # found, but it does not evidence the rule
    assert "needs a min of at least 0.8" in row["evidence"][0]["results"][0]["why_not"]

    reference = _r(
        DPR, Verdict.FAIL, params={**DPR_PARAMS, "compare_to": "reference"}, threshold={"min": 0.8}
    )
    row = _rows(_result(reference), "eeoc-uniform-guidelines")["cfr-1607-4-d-ratio"]
    assert row["status"] == "gap"
    assert "params.compare_to is 'reference'" in row["evidence"][0]["results"][0]["why_not"]


def test_a_failing_check_is_evidence_with_a_fail_outcome():
    failing = _r(
        DPR, Verdict.FAIL, params=DPR_PARAMS, threshold={"min": 0.8}, groups=BOTH, value=0.46
    )
    row = _rows(_result(failing), "eeoc-uniform-guidelines")["cfr-1607-4-d-ratio"]
    assert row["status"] == "evidenced" and row["outcome"] == "fail"


def test_intersectional_categories_need_intersectional_groups():
    both = _r(DPR, Verdict.PASS, params=DPR_PARAMS, threshold={"min": 0.8}, groups=BOTH)
    assert _rows(_result(both), "nyc-ll144")["rcny-5-301-b-3"]["status"] == "evidenced"
    marginal = _r(
        DPR,
        Verdict.PASS,
        params={**DPR_PARAMS, "groups": "marginal"},
        threshold={"min": 0.8},
        groups=MARGINAL,
    )
    row = _rows(_result(marginal), "nyc-ll144")["rcny-5-301-b-3"]
    assert row["status"] == "partially"
    sep, inter = row["evidence"]
    assert sep["satisfied"] and not inter["satisfied"]
    assert "no intersectional groups" in inter["results"][0]["why_not"]


def test_inconclusive_skipped_and_error_results_never_count():
    result = _result(
        _r(
            "adversarial.robust_accuracy",
            Verdict.SKIPPED,
            evalset="adversarial@0.1",
            message="needs a live model; this is a predictions-only audit",
        ),
        _r(
            "adversarial.attack_success_rate",
            Verdict.ERROR,
            evalset="adversarial@0.1",
            message="boom",
        ),
        _r(
            "adversarial.empirical_robustness",
            Verdict.INCONCLUSIVE,
            evalset="adversarial@0.1",
            message="no correctly classified row to attack",
        ),
    )
    row = _rows(result, "eu-ai-act")["art15-5"]
    assert row["status"] == "gap" and row["outcome"] is None
    assert row["verdicts"] == {
        "adversarial.robust_accuracy": ["SKIPPED"],
        "adversarial.attack_success_rate": ["ERROR"],
        "adversarial.empirical_robustness": ["INCONCLUSIVE"],
    }
    whys = [x["why_not"] for x in row["evidence"][0]["results"]]
    assert whys[0].startswith("SKIPPED: no verdict was reached (needs a live model")
    assert whys[1].startswith("ERROR") and whys[2].startswith("INCONCLUSIVE")


def test_partial_coverage_caps_the_status_and_patterns_match_families():
    result = _result(
        _r("performance.accuracy", Verdict.FAIL, threshold={"min": 0.9}),
        _r("robustness.flip_rate", Verdict.PASS, evalset="perturbed.noise@0.1"),
        _r(
            "adversarial.robust_accuracy",
            Verdict.WARN,
            evalset="adversarial@0.1",
            threshold={"min": 0.6},
        ),
        evalsets={
            "base": {"kind": "base"},
            "perturbed.noise@0.1": {"kind": "perturbed.noise"},
            "adversarial@0.1": {"kind": "adversarial.pgd"},
        },
    )
    row = _rows(result, "eu-ai-act")["art15-1"]
    assert [i["satisfied"] for i in row["evidence"]] == [True, True, True]
    assert row["status"] == "partially"  # coverage partial: never "evidenced"
    assert row["outcome"] == "fail"
    assert row["check_ids"] == ["performance.*", "robustness.*", "adversarial.*"]


def test_evaluation_set_kind_conditions_use_the_result_s_evalsets():
    sets = {
        "base": {"kind": "base"},
        "young": {"kind": "shifted.subpopulation"},
        "perturbed.noise@0.2": {"kind": "perturbed.noise"},
    }
    on_shift = _result(_r("robustness.metric_drop", Verdict.PASS, evalset="young"), evalsets=sets)
    items = _rows(on_shift, "eu-ai-act")["art10-4"]["evidence"]
    assert items[1]["satisfied"] and not items[0]["satisfied"]
    on_noise = _result(
        _r("robustness.metric_drop", Verdict.PASS, evalset="perturbed.noise@0.2"), evalsets=sets
    )
    row = _rows(on_noise, "eu-ai-act")["art10-4"]
    assert row["status"] == "gap"
    assert "kind 'perturbed.noise'" in row["evidence"][1]["results"][0]["why_not"]
    # Art. 15(4)'s first item wants perturbed inputs: the noise result counts there.
    assert _rows(on_noise, "eu-ai-act")["art15-4"]["evidence"][0]["satisfied"]


def test_clauses_with_no_coverage_are_always_gaps():
    everything = _result(
        *[
            _r(cid, Verdict.PASS, params=DPR_PARAMS, threshold={"min": 0.8}, groups=BOTH)
            for cid in all_checks()
        ]
    )
    rows = matrix(everything)
    none = [r for r in rows if r["coverage"] == "none"]
    assert none and all(r["status"] == "gap" and r["evidence"] == [] for r in none)
    # With every check passing, full-coverage clauses are evidenced; partial ones stay partial.
    for r in rows:
        if r["coverage"] == "full":
            assert r["status"] == "evidenced", r["clause"]
        if r["coverage"] == "partial":
            assert r["status"] == "partially", r["clause"]


def test_an_empty_audit_gives_only_gaps_and_rows_are_json():
    rows = matrix(_result())
    assert {r["status"] for r in rows} == {"gap"}
    assert all(r["outcome"] is None for r in rows)
    assert json.loads(json.dumps(rows)) == rows
    assert {r["framework"] for r in rows} == set(FRAMEWORK_IDS)
    assert set(STATUSES) == {"evidenced", "partially", "gap"}


def test_framework_selection_order_and_errors():
    result = _result()
    rows = matrix(result, ["nist-ai-rmf", "eeoc-uniform-guidelines"])
    assert [r["framework"] for r in rows][0] == "nist-ai-rmf"
    assert {r["framework"] for r in rows} == {"nist-ai-rmf", "eeoc-uniform-guidelines"}
    assert {r["framework"] for r in matrix(result, "iso-42001")} == {"iso-42001"}
    with pytest.raises(
        ValueError,
        match=r"unknown framework id 'eu-ai'; expected one of .*did you mean 'eu-ai-act'",
    ):
        matrix(result, ["eu-ai"])


def test_a_bad_frameworks_file_is_named(tmp_path):
    p = tmp_path / "frameworks.yaml"
    p.write_text(
        "version: 1\nframeworks:\n  - id: eu-ai-act\n    title: T\n    citation: C\n    clauses:\n"
        "      - {id: a, clause: A, location: L, requirement: R, coverage: full, evidence: []}\n"
    )
    with pytest.raises(ValueError, match="coverage 'full' needs at least one evidence item"):
        load_frameworks(p)
    p.write_text(
        "version: 1\nframeworks:\n  - id: gdpr\n    title: T\n    citation: C\n    clauses:\n"
        "      - {id: a, clause: A, location: L, requirement: R, coverage: none}\n"
    )
    with pytest.raises(ValueError, match=r"among \['eu-ai-act'.*found \['gdpr'\]"):
        load_frameworks(p)
