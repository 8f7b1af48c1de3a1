"""Evaluation-set builders: base, perturbed, shifted, ood, adversarial.

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
    derive_seed,
    get_builder,
    parse_evalset_name,
    register_evalset,
)

__all__ = [
    "EvalSetBuilder",
    "EvalSetSpec",
    "EvaluationSet",
    "all_builders",
    "derive_seed",
    "enforce_constraints",
    "frozen_mask",
    "get_builder",
    "parse_evalset_name",
    "register_evalset",
]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
