"""Import ``skops.io`` without importing torch, dask or other array libraries.

``skops.io`` builds its list of safe types at import time from
``sklearn.utils.all_estimators()``, which walks every scikit-learn package with
``pkgutil.walk_packages``. The walk imports each *package* to look inside it, even those the
estimator search then ignores, and ``sklearn/externals/array_api_compat`` holds one package
per array library (``torch``, ``dask``, ``cupy``, ``jax``...) that imports that library. With
torch and dask installed, ``import skops.io`` therefore imports both: about 2 s of CPU and
230 MB of memory before any model is read, for packages that hold no estimator.

:func:`import_skops_io` imports ``skops.io`` while those compatibility packages refuse to be
imported. ``walk_packages`` skips a package that raises ImportError, the estimator list is
the same (no estimator lives there), and the refusal ends with the import: scikit-learn's
array-API support imports them later, when a caller turns it on.

This module imports nothing from ``audit`` so the cold-start child process can load it by
path (:mod:`audit.profiling._footprint`) and load a model exactly as the audit does.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading

__all__ = ["import_skops_io", "SKIPPED_SHIMS", "SKIPPED_OPTIONAL"]

_SHIMS = "sklearn.externals.array_api_compat."
SKIPPED_SHIMS = ("torch", "dask", "cupy", "jax", "ndonnx", "sparse", "paddle")
_lock = threading.Lock()


# The walk also imports sklearn.utils._testing, which imports pytest when it can (inside
# ``try: ... except ImportError``) for test markers: 0.1 s of CPU in a process that runs no test.
SKIPPED_OPTIONAL = ("pytest", "_pytest")


class _RefuseArrayShims(importlib.abc.MetaPathFinder):
    """Raises ImportError for scikit-learn's vendored array-library compatibility packages (and
    pytest, which only a testing helper imports, optionally)."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith(_SHIMS) and name[len(_SHIMS):].split(".", 1)[0] in SKIPPED_SHIMS:
            raise ModuleNotFoundError(f"{name} is not imported while skops.io lists its safe types", name=name)
        if name.split(".", 1)[0] in SKIPPED_OPTIONAL:
            raise ModuleNotFoundError(f"{name} is not imported while skops.io lists its safe types", name=name)
        return None


def import_skops_io():
    """``skops.io``, imported (once per process) without the array-library compatibility packages."""
    mod = sys.modules.get("skops.io")
    if mod is not None:
        return mod
    with _lock:
        finder = _RefuseArrayShims()
        sys.meta_path.insert(0, finder)
        try:
            return importlib.import_module("skops.io")
        finally:
            sys.meta_path.remove(finder)
