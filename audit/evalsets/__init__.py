"""Evaluation-set builders: base, perturbed, shifted, ood, adversarial (one builder per kind).

Every module in this package whose name does not start with ``_`` is imported
so its ``@register_evalset`` builders are known.
"""

from __future__ import annotations

import importlib
import pkgutil

from audit.constraints import enforce_constraints, frozen_mask
from audit.evalsets._base import (
    EvalSetBuilder,
    EvalSetSpec,
    EvaluationSet,
    all_builders,
    base_set,
    build_set,
    derive_seed,
    get_builder,
    parse_evalset_name,
    register_evalset,
)
from audit.evalsets._table import TableInfo, TableStats, table_stats

__all__ = [
    "EvalSetBuilder",
    "EvalSetSpec",
    "EvaluationSet",
    "TableInfo",
    "TableStats",
    "all_builders",
    "base_set",
    "build_set",
    "derive_seed",
    "enforce_constraints",
    "frozen_mask",
    "get_builder",
    "parse_evalset_name",
    "register_evalset",
    "table_stats",
]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
