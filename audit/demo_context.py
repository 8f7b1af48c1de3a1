"""A ready :class:`AuditContext` on the demo credit data (tests, benchmarks, docs examples)."""

from __future__ import annotations

from audit.constraints import FeatureConstraint, resolve_constraints
from audit.context import AuditContext, AuditSettings
from audit.data.dataset import Dataset
from audit.data.demo import FEATURES, SENSITIVE, TARGET, make_credit_data, train_demo_model
from audit.models.adapter import ModelAdapter

__all__ = ["demo_context", "DEMO_CONSTRAINTS"]

DEMO_CONSTRAINTS = {
    "sex": FeatureConstraint(immutable=True),
    "age": FeatureConstraint(immutable=True, integer=True, min=18, max=100),
}


def demo_context(n: int = 2000, n_ref: int = 2000, seed: int = 0, *, model=True, n_boot: int = 200,
                 estimator=None) -> AuditContext:
    """Demo data split into reference (first ``n_ref`` rows) and held-out (next ``n``), with its model.

    ``estimator`` replaces the trained demo model (e.g. a call-counting wrapper).
    """
    data = make_credit_data(n + n_ref, seed=seed)
    ref, hold = data.iloc[:n_ref].reset_index(drop=True), data.iloc[n_ref:].reset_index(drop=True)
    ref_ds = Dataset(X=ref[FEATURES], y=ref[TARGET].to_numpy(), sensitive=ref[SENSITIVE], source="reference",
                     target=TARGET)
    ds = Dataset(X=hold[FEATURES], y=hold[TARGET].to_numpy(), sensitive=hold[SENSITIVE], reference=ref_ds,
                 source="holdout", target=TARGET)
    ref_ds.feature_types = ds.feature_types
    adapter = None
    if model:
        adapter = ModelAdapter(estimator if estimator is not None else train_demo_model(ref, seed=seed))
    cons = resolve_constraints(ds.X, ds.feature_types, DEMO_CONSTRAINTS, ref_ds.X)
    return AuditContext(settings=AuditSettings(seed=seed, n_boot=n_boot, pos_label=1), dataset=ds,
                        model=adapter, constraints=cons)
