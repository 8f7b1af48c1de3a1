"""Robustness checks: metric drop, prediction flip rate and the gap in degradation between groups.

Each compares a derived evaluation set (perturbed, shifted...) with the base
set. A perturbed set keeps every base row: the comparison is paired on the same
source rows (``source_index``) and its bootstrap resamples rows jointly, from
the (true, base, derived) cell counts, paired score cells or paired error
moments of the set (see :mod:`audit.checks._paired`). A resampled (shifted) set
is compared unpaired: the whole base set against the derived set, each
bootstrapped on its own. Everything comes from mergeable summaries.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks import _paired as P
from audit.checks._registry import register_check
from audit.errors import CheckError, CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import wilson_interval

__all__: list[str] = []

Metric = Literal["accuracy", "balanced_accuracy", "f1", "precision", "recall", "error_rate", "roc_auc",
                 "mae", "rmse", "r2"]
DEFAULT_SET = "perturbed.noise@0.2"


def _f(v):
    v = float(v)
    return v if np.isfinite(v) else None


def _row_preserving(view, name: str) -> bool:
    # Perturbed sets keep every base row, in order; shifted sets resample.
    return view.kind(name).startswith("perturbed.")


def _kind(ctx, name: str) -> str:
    return "base" if name == "base" else ctx.audit.resolve(name).kind


def _paired(ctx, name, metric, rng, cols=None):
    """Metric on base and on ``name`` with bootstrap replicates, optionally per group of ``cols``.

    Returns ``(PairedResult, group labels or None, group sizes in the derived set or None, paired)``.
    """
    sm = ctx.summaries
    if sm.rows(name) and _labels_missing(ctx, name):
        raise CheckSkipped(f"evaluation set {name!r} has no labels (e.g. an OOD set); a metric drop needs them")
    paired = _kind(ctx, name).startswith("perturbed.")
    return (*P.paired_result(sm, name, metric, paired, cols, ctx.settings.n_boot, rng), paired)


def _labels_missing(ctx, name: str) -> bool:
    return _kind(ctx, name).startswith("ood.")


def _n_rows(ctx, name: str) -> int:
    return ctx.summaries.rows(name)


def _metric(task: str, params) -> str:
    return params.metric or ("accuracy" if task == "classification" else "mae")


class MetricDropParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric | None = Field(None, description="Default: accuracy for classifiers, mae for regressors.")
    mode: Literal["absolute", "relative"] = "absolute"
    kind: str | None = Field(None, description="Evaluation-set kind for the degradation curve, e.g. perturbed.noise.")
    severities: list[float] | None = Field(None, description="Severities of the curve: sets '<kind>@<severity>'.")


def _curve_kind(ctx, params) -> str | None:
    if not params.severities:
        return None
    if params.kind:
        return params.kind
    spec = ctx.audit.resolve(ctx.evalset_name)
    if spec.kind == "base":
        raise CheckError("the degradation curve needs 'kind' (e.g. perturbed.noise) when the check runs on base")
    return spec.kind


def _set_requests(view, name: str, metric: str) -> list:
    """The summaries comparing set ``name`` with the base set for ``metric``."""
    kinds = {"class": ("paired", "confusion"), "score": ("paired_scores", "scores"),
             "reg": ("paired_moments", "moments")}[P.metric_family(metric)]
    if _row_preserving(view, name):
        out = [(kinds[0], name, None)]
        if kinds[0] == "paired_scores":  # exact point values from the fine histograms
            out += [("scores", name, None), ("scores", "base", None)]
        return out
    return [(kinds[1], name, None), (kinds[1], "base", None)]


def _curve_sets(evalset: str, params, view) -> list[str]:
    sets = [] if view.kind(evalset) == "base" else [evalset]
    if params.severities:
        kind = params.kind or view.kind(evalset)
        sets += [f"{kind}@{s:g}" for s in params.severities]
    return sets


def _drop_requests(evalset, params, view):
    metric = _metric(view.task, params)
    return [r for name in _curve_sets(evalset, params, view) for r in _set_requests(view, name, metric)]


@register_check("robustness.metric_drop", params=MetricDropParams, needs={"model", "labels"},
                default_evalset=DEFAULT_SET, higher_is_better=False, summaries=_drop_requests)
def metric_drop(ctx, params):
    """Drop of a metric from the base set to a perturbed set on the same rows (paired bootstrap interval)."""
    level, metric, mode = ctx.settings.confidence, _metric(ctx.task, params), params.mode
    kind = _curve_kind(ctx, params)
    curve = []
    if kind is not None:
        for s in params.severities:
            r, _, _, _ = _paired(ctx, f"{kind}@{s:g}", metric, ctx.rng("curve", s))
            curve.append((float(s), r))
    on_base = _kind(ctx, ctx.evalset_name) == "base"
    if on_base and not curve:
        raise CheckError("robustness.metric_drop on 'base' compares nothing; name a perturbed evaluation set "
                         "or give 'kind' and 'severities' for a curve")
    paired = True
    if on_base:
        # No single derived set: the value is the worst drop along the curve.
        drops = [_f(P.degradation(metric, r.base, r.pert, mode)) for _, r in curve]
        worst = int(np.nanargmax([np.nan if d is None else d for d in drops]))
        sev, r = curve[worst]
        where = f"{kind}@{sev:g} (worst along the curve)"
    else:
        r, _, _, paired = _paired(ctx, ctx.evalset_name, metric, ctx.rng("drop"))
        where = ctx.evalset_name + ("" if paired else " (unpaired: whole base set vs resampled set)")
    d = P.degradation(metric, r.base, r.pert, mode)
    lo, hi = P.interval(P.degradation(metric, r.base_reps, r.pert_reps, mode), level)
    m = Measurement(
        value=_f(d), interval=Interval(low=_f(lo), high=_f(hi), level=level,
                                       method=P.method(metric, paired, ctx.summaries.weighted)),
        n=int(_n_rows(ctx, ctx.evalset_name)),
        message=f"{metric} {_f(r.base):.4g} on base, {_f(r.pert):.4g} on {where}: "
                f"{'relative ' if mode == 'relative' else ''}drop {_f(d):.4g}.",
        details={"base_metric": _f(r.base), "perturbed_metric": _f(r.pert), "metric": metric, "mode": mode},
    )
    if curve:
        n_rows = {s: _n_rows(ctx, f"{kind}@{s:g}") for s, _ in curve}
        m.groups, m.details["charts"], m.details["tables"] = _curve_parts(curve, kind, metric, mode, level, n_rows,
                                                                           ctx.summaries.weighted)
    return m


def _curve_parts(curve, kind, metric, mode, level, n_rows, weighted=False):
    groups, xs, ys, lows, highs, rows = [], [0.0], [], [], [], []
    b0 = curve[0][1]
    blo, bhi = P.interval(b0.base_reps, level)
    ys.append(_f(b0.base))
    lows.append(_f(blo))
    highs.append(_f(bhi))
    for s, r in curve:
        d = P.degradation(metric, r.base, r.pert, mode)
        dlo, dhi = P.interval(P.degradation(metric, r.base_reps, r.pert_reps, mode), level)
        plo, phi = P.interval(r.pert_reps, level)
        xs.append(s)
        ys.append(_f(r.pert))
        lows.append(_f(plo))
        highs.append(_f(phi))
        groups.append(GroupValue(group=f"{kind}@{s:g}", n=n_rows[s], value=_f(d),
                                 interval=Interval(low=_f(dlo), high=_f(dhi), level=level,
                                                   method=P.method(metric, True, weighted)),
                                 extra={"metric": _f(r.pert)}))
        rows.append([s, _f(r.pert), _f(plo), _f(phi), _f(d), _f(dlo), _f(dhi)])
    chart = {"kind": "curve", "title": f"{metric} vs severity of {kind}", "x": xs, "xlabel": "severity",
             "ylabel": metric, "series": [{"name": metric, "y": ys, "low": lows, "high": highs}],
             "threshold": {"min": None, "max": None}}
    table = {"title": f"Degradation curve: {kind}", "columns": ["severity", metric, "low", "high", "drop",
                                                              "drop low", "drop high"], "rows": rows}
    return groups, [chart], [table]


class FlipParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(None, description="Columns for the per-group breakdown; default all.")


@register_check("robustness.flip_rate", params=FlipParams, needs={"model"}, default_evalset=DEFAULT_SET,
                higher_is_better=False, tasks={"classification"},
                summaries=lambda es, params, view: [("paired", es, None)])
def flip_rate(ctx, params):
    """Share of predictions that change from the base set to a derived set on the same rows (Wilson interval)."""
    level = ctx.settings.confidence
    if ctx.task == "regression":
        raise CheckSkipped("flip rate is for classifiers; use robustness.metric_drop for regressions")
    k, n, available, per_col = _flips(ctx)
    weighted = ctx.summaries.weighted
    method = "wilson-kish" if weighted else "wilson"
    if weighted:  # weighted share of flipped predictions; Wilson on Kish's effective rows
        from audit.stats._weights import wilson_kish

        kw, nw, nw2, n_rows = _weighted_flips(ctx)
        lo, hi = wilson_kish(kw, nw, nw2, level)
    else:
        lo, hi = wilson_interval(k, n, level)
    groups, labels, vals, lows, highs, small_flags, trows = [], [], [], [], [], [], []
    cols = params.sensitive if params.sensitive is not None else available
    for col in cols:
        if col not in available:
            raise CheckError(f"unknown sensitive column {col!r}; have {available}")
        names, kg, ng = per_col(col)
        glo, ghi = wilson_interval(kg, ng, level)
        rows_g = ng
        if weighted:
            from audit.stats._weights import wilson_kish

            names, kg, ng, ng2, rows_g = _weighted_flips(ctx, col)
            glo, ghi = wilson_kish(kg, ng, ng2, level)
        for i, g in enumerate(names):
            small = bool(rows_g[i] < ctx.settings.min_group_size)
            v = kg[i] / ng[i] if ng[i] else None
            groups.append(GroupValue(group=g, n=int(rows_g[i]), value=v, small=small,
                                     interval=Interval(low=_f(glo[i]), high=_f(ghi[i]), level=level, method=method)))
            labels.append(g)
            vals.append(None if v is None else _f(v))
            lows.append(_f(glo[i]))
            highs.append(_f(ghi[i]))
            small_flags.append(small)
            trows.append([g, int(rows_g[i]), _f(kg[i]) if weighted else int(kg[i]), vals[-1], lows[-1], highs[-1]])
    details = {"flips": k}
    value = k / n if n else None
    if weighted:
        details["weighted"] = {"sum_of_weights": float(nw), "flipped_weight": float(kw)}
        value = kw / nw if nw else None
    if groups:
        details["charts"] = [{"kind": "intervals", "title": "Flip rate per group", "labels": labels, "values": vals,
                              "lows": lows, "highs": highs, "xlabel": "flip rate",
                              "threshold": {"min": None, "max": None}, "flags": small_flags}]
        details["tables"] = [{"title": "Flip rate per group", "columns": ["group", "n", "weighted flips" if weighted
                                                                          else "flips", "rate", "low", "high"],
                              "rows": trows, "flag_rows": [i for i, s in enumerate(small_flags) if s]}]
    share = value if value is not None else 0.0
    return Measurement(value=value, interval=Interval(low=_f(lo), high=_f(hi), level=level,
                                                      method="wilson-kish" if weighted else "wilson"),
                       n=n, groups=groups, details=details,
                       message=f"{k} of {n} predictions ({share:.2%}{' weighted' if weighted else ''}) changed "
                               f"on {ctx.evalset_name}.")


def _weighted_flips(ctx, col: str | None = None):
    """Weighted flips: ``(sum w flipped, sum w, sum w^2, rows)`` overall, or per group of ``col``
    ``(labels, flipped w, w, w^2, rows)``."""
    sm = ctx.summaries
    kc = len(sm.classes)
    changed = (np.arange(kc)[:, None] != np.arange(kc)[None, :])

    def two(a):
        c = np.asarray(a).reshape(kc, kc, kc)
        return np.array([c[:, changed].sum(), c.sum()])

    tab = {key: t.map(two) for key, t in P.tallies(sm, "paired", ctx.evalset_name).items()}
    names, t = P.grouped_tally(sm, tab, [col] if col else [])
    if col is None:
        return t.w[0], t.w[1], t.w2[1], int(t.n[1])
    return names, t.w[:, 0], t.w[:, 1], t.w2[:, 1], t.n[:, 1]


def _flips(ctx):
    """Flips overall and a function giving (groups, flips, rows) per sensitive column."""
    sm = ctx.summaries
    kc = len(sm.classes)
    table = sm.get("paired", ctx.evalset_name)
    changed = (np.arange(kc)[:, None] != np.arange(kc)[None, :])  # base class != derived class
    flip_table = type(table)({key: np.array([c.reshape(kc, kc, kc)[:, changed].sum(), c.sum()])
                              for key, c in table.items()})
    total = flip_table.total() if flip_table else np.zeros(2, dtype=np.int64)

    def per_col(col):
        names, c = P.grouped(sm, flip_table, [col])
        return names, c[:, 0].astype(float), c[:, 1]

    return int(total[0]), int(total[1]), list(sm.sensitive), per_col


class GapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric | None = Field(None, description="Default: accuracy for classifiers, mae for regressors.")
    mode: Literal["absolute", "relative"] = "absolute"
    sensitive: list[str] | None = Field(None, description="One column, or several for intersectional groups; "
                                                          "default the first sensitive column.")


@register_check("robustness.group_degradation_gap", params=GapParams, needs={"model", "labels", "sensitive"},
                default_evalset=DEFAULT_SET, higher_is_better=False,
                summaries=lambda es, params, view: _set_requests(view, es, _metric(view.task, params)))
def group_degradation_gap(ctx, params):
    """Largest difference between sensitive groups in metric drop: robustness as a fairness question."""
    level, metric, mode = ctx.settings.confidence, _metric(ctx.task, params), params.mode
    available = list(ctx.summaries.sensitive)
    if not available:
        raise CheckSkipped("no sensitive columns")
    cols = params.sensitive or [available[0]]
    r, names, ng, paired = _paired(ctx, ctx.evalset_name, metric, ctx.rng("gap"), list(cols))
    d = P.degradation(metric, r.base, r.pert, mode)
    dr = P.degradation(metric, r.base_reps, r.pert_reps, mode)
    glo, ghi = P.interval(dr, level)
    with np.errstate(invalid="ignore"):
        gap = np.nanmax(d) - np.nanmin(d)
        gap_reps = np.nanmax(dr, axis=1) - np.nanmin(dr, axis=1)
    lo, hi = P.interval(gap_reps, level)
    small = ng < ctx.settings.min_group_size
    groups = [GroupValue(group=g, n=int(ng[i]), value=_f(d[i]), small=bool(small[i]),
                         interval=Interval(low=_f(glo[i]), high=_f(ghi[i]), level=level,
                                           method=P.method(metric, paired, ctx.summaries.weighted)),
                         extra={"base": _f(r.base[i]), "perturbed": _f(r.pert[i])})
              for i, g in enumerate(names)]
    chart = {"kind": "intervals", "title": f"{metric} drop per group", "labels": names,
             "values": [_f(v) for v in d], "lows": [_f(v) for v in glo], "highs": [_f(v) for v in ghi],
             "xlabel": f"{metric} drop", "threshold": {"min": None, "max": None}, "flags": small.tolist()}
    inc = None
    if small.any():
        inc = (f"group(s) below min_group_size={ctx.settings.min_group_size}: "
               + ", ".join(f"{names[i]} (n={int(ng[i])})" for i in np.flatnonzero(small)))
    return Measurement(value=_f(gap), interval=Interval(low=_f(lo), high=_f(hi), level=level,
                                                        method=P.method(metric, paired, ctx.summaries.weighted)),
                       n=int(_n_rows(ctx, ctx.evalset_name)), groups=groups, inconclusive=inc,
                       details={"charts": [chart]},
                       message=f"{metric} drop ranges from {_f(np.nanmin(d)):.4g} to {_f(np.nanmax(d)):.4g} "
                               f"across {len(names)} group(s); gap {_f(gap):.4g}.")
