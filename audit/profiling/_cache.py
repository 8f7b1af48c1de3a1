"""One profile per audit, shared by every latency check with the same settings.

The cache lives on the :class:`~audit.context.AuditContext` (created lazily in its
``__dict__``), so it dies with the audit and each candidate model, which gets a
context of its own, is profiled separately.
"""

from __future__ import annotations

import threading

from audit.profiling._footprint import ColdStart, ModelSize, cold_start, model_size
from audit.profiling._profile import (
    ProfileParams,
    RuntimeProfile,
    prediction_function,
    profile_model,
)

__all__ = ["get_profile", "get_model_size", "get_cold_start"]

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


def get_cold_start(ctx, method: str = "auto", timeout_s: float = 120.0) -> ColdStart:
    """Cold-start time of ``ctx``'s model, first prediction on one row (computed once)."""
    model = _model(ctx)
    store, lock = _store(ctx)
    with lock:
        _, name = prediction_function(model, method, ctx.task)
        key = ("cold", id(model), name)
        if key not in store:
            es = ctx.evalset(_evalset_name(ctx))
            X = es.X
            sample = X.iloc[:1] if hasattr(X, "iloc") else X[:1]
            store[key] = cold_start(model.estimator, model.source, name, sample, timeout_s,
                                    expected_sha256=(model.meta or {}).get("sha256"))
        return store[key]
