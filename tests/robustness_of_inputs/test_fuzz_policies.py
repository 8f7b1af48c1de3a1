"""At least 300 hostile policies (seeded) through ``audit run``: never a traceback, an internal
error or a hang; exit 2 names a key, column or file and writes no report; a policy that must be
refused is refused."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings

from ._harness import problems, run_case
from ._policies import policy_cases
from .conftest import tally

N_POLICIES = 320
_ids = itertools.count()


def run_policy_case(ws, case):
    """Write ``case`` beside the shared model and data and run it; (outcome, problems)."""
    folder = ws.root / f"policy-{next(_ids)}"
    folder.mkdir()
    policy = folder / "policy.yaml"
    if isinstance(case.text, bytes):
        policy.write_bytes(case.text)
    else:
        policy.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    out = folder / "out"
    outcome = run_case(["run", str(policy), "--no-pdf", "--quiet", "--out", str(out)], out)
    found = problems(outcome, list(case.names) if case.must_refuse and case.names else None)
    if case.must_refuse and outcome.code in (0, 1):
        found.append(f"accepted (exit {outcome.code}) a policy that must be refused")
    return outcome, found


@settings(max_examples=N_POLICIES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=policy_cases())
def test_hostile_policy(case, fuzz_workspace):
    outcome, found = run_policy_case(fuzz_workspace, case)
    tally("policies").add(" + ".join(case.labels), outcome, found)
    assert not found, (case.labels, found, outcome.stderr[-2000:])


def test_policy_fuzz_ran_enough_cases():
    t = tally("policies")
    if t.cases == 0:
        import pytest

        pytest.skip("test_hostile_policy was not selected")
    assert t.cases >= 300, t.lines("policies")
