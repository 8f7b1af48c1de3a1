"""Registered checks, one module per family.

Every module in this package whose name does not start with ``_`` is imported
here, so adding a family is adding a module: its ``@register_check``
functions are then known to the policy loader and to ``audit checks``.
"""

from __future__ import annotations

import importlib
import pkgutil

from audit.checks._registry import (
    CheckSpec,
    NoParams,
    all_checks,
    closest_ids,
    get_check,
    register_check,
)

__all__ = ["CheckSpec", "NoParams", "all_checks", "closest_ids", "get_check", "register_check"]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
