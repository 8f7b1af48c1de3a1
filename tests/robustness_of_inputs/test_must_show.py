"""The "Must show" cases of the hostile-inputs issue, as named regression tests.

- One run names a NaN threshold, a missing sensitive column and a constraint on a missing
  column together, exit 2, before any work (the time is measured in the report, not asserted).
- A sensitive column with 10,000 distinct values is refused with the limit named (the default
  ``execution.max_groups``), and computed when the limit is raised.
- ``trust: true`` in a policy with a pickle, run without ``--trust-model``: exit 2 and the
  pickle's side effect (a marker file) does not happen.
"""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from ._harness import base_frame, problems, run_case
from ._policy_text import write_policy


def _run(policy, *extra, timeout_s=120):
    out = policy.parent / "out"
    return run_case(["run", str(policy), *extra, "--no-pdf", "--quiet", "--out", str(out)], out,
                    timeout_s=timeout_s)


def test_nan_threshold_missing_sensitive_and_constraint_named_in_one_run(fuzz_workspace):
    def edit(p):
        p["checks"][0]["threshold"]["min"] = float("nan")
        p["data"]["sensitive"] = ["sex", "no_such_col"]
        p["constraints"]["income_missing"] = {"min": 0, "max": 10}

    policy = write_policy(fuzz_workspace, "must-show-a", edit=edit)
    assert "min: .nan" in policy.read_text()
    outcome = _run(policy)
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["checks[0].threshold.min"])
    err = outcome.stderr
    assert "checks[0].threshold.min" in err and "expected a finite number" in err
    assert "data.sensitive[1]" in err and "'no_such_col' not found" in err
    assert "constraints.income_missing" in err
    assert "3 problem(s)" in err


def _many_groups(folder, n_groups=10_000, rows=20_000):
    df = base_frame(rows, seed=1)
    df["sex"] = [f"g{i % n_groups:05d}" for i in range(rows)]
    path = folder / "many-groups.parquet"
    df.to_parquet(path)
    return path, df


def test_ten_thousand_groups_refused_with_the_limit_named(fuzz_workspace, tmp_path):
    data, df = _many_groups(tmp_path)
    assert df["sex"].nunique() == 10_000
    outcome = _run(write_policy(fuzz_workspace, "must-show-b"), "--data", str(data))
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["execution.max_groups"])
    err = outcome.stderr
    assert "data.sensitive[0]" in err and "sensitive column 'sex' has more than" in err
    assert "the limit is execution.max_groups = 1,000" in err


def test_ten_thousand_groups_computed_when_the_limit_is_raised(fuzz_workspace, tmp_path):
    data, df = _many_groups(tmp_path)
    policy = write_policy(fuzz_workspace, "must-show-b2",
                          edit=lambda p: p.update(execution={"max_groups": 20_000},
                                                  defaults={"min_group_size": 1}))
    outcome = _run(policy, "--data", str(data), timeout_s=300)
    assert outcome.code in (0, 1), outcome.stderr
    assert not problems(outcome)
    result = json.loads(next(outcome.out.glob("*/results.json")).read_text())
    dpd = next(r for r in result["results"] if r["id"] == "fairness.demographic_parity_difference")
    # Independent computation: the model's positive rate per group, max minus min (pandas).
    from skops.io import get_untrusted_types, load

    model = load(fuzz_workspace.model, trusted=get_untrusted_types(file=fuzz_workspace.model))
    rates = pd.Series(model.predict(df[["x1", "x2", "age"]]), index=df.index).groupby(df["sex"]).mean()
    assert dpd["value"] == pytest.approx(rates.max() - rates.min(), abs=1e-12)


class _Marker:
    """Unpickling this creates a file: the side effect a malicious pickle would have."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_trust_in_the_policy_does_not_unpickle(fuzz_workspace, tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_TRUST_MODEL", raising=False)
    marker = tmp_path / "unpickled-marker"
    model = fuzz_workspace.root / "must-show-c" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(pickle.dumps(_Marker(marker)))

    def edit(p):
        p["model"] = {"path": "model.pkl", "trust": True}

    outcome = _run(write_policy(fuzz_workspace, "must-show-c", edit=edit))
    assert outcome.code == 2, outcome.stderr
    assert not problems(outcome, ["model.trust"])
    assert "--trust-model" in outcome.stderr and "a policy cannot grant trust" in outcome.stderr
    assert not marker.exists()
    # The payload works: loading the file by hand does create the marker (so its absence above
    # means the audit never unpickled it).
    with open(model, "rb") as fh:
        pickle.load(fh).close()  # noqa: S301 - the test's own file
    assert marker.exists()
