"""Loading and holding the audited data."""

from audit.data.dataset import Dataset, infer_feature_types

__all__ = ["Dataset", "infer_feature_types"]
