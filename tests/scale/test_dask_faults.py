"""A Dask worker that dies mid-audit: the scheduler reruns its partition elsewhere and the
audit completes with the numbers of an undisturbed run."""

import pytest

pytest.importorskip("distributed")

from audit.policy import load_policy
from audit.runner import RunOptions, run_audit
from tests.scale.conftest import write_policy

CHECKS = [
    {"id": "performance.accuracy", "threshold": {"min": 0.5}},
    {"id": "fairness.demographic_parity_ratio", "threshold": {"min": 0.0}},
    {"id": "robustness.flip_rate", "evalset": "perturbed.noise@0.1", "threshold": {"max": 1.0}},
]


def _policy(tmp_path, files, model):
    return write_policy(tmp_path, files, CHECKS, execution={"executor": "dask", "workers": 2,
                                                           "partition_rows": 1000},
                        **({"model": model} if model else {}))


def _numbers(res):
    return [(r.id, r.value, r.interval.model_dump() if r.interval else None, r.n) for r in res.results]


def test_worker_death_is_retried_with_same_numbers(scale_files, tmp_path, monkeypatch):
    import cloudpickle

    import tests.scale._killer as killer

    # The model's class travels to the workers by value (they cannot import the tests package).
    cloudpickle.register_pickle_by_value(killer)
    marker = tmp_path / "killed"
    monkeypatch.setenv("AUDIT_KILL_MODEL", str(scale_files["model"]))
    monkeypatch.setenv("AUDIT_KILL_MARKER", str(marker))
    try:
        killing = run_audit(load_policy(_policy(tmp_path, scale_files, {"entrypoint": "tests.scale._killer:build"})),
                            RunOptions(progress=False, trust_model=True))
    finally:
        cloudpickle.unregister_pickle_by_value(killer)
    assert marker.exists(), "no worker was killed: the test did not inject its fault"
    clean = run_audit(load_policy(_policy(tmp_path, scale_files, None)),
                      RunOptions(progress=False, executor="local", trust_model=True))
    assert _numbers(killing) == _numbers(clean)
    assert all(r.verdict.value != "ERROR" for r in killing.results)


def test_a_partition_that_keeps_failing_fails_the_audit(scale_files, tmp_path, monkeypatch):
    # A row in the middle of the table kills every worker that predicts it (as a row that runs a
    # native library out of memory would): every retry of that partition dies, so the audit raises
    # instead of reporting the other partitions.
    import cloudpickle
    import pyarrow.parquet as pq

    import tests.scale._killer as killer
    from audit.errors import ExecutionError

    bad = tmp_path / "bad"
    bad.mkdir()
    for f in sorted(scale_files["folder"].iterdir()):
        t = pq.read_table(f).to_pandas()
        if f.name == "part-2.parquet":
            t.loc[t.index[700], "income"] = -12345.0
        t.to_parquet(bad / f.name, index=False)
    monkeypatch.setenv("AUDIT_KILL_MODEL", str(scale_files["model"]))
    monkeypatch.setenv("AUDIT_KILL_SENTINEL", "-12345")
    cloudpickle.register_pickle_by_value(killer)
    try:
        policy = _policy(tmp_path, scale_files, {"entrypoint": "tests.scale._killer:build"})
        with pytest.raises(ExecutionError) as info:
            run_audit(load_policy(policy), RunOptions(progress=False, data=str(bad), trust_model=True))
    finally:
        cloudpickle.unregister_pickle_by_value(killer)
    msg = str(info.value)
    assert "part-2.parquet" in msg and "attempt(s)" in msg and "Nothing was reported" in msg
