"""Message, table and charts of a fairness measurement (JSON-ready, renderer-neutral)."""

from __future__ import annotations

import numpy as np

__all__ = ["message", "details", "small_text"]


def _fmt(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{float(x):.3f}"


def _f(x):
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _cell(d) -> str:
    if not isinstance(d, dict) or d.get("value") is None:
        return "n/a"
    if d.get("low") is None:
        return _fmt(d["value"])
    return f"{d['value']:.3f} ({d['low']:.3f}-{d['high']:.3f})"


def small_text(g) -> str:
    """A small group as the rule saw it: the rows behind its smallest rate, and the group's rows.

    ``"race=Asian (23 rows behind false positive rate; 31 in the group)"``, or ``"sex=X (n=10)"`` when the
    smallest denominator is the whole group.
    """
    rows, sup, of = g.extra.get("rows", g.n), g.extra.get("min_support"), g.extra.get("min_support_of")
    if sup is None or sup == rows:
        return f"{g.group} (n={rows})"
    return f"{g.group} ({sup} rows behind {of}; {rows} in the group)"


def message(metric, params, comps, parts, value, lo, hi, value_all, small, min_size, level) -> str:
    """One or two sentences for the report."""
    pct = f"{round(level * 100)}%"
    what = ", ".join(" & ".join(p.part.columns) for p in parts)
    text = f"{metric.title} {_fmt(value)} ({pct} CI {_fmt(lo)}-{_fmt(hi)}) over {what}"
    worst = _worst_part(parts, value, metric, params)
    if worst is not None:
        i = 0
        if worst.per_comp and len(comps) > 1:
            i = int(np.nanargmax(worst.per_comp) if metric.kind == "difference"
                    else np.nanargmin(worst.per_comp))
        text += _extremes(worst, i, comps[i], metric, params)
    text += "."
    # With small_groups: inconclusive the verdict's reason names the small groups (once); here
    # only the exclusion, which changes the value, is said.
    if small and params.small_groups == "exclude":
        names = ", ".join(small_text(g) for g in small)
        text += (f" Excluded from the value, still reported and flagged: {len(small)} group(s) "
                 f"below min_group_size={min_size}: {names}; with them the value is {_fmt(value_all)}.")
    return text


def _worst_part(parts, value, metric, params):
    if not np.isfinite(value):
        return None
    for p in parts:
        if np.isfinite(p.point) and np.isclose(p.point, value):
            return p
    return None


def _extremes(p, i, comp, metric, params) -> str:
    v = np.where(p.include, p.values[i], np.nan)
    if np.all(np.isnan(v)):
        return ""
    hi, lo = int(np.nanargmax(v)), int(np.nanargmin(v))
    lab = p.part.labels
    if metric.kind == "aggregate":
        g = lo if params.aggregate == "min" else hi
        return f"; {'lowest' if params.aggregate == 'min' else 'highest'} {comp.label}: {lab[g]}"
    text = f"; {comp.label} ranges from {_fmt(v[lo])} ({lab[lo]}) to {_fmt(v[hi])} ({lab[hi]})"
    if p.cmp is not None and params.compare_to == "reference":
        text += f", reference {lab[p.cmp]}"
    return text


def details(metric, params, comps, parts, groups) -> dict:
    """``{"tables": [...], "charts": [...]}`` as described in the helper brief."""
    return {"tables": [_table(metric, params, comps, groups)],
            "charts": _interval_charts(comps, groups) + _heatmaps(comps, parts)}


def _table(metric, params, comps, groups) -> dict:
    extra_cols = [c for c in ("base_rate", "selection_rate", "tpr", "fpr", "precision")
                  if groups and c in groups[0].extra]
    heads = {"base_rate": "base rate", "selection_rate": "selection rate", "tpr": "TPR",
             "fpr": "FPR", "precision": "precision"}
    own = [c for c in comps if c.name not in extra_cols]
    cmp = {"best": "best group", "worst": "worst group", "reference": "reference"}.get(
        getattr(params, "compare_to", None), None)
    columns = ["group", "rows", *[heads[c] for c in extra_cols], *[c.label for c in own]]
    if metric.kind != "aggregate":
        columns.append(f"{'gap' if metric.kind == 'difference' else 'ratio'} vs {cmp}")
    rows = []
    for g in groups:
        row = [g.group, g.extra.get("rows", g.n), *[_cell(g.extra.get(c)) for c in extra_cols]]
        for c in own:
            if c.name == comps[0].name:
                d = {"value": g.value, "low": g.interval.low if g.interval else None,
                     "high": g.interval.high if g.interval else None}
            else:
                d = g.extra.get(c.name)
            row.append(_cell(d))
        if metric.kind != "aggregate":
            row.append(_fmt(g.extra.get("gap")))
        rows.append(row)
    flags = [i for i, g in enumerate(groups) if g.small]
    return {"title": "Per-group metrics (groups below min_group_size flagged)", "columns": columns,
            "rows": rows, "flag_rows": flags}


def _interval_charts(comps, groups) -> list[dict]:
    charts = []
    for i, c in enumerate(comps):
        vals, lows, highs = [], [], []
        for g in groups:
            if i == 0:
                vals.append(g.value)
                lows.append(g.interval.low if g.interval else None)
                highs.append(g.interval.high if g.interval else None)
            else:
                d = g.extra.get(c.name, {})
                vals.append(d.get("value"))
                lows.append(d.get("low"))
                highs.append(d.get("high"))
        charts.append({"kind": "intervals", "title": f"{c.label.capitalize()} per group",
                       "labels": [g.group for g in groups], "values": vals, "lows": lows,
                       "highs": highs, "xlabel": c.label,
                       "threshold": {"min": None, "max": None}, "flags": [g.small for g in groups]})
    return charts


def _heatmaps(comps, parts) -> list[dict]:
    out = []
    for p in parts:
        cols = p.part.columns
        if len(cols) < 2:
            continue
        rows = sorted({v[0] for v in p.part.values})
        rest = sorted({v[1:] for v in p.part.values})
        col_labels = [" & ".join(f"{c}={x}" for c, x in zip(cols[1:], r, strict=True)) for r in rest]
        grid = [[None] * len(rest) for _ in rows]
        for g, v in enumerate(p.part.values):
            grid[rows.index(v[0])][rest.index(v[1:])] = _f(p.values[0][g])
        out.append({"kind": "heatmap", "title": f"{comps[0].label.capitalize()} by "
                    f"{' x '.join(cols)}", "row_labels": [f"{cols[0]}={r}" for r in rows],
                    "col_labels": col_labels, "values": grid, "label": comps[0].label})
    return out
