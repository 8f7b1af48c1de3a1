"""Representativeness checks: the evaluation data's group mix against the population and the training data.

- ``data.representativeness``: the evaluation set's sensitive-group shares
  (each column, and their combinations) against the shares the policy declares
  for the population the model serves (``population:``): Pearson's chi-square
  goodness-of-fit test per partition (``scipy.stats.chisquare`` of the observed
  counts against the declared shares) and the largest absolute share gap, with
  a bootstrap interval.
- ``data.reference_mix``: the evaluation set's label and group mix against the
  reference (training) data: Pearson's chi-square test of homogeneity of the
  2 x K table (``scipy.stats.chi2_contingency`` without Yates' correction) per
  distribution, and the largest absolute share difference, with a bootstrap
  interval resampling both sides.

Both read the mergeable ``cells`` / ``labels`` summaries (every row, every
executor). In a weighted audit shares are weight shares, replicates carry the
cells' weights, and the chi-square tests use the weighted shares scaled to
Kish's effective number of rows (a design-effect correction of the test).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import register_check
from audit.errors import CheckError, CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import percentile_interval, wilson_interval
from audit.stats._order import matmul
from audit.stats._weights import Tally, kish_n, wilson_kish
from audit.stats.summaries import MISSING

__all__ = ["RepresentativenessParams", "ReferenceMixParams", "goodness_of_fit", "homogeneity"]


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _partitions(cols: list[str], groups: str) -> list[tuple[str, ...]]:
    marginal = [(c,) for c in cols]
    if groups == "marginal" or len(cols) == 1:
        return marginal
    if groups == "intersectional":
        return [tuple(cols)]
    return [*marginal, tuple(cols)]


def _label(cols, key) -> str:
    return " & ".join(f"{c}={v}" for c, v in zip(cols, key, strict=True))


def goodness_of_fit(observed: np.ndarray, shares: np.ndarray) -> tuple[float, int, float, float]:
    """Pearson's chi-square goodness of fit of counts ``observed`` to the shares ``shares``.

    Returns ``(statistic, dof, p_value, smallest expected count)``: ``scipy.stats.chisquare(observed,
    observed.sum() * shares)``. A group with a share of 0 and no rows drops out; one with rows
    makes the statistic infinite (p = 0).
    """
    from scipy.stats import chi2

    o = np.asarray(observed, dtype=np.float64)
    e = o.sum() * np.asarray(shares, dtype=np.float64)
    keep = (e > 0) | (o > 0)
    o, e = o[keep], e[keep]
    if (e == 0).any():
        return float("inf"), max(len(o) - 1, 0), 0.0, 0.0
    stat = float(((o - e) ** 2 / e).sum())
    dof = len(o) - 1
    return stat, dof, float(chi2.sf(stat, dof)) if dof > 0 else 1.0, float(e.min()) if len(e) else 0.0


def homogeneity(table: np.ndarray) -> tuple[float, int, float, float]:
    """Pearson's chi-square test of homogeneity of a 2 x K table (no continuity correction).

    Returns ``(statistic, dof, p_value, smallest expected count)``:
    ``scipy.stats.chi2_contingency(table, correction=False)``. Empty columns drop out.
    """
    from scipy.stats import chi2

    t = np.asarray(table, dtype=np.float64)
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] < 2 or (t.sum(axis=1) == 0).any():
        return 0.0, 0, 1.0, float("nan")
    e = t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True) / t.sum()
    stat = float(((t - e) ** 2 / e).sum())
    dof = t.shape[1] - 1
    return stat, dof, float(chi2.sf(stat, dof)), float(e.min())


def _fine(ctx, kind: str):
    """Fine-cell keys and their Tally ``(n_fine, m)`` of a cell-table summary."""
    from audit.stats._weights import table_tallies

    sm = ctx.summaries
    tallies = table_tallies(sm.get(kind, ctx.evalset_name), sm.weighted_summary(kind, ctx.evalset_name))
    keys = sorted(tallies)
    if not keys:
        raise CheckSkipped(f"no rows in evaluation set {ctx.evalset_name!r}")
    n = np.stack([tallies[k].n for k in keys])
    if sm.weighted:
        return keys, Tally(n, np.stack([tallies[k].w for k in keys]), np.stack([tallies[k].w2 for k in keys]))
    return keys, Tally(n)


def _member(keys: list[tuple], positions: list[int]) -> tuple[list[tuple], np.ndarray]:
    """Groups of ``positions`` and the 0/1 matrix (groups x fine cells) of their fine cells."""
    sub = [tuple(k[j] for j in positions) for k in keys]
    groups = sorted(set(sub))
    index = {g: i for i, g in enumerate(groups)}
    member = np.zeros((len(groups), len(keys)))
    member[[index[s] for s in sub], np.arange(len(keys))] = 1.0
    return groups, member


def _kish(w: np.ndarray, w2: np.ndarray) -> float:
    return float(kish_n(float(np.sum(w)), float(np.sum(w2))))


def _interval(lo, hi, level, weighted: bool) -> Interval:
    return Interval(low=_f(lo), high=_f(hi), level=level,
                    method="bootstrap-weighted-counts" if weighted else "bootstrap-counts")


# -- data.representativeness ---------------------------------------------------------------------

class RepresentativenessParams(BaseModel):
    """Parameters of ``data.representativeness``."""

    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(
        None, min_length=1, description="Columns to compare; default: every column the population declares.")
    groups: Literal["marginal", "intersectional", "both"] = Field(
        "marginal", description="marginal: each column's shares; intersectional: the combinations' shares "
        "(needs joint shares: a population CSV); both.")


@register_check("data.representativeness", params=RepresentativenessParams, needs={"sensitive"},
                higher_is_better=False, summaries=lambda es, params, view: [("cells", es, None)])
def representativeness(ctx, params):
    """Largest gap between a group's share of the evaluation data and its declared population share."""
    pop = ctx.settings.population
    if pop is None:
        raise CheckSkipped("needs the population's group shares; the policy declares none (population:)")
    sm = ctx.summaries
    available = list(sm.sensitive)
    cols = list(params.sensitive or pop.columns)
    absent = [c for c in cols if c not in available]
    if absent:
        raise CheckError(f"sensitive column(s) {absent} not in the data; available: {available}")
    undeclared = [c for c in cols if c not in pop.columns]
    if undeclared:
        raise CheckError(f"no population shares for column(s) {undeclared}; population "
                         f"({pop.source}) declares {pop.columns}")
    level, weighted = ctx.settings.confidence, sm.weighted
    keys, fine = _fine(ctx, "cells")
    fine = fine.map(lambda a: a[:, 0])  # one cell per fine key: its rows
    reps = fine.resample(ctx.settings.n_boot, ctx.rng("representativeness"))
    parts, groups, tables, gaps_boot = [], [], [], []
    labels, vals, lows, highs, flags = [], [], [], [], []
    for pcols in _partitions(cols, params.groups):
        shares = pop.shares(pcols)
        if shares is None:
            raise CheckError(f"intersectional groups {list(pcols)} need joint population shares; the population "
                             f"({pop.source}) declares only marginal shares: give population as a CSV with columns "
                             f"{list(pcols)} and 'share'")
        found, member = _member(keys, [available.index(c) for c in pcols])
        # Rows whose value is missing in a column (no declared share) are left out of the comparison.
        inside = [g for g in found if MISSING not in g or g in shares]
        stray = [g for g in inside if g not in shares]
        if stray:
            raise CheckError(f"group(s) {[_label(pcols, g) for g in stray[:5]]} have no declared population share "
                             f"(population from {pop.source})")
        declared = sorted(shares)
        rows = matmul(member, fine.n)
        idx = {g: i for i, g in enumerate(found)}
        pick = np.array([idx.get(g, -1) for g in declared])

        def take(a, pick=pick):  # declared groups' totals (0 for a group with no rows)
            out = np.where(pick >= 0, np.take(a, np.maximum(pick, 0), axis=-1), 0.0)
            return out

        n_g = take(rows)
        w_g = take(matmul(member, fine.w)) if weighted else n_g
        w2_g = take(matmul(member, fine.w2)) if weighted else n_g
        total, total2 = float(w_g.sum()), float(w2_g.sum())
        pi = np.array([shares[g] for g in declared])
        obs = w_g / total if total > 0 else np.full(len(declared), np.nan)
        gap = obs - pi
        rep_g = take(matmul(reps, member.T))
        rep_obs = rep_g / np.maximum(rep_g.sum(axis=-1, keepdims=True), 1e-300)
        gaps_boot.append(np.nanmax(np.abs(rep_obs - pi), axis=-1))
        # Chi-square on counts (weighted: shares scaled to Kish's effective rows).
        n_test = kish_n(total, total2) if weighted else total
        stat, dof, p, e_min = goodness_of_fit(obs * n_test if weighted else n_g, pi)
        lo, hi = (wilson_kish(w_g, total, total2, level) if weighted else wilson_interval(n_g, total, level))
        trows = []
        for j, g in enumerate(declared):
            label = _label(pcols, g)
            small = bool(n_g[j] < ctx.settings.min_group_size)
            groups.append(GroupValue(
                group=label, n=int(n_g[j]), value=_f(obs[j]), small=small,
                interval=Interval(low=_f(lo[j]), high=_f(hi[j]), level=level,
                                  method="wilson-kish" if weighted else "wilson"),
                extra={"partition": " & ".join(pcols), "declared_share": float(pi[j]), "gap": _f(gap[j]),
                       "gap_low": _f(lo[j] - pi[j]), "gap_high": _f(hi[j] - pi[j]),
                       **({"sum_of_weights": float(w_g[j])} if weighted else {})}))
            labels.append(label)
            vals.append(_f(gap[j]))
            lows.append(_f(lo[j] - pi[j]))
            highs.append(_f(hi[j] - pi[j]))
            flags.append(small)
            trows.append([label, int(n_g[j]), _f(obs[j]), _f(lo[j]), _f(hi[j]), float(pi[j]), _f(gap[j])])
        left_out = int(rows.sum() - n_g.sum())
        parts.append({"partition": " & ".join(pcols), "statistic": _f(stat), "dof": dof, "p_value": _f(p),
                      "min_expected": _f(e_min), "rows": int(n_g.sum()), "left_out_missing": left_out,
                      "max_abs_gap": _f(np.nanmax(np.abs(gap)))})
        tables.append({"title": f"Group shares vs declared population shares: {' & '.join(pcols)}",
                       "columns": ["group", "rows", "weighted share" if weighted else "share", "low", "high",
                                   "declared", "gap"], "rows": trows})
    worst = int(np.nanargmax([p["max_abs_gap"] if p["max_abs_gap"] is not None else -1 for p in parts]))
    value = parts[worst]["max_abs_gap"]
    boot = np.nanmax(np.stack(gaps_boot, axis=-1), axis=-1)
    blo, bhi = percentile_interval(boot, level)
    tests = {"title": "Chi-square goodness of fit (Pearson) per partition" + (
        " on Kish-scaled weighted counts" if weighted else ""),
        "columns": ["partition", "rows", "statistic", "dof", "p-value", "smallest expected count"],
        "rows": [[p["partition"], p["rows"], p["statistic"], p["dof"], p["p_value"], p["min_expected"]]
                 for p in parts]}
    chart = {"kind": "intervals", "title": "Share gap: evaluation data minus declared population share",
             "labels": labels, "values": vals, "lows": lows, "highs": highs, "xlabel": "share gap",
             "threshold": {"min": None, "max": None}, "flags": flags}
    worst_g = max((g for g in groups if g.extra["partition"] == parts[worst]["partition"]),
                  key=lambda g: abs(g.extra["gap"] or 0.0))
    few = [p["partition"] for p in parts if p["min_expected"] is not None and p["min_expected"] < 5]
    msg = (f"Largest share gap {value:.3f} [{_f(blo) or float('nan'):.3f}, {_f(bhi) or float('nan'):.3f}] "
           f"({worst_g.group}: {worst_g.value:.3f} of the {'weight' if weighted else 'rows'} vs "
           f"{worst_g.extra['declared_share']:.3f} declared); chi-square "
           + "; ".join(f"{p['partition']} {p['statistic']:.4g} (dof {p['dof']}, p={p['p_value']:.3g})"
                       for p in parts if p["statistic"] is not None)
           + (f"; expected counts below 5 in {few}: the p-value is approximate" if few else "") + ".")
    left = sum(p["left_out_missing"] for p in parts)
    if left:
        msg += f" {left} row(s) with a missing value in a compared column left out."
    details = {"tables": tables + [tests], "charts": [chart], "tests": parts, "population": pop.source}
    if weighted:
        details["weighted"] = {"sum_of_weights": float(np.sum(fine.w)), "effective_rows": _kish(fine.w, fine.w2)}
    return Measurement(value=value, interval=_interval(blo, bhi, level, weighted), n=int(fine.n.sum()),
                       groups=groups, details=details, message=msg)


# -- data.reference_mix ------------------------------------------------------------------------------

class ReferenceMixParams(BaseModel):
    """Parameters of ``data.reference_mix``."""

    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(
        None, description="Sensitive columns to compare; default: every sensitive column the reference has.")
    groups: Literal["marginal", "intersectional", "both"] = Field(
        "marginal", description="marginal: each column's mix; intersectional: the combinations' mix; both.")
    include_label: bool = Field(True, description="Compare the label mix too (classification).")


def _mix_summaries(es, params, view):
    kind = "labels" if view.task == "classification" and params.include_label else "cells"
    return [(kind, es, None)]


def _reference_tallies(ctx, cols: list[str], with_label: bool):
    """Reference rows per (sensitive cell of ``cols``, class): keys and a Tally ``(n_keys, m)``."""
    from audit.stats.summaries import cell_keys

    ref = ctx.reference
    codes, keys = cell_keys(ref.sensitive, cols)
    if with_label:
        classes = [str(c) for c in ctx.summaries.classes]
        names = np.asarray([str(v) for v in np.asarray(ref.y)], dtype=object)
        lab = np.array([classes.index(v) if v in classes else -1 for v in names])
        if (lab < 0).any():
            raise CheckError(f"reference labels {sorted(set(names[lab < 0]))[:5]} are not among the classes {classes}")
        m = len(classes)
    else:
        lab, m = np.zeros(len(codes), dtype=np.int64), 1
    idx = codes * m + lab
    n = np.bincount(idx, minlength=len(keys) * m).reshape(len(keys), m).astype(np.int64)
    if ref.weight is None:
        return keys, Tally(n)
    w = np.bincount(idx, ref.weight, minlength=len(keys) * m).reshape(len(keys), m)
    w2 = np.bincount(idx, ref.weight ** 2, minlength=len(keys) * m).reshape(len(keys), m)
    return keys, Tally(n, w, w2)


@register_check("data.reference_mix", params=ReferenceMixParams, needs={"reference"}, higher_is_better=False,
                summaries=_mix_summaries)
def reference_mix(ctx, params):
    """Largest difference in label or group share between the evaluation data and the reference (training) data."""
    sm = ctx.summaries
    ref = ctx.reference
    available = list(sm.sensitive)
    in_ref = [c for c in available if c in ref.sensitive.columns]
    cols = list(params.sensitive) if params.sensitive is not None else in_ref
    absent = [c for c in cols if c not in available or c not in ref.sensitive.columns]
    if absent:
        raise CheckError(f"sensitive column(s) {absent} not in both the evaluation and the reference data; "
                         f"both have {in_ref}")
    with_label = ctx.task == "classification" and params.include_label
    if with_label and ref.y is None:
        raise CheckSkipped("the reference data has no target column: its label mix is unknown")
    if not cols and not with_label:
        raise CheckSkipped("nothing to compare: no sensitive column in both sets and include_label is false")
    level, weighted = ctx.settings.confidence, sm.weighted
    keys, ev = _fine(ctx, "labels" if with_label else "cells")  # (fine, classes or 1)
    pos = [available.index(c) for c in cols]
    # Evaluation fine cells projected to the compared columns, then aligned with the reference cells.
    sub = [tuple(k[j] for j in pos) for k in keys]
    rkeys, rt = _reference_tallies(ctx, cols, with_label)
    allk = sorted(set(sub) | set(rkeys))
    ix = {k: i for i, k in enumerate(allk)}
    e_member = np.zeros((len(allk), len(keys)))
    e_member[[ix[s] for s in sub], np.arange(len(keys))] = 1.0
    r_member = np.zeros((len(allk), len(rkeys)))
    r_member[[ix[k] for k in rkeys], np.arange(len(rkeys))] = 1.0

    def joint(t: Tally, member) -> Tally:  # (cells of cols, m)
        return Tally(matmul(member, t.n), None if t.w is None else matmul(member, t.w),
                     None if t.w is None else matmul(member, t.w2))

    E, R = joint(ev, e_member), joint(rt, r_member)
    rng = ctx.rng("reference-mix")
    B = ctx.settings.n_boot
    e_reps = E.map(np.ravel).resample(B, rng).reshape((B,) + E.n.shape)
    r_reps = R.map(np.ravel).resample(B, rng).reshape((B,) + R.n.shape)
    comparisons = []  # (name, labels, eval marginal fn)
    if with_label:
        comparisons.append(("label", [f"label={c}" for c in sm.classes], lambda a: a.sum(axis=-2)))
    for pcols in _partitions(cols, params.groups) if cols else []:
        gk, gm = _member(allk, [cols.index(c) for c in pcols])
        comparisons.append((" & ".join(pcols), [_label(pcols, g) for g in gk],
                            lambda a, gm=gm: (matmul(gm, a.sum(axis=-1)) if a.ndim == 2
                                              else np.einsum("gk,bkm->bg", gm, a))))
    groups, tables, tests, boots = [], [], [], []
    labels_c, vals_c, lows_c, highs_c = [], [], [], []
    for name, glabels, marg in comparisons:
        e_pt, r_pt = marg(E.point), marg(R.point)
        e_n, r_n = marg(E.n), marg(R.n)
        e_tot, r_tot = float(e_pt.sum()), float(r_pt.sum())
        e_sh, r_sh = e_pt / e_tot, r_pt / r_tot
        diff = e_sh - r_sh
        er, rr = marg(e_reps), marg(r_reps)
        with np.errstate(invalid="ignore", divide="ignore"):
            rep_diff = er / er.sum(axis=-1, keepdims=True) - rr / rr.sum(axis=-1, keepdims=True)
        boots.append(np.nanmax(np.abs(rep_diff), axis=-1))
        dlo, dhi = percentile_interval(rep_diff, level)
        # Chi-square on counts (weighted: each side's shares scaled to its Kish effective rows).
        if weighted or R.weighted:
            e_eff = _kish(marg(E.w), marg(E.w2)) if weighted else e_tot
            r_eff = _kish(marg(R.w), marg(R.w2)) if R.weighted else r_tot
            table = np.stack([e_sh * e_eff, r_sh * r_eff])
        else:
            table = np.stack([e_n, r_n]).astype(float)
        stat, dof, p, e_min = homogeneity(table)
        tests.append({"distribution": name, "statistic": _f(stat), "dof": dof, "p_value": _f(p),
                      "min_expected": _f(e_min), "max_abs_difference": _f(np.nanmax(np.abs(diff)))})
        trows = []
        for j, g in enumerate(glabels):
            groups.append(GroupValue(group=g, n=int(e_n[j]), value=_f(diff[j]),
                                     interval=_interval(dlo[j], dhi[j], level, weighted or R.weighted),
                                     extra={"distribution": name, "evaluation_share": _f(e_sh[j]),
                                            "reference_share": _f(r_sh[j]), "reference_rows": int(r_n[j])}))
            trows.append([g, int(e_n[j]), _f(e_sh[j]), int(r_n[j]), _f(r_sh[j]), _f(diff[j]), _f(dlo[j]), _f(dhi[j])])
            labels_c.append(g)
            vals_c.append(_f(diff[j]))
            lows_c.append(_f(dlo[j]))
            highs_c.append(_f(dhi[j]))
        tables.append({"title": f"{name} mix: evaluation vs reference",
                       "columns": ["group", "evaluation rows", "evaluation share", "reference rows",
                                   "reference share", "difference", "low", "high"], "rows": trows})
    worst = int(np.nanargmax([t["max_abs_difference"] for t in tests]))
    value = tests[worst]["max_abs_difference"]
    blo, bhi = percentile_interval(np.nanmax(np.stack(boots, axis=-1), axis=-1), level)
    tables.append({"title": "Chi-square test of homogeneity (Pearson, no continuity correction)",
                   "columns": ["distribution", "statistic", "dof", "p-value", "smallest expected count"],
                   "rows": [[t["distribution"], t["statistic"], t["dof"], t["p_value"], t["min_expected"]]
                            for t in tests]})
    chart = {"kind": "intervals", "title": "Share difference: evaluation minus reference", "labels": labels_c,
             "values": vals_c, "lows": lows_c, "highs": highs_c, "xlabel": "share difference",
             "threshold": {"min": None, "max": None}, "flags": [False] * len(labels_c)}
    msg = (f"Largest share difference {value:.3f} [{_f(blo) or float('nan'):.3f}, {_f(bhi) or float('nan'):.3f}] "
           f"in the {tests[worst]['distribution']} mix; chi-square "
           + "; ".join(f"{t['distribution']} {t['statistic']:.4g} (dof {t['dof']}, p={t['p_value']:.3g})" for t in tests)
           + ".")
    details = {"tables": tables, "charts": [chart], "tests": tests, "reference_rows": int(R.n.sum())}
    if weighted:
        details["weighted"] = {"sum_of_weights": float(np.sum(E.w)), "effective_rows": _kish(E.w, E.w2)}
    return Measurement(value=value, interval=_interval(blo, bhi, level, weighted or R.weighted),
                       n=int(E.n.sum()), groups=groups, details=details, message=msg)
