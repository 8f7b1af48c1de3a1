"""One profile per audit, shared by every latency check with the same settings.

The cache lives on the :class:`~audit.context.AuditContext` (created lazily in its
``__dict__``), so it dies with the audit and each candidate model, which gets a
context of its own, is profiled separately.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait

from audit.profiling._footprint import (
    RELOADABLE_SUFFIXES,
    ColdStart,
    ModelSize,
    cold_start,
    model_file,
    model_size,
)
from audit.profiling._profile import (
    ProfileParams,
    RuntimeProfile,
    prediction_function,
    profile_model,
)

__all__ = ["get_profile", "get_model_size", "get_cold_start", "start_cold_start", "wait_background"]

_FALLBACK_LOCK = threading.RLock()


def _store(ctx):
    audit = getattr(ctx, "audit", ctx)  # a CheckContext or the AuditContext itself
    lock = getattr(audit, "_lock", _FALLBACK_LOCK)
    return audit.cache("profiles"), lock


def _model(ctx):
    m = ctx.model
    if m is None:
        from audit.errors import CheckSkipped

        raise CheckSkipped("needs a live model; this is a predictions-only audit")
    return m


def _evalset_name(ctx) -> str:
    return getattr(ctx, "evalset_name", "base")


def get_profile(ctx, params: ProfileParams | None = None, batch_size: int | None = None) -> RuntimeProfile:
    """The runtime profile of ``ctx``'s model on the check's evaluation set (computed once)."""
    params = params or ProfileParams()
    model = _model(ctx)
    name = _evalset_name(ctx)
    key = ("timing", id(model), name, params.key(batch_size))
    store, lock = _store(ctx)
    with lock:
        if key not in store:
            es = ctx.evalset(name)
            store[key] = profile_model(model, es.X, params, task=ctx.task, evalset=name, extra_batch=batch_size)
        return store[key]


def get_model_size(ctx) -> ModelSize:
    """Disk and pickled size of ``ctx``'s model (computed once)."""
    model = _model(ctx)
    store, lock = _store(ctx)
    with lock:
        key = ("size", id(model))
        if key not in store:
            store[key] = model_size(model.estimator, model.source)
        return store[key]


def _cold_key(ctx, method: str, timeout_s: float, budget_s: float) -> tuple:
    model = _model(ctx)
    _, name = prediction_function(model, method, ctx.task)
    return ("cold", id(model), name, float(timeout_s), float(budget_s))


def _cold_job(ctx, method: str, timeout_s: float, budget_s: float):
    """The measurement as a function of nothing: the one-row sample is taken now, by the caller."""
    model = _model(ctx)
    _, name = prediction_function(model, method, ctx.task)
    X = ctx.evalset(_evalset_name(ctx)).X
    sample = X.iloc[:1] if hasattr(X, "iloc") else X[:1]
    est, source, sha = model.estimator, model.source, (model.meta or {}).get("sha256")
    return lambda: cold_start(est, source, name, sample, timeout_s, expected_sha256=sha, budget_s=budget_s)


def start_cold_start(ctx, method: str = "auto", timeout_s: float = 120.0, budget_s: float = 2.0) -> bool:
    """Start measuring the cold start in the background, when the model comes from a file.

    The runs happen in child processes, so they overlap with the checks this process runs
    meanwhile; :func:`get_cold_start` then waits for the result. Returns False (nothing started)
    when the model has no reloadable file: the in-process measurement would compete with the
    other checks for this process, so it runs when the check asks for it.
    """
    model = _model(ctx)
    if model_file(model.source) is None or model_file(model.source).suffix.lower() not in RELOADABLE_SUFFIXES:
        return False
    store, lock = _store(ctx)
    with lock:
        key = _cold_key(ctx, method, timeout_s, budget_s)
        if key in store:
            return True
        future: Future = Future()
        job = _cold_job(ctx, method, timeout_s, budget_s)

        def work():
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the check that reads it
                future.set_exception(exc)

        store[key] = future
        threading.Thread(target=work, name="audit-cold-start", daemon=True).start()
        return True


def wait_background(ctx) -> None:
    """Wait until every background measurement of this audit has finished (results kept for the checks)."""
    store, _ = _store(ctx)
    for v in list(store.values()):
        if isinstance(v, Future):
            wait([v])


def get_cold_start(ctx, method: str = "auto", timeout_s: float = 120.0, budget_s: float = 2.0) -> ColdStart:
    """Cold-start time of ``ctx``'s model, first prediction on one row (computed once; waits for a
    measurement :func:`start_cold_start` began)."""
    store, lock = _store(ctx)
    with lock:
        key = _cold_key(ctx, method, timeout_s, budget_s)
        if key not in store:
            store[key] = _cold_job(ctx, method, timeout_s, budget_s)()
        value = store[key]
    return value.result() if isinstance(value, Future) else value
