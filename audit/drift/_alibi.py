"""Optional alibi-detect backend for the drift tests (``pip install "audit[alibi-detect]"``).

alibi-detect 0.13 is licensed under the Business Source License 1.1 (use in
production needs a licence from Seldon) and pins numpy<2, so it is not a core
dependency: :func:`feature_tests` and :func:`score_ks` compute the same numbers
with scipy. This module gives the same interfaces through alibi-detect, plus
the multivariate tests only it provides here (MMD and LSDD with its PyTorch
backend, a classifier two-sample test with its scikit-learn backend).
alibi-detect is imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import logging
import random
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from audit.drift._columns import category_codes, check_tables, numeric_values
from audit.drift._univariate import FeatureTest, _check_numeric_test, _scores
from audit.errors import InputError

__all__ = [
    "ALIBI_DETECT_LICENSE",
    "MULTIVARIATE_METHODS",
    "MultivariateDrift",
    "alibi_feature_tests",
    "alibi_multivariate_drift",
    "alibi_score_ks",
    "require_alibi",
]

#: SPDX identifier of alibi-detect's licence, for the manifest of an audit that used the backend.
ALIBI_DETECT_LICENSE = "BUSL-1.1"
#: Multivariate tests :func:`alibi_multivariate_drift` runs.
MULTIVARIATE_METHODS = ("mmd", "lsdd", "classifier")
_EXTRA = 'pip install "audit[alibi-detect]"'


def require_alibi() -> None:
    """Import alibi-detect quietly, or say which extra installs it.

    alibi-detect announces the PyTorch/TensorFlow backends it did not find and
    transformers prints a backend notice on import; those messages are silenced
    for the import only, so later warnings still reach the user.

    Raises
    ------
    audit.errors.InputError
        alibi-detect is not importable. The message names the extra
        (``pip install "audit[alibi-detect]"``) and the reason; the policy layer turns
        this into exit code 2.
    """
    loggers = [logging.getLogger(n) for n in ("alibi_detect", "transformers", "tensorflow")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import alibi_detect.cd  # noqa: F401
            import alibi_detect.od  # noqa: F401
    except ImportError as exc:
        raise InputError(f"the alibi-detect backend is not installed ({exc}); install it with "
                         f"{_EXTRA} (alibi-detect is licensed under {ALIBI_DETECT_LICENSE}, "
                         f"non-production use)") from exc
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def alibi_feature_tests(ref: pd.DataFrame, cur: pd.DataFrame, feature_types: Mapping[str, str],
                        numeric_test: str = "ks") -> dict[str, FeatureTest]:
    """:func:`audit.drift.feature_tests` computed by alibi-detect's univariate detectors.

    One ``KSDrift`` / ``CVMDrift`` / ``ChiSquareDrift`` per column on the same
    codings (missing numeric values dropped, missing categories counted). Values
    are alibi-detect's float32 results as Python floats.

    Parameters
    ----------
    ref, cur, feature_types, numeric_test
        As in :func:`audit.drift.feature_tests`.

    Returns
    -------
    dict
        Column -> :class:`FeatureTest`.
    """
    _check_numeric_test(numeric_test)
    check_tables(ref, cur, feature_types)
    require_alibi()
    from alibi_detect.cd import ChiSquareDrift, CVMDrift, KSDrift

    out: dict[str, FeatureTest] = {}
    for col in cur.columns:
        if feature_types.get(col) == "categorical":
            a, b = category_codes(ref[col]), category_codes(cur[col])
            if len(a) == 0 or len(b) == 0:
                out[col] = FeatureTest(None, None, "chi2")
                continue
            vocab = pd.Index(sorted(set(a.unique()) | set(b.unique())))
            x_ref = vocab.get_indexer(a).astype(float)[:, None]
            x = vocab.get_indexer(b).astype(float)[:, None]
            det, test = ChiSquareDrift(x_ref, p_val=0.05), "chi2"
        else:
            ra, rb = numeric_values(ref[col], "reference"), numeric_values(cur[col], "current")
            if len(ra) < 2 or len(rb) < 2:
                out[col] = FeatureTest(None, None, numeric_test)
                continue
            cls = KSDrift if numeric_test == "ks" else CVMDrift
            det, test, x = cls(ra[:, None], p_val=0.05), numeric_test, rb[:, None]
        r = det.predict(x, drift_type="feature", return_p_val=True, return_distance=True)["data"]
        out[col] = FeatureTest(float(r["distance"][0]), float(r["p_val"][0]), test)
    return out


def alibi_score_ks(ref_scores, cur_scores) -> tuple[float, float]:
    """:func:`audit.drift.score_ks` computed by alibi-detect's ``KSDrift`` on one column.

    Returns
    -------
    (distance, p_value) : tuple of float
        alibi-detect's float32 values as Python floats.
    """
    a, b = _scores(ref_scores, "ref_scores"), _scores(cur_scores, "cur_scores")
    require_alibi()
    from alibi_detect.cd import KSDrift

    r = KSDrift(a[:, None], p_val=0.05).predict(b[:, None], drift_type="feature", return_p_val=True,
                                                return_distance=True)["data"]
    return float(r["distance"][0]), float(r["p_val"][0])


class MultivariateDrift(NamedTuple):
    """Result of a multivariate two-sample test: unpacks as ``(statistic, p_value, method)``.

    ``statistic`` is the detector's distance: the squared MMD, the LSDD, or for
    the classifier test the out-of-fold AUROC-like score alibi-detect reports
    (its ``distance``). ``p_value`` is the permutation (MMD, LSDD) or
    Kolmogorov-Smirnov (classifier) p-value.
    """

    statistic: float
    p_value: float
    method: str


# Logged every time the classifier test clones a model with a warm_start parameter: it only
# says that retraining from scratch (the default) means warm_start=False.
_WARM_START_NOTICE = "`retrain_from_scratch=True` sets automatically the parameter `warm_start=False`"


@contextlib.contextmanager
def _drop_log(logger: str, prefix: str):
    """Drop one logger's records that start with ``prefix`` for one block; others pass."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(prefix)

    lg = logging.getLogger(logger)
    lg.addFilter(keep)
    try:
        yield
    finally:
        lg.removeFilter(keep)


@contextlib.contextmanager
def _seeded(seed: int):
    """Seed numpy's and Python's global generators, and torch's if present, for one block.

    alibi-detect draws permutations and kernel centres from the global
    generators; their previous states are restored afterwards so the audit's
    other randomness is untouched. Global state: do not run two of these
    tests at once in threads of one process.
    """
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        import torch
    except ImportError:
        torch = None
    fork = torch.random.fork_rng() if torch is not None else contextlib.nullcontext()
    try:
        with fork:
            np.random.seed(seed)  # noqa: NPY002 (alibi-detect draws from the legacy global)
            random.seed(seed)
            if torch is not None:
                torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def _require_torch(method: str):
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise InputError(f"the {method!r} drift test runs alibi-detect's PyTorch backend, which is "
                         f"not installed ({exc}); install it with pip install \"audit[torch]\"") from exc


def _matrix(x, name: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float32)
    if v.ndim != 2 or len(v) < 2:
        raise ValueError(f"{name} must be a 2-D array with at least 2 rows (encoded features); "
                         f"found shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} holds NaN or infinite values; encode the table first "
                         f"(audit.ood.StandardEncoder imputes missing values)")
    return v


def _detector(method: str, x_ref: np.ndarray, seed: int, n_permutations: int, model):
    from alibi_detect import cd

    if method == "mmd":
        return cd.MMDDrift(x_ref, backend="pytorch", p_val=0.05, n_permutations=n_permutations,
                           device="cpu")
    if method == "lsdd":
        return cd.LSDDDrift(x_ref, backend="pytorch", p_val=0.05, n_permutations=n_permutations,
                            device="cpu")
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = model if model is not None else HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    # train_size=None: the folds decide the split (alibi-detect warns when both are given).
    return cd.ClassifierDrift(x_ref, clf, backend="sklearn", p_val=0.05, n_folds=5, train_size=None,
                              seed=seed)


def alibi_multivariate_drift(ref, cur, method: str, *, seed: int, n_permutations: int = 100,
                             model=None) -> MultivariateDrift:
    """One test of whether two encoded tables come from the same joint distribution.

    Parameters
    ----------
    ref, cur : numpy.ndarray, 2-D
        Reference and current rows, numerically encoded with the same encoder
        (e.g. :class:`audit.ood.StandardEncoder` fitted on the reference).
    method : {"mmd", "lsdd", "classifier"}
        ``"mmd"``: ``MMDDrift`` (Gaussian kernel, bandwidth from the median
        heuristic) with a permutation test; ``"lsdd"``: ``LSDDDrift`` with a
        permutation test; both on alibi-detect's PyTorch backend, CPU. MMD costs
        O(n^2) per permutation: about 4 s at 1,000 rows per side and 130 s at
        5,000 here. ``"classifier"``: ``ClassifierDrift`` with the scikit-learn
        backend, out-of-fold predictions over 5 folds.
    seed : int
        Seeds the permutations, kernel centres and folds; the global generators'
        states are restored afterwards.
    n_permutations : int
        Permutations of the MMD and LSDD tests.
    model : scikit-learn classifier, optional
        The classifier of the ``"classifier"`` test; default
        ``HistGradientBoostingClassifier(max_iter=50, random_state=seed)``.

    Returns
    -------
    MultivariateDrift
    """
    if method not in MULTIVARIATE_METHODS:
        raise ValueError(f"method must be one of {list(MULTIVARIATE_METHODS)}; found {method!r}")
    x_ref, x = _matrix(ref, "ref"), _matrix(cur, "cur")
    if x_ref.shape[1] != x.shape[1]:
        raise ValueError(f"ref has {x_ref.shape[1]} columns and cur {x.shape[1]}; encode both "
                         f"with the same encoder")
    require_alibi()
    if method in ("mmd", "lsdd"):
        _require_torch(method)
    quiet = (_drop_log("alibi_detect.cd.sklearn.classifier", _WARM_START_NOTICE)
             if method == "classifier" else contextlib.nullcontext())
    with _seeded(seed), quiet:
        r = _detector(method, x_ref, seed, n_permutations, model).predict(x)["data"]
    return MultivariateDrift(float(r["distance"]), float(r["p_val"]), method)
