"""One interface over the models the toolkit can audit.

:class:`ModelAdapter` wraps a scikit-learn estimator or pipeline, or any object
with ``predict`` (and optionally ``predict_proba``). Predictions are made in
batches so memory stays bounded on large evaluation sets. Every call runs within
the model's bounds (:mod:`audit.models.guard`: a time budget, no ``sys.exit``,
optionally a child process) and every answer is checked against the output
contract (:mod:`audit.models.contract`) before anything is computed from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.models.contract import checked_labels, checked_proba, checked_values
from audit.models.guard import DEFAULT_TIMEOUT_S, CallGuard

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
    timeout_s : float or None
        Budget of one call (one batch), in seconds; None: unbounded.
    isolate : bool
        Run the calls in a child process (see :mod:`audit.models.guard`).
    """

    estimator: object
    kind: str = "sklearn"
    source: str = ""
    batch_size: int = DEFAULT_BATCH
    meta: dict = field(default_factory=dict)
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    isolate: bool = False
    task: str | None = field(default=None, compare=False)  # set by expect(): the contract predict() follows
    # The audit's classes (the data's and the model's): predicted labels must be among them.
    expected_classes: np.ndarray | None = field(default=None, compare=False)
    _guard: CallGuard | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def classes_(self) -> np.ndarray | None:
        c = getattr(self.estimator, "classes_", None)
        return None if c is None else np.asarray(c)

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.estimator, "predict_proba", None))

    @property
    def name(self) -> str:
        """How messages name the model."""
        return self.source or f"<{type(self.estimator).__name__} object>"

    def expect(self, task: str, classes=None) -> None:
        """Say what the audit expects: the task, and for classification the classes labels must be among."""
        self.task = task
        self.expected_classes = None if classes is None or task != "classification" else np.asarray(classes)

    def bounded(self, timeout_s: float | None, isolate: bool = False) -> ModelAdapter:
        """Set the bounds of every later call (``model.timeout_s``, ``model.isolate``); returns self."""
        self.close()
        self.timeout_s, self.isolate, self._guard = timeout_s, isolate, None
        if isolate:
            self.guard  # noqa: B018 - pickle the model into its process now: a failure is a load error
        return self

    @property
    def guard(self) -> CallGuard:
        if self._guard is None:
            self._guard = CallGuard(self.name, self.timeout_s, self.isolate,
                                    self.estimator if self.isolate else None)
        return self._guard

    def close(self) -> None:
        """Stop the model's child process (``isolate``), if any."""
        if self._guard is not None:
            self._guard.close()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_guard"] = None  # rebuilt where it lands (a Dask worker): threads do not travel
        return state

    def _batched(self, method: str, X: pd.DataFrame, check) -> np.ndarray:
        fn = getattr(self.estimator, method)
        n = len(X)
        if n <= self.batch_size:
            return check(self.guard.call(method, fn, X), n)
        rows = X.iloc if hasattr(X, "iloc") else X  # DataFrames and arrays alike
        parts = []
        for i in range(0, n, self.batch_size):
            batch = rows[i : i + self.batch_size]
            parts.append(check(self.guard.call(method, fn, batch), len(batch)))
        return np.concatenate(parts)

    def _label_check(self, out, n: int) -> np.ndarray:
        if self.task == "regression":
            return checked_values(self.name, out, n)
        classes = self.expected_classes if self.expected_classes is not None else self.classes_
        return checked_labels(self.name, out, n, classes if self.task == "classification" else None)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels or values, in batches, checked against the output contract."""
        return self._batched("predict", X, self._label_check)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities in batches (checked: in [0, 1], rows summing to 1), or None when the
        model has none."""
        if not self.has_proba:
            return None
        classes = self.classes_
        return self._batched("predict_proba", X, lambda out, n: checked_proba(self.name, out, n, classes))

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
