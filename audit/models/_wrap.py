"""Putting a loaded estimator behind the adapter, and file hashes (shared by every loader)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from audit.errors import ModelLoadError
from audit.models.adapter import DEFAULT_BATCH, ModelAdapter

__all__ = ["file_sha256", "wrap_model"]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wrap_model(est, source: str = "", batch_size: int = DEFAULT_BATCH) -> ModelAdapter:
    """Put an estimator behind the adapter, checking it can predict."""
    if _is_torch_module(est):
        from audit.models.torch import TorchModelAdapter  # optional extra

        return TorchModelAdapter(est, kind="torch", source=source, batch_size=batch_size)
    if not callable(getattr(est, "predict", None)):
        raise ModelLoadError(f"the model from {source} has no predict() method (got {type(est).__name__}); "
                             "expected a scikit-learn estimator or an object with predict/predict_proba")
    return ModelAdapter(est, kind="sklearn" if _is_sklearn(est) else "callable", source=source,
                        batch_size=batch_size)


def _is_sklearn(est) -> bool:
    return type(est).__module__.startswith("sklearn") or hasattr(est, "get_params")


def _is_torch_module(est) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(est).__mro__)
