"""Robustness checks: metric drop, prediction flip rate and the gap in degradation between groups.

Each compares a derived evaluation set (perturbed, shifted...) with the base
set on the *same source rows* (``source_index``), so every comparison is
paired and its bootstrap resamples rows jointly (see :mod:`audit.checks._paired`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.checks import _paired as P
from audit.checks._registry import NotStreamed, register_check, register_summaries
from audit.errors import CheckError, CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import group_codes, wilson_interval

__all__: list[str] = []

Metric = Literal["accuracy", "balanced_accuracy", "f1", "precision", "recall", "error_rate", "roc_auc",
                 "mae", "rmse", "r2"]
DEFAULT_SET = "perturbed.noise@0.2"


def _f(v):
    v = float(v)
    return v if np.isfinite(v) else None


def _rows(ctx, name: str):
    """Derived set, its predictions, and the base predictions of its source rows."""
    es = ctx.evalset(name)
    if es.name == "base" or es.kind == "base":
        src = np.arange(es.n_rows)
    else:
        src = np.asarray(es.source_index, dtype=np.int64)
        if (src < 0).any():
            raise CheckSkipped(f"evaluation set {name!r} is not derived from the base rows; nothing to pair")
    base = P.predict_or_explain(ctx, "base")
    pert = P.predict_or_explain(ctx, name)
    return es, src, base, pert


def _is_paired(es, src, n_base: int) -> bool:
    # Perturbed sets keep every base row in order: compare the same rows. Resampled (shifted) sets
    # do not: compare the whole base set with the derived set.
    return len(src) == n_base and bool(np.array_equal(src, np.arange(n_base)))


def _paired(ctx, name, metric, rng, cols=None):
    """Metric on base and on ``name`` with bootstrap replicates, optionally per group of ``cols``.

    Returns ``(PairedResult, group labels or None, group sizes in the derived set or None, paired)``.
    """
    if ctx.summaries is not None:
        return _paired_streamed(ctx, name, metric, rng, cols)
    es, src, base, pert = _rows(ctx, name)
    if es.y is None:
        raise CheckSkipped(f"evaluation set {name!r} has no labels (e.g. an OOD set); a metric drop needs them")
    b = ctx.evalset("base")
    n_base = b.n_rows
    paired = _is_paired(es, src, n_base)
    codes_b = codes_e = names = ng = None
    if cols:
        both = pd.concat([b.sensitive[list(cols)], es.sensitive[list(cols)]], ignore_index=True)
        codes, names = group_codes(both, list(cols))
        codes_b, codes_e = codes[:n_base], codes[n_base:]
        ng = np.bincount(codes_e, minlength=len(names))
    G = None if names is None else len(names)
    args = (ctx.classes, ctx.pos_label, ctx.settings.n_boot)
    if paired:
        bs = None if base.score is None else base.score[src]
        r = P.paired_metric(metric, np.asarray(es.y), base.labels[src], pert.labels, bs, pert.score, *args,
                            rng, codes_e, G)
        return r, names, ng, True
    # Not paired: the base metric on every base row, the derived metric on its rows, each
    # bootstrapped on its own (the two sets share rows, so this interval is conservative).
    yb = np.asarray(b.y)
    rb = P.paired_metric(metric, yb, base.labels, base.labels, base.score, base.score, *args, rng, codes_b, G)
    ys = np.asarray(es.y)
    re_ = P.paired_metric(metric, ys, pert.labels, pert.labels, pert.score, pert.score, *args, rng, codes_e, G)
    return P.PairedResult(rb.base, re_.pert, rb.base_reps, re_.pert_reps), names, ng, False


def _grouped(sm, table, cols):
    """Cell-table counts summed into the groups of ``cols``: ``(labels or None, (G, ...) counts)``."""
    if not cols:
        return None, sum(table.values())
    from audit.scale import project_groups

    return project_groups(table, sm.sensitive, list(cols))


def _paired_streamed(ctx, name, metric, rng, cols):
    """:func:`_paired` from a streamed audit's merged counts (same bootstrap, same groups)."""
    sm = ctx.summaries
    k, pos, n_boot = len(sm.classes), sm.pos_index, ctx.settings.n_boot
    if _row_preserving(ctx, name):
        names, counts = _grouped(sm, sm.get("paired", name), cols)
        r = P.paired_from_counts(metric, counts, k, pos, n_boot, rng)
        ng = None if names is None else counts.sum(-1)
        return r, names, ng, True
    # Unpaired, as in memory: a (y, p, p) cell table of each set, bootstrapped on its own.
    diag = np.zeros((k, k, k), dtype=np.int64)

    def cube(table):
        out = {}
        for key, cm in table.items():
            c = diag.copy()
            c[np.arange(k)[:, None], np.arange(k)[None, :], np.arange(k)[None, :]] = cm.reshape(k, k)
            out[key] = c.ravel()
        return type(table)(out)

    tb, te = cube(sm.get("confusion", "base")), cube(sm.get("confusion", name))
    if cols:
        from audit.scale import project_groups

        names, cb, ce = project_groups(tb, sm.sensitive, list(cols), te)
    else:
        names, cb, ce = None, sum(tb.values()), sum(te.values())
    rb = P.paired_from_counts(metric, cb, k, pos, n_boot, rng)
    re_ = P.paired_from_counts(metric, ce, k, pos, n_boot, rng)
    ng = None if names is None else ce.sum(-1)
    return P.PairedResult(rb.base, re_.pert, rb.base_reps, re_.pert_reps), names, ng, False


def _row_preserving(ctx, name: str) -> bool:
    # Streamed perturbed sets keep every base row in order; shifted sets resample.
    return getattr(ctx, "audit", ctx).resolve(name).kind.startswith("perturbed.")


def _kind(ctx, name: str) -> str:
    return "base" if name == "base" else getattr(ctx, "audit", ctx).resolve(name).kind


def _n_rows(ctx, name: str) -> int:
    return ctx.summaries.rows(name) if ctx.summaries is not None else ctx.evalset(name).n_rows


def _metric(ctx, params) -> str:
    return params.metric or ("accuracy" if ctx.task == "classification" else "mae")


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
    name = ctx.evalset_name
    spec = ctx.audit.resolve(name)
    if spec.kind == "base":
        raise CheckError("the degradation curve needs 'kind' (e.g. perturbed.noise) when the check runs on base")
    return spec.kind


@register_check("robustness.metric_drop", params=MetricDropParams, needs={"model", "labels"},
                default_evalset=DEFAULT_SET, higher_is_better=False)
def metric_drop(ctx, params):
    """Drop of a metric from the base set to a perturbed set on the same rows (paired bootstrap interval)."""
    level, metric, mode = ctx.settings.confidence, _metric(ctx, params), params.mode
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
                                       method="paired-bootstrap-counts" if paired else "bootstrap-counts"),
        n=int(_n_rows(ctx, ctx.evalset_name)),
        message=f"{metric} {_f(r.base):.4g} on base, {_f(r.pert):.4g} on {where}: "
                f"{'relative ' if mode == 'relative' else ''}drop {_f(d):.4g}.",
        details={"base_metric": _f(r.base), "perturbed_metric": _f(r.pert), "metric": metric, "mode": mode},
    )
    if curve:
        m.groups, m.details["charts"], m.details["tables"] = _curve_parts(curve, kind, metric, mode, level)
    return m


def _curve_parts(curve, kind, metric, mode, level):
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
        groups.append(GroupValue(group=f"{kind}@{s:g}", n=0, value=_f(d),
                                 interval=Interval(low=_f(dlo), high=_f(dhi), level=level,
                                                   method="paired-bootstrap-counts"),
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
                higher_is_better=False)
def flip_rate(ctx, params):
    """Share of predictions that change from the base set to a derived set on the same rows (Wilson interval)."""
    level = ctx.settings.confidence
    if ctx.task == "regression":
        raise CheckSkipped("flip rate is for classifiers; use robustness.metric_drop for regressions")
    k, n, available, per_col = _flips(ctx)
    lo, hi = wilson_interval(k, n, level)
    groups, labels, vals, lows, highs, small_flags, trows = [], [], [], [], [], [], []
    cols = params.sensitive if params.sensitive is not None else available
    for col in cols:
        if col not in available:
            raise CheckError(f"unknown sensitive column {col!r}; have {available}")
        names, kg, ng = per_col(col)
        glo, ghi = wilson_interval(kg, ng, level)
        for i, g in enumerate(names):
            small = bool(ng[i] < ctx.settings.min_group_size)
            v = kg[i] / ng[i] if ng[i] else None
            groups.append(GroupValue(group=g, n=int(ng[i]), value=v, small=small,
                                     interval=Interval(low=_f(glo[i]), high=_f(ghi[i]), level=level, method="wilson")))
            labels.append(g)
            vals.append(None if v is None else _f(v))
            lows.append(_f(glo[i]))
            highs.append(_f(ghi[i]))
            small_flags.append(small)
            trows.append([g, int(ng[i]), int(kg[i]), vals[-1], lows[-1], highs[-1]])
    details = {"flips": k}
    if groups:
        details["charts"] = [{"kind": "intervals", "title": "Flip rate per group", "labels": labels, "values": vals,
                              "lows": lows, "highs": highs, "xlabel": "flip rate",
                              "threshold": {"min": None, "max": None}, "flags": small_flags}]
        details["tables"] = [{"title": "Flip rate per group", "columns": ["group", "n", "flips", "rate", "low", "high"],
                              "rows": trows, "flag_rows": [i for i, s in enumerate(small_flags) if s]}]
    return Measurement(value=k / n if n else None, interval=Interval(low=_f(lo), high=_f(hi), level=level,
                                                                     method="wilson"),
                       n=n, groups=groups, details=details,
                       message=f"{k} of {n} predictions ({k / max(n, 1):.2%}) changed on {ctx.evalset_name}.")


def _flips(ctx):
    """Flips overall and a function giving (groups, flips, rows) per sensitive column."""
    if ctx.summaries is not None:
        sm = ctx.summaries
        kc = len(sm.classes)
        table = sm.get("paired", ctx.evalset_name)
        changed = (np.arange(kc)[:, None] != np.arange(kc)[None, :])  # base class != derived class
        flip_table = type(table)({key: np.array([c.reshape(kc, kc, kc)[:, changed].sum(), c.sum()])
                                  for key, c in table.items()})
        total = sum(flip_table.values())

        def per_col(col):
            names, c = _grouped(sm, flip_table, [col])
            return names, c[:, 0].astype(float), c[:, 1]

        return int(total[0]), int(total[1]), list(sm.sensitive), per_col
    es, src, base, pert = _rows(ctx, ctx.evalset_name)
    flips = np.asarray(base.labels[src] != pert.labels)

    def per_col(col):
        codes, names = group_codes(es.sensitive, [col])
        return (names, np.bincount(codes, weights=flips, minlength=len(names)),
                np.bincount(codes, minlength=len(names)))

    return int(flips.sum()), len(flips), list(es.sensitive.columns), per_col


class GapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric | None = Field(None, description="Default: accuracy for classifiers, mae for regressors.")
    mode: Literal["absolute", "relative"] = "absolute"
    sensitive: list[str] | None = Field(None, description="One column, or several for intersectional groups; "
                                                          "default the first sensitive column.")


@register_check("robustness.group_degradation_gap", params=GapParams, needs={"model", "labels", "sensitive"},
                default_evalset=DEFAULT_SET, higher_is_better=False)
def group_degradation_gap(ctx, params):
    """Largest difference between sensitive groups in metric drop: robustness as a fairness question."""
    level, metric, mode = ctx.settings.confidence, _metric(ctx, params), params.mode
    available = list(ctx.summaries.sensitive) if ctx.summaries is not None else list(ctx.evalset().sensitive.columns)
    if not available:
        raise CheckSkipped("no sensitive columns")
    cols = params.sensitive or [available[0]]
    r, names, ng, _ = _paired(ctx, ctx.evalset_name, metric, ctx.rng("gap"), list(cols))
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
                                           method="paired-bootstrap-counts"),
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
                                                        method="paired-bootstrap-counts"),
                       n=int(_n_rows(ctx, ctx.evalset_name)), groups=groups, inconclusive=inc,
                       details={"charts": [chart]},
                       message=f"{metric} drop ranges from {_f(np.nanmin(d)):.4g} to {_f(np.nanmax(d)):.4g} "
                               f"across {len(names)} group(s); gap {_f(gap):.4g}.")


# -- streamed audits: which merged counts each check reads ------------------------------
def _set_requests(ctx, name: str, metric: str) -> list:
    if metric not in P.CLASS_METRICS:
        raise NotStreamed(f"metric {metric!r} runs on the sample")
    if _row_preserving(ctx, name):
        return [("paired", name, None)]
    return [("confusion", name, None), ("confusion", "base", None)]


def _drop_requests(es, params, ctx):
    metric = _metric(ctx, params)
    sets = [] if _kind(ctx, es) == "base" else [es]
    if params.severities:
        kind = params.kind or _kind(ctx, es)
        sets += [f"{kind}@{s:g}" for s in params.severities]
    return [r for name in sets for r in _set_requests(ctx, name, metric)]


register_summaries("robustness.metric_drop", _drop_requests)
register_summaries("robustness.group_degradation_gap",
                   lambda es, params, ctx: _set_requests(ctx, es, _metric(ctx, params)))
register_summaries("robustness.flip_rate", lambda es, params, ctx: [("paired", es, None)])
