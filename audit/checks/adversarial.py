"""Adversarial robustness checks: robust accuracy, attack success, minimal perturbation, group gap.

Each check runs on an adversarial evaluation set (default ``adversarial@0.1``:
the strongest attack the model allows, eps 0.1 standard deviations, 200 rows
stratified by label and sensitive group; see :mod:`audit.evalsets.adversarial`).
The attack runs once per (attack, epsilon, sample) on the audit and is shared by
every check. ``epsilons: [...]`` adds a robustness curve: the same attack and
parameters at each epsilon.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import register_check
from audit.errors import CheckSkipped
from audit.evalsets.adversarial import DEFAULT_EPS
from audit.results import GroupValue, Interval, Measurement
from audit.stats import bootstrap_counts, group_codes, percentile_interval, wilson_interval

DEFAULT_EVALSET = "adversarial@0.1"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(None, description="Columns for the per-group breakdown; "
                                                          "default every sensitive column.")


class RobustAccuracyParams(_Base):
    """Parameters of adversarial.robust_accuracy."""

    epsilons: list[float] | None = Field(None, description="Epsilons of the robustness curve (same attack).")
    examples: int = Field(3, ge=0, le=20, description="Example perturbations shown in the report.")


class SuccessRateParams(_Base):
    """Parameters of adversarial.attack_success_rate."""

    examples: int = Field(3, ge=0, le=20, description="Example perturbations shown in the report.")


class EmpiricalRobustnessParams(_Base):
    """Parameters of adversarial.empirical_robustness."""

    max_eps: float = Field(2.0, gt=0, description="Largest perturbation searched (attack units).")
    steps: int = Field(6, ge=1, le=20, description="Bisection halvings for epsilon-bounded attacks.")


class GroupGapParams(_Base):
    """Parameters of adversarial.group_robustness_gap."""

    intersectional: bool = Field(False, description="Groups are combinations of the sensitive columns.")


# -- shared pieces ------------------------------------------------------------------------------

def _adv(ctx, name: str | None = None):
    es = ctx.evalset(name)
    if "engine" not in es.meta:
        raise CheckSkipped(f"evaluation set {es.name!r} is not an adversarial set (use adversarial[.<attack>]@<eps>)")
    return es, es.meta["engine"], es.meta["outcome"]


def _siblings(name: str, spec, epsilons, named: bool) -> list[str]:
    """Names of the evaluation sets with ``name``'s attack and parameters at each epsilon.

    A policy-named set ``adv`` at another epsilon is ``adv@<eps>``; a set named by kind
    is ``<kind>@<eps>``. The plan resolves both names before the audit runs.
    """
    own = float(spec.severity) if spec.severity is not None else DEFAULT_EPS
    out = []
    for eps in sorted({float(e) for e in epsilons} | {own}):
        if eps == own:
            out.append(name)
        else:
            out.append(f"{name}@{eps:g}" if named else f"{spec.kind}@{eps:g}")
    return out


def _curve_reads(evalset, params, view) -> list[str]:
    if not getattr(params, "epsilons", None):
        return [evalset]
    return _siblings(evalset, view.resolve(evalset), params.epsilons, view.named(evalset))


def _f(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _wilson(k: int, n: int, level: float) -> Interval | None:
    if n == 0:
        return None
    lo, hi = wilson_interval(k, n, level)
    return Interval(low=_f(lo), high=_f(hi), level=level, method="wilson")


def _columns(ctx, es, params) -> list[str]:
    cols = params.sensitive if params.sensitive is not None else list(es.sensitive.columns)
    missing = [c for c in cols if c not in es.sensitive.columns]
    if missing:
        raise CheckSkipped(f"sensitive column(s) {missing} not in the data")
    return cols


def _rate_groups(ctx, es, ok: np.ndarray, cols: list[str], within: np.ndarray | None = None):
    """Per-group share of ``ok`` (optionally among rows in ``within``), Wilson intervals."""
    level, mgs = ctx.settings.confidence, ctx.settings.min_group_size
    out = []
    base = np.ones(len(ok), dtype=bool) if within is None else within
    for col in cols:
        codes, labels = group_codes(es.sensitive, [col])
        for g, lab in enumerate(labels):
            sel = (codes == g) & base
            n, k = int(sel.sum()), int(ok[sel].sum())
            out.append(GroupValue(group=lab, n=n, value=k / n if n else None, interval=_wilson(k, n, level),
                                  small=n < mgs))
    return out


def _attack_rows(ctx, names: list[str]) -> dict:
    # Attack wall times go to details["timings"] (see _finish), outside the reproducible table.
    cols = ["evaluation set", "attack", "norm", "eps", "units", "budget", "rows attacked", "flipped",
            "discarded (invalid)", "max queries/row", "upper bound only", "why this attack"]
    rows = []
    for name in names:
        r = ctx.evalset(name).meta["report"]
        rows.append([name, r["attack"], r["norm"], r["eps"], r["eps_units"], r["budget"], r["attacked_rows"],
                     r["flipped"], r["discarded_invalid"], r["max_queries_per_row"],
                     "yes" if r["upper_bound"] else "no", r["why"]])
    times = {name: ctx.evalset(name).meta["attack_time_s"] for name in names}
    return {"title": "Attacks used", "columns": cols, "rows": rows, "_timings": times}


def _cell(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return _f(round(v, 6))
    return v if isinstance(v, int | str) or v is None else str(v)


def _examples(ctx, es, eng, flipped: np.ndarray, k: int) -> dict | None:
    """A few adversarial examples: one line per changed feature, with the change in attack units."""
    if k == 0:
        return None
    idx = np.flatnonzero(flipped)[:k]
    X0 = eng.target.X0
    pred = ctx.predictions(es.name).labels
    clean = eng.target.classes[eng.clean_idx]
    units = "std" if eng.params.eps_units == "std" else "abs"
    rows = []
    for e, i in enumerate(idx):
        changed = [c for c in X0.columns if X0[c].iloc[i] != es.X[c].iloc[i]]
        for j, c in enumerate(changed):
            sc = eng.space.scale[eng.space.columns.index(c)] if c in eng.space.columns else None
            diff = (float(es.X[c].iloc[i]) - float(X0[c].iloc[i])) / sc if sc else None
            rows.append([e + 1, int(es.source_index[i]), f"{_cell(clean[i])} -> {_cell(pred[i])}" if j == 0 else "",
                         c, _cell(X0[c].iloc[i]), _cell(es.X[c].iloc[i]), _f(None if diff is None else round(diff, 4))])
    return {"title": f"Example adversarial perturbations ({eng.attack}, changed features only)",
            "columns": ["example", "base row", "prediction", "feature", "original", "adversarial",
                        f"change ({units} units)"],
            "rows": rows, "flag_rows": list(range(len(rows)))}


def _bound_note(eng) -> str:
    return (" Black-box attack on a model that allows a white-box one: this is an upper bound on robustness."
            if eng.choice.upper_bound else "")


def _finish(details: dict, *tables, charts=()) -> dict:
    # Wall times are measurements of this machine, not of the model: they live under "timings",
    # which the reproducibility promise of results.json leaves out.
    for t in tables:
        if t and "_timings" in t:
            details.setdefault("timings", {}).update({f"attack_s[{k}]": v for k, v in t.pop("_timings").items()})
    details.setdefault("tables", []).extend(t for t in tables if t)
    if charts:
        details.setdefault("charts", []).extend(charts)
    return details


# -- checks ------------------------------------------------------------------------------------

@register_check("adversarial.robust_accuracy", params=RobustAccuracyParams, needs={"model", "labels"},
                tasks={"classification"}, default_evalset=DEFAULT_EVALSET, higher_is_better=True,
                reads=_curve_reads)
def robust_accuracy(ctx, params: RobustAccuracyParams) -> Measurement:
    """Accuracy under the strongest attack within epsilon (adversarial examples count as errors)."""
    es, eng, out = _adv(ctx)
    level = ctx.settings.confidence
    ok = np.asarray(ctx.predictions().labels) == np.asarray(es.y)
    n, k = len(ok), int(ok.sum())
    cols = _columns(ctx, es, params)
    groups = _rate_groups(ctx, es, ok, cols)
    details: dict = {"attack": eng.attack, "why": eng.choice.reason, "upper_bound": eng.choice.upper_bound,
                     "eps": out.eps, "eps_units": eng.params.eps_units, "discarded_invalid": out.discarded}
    names = [ctx.evalset_name]
    charts = []
    if params.epsilons:
        epss = sorted(set(float(e) for e in params.epsilons) | {out.eps})
        names = _siblings(ctx.evalset_name, ctx.audit.resolve(ctx.evalset_name), params.epsilons,
                          ctx.evalset_name in ctx.audit.evalset_specs)
        series = {"all rows": ([], [], [])}
        for name in names:
            es_e = ctx.evalset(name)
            ok_e = np.asarray(ctx.predictions(name).labels) == np.asarray(es_e.y)
            iv = _wilson(int(ok_e.sum()), len(ok_e), level)
            for key, v, lo, hi in [("all rows", ok_e.mean(), iv.low, iv.high)] + [
                    (g.group, g.value, g.interval.low if g.interval else None, g.interval.high if g.interval else None)
                    for g in _rate_groups(ctx, es_e, ok_e, cols)]:
                s = series.setdefault(key, ([], [], []))
                s[0].append(_f(v))
                s[1].append(_f(lo))
                s[2].append(_f(hi))
        charts.append({"kind": "curve", "title": f"Robust accuracy vs epsilon ({eng.attack}, "
                                                 f"L{'-inf' if eng.norm == 'inf' else '2'})",
                       "x": epss, "xlabel": f"epsilon ({eng.params.eps_units} units)", "ylabel": "robust accuracy",
                       "series": [{"name": key, "y": y, "low": lo, "high": hi} for key, (y, lo, hi) in series.items()],
                       "threshold": {"min": None, "max": None}})
        details["curve"] = {"eps": epss, "robust_accuracy": series["all rows"][0]}
    msg = (f"Robust accuracy {k / n:.3f} ({k}/{n} sampled rows) under {eng.attack} at eps={out.eps:g} "
           f"({eng.params.eps_units} units); {out.discarded} adversarial example(s) discarded as invalid after "
           f"projection. Attack: {eng.choice.reason}.{_bound_note(eng)}")
    _finish(details, _attack_rows(ctx, names), _examples(ctx, es, eng, out.valid_flip, params.examples),
            charts=charts)
    return Measurement(value=k / n if n else None, interval=_wilson(k, n, level), n=n, groups=groups,
                       message=msg, details=details)


@register_check("adversarial.attack_success_rate", params=SuccessRateParams, needs={"model", "labels"},
                tasks={"classification"}, default_evalset=DEFAULT_EVALSET, higher_is_better=False)
def attack_success_rate(ctx, params: SuccessRateParams) -> Measurement:
    """Share of correctly classified sampled rows whose class the attack changed within epsilon."""
    es, eng, out = _adv(ctx)
    level = ctx.settings.confidence
    y = np.asarray(es.y)
    clean = np.asarray(ctx.predictions("base").labels)[es.source_index]
    adv = np.asarray(ctx.predictions().labels)
    correct = clean == y
    success = correct & (adv != y)
    n, k = int(correct.sum()), int(success.sum())
    cols = _columns(ctx, es, params)
    groups = _rate_groups(ctx, es, success, cols, within=correct)
    details = {"attack": eng.attack, "why": eng.choice.reason, "upper_bound": eng.choice.upper_bound,
               "eps": out.eps, "eps_units": eng.params.eps_units, "discarded_invalid": out.discarded,
               "correct_rows": n, "sampled_rows": len(y)}
    _finish(details, _attack_rows(ctx, [ctx.evalset_name]), _examples(ctx, es, eng, success, params.examples))
    if n == 0:
        return Measurement(value=None, n=0, groups=groups, inconclusive="no correctly classified row to attack",
                           message="No sampled row was classified correctly: nothing to attack.", details=details)
    msg = (f"{eng.attack} changed the class of {k}/{n} correctly classified rows ({k / n:.3f}) at eps={out.eps:g} "
           f"({eng.params.eps_units} units); {out.discarded} invalid example(s) discarded.{_bound_note(eng)}")
    return Measurement(value=k / n, interval=_wilson(k, n, level), n=n, groups=groups, message=msg, details=details)


def _median_interval(d: np.ndarray, level: float) -> tuple[float, float | None, float | None]:
    """Median and its distribution-free order-statistic interval (binomial ranks); inf = not found."""
    d = np.sort(d)
    n = len(d)
    med = float(np.median(d))
    from scipy import stats  # imported where used: scipy.stats costs ~0.8 s

    j = int(stats.binom.ppf((1 - level) / 2, n, 0.5))
    lo = float(d[j - 1]) if j >= 1 else 0.0
    hi = float(d[n - j]) if j >= 1 else None
    return med, lo, hi


@register_check("adversarial.empirical_robustness", params=EmpiricalRobustnessParams,
                needs={"model", "labels"}, tasks={"classification"}, default_evalset=DEFAULT_EVALSET,
                higher_is_better=True)
def empirical_robustness(ctx, params: EmpiricalRobustnessParams) -> Measurement:
    """Median smallest valid perturbation that changes a correct prediction (in spread units)."""
    es, eng, _ = _adv(ctx)
    level = ctx.settings.confidence
    dist, how = eng.minimal_distances(params.max_eps, params.steps)
    correct = ~np.isnan(dist)
    d = dist[correct]
    n = len(d)
    units = eng.params.eps_units
    details = {"attack": eng.attack, "method": how, "units": units, "max_eps": params.max_eps,
               "not_found": int(np.isinf(d).sum()), "correct_rows": n, "upper_bound": eng.choice.upper_bound}
    edges = np.linspace(0, params.max_eps, 11)
    details["charts"] = [{"kind": "histogram", "title": f"Smallest perturbation found ({eng.attack})",
                          "xlabel": f"perturbation ({units} units)", "edges": [float(e) for e in edges],
                          "series": [{"name": "rows", "counts": [int(c) for c in np.histogram(d[np.isfinite(d)],
                                                                                                edges)[0]]}]}]
    if n == 0:
        return Measurement(value=None, n=0, inconclusive="no correctly classified row to attack",
                           message="No sampled row was classified correctly.", details=details)
    med, lo, hi = _median_interval(d, level)
    censored = not math.isfinite(med)
    groups = []
    cols = _columns(ctx, es, params)
    for col in cols:
        codes, labels = group_codes(es.sensitive, [col])
        for g, lab in enumerate(labels):
            dg = dist[(codes == g) & correct]
            if len(dg):
                m, gl, gh = _median_interval(dg, level)
                iv = Interval(low=_f(gl), high=_f(gh), level=level, method="order-statistic")
            else:
                m, iv = None, None
            groups.append(GroupValue(group=lab, n=len(dg), value=_f(params.max_eps if m == np.inf else m),
                                     interval=iv, small=len(dg) < ctx.settings.min_group_size,
                                     extra={"censored": bool(m == np.inf)}))
    value = params.max_eps if censored else med
    details["censored"] = censored
    msg = (f"Median smallest valid perturbation {'above ' if censored else ''}{value:.3g} {units} units "
           f"({how}; {details['not_found']}/{n} correct rows not flipped within {params.max_eps:g}).{_bound_note(eng)}")
    return Measurement(value=value, interval=Interval(low=_f(lo), high=_f(hi), level=level, method="order-statistic"),
                       n=n, groups=groups, message=msg, details=details)


@register_check("adversarial.group_robustness_gap", params=GroupGapParams, needs={"model", "labels"},
                tasks={"classification"}, default_evalset=DEFAULT_EVALSET, higher_is_better=False)
def group_robustness_gap(ctx, params: GroupGapParams) -> Measurement:
    """Largest difference in robust accuracy between sensitive groups (max - min within a column)."""
    es, eng, out = _adv(ctx)
    level, mgs = ctx.settings.confidence, ctx.settings.min_group_size
    ok = np.asarray(ctx.predictions().labels) == np.asarray(es.y)
    cols = _columns(ctx, es, params)
    if not cols:
        raise CheckSkipped("no sensitive column to compare groups on")
    sets = [cols] if params.intersectional else [[c] for c in cols]
    blocks, groups = [], []
    for cs in sets:
        codes, labels = group_codes(es.sensitive, cs)
        counts = np.zeros((len(labels), 2), dtype=np.int64)
        np.add.at(counts, (codes, ok.astype(np.int64)), 1)
        blocks.append(counts)
        for g, lab in enumerate(labels):
            n, k = int(counts[g].sum()), int(counts[g, 1])
            groups.append(GroupValue(group=lab, n=n, value=k / n if n else None, interval=_wilson(k, n, level),
                                     small=n < mgs))

    def gap(c):  # c: (..., G, 2) -> max over column sets of (max - min) robust accuracy
        with np.errstate(invalid="ignore", divide="ignore"):
            r = c[..., 1] / c.sum(axis=-1)
        return np.nanmax(r, axis=-1) - np.nanmin(r, axis=-1)

    value = max(float(gap(b)) for b in blocks)
    rng = ctx.rng("bootstrap")
    reps = np.max(np.stack([gap(bootstrap_counts(b, ctx.settings.n_boot, rng)) for b in blocks]), axis=0)
    lo, hi = percentile_interval(reps, level)
    small = [g.group for g in groups if g.small]
    inconclusive = (f"group(s) below min_group_size={mgs} in the attacked sample: {', '.join(small)}; "
                    "raise sample_size") if small else None
    chart = {"kind": "intervals", "title": f"Robust accuracy per group ({eng.attack}, eps={out.eps:g})",
             "labels": [g.group for g in groups], "values": [g.value for g in groups],
             "lows": [g.interval.low if g.interval else None for g in groups],
             "highs": [g.interval.high if g.interval else None for g in groups],
             "xlabel": "robust accuracy", "threshold": {"min": None, "max": None}, "flags": [g.small for g in groups]}
    details = {"attack": eng.attack, "eps": out.eps, "eps_units": eng.params.eps_units,
               "upper_bound": eng.choice.upper_bound, "charts": [chart]}
    _finish(details, _attack_rows(ctx, [ctx.evalset_name]))
    msg = (f"Largest gap in robust accuracy between groups {value:.3f} under {eng.attack} at eps={out.eps:g} "
           f"({eng.params.eps_units} units), {len(ok)} sampled rows.{_bound_note(eng)}")
    return Measurement(value=value, interval=Interval(low=_f(lo), high=_f(hi), level=level, method="bootstrap-counts"),
                       n=len(ok), groups=groups, inconclusive=inconclusive, message=msg, details=details)
