"""The one fairness engine behind every registered fairness check.

A :class:`FairnessMetric` says which per-group metric(s) a check compares
and how (difference, ratio, or the min/max of the metric itself);
:func:`measure` turns predictions into a :class:`~audit.results.Measurement`
with bootstrap intervals, per-group rows, a table and charts.

In a weighted audit (``data.weight``) the per-fine-cell statistics are weight
sums (fairlearn's ``MetricFrame`` with ``sample_weight``), the replicates carry
each cell's weights (:mod:`audit.stats._weights`), per-group rates get Wilson
intervals on Kish's effective rows, and group sizes and ``min_group_size`` stay
counts of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audit.errors import CheckError, CheckSkipped
from audit.fairness._disparity import combine, comparison_index, disparity, group_gaps
from audit.fairness._groups import Partition, group_structure
from audit.fairness._metrics import RATES, REGRESSION, RateMetric, balanced_accuracy, ece_from_bins
from audit.results import GroupValue, Interval, Measurement
from audit.stats import percentile_interval, wilson_interval

__all__ = ["Component", "FairnessMetric", "measure", "summaries_needed"]

N_SUB = 10  # calibration sub-bins per ECE bin (bounds the replicate approximation)
REG_COLUMNS = ("abs_error", "sq_error", "y", "y2", "pred")


@dataclass(frozen=True)
class Component:
    """One per-group metric: ``fn(stats) -> (value, support)``."""

    name: str
    label: str
    fn: Callable
    higher_is_better: bool

    @property
    def rate(self) -> RateMetric | None:
        return self.fn if isinstance(self.fn, RateMetric) else None


def rate(name: str) -> Component:
    m = RATES[name]
    return Component(name, m.label, m, m.higher_is_better)


def component(name: str) -> Component:
    """The per-group metric called ``name``."""
    if name in RATES:
        return rate(name)
    if name == "balanced_accuracy":
        return Component(name, "balanced accuracy", balanced_accuracy, True)
    if name in REGRESSION:
        fn, label, hib = REGRESSION[name]
        return Component(name, label, fn, hib)
    raise KeyError(name)


@dataclass(frozen=True)
class FairnessMetric:
    """What a fairness check measures.

    Attributes
    ----------
    title : str
        For messages, e.g. "Demographic parity difference".
    components : tuple of str
        Per-group metrics; several (equalized odds) combine as the worst.
    kind : {"difference", "ratio", "aggregate"}
    family : {"classification", "calibration", "regression"}
    """

    title: str
    components: tuple[str, ...]
    kind: str
    family: str = "classification"


# -- inputs -------------------------------------------------------------------
# One path: the summaries of the check's evaluation set, per fine cell (one combination
# of every sensitive column's values). The check's columns are a projection of those
# cells; the fine cells are ordered by :func:`group_structure`, so groups are labelled
# and bootstrapped alike whatever produced the summary.

def summaries_needed(metric: FairnessMetric, params, evalset: str) -> list[tuple]:
    """The summary a fairness check of ``metric`` reads (its plan declaration)."""
    if metric.family == "calibration":
        return [("calibration", evalset, (params.n_bins, N_SUB)), ("confusion", evalset, None)]
    if metric.family == "regression":
        return [("moments", evalset, None)]
    return [("confusion", evalset, None)]


def _structure(ctx, params, *tables):
    """The check's columns, the group structure over the tables' fine cells, and each cell's code."""
    import pandas as pd

    from audit.stats.summaries import MISSING

    sm = ctx.summaries
    available = sm.sensitive
    cols = list(params.sensitive) if params.sensitive else list(available)
    if not cols:
        raise CheckSkipped("no sensitive columns: name them in data.sensitive or the check's params")
    absent = [c for c in cols if c not in available]
    if absent:
        raise CheckError(f"sensitive column(s) {absent} not in the data; available: {list(available)}")
    pos = [available.index(c) for c in cols]
    every = {key for t in tables for key in t}
    keys = sorted({tuple(key[j] for j in pos) for key in every})
    if params.missing == "error":
        bad = [c for j, c in enumerate(cols) if any(k[j] == MISSING for k in keys)]
        if bad:
            raise CheckError(f"sensitive column {bad[0]!r} has missing values (params missing: error); "
                             "use missing: group to audit them as their own group")
    gs = group_structure(pd.DataFrame(keys, columns=cols), cols, params.groups, "group")
    code = dict(zip(keys, gs.codes.tolist(), strict=True))
    return gs, {key: code[tuple(key[j] for j in pos)] for key in every}


def _binary_cells(cm, k: int, p: int):
    cm = np.asarray(cm).reshape(k, k)
    tp = cm[p, p]
    fn = cm[p].sum() - tp
    fp = cm[:, p].sum() - tp
    return [cm.sum() - tp - fn - fp, fp, fn, tp]


def _confusion_stats(ctx, gs, cell_code, table, rng):
    """Per fine cell ``[tn, fp, fn, tp]`` and multinomial replicates (weight sums and weighted
    replicates in a weighted audit, then also the row counts and squared-weight sums)."""
    from audit.stats import bootstrap_counts

    sm = ctx.summaries
    k, p = len(sm.classes), sm.pos_index
    fine = np.zeros((gs.n_fine, 4), dtype=np.int64)
    for key, cm in table.items():
        fine[cell_code[key]] += _binary_cells(cm, k, p)
    if sm.weighted:
        from audit.stats._weights import Tally, table_tallies

        w, w2 = np.zeros((gs.n_fine, 4)), np.zeros((gs.n_fine, 4))
        # Sorted keys: the float weight sums are added in one order whatever the partitioning.
        for key, t in sorted(table_tallies(table, sm.weighted_summary("confusion", ctx.evalset_name)).items()):
            w[cell_code[key]] += _binary_cells(t.w, k, p)
            w2[cell_code[key]] += _binary_cells(t.w2, k, p)
        reps = Tally(fine, w, w2).resample(ctx.settings.n_boot, rng)
        return w, reps, _Weighted(fine.astype(float), w2)
    reps = bootstrap_counts(fine, ctx.settings.n_boot, rng)
    return fine.astype(float), reps.astype(float)


@dataclass(frozen=True)
class _Weighted:
    """Of a weighted audit's per-fine-cell statistics: the same layout in row counts (group sizes,
    ``min_group_size``) and the squared-weight sums of the confusion cells (Kish intervals)."""

    rows: np.ndarray
    w2: np.ndarray | None


def _calibration_stats(ctx, gs, cell_code, table, params, rng):
    """Per fine cell ``[count x m, positives x m, score sum x m]`` and replicates.

    A replicate redraws the (sub-bin, label) counts of each fine cell; each cell's score
    sum is its redrawn count times the cell's observed mean score (error below the
    sub-bin width 1 / (n_bins * N_SUB)).
    """
    from audit.stats import bootstrap_counts
    from audit.stats.summaries import SUM_SCALE

    m = params.n_bins * N_SUB
    cnt = np.zeros((gs.n_fine, m * 2))
    ssum = np.zeros((gs.n_fine, m * 2))
    for key, v in table.items():
        cnt[cell_code[key]] += v[:m * 2]
        ssum[cell_code[key]] += v[m * 2:] / SUM_SCALE

    def pack(c, s):
        c, s = c.reshape(c.shape[:-1] + (m, 2)), s.reshape(s.shape[:-1] + (m, 2))
        return np.concatenate([c.sum(-1), c[..., 1], s.sum(-1)], axis=-1)

    if ctx.summaries.weighted:  # weight sums per (sub-bin, label) cell and their w * score sums
        from audit.stats._weights import Tally

        wt = ctx.summaries.weighted_summary("calibration", ctx.evalset_name, (params.n_bins, N_SUB))
        w, w2, ws = np.zeros_like(cnt), np.zeros_like(cnt), np.zeros_like(cnt)
        for key, wc in sorted(wt.items()):
            vals = wc.values()
            w[cell_code[key]] += vals[:, 0]
            w2[cell_code[key]] += vals[:, 1]
            ws[cell_code[key]] += vals[:, 2]
        mean = np.where(w > 0, ws / np.where(w > 0, w, 1), 0.0)
        rep = Tally(cnt.astype(np.int64), w, w2).resample(ctx.settings.n_boot, rng)
        return pack(w, ws), pack(rep, rep * mean), _Weighted(pack(cnt, np.zeros_like(cnt)), None)
    mean = np.where(cnt > 0, ssum / np.where(cnt > 0, cnt, 1), 0.0)
    rep = bootstrap_counts(cnt.astype(np.int64), ctx.settings.n_boot, rng).astype(float)
    return pack(cnt, ssum), pack(rep, rep * mean)


def _fine_cells(table, cell_code, n_fine: int) -> list:
    """Moment summaries merged per fine cell (a cell's keys may come from several partitions)."""
    fine: list = [None] * n_fine
    for key, mom in table.items():
        c = cell_code[key]
        fine[c] = mom if fine[c] is None else fine[c] + mom
    return fine


def _regression_stats(ctx, gs, cell_code, table, rng):
    """Per fine cell ``[n, sum|e|, sum e^2, sum pred]`` (exact) and binned-moment replicates
    (each cell's size fixed: a stratified bootstrap)."""
    from audit.stats import bootstrap_binned_means
    from audit.stats._moments import MomentSummary

    fine = _fine_cells(table, cell_code, gs.n_fine)
    B = ctx.settings.n_boot
    point = np.zeros((gs.n_fine, 4))
    reps = np.zeros((B, gs.n_fine, 4))
    if ctx.summaries.weighted:
        return _weighted_regression_stats(ctx, gs, cell_code, fine, rng)
    for g, mom in enumerate(fine):
        ms = MomentSummary(mom.counts, mom.sums, REG_COLUMNS)
        n = ms.n
        s = ms.exact_sums()
        point[g] = [n, float(s["abs_error"]), float(s["sq_error"]), float(s["pred"])]
        means = bootstrap_binned_means(ms.binned, B, rng)
        reps[:, g] = np.column_stack([np.full(B, n), n * means[:, 0], n * means[:, 1], n * means[:, 4]])
    return point, reps


def _weighted_regression_stats(ctx, gs, cell_code, rows_fine, rng):
    """Per fine cell ``[sum w, sum w|e|, sum w e^2, sum w prediction]`` (exact) and binned-moment
    replicates of the weighted sums (each cell's row count fixed); rows for group sizes."""
    from audit.stats import bootstrap_binned_means
    from audit.stats._moments import MomentSummary
    from audit.stats.summaries import W_REGRESSION_STATS

    fine = _fine_cells(ctx.summaries.weighted_summary("moments", ctx.evalset_name), cell_code, gs.n_fine)
    B = ctx.settings.n_boot
    point = np.zeros((gs.n_fine, 4))
    reps = np.zeros((B, gs.n_fine, 4))
    rows = np.zeros((gs.n_fine, 4))
    for g, mom in enumerate(fine):
        ms = MomentSummary(mom.counts, mom.sums, W_REGRESSION_STATS)
        n = ms.n
        s = ms.exact_sums()
        point[g] = [float(s["w"]), float(s["w_abs_error"]), float(s["w_sq_error"]), float(s["w_pred"])]
        means = bootstrap_binned_means(ms.binned, B, rng)
        reps[:, g] = n * means[:, [0, 1, 2, 5]]
        rows[g, 0] = n
    return point, reps, _Weighted(rows, None)


def _stats(ctx, params, metric):
    """Group structure, (point, replicates) of the per-fine-cell statistics, confusion counts
    (for the per-group extras), and the rows behind them."""
    rng = ctx.rng("fairness-bootstrap")
    kind = summaries_needed(metric, params, ctx.evalset_name)[0]
    table = ctx.summaries.get(*kind)
    if not table:
        raise CheckSkipped(f"no rows in evaluation set {ctx.evalset_name!r}")
    n_rows = ctx.summaries.rows(ctx.evalset_name)
    if metric.family == "regression":
        gs, cell_code = _structure(ctx, params, table)
        return gs, _regression_stats(ctx, gs, cell_code, table, rng), None, n_rows
    if metric.family == "calibration":
        conf = ctx.summaries.get("confusion", ctx.evalset_name)
        gs, cell_code = _structure(ctx, params, table, conf)
        counts = _confusion_stats(ctx, gs, cell_code, conf, rng)
        return gs, _calibration_stats(ctx, gs, cell_code, table, params, rng), counts, n_rows
    gs, cell_code = _structure(ctx, params, table)
    counts = _confusion_stats(ctx, gs, cell_code, table, rng)
    return gs, counts, counts, n_rows


def _unpack(stats):
    """``(point, replicates, weighted info or None)`` of a statistics tuple."""
    if stats is None:
        return None, None, None
    return stats[0], stats[1], stats[2] if len(stats) > 2 else None


def _components(metric, params) -> list[Component]:
    if metric.family == "calibration":
        nb = params.n_bins
        fn = lambda s: ece_from_bins(s, nb, N_SUB)  # noqa: E731
        return [Component("ece", "expected calibration error", fn, False)]
    return [component(c) for c in metric.components]


# -- per partition --------------------------------------------------------------

def _reference_index(part: Partition, ref) -> int:
    if isinstance(ref, dict):
        missing = [c for c in part.columns if c not in ref]
        if missing:
            raise CheckError(f"reference_group has no value for column(s) {missing}")
        want = " & ".join(f"{c}={ref[c]}" for c in part.columns)
        hits = [i for i, lab in enumerate(part.labels) if lab == want]
    else:
        hits = [i for i, lab in enumerate(part.labels) if lab == str(ref)]
        if not hits and len(part.columns) == 1:
            hits = [i for i, v in enumerate(part.values) if v[0] == str(ref)]
    if not hits:
        raise CheckError(f"reference group {ref!r} not found among {part.labels}")
    return hits[0]


@dataclass
class _PartResult:
    part: Partition
    n: np.ndarray
    values: list[np.ndarray]       # per component, point (G,)
    reps: list[np.ndarray]         # per component, (B, G)
    small: np.ndarray
    include: np.ndarray
    point: float
    boot: np.ndarray
    point_all: float               # over every group, small ones included
    gaps: np.ndarray
    cmp: int | None
    counts: np.ndarray | None      # confusion counts (G, 4) for the extras (weight sums when weighted)
    per_comp: list[float] | None = None  # point disparity of each component
    support: list[np.ndarray] | None = None  # per component, the rows behind each group's value (G,)
    counts_w2: np.ndarray | None = None  # weighted audits: squared-weight sums (G, 4) (Kish intervals)


def _part(part, stats, reps, counts, comps, metric, params, min_size, weighted=None, cweighted=None) -> _PartResult:
    s, r = part.aggregate(stats), part.aggregate(reps)
    # Group sizes and min_group_size count rows, also in a weighted audit.
    rows = part.aggregate(weighted.rows) if weighted is not None else s
    vals, rvals, support = [], [], []
    for c in comps:
        v, _ = c.fn(s)
        vals.append(np.asarray(v, dtype=float))
        rvals.append(np.asarray(c.fn(r)[0], dtype=float))
        support.append(np.asarray(c.fn(rows)[1], dtype=float))
    small = np.min(support, axis=0) < min_size
    include = ~small if params.small_groups == "exclude" else np.ones_like(small)
    cnt = part.aggregate(counts) if counts is not None else None
    w2 = part.aggregate(cweighted.w2) if cweighted is not None else None
    if cweighted is not None:
        n = part.aggregate(cweighted.rows).sum(-1)
    else:
        n = cnt.sum(-1) if cnt is not None else rows[:, 0]  # regression stats start with the row count
    if metric.kind == "aggregate":
        red = np.nanmin if params.aggregate == "min" else np.nanmax
        pick = lambda v, inc: _red(red, np.where(inc, v, np.nan))  # noqa: E731
        point, boot, point_all = pick(vals[0], include), pick(rvals[0], include), pick(vals[0], True)
        return _PartResult(part, n, vals, rvals, small, include, point, boot, point_all,
                           np.full_like(vals[0], np.nan), None, cnt, None, support, w2)
    ref = _reference_index(part, params.reference_group) if params.compare_to == "reference" else None
    per_comp = [float(disparity(v, metric.kind, include, ref)) for v in vals]
    point = combine([np.asarray(x) for x in per_comp], metric.kind)
    point_all = combine([disparity(v, metric.kind, np.ones_like(small), ref) for v in vals], metric.kind)
    boot = combine([disparity(v, metric.kind, include, ref) for v in rvals], metric.kind)
    gaps, cmp = [], None
    for v, c in zip(vals, comps, strict=True):
        cmp = comparison_index(v, include, params.compare_to, c.higher_is_better, ref)
        gaps.append(group_gaps(v, metric.kind, cmp))
    return _PartResult(part, n, vals, rvals, small, include, float(point), boot, float(point_all),
                       combine(gaps, metric.kind), cmp, cnt, per_comp, support, w2)


def _red(fn, a):
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(a, axis=-1)


# -- assembling the measurement ----------------------------------------------------

def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _vi(v, lo, hi) -> dict:
    return {"value": _f(v), "low": _f(lo), "high": _f(hi)}


_EXTRAS = ("base_rate", "selection_rate", "tpr", "fpr", "precision")


def _group_rows(pr: _PartResult, comps, level, boot_method: str = "bootstrap-counts"):
    lo_b, hi_b = percentile_interval(pr.reps[0], level)
    first = comps[0]
    weighted = pr.counts_w2 is not None

    def wilson(rate, c, w2):
        k, n = rate.counts(c)
        if w2 is None:
            return k, n, wilson_interval(k, n, level)
        from audit.stats._weights import wilson_kish

        return k, n, wilson_kish(k, n, rate.counts(w2)[1], level)

    if first.rate is not None:
        _, _, (lo, hi) = wilson(first.rate, pr.counts, pr.counts_w2)
        method = "wilson-kish" if weighted else "wilson"
    else:
        lo, hi, method = lo_b, hi_b, boot_method
    rows = []
    for g, label in enumerate(pr.part.labels):
        extra = {"partition": " & ".join(pr.part.columns), "included": bool(pr.include[g]),
                 "rows": int(round(pr.n[g]))}
        # n is the rows behind the group's value (a TPR's positives, an FPR's negatives); the
        # smallest such denominator over the components is what min_group_size is held against.
        behind = int(round(pr.support[0][g])) if pr.support else int(round(pr.n[g]))
        if pr.support:
            j = int(np.argmin([s[g] for s in pr.support]))
            extra["min_support"] = int(round(pr.support[j][g]))
            extra["min_support_of"] = comps[j].label
        if pr.counts is not None:
            for name in _EXTRAS:
                kk, nn, (wl, wh) = wilson(RATES[name], pr.counts[g], None if not weighted else pr.counts_w2[g])
                extra[name] = _vi(kk / nn if nn else np.nan, wl, wh)
        for v, c, rv in zip(pr.values[1:], comps[1:], pr.reps[1:], strict=True):
            clo, chi = percentile_interval(rv[:, g], level)
            extra[c.name] = _vi(v[g], clo, chi)
        if np.isfinite(pr.gaps[g]):
            extra["gap"] = _f(pr.gaps[g])
        rows.append(GroupValue(group=label, n=behind, value=_f(pr.values[0][g]),
                               interval=Interval(low=_f(lo[g]), high=_f(hi[g]), level=level, method=method),
                               small=bool(pr.small[g]), extra=extra))
    return rows


def measure(ctx, params, metric: FairnessMetric) -> Measurement:
    """Measure ``metric`` on the check's evaluation set; see :mod:`audit.fairness`."""
    from audit.fairness._report import details, message, small_text

    gs, st, cnt, n_rows = _stats(ctx, params, metric)
    stats, reps, weighted = _unpack(st)
    counts, _, cweighted = _unpack(cnt)
    level = ctx.settings.confidence
    min_size = params.min_group_size or ctx.settings.min_group_size
    comps = _components(metric, params)
    parts = [_part(p, stats, reps, counts, comps, metric, params, min_size, weighted, cweighted)
             for p in gs.partitions]

    kind = metric.kind if metric.kind != "aggregate" else ("ratio" if params.aggregate == "min" else "difference")
    value = combine([np.asarray(p.point) for p in parts], kind)
    boot = combine([np.asarray(p.boot) for p in parts], kind)
    value_all = combine([np.asarray(p.point_all) for p in parts], kind)
    lo, hi = percentile_interval(boot, level)
    groups = [row for p in parts for row in _group_rows(p, comps, level, _method(metric, weighted is not None))]
    small = [g for g in groups if g.small]
    reason = None
    if small and params.small_groups == "inconclusive":
        reason = (f"{len(small)} group(s) below min_group_size={min_size}: "
                  + ", ".join(small_text(g) for g in small))
    elif not np.isfinite(value):
        reason = "fewer than two groups with a defined value" + (
            f" of at least {min_size} rows" if small else "")
    return Measurement(
        value=_f(value),
        interval=Interval(low=_f(lo), high=_f(hi), level=level, method=_method(metric, weighted is not None)),
        n=int(n_rows),
        groups=groups,
        inconclusive=reason,
        message=message(metric, params, comps, parts, value, lo, hi, value_all, small, min_size, level),
        details=details(metric, params, comps, parts, groups),
    )


def _method(metric, weighted: bool = False) -> str:
    if weighted:
        return "bootstrap-weighted-binned" if metric.family == "regression" else "bootstrap-weighted-counts"
    return "bootstrap-binned" if metric.family == "regression" else "bootstrap-counts"
