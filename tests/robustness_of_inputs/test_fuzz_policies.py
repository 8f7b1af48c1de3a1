"""At least 300 hostile policies (seeded) through ``audit run``: never a traceback, an internal
error or a hang; exit 2 names a key, column or file and writes no report; a policy that must be
refused is refused.

Hypothesis derives the derandomized seed from the ``@given`` test's source: editing its body
changes the cases generated (the shared steps live in ``_harness``)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from ._harness import case_folder, judge, run_audit
from ._policies import policy_cases
from .conftest import require_cases, tally

N_POLICIES = 320


def run_policy_case(ws, case):
    """Write ``case`` beside the shared model and data and run it; (outcome, problems)."""
    policy = case_folder(ws, "policy") / "policy.yaml"
    if isinstance(case.text, bytes):
        policy.write_bytes(case.text)
    else:
        policy.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    outcome = run_audit(policy)
    return outcome, judge(outcome, case, "a policy")


@settings(max_examples=N_POLICIES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=policy_cases())
def test_hostile_policy(case, fuzz_workspace):
    outcome, found = run_policy_case(fuzz_workspace, case)
    tally("policies").add(" + ".join(case.labels), outcome, found)
    assert not found, (case.labels, found, outcome.stderr[-2000:])


def test_policy_fuzz_ran_enough_cases():
    require_cases("policies", 300)
