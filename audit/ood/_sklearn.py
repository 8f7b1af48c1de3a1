"""Detectors on scikit-learn: isolation forest, Gaussian mixture, Mahalanobis distance.

The isolation forest and the Gaussian mixture are built exactly as alibi-detect
0.13's ``IForest`` and ``GMM`` (scikit-learn backend) build them, so the scores
equal the ones earlier audits reported for the same seed. The Mahalanobis
detector replaces alibi-detect's online one (which updated its statistics row
by row in Python); see :class:`MahalanobisDetector` for what it computes.
"""

from __future__ import annotations

import warnings

import numpy as np

from audit.errors import DataError
from audit.ood._base import Detector

__all__ = ["MCD_MAX_ROWS", "GMMDetector", "IsolationForestDetector", "MahalanobisDetector",
           "reweighted_support"]

#: Above this many reference rows the robust Mahalanobis fits its MCD on a seeded sample.
MCD_MAX_ROWS = 5000


class IsolationForestDetector(Detector):
    """Isolation forest: ``-IsolationForest.decision_function(x)``.

    ``IsolationForest(n_estimators=100, max_samples="auto", max_features=1.0,
    bootstrap=False, n_jobs=1, random_state=seed)``: alibi-detect's ``IForest``
    defaults, and its score. With the default ``contamination="auto"`` the
    decision function is ``score_samples(x) + 0.5``, so the score is the
    isolation-forest anomaly score of Liu et al. (2008), ``s(x) in (0, 1]``,
    minus 0.5: positive for likely anomalies.
    """

    kind = "iforest"

    def _fit(self, X):
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(n_estimators=100, max_samples="auto", max_features=1.0,
                                       bootstrap=False, n_jobs=1, random_state=self.seed).fit(X)

    def _score(self, X):
        return -self.forest_.decision_function(X)


class GMMDetector(Detector):
    """Gaussian mixture: negative log-density, ``-GaussianMixture.score_samples(x)``.

    ``GaussianMixture(n_components=2, covariance_type="full", tol=1e-3,
    max_iter=100, n_init=1, init_params="kmeans", random_state=seed)``: the model
    alibi-detect's ``GMM(n_components=2, backend="sklearn")`` fits, seeded.
    """

    kind = "gmm"

    def _fit(self, X):
        from sklearn.mixture import GaussianMixture

        self.mixture_ = GaussianMixture(n_components=2, covariance_type="full", tol=1e-3,
                                        max_iter=100, n_init=1, init_params="kmeans",
                                        random_state=self.seed).fit(X)

    def _score(self, X):
        return -self.mixture_.score_samples(X)


class MahalanobisDetector(Detector):
    """Mahalanobis distance to the reference centre.

    ``score(x) = sqrt((x - mu)' S+ (x - mu))``, with ``mu`` the mean and ``S`` the
    maximum-likelihood covariance (divides by n, as
    ``sklearn.covariance.EmpiricalCovariance``) of the reference rows, and ``S+``
    its Moore-Penrose pseudo-inverse.

    One-hot columns sum to one per categorical feature, so ``S`` is singular on
    encoded tables. The pseudo-inverse measures distance inside the subspace
    the reference rows span (covariance eigenvalues above ``max(n_rows, n_cols)
    * eps * largest``, the cut-off ``numpy.linalg.matrix_rank`` uses, far above
    the round-off of the null directions) and ignores the directions in which
    the reference does not vary.

    ``robust=True``: ``mu`` and ``S`` are computed over the reference rows the
    reweighted minimum covariance determinant keeps
    (``sklearn.covariance.MinCovDet(random_state=seed).support_``), so a minority
    of reference outliers does not inflate the spread. The MCD looks at the
    columns with more than two distinct reference values only (continuous and
    count features): on one-hot indicators and binary flags half the rows can
    share one value, which makes its determinant zero and its subsets erratic.
    On continuous data ``mu`` is then the MCD's reweighted ``location_`` and
    ``S`` its ``covariance_`` without the consistency factor scikit-learn
    multiplies it by (a constant that scales every distance alike). Above
    ``MCD_MAX_ROWS`` (5,000) reference rows the MCD is fitted on a seeded
    sample of that size and its reweighting rule (:func:`reweighted_support`)
    picks the rows among all of them.

    Unlike alibi-detect's online detector, which this replaces, it neither
    projects onto the top 10 principal components, nor clips values, nor
    updates its statistics while scoring, and it uses every reference row.
    """

    kind = "mahalanobis"

    def __init__(self, *, seed: int, robust: bool = False):
        super().__init__(seed=seed)
        self.robust = bool(robust)

    def _fit(self, X):
        self.support_ = self._mcd_support(X) if self.robust else np.ones(len(X), dtype=bool)
        rows = X[self.support_]
        self.centre_ = rows.mean(axis=0)
        basis, eigval = _principal(rows)
        if basis.shape[1] == 0:
            raise DataError("MahalanobisDetector.fit: every reference row is the same point; there "
                            "is no spread to measure distances in")
        self.basis_, self.inv_var_ = basis, 1.0 / eigval

    def _mcd_support(self, X) -> np.ndarray:
        from sklearn.covariance import MinCovDet

        cont = [j for j in range(X.shape[1]) if len(np.unique(X[:, j])) > 2]
        if not cont:
            warnings.warn("robust Mahalanobis: no encoded column has more than two distinct values "
                          "(all indicators or flags), so no robust fit is possible; every reference "
                          "row is used", RuntimeWarning, stacklevel=4)
            return np.ones(len(X), dtype=bool)
        C = X[:, cont]
        basis, _ = _principal(C)
        # The MCD is affine equivariant: fitted on the centred principal coordinates it keeps the
        # same rows, without tripping over exactly collinear columns.
        P = (C - C.mean(axis=0)) @ basis
        if len(P) <= MCD_MAX_ROWS:
            return np.asarray(MinCovDet(random_state=self.seed).fit(P).support_, dtype=bool)
        # scikit-learn's FastMCD refines its candidates on every row in Python loops (about a
        # minute at 100,000 rows here): estimate on a seeded sample, keep rows by the same rule.
        rows = np.sort(np.random.default_rng(self.seed).choice(len(P), MCD_MAX_ROWS, replace=False))
        return reweighted_support(MinCovDet(random_state=self.seed).fit(P[rows]), P)

    def _score(self, X):
        z = (X - self.centre_) @ self.basis_
        return np.sqrt(np.einsum("ij,ij,j->i", z, z, self.inv_var_))

    def __repr__(self) -> str:
        return f"MahalanobisDetector(seed={self.seed}, robust={self.robust})"


def reweighted_support(mcd, P: np.ndarray) -> np.ndarray:
    """Rows an MCD's reweighting step keeps, for any rows ``P`` (not only those it was fitted on).

    The rule of ``MinCovDet``: squared distances from the raw MCD estimates, whose
    covariance is scaled for consistency at the normal model (Croux & Haesbroeck
    1999; Pison et al. 2002), below the 97.5% quantile of chi-square with as many
    degrees of freedom as columns. On the rows it was fitted on this is its ``support_``.
    """
    from scipy import linalg
    from scipy.stats import chi2

    p = P.shape[1]
    alpha = float(np.mean(mcd.raw_support_))
    consistency = alpha / chi2.cdf(chi2.ppf(alpha, df=p), p + 2)
    z = P - mcd.raw_location_
    d2 = np.einsum("ij,ij->i", z @ linalg.pinvh(mcd.raw_covariance_), z) / consistency
    return d2 < chi2(p).isf(0.025)


def _principal(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors and eigenvalues of the ML covariance of ``X`` above the rank cut-off."""
    cov = np.cov(X, rowvar=False, bias=True).reshape(X.shape[1], X.shape[1])
    eigval, eigvec = np.linalg.eigh(cov)
    keep = eigval > max(X.shape) * np.finfo(np.float64).eps * max(float(eigval.max()), 0.0)
    return eigvec[:, keep], eigval[keep]
