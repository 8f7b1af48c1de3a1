"""Model adapters and safe loading."""

from audit.models.adapter import ModelAdapter, Predictions

__all__ = ["ModelAdapter", "Predictions"]
