"""Thread limits: where they hold, where they do not, and that every model call of an audit runs
inside the one the audit chose (and the latency profile at the process's own setting).

Each case runs in a child process with ``OMP_NUM_THREADS=2`` (tests/scale/_threads_probe.py), so
the defaults differ from the limit the audit sets whatever the machine and the test run's own
environment. OpenMP's count is read through ctypes from the libgomp scikit-learn loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.scale import ThreadPlan, limited, threads_in_effect, usable_cores

ROOT = Path(__file__).resolve().parents[2]


def _probe(what: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "scale" / "_threads_probe.py"), what],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def facts():
    return _probe("facts")


def test_openmp_limits_belong_to_the_calling_thread(facts):
    # The fact the design rests on: a limit set in the main thread does not reach a worker thread.
    assert facts["main_default"] == 2
    assert facts["threadpoolctl_main"] == 1
    assert facts["threadpoolctl_seen_by_worker"] == 2


def test_limited_sets_openmp_in_the_worker_and_restores_it(facts):
    assert facts["worker_limited"] == [1, "thread"]
    assert facts["worker_after"] == 2


def test_parallel_section_limits_blas_once_for_every_worker(facts):
    assert facts["blas_default"] == 2
    assert facts["section_main_blas"] == 1
    assert facts["section_worker"] == [1, 1]
    assert facts["after_section"] == [2, 2]


@pytest.mark.parametrize("executor", ["memory", "local"])
def test_every_model_call_of_an_audit_runs_in_the_chosen_limit(executor):
    out = _probe(executor)
    assert not out["errors"], out["errors"]
    th = out["threads"]
    assert th["configured"]["openmp"] == 2 and th["configured"]["env"]["OMP_NUM_THREADS"] == "2"
    # One thread per worker when work is parallel; else the configured count, at most the cores.
    want = 1 if executor == "local" else min(2, th["cores"])
    assert th["predict"] == want and th["attacks"] == 1
    assert [t["openmp"] for t in th["summary_pass"]] == [want] * len(th["summary_pass"])
    audited = [n for who, n in out["calls"] if who != "profile"]
    profiled = [n for who, n in out["calls"] if who == "profile"]
    assert audited and profiled
    assert set(audited) == {want}, out["calls"]
    # The latency profile measures at the process's own configuration, and says so.
    assert set(profiled) == {2}
    assert "2 OpenMP" in out["profile_threads"] and "OMP_NUM_THREADS=2" in out["profile_threads"]
    # Every audited call ran on the model guard's thread (audit/models/guard.py: the time budget),
    # which carries the calling worker's limit over: the limit above held there too.
    assert {who for who, _ in out["calls"] if who != "profile"} == {"audit-model-call"}


def test_thread_plan_choice():
    conf = {"openmp": 8, "blas": 8, "torch": None, "env": {}}
    cores = usable_cores()
    assert ThreadPlan.choose(1, conf).predict == min(8, cores)
    assert ThreadPlan.choose(3, conf).predict == 1
    assert ThreadPlan.choose(1, {"openmp": None, "blas": None, "env": {}}).predict == cores
    d = ThreadPlan.choose(2, conf).describe()
    assert d["workers"] == 2 and d["configured"] == conf and "configured" in d["latency_profile"]


def test_nested_limits_and_none():
    before = threads_in_effect()
    with limited(None) as lim:
        assert lim["scope"] == "none" and threads_in_effect() == before
    with limited(1) as outer:
        with limited(1) as inner:
            assert inner == outer
            assert threads_in_effect()["openmp"] in (None, 1)
    assert threads_in_effect() == before
