"""Charts: every kind draws to a clean inline SVG; missing values never crash."""

from __future__ import annotations

import re

import pytest

from audit.report import charts
from audit.results import CheckResult, Interval, Verdict

from .conftest import CHARTS


@pytest.mark.parametrize("chart", CHARTS, ids=[c["kind"] for c in CHARTS])
def test_each_kind_draws_inline_svg(chart):
    svg = charts.chart_svg(chart, uid="t1")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    # no namespace URL (nor any other): the HTML must not contain URLs of its own
    assert "http://" not in svg.replace("http://evil.example/x", "")
    assert "<script" not in svg  # user labels are escaped by matplotlib's SVG writer
    # text stays text (svg.fonttype none), so the PDF is searchable
    assert "<text" in svg
    assert chart["title"] in svg.replace("&amp;", "&") or chart["title"].replace("&", "&amp;") in svg


def test_ids_are_prefixed_so_charts_do_not_collide():
    a = charts.chart_svg(CHARTS[1], uid="one")
    b = charts.chart_svg(CHARTS[1], uid="two")
    ids_a = set(re.findall(r'\bid="([^"]+)"', a))
    ids_b = set(re.findall(r'\bid="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert all(i.startswith("one-") for i in ids_a)
    # every internal reference points at an id of the same chart
    refs = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', a))
    for ref in {r for pair in refs for r in pair if r}:
        assert ref in ids_a


def test_same_chart_same_svg():
    assert charts.chart_svg(CHARTS[3], uid="x") == charts.chart_svg(CHARTS[3], uid="x")


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


def _result(**kw):
    base = dict(id="performance.accuracy", name="accuracy", family="performance", evalset="base",
                verdict=Verdict.PASS)
    return CheckResult(**{**base, **kw})


def test_metric_chart_draws_value_interval_and_band():
    r = _result(value=0.91, interval=Interval(low=0.89, high=0.93),
                threshold={"min": 0.8, "warn_min": 0.85})
    svg = charts.metric_chart(r, uid="m")
    assert svg.startswith("<svg")
    assert "stroke-dasharray" in svg  # the warn bound is dashed
    assert "#e6f3eb" in svg  # the acceptable region is shaded


def test_metric_chart_without_value_or_bounds():
    assert charts.metric_chart(_result(value=None)) is None
    # a value with no interval and no threshold still draws
    assert charts.metric_chart(_result(value=3.0, threshold={})).startswith("<svg")
    r = _result(value=0.5, interval=Interval(low=None, high=None), threshold={"max": 0.1},
                baseline={"baseline_value": None, "change": None, "regressed": False})
    assert charts.metric_chart(r).startswith("<svg")
