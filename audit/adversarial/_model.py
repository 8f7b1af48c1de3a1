"""What the audited model allows: its family, its probabilities, and a white-box view for ART.

ART's white-box attacks need an estimator it can differentiate: a bare
scikit-learn linear model, SVC or decision tree on a numeric matrix, or a
PyTorch module. Audited models are usually pipelines on DataFrames, so this
module finds the differentiable core and expresses it in the attack's input
space (see :func:`linear_surrogate`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.adversarial._space import NumericSpace

__all__ = ["ModelInfo", "describe_model", "Target", "WhiteBox"]

_LINEAR = ("LogisticRegression", "LinearSVC")
_TREE = ("DecisionTreeClassifier", "ExtraTreeClassifier")
# Tree ensembles the tree attack reads (audit/adversarial/_forest.py); other ensembles are black boxes.
_TREE_ENSEMBLE = ("RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
                  "HistGradientBoostingClassifier", "XGBClassifier", "LGBMClassifier")
_ENSEMBLE = ("AdaBoostClassifier", "BaggingClassifier", "VotingClassifier", "StackingClassifier")


@dataclass
class ModelInfo:
    """The model's family and what it allows.

    ``family`` is ``torch``, ``linear``, ``svc``, ``tree``, ``tree_ensemble`` (tree ensembles
    and trees behind preprocessing), ``ensemble`` or ``other``;
    ``white_box`` says whether a gradient (or tree-structure) attack applies.
    """

    family: str
    name: str
    white_box: bool
    note: str = ""
    pre: Any = None
    final: Any = None


def describe_model(estimator, space: NumericSpace, X_columns: list[str]) -> ModelInfo:
    """Classify the estimator (unwrapping a scikit-learn Pipeline) for attack selection."""
    if _is_torch(estimator):
        ok = list(X_columns) == space.columns
        return ModelInfo("torch", type(estimator).__name__, ok,
                         "" if ok else "non-numeric inputs: gradients cannot reach categorical columns")
    pre, final = _split_pipeline(estimator)
    name = type(final).__name__
    all_numeric = list(X_columns) == space.columns and space.d > 0
    if name in _LINEAR:
        if pre is None and not all_numeric:
            return ModelInfo("other", name, False, "linear model on non-numeric columns")
        return ModelInfo("linear", name, True, "", pre, final)
    if name == "SVC":
        if pre is None and all_numeric:
            return ModelInfo("svc", name, True, "", None, final)
        return ModelInfo("other", f"Pipeline({name})", False,
                         "kernel SVM behind preprocessing: ART cannot differentiate through the pipeline")
    if name in _TREE:
        if pre is None and all_numeric:
            return ModelInfo("tree", name, True, "", None, final)
        # ART's decision-tree attack needs the raw numeric inputs; the tree-ensemble attack
        # pulls the thresholds back through the preprocessing (or says why it cannot).
        return ModelInfo("tree_ensemble", f"Pipeline({name})" if pre is not None else name, True, "",
                         pre, final)
    if name in _TREE_ENSEMBLE:
        return ModelInfo("tree_ensemble", name if pre is None else f"Pipeline({name})", True, "", pre, final)
    if name in _ENSEMBLE:
        return ModelInfo("ensemble", name, False, "tree ensemble: no gradients and no tree attack in ART")
    return ModelInfo("other", name, False, "no white-box attack known for this model type")


def _is_torch(est) -> bool:
    if getattr(est, "_audit_torch", False):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(est, torch.nn.Module)


def _split_pipeline(est):
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        final = est.steps[-1][1]
        pre = est[:-1] if len(est.steps) > 1 else None
        return pre, final
    return None, est


class Target:
    """The attacked rows and the model seen from the attack's side.

    Counts the rows sent to the model (``queries``) so query budgets can be
    checked, and maps changes in the numeric space back to model inputs.
    """

    def __init__(self, adapter, X0: pd.DataFrame, y, space: NumericSpace, classes):
        self.adapter = adapter
        self.X0 = X0.reset_index(drop=True)
        self.space = space
        self.classes = np.asarray(classes)
        self.U0 = space.to_u(self.X0)
        lookup = {c: i for i, c in enumerate(self.classes.tolist())}
        self.y_idx = np.array([lookup.get(v, -1) for v in np.asarray(y).tolist()], dtype=np.int64)
        self.queries = 0

    @property
    def n(self) -> int:
        return len(self.X0)

    @property
    def k(self) -> int:
        return len(self.classes)

    def proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (one-hot of ``predict`` for models without them)."""
        self.queries += len(X)
        p = self.adapter.predict_proba(X) if self.adapter.has_proba else None
        if p is None:
            lab = np.asarray(self.adapter.predict(X))
            idx = np.searchsorted(self.classes, lab)
            p = np.zeros((len(X), self.k))
            p[np.arange(len(X)), idx] = 1.0
        return np.asarray(p, dtype=np.float64)

    def label_idx(self, X: pd.DataFrame) -> np.ndarray:
        return np.argmax(self.proba(X), axis=1)

    def proba_delta(self, delta_x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Probabilities of original rows ``rows`` moved by ``delta_x`` (original units)."""
        return self.proba(self.space.apply(self.X0.iloc[rows], delta_x))


@dataclass
class WhiteBox:
    """An ART classifier on an attack matrix ``Z`` derived from the rows.

    ``delta_x(Z)`` turns attacked matrices back into changes of the numeric
    features in original units; ``eps_scale`` turns a scalar epsilon in attack
    units into per-feature bounds of ``Z``; ``mask`` freezes features.
    """

    classifier: Any
    Z0: np.ndarray
    mask: np.ndarray
    eps_scale: np.ndarray
    to_delta: Any
    supports_l2: bool = True
    extra: dict = field(default_factory=dict)

    def delta_x(self, Z: np.ndarray) -> np.ndarray:
        return self.to_delta(np.asarray(Z, dtype=np.float64) - np.asarray(self.Z0, dtype=np.float64))
