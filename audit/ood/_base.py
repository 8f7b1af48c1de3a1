"""The detector interface: fitted on reference rows, scoring rows (higher = more OOD)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from audit.errors import DataError

__all__ = ["Detector"]


class Detector(ABC):
    """An out-of-distribution detector on numerically encoded rows.

    Subclasses implement ``_fit`` and ``_score``; :meth:`fit` and :meth:`score`
    check the input first, so every detector rejects bad arrays with the same
    messages.

    Parameters
    ----------
    seed : int
        Seed of the detector's randomness (unused by deterministic detectors).
    """

    #: Name of the detector, as :func:`audit.ood.make_detector` knows it.
    kind: str = ""

    def __init__(self, *, seed: int):
        self.seed = int(seed)
        self.n_features_: int | None = None

    def fit(self, X) -> Detector:
        """Fit on reference rows.

        Parameters
        ----------
        X : numpy.ndarray, 2-D
            Reference rows, encoded (e.g. by :class:`audit.ood.StandardEncoder`), finite.

        Returns
        -------
        Detector
            ``self``.
        """
        X = self._check(X, "fit")
        if len(X) < 2:
            raise DataError(f"{type(self).__name__}.fit needs at least 2 reference rows; found {len(X)}")
        self._fit(X)
        self.n_features_ = X.shape[1]
        return self

    def score(self, X) -> np.ndarray:
        """OOD scores of rows: higher = further from the reference data.

        Parameters
        ----------
        X : numpy.ndarray, 2-D
            Rows encoded like the reference rows, finite.

        Returns
        -------
        numpy.ndarray
            One float64 score per row.
        """
        if self.n_features_ is None:
            raise RuntimeError(f"{type(self).__name__}.score called before fit")
        X = self._check(X, "score")
        if X.shape[1] != self.n_features_:
            raise DataError(f"{type(self).__name__}.score: X has {X.shape[1]} encoded columns; the "
                            f"detector was fitted on {self.n_features_} (encode both tables with the "
                            f"same fitted encoder)")
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self._score(X), dtype=np.float64)

    def _check(self, X, step: str) -> np.ndarray:
        where = f"{type(self).__name__}.{step}"
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where} needs an array of numbers (encode the table first, e.g. with "
                            f"audit.ood.StandardEncoder); found {type(X).__name__}") from exc
        if X.ndim != 2:
            raise DataError(f"{where} needs a 2-D array (rows x encoded features); found shape {X.shape}")
        if X.shape[1] == 0:
            raise DataError(f"{where}: X has no columns")
        bad = ~np.isfinite(X)
        if bad.any():
            cols = np.flatnonzero(bad.any(axis=0))[:10].tolist()
            raise DataError(f"{where}: X holds {int(bad.sum())} NaN or infinite value(s) in encoded "
                            f"column(s) {cols}; expected finite numbers (StandardEncoder imputes "
                            f"missing values)")
        return X

    @abstractmethod
    def _fit(self, X: np.ndarray) -> None:
        """Fit on checked reference rows."""

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Score checked rows."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"
