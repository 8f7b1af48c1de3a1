"""Marks for tests of the optional alibi-detect backend.

``pytestmark = ALIBI`` in a test module, or ``@requires_alibi`` on one test,
marks it ``alibi`` and skips it when alibi-detect is not installed, so ``pytest -m "not alibi"`` runs the
core suite and a plain run skips what it cannot run.
"""

from __future__ import annotations

import logging
import warnings
from importlib.util import find_spec

import pytest

__all__ = ["ALIBI", "HAS_ALIBI", "import_alibi_cd", "import_alibi_od", "requires_alibi"]

HAS_ALIBI = find_spec("alibi_detect") is not None

ALIBI = [
    pytest.mark.alibi,
    pytest.mark.skipif(not HAS_ALIBI, reason='needs the alibi-detect extra: pip install "audit[alibi-detect]"'),
]


def requires_alibi(func):
    """Decorator: mark a test ``alibi`` and skip it without alibi-detect."""
    for mark in reversed(ALIBI):
        func = mark(func)
    return func


def _quiet_import(name: str):
    import importlib

    logging.getLogger("alibi_detect").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def import_alibi_cd():
    """``alibi_detect.cd``, imported without its backend notices."""
    return _quiet_import("alibi_detect.cd")


def import_alibi_od():
    """``alibi_detect.od``, imported without its backend notices."""
    return _quiet_import("alibi_detect.od")
