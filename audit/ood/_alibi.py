"""Optional alibi-detect backend for the OOD detectors (``pip install "audit[alibi-detect]"``).

The same :class:`~audit.ood.Detector` interface through alibi-detect 0.13
(BUSL-1.1, imported inside the methods only):

- ``"iforest"``: ``IForest``, its forest seeded through its public
  ``isolationforest`` attribute; equals :class:`IsolationForestDetector`.
- ``"gmm"``: ``GMM(n_components=2, backend="sklearn")``. Its scikit-learn model is
  built without a ``random_state``, so it draws from numpy's global generator;
  that generator is seeded for the fit and restored afterwards, which makes the
  fit equal :class:`GMMDetector` (``np.random.seed(s)`` and
  ``RandomState(s)`` produce the same draws) without the private
  ``_set_fitted()`` call audits used before. alibi-detect 0.13 does not export
  ``GMM`` from ``alibi_detect.od``: it is imported from ``alibi_detect.od._gmm``,
  which a later release may move.
- ``"mahalanobis"``: the old-API online ``Mahalanobis`` detector audits used
  before 0.2 (top-10 principal components, clipping, statistics updated while
  scoring), with its state restored before every scored chunk so evaluation rows
  never leak into the reference statistics. Kept to reproduce earlier numbers;
  it is 2 orders of magnitude slower than :class:`MahalanobisDetector`.

The new-API detectors (KNN, LOF, PCA, SVM, the new Mahalanobis) run here with
torch but are not exported from ``alibi_detect.od`` in 0.13 (private modules),
and scikit-learn has their equivalents: they are not wrapped.
"""

from __future__ import annotations

import copy

import numpy as np

from audit.drift._alibi import require_alibi
from audit.ood._base import Detector

__all__ = ["ALIBI_DETECTORS", "make_alibi_detector"]

#: Detector names :func:`make_alibi_detector` knows.
ALIBI_DETECTORS = ("iforest", "gmm", "mahalanobis")
_MAHA_CHUNK = 2000
_MAHA_FIT_ROWS = 20_000


class _AlibiIForest(Detector):
    kind = "iforest"

    def _fit(self, X):
        from alibi_detect.od import IForest

        self.det_ = IForest(threshold=0.0, n_estimators=100)
        self.det_.isolationforest.set_params(random_state=self.seed)
        self.det_.fit(X)

    def _score(self, X):
        return self.det_.score(X)


class _AlibiGMM(Detector):
    kind = "gmm"

    def _fit(self, X):
        from alibi_detect.od._gmm import GMM

        state = np.random.get_state()  # noqa: NPY002 (the backend draws from the legacy global)
        try:
            np.random.seed(self.seed)  # noqa: NPY002
            self.det_ = GMM(n_components=2, backend="sklearn")
            self.det_.fit(X)
        finally:
            np.random.set_state(state)  # noqa: NPY002

    def _score(self, X):
        return self.det_.score(X)


class _AlibiOnlineMahalanobis(Detector):
    kind = "mahalanobis"

    def _fit(self, X):
        from alibi_detect.od import Mahalanobis

        self.det_ = Mahalanobis(threshold=0.0, n_components=min(X.shape[1], 10))
        if len(X) > _MAHA_FIT_ROWS:
            # Its update loops over rows in Python; a seeded sample estimates mean and covariance.
            rows = np.random.default_rng(self.seed).choice(len(X), _MAHA_FIT_ROWS, replace=False)
            X = X[np.sort(rows)]
        # The detector learns the reference by scoring it, chunk by chunk.
        for i in range(0, len(X), _MAHA_CHUNK):
            self.det_.score(X[i:i + _MAHA_CHUNK])
        self.state_ = copy.deepcopy({k: getattr(self.det_, k) for k in ("mean", "C", "n", "clip")})

    def _score(self, X):
        out = []
        for i in range(0, len(X), _MAHA_CHUNK):
            for k, v in self.state_.items():
                setattr(self.det_, k, copy.deepcopy(v))
            out.append(self.det_.score(X[i:i + _MAHA_CHUNK]))
        return np.concatenate(out)


_CLASSES = {"iforest": _AlibiIForest, "gmm": _AlibiGMM, "mahalanobis": _AlibiOnlineMahalanobis}


def make_alibi_detector(kind: str, *, seed: int, robust: bool = False) -> Detector:
    """:func:`audit.ood.make_detector` through alibi-detect.

    Parameters
    ----------
    kind : {"iforest", "gmm", "mahalanobis"}
        See the module docstring for what each computes.
    seed : int
        Seed of the forest, of the mixture's k-means start, or of the Mahalanobis
        reference sample (above 20,000 rows).
    robust : bool
        Not available through alibi-detect (must be False).

    Raises
    ------
    audit.errors.InputError
        alibi-detect is not installed (the message names the extra).
    ValueError
        Unknown ``kind``, or ``robust=True``.
    """
    if kind not in _CLASSES:
        raise ValueError(f"unknown detector {kind!r}; expected one of {list(ALIBI_DETECTORS)}")
    if robust:
        raise ValueError("robust=True is not available with the alibi-detect backend; use "
                         "audit.ood.make_detector('mahalanobis', seed=..., robust=True)")
    require_alibi()
    return _CLASSES[kind](seed=seed)
