"""HTML report: self-contained, escaped, complete."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest

from audit.report import render_html
from audit.results import Verdict

from .conftest import EVIL, build_result

SCHEMES = ("http:", "https:", "file:", "ftp:", "//")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def page():
    result = build_result()
    doc = render_html(result)
    parser = _Collector()
    parser.feed(doc)
    return result, doc, parser


def test_no_script_and_user_text_escaped(page):
    _, doc, parser = page
    assert "<script" not in doc.lower()
    assert "script" not in parser.tags
    # the hostile string is shown, as text
    assert "&lt;script&gt;alert(" in doc
    assert EVIL in htmllib.unescape("".join(parser.text)) or "alert('x')" in "".join(parser.text)


def test_no_url_anywhere_but_in_escaped_user_text(page):
    _, doc, parser = page
    # no attribute (href, src, style url(), xmlns ...) holds a URL
    for tag, key, value in parser.attrs:
        low = value.strip().lower()
        assert not low.startswith(SCHEMES), (tag, key, value)
        assert "url(" not in low or "url(#" in low, (tag, key, value)
        if key in ("href", "src"):
            assert low.startswith("#"), (tag, key, value)  # in-page links only; not even data:
    # apart from the user's own text, the renderer writes no URL at all
    own = doc.replace("http://evil.example/x", "")
    for needle in ("http://", "https://", "file:"):
        assert needle not in own
    assert "@import" not in doc and "<link" not in doc and "<img" not in doc


def test_every_check_and_verdict_appears(page):
    result, doc, parser = page
    text = htmllib.unescape(re.sub(r"<wbr>", "", doc))
    for r in result.results:
        assert r.id in text
        assert r.evalset in text
    for v in Verdict:
        assert re.search(rf">{v.value}<", doc), v
    assert ">FAIL<" in doc  # the overall decision


def test_summary_counts_thresholds_and_groups(page):
    result, doc, _ = page
    text = htmllib.unescape(doc)
    assert "≥ 0.80 (warn &lt; 0.85), interval decision".replace("&lt;", "<") in text
    assert "≤ 0.10 (warn > 0.05), interval decision" in text
    for verdict, n in result.summary.counts.items():
        assert f"{verdict} {n}<" in text
    # small group shown and flagged, extra columns present, extra with interval formatted
    assert 'class="flagged"' in doc and ">small<" in doc
    assert ">base_<wbr>rate<" in doc and ">tpr<" in doc and '0.81<br><span class="ci">[0.77, 0.85]</span>' in doc
    # details table flagged row, chart SVGs for every chart kind + metric charts
    assert doc.count("<svg") == 5 + sum(r.value is not None for r in result.results)
    assert ">Confusion counts<" in doc


def test_error_skipped_manifest_signoff_policy(page):
    result, doc, _ = page
    text = htmllib.unescape(doc)
    assert "Traceback (most recent call last):" in text
    assert '<pre class="traceback">' in doc and "ValueError: boom &lt;b&gt;" in doc
    assert "Skipped: needs a live model (predictions-only audit)" in text
    assert "ab" * 32 in doc and ">numpy<" in doc and "1.26.4" in doc  # nested manifest sub-table
    for field in ("Prepared by", "Reviewed by", "Date", "approve with conditions"):
        assert field in text
    assert '<pre class="policy">version: 1\nname: credit-scoring' in doc
    # the evaluation-set table, including meta["report"] facts
    assert "perturbed.noise@0.2" in text and "scale=0.2" in text and "features: 9" in text


def test_baseline_columns_only_in_regression_audits(page):
    _, doc, _ = page
    assert ">Baseline</th>" not in doc
    reg = render_html(build_result(with_baseline=True))
    assert ">Baseline</th>" in reg and ">Change</th>" in reg and ">regressed<" in reg
    assert "0.93" in reg  # baseline value 0.91 + 0.02


def test_render_is_deterministic():
    assert render_html(build_result()) == render_html(build_result())
