"""Model adapters and safe loading."""

from audit.models.adapter import ModelAdapter, Predictions
from audit.models.loading import file_sha256, load_model, wrap_model

__all__ = ["ModelAdapter", "Predictions", "file_sha256", "load_model", "wrap_model"]
