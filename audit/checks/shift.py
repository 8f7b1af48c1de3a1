"""Drift checks: reference (training) data vs an evaluation set, per feature and on model scores.

Per-feature tests come from alibi-detect (``KSDrift`` or ``CVMDrift`` for
numeric features, ``ChiSquareDrift`` for categorical ones), one univariate
detector per feature so missing values can be dropped per column. alibi-detect
only corrects for multiple testing inside one detector and, for feature-level
decisions, not at all; with a mix of tests the false discovery rate is
controlled here with our own Benjamini-Hochberg step over all per-feature
p-values (:func:`bh_qvalues`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.checks import _encode as E
from audit.checks._paired import predict_or_explain
from audit.checks._registry import NotStreamed, register_check, register_summaries
from audit.errors import CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import bootstrap_counts, percentile_interval

__all__ = ["bh_qvalues"]


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): reject where q <= alpha controls the FDR at alpha."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


class FeatureDriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numeric_test: Literal["ks", "cvm"] = Field("ks", description="Kolmogorov-Smirnov or Cramer-von Mises.")
    fdr: float = Field(0.05, gt=0, lt=1, description="False discovery rate for the per-feature decisions.")
    features: list[str] | None = Field(None, description="Features to test; default all.")


def feature_pvalues(ref, cur, feature_types, numeric_test="ks"):
    """Per-feature (statistic, p-value, test) with alibi-detect's univariate detectors."""
    E.silence_alibi()
    from alibi_detect.cd import ChiSquareDrift, CVMDrift, KSDrift

    out = {}
    for col in cur.columns:
        if feature_types.get(col) == "categorical":
            a, b, _ = E.ordinal_pair(ref[col], cur[col])
            det, test = ChiSquareDrift(a[:, None], p_val=0.05), "chi2"
        else:
            a = ref[col].to_numpy(dtype=float)
            b = cur[col].to_numpy(dtype=float)
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            if len(a) < 2 or len(b) < 2:
                out[col] = (None, None, numeric_test)
                continue
            cls = KSDrift if numeric_test == "ks" else CVMDrift
            det, test = cls(a[:, None], p_val=0.05), numeric_test
        r = det.predict(b[:, None], drift_type="feature", return_p_val=True, return_distance=True)["data"]
        out[col] = (float(r["distance"][0]), float(r["p_val"][0]), test)
    return out


def sketch_pvalues(ref: pd.DataFrame, sketch: dict, feature_types) -> dict:
    """:func:`feature_pvalues` from a streamed audit's drift sketches (``audit.scale``).

    The numbers are alibi-detect's: its KSDrift is scipy's two-sample KS with the asymptotic
    p-value, and its ChiSquareDrift is ``chi2_contingency`` of the two count vectors, both
    reported in float32. The sketch gives the KS distance exactly (it holds the current
    values' counts at every reference value), and the category counts exactly.
    """
    from scipy.stats import chi2_contingency, kstwo

    out = {}
    for col in ref.columns:
        sk = sketch[col]
        if feature_types.get(col) == "categorical":
            r = ref[col].astype(object).where(ref[col].notna(), "<missing>").astype(str).value_counts()
            vocab = sorted(set(r.index) | set(sk))
            table = np.array([[int(r.get(v, 0)) for v in vocab], [int(sk.get(v, 0)) for v in vocab]])
            stat, p, _, _ = chi2_contingency(table)
            out[col] = (float(np.float32(stat)), float(np.float32(p)), "chi2")
            continue
        a = ref[col].to_numpy(dtype=float)
        a = np.sort(a[~np.isnan(a)])
        m, n = len(a), int(sk.sum())
        if m < 2 or n < 2:
            out[col] = (None, None, "ks")
            continue
        u, ref_le = np.unique(a, return_counts=True)
        fr = np.cumsum(ref_le) / m  # reference ECDF at each distinct value
        cur = np.cumsum(sk)  # cur[2j] = values below u[j]; cur[2j + 1] = values at or below u[j]
        below, at_or_below = cur[0:-1:2] / n, cur[1::2] / n
        fr_prev = np.concatenate([[0.0], fr[:-1]])
        d = float(max(np.max(np.abs(fr - at_or_below)), np.max(np.abs(fr_prev - below))))
        big, small = sorted([float(m), float(n)], reverse=True)
        p = float(kstwo.sf(d, np.round(big * small / (big + small))))
        out[col] = (float(np.float32(d)), float(np.float32(p)), "ks")
    return out


def _feature_drift_requests(es, params, ctx):
    if params.numeric_test != "ks":
        raise NotStreamed("the Cramer-von Mises test runs on the sample")
    return [("sketch", es, None)]


register_summaries("shift.feature_drift", _feature_drift_requests)


@register_check("shift.feature_drift", params=FeatureDriftParams, needs={"reference"}, higher_is_better=False)
def feature_drift(ctx, params):
    """Share of features whose distribution differs from the reference (alibi-detect tests, BH-FDR control)."""
    ref = ctx.dataset.reference
    streamed = ctx.summaries is not None
    columns = list(ctx.dataset.X.columns) if streamed else list(ctx.evalset().X.columns)
    cols = params.features or columns
    missing = [c for c in cols if c not in columns or c not in ref.X.columns]
    if missing:
        raise CheckSkipped(f"feature(s) {missing} not in both the reference and the evaluation set")
    if streamed:
        res = sketch_pvalues(ref.X[cols], ctx.summaries.get("sketch", ctx.evalset_name), ctx.dataset.feature_types)
        n_rows = ctx.summaries.rows(ctx.evalset_name)
    else:
        res = feature_pvalues(ref.X[cols], ctx.evalset().X[cols], ctx.dataset.feature_types, params.numeric_test)
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
    return Measurement(value=share, n=int(n_rows), groups=groups, details={"tables": [table]},
                       message=f"{len(flags)} of {len(tested)} feature(s) drifted at FDR {params.fdr:g}"
                               + (f": {', '.join(names)}." if names else "."))


class PredictionDriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statistic: Literal["psi", "ks"] = Field("psi", description="Population stability index or KS distance.")
    bins: int = Field(10, ge=2, le=100, description="PSI bins: quantiles of the reference scores.")


def _scores(p, task):
    if task == "regression" or p.proba is None:
        return np.asarray(p.labels, dtype=float)
    s = p.score
    return s if s is not None else p.proba.max(axis=1)


def psi(ref_counts, cur_counts, eps: float = 1e-4):
    """Population stability index of two histograms (vectorised over leading axes)."""
    a = np.asarray(ref_counts, dtype=float)
    b = np.asarray(cur_counts, dtype=float)
    pa = np.clip(a / a.sum(-1, keepdims=True), eps, None)
    pb = np.clip(b / b.sum(-1, keepdims=True), eps, None)
    return ((pb - pa) * np.log(pb / pa)).sum(-1)


def psi_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner PSI bin edges: quantiles of the reference scores (ties merged)."""
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])


def _drift_measurement(ctx, params, hr, hc, d, p, chart, n):
    """PSI (with a count-bootstrap interval) or the KS distance, from the PSI histograms and KS."""
    level = ctx.settings.confidence
    value, interval = d, None
    if params.statistic == "psi":
        rng = ctx.rng("psi")
        reps = psi(bootstrap_counts(hr, ctx.settings.n_boot, rng), bootstrap_counts(hc, ctx.settings.n_boot, rng))
        lo, hi = percentile_interval(reps, level)
        value = float(psi(hr, hc))
        interval = Interval(low=_f(lo), high=_f(hi), level=level, method="bootstrap-counts")
    return Measurement(value=value, interval=interval, n=n,
                       details={"psi": float(psi(hr, hc)), "ks_distance": d, "ks_p_value": p, "charts": [chart]},
                       message=f"Score drift vs reference: PSI {float(psi(hr, hc)):.4g}, KS {d:.4g} (p={p:.3g}).")


def _prediction_drift_streamed(ctx, params, ref):
    """PSI exactly as in memory (reference-quantile bins, merged counts); KS from the 2**16-bin
    score histogram (distance within one bin width of the exact one, asymptotic p-value)."""
    from scipy.stats import kstwobign

    sm = ctx.summaries
    hc = sm.get("psi", ctx.evalset_name, params.bins)
    hist = sm.get("scores", ctx.evalset_name).sum(axis=0)
    hr = np.bincount(np.searchsorted(psi_edges(ref, params.bins), ref, side="right"), minlength=len(hc))
    nb = len(hist)
    ref_hist = np.bincount(np.minimum((np.clip(ref, 0, 1) * nb).astype(np.int64), nb - 1), minlength=nb)
    n, m = int(hist.sum()), len(ref)
    d = float(np.max(np.abs(np.cumsum(hist) / max(n, 1) - np.cumsum(ref_hist) / max(m, 1))))
    p = float(kstwobign.sf(d * np.sqrt(n * m / (n + m)))) if n and m else float("nan")
    coarse = 32
    chart = {"kind": "histogram", "title": "Model scores: reference vs evaluation set", "xlabel": "score",
             "edges": np.linspace(0, 1, coarse + 1).tolist(),
             "series": [{"name": "reference", "counts": ref_hist.reshape(coarse, -1).sum(1).tolist()},
                        {"name": ctx.evalset_name, "counts": hist.reshape(coarse, -1).sum(1).tolist()}]}
    return _drift_measurement(ctx, params, hr, hc, d, p, chart, n)


def _drift_requests(es, params, ctx):
    if ctx.task != "classification" or params.statistic != "psi":
        raise NotStreamed("prediction drift of regressions, or by KS, runs on the sample")
    return [("psi", es, params.bins), ("scores", es, None)]


register_summaries("shift.prediction_drift", _drift_requests)


@register_check("shift.prediction_drift", params=PredictionDriftParams, needs={"model", "reference"},
                higher_is_better=False)
def prediction_drift(ctx, params):
    """Drift of the model's score distribution between the reference data and an evaluation set (PSI or KS)."""
    ref = _scores(predict_or_explain(ctx, "reference"), ctx.task)
    if ctx.summaries is not None:
        return _prediction_drift_streamed(ctx, params, ref)
    cur = _scores(predict_or_explain(ctx, ctx.evalset_name), ctx.task)
    E.silence_alibi()
    from alibi_detect.cd import KSDrift

    ks = KSDrift(ref[:, None], p_val=0.05).predict(cur[:, None], drift_type="feature", return_p_val=True,
                                                  return_distance=True)["data"]
    d, p = float(ks["distance"][0]), float(ks["p_val"][0])
    edges = psi_edges(ref, params.bins)
    hr = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    hc = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    lo_e, hi_e = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    he = np.linspace(lo_e, hi_e if hi_e > lo_e else lo_e + 1, 31)
    chart = {"kind": "histogram", "title": "Model scores: reference vs evaluation set", "xlabel": "score",
             "edges": he.tolist(),
             "series": [{"name": "reference", "counts": np.histogram(ref, he)[0].tolist()},
                        {"name": ctx.evalset_name, "counts": np.histogram(cur, he)[0].tolist()}]}
    return _drift_measurement(ctx, params, hr, hc, d, p, chart, len(cur))
