"""One interface over the models the toolkit can audit.

:class:`ModelAdapter` wraps a scikit-learn estimator or pipeline, or any object
with ``predict`` (and optionally ``predict_proba``). Predictions are made in
batches so memory stays bounded on large evaluation sets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ModelAdapter", "Predictions"]

DEFAULT_BATCH = 65_536


@dataclass
class Predictions:
    """Predictions of one evaluation set.

    Attributes
    ----------
    labels : ndarray
        Predicted class labels (classification) or values (regression).
    proba : ndarray or None
        Class probabilities, shape (n, n_classes), columns in ``classes`` order.
    classes : ndarray or None
        Class labels of ``proba``'s columns.
    duration_s : float
        Wall time spent inside the model.
    """

    labels: np.ndarray
    proba: np.ndarray | None = None
    classes: np.ndarray | None = None
    duration_s: float = 0.0
    stored: bool = False
    pos_label: object = None

    @property
    def score(self) -> np.ndarray | None:
        """Score of the positive class for binary problems: ``pos_label``'s column of ``proba``
        (the last class when ``pos_label`` is unset or unknown, as scikit-learn)."""
        if self.proba is None:
            return None
        if self.proba.ndim == 1:
            return self.proba
        if self.proba.shape[1] != 2:
            return None
        col = 1
        if self.pos_label is not None and self.classes is not None and len(self.classes) == 2:
            hits = np.flatnonzero(np.asarray(self.classes) == self.pos_label)
            col = int(hits[0]) if hits.size else 1
        return self.proba[:, col]


@dataclass
class ModelAdapter:
    """A loaded model behind one interface.

    Attributes
    ----------
    estimator : object
        The underlying object (an sklearn estimator, a pipeline, a torch module...).
    kind : str
        ``"sklearn"``, ``"callable"``, ``"torch"`` or ``"onnx"``.
    source : str
        Path or entry point it was loaded from.
    batch_size : int
        Rows per call to the model.
    """

    estimator: object
    kind: str = "sklearn"
    source: str = ""
    batch_size: int = DEFAULT_BATCH
    meta: dict = field(default_factory=dict)

    @property
    def classes_(self) -> np.ndarray | None:
        c = getattr(self.estimator, "classes_", None)
        return None if c is None else np.asarray(c)

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.estimator, "predict_proba", None))

    def _batched(self, fn, X: pd.DataFrame) -> np.ndarray:
        n = len(X)
        if n <= self.batch_size:
            return np.asarray(fn(X))
        rows = X.iloc if hasattr(X, "iloc") else X  # DataFrames and arrays alike
        parts = [np.asarray(fn(rows[i : i + self.batch_size])) for i in range(0, n, self.batch_size)]
        return np.concatenate(parts)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels or values, in batches."""
        return self._batched(self.estimator.predict, X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities in batches, or None when the model has none."""
        if not self.has_proba:
            return None
        return self._batched(self.estimator.predict_proba, X)

    def predict_all(self, X: pd.DataFrame, task: str) -> Predictions:
        """Labels and (for classifiers) probabilities in one timed pass.

        With probabilities, labels are taken as the argmax over ``classes_`` so the
        model is called once per batch, not twice.
        """
        t0 = time.perf_counter()
        proba = self.predict_proba(X) if task == "classification" else None
        classes = self.classes_
        if proba is not None and classes is not None and proba.ndim == 2:
            labels = classes[np.argmax(proba, axis=1)]
        else:
            labels = self.predict(X)
        return Predictions(labels=np.asarray(labels), proba=proba, classes=classes,
                           duration_s=time.perf_counter() - t0)
