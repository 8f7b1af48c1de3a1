"""At least 80 hostile datasets (seeded) through ``audit run --data``: never a traceback, an
internal error or a hang; exit 2 names the column or file and writes no report; data that must
be refused is refused."""

from __future__ import annotations

import itertools

import yaml
from hypothesis import HealthCheck, given, settings

from ._datasets import data_cases
from ._harness import base_policy, problems, run_case
from ._policies import DATA_REL, MODEL_REL
from .conftest import tally

N_DATASETS = 90
_ids = itertools.count()


def run_data_case(ws, case):
    """Write ``case``'s data in a fresh folder and audit it with the valid policy; (outcome, problems)."""
    folder = ws.root / f"data-{next(_ids)}"
    folder.mkdir()
    policy = folder / "policy.yaml"
    policy.write_text(yaml.safe_dump(base_policy(MODEL_REL, DATA_REL), sort_keys=False))
    data = case.write(folder)
    out = folder / "out"
    outcome = run_case(["run", str(policy), "--data", str(data), "--no-pdf", "--quiet", "--out", str(out)], out)
    found = problems(outcome, list(case.names) if case.must_refuse and case.names else None)
    if case.must_refuse and outcome.code in (0, 1):
        found.append(f"accepted (exit {outcome.code}) data that must be refused")
    return outcome, found


@settings(max_examples=N_DATASETS, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=data_cases())
def test_hostile_dataset(case, fuzz_workspace):
    outcome, found = run_data_case(fuzz_workspace, case)
    tally("datasets").add(" + ".join(case.labels), outcome, found)
    assert not found, (case.labels, found, outcome.stderr[-2000:])


def test_dataset_fuzz_ran_enough_cases():
    t = tally("datasets")
    if t.cases == 0:
        import pytest

        pytest.skip("test_hostile_dataset was not selected")
    assert t.cases >= 80, t.lines("datasets")
