"""PyTorch modules behind the scikit-learn-like interface the audit uses.

:class:`TorchModel` gives a classification ``nn.Module`` (numeric inputs,
logits out) ``predict``, ``predict_proba`` and ``classes_``, so
:class:`~audit.models.adapter.ModelAdapter` and the checks treat it like any
other model, and the adversarial checks find the module for ART's
PyTorchClassifier. torch is imported lazily: the toolkit works without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.models.adapter import ModelAdapter

__all__ = ["TorchModel", "TorchModelAdapter", "torch_adapter"]


class TorchModel:
    """A torch classifier on a numeric table.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a float32 batch of shape (n, d) to logits of shape (n, k).
    classes : array-like, optional
        Class label of each logit; default ``0..k-1``.
    columns : list of str, optional
        Input columns in the module's order; default the table's columns.
    batch_size : int
        Rows per forward pass.
    """

    _audit_torch = True  # lets the adversarial package recognise it without importing torch

    def __init__(self, module, classes=None, columns: list[str] | None = None, batch_size: int = 4096):
        self.module = module.eval()
        self._classes = None if classes is None else np.asarray(classes)
        self.columns = None if columns is None else list(columns)
        self.batch_size = int(batch_size)

    def _matrix(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            X = X[self.columns] if self.columns is not None else X
            return X.to_numpy(dtype=np.float32)
        return np.asarray(X, dtype=np.float32)

    def logits(self, X) -> np.ndarray:
        """Raw module outputs, in batches, without gradients."""
        import torch

        x = self._matrix(X)
        out = []
        with torch.no_grad():
            for i in range(0, len(x), self.batch_size):
                out.append(self.module(torch.from_numpy(x[i : i + self.batch_size])).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the logits, float64, columns in ``classes_`` order."""
        z = self.logits(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.logits(X), axis=1)]

    @property
    def classes_(self) -> np.ndarray:
        if self._classes is None:
            out = [m for m in self.module.modules() if hasattr(m, "out_features")]
            self._classes = np.arange(out[-1].out_features) if out else np.arange(2)
        return self._classes


@dataclass
class TorchModelAdapter(ModelAdapter):
    """A :class:`ModelAdapter` over a raw ``nn.Module`` (wrapped in :class:`TorchModel`)."""

    def __post_init__(self):
        if not isinstance(self.estimator, TorchModel):
            self.estimator = TorchModel(self.estimator, batch_size=min(self.batch_size, 4096))
        self.kind = "torch"


def torch_adapter(module, classes=None, columns: list[str] | None = None, source: str = "",
                  batch_size: int = 4096) -> ModelAdapter:
    """A :class:`ModelAdapter` of kind ``"torch"`` around ``module``."""
    est = module if isinstance(module, TorchModel) else TorchModel(module, classes, columns, batch_size)
    return TorchModelAdapter(est, kind="torch", source=source)


def weights_sha256(module) -> str:
    """SHA-256 of a torch module's weights: every state-dict entry's name, dtype, shape and bytes,
    in name order (the same weights give the same hash, however they were saved)."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        if not isinstance(t, torch.Tensor):  # extra state a module chose to save
            h.update(f"{name}|{type(t).__name__}|{t!r}|".encode())
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # Raw bytes through a uint8 view: works for dtypes numpy lacks (bfloat16).
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
