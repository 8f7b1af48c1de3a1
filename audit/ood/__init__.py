"""Out-of-distribution detectors fitted on reference data, on scikit-learn.

Encode the tables with :class:`StandardEncoder` (fitted on the reference),
then::

    det = make_detector("iforest", seed=seed).fit(enc.transform(ref))
    scores = det.score(enc.transform(rows))        # higher = more out-of-distribution

- ``"iforest"``: :class:`IsolationForestDetector`, equal to alibi-detect's ``IForest``.
- ``"gmm"``: :class:`GMMDetector`, equal to alibi-detect's ``GMM`` (scikit-learn backend), seeded.
- ``"mahalanobis"``: :class:`MahalanobisDetector`, the distance to the reference
  mean (or, ``robust=True``, to the minimum covariance determinant estimates).

alibi-detect is an optional backend (``pip install "audit[alibi-detect]"``,
BUSL-1.1): :func:`make_alibi_detector` gives the same interface through it, its
online Mahalanobis detector included.

Modules: :mod:`._base` (the interface), :mod:`._sklearn` (the detectors),
:mod:`._factory` (by name), :mod:`._encode` (the encoder), :mod:`._alibi` (the backend).
"""

from audit.drift._alibi import ALIBI_DETECT_LICENSE, require_alibi
from audit.ood._alibi import ALIBI_DETECTORS, make_alibi_detector
from audit.ood._base import Detector
from audit.ood._encode import StandardEncoder
from audit.ood._factory import DETECTORS, make_detector
from audit.ood._sklearn import GMMDetector, IsolationForestDetector, MahalanobisDetector

__all__ = [
    "ALIBI_DETECTORS",
    "ALIBI_DETECT_LICENSE",
    "DETECTORS",
    "Detector",
    "GMMDetector",
    "IsolationForestDetector",
    "MahalanobisDetector",
    "StandardEncoder",
    "make_alibi_detector",
    "make_detector",
    "require_alibi",
]
