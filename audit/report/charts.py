"""The report's charts, as small inline SVG (drawn by :mod:`audit.report._svg`).

Every function returns an inline ``<svg>`` string (no XML prolog, no namespace URL, no
script, every user string escaped) ready to paste into HTML, or ``None`` when there is
nothing to draw. Charts only draw numbers already in the result; they never compute a
metric. The chart layouts (``intervals``, ``curve``, ``histogram``, ``heatmap``, ``box``)
are documented in ``docs/results-schema.md``; how they are drawn, in ``docs/report.md``:

- every chart has a ``<title>`` and a ``<desc>`` that says in words what it shows;
- a chart whose data carry a threshold draws its bounds as lines (hard bounds solid, warning
  bounds dashed) and shades one band, the acceptable region; nothing else is shaded, so a
  curve's further intervals are error bars, not more bands;
- series take the Okabe-Ito colour-blind-safe palette, each with its own marker shape;
- histograms of series of different sizes are drawn as shares of each series, so a set of
  6,000 rows and one of 4,000 compare; histograms of counts get whole-number axes, and so
  does a curve whose x values are all whole numbers (runs in a history);
- charts stay bounded: at most :data:`MAX_LABELS` rows of a dot chart (the lowest and
  highest values), :data:`MAX_SERIES` series, :data:`MAX_CELLS` rows and columns of a heat
  map; the title says what was left out (all of it is in results.json).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from audit.report._svg import (
    BAND,
    BOUND,
    CHAR_W,
    MARKERS,
    MUTED,
    PALETTE,
    TICK,
    WARN,
    Plot,
    padded,
    short,
)

__all__ = [
    "CHART_KINDS",
    "MAX_LABELS",
    "MAX_SERIES",
    "MAX_CELLS",
    "chart_svg",
    "intervals_chart",
    "curve_chart",
    "histogram_chart",
    "heatmap_chart",
    "box_chart",
    "metric_chart",
    "select_extremes",
]

MAX_LABELS = 24     # rows of a dot-and-whisker chart
MAX_SERIES = 7      # lines of a curve, series of a histogram (one per palette colour)
MAX_CELLS = 16      # rows and columns of a heat map
MAX_BOXES = 12
WIDTH = 350         # px; two charts side by side fill the PDF page's text column (about 690 px)
STRIP_WIDTH = 320   # px; the value-against-threshold strip sits beside the card's facts
_DESC_LIMIT = 900   # characters of a chart's <desc>


def _num(v: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _nums(seq: Any, n: int) -> list[float | None]:
    seq = list(seq) if isinstance(seq, list | tuple) else []
    return [_num(seq[i]) if i < len(seq) else None for i in range(n)]


def _g(v: float | None) -> str:
    return "no value" if v is None else f"{v:.4g}"


def _uid(chart: Any) -> str:
    blob = json.dumps(chart, sort_keys=True, default=str).encode()
    return "c" + hashlib.sha1(blob).hexdigest()[:10]


def _desc(parts: Sequence[str]) -> str:
    text = " ".join(p for p in parts if p)
    return text if len(text) <= _DESC_LIMIT else text[: _DESC_LIMIT - 1] + "…"


def _threshold(chart_or_threshold: Any) -> dict[str, float | None]:
    t = chart_or_threshold if isinstance(chart_or_threshold, dict) else {}
    return {k: _num(t.get(k)) for k in ("min", "max", "warn_min", "warn_max")}


def _bound_values(th: dict[str, float | None]) -> list[float | None]:
    return [th[k] for k in ("min", "max", "warn_min", "warn_max")]


def _bound_text(th: dict[str, float | None]) -> str:
    parts = []
    if th["min"] is not None:
        parts.append(f"minimum {th['min']:g}")
    if th["max"] is not None:
        parts.append(f"maximum {th['max']:g}")
    if th["warn_min"] is not None:
        parts.append(f"warning below {th['warn_min']:g}")
    if th["warn_max"] is not None:
        parts.append(f"warning above {th['warn_max']:g}")
    return ("Threshold: " + ", ".join(parts) + ".") if parts else ""


def _draw_bounds(p: Plot, th: dict[str, float | None], vertical: bool, *, labels: bool = True) -> None:
    """One shaded band (the acceptable region) and a line per bound.

    ``vertical``: the values run along x (bounds are vertical lines); else along y.
    """
    scale = p.x if vertical else p.y
    if scale is None:
        return
    lo_px, hi_px = (p.x0, p.x1) if vertical else (p.y1, p.y0)

    def px(v: float) -> float:
        return min(max(scale(v), min(lo_px, hi_px)), max(lo_px, hi_px))

    lo, hi = th["min"], th["max"]
    if lo is not None or hi is not None:
        a = px(lo) if lo is not None else lo_px
        b = px(hi) if hi is not None else hi_px
        if vertical:
            p.rect(min(a, b), p.y0, abs(b - a), p.y1 - p.y0, BAND, layer="back")
        else:
            p.rect(p.x0, min(a, b), p.x1 - p.x0, abs(b - a), BAND, layer="back")
    for key, colour, dash, name in (("min", BOUND, None, "min"), ("max", BOUND, None, "max"),
                                    ("warn_min", WARN, "4 3", "warn"), ("warn_max", WARN, "4 3", "warn")):
        v = th[key]
        if v is None:
            continue
        c = scale(v)
        if not min(lo_px, hi_px) - 0.5 <= c <= max(lo_px, hi_px) + 0.5:
            continue
        if vertical:
            p.line(c, p.y0, c, p.y1, stroke=colour, width=1.2, dash=dash)
            if labels:
                p.text(c + 2, p.y0 + 8, f"{name} {v:g}", size=TICK, fill=colour)
        else:
            p.line(p.x0, c, p.x1, c, stroke=colour, width=1.2, dash=dash)
            if labels:
                p.text(p.x1 - 2, c - 2.5, f"{name} {v:g}", size=TICK, anchor="end", fill=colour)


def select_extremes(values: Sequence[float | None], limit: int) -> list[int]:
    """Indices of the ``limit // 2`` lowest and ``limit - limit // 2`` highest values, in input order.

    Used wherever a per-group table or chart would be longer than ``limit``: the groups at
    both ends are the ones a disparity is about. Groups without a value come last.
    """
    n = len(values)
    if n <= limit:
        return list(range(n))
    keyed = sorted(range(n), key=lambda i: (values[i] is None, values[i] if values[i] is not None else 0.0, i))
    defined = [i for i in keyed if values[i] is not None]
    low_k = limit // 2
    chosen = set(defined[:low_k])
    for i in reversed(defined):
        if len(chosen) >= limit:
            break
        chosen.add(i)
    for i in keyed:  # fewer defined values than the limit: fill with undefined ones
        if len(chosen) >= limit:
            break
        chosen.add(i)
    return sorted(chosen)


# -- chart kinds -----------------------------------------------------------------------------


def intervals_chart(chart: dict, uid: str | None = None) -> str | None:
    """Dot and whisker per label (per-group rates), bounds drawn, acceptable region shaded."""
    labels = [str(x) for x in chart.get("labels") or []]
    n = len(labels)
    if n == 0:
        return None
    values = _nums(chart.get("values"), n)
    lows, highs = _nums(chart.get("lows"), n), _nums(chart.get("highs"), n)
    raw_flags = chart.get("flags") if isinstance(chart.get("flags"), list) else []
    flags = [bool(raw_flags[i]) if i < len(raw_flags) else False for i in range(n)]
    keep = select_extremes(values, MAX_LABELS)
    title = str(chart.get("title") or "")
    note = ""
    if len(keep) < n:
        note = f" ({len(keep)} of {n:,}: lowest and highest; all in results.json)"
    th = _threshold(chart.get("threshold"))
    ticks = [short(labels[i], 32) + (" (small)" if flags[i] else "") for i in keep]
    left = 12 + max(len(t) for t in ticks) * TICK * CHAR_W
    left = min(max(left, 50), WIDTH * 0.45)
    row_h = 15
    p = Plot(uid or _uid(chart), title + note, "", width=WIDTH, plot_height=row_h * len(keep) + 6,
             left=left, right=16, top=20, bottom=30 if chart.get("xlabel") else 20)
    lo, hi = padded([*values, *lows, *highs], near=_bound_values(th))
    p.x_axis(lo, hi, str(chart.get("xlabel") or ""))
    _draw_bounds(p, th, vertical=True)
    described = []
    for row, i in enumerate(keep):
        y = p.y0 + 3 + row_h * (row + 0.5)
        colour = PALETTE[1] if flags[i] else PALETTE[0]
        p.text(p.x0 - 6, y + 2.8, ticks[row], size=TICK, anchor="end",
               fill=MUTED if flags[i] else "#1d2228")
        if lows[i] is not None and highs[i] is not None:
            p.line(p.x(lows[i]), y, p.x(highs[i]), y, stroke=colour, width=1.6)
        if values[i] is not None:
            p.marker(p.x(values[i]), y, "circle-open" if flags[i] else "circle", colour, size=3.2)
        else:
            p.text(p.x0 + 4, y + 2.8, "no value", size=TICK, fill=MUTED)
        interval = f" ({_g(lows[i])} to {_g(highs[i])})" if lows[i] is not None and highs[i] is not None else ""
        described.append(f"{labels[i]}: {_g(values[i])}{interval}{', small group' if flags[i] else ''}.")
    p.heading(title + note)
    p.desc = _desc([f"Dot-and-whisker chart: {title}{note}; one row per label, dot = value, "
                    "whisker = confidence interval.", _bound_text(th), *described])
    return p.svg()


def _is_whole(values: Sequence[float | None]) -> bool:
    vals = [v for v in values if v is not None]
    return bool(vals) and all(float(v).is_integer() for v in vals)


def curve_chart(chart: dict, uid: str | None = None) -> str | None:
    """Lines over x (degradation, robustness, reliability, throughput); one band at most.

    The first series with an interval gets a shaded band; later series with intervals get
    error bars. Whole-number x values (runs) get whole-number ticks.
    """
    x = _nums(chart.get("x"), len(chart.get("x") or []))
    raw = [s for s in chart.get("series") or [] if isinstance(s, dict)]
    if not x or not raw or all(v is None for v in x):
        return None
    series = raw[:MAX_SERIES]
    title = str(chart.get("title") or "")
    note = f" (first {MAX_SERIES} of {len(raw)} series; all in results.json)" if len(raw) > MAX_SERIES else ""
    th = _threshold(chart.get("threshold"))
    named = [s for s in series if s.get("name")]
    legend_w = 0 if not named else 34 + max(len(short(s.get("name"), 26)) for s in named) * TICK * CHAR_W
    p = Plot(uid or _uid(chart), title + note, "", width=WIDTH, plot_height=90, left=44,
             right=14 + legend_w, top=20, bottom=32 if chart.get("xlabel") else 20)
    ys, bands = [], []
    for s in series:
        y = _nums(s.get("y"), len(x))
        lo = _nums(s.get("low"), len(x)) if s.get("low") is not None else None
        hi = _nums(s.get("high"), len(x)) if s.get("high") is not None else None
        ys.append(y)
        bands.append((lo, hi))
    everything = [v for y in ys for v in y] + [v for lo, hi in bands for arr in (lo, hi) if arr for v in arr]
    log = chart.get("xscale") == "log" and all(v > 0 for v in x if v is not None)
    xs = [v for v in x if v is not None]
    if log:
        xlo, xhi = min(xs) / 1.3, max(xs) * 1.3
    else:
        xlo, xhi = padded(xs, pad=0.04)
    p.x_axis(xlo, xhi, str(chart.get("xlabel") or ""), log=log, integer=_is_whole(xs) and not log)
    ylo, yhi = padded(everything, near=_bound_values(th))
    p.y_axis(ylo, yhi, str(chart.get("ylabel") or ""))
    _draw_bounds(p, th, vertical=False)
    banded = False
    described = []
    for k, (s, y, (lo, hi)) in enumerate(zip(series, ys, bands, strict=True)):
        colour, shape = PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]
        has_iv = lo is not None and hi is not None
        if has_iv and not banded:
            banded = True
            pts_top = [(p.x(xv), p.y(h)) for xv, h in zip(x, hi, strict=True) if xv is not None and h is not None]
            pts_bot = [(p.x(xv), p.y(lv)) for xv, lv in zip(x, lo, strict=True) if xv is not None and lv is not None]
            if len(pts_top) >= 2 and len(pts_bot) >= 2:
                d = "M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in pts_top)
                d += "L" + "L".join(f"{a:.1f},{b:.1f}" for a, b in reversed(pts_bot)) + "Z"
                p.path(d, fill=colour, opacity=0.16)
        elif has_iv:
            for xv, lv, hv in zip(x, lo, hi, strict=True):
                if xv is not None and lv is not None and hv is not None:
                    cx = p.x(xv) + (k - 1) * 1.5  # a small offset keeps overlapping bars apart
                    p.line(cx, p.y(lv), cx, p.y(hv), stroke=colour, width=1.0, opacity=0.8)
        segment: list[str] = []
        for xv, yv in zip(x, y, strict=True):
            if xv is None or yv is None:
                if len(segment) > 1:
                    p.path("M" + "L".join(segment), stroke=colour, width=1.5)
                segment = []
                continue
            segment.append(f"{p.x(xv):.1f},{p.y(yv):.1f}")
        if len(segment) > 1:
            p.path("M" + "L".join(segment), stroke=colour, width=1.5)
        for xv, yv in zip(x, y, strict=True):
            if xv is not None and yv is not None:
                p.marker(p.x(xv), p.y(yv), shape, colour, size=2.6)
        pts = ", ".join(f"{_g(xv)}: {_g(yv)}" for xv, yv in zip(x, y, strict=True))
        described.append(f"{s.get('name') or 'series'} — {pts}.")
    if named:
        p.legend([(str(s.get("name") or ""), PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)])
                  for k, s in enumerate(series)], p.x1 + 12, p.y0 + 6)
    p.heading(title + note)
    p.desc = _desc([f"Line chart: {title}{note}; x: {chart.get('xlabel') or 'x'}, "
                    f"y: {chart.get('ylabel') or 'value'}.",
                    "The shaded band is the first series' confidence interval; other intervals are "
                    "error bars." if banded else "", _bound_text(th), *described])
    return p.svg()


def histogram_chart(chart: dict, uid: str | None = None) -> str | None:
    """Step histograms from bin edges and counts; shares when the series differ in size."""
    edges = _nums(chart.get("edges"), len(chart.get("edges") or []))
    raw = [s for s in chart.get("series") or [] if isinstance(s, dict)]
    if len(edges) < 2 or None in edges or not raw:
        return None
    series = raw[:MAX_SERIES]
    nb = len(edges) - 1
    counts = [[v or 0.0 for v in _nums(s.get("counts"), nb)] for s in series]
    totals = [sum(c) for c in counts]
    as_share = len({round(t, 9) for t in totals}) > 1
    heights = [[v / t if as_share and t else v for v in c] for c, t in zip(counts, totals, strict=True)]
    title = str(chart.get("title") or "")
    ylabel = "share of the series' rows" if as_share else str(chart.get("ylabel") or "count")
    named = [s for s in series if s.get("name")]
    legend_w = 0 if not named else 34 + max(len(short(s.get("name"), 26)) for s in named) * TICK * CHAR_W
    p = Plot(uid or _uid(chart), title, "", width=WIDTH, plot_height=84, left=46, right=14 + legend_w,
             top=20, bottom=32 if chart.get("xlabel") else 20)
    p.x_axis(edges[0], edges[-1], str(chart.get("xlabel") or ""))
    top = max((v for h in heights for v in h), default=1.0) or 1.0
    whole = not as_share and all(float(v).is_integer() for c in counts for v in c)
    p.y_axis(0.0, top * 1.05, ylabel, integer=whole)
    described = []
    for k, (s, h) in enumerate(zip(series, heights, strict=True)):
        colour = PALETTE[k % len(PALETTE)]
        d = f"M{p.x(edges[0]):.1f},{p.y(0):.1f}"
        for i in range(nb):
            d += f"L{p.x(edges[i]):.1f},{p.y(h[i]):.1f}L{p.x(edges[i + 1]):.1f},{p.y(h[i]):.1f}"
        d += f"L{p.x(edges[-1]):.1f},{p.y(0):.1f}"
        if k == 0:
            p.path(d + "Z", fill=colour, opacity=0.22)
        p.path(d, stroke=colour, width=1.3, dash=None if k == 0 else ("4 2" if k == 1 else "2 2"))
        total = f"{totals[k]:,.0f}" if float(totals[k]).is_integer() else f"{totals[k]:.4g}"
        described.append(f"{s.get('name') or 'series'} ({total} rows): "
                         + ", ".join(f"{_g(v)}" for v in h) + ".")
    if named:
        p.legend([(str(s.get("name") or ""), PALETTE[k % len(PALETTE)], "square" if k == 0 else "square-open")
                  for k, s in enumerate(series)], p.x1 + 12, p.y0 + 6)
    p.heading(title)
    p.desc = _desc([f"Histogram: {title}; {nb} bins from {_g(edges[0])} to {_g(edges[-1])}; "
                    + ("heights are shares of each series, as the series differ in size."
                       if as_share else "heights are row counts."), *described])
    return p.svg()


def _blue(t: float) -> str:
    """A sequential single-hue scale (light to dark blue), readable with any colour vision."""
    t = min(max(t, 0.0), 1.0)
    a, b = (239, 245, 251), (8, 69, 148)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def heatmap_chart(chart: dict, uid: str | None = None) -> str | None:
    """Grid of values (intersectional groups); each cell prints its value, empty cells a dash."""
    rows_all = [str(r) for r in chart.get("row_labels") or []]
    cols_all = [str(c) for c in chart.get("col_labels") or []]
    if not rows_all or not cols_all:
        return None
    raw = chart.get("values") or []
    rows, cols = rows_all[:MAX_CELLS], cols_all[:MAX_CELLS]
    grid = [_nums(raw[i] if i < len(raw) and isinstance(raw[i], list) else [], len(cols_all))[: len(cols)]
            for i in range(len(rows))]
    finite = [v for r in grid for v in r if v is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    title, label = str(chart.get("title") or ""), str(chart.get("label") or "")
    heading = f"{title} ({label})" if label and title else title or label
    note = ""
    if len(rows) < len(rows_all) or len(cols) < len(cols_all):
        note = f" (first {len(rows)} x {len(cols)} of {len(rows_all)} x {len(cols_all)}; all in results.json)"
    left = min(max(12 + max(len(short(r, 24)) for r in rows) * TICK * CHAR_W, 40), 200)
    cell_w = min(max((WIDTH - left - 10) / len(cols), 34), 90)
    cell_h = 17
    p = Plot(uid or _uid(chart), heading + note, "", width=left + cell_w * len(cols) + 10,
             plot_height=cell_h * len(rows), left=left, right=10, top=34, bottom=6)
    described = []
    for j, c in enumerate(cols):
        p.text(p.x0 + cell_w * (j + 0.5), p.y0 - 4, short(c, max(int(cell_w / 4.4), 4)), size=TICK,
               anchor="middle", fill=MUTED)
    for i, r in enumerate(rows):
        y = p.y0 + cell_h * i
        p.text(p.x0 - 5, y + cell_h / 2 + 2.8, short(r, 24), size=TICK, anchor="end", fill=MUTED)
        for j, v in enumerate(grid[i]):
            x = p.x0 + cell_w * j
            t = 0.0 if v is None or hi == lo else (v - lo) / (hi - lo)
            p.rect(x + 0.5, y + 0.5, cell_w - 1, cell_h - 1, "#f4f5f7" if v is None else _blue(0.08 + 0.8 * t))
            p.text(x + cell_w / 2, y + cell_h / 2 + 2.8, "—" if v is None else f"{v:.3g}", size=TICK,
                   anchor="middle", fill="#ffffff" if v is not None and t > 0.55 else "#1d2228")
        described.append(f"{r}: " + ", ".join(f"{c} {_g(v)}" for c, v in zip(cols, grid[i], strict=True)) + ".")
    p.heading(heading + note)
    p.desc = _desc([f"Heat map: {heading}{note}; darker cells hold larger values, each cell prints its "
                    "value.", *described])
    return p.svg()


def box_chart(chart: dict, uid: str | None = None) -> str | None:
    """Horizontal box plots from five-number summaries; extra quantiles (p95, p99) as markers."""
    series = [s for s in chart.get("series") or []
              if isinstance(s, dict) and len([v for v in _nums(s.get("q"), 5) if v is not None]) == 5][:MAX_BOXES]
    if not series:
        return None
    title = str(chart.get("title") or "")
    names = [short(s.get("name"), 24) for s in series]
    extras = sorted({str(k) for s in series for k in (s.get("extra") or {})})
    left = min(max(12 + max(len(n) for n in names) * TICK * CHAR_W, 40), 200)
    legend_w = 0 if not extras else 30 + max(len(e) for e in extras) * TICK * CHAR_W
    row_h = 20
    p = Plot(uid or _uid(chart), title, "", width=WIDTH, plot_height=row_h * len(series) + 4, left=left,
             right=14 + legend_w, top=20, bottom=32 if chart.get("ylabel") else 20)
    allv = [v for s in series for v in _nums(s.get("q"), 5)]
    allv += [_num(v) for s in series for v in (s.get("extra") or {}).values()]
    th = _threshold(chart.get("threshold"))
    positive = all(v > 0 for v in allv if v is not None)
    vals = [v for v in allv if v is not None]
    log = positive and vals and max(vals) / min(vals) > 50
    if log:  # latencies over batch sizes 1..1024 span decades; bounds far off the data are left out
        near = [v for v in _bound_values(th) if v is not None and min(vals) / 10 <= v <= max(vals) * 10]
        lo, hi = min(vals + near) / 1.3, max(vals + near) * 1.3
    else:
        lo, hi = padded(vals, near=_bound_values(th))
    p.x_axis(lo, hi, str(chart.get("ylabel") or ""), log=bool(log))
    _draw_bounds(p, th, vertical=True)
    described = []
    for i, (s, name) in enumerate(zip(series, names, strict=True)):
        q = [v for v in _nums(s.get("q"), 5) if v is not None]
        y = p.y0 + 2 + row_h * (i + 0.5)
        p.text(p.x0 - 6, y + 2.8, name, size=TICK, anchor="end")
        p.line(p.x(q[0]), y, p.x(q[1]), y, stroke=PALETTE[0], width=1.0)
        p.line(p.x(q[3]), y, p.x(q[4]), y, stroke=PALETTE[0], width=1.0)
        for v in (q[0], q[4]):
            p.line(p.x(v), y - 4, p.x(v), y + 4, stroke=PALETTE[0], width=1.0)
        p.rect(p.x(q[1]), y - 6, p.x(q[3]) - p.x(q[1]), 12, "#d6e6f4", stroke=PALETTE[0])
        p.line(p.x(q[2]), y - 6, p.x(q[2]), y + 6, stroke=PALETTE[0], width=2.0)
        marks = []
        for k, e in enumerate(extras):
            v = _num((s.get("extra") or {}).get(e))
            if v is not None:
                p.marker(p.x(v), y, MARKERS[(k + 2) % len(MARKERS)], PALETTE[(k + 1) % len(PALETTE)], size=3.0)
                marks.append(f"{e} {_g(v)}")
        described.append(f"{s.get('name')}: min {_g(q[0])}, quartiles {_g(q[1])}, {_g(q[2])}, {_g(q[3])}, "
                         f"max {_g(q[4])}" + (f"; {', '.join(marks)}" if marks else "") + ".")
    if extras:
        for k, e in enumerate(extras):
            yy = p.y0 + 6 + 11 * k
            p.marker(p.x1 + 18, yy, MARKERS[(k + 2) % len(MARKERS)], PALETTE[(k + 1) % len(PALETTE)], size=3.0)
            p.text(p.x1 + 26, yy + 2.8, e, size=TICK)
    p.heading(title)
    p.desc = _desc([f"Box plots: {title}; box = quartiles, thick line = median, whiskers = minimum and "
                    "maximum.", _bound_text(th), *described])
    return p.svg()


_KINDS = {
    "intervals": intervals_chart,
    "curve": curve_chart,
    "histogram": histogram_chart,
    "heatmap": heatmap_chart,
    "box": box_chart,
}
CHART_KINDS = tuple(_KINDS)


def chart_svg(chart: dict, uid: str | None = None) -> str | None:
    """Draw one chart of ``details["charts"]``.

    Parameters
    ----------
    chart : dict
        A chart in one of the layouts of :data:`CHART_KINDS` (see the module docstring).
    uid : str, optional
        Prefix for the SVG's element ids, unique within the page (default: a hash of the chart).

    Returns
    -------
    str or None
        The inline ``<svg>`` element, or ``None`` for an unknown kind or empty data.
    """
    if not isinstance(chart, dict):
        return None
    draw = _KINDS.get(chart.get("kind"))
    return draw(chart, uid) if draw else None


def metric_chart(result: Any, uid: str | None = None, unit: str = "") -> str | None:
    """The check's value as a dot with its interval against its bounds, on one line.

    Bounds are lines (hard solid, warning dashed), the acceptable region is the one shaded
    band, a baseline value (regression audits) is a hollow diamond.

    Parameters
    ----------
    result : audit.results.CheckResult
        The check result (only ``value``, ``interval``, ``threshold``, ``baseline``, ``name`` are read).
    uid : str, optional
        Prefix for the SVG's element ids.
    unit : str
        Unit of the value, for the axis and the description.

    Returns
    -------
    str or None
        The inline ``<svg>``; ``None`` when the check has no value.
    """
    value = _num(result.value)
    if value is None:
        return None
    interval = result.interval
    lo = _num(interval.low) if interval is not None else None
    hi = _num(interval.high) if interval is not None else None
    th = _threshold(dict(result.threshold or {}))
    base = _num((result.baseline or {}).get("baseline_value"))
    name = str(getattr(result, "name", "") or getattr(result, "id", ""))
    uid = uid or _uid({"id": result.id, "evalset": result.evalset, "v": value})
    p = Plot(uid, f"{name}: value against its threshold", "", width=STRIP_WIDTH, plot_height=18, left=12,
             right=70 if base is not None else 14, top=4, bottom=16)
    p.x_axis(*padded([value, lo, hi, base], pad=0.12, near=_bound_values(th)), target=5)
    _draw_bounds(p, th, vertical=True, labels=False)
    y = p.y0 + 9
    if lo is not None and hi is not None:
        p.line(p.x(lo), y, p.x(hi), y, stroke=PALETTE[0], width=2.0)
        for b in (lo, hi):
            p.line(p.x(b), y - 4, p.x(b), y + 4, stroke=PALETTE[0], width=1.2)
    p.marker(p.x(value), y, "circle", PALETTE[0], size=3.6)
    if base is not None:
        p.marker(p.x(base), y, "diamond-open", MUTED, size=3.6)
        p.text(p.x1 + 8, y + 2.8, "◇ baseline", size=TICK, fill=MUTED)
    u = f" {unit}" if unit else ""
    p.desc = _desc([f"Value {_g(value)}{u}" + (f", interval {_g(lo)} to {_g(hi)}" if lo is not None and
                                                 hi is not None else "") + ".",
                    _bound_text(th) or "No threshold bound.",
                    f"Baseline value {_g(base)}." if base is not None else "",
                    "The shaded band is the acceptable region."
                    if th["min"] is not None or th["max"] is not None else ""])
    return p.svg()


def _diverging(t: float) -> str:
    """-1 -> blue, 0 -> white, +1 -> vermillion (Okabe-Ito ends): readable with any colour vision."""
    t = min(max(t, -1.0), 1.0)
    end = (0, 114, 178) if t < 0 else (213, 94, 0)
    a = abs(t)
    return "#" + "".join(f"{round(255 + (e - 255) * a):02x}" for e in end)


def image_map(values: dict[int, float], side: int, title: str, uid: str | None = None) -> str:
    """A square grid of per-pixel changes (an adversarial example on image-shaped data).

    Parameters
    ----------
    values : dict of int to float
        Pixel index (row-major) to its change; pixels not listed are unchanged (drawn white).
    side : int
        Image side in pixels.
    title : str
        Chart title.
    """
    cell = max(4.0, min(14.0, 112.0 / side))
    finite = {k: v for k, v in ((k, _num(v)) for k, v in values.items()) if v is not None}
    scale = max((abs(v) for v in finite.values()), default=1.0) or 1.0
    p = Plot(uid or _uid({"t": title, "v": sorted(finite.items())}), title, "", width=cell * side + 16,
             plot_height=cell * side, left=8, right=8, top=16, bottom=14)
    for k in range(side * side):
        v = finite.get(k, 0.0)
        r, c = divmod(k, side)
        p.rect(p.x0 + c * cell, p.y0 + r * cell, cell, cell, _diverging(v / scale))
    p.rect(p.x0, p.y0, cell * side, cell * side, "none", stroke=MUTED)
    p.text(p.x0, 11, short(title, int((cell * side + 8) / (8 * CHAR_W))), size=8, bold=True)
    p.text(p.x0, p.y1 + 11, f"±{scale:.3g}: blue lower, red higher", size=7, fill=MUTED)
    up = sum(1 for v in finite.values() if v > 0)
    down = sum(1 for v in finite.values() if v < 0)
    p.desc = _desc([f"Per-pixel change of a {side} x {side} image: {len(finite)} pixels changed, {up} up and "
                    f"{down} down, largest change {scale:.3g}; white pixels are unchanged."])
    return p.svg()
