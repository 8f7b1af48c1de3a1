"""The audited dataset: features, target, sensitive columns, optional reference data."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Dataset", "infer_feature_types"]


def infer_feature_types(X: pd.DataFrame) -> dict[str, str]:
    """Map each column to ``"numeric"``, ``"integer"`` or ``"categorical"``.

    Booleans, strings, objects and pandas categoricals are categorical; integer
    dtypes are integer; other numbers are numeric.
    """
    types = {}
    for col in X.columns:
        dt = X[col].dtype
        if pd.api.types.is_bool_dtype(dt) or not pd.api.types.is_numeric_dtype(dt):
            types[col] = "categorical"
        elif pd.api.types.is_integer_dtype(dt):
            types[col] = "integer"
        else:
            types[col] = "numeric"
    return types


@dataclass
class Dataset:
    """Held-out data for an audit.

    Attributes
    ----------
    X : DataFrame
        The columns the model takes, in the model's order.
    y : ndarray or None
        Target; None only when no check needs labels.
    sensitive : DataFrame
        Sensitive attributes, one column each (may also be in ``X`` when the model uses them).
    prediction, score : ndarray or None
        Predictions-only audits: the deployed system's decisions and (positive-class) scores.
    reference : Dataset or None
        Training or reference sample, for drift and leakage checks.
    feature_types : dict
        Column -> ``"numeric" | "integer" | "categorical"``.
    source : str
        Where it came from (a path), for the report.
    target : str
        Name of the target column.
    rows : ndarray or None
        Global row number of each row in the whole table (the audit's sample); None: 0..n-1.
    weight : ndarray or None
        Row weights (``data.weight``); None: every row counts once.
    design_weight : ndarray or None
        The stratified sample's inverse inclusion probabilities (rows of the whole table each
        sample row stands for); None when the rows are the whole table.
    """

    X: pd.DataFrame
    y: np.ndarray | None
    sensitive: pd.DataFrame
    prediction: np.ndarray | None = None
    score: np.ndarray | None = None
    reference: Dataset | None = None
    feature_types: dict[str, str] = field(default_factory=dict)
    source: str = ""
    target: str = "y"
    rows: np.ndarray | None = None
    weight: np.ndarray | None = None
    design_weight: np.ndarray | None = None

    def __post_init__(self):
        if not self.feature_types:
            self.feature_types = infer_feature_types(self.X)

    @property
    def n_rows(self) -> int:
        return len(self.X)

    @property
    def numeric_features(self) -> list[str]:
        return [c for c, t in self.feature_types.items() if t in ("numeric", "integer")]

    @property
    def categorical_features(self) -> list[str]:
        return [c for c, t in self.feature_types.items() if t == "categorical"]
