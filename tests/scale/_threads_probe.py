"""Run in a child process with OMP_NUM_THREADS=2 by tests/scale/test_threads.py; prints JSON.

OpenMP's thread count is read with ``omp_get_max_threads`` through ctypes from the very
libgomp scikit-learn loaded (dlopen of a loaded library returns it): what the next parallel
region started from the calling thread would use, independently of threadpoolctl's report.
"""

from __future__ import annotations

import ctypes
import json
import sys
import threading

import numpy as np
import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime
from threadpoolctl import threadpool_info, threadpool_limits

from audit.scale import limited, parallel_section

_gomp = ctypes.CDLL(next(p["filepath"] for p in threadpool_info() if p["user_api"] == "openmp"))


def omp() -> int:
    return int(_gomp.omp_get_max_threads())


def blas() -> int:
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("v", fn()))
    t.start()
    t.join()
    return box["v"]


def facts() -> dict:
    out = {"main_default": omp(), "blas_default": blas()}
    with threadpool_limits(1):
        out["threadpoolctl_main"] = omp()
        out["threadpoolctl_seen_by_worker"] = in_thread(omp)

    def worker_limited():
        with limited(1) as lim:
            inside = (omp(), lim["scope"])
        return inside, omp()

    out["worker_limited"], out["worker_after"] = in_thread(worker_limited)
    with parallel_section(1):
        out["section_main_blas"] = blas()

        def worker():
            with limited(1):
                return omp(), blas()

        out["section_worker"] = in_thread(worker)
    out["after_section"] = (omp(), blas())
    return out


class Probe:
    """The demo pipeline behind a model that records OpenMP's thread count at every call."""

    def __init__(self, model):
        self.model, self.classes_, self.calls = model, model.classes_, []
        self.profiling = False

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        self.calls.append(("profile" if self.profiling else threading.current_thread().name, omp()))
        return self.model.predict_proba(X)


def audit_calls(executor: str) -> dict:
    import audit
    import audit.profiling._cache as prof
    from audit.data.demo import make_credit_data, train_demo_model

    data = make_credit_data(4500, seed=2)
    train, hold = data.iloc[:1500].reset_index(drop=True), data.iloc[1500:].reset_index(drop=True)
    probe = Probe(train_demo_model(train))
    real = prof.profile_model

    def timed(*a, **k):
        probe.profiling = True
        try:
            return real(*a, **k)
        finally:
            probe.profiling = False

    prof.profile_model = timed
    policy = {"version": 1, "name": "threads", "seed": 0,
              "data": {"path": "unused.parquet", "target": "repaid", "sensitive": ["sex"]},
              "defaults": {"n_boot": 50},
              "checks": [{"id": "performance.accuracy", "threshold": {"min": 0}},
                         {"id": "ood.detection_auroc", "params": {"detector": "confidence"},
                          "threshold": {"min": 0}},
                         {"id": "latency.p50_ms", "params": {"batch_sizes": [1, 8], "budget_s": 0.2},
                          "threshold": {"max": 1e9}}]}
    kw = {"executor": executor}
    if executor == "local":
        kw.update(workers=2, partition_rows=1000)
    res = audit.run(policy, model=probe, data=hold, reference=train, **kw)
    prof.profile_model = real
    errors = [(r.id, r.message) for r in res.results if r.verdict.value == "ERROR"]
    return {"calls": probe.calls, "threads": res.manifest["execution"]["threads"], "errors": errors,
            "profile_threads": next(r for r in res.results if r.id == "latency.p50_ms").message}


if __name__ == "__main__":
    np.seterr(all="ignore")
    what = sys.argv[1]
    print(json.dumps(facts() if what == "facts" else audit_calls(what)))
