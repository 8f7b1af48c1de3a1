"""Drift checks: reference (training) data vs an evaluation set, per feature and on model scores.

Per-feature tests are the two-sample Kolmogorov-Smirnov test (numeric) and
Pearson's chi-square test of the two category count vectors (categorical),
computed from mergeable drift sketches of every row: the sketch counts the
evaluation set's values at and between the reference's distinct values, where
the KS distance is attained, so the test is exact. The Cramer-von Mises test
needs every pairwise rank and runs on the stratified sample's rows. With many
features tested at once the false discovery rate is controlled with a
Benjamini-Hochberg step over all per-feature p-values (:func:`bh_qvalues`).

In a weighted audit the evaluation side is weighted (the ``w:`` twins of the
sketches): the KS distance between the reference ECDF and the evaluation set's
weighted ECDF (exact, from weight sums at the same points), and the chi-square
test on the weighted category shares scaled to Kish's effective number of rows
(a design-effect correction); p-values use that effective size. The reference
side counts its rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import register_check
from audit.drift import ALIBI_DETECT_LICENSE, bh_qvalues, chi2_counts
from audit.errors import CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import bootstrap_counts, percentile_interval
from audit.stats.summaries import MISSING

__all__ = ["bh_qvalues", "sketch_pvalues", "ks_from_sketch"]

Backend = Literal["scipy", "alibi-detect"]


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


class FeatureDriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numeric_test: Literal["ks", "cvm"] = Field("ks", description="Kolmogorov-Smirnov or Cramer-von Mises.")
    fdr: float = Field(0.05, gt=0, lt=1, description="False discovery rate for the per-feature decisions.")
    features: list[str] | None = Field(None, description="Features to test; default all.")
    backend: Backend = Field("scipy", description="scipy (the core), or alibi-detect's detectors (the "
                                                  "alibi-detect extra; Business Source License, non-production "
                                                  "use) on the stratified sample's rows.")


def feature_pvalues(ref, cur, feature_types, numeric_test="ks", backend: str = "scipy"):
    """Per-feature (statistic, p-value, test) from rows: scipy (the numbers alibi-detect reports,
    float32), or alibi-detect itself."""
    if backend == "alibi-detect":
        from audit.drift import alibi_feature_tests

        return {c: tuple(v) for c, v in alibi_feature_tests(ref, cur, feature_types, numeric_test).items()}
    from audit.drift import feature_tests

    return {c: tuple(v) for c, v in feature_tests(ref, cur, feature_types, numeric_test).items()}


def ks_from_sketch(ref: np.ndarray, sk: np.ndarray) -> tuple[float | None, float | None]:
    """Two-sample KS distance and asymptotic p-value (as alibi-detect's KSDrift reports them, in
    float32) of sorted reference values ``ref`` against a value sketch (see
    :func:`audit.stats.summaries.value_sketch`) of the other sample."""
    from scipy.stats import kstwo

    a = np.sort(ref[~np.isnan(ref)])
    m, n = len(a), int(sk.sum())
    if m < 2 or n < 2:
        return None, None
    _, ref_le = np.unique(a, return_counts=True)
    fr = np.cumsum(ref_le) / m  # reference ECDF at each distinct value
    cur = np.cumsum(sk)  # cur[2j] = values below u[j]; cur[2j + 1] = values at or below u[j]
    below, at_or_below = cur[0:-1:2] / n, cur[1::2] / n
    fr_prev = np.concatenate([[0.0], fr[:-1]])
    d = float(max(np.max(np.abs(fr - at_or_below)), np.max(np.abs(fr_prev - below))))
    big, small = sorted([float(m), float(n)], reverse=True)
    p = float(kstwo.sf(d, np.round(big * small / (big + small))))
    return float(np.float32(d)), float(np.float32(p))


def ks_from_weighted_sketch(ref: np.ndarray, wc) -> tuple[float | None, float | None]:
    """:func:`ks_from_sketch` against the *weighted* ECDF of the other sample (a weighted value
    sketch, :class:`~audit.stats.summaries.WeightedCounts`); the p-value uses Kish's effective
    size of the weighted sample."""
    from scipy.stats import kstwo

    from audit.stats._weights import kish_n

    a = np.sort(ref[~np.isnan(ref)])
    v = wc.values()
    w = v[:, 0]
    W = float(w.sum())
    n = float(kish_n(W, float(v[:, 1].sum())))
    m = len(a)
    if m < 2 or n < 2 or W <= 0:
        return None, None
    _, ref_le = np.unique(a, return_counts=True)
    fr = np.cumsum(ref_le) / m
    cur = np.cumsum(w)
    below, at_or_below = cur[0:-1:2] / W, cur[1::2] / W
    fr_prev = np.concatenate([[0.0], fr[:-1]])
    d = float(max(np.max(np.abs(fr - at_or_below)), np.max(np.abs(fr_prev - below))))
    big, small = sorted([float(m), n], reverse=True)
    p = float(kstwo.sf(d, max(1.0, np.round(big * small / (big + small)))))
    return float(np.float32(d)), float(np.float32(p))


def weighted_chi2(ref_counts: dict, wcur: dict) -> tuple[float, float]:
    """Chi-square test of homogeneity of reference category counts against weighted category shares
    scaled to Kish's effective rows (``scipy.stats.chi2_contingency`` of that table)."""
    from scipy import stats

    from audit.stats._weights import kish_n

    vals = {k: wcur[k].values()[0] for k in sorted(wcur)}  # one order of the float sums
    W = float(sum(v[0] for v in vals.values()))
    ne = float(kish_n(W, float(sum(v[1] for v in vals.values()))))
    vocab = sorted(set(ref_counts) | set(vals))
    table = np.array([[float(ref_counts.get(c, 0)) for c in vocab],
                      [float(vals[c][0]) / W * ne if c in vals and W else 0.0 for c in vocab]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def weighted_sketch_pvalues(ref: pd.DataFrame, wsketch: dict, feature_types) -> dict:
    """:func:`sketch_pvalues` with the evaluation side weighted (see the module docstring)."""
    out = {}
    for col in ref.columns:
        sk = wsketch[col]
        if feature_types.get(col) == "categorical":
            r = ref[col].astype(object).where(ref[col].notna(), MISSING).astype(str).value_counts()
            stat, p = weighted_chi2({str(k): int(v) for k, v in r.items()}, sk)
            out[col] = (float(np.float32(stat)), float(np.float32(p)), "chi2")
            continue
        d, p = ks_from_weighted_sketch(ref[col].to_numpy(dtype=float), sk)
        out[col] = (d, p, "ks")
    return out


def sketch_pvalues(ref: pd.DataFrame, sketch: dict, feature_types) -> dict:
    """Per-feature (statistic, p-value, test) from drift sketches of an evaluation set.

    The numbers are alibi-detect's: its KSDrift is scipy's two-sample KS with the asymptotic
    p-value, and its ChiSquareDrift is ``chi2_contingency`` of the two count vectors, both
    reported in float32. The sketch gives the KS distance exactly (it holds the evaluation
    values' counts at every reference value), and the category counts exactly.
    """
    out = {}
    for col in ref.columns:
        sk = sketch[col]
        if feature_types.get(col) == "categorical":
            r = ref[col].astype(object).where(ref[col].notna(), MISSING).astype(str).value_counts()
            stat, p = chi2_counts({str(k): int(v) for k, v in r.items()}, sk)
            out[col] = (float(np.float32(stat)), float(np.float32(p)), "chi2")
            continue
        d, p = ks_from_sketch(ref[col].to_numpy(dtype=float), sk)
        out[col] = (d, p, "ks")
    return out


def _drift_summaries(es, params, view):
    # KS and chi-square from sketches of every row; Cramer-von Mises and the alibi-detect backend
    # read the sample's rows.
    return [("sketch", es, None)] if params.numeric_test == "ks" and params.backend == "scipy" else []


@register_check("shift.feature_drift", params=FeatureDriftParams, needs={"reference"}, higher_is_better=False,
                summaries=_drift_summaries)
def feature_drift(ctx, params):
    """Share of features whose distribution differs from the reference (KS / CvM / chi-square, BH-FDR control)."""
    ref = ctx.dataset.reference
    columns = list(ctx.dataset.X.columns)
    cols = params.features or columns
    missing = [c for c in cols if c not in columns or c not in ref.X.columns]
    if missing:
        raise CheckSkipped(f"feature(s) {missing} not in both the reference and the evaluation set")
    if _drift_summaries(ctx.evalset_name, params, None) and ctx.summaries.weighted:  # weighted sketches
        res = weighted_sketch_pvalues(ref.X[cols], ctx.summaries.weighted_summary("sketch", ctx.evalset_name),
                                      ctx.dataset.feature_types)
        n_rows = ctx.summaries.rows(ctx.evalset_name)
    elif _drift_summaries(ctx.evalset_name, params, None):  # every row, through the drift sketches
        res = sketch_pvalues(ref.X[cols], ctx.summaries.get("sketch", ctx.evalset_name), ctx.dataset.feature_types)
        n_rows = ctx.summaries.rows(ctx.evalset_name)
    else:  # Cramer-von Mises (or the alibi-detect backend) needs rows: the stratified sample
        if ctx.audit.weighted:
            raise CheckSkipped(f"{params.numeric_test} on the sample's rows ({params.backend}) takes no row "
                               "weights; use numeric_test: ks with the scipy backend in a weighted audit")
        res = feature_pvalues(ref.X[cols], ctx.evalset().X[cols], ctx.dataset.feature_types, params.numeric_test,
                              params.backend)
        n_rows = ctx.evalset().n_rows
    tested = [c for c in cols if res[c][1] is not None]
    q = dict(zip(tested, bh_qvalues(np.array([res[c][1] for c in tested])), strict=True))
    rows, groups, flags = [], [], []
    for i, c in enumerate(cols):
        stat, p, test = res[c]
        qv = q.get(c)
        drifted = qv is not None and qv <= params.fdr
        rows.append([c, test, _f(stat), _f(p), _f(qv), "drift" if drifted else "no drift"])
        if drifted:
            flags.append(i)
        groups.append(GroupValue(group=c, n=int(n_rows), value=_f(p),
                                 extra={"test": test, "statistic": _f(stat), "q_value": _f(qv),
                                        "drifted": bool(drifted)}))
    share = len(flags) / len(tested) if tested else None
    table = {"title": f"Drift per feature (reference vs {ctx.evalset_name}; BH-FDR {params.fdr:g})",
             "columns": ["feature", "test", "statistic", "p-value", "q-value", "decision"], "rows": rows,
             "flag_rows": flags}
    names = [cols[i] for i in flags]
    details = {"tables": [table]}
    if params.backend == "alibi-detect":
        details["backend"] = {"name": "alibi-detect", "license": ALIBI_DETECT_LICENSE,
                              "note": "Business Source License: non-production use without a commercial licence"}
    return Measurement(value=share, n=int(n_rows), groups=groups, details=details,
                       message=f"{len(flags)} of {len(tested)} feature(s) drifted at FDR {params.fdr:g}"
                               + (f": {', '.join(names)}." if names else "."))


class PredictionDriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statistic: Literal["psi", "ks"] = Field("psi", description="Population stability index or KS distance.")
    bins: int = Field(10, ge=2, le=100, description="PSI bins: quantiles of the reference scores.")


def psi(ref_counts, cur_counts, eps: float = 1e-4):
    """Population stability index of two histograms (vectorised over leading axes)."""
    a = np.asarray(ref_counts, dtype=float)
    b = np.asarray(cur_counts, dtype=float)
    pa = np.clip(a / a.sum(-1, keepdims=True), eps, None)
    pb = np.clip(b / b.sum(-1, keepdims=True), eps, None)
    return ((pb - pa) * np.log(pb / pa)).sum(-1)


@register_check("shift.prediction_drift", params=PredictionDriftParams, needs={"model", "reference"},
                higher_is_better=False,
                summaries=lambda es, params, view: [("psi", es, params.bins), ("score_sketch", es, None)])
def prediction_drift(ctx, params):
    """Drift of the model's score distribution between the reference data and an evaluation set (PSI or KS).

    PSI on bins at the reference scores' quantiles, with a count-bootstrap interval; the KS
    distance exactly, from a sketch of the evaluation set's scores at the reference's
    distinct scores.
    """
    from audit.stats.summaries import psi_edges

    level = ctx.settings.confidence
    ref = ctx.audit.reference_outputs()
    hc = ctx.summaries.get("psi", ctx.evalset_name, params.bins)
    edges = psi_edges(ref, params.bins)
    hr = np.bincount(np.searchsorted(edges, ref[np.isfinite(ref)], side="right"), minlength=len(hc))
    weighted = ctx.summaries.weighted
    if weighted:  # the evaluation side's weighted shares and weighted ECDF
        from audit.stats._weights import tally_of

        tc = tally_of(hc, ctx.summaries.weighted_summary("psi", ctx.evalset_name, params.bins))
        d, p = ks_from_weighted_sketch(ref, ctx.summaries.weighted_summary("score_sketch", ctx.evalset_name))
    else:
        d, p = ks_from_sketch(ref, ctx.summaries.get("score_sketch", ctx.evalset_name))
    value, interval = d, None
    if params.statistic == "psi":
        rng = ctx.rng("psi")
        if weighted:
            reps = psi(bootstrap_counts(hr, ctx.settings.n_boot, rng), tc.resample(ctx.settings.n_boot, rng))
        else:
            reps = psi(bootstrap_counts(hr, ctx.settings.n_boot, rng), bootstrap_counts(hc, ctx.settings.n_boot, rng))
        lo, hi = percentile_interval(reps, level)
        value = float(psi(hr, tc.w if weighted else hc))
        interval = Interval(low=_f(lo), high=_f(hi), level=level,
                            method="bootstrap-weighted-counts" if weighted else "bootstrap-counts")
    share = lambda h: (h / max(int(h.sum()), 1)).tolist()  # noqa: E731 - shares: sets differ in size
    fin = ref[np.isfinite(ref)]
    lo, hi = (float(fin.min()), float(fin.max())) if len(fin) else (0.0, 1.0)
    chart = {"kind": "histogram", "title": "Model scores: reference vs evaluation set",
             "xlabel": "score (bins at the reference's quantiles)", "ylabel": "share of rows",
             "edges": [lo, *[float(e) for e in edges], hi if hi > lo else lo + 1.0],
             "series": [{"name": "reference", "counts": share(hr)},
                        {"name": ctx.evalset_name, "counts": share(hc)}]}
    n = int(hc.sum())
    hcw = tc.w if weighted else hc
    if weighted:
        chart["series"][1]["counts"] = (tc.w / max(float(tc.w.sum()), 1e-300)).tolist()
    return Measurement(value=value, interval=interval, n=n,
                       details={"psi": float(psi(hr, hcw)), "ks_distance": d, "ks_p_value": p, "charts": [chart]},
                       message=f"Score drift vs reference: PSI {float(psi(hr, hcw)):.4g}, KS {_fmt(d)} (p={_fmt(p)})"
                               + ("; evaluation side weighted." if weighted else "."))


def _fmt(v) -> str:
    return "undefined" if v is None else f"{v:.4g}"
