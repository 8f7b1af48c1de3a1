"""Charts: text alternatives, bounds drawn where they apply, one band, readable colours, shares.

Positions are read back through the chart's own tick labels (the pixel of a printed tick
value), so a bound or a bar height is checked against the number, not against the code
that placed it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from audit.report import charts
from audit.report._svg import BAND, PALETTE
from audit.results import CheckResult, Interval, Verdict

from .conftest import CHARTS

OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter("text")]


def _x_ticks(root: ET.Element, y_min: float) -> dict[float, float]:
    """value -> x pixel of the bottom axis tick labels (text below the plot, anchored middle)."""
    out = {}
    for t in _texts(root):
        if t.get("text-anchor") == "middle" and float(t.get("y")) >= y_min and t.text:
            try:
                out[float(t.text.replace(",", ""))] = float(t.get("x"))
            except ValueError:
                continue
    return out


def _y_ticks(root: ET.Element) -> dict[float, float]:
    """value -> y pixel (label baseline corrected) of the left axis tick labels."""
    out = {}
    for t in _texts(root):
        if t.get("text-anchor") == "end" and t.text and t.get("transform") is None:
            try:
                out[float(t.text.replace(",", ""))] = float(t.get("y")) - 2.8
            except ValueError:
                continue
    return out


def _linear(ticks: dict[float, float]):
    (v0, p0), (v1, p1) = sorted(ticks.items())[:2]
    return lambda v: p0 + (v - v0) * (p1 - p0) / (v1 - v0), lambda p: v0 + (p - p0) * (v1 - v0) / (p1 - p0)


@pytest.mark.parametrize("chart", CHARTS, ids=[c["kind"] for c in CHARTS])
def test_each_kind_draws_inline_svg_with_a_text_alternative(chart):
    svg = charts.chart_svg(chart, uid="t1")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg and "<script" not in svg
    assert "http://" not in svg.replace("http://evil.example/x", "")
    root = _tree(svg)  # well-formed, every user string escaped
    title, desc = root.find("title"), root.find("desc")
    assert title is not None and title.text and desc is not None and len(desc.text) > 20
    assert root.get("role") == "img" and root.get("aria-labelledby") == "t1-title t1-desc"
    assert chart["title"] in title.text
    assert "<text" in svg  # text stays text: searchable in the PDF


def test_ids_are_prefixed_so_charts_do_not_collide():
    a, b = charts.chart_svg(CHARTS[1], uid="one"), charts.chart_svg(CHARTS[1], uid="two")
    ids_a = set(re.findall(r'\bid="([^"]+)"', a))
    ids_b = set(re.findall(r'\bid="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b and all(i.startswith("one-") for i in ids_a)


def test_same_chart_same_svg():
    assert charts.chart_svg(CHARTS[3], uid="x") == charts.chart_svg(CHARTS[3], uid="x")


def test_bounds_are_lines_at_their_values_and_the_one_band_is_the_acceptable_region():
    chart = {"kind": "intervals", "title": "rates", "labels": ["a", "b", "c"], "values": [0.5, 0.9, 0.95],
             "lows": [0.4, 0.85, 0.9], "highs": [0.6, 0.95, 1.0], "xlabel": "rate",
             "threshold": {"min": 0.8, "warn_min": 0.85}}
    root = _tree(charts.chart_svg(chart, uid="b"))
    ticks = _x_ticks(root, y_min=20)
    to_px, _ = _linear(ticks)
    lines = [e for e in root.iter("line")]
    solid = [float(e.get("x1")) for e in lines if e.get("stroke") == "#1d2228" and e.get("x1") == e.get("x2")
             and e.get("stroke-width") == "1.2"]
    dashed = [float(e.get("x1")) for e in lines if e.get("stroke-dasharray")]
    assert solid == [pytest.approx(to_px(0.8), abs=0.5)]
    assert dashed == [pytest.approx(to_px(0.85), abs=0.5)]
    bands = [e for e in root.iter("rect") if e.get("fill") == BAND]
    assert len(bands) == 1
    assert float(bands[0].get("x")) == pytest.approx(to_px(0.8), abs=0.5)  # from the bound to the edge


def test_at_most_one_shaded_band_in_a_curve_with_many_intervals():
    series = [{"name": f"g{i}", "y": [0.9 - 0.1 * i, 0.7, 0.5], "low": [0.8, 0.6, 0.4], "high": [0.95, 0.8, 0.6]}
              for i in range(6)]
    svg = charts.chart_svg({"kind": "curve", "title": "robust accuracy", "x": [0, 0.1, 0.2], "xlabel": "eps",
                            "ylabel": "robust accuracy", "series": series, "threshold": {"min": 0.6}}, uid="c")
    root = _tree(svg)
    shaded = [e for e in root.iter("path") if e.get("fill-opacity")] + [
        e for e in root.iter("rect") if e.get("fill") == BAND]
    assert len(shaded) == 2  # the first series' band and the acceptable region
    assert len([e for e in root.iter("path") if e.get("fill-opacity")]) == 1
    # the other series' intervals are error bars (vertical lines), one per point
    bars = [e for e in root.iter("line") if e.get("x1") == e.get("x2") and e.get("stroke-opacity")]
    assert len(bars) == 5 * 3
    # distinct colour-blind-safe hues, one per series
    strokes = [e.get("stroke") for e in root.iter("path") if e.get("stroke") not in (None, "none")]
    assert set(strokes) <= OKABE_ITO and len(set(strokes)) == 6
    assert "minimum 0.6" in root.find("desc").text


def test_histogram_of_sets_of_different_sizes_is_drawn_as_shares():
    counts_a, counts_b = [600, 1800, 2400, 1200], [400, 1200, 1600, 800]  # same shape, 6,000 vs 4,000 rows
    svg = charts.chart_svg({"kind": "histogram", "title": "scores", "xlabel": "score",
                            "edges": [0, 0.25, 0.5, 0.75, 1.0],
                            "series": [{"name": "reference", "counts": counts_a},
                                       {"name": "evaluation", "counts": counts_b}]}, uid="h")
    root = _tree(svg)
    _, to_value = _linear(_y_ticks(root))
    outlines = [e.get("d") for e in root.iter("path") if e.get("stroke") not in (None, "none")]
    assert len(outlines) == 2
    for d, counts in zip(outlines, (counts_a, counts_b), strict=True):
        ys = [float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", d)]
        heights = [to_value(ys[1 + 2 * i]) for i in range(4)]
        np.testing.assert_allclose(heights, np.asarray(counts) / np.sum(counts), atol=0.004)
    assert "share" in svg and "shares of each series" in root.find("desc").text


def test_counts_and_runs_get_whole_number_axes():
    hist = _tree(charts.chart_svg({"kind": "histogram", "title": "t", "edges": [0, 1, 2],
                                   "series": [{"name": "a", "counts": [3, 5]}]}, uid="i"))
    assert all(float(v).is_integer() for v in _y_ticks(hist))
    runs = _tree(charts.chart_svg({"kind": "curve", "title": "history", "x": [1, 2, 3, 4, 5, 6, 7],
                                   "xlabel": "run", "series": [{"name": "auc", "y": [0.8] * 7}]}, uid="r"))
    xs = _x_ticks(runs, y_min=20)
    assert xs and all(float(v).is_integer() for v in xs)


def test_charts_stay_bounded_with_thousands_of_groups():
    n = 3000
    rng = np.random.default_rng(0)
    values = rng.uniform(0.1, 0.9, n)
    chart = {"kind": "intervals", "title": "rate per group", "labels": [f"g{i}" for i in range(n)],
             "values": values.tolist(), "lows": (values - 0.05).tolist(), "highs": (values + 0.05).tolist()}
    svg = charts.chart_svg(chart, uid="many")
    assert len(svg) < 40_000 and "of 3,000" in svg
    keep = charts.select_extremes(values.tolist(), charts.MAX_LABELS)
    order = np.argsort(values)
    expected = set(order[: charts.MAX_LABELS // 2]) | set(order[-(charts.MAX_LABELS - charts.MAX_LABELS // 2):])
    assert set(keep) == expected
    heat = charts.chart_svg({"kind": "heatmap", "title": "grid", "row_labels": [f"r{i}" for i in range(100)],
                             "col_labels": [f"c{i}" for i in range(100)],
                             "values": rng.uniform(size=(100, 100)).tolist()}, uid="hm")
    assert heat.count("<rect") <= charts.MAX_CELLS ** 2 + 5 and "of 100 x 100" in heat


def test_missing_and_empty_values_do_not_crash():
    assert charts.chart_svg({"kind": "intervals", "labels": ["a", "b"], "values": [None, None],
                             "lows": [None], "highs": None, "threshold": None}) is not None
    assert charts.chart_svg({"kind": "curve", "x": [0, 1], "series": [{"name": "s", "y": [None, None]}]})
    assert charts.chart_svg({"kind": "heatmap", "row_labels": ["a"], "col_labels": ["b"],
                             "values": [[None]]}) is not None
    assert charts.chart_svg({"kind": "histogram", "edges": [0, 1], "series": []}) is None
    assert charts.chart_svg({"kind": "box", "series": [{"name": "x", "q": [1, None, 2, 3, 4]}]}) is None
    assert charts.chart_svg({"kind": "no-such-kind"}) is None
    assert charts.chart_svg("not a dict") is None
    # bounds of any size draw (no NaN or infinite axis)
    assert charts.chart_svg({"kind": "intervals", "labels": ["a"], "values": [0.5],
                             "threshold": {"min": -1e308, "max": 1e308}}) is not None


def _result(**kw):
    base = dict(id="performance.accuracy", name="accuracy", family="performance", evalset="base",
                verdict=Verdict.PASS)
    return CheckResult(**{**base, **kw})


def test_metric_chart_draws_value_interval_bounds_and_one_band():
    r = _result(value=0.91, interval=Interval(low=0.89, high=0.93), threshold={"min": 0.8, "warn_min": 0.85})
    root = _tree(charts.metric_chart(r, uid="m"))
    to_px, _ = _linear(_x_ticks(root, y_min=20))
    dot = next(e for e in root.iter("circle"))
    assert float(dot.get("cx")) == pytest.approx(to_px(0.91), abs=0.5)
    assert len([e for e in root.iter("rect") if e.get("fill") == BAND]) == 1
    assert any(e.get("stroke-dasharray") for e in root.iter("line"))  # the warn bound
    assert root.find("title").text and "Value 0.91" in root.find("desc").text


def test_metric_chart_without_value_or_bounds():
    assert charts.metric_chart(_result(value=None)) is None
    assert charts.metric_chart(_result(value=3.0, threshold={})).startswith("<svg")
    r = _result(value=0.5, interval=Interval(low=None, high=None), threshold={"max": 0.1},
                baseline={"baseline_value": None, "change": None, "regressed": False})
    assert charts.metric_chart(r).startswith("<svg")


def test_palette_is_okabe_ito():
    assert set(PALETTE) <= OKABE_ITO and len(set(PALETTE)) == len(PALETTE)


def test_image_map_draws_every_pixel():
    svg = charts.image_map({0: 0.05, 9: -0.05, 63: 0.02}, 8, "Example 1: change per pixel", uid="im")
    root = _tree(svg)
    cells = [e for e in root.iter("rect") if e.get("fill") != "none"]
    assert len(cells) == 64
    white = [e for e in cells if e.get("fill") == "#ffffff"]
    assert len(white) == 61  # unchanged pixels
    assert "3 pixels changed, 2 up and 1 down" in root.find("desc").text
