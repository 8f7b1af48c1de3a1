"""Drift between reference (training) data and current data, on scipy.

- :func:`feature_tests`: one two-sample test per feature (Kolmogorov-Smirnov or
  Cramer-von Mises for numeric columns, chi-square for categorical ones).
- :func:`bh_qvalues`: Benjamini-Hochberg q-values over those tests, so the
  per-feature decisions control the false discovery rate.
- :func:`score_ks`: Kolmogorov-Smirnov distance between two score samples.
- :func:`chi2_counts`: the chi-square test from category counts (the streamed
  audit's sketches hold counts, not rows).

The numbers equal alibi-detect 0.13's (same scipy calls, float32 rounding kept
by default); alibi-detect itself is an optional backend
(``pip install "audit[alibi-detect]"``, BUSL-1.1): :func:`alibi_feature_tests`,
:func:`alibi_score_ks` and the multivariate :func:`alibi_multivariate_drift`
(MMD, LSDD, classifier two-sample test), each importing it only when called.

Modules: :mod:`._univariate` (the tests), :mod:`._fdr` (FDR control),
:mod:`._columns` (column checks and codings), :mod:`._alibi` (the backend).
"""

from audit.drift._alibi import (
    ALIBI_DETECT_LICENSE,
    MULTIVARIATE_METHODS,
    MultivariateDrift,
    alibi_feature_tests,
    alibi_multivariate_drift,
    alibi_score_ks,
    require_alibi,
)
from audit.drift._fdr import bh_qvalues
from audit.drift._univariate import NUMERIC_TESTS, FeatureTest, chi2_counts, feature_tests, score_ks

__all__ = [
    "ALIBI_DETECT_LICENSE",
    "MULTIVARIATE_METHODS",
    "NUMERIC_TESTS",
    "FeatureTest",
    "MultivariateDrift",
    "alibi_feature_tests",
    "alibi_multivariate_drift",
    "alibi_score_ks",
    "bh_qvalues",
    "chi2_counts",
    "feature_tests",
    "require_alibi",
    "score_ks",
]
