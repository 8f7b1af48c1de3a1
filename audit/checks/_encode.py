"""Numeric encodings of mixed tables for detectors (alibi-detect takes arrays of floats).

Two small pieces the libraries lack for mixed columns: ordinal codes over a
shared vocabulary (drift tests compare code frequencies), and one-hot +
standardisation fitted on the reference (outlier detectors need a metric space).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ordinal_pair", "StandardEncoder", "silence_alibi"]


def ordinal_pair(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of two categorical columns over their joint vocabulary (missing values get their own code)."""
    a = ref.astype(object).where(ref.notna(), "<missing>").astype(str)
    b = cur.astype(object).where(cur.notna(), "<missing>").astype(str)
    vocab = pd.Index(sorted(set(a.unique()) | set(b.unique())))
    return vocab.get_indexer(a).astype(float), vocab.get_indexer(b).astype(float), len(vocab)


class StandardEncoder:
    """One-hot for categorical columns, z-scores for numeric ones; fitted on reference rows.

    Missing numeric values become the reference mean (0 after scaling); unseen
    categories get all-zero indicators.
    """

    def __init__(self, feature_types: dict[str, str]):
        self.feature_types = feature_types

    def fit(self, X: pd.DataFrame) -> StandardEncoder:
        self.num = [c for c in X.columns if self.feature_types.get(c, "numeric") != "categorical"]
        self.cat = [c for c in X.columns if self.feature_types.get(c) == "categorical"]
        v = X[self.num].to_numpy(dtype=float)
        self.mean = np.nanmean(v, axis=0) if len(self.num) else np.zeros(0)
        sd = np.nanstd(v, axis=0) if len(self.num) else np.zeros(0)
        self.sd = np.where(sd > 0, sd, 1.0)
        self.vocab = {c: pd.Index(sorted(X[c].dropna().astype(str).unique())) for c in self.cat}
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        if self.num:
            z = (X[self.num].to_numpy(dtype=float) - self.mean) / self.sd
            parts.append(np.nan_to_num(z, nan=0.0))
        for c in self.cat:
            codes = self.vocab[c].get_indexer(X[c].astype(str))
            oh = np.zeros((len(X), len(self.vocab[c])))
            ok = codes >= 0
            oh[np.flatnonzero(ok), codes[ok]] = 1.0
            parts.append(oh)
        return np.hstack(parts).astype(np.float64) if parts else np.zeros((len(X), 0))


def silence_alibi():
    """Import alibi-detect quietly (it announces missing PyTorch/TensorFlow backends we do not need)."""
    import logging
    import warnings

    for name in ("alibi_detect", "transformers", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import alibi_detect.cd  # noqa: F401
        import alibi_detect.od  # noqa: F401
