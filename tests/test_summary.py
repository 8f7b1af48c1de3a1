"""The summary states which rule decided the outcome; decision values stay machine-readable."""

import pytest

from audit.results import DECISIONS, CheckResult, Verdict
from audit.runner import summarise


def r(v, blocking=True, name="c"):
    return CheckResult(id="a.b", name=name, family="a", evalset="base", verdict=v, blocking=blocking)


V = Verdict
CASES = [
    # (verdicts as (verdict, blocking), inconclusive_fails) -> decision, headline, reason, exit code
    ([(V.PASS, True)] * 3, False, "PASS", "PASS", "no blocking check failed", 0),
    ([(V.PASS, True), (V.INCONCLUSIVE, True), (V.INCONCLUSIVE, True), (V.INCONCLUSIVE, False)], False,
     "PASS", "PASS (3 INCONCLUSIVE)",
     "no blocking check failed; 3 INCONCLUSIVE (the policy does not make INCONCLUSIVE fail)", 0),
    ([(V.PASS, True), (V.WARN, True), (V.SKIPPED, True)], False,
     "PASS WITH WARNINGS", "PASS WITH WARNINGS (1 WARN, 1 SKIPPED)", "no blocking check failed; 1 WARN, 1 SKIPPED", 0),
    ([(V.PASS, True), (V.FAIL, False), (V.ERROR, False)], False,
     "PASS WITH WARNINGS", "PASS WITH WARNINGS (1 non-blocking FAIL, 1 non-blocking ERROR)",
     "no blocking check failed; 1 non-blocking FAIL, 1 non-blocking ERROR", 0),
    ([(V.FAIL, True), (V.FAIL, True), (V.WARN, True)], False, "FAIL", "FAIL", "2 blocking checks failed", 1),
    ([(V.FAIL, True), (V.ERROR, True)], False, "FAIL", "FAIL",
     "1 blocking check failed; 1 blocking check raised an error", 1),
    # FAIL with zero FAIL verdicts: the policy's inconclusive_fails decided it, and the reason says so
    ([(V.PASS, True), (V.INCONCLUSIVE, True)], True, "FAIL", "FAIL",
     "a blocking check was INCONCLUSIVE and the policy says inconclusive fails", 1),
    ([(V.INCONCLUSIVE, True), (V.INCONCLUSIVE, True), (V.INCONCLUSIVE, False)], True, "FAIL", "FAIL",
     "2 blocking checks were INCONCLUSIVE and the policy says inconclusive fails", 1),
]


@pytest.mark.parametrize("verdicts,inc_fails,decision,headline,reason,code", CASES)
def test_summary_says_which_rule_decided(verdicts, inc_fails, decision, headline, reason, code):
    results = [r(v, b, name=f"c{i}") for i, (v, b) in enumerate(verdicts)]
    s = summarise(results, inc_fails)
    assert (s.decision, s.headline, s.reason, s.exit_code) == (decision, headline, reason, code)
    assert s.decision in DECISIONS
    # counts are an independent tally of the verdicts given
    assert s.counts == {v.value: sum(x == v for x, _ in verdicts) for v in Verdict}
    # blocking_failures name exactly the gating checks
    gating = {V.FAIL, V.ERROR} | ({V.INCONCLUSIVE} if inc_fails else set())
    assert s.blocking_failures == [f"c{i} [base]" for i, (v, b) in enumerate(verdicts) if b and v in gating]


def test_pass_with_warnings_never_without_a_warning():
    # The wording the issue found: 0 WARN and 3 INCONCLUSIVE was "PASS WITH WARNINGS".
    s = summarise([r(V.INCONCLUSIVE)] * 3 + [r(V.PASS)])
    assert s.decision == "PASS" and "WARN" not in s.headline
