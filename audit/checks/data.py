"""Data checks: train/test duplicates, single-feature target leakage, class balance, group representation,
missing values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._paired import project_groups
from audit.checks._registry import NoParams, register_check
from audit.errors import CheckError, CheckSkipped
from audit.results import GroupValue, Interval, Measurement
from audit.stats import wilson_interval

__all__ = ["single_feature_auroc"]


def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _wilson(k, n, level):
    lo, hi = wilson_interval(k, n, level)
    return Interval(low=_f(lo), high=_f(hi), level=level, method="wilson")


def _wilson_kish(kw, nw, nw2, level):
    # Weighted audits: the weighted share kw / nw, Wilson on Kish's effective rows.
    from audit.stats._weights import wilson_kish

    lo, hi = wilson_kish(kw, nw, nw2, level)
    return Interval(low=_f(lo), high=_f(hi), level=level, method="wilson-kish")


def _weighted_note(w: float, w2: float) -> dict:
    from audit.stats._weights import kish_n

    return {"weighted": {"sum_of_weights": float(w), "effective_rows": float(kish_n(w, w2))}}


class DupParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_target: bool = Field(False, description="Count a row as duplicate only if its target matches too.")


@register_check("data.train_test_duplicates", params=DupParams, needs={"reference"}, higher_is_better=False,
                summaries=lambda es, params, view: [("dups", es, params.include_target)])
def train_test_duplicates(ctx, params):
    """Rows of the evaluation set that also appear exactly in the reference (training) data."""
    sm = ctx.summaries.get("dups", ctx.evalset_name, params.include_target)
    k, n, rows = int(sm["count"]), int(sm["n"]), [int(r) for r in sm["first"]]
    if ctx.summaries.weighted:
        ws = ctx.summaries.weighted_summary("dups", ctx.evalset_name, params.include_target)["w"].values()[0]
        m = _dup_measurement(k, n, rows, ctx.settings.confidence)
        kw, k2, nw, nw2 = ws  # weight of the duplicates, its squares, total weight, its squares
        m.value = float(kw / nw) if nw else None
        m.interval = _wilson_kish(kw, nw, nw2, ctx.settings.confidence)
        m.details.update(_weighted_note(nw, nw2))
        m.message = (f"{k} of {n} evaluation rows ({m.value or 0.0:.2%} of the weight) appear in the "
                     "reference data.")
        return m
    return _dup_measurement(k, n, rows, ctx.settings.confidence)


def _dup_measurement(k: int, n: int, rows: list[int], level: float) -> Measurement:
    table = {"title": "Evaluation rows also in the reference (first 20)", "columns": ["row"],
             "rows": [[int(r)] for r in rows]}
    return Measurement(value=k / n if n else None, interval=_wilson(k, n, level), n=n,
                       details={"duplicates": k, "tables": [table]},
                       message=f"{k} of {n} evaluation rows ({k / max(n, 1):.2%}) appear in the reference data.")


def _oof_target_rate(codes: np.ndarray, t: np.ndarray, k: int, rng) -> np.ndarray:
    # Out-of-fold mean target per category: a row's score never uses its own label.
    folds = rng.integers(0, 5, size=len(t))
    score = np.empty(len(t))
    prior = t.mean()
    for f in range(5):
        tr = folds != f
        s = np.bincount(codes[tr], weights=t[tr], minlength=k)
        c = np.bincount(codes[tr], minlength=k)
        rate = np.where(c > 0, (s + prior) / (c + 1), prior)  # one pseudo-row of the prior: unseen -> prior
        score[~tr] = rate[codes[~tr]]
    return score


def single_feature_auroc(x: pd.Series, t: np.ndarray, categorical: bool, rng, weights=None) -> float:
    """How well one feature alone ranks the positive class: max(AUROC, 1 - AUROC) (0.5 = no signal);
    with ``weights``, the weighted AUROC."""
    from sklearn.metrics import roc_auc_score

    if categorical:
        codes, uniq = pd.factorize(x.astype(object).where(x.notna(), "<missing>"))
        s = _oof_target_rate(codes, t, len(uniq), rng)
    else:
        s = x.to_numpy(dtype=float)
        s = np.where(np.isnan(s), np.nanmedian(s) if (~np.isnan(s)).any() else 0.0, s)
    a = roc_auc_score(t, s, sample_weight=weights)
    return max(a, 1.0 - a)


class LeakParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag_at: float = Field(0.95, gt=0.5, le=1, description="Flag features whose AUROC alone reaches this.")


@register_check("data.single_feature_leakage", params=LeakParams, needs={"labels"}, tasks={"classification"},
                higher_is_better=False)
def single_feature_leakage(ctx, params):
    """Largest AUROC any single feature reaches alone on the target (a near-1 value suggests target leakage)."""
    es = ctx.evalset()
    if es.y is None:
        raise CheckSkipped("no labels in this evaluation set")
    t = (np.asarray(es.y) == ctx.pos_label).astype(np.int64)
    if t.min() == t.max():
        raise CheckSkipped("one class only; AUROC is undefined")
    rng = ctx.rng("leak")
    kinds = ctx.dataset.feature_types
    # Weighted audits: each sample row weighted by data.weight times its design weight.
    w = ctx.row_weights() if ctx.audit.weighted else None
    res = [(c, single_feature_auroc(es.X[c], t, kinds.get(c) == "categorical", rng, w)) for c in es.X.columns]
    res.sort(key=lambda r: -r[1])
    flagged = [i for i, (_, a) in enumerate(res) if a >= params.flag_at]
    groups = [GroupValue(group=c, n=len(t), value=_f(a), extra={"flagged": a >= params.flag_at}) for c, a in res]
    table = {"title": "Single-feature AUROC (max of AUROC and 1 - AUROC; categorical: out-of-fold target rate)",
             "columns": ["feature", "type", "AUROC"], "rows": [[c, kinds.get(c, "numeric"), _f(a)] for c, a in res],
             "flag_rows": flagged}
    top, a = res[0]
    return Measurement(value=_f(a), n=len(t), groups=groups, details={"tables": [table]},
                       message=f"Strongest single feature: {top!r} with AUROC {a:.3f}; "
                               f"{len(flagged)} feature(s) at or above {params.flag_at:g}.")


@register_check("data.class_balance", params=NoParams, needs={"labels"}, tasks={"classification"},
                higher_is_better=True, summaries=lambda es, params, view: [("labels", es, None)])
def class_balance(ctx, params):
    """Share of the smallest class (Wilson interval)."""
    level = ctx.settings.confidence
    table = ctx.summaries.get("labels", ctx.evalset_name)
    classes = ctx.summaries.classes
    per_class = table.total() if table else np.zeros(len(classes), dtype=np.int64)
    vals, counts = classes[per_class > 0], per_class[per_class > 0]
    n = int(counts.sum())
    if ctx.summaries.weighted:
        t = ctx.summaries.tally("labels", ctx.evalset_name, size=len(classes))
        keep = per_class > 0
        w = t.w[keep]
        W, W2 = float(w.sum()), float(t.w2.sum())
        groups = [GroupValue(group=str(v), n=int(c), value=float(wc / W), interval=_wilson_kish(wc, W, W2, level),
                             extra={"sum_of_weights": float(wc)})
                  for v, c, wc in zip(vals, counts, w, strict=True)]
        i = int(np.argmin(w))
        return Measurement(value=float(w[i] / W), interval=groups[i].interval, n=n, groups=groups,
                           details=_weighted_note(W, W2),
                           message=f"Smallest class {vals[i]!s}: {w[i] / W:.1%} of the weight "
                                   f"({counts[i]} of {n} rows).")
    groups = [GroupValue(group=str(v), n=int(c), value=c / n, interval=_wilson(c, n, level))
              for v, c in zip(vals, counts, strict=True)]
    i = int(np.argmin(counts))
    return Measurement(value=counts[i] / n, interval=_wilson(counts[i], n, level), n=n, groups=groups,
                       message=f"Smallest class {vals[i]!s}: {counts[i]} of {n} rows ({counts[i] / n:.1%}).")


class RepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(None, description="Columns; default every sensitive column (each marginally).")
    intersectional: bool = Field(False, description="Groups are combinations of the columns.")


@register_check("data.group_representation", params=RepParams, needs={"sensitive"}, higher_is_better=True,
                summaries=lambda es, params, view: [("cells", es, None)])
def group_representation(ctx, params):
    """Share of the smallest sensitive group (Wilson interval per group)."""
    level = ctx.settings.confidence
    sm = ctx.summaries
    available = list(sm.sensitive)
    cols = params.sensitive or available
    if not cols:
        raise CheckSkipped("no sensitive columns")
    absent = [c for c in cols if c not in available]
    if absent:
        raise CheckError(f"sensitive column(s) {absent} not in the data; available: {available}")
    sets = [cols] if params.intersectional else [[c] for c in cols]
    groups, labels, vals, lows, highs, flags = [], [], [], [], [], []
    n = sm.rows(ctx.evalset_name)
    weighted = sm.weighted
    if weighted:
        tot = sm.tally("cells", ctx.evalset_name, size=1)
        W, W2 = float(tot.w.sum()), float(tot.w2.sum())
    for cs in sets:
        names, c = project_groups(sm.get("cells", ctx.evalset_name), sm.sensitive, cs)
        ng = c.sum(axis=-1)
        wg = sm.group_tally("cells", ctx.evalset_name, cs)[1].w.sum(axis=-1) if weighted else ng
        for g, c, cw in zip(names, ng, wg, strict=True):
            iv = _wilson_kish(cw, W, W2, level) if weighted else _wilson(c, n, level)
            share = float(cw / W) if weighted else c / n
            small = bool(c < ctx.settings.min_group_size)
            groups.append(GroupValue(group=g, n=int(c), value=share, interval=iv, small=small))
            labels.append(g)
            vals.append(share)
            lows.append(iv.low)
            highs.append(iv.high)
            flags.append(small)
    i = int(np.argmin(vals))
    chart = {"kind": "intervals", "title": "Group shares", "labels": labels, "values": vals, "lows": lows,
             "highs": highs, "xlabel": "share of rows", "threshold": {"min": None, "max": None}, "flags": flags}
    return Measurement(value=vals[i], interval=groups[i].interval, n=n, groups=groups,
                       details={"charts": [chart], **(_weighted_note(W, W2) if weighted else {})},
                       message=f"Smallest group {labels[i]}: {groups[i].n} of {n} rows ({vals[i]:.1%}"
                               + (" of the weight)." if weighted else ")."))


@register_check("data.missing_values", params=NoParams, needs=set(), higher_is_better=False,
                summaries=lambda es, params, view: [("missing", es, None)])
def missing_values(ctx, params):
    """Largest share of missing values in any column (features and sensitive columns)."""
    level = ctx.settings.confidence
    sm = ctx.summaries.get("missing", ctx.evalset_name)
    columns, k, n = ctx.summaries.all_columns, sm["count"], int(sm["n"])
    if ctx.summaries.weighted:
        return _weighted_missing(ctx, columns, k, n, level)
    order = np.argsort(-k, kind="stable")
    rows, groups = [], []
    for j in order:
        iv = _wilson(k[j], n, level)
        rows.append([columns[j], int(k[j]), k[j] / n if n else None, iv.low, iv.high])
        groups.append(GroupValue(group=str(columns[j]), n=n, value=k[j] / n if n else None, interval=iv))
    j = int(order[0])
    table = {"title": "Missing values per column", "columns": ["column", "missing", "share", "low", "high"],
             "rows": rows, "flag_rows": [i for i, r in enumerate(rows) if r[1] > 0]}
    return Measurement(value=k[j] / n if n else None, interval=_wilson(k[j], n, level), n=n, groups=groups,
                       details={"tables": [table]},
                       message=f"Most missing: {columns[j]!r} with {int(k[j])} of {n} ({k[j] / max(n, 1):.1%}).")


def _weighted_missing(ctx, columns, k, n: int, level: float) -> Measurement:
    """Weighted share of missing values per column: sum(w over missing rows) / sum(w)."""
    v = ctx.summaries.weighted_summary("missing", ctx.evalset_name)["w"].values()[0]
    d = len(columns)
    kw, W, W2 = v[:d], float(v[2 * d]), float(v[2 * d + 1])  # v[d:2d]: w^2 over missing cells
    share = kw / W if W else np.full(d, np.nan)
    order = np.argsort(-share, kind="stable")
    rows, groups = [], []
    for j in order:
        iv = _wilson_kish(kw[j], W, W2, level)
        rows.append([columns[j], int(k[j]), _f(share[j]), iv.low, iv.high])
        groups.append(GroupValue(group=str(columns[j]), n=n, value=_f(share[j]), interval=iv,
                                 extra={"missing_rows": int(k[j])}))
    j = int(order[0])
    table = {"title": "Missing values per column (weighted shares)",
             "columns": ["column", "missing rows", "weighted share", "low", "high"],
             "rows": rows, "flag_rows": [i for i, r in enumerate(rows) if r[1] > 0]}
    return Measurement(value=_f(share[j]), interval=_wilson_kish(kw[j], W, W2, level), n=n, groups=groups,
                       details={"tables": [table], **_weighted_note(W, W2)},
                       message=f"Most missing: {columns[j]!r} with {int(k[j])} of {n} rows "
                               f"({share[j]:.1%} of the weight).")
