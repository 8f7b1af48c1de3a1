"""A small SVG plotting kit for the report's charts: scales, nice ticks, one plot area, text.

The report draws a few simple chart kinds (dots with whiskers, lines, step histograms,
heat maps, box plots). Writing their SVG directly, instead of through matplotlib, makes
a chart cost microseconds instead of about 0.1 s, keeps every label as searchable text,
gives every chart a ``<title>`` and ``<desc>`` for screen readers and PDF tags, and keeps
the elements few, so WeasyPrint prints the report quickly.

Nothing here knows about audits; :mod:`audit.report.charts` uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

# Okabe & Ito (2008) colour-blind-safe palette, in the order series take it; the yellow
# (#F0E442) is left out, too pale on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
MARKERS = ("circle", "square", "triangle", "diamond", "circle-open", "square-open", "triangle-open")
INK = "#1d2228"
MUTED = "#5f646b"
GRID = "#e4e6e9"
BAND = "#dcefe6"        # the one shaded band of a chart: the acceptable region
BOUND = "#1d2228"       # hard bounds (min/max): solid lines
WARN = "#8a6100"        # warning bounds: dashed lines
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR_W = 0.58           # average glyph width of DejaVu Sans, in font sizes
TICK = 8.0              # px: tick labels, row labels, legends (about 6 pt in print)
LABEL = 8.5             # px: axis titles
TITLE = 9.5             # px: chart titles


def fmt_tick(v: float, step: float) -> str:
    """A tick label with just the decimals its step needs (``0.25``, ``1,000``, ``1e-05``)."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-4:
        return f"{v:.2g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    return f"{v:,.{min(decimals, 6)}f}"


def nice_step(span: float, target: int) -> float:
    """A 1-2-2.5-5 x 10^k step giving about ``target`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10 * mag


def nice_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> tuple[list[float], float]:
    """Ticks covering [lo, hi] (Heckbert's nice numbers) and their step; whole numbers with ``integer``."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        d = abs(lo) * 0.1 or 1.0
        lo, hi = lo - d, hi + d
    step = nice_step(hi - lo, target)
    if integer:
        step = max(1.0, round(step)) if step >= 1 else 1.0
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while start + k * step <= hi + step * 1e-9 and k < 1000:
        t = start + k * step
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        k += 1
    return ticks, step


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten within [lo, hi] (at least the two around the range)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0 ** e for e in range(a, b + 1)]


def padded(values: Sequence[float | None], pad: float = 0.06, *,
           near: Sequence[float | None] = ()) -> tuple[float, float]:
    """The range of the finite values, widened by ``pad`` of the span on each side.

    ``near`` values (threshold bounds) widen the range only when they lie within three spans of
    the data: a bound at 1e308 must not squash the data into one pixel; it is then off the axis
    (and the chart's description still states it).
    """
    vals = [v for v in values if v is not None and math.isfinite(v) and abs(v) < 1e300]
    extra = [v for v in near if v is not None and math.isfinite(v) and abs(v) < 1e300]
    if not vals:
        vals, extra = extra, []
    if not vals:
        return 0.0, 1.0
    a, b = min(vals), max(vals)
    span = (b - a) or (abs(a) * 0.2 or 1.0)
    for v in extra:
        if a - 3 * span <= v <= b + 3 * span:
            a, b = min(a, v), max(b, v)
    if a == b:
        d = abs(a) * 0.1 or 0.5
        return a - d, b + d
    d = (b - a) * pad
    return a - d, b + d


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_W


def short(text: object, n: int) -> str:
    """Chart labels are cut short; the tables (and results.json) show them whole."""
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


class Scale:
    """Maps data values on a linear or log axis to pixels."""

    def __init__(self, d0: float, d1: float, r0: float, r1: float, log: bool = False):
        self.log = log and d0 > 0 and d1 > 0
        self.d0, self.d1, self.r0, self.r1 = d0, d1, r0, r1

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def __call__(self, v: float) -> float:
        a, b = self._t(self.d0), self._t(self.d1)
        if b == a:
            return (self.r0 + self.r1) / 2
        x = self._t(v) if not self.log or v > 0 else a
        return self.r0 + (x - a) / (b - a) * (self.r1 - self.r0)


class Plot:
    """One chart: an SVG canvas with a rectangular plot area, built up element by element.

    Parameters
    ----------
    uid : str
        Prefix of the chart's element ids, unique within the page.
    title, desc : str
        The chart's ``<title>`` and ``<desc>`` (what it shows, in words).
    width : float
        Canvas width in px; the plot area is what the margins leave.
    plot_height : float
        Height of the plot area in px.
    left, right, top, bottom : float
        Margins in px.
    """

    def __init__(self, uid: str, title: str, desc: str, *, width: float, plot_height: float,
                 left: float, right: float, top: float, bottom: float):
        self.uid, self.title, self.desc = uid, title, desc
        self.width = width
        self.height = top + plot_height + bottom
        self.x0, self.x1 = left, width - right
        self.y0, self.y1 = top, top + plot_height  # y0 is the top of the plot area
        # Three layers, drawn in this order whatever the order of the calls: the shaded band,
        # the grid lines, then everything else (axes, data, labels).
        self.back: list[str] = []
        self.grid: list[str] = []
        self.items: list[str] = []
        self.x: Scale | None = None
        self.y: Scale | None = None

    # -- primitives --------------------------------------------------------------------------

    def add(self, element: str, layer: str = "front") -> None:
        {"back": self.back, "grid": self.grid, "front": self.items}[layer].append(element)

    def line(self, x1, y1, x2, y2, stroke=INK, width=1.0, dash: str | None = None, opacity=None,
             layer: str = "front") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        extra += f' stroke-opacity="{opacity}"' if opacity is not None else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{extra}/>', layer)

    def rect(self, x, y, w, h, fill, stroke: str | None = None, opacity=None, layer: str = "front") -> None:
        extra = f' stroke="{stroke}" stroke-width="0.8"' if stroke else ""
        extra += f' fill-opacity="{opacity}"' if opacity is not None else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                 f'fill="{fill}"{extra}/>', layer)

    def path(self, d: str, stroke="none", fill="none", width=1.2, opacity=None, dash=None) -> None:
        extra = f' fill-opacity="{opacity}"' if opacity is not None else ""
        extra += f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<path d="{d}" stroke="{stroke}" fill="{fill}" stroke-width="{width}"{extra}/>')

    def text(self, x, y, s: str, size=9.0, anchor="start", fill=INK, bold=False, baseline=None) -> None:
        weight = ' font-weight="bold"' if bold else ""
        dy = f' dominant-baseline="{baseline}"' if baseline else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
                 f'{weight}{dy}>{escape(s)}</text>')

    def marker(self, x, y, shape: str, colour: str, size=3.2) -> None:
        """A point marker; the ``-open`` shapes are hollow (small groups, secondary series)."""
        hollow = shape.endswith("-open")
        fill, stroke = ("#ffffff", colour) if hollow else (colour, colour)
        base = shape.replace("-open", "")
        s = size
        if base == "square":
            self.add(f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="1"/>')
        elif base == "triangle":
            self.add(f'<path d="M{x:.1f},{y - s * 1.2:.1f}L{x + s * 1.1:.1f},{y + s * 0.8:.1f}'
                     f'L{x - s * 1.1:.1f},{y + s * 0.8:.1f}Z" fill="{fill}" stroke="{stroke}" stroke-width="1"/>')
        elif base == "diamond":
            self.add(f'<path d="M{x:.1f},{y - s * 1.3:.1f}L{x + s * 1.1:.1f},{y:.1f}L{x:.1f},{y + s * 1.3:.1f}'
                     f'L{x - s * 1.1:.1f},{y:.1f}Z" fill="{fill}" stroke="{stroke}" stroke-width="1"/>')
        else:
            self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s:.1f}" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="1"/>')

    # -- axes ------------------------------------------------------------------------------------

    def x_axis(self, lo: float, hi: float, label: str = "", *, log=False, integer=False, grid=True,
               ticks: Sequence[float] | None = None, target: int = 6) -> Scale:
        """A bottom axis over [lo, hi]; ticks inside the range, labelled; returns the x scale."""
        self.x = Scale(lo, hi, self.x0, self.x1, log=log)
        if ticks is None:
            if self.x.log:
                ticks, step = [t for t in log_ticks(lo, hi) if lo <= t <= hi], 1.0
            else:
                ticks, step = nice_ticks(lo, hi, target, integer)
                ticks = [t for t in ticks if lo - 1e-12 <= t <= hi + 1e-12]
        else:
            step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=1.0) or 1.0
        self.line(self.x0, self.y1, self.x1, self.y1, stroke=MUTED, width=0.8)
        for t in ticks:
            px = self.x(t)
            if grid:
                self.line(px, self.y0, px, self.y1, stroke=GRID, width=0.6, layer="grid")
            self.line(px, self.y1, px, self.y1 + 3, stroke=MUTED, width=0.8)
            lab = f"{t:g}" if self.x.log else fmt_tick(t, step)
            self.text(px, self.y1 + 12, lab, size=TICK, anchor="middle", fill=MUTED)
        if label:
            self.text((self.x0 + self.x1) / 2, self.y1 + 25, short(label, 90), size=LABEL, anchor="middle",
                      fill=MUTED)
        return self.x

    def y_axis(self, lo: float, hi: float, label: str = "", *, integer=False, grid=True,
               target: int = 4) -> Scale:
        """A left axis over [lo, hi] with labelled ticks; returns the y scale."""
        self.y = Scale(lo, hi, self.y1, self.y0)
        ticks, step = nice_ticks(lo, hi, target, integer)
        self.line(self.x0, self.y0, self.x0, self.y1, stroke=MUTED, width=0.8)
        for t in ticks:
            if not lo - 1e-12 <= t <= hi + 1e-12:
                continue
            py = self.y(t)
            if grid:
                self.line(self.x0, py, self.x1, py, stroke=GRID, width=0.6, layer="grid")
            self.line(self.x0 - 3, py, self.x0, py, stroke=MUTED, width=0.8)
            self.text(self.x0 - 5, py + 2.8, fmt_tick(t, step), size=TICK, anchor="end", fill=MUTED)
        if label:
            cx, cy = 10, (self.y0 + self.y1) / 2
            self.add(f'<text x="{cx}" y="{cy:.1f}" font-size="{LABEL}" text-anchor="middle" fill="{MUTED}" '
                     f'transform="rotate(-90 {cx} {cy:.1f})">{escape(short(label, 60))}</text>')
        return self.y

    def heading(self, s: str) -> None:
        if s:
            self.text(min(self.x0, 8), 12, short(s, int((self.width - min(self.x0, 8)) / (TITLE * CHAR_W))),
                      size=TITLE, bold=True)

    def legend(self, entries: Sequence[tuple[str, str, str]], x: float, y: float, line_h: float = 11) -> None:
        """Entries ``(label, colour, marker)`` stacked from (x, y)."""
        for i, (label, colour, shape) in enumerate(entries):
            yy = y + i * line_h
            self.line(x, yy, x + 14, yy, stroke=colour, width=1.4)
            self.marker(x + 7, yy, shape, colour, size=2.6)
            self.text(x + 18, yy + 2.8, short(label, 26), size=TICK)

    # -- output ----------------------------------------------------------------------------------

    def svg(self) -> str:
        t, d = f"{self.uid}-title", f"{self.uid}-desc"
        head = (f'<svg class="chart" width="{self.width:.0f}" height="{self.height:.0f}" '
                f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" role="img" aria-labelledby="{t} {d}" '
                f'font-family="{FONT}">')
        return "".join([head, f'<title id="{t}">{escape(self.title)}</title>',
                        f'<desc id="{d}">{escape(self.desc)}</desc>', *self.back, *self.grid, *self.items,
                        "</svg>"])
