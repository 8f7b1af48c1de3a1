"""Small SVG charts for the report, drawn with matplotlib.

Every function returns an inline ``<svg>`` string (no XML prolog, no DOCTYPE, no
metadata, no namespace URLs) ready to paste into HTML, or ``None`` when there is
nothing to draw. Text stays text (``svg.fonttype: 'none'``) so it is searchable
in the PDF. Charts only draw numbers that are already in the result; they never
compute a metric.

The chart layouts (``intervals``, ``curve``, ``histogram``, ``heatmap``, ``box``)
are documented in ``docs/results-schema.md``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CHART_KINDS",
    "chart_svg",
    "intervals_chart",
    "curve_chart",
    "histogram_chart",
    "heatmap_chart",
    "box_chart",
    "metric_chart",
]

# Colours shared with the HTML template (report.html.j2).
_BLUE = "#1f5fa8"
_ORANGE = "#d9822b"
_OK_FILL = "#2e9e5b"
_BAD_FILL = "#c0392b"
_WARN = "#d9a400"
_GREY = "#555555"
_SERIES = ["#1f5fa8", "#d9822b", "#2e9e5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"]

_RC = {
    "svg.fonttype": "none",  # keep text as <text>: searchable and selectable in the PDF
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.image_inline": True,
}

_ID_RE = re.compile(r'\bid="([^"]+)"|url\(#([^)]+)\)|href="#([^"]+)"')


def _num(v: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _nums(seq: Sequence[Any] | None, n: int) -> list[float | None]:
    seq = list(seq or [])
    return [_num(seq[i]) if i < len(seq) else None for i in range(n)]


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _text(s: Any) -> str:
    # "$" starts matplotlib mathtext; user labels are plain text.
    return "" if s is None else str(s).replace("$", r"\$")


def _styled(draw):
    """Run a chart function inside the report's matplotlib style (fonts, spines)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib  # lazy: matplotlib costs ~0.3 s to import

        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapper


def _legend_room(series: Sequence[dict]) -> float:
    """Right margin (inches) for a legend outside the axes; none when no series has a name."""
    names = [_short(s.get("name"), 24) for s in series if s.get("name")]
    if not names:
        return 0.2
    return 0.45 + 0.058 * max(len(n) for n in names)


def _legend(ax, series: Sequence[dict]) -> None:
    if any(s.get("name") for s in series):
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _new_figure(plot_height: float, *, ylabels: Sequence[str] = ("0.000",), ylabel: bool = False,
                xlabel: bool = True, title: bool = True, width: float = 5.6, right: float = 0.2):
    """One figure with one axes (no pyplot state), shared by every chart kind.

    Margins are computed from the label lengths instead of ``bbox_inches="tight"``,
    which would draw every chart twice.
    """
    from matplotlib.figure import Figure

    char_w = 0.062  # inches per character of 7 pt DejaVu Sans (generous: wide letters)
    left = 0.2 + char_w * max([len(s) for s in ylabels] + [1]) + (0.2 if ylabel else 0.0)
    bottom = 0.22 + (0.17 if xlabel else 0.0)
    top = 0.1 + (0.2 if title else 0.0)
    height = plot_height + top + bottom
    fig = Figure(figsize=(width, height), dpi=72)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def _short(s: Any, n: int = 30) -> str:
    """Chart labels are cut short; the tables show them whole."""
    s = _text(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def _to_svg(fig, uid: str) -> str:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": uid}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _clean_svg(buf.getvalue(), uid)


def _clean_svg(svg: str, uid: str) -> str:
    """Make matplotlib's SVG safe and unique for inline use in one HTML page."""
    svg = svg[svg.index("<svg"):]
    # No URL anywhere in the report: drop namespace declarations (HTML parsers
    # place inline <svg> in the SVG namespace) and the RDF metadata block.
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")
    # WeasyPrint reads style="" of inline SVG as HTML CSS and warns about every
    # SVG property; presentation attributes mean the same and stay quiet.
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    svg = _STYLE_RE.sub(_style_to_attributes, svg)
    # Several charts share a page: prefix every id so they never collide.
    prefix = f"{uid}-"

    def _sub(m: re.Match) -> str:
        if m.group(1) is not None:
            return f'id="{prefix}{m.group(1)}"'
        if m.group(2) is not None:
            return f"url(#{prefix}{m.group(2)})"
        return f'href="#{prefix}{m.group(3)}"'

    svg = _ID_RE.sub(_sub, svg)
    return svg.strip()


_STYLE_RE = re.compile(r'<(\w+)([^<>]*?)\sstyle="([^"]*)"')


def _style_to_attributes(m: re.Match) -> str:
    tag, attrs, style = m.group(1), m.group(2), m.group(3)
    present = set(re.findall(r'([\w:-]+)=', attrs))
    extra = []
    for decl in style.split(";"):
        key, _, value = decl.partition(":")
        key, value = key.strip(), value.strip()
        if key and value and key not in present:
            extra.append(f'{key}="{value}"')
    return f"<{tag}{attrs} {' '.join(extra)}" if extra else f"<{tag}{attrs}"


def _uid(chart: Any) -> str:
    blob = json.dumps(chart, sort_keys=True, default=str).encode()
    return "c" + hashlib.sha1(blob).hexdigest()[:10]


def _threshold_band(ax, threshold: dict | None, vertical: bool) -> None:
    """Shade the acceptable region between min and max; dashed lines for warn bounds."""
    threshold = threshold or {}
    lo, hi = _num(threshold.get("min")), _num(threshold.get("max"))
    span = ax.axvspan if vertical else ax.axhspan
    line = ax.axvline if vertical else ax.axhline
    if lo is not None or hi is not None:
        ax.set_facecolor("#fcf1f0")  # outside the bounds: faint red
        # Open ends run to the edge of the axis, whose limits are already set.
        lim = ax.get_xlim() if vertical else ax.get_ylim()
        a = lo if lo is not None else lim[0]
        b = hi if hi is not None else lim[1]
        span(a, b, color="#e6f3eb", lw=0, zorder=0)
        for bound in (lo, hi):
            if bound is not None:
                line(bound, color=_OK_FILL, lw=1.0, zorder=1)
    lim = ax.get_xlim() if vertical else ax.get_ylim()
    warn_lo, warn_hi = _num(threshold.get("warn_min")), _num(threshold.get("warn_max"))
    # The warning zone lies between a warn bound and its hard bound (or the axis edge).
    if warn_lo is not None:
        span(lo if lo is not None else lim[0], warn_lo, color="#fff3cd", lw=0, zorder=0.5)
        line(warn_lo, color=_WARN, lw=1.0, ls="--", zorder=1)
    if warn_hi is not None:
        span(warn_hi, hi if hi is not None else lim[1], color="#fff3cd", lw=0, zorder=0.5)
        line(warn_hi, color=_WARN, lw=1.0, ls="--", zorder=1)


def _limits(values: Sequence[float | None], pad: float = 0.08) -> tuple[float, float]:
    vals = [v for v in values if v is not None]
    if not vals:
        return 0.0, 1.0
    a, b = min(vals), max(vals)
    if a == b:
        d = abs(a) * 0.1 or 0.5
        return a - d, b + d
    d = (b - a) * pad
    return a - d, b + d


def _threshold_numbers(threshold: dict | None) -> list[float | None]:
    threshold = threshold or {}
    return [_num(threshold.get(k)) for k in ("min", "max", "warn_min", "warn_max")]


@_styled
def intervals_chart(chart: dict, uid: str | None = None) -> str | None:
    """Dot and whisker per label (e.g. per-group rates), threshold band shaded."""
    labels = [str(x) for x in chart.get("labels") or []]
    n = len(labels)
    if n == 0:
        return None
    values = _nums(chart.get("values"), n)
    lows = _nums(chart.get("lows"), n)
    highs = _nums(chart.get("highs"), n)
    flags = list(chart.get("flags") or []) + [False] * n
    ticks = [_short(lab) + (" (small)" if f else "") for lab, f in zip(labels, flags, strict=False)]
    fig, ax = _new_figure(0.25 + 0.24 * n, ylabels=ticks, xlabel=bool(chart.get("xlabel")))
    ys = list(range(n))[::-1]  # first label on top
    for y, v, lo, hi, flag in zip(ys, values, lows, highs, flags, strict=False):
        colour = _ORANGE if flag else _BLUE
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=colour, lw=1.6, solid_capstyle="butt", zorder=3)
        if v is not None:
            ax.plot([v], [y], "o", color=colour, ms=5, zorder=4)
        else:
            ax.text(0.01, y, "no value", va="center", fontsize=7, color=_GREY,
                    transform=ax.get_yaxis_transform())
    ax.set_yticks(ys)
    ax.set_yticklabels(ticks)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(*_limits(values + lows + highs + _threshold_numbers(chart.get("threshold"))))
    _threshold_band(ax, chart.get("threshold"), vertical=True)
    ax.set_xlabel(_text(chart.get("xlabel")))
    ax.set_title(_text(chart.get("title")), loc="left")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    return _to_svg(fig, uid or _uid(chart))


@_styled
def curve_chart(chart: dict, uid: str | None = None) -> str | None:
    """Lines over x (degradation curves, throughput), optional interval bands."""
    x = _nums(chart.get("x"), len(chart.get("x") or []))
    series = chart.get("series") or []
    if not x or not series:
        return None
    fig, ax = _new_figure(1.6, ylabel=bool(chart.get("ylabel")), xlabel=bool(chart.get("xlabel")),
                          right=_legend_room(series))
    xs = [_nan(v) for v in x]
    everything: list[float | None] = []
    for i, s in enumerate(series):
        colour = _SERIES[i % len(_SERIES)]
        y = _nums(s.get("y"), len(x))
        everything += y
        if s.get("low") is not None and s.get("high") is not None:
            lo, hi = _nums(s.get("low"), len(x)), _nums(s.get("high"), len(x))
            everything += lo + hi
            ax.fill_between(xs, [_nan(v) for v in lo], [_nan(v) for v in hi], color=colour,
                            alpha=0.18, lw=0)
        ax.plot(xs, [_nan(v) for v in y], "o-", color=colour, ms=3, lw=1.4, label=_short(s.get("name"), 24) or None)
    ax.set_ylim(*_limits(everything + _threshold_numbers(chart.get("threshold"))))
    _threshold_band(ax, chart.get("threshold"), vertical=False)
    if chart.get("xscale") == "log" and all(v > 0 for v in xs if v == v):
        ax.set_xscale("log")  # batch sizes 1..1024 and the like
    ax.set_xlabel(_text(chart.get("xlabel")))
    ax.set_ylabel(_text(chart.get("ylabel")))
    ax.set_title(_text(chart.get("title")), loc="left")
    ax.grid(color="#dddddd", lw=0.5)
    _legend(ax, series)
    return _to_svg(fig, uid or _uid(chart))


@_styled
def histogram_chart(chart: dict, uid: str | None = None) -> str | None:
    """Overlaid histograms from bin edges and counts."""
    edges = _nums(chart.get("edges"), len(chart.get("edges") or []))
    series = chart.get("series") or []
    if len(edges) < 2 or None in edges or not series:
        return None
    fig, ax = _new_figure(1.6, ylabels=("0000",), ylabel=True, xlabel=bool(chart.get("xlabel")),
                          right=_legend_room(series))
    for i, s in enumerate(series):
        colour = _SERIES[i % len(_SERIES)]
        counts = [v or 0.0 for v in _nums(s.get("counts"), len(edges) - 1)]
        ax.stairs(counts, edges, fill=True, alpha=0.35, color=colour, label=_short(s.get("name"), 24) or None)
        ax.stairs(counts, edges, color=colour, lw=1.0)
    ax.set_xlabel(_text(chart.get("xlabel")))
    ax.set_ylabel(_text(chart.get("ylabel") or "count"))
    ax.set_title(_text(chart.get("title")), loc="left")
    _legend(ax, series)
    return _to_svg(fig, uid or _uid(chart))


@_styled
def heatmap_chart(chart: dict, uid: str | None = None) -> str | None:
    """Grid of values (e.g. intersectional groups), empty cells left blank."""
    rows = [str(r) for r in chart.get("row_labels") or []]
    cols = [str(c) for c in chart.get("col_labels") or []]
    if not rows or not cols:
        return None
    import numpy as np

    raw = chart.get("values") or []
    grid = [_nums(raw[i] if i < len(raw) else [], len(cols)) for i in range(len(rows))]
    data = np.ma.masked_invalid(np.array([[_nan(v) for v in r] for r in grid], dtype=float))
    row_ticks = [_short(r, 24) for r in rows]
    fig, ax = _new_figure(0.3 * len(rows), ylabels=row_ticks, width=min(2.0 + 0.75 * len(cols), 6.5),
                          right=0.1)
    # pcolormesh, not imshow: vector cells instead of an embedded PNG
    ax.pcolormesh(data, cmap="Blues", edgecolors="white", linewidth=1.0)
    ax.invert_yaxis()
    finite = [v for r in grid for v in r if v is not None]
    mid = (min(finite) + max(finite)) / 2 if finite else 0.0
    for i, r in enumerate(grid):
        for j, v in enumerate(r):
            label = "—" if v is None else f"{v:.3g}"
            colour = "white" if v is not None and v > mid else "black"
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks([j + 0.5 for j in range(len(cols))])
    ax.set_xticklabels([_short(c, 16) for c in cols])
    ax.set_yticks([i + 0.5 for i in range(len(rows))])
    ax.set_yticklabels(row_ticks)
    ax.spines[:].set_visible(False)
    # Every cell prints its value, so no colour bar (which matplotlib would embed as a PNG).
    title, label = _text(chart.get("title")), _text(chart.get("label"))
    ax.set_title(f"{title} ({label})" if label and title else title or label, loc="left")
    return _to_svg(fig, uid or _uid(chart))


@_styled
def box_chart(chart: dict, uid: str | None = None) -> str | None:
    """Box plots from five-number summaries, extra quantiles (p95, p99) as markers."""
    series = [s for s in chart.get("series") or [] if len(_nonnull(s.get("q"))) == 5]
    if not series:
        return None
    has_extra = any(s.get("extra") for s in series)
    fig, ax = _new_figure(0.1 + 0.35 * len(series), ylabels=[_short(s.get("name")) for s in series],
                          xlabel=bool(chart.get("ylabel")), right=0.6 if has_extra else 0.2)
    stats = []
    for s in series:
        q = _nums(s.get("q"), 5)
        stats.append({"whislo": q[0], "q1": q[1], "med": q[2], "q3": q[3], "whishi": q[4],
                      "fliers": [], "label": _short(s.get("name"))})
    ys = list(range(1, len(series) + 1))[::-1]
    ax.bxp(stats, positions=ys, vert=False, widths=0.5, patch_artist=True,
           boxprops={"facecolor": "#dbe6f3", "edgecolor": _BLUE},
           medianprops={"color": _BLUE, "lw": 1.6})
    markers = ["v", "^", "s", "D"]
    seen: set[str] = set()
    for y, s in zip(ys, series, strict=True):
        for k, (name, v) in enumerate(sorted((s.get("extra") or {}).items())):
            v = _num(v)
            if v is None:
                continue
            ax.plot([v], [y], markers[k % len(markers)], color=_ORANGE, ms=4,
                    label=None if name in seen else _text(name))
            seen.add(name)
    if seen:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel(_text(chart.get("ylabel")))
    ax.set_title(_text(chart.get("title")), loc="left")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    return _to_svg(fig, uid or _uid(chart))


def _nonnull(seq: Any) -> list[float]:
    return [v for v in (_num(x) for x in (seq or [])) if v is not None]


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


@_styled
def metric_chart(result: Any, uid: str | None = None) -> str | None:
    """The check's value as a dot with its interval against the threshold band.

    The acceptable region (between ``min`` and ``max``) is shaded, warn bounds are
    dashed, a baseline value (regression audits) is a hollow diamond.

    Parameters
    ----------
    result : audit.results.CheckResult
        The check result (only ``value``, ``interval``, ``threshold``, ``baseline`` are read).
    uid : str, optional
        Prefix for the SVG's element ids.

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
    threshold = dict(result.threshold or {})
    base = _num((result.baseline or {}).get("baseline_value"))
    fig, ax = _new_figure(0.45, ylabels=(), xlabel=False, title=False, right=0.8)
    ax.set_xlim(*_limits([value, lo, hi, base, *_threshold_numbers(threshold)], pad=0.15))
    _threshold_band(ax, threshold, vertical=True)
    if lo is not None and hi is not None:
        ax.plot([lo, hi], [0, 0], color=_BLUE, lw=2.0, solid_capstyle="butt", zorder=3)
        for b in (lo, hi):
            ax.plot([b, b], [-0.15, 0.15], color=_BLUE, lw=1.2, zorder=3)
    ax.plot([value], [0], "o", color=_BLUE, ms=6, zorder=4, label="value")
    if base is not None:
        ax.plot([base], [0], "D", mfc="none", color=_GREY, ms=6, zorder=4, label="baseline")
        ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6)
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    uid = uid or _uid({"id": result.id, "evalset": result.evalset, "v": value})
    return _to_svg(fig, uid)
