"""Optional extras: import a library that an extra provides, or say which extra to install.

Integrations (ONNX models, MLflow) sit behind extras declared in ``pyproject.toml``
so the core install stays small. A missing extra is an input problem the person
running the audit can fix, so it is a :class:`~audit.errors.MissingExtraError`
(exit code 2) naming the extra, never an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from audit.errors import MissingExtraError

__all__ = ["import_extra"]


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise a :class:`MissingExtraError` naming ``extra``.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"onnxruntime"``.
    extra : str
        The ``audit`` extra that installs it, e.g. ``"onnx"``.
    purpose : str
        What needs it, for the message, e.g. ``"loading .onnx models"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        When the import fails; the message says what to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the optional '{extra}' extra, which is not installed "
            f"(import of {module!r} failed: {exc}); install it with: pip install 'audit[{extra}]'"
        ) from None
