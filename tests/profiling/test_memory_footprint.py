"""Peak memory, model size and cold start against direct measurements."""

from __future__ import annotations

import os
import pickle

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from audit.profiling import _footprint, cold_start, measure_peak_memory, model_size

N = 10_000_000  # 80 MB of float64


def allocate(_):
    a = np.ones(N)  # np.ones writes every page: resident, not just reserved
    return float(a[-1])


def test_tracemalloc_sees_numpy_allocations():
    mem = measure_peak_memory(allocate, None)
    assert 8 * N <= mem.tracemalloc_bytes < 8 * N + 1_000_000
    assert mem.peak_bytes >= mem.tracemalloc_bytes


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="Linux peak-RSS mark only")
def test_rss_increase_sees_the_pages():
    mem = measure_peak_memory(allocate, None)
    assert mem.rss_method in ("VmHWM", "psutil-sampled")
    # A large block is mmapped fresh and touched: RSS grows by nearly all of it.
    assert mem.rss_delta_bytes >= 0.75 * 8 * N
    assert mem.rss_peak_bytes >= mem.rss_delta_bytes


def test_nothing_allocated_reads_small():
    mem = measure_peak_memory(lambda _: None, None)
    assert mem.tracemalloc_bytes < 10_000


@pytest.fixture(scope="module")
def tiny_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def test_model_size_disk_and_pickled(tmp_path, tiny_model):
    est, _ = tiny_model
    f = tmp_path / "m.joblib"
    joblib.dump(est, f)
    size = model_size(est, str(f))
    assert size.disk_bytes == os.path.getsize(f)
    assert size.pickled_bytes == len(pickle.dumps(est, protocol=5))
    none = model_size(est, "pkg.module:attr")
    assert none.disk_bytes is None and "no model file" in none.note
    bad = model_size(lambda x: x, "")
    assert bad.pickled_bytes is None and "not picklable" in bad.note


def test_cold_start_in_a_fresh_process(tmp_path, tiny_model):
    est, X = tiny_model
    f = tmp_path / "m.joblib"
    joblib.dump(est, f)
    cs = cold_start(est, str(f), "predict_proba", X[:1], budget_s=0.01)
    assert cs.method == "subprocess" and len(cs.runs) == 1  # at least one run, whatever the budget
    r = cs.runs[0]
    assert cs.seconds == pytest.approx(r.load_s + r.first_predict_s)
    assert 0 < cs.extra["loader_import_s"] <= r.load_s
    assert r.process_s > r.seconds  # the child's wall time includes interpreter start-up
    assert r.cpu_s > 0


def test_cold_start_repeats_while_the_budget_lasts(tmp_path, tiny_model, monkeypatch):
    est, X = tiny_model
    # Runs of a known length (a fake child that sleeps): the budget decides how many fit.
    import time

    def fake(path, method, xpath, sha, timeout_s):
        time.sleep(0.05)
        return _footprint.ColdStartRun(0.04, 0.01, 0.03, 0.05), 0.0

    monkeypatch.setattr(_footprint, "_subprocess", fake)
    f = tmp_path / "m.joblib"
    joblib.dump(est, f)
    cs = cold_start(est, str(f), "predict", X[:1], budget_s=0.33)
    # A run takes >= 50 ms; one more starts only if it would end within 0.33 s: at most 6 runs.
    assert 2 <= len(cs.runs) <= 6
    assert cs.seconds == pytest.approx(0.05)
    assert cs.bracket == pytest.approx((0.03, 0.05))
    cs = cold_start(est, str(f), "predict", X[:1], budget_s=1000)
    assert len(cs.runs) == _footprint.MAX_COLD_RUNS


def test_cold_start_refuses_a_changed_file(tmp_path, tiny_model, monkeypatch):
    est, X = tiny_model
    f = tmp_path / "m.joblib"
    joblib.dump(est, f)
    # The hash the loader recorded differs from the file now: the child must not load it.
    with pytest.raises(RuntimeError, match="changed since"):
        cold_start(est, str(f), "predict", X[:1], expected_sha256="0" * 64)
    import audit.models.loading as loading

    monkeypatch.setattr(loading, "file_sha256", lambda p: "0" * 64)
    with pytest.raises(RuntimeError, match="changed since"):
        cold_start(est, str(f), "predict", X[:1])


def test_cold_start_without_a_file_reloads_in_process(tiny_model):
    est, X = tiny_model
    cs = cold_start(est, "", "predict", X[:1], budget_s=0.01)
    assert cs.method == "in-process-unpickle" and cs.process_s is None and 1 <= len(cs.runs)
    assert cs.seconds == pytest.approx(np.median([r.load_s + r.first_predict_s for r in cs.runs]))
    assert cs.extra["pickled_bytes"] == len(pickle.dumps(est, protocol=5))
