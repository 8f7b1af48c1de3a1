"""At least 80 hostile datasets (seeded) through ``audit run --data``: never a traceback, an
internal error or a hang; exit 2 names the column or file and writes no report; data that must
be refused is refused.

Hypothesis derives the derandomized seed from the ``@given`` test's source: editing its body
changes the cases generated (the shared steps live in ``_harness``)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings

from ._datasets import data_cases
from ._harness import base_policy, case_folder, judge, run_audit
from ._policies import DATA_REL, MODEL_REL
from .conftest import require_cases, tally

N_DATASETS = 90


def run_data_case(ws, case):
    """Write ``case``'s data in a fresh folder and audit it with the valid policy; (outcome, problems)."""
    folder = case_folder(ws, "data")
    policy = folder / "policy.yaml"
    policy.write_text(yaml.safe_dump(base_policy(MODEL_REL, DATA_REL), sort_keys=False))
    outcome = run_audit(policy, "--data", str(case.write(folder)))
    return outcome, judge(outcome, case, "data")


@settings(max_examples=N_DATASETS, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=data_cases())
def test_hostile_dataset(case, fuzz_workspace):
    outcome, found = run_data_case(fuzz_workspace, case)
    tally("datasets").add(" + ".join(case.labels), outcome, found)
    assert not found, (case.labels, found, outcome.stderr[-2000:])


def test_dataset_fuzz_ran_enough_cases():
    require_cases("datasets", 80)
