"""Detectors by name."""

from __future__ import annotations

from audit.ood._base import Detector
from audit.ood._sklearn import GMMDetector, IsolationForestDetector, MahalanobisDetector

__all__ = ["DETECTORS", "make_detector"]

#: Detector names :func:`make_detector` knows.
DETECTORS = ("iforest", "gmm", "mahalanobis")


def make_detector(kind: str, *, seed: int, robust: bool = False) -> Detector:
    """An unfitted detector: ``make_detector(kind, seed=s).fit(X_ref).score(X)``.

    Parameters
    ----------
    kind : {"iforest", "gmm", "mahalanobis"}
        Isolation forest, two-component Gaussian mixture, or Mahalanobis distance.
    seed : int
        Seed of the isolation forest, of the mixture's k-means start, and of the
        robust covariance's random subsets.
    robust : bool
        Mahalanobis only: minimum covariance determinant estimates instead of
        the mean and covariance.

    Returns
    -------
    Detector

    Raises
    ------
    ValueError
        Unknown ``kind``, or ``robust=True`` for a detector other than Mahalanobis.
    """
    if kind == "mahalanobis":
        return MahalanobisDetector(seed=seed, robust=robust)
    if robust:
        raise ValueError(f"robust=True applies to the 'mahalanobis' detector only; found kind={kind!r}")
    if kind == "iforest":
        return IsolationForestDetector(seed=seed)
    if kind == "gmm":
        return GMMDetector(seed=seed)
    raise ValueError(f"unknown detector {kind!r}; expected one of {list(DETECTORS)}")
