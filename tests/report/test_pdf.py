"""PDF report: text is searchable and complete; nothing but data: URLs is fetched."""

from __future__ import annotations

import base64
import io
import urllib.request

import pytest
from pypdf import PdfReader

from audit.report import render_html, render_pdf
from audit.report.pdf import safe_url_fetcher
from audit.results import Verdict

from .conftest import build_result

# 1x1 transparent PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()

HOSTILE = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body {{ background: url("file:///etc/hostname"); }}</style></head><body>
<p>hostile page</p>
<img src="file:///etc/passwd">
<img src="http://127.0.0.1:9/tracker.png">
<img src="https://example.invalid/x.png">
<a rel="attachment" href="file:///etc/passwd">attach</a>
<svg width="10" height="10"><image href="file:///etc/passwd" width="10" height="10"/></svg>
<img src="data:image/png;base64,{PNG}">
</body></html>"""


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def report_pdf():
    result = build_result(with_baseline=True)
    return result, render_pdf(render_html(result))


def test_pdf_text_holds_every_check_verdict_and_policy(report_pdf):
    result, pdf = report_pdf
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    flat = "".join(text.split())  # ids may wrap at the dots in narrow columns
    for r in result.results:
        assert r.id in flat, r.id
    for v in Verdict:
        assert v.value in text, v
    assert "credit-scoring" in text
    assert "Overall decision".upper() in text.upper()
    # page numbers in the footer and the running header with the policy name
    reader = PdfReader(io.BytesIO(pdf))
    n = len(reader.pages)
    assert n >= 2
    last = reader.pages[-1].extract_text()
    assert f"page {n} of {n}" in last
    assert "credit-scoring" in last and "2026-11-28" in last
    # chart text is text, not paths: axis labels of the charts are searchable
    assert "selection rate" in text and "severity" in text
    assert not reader.attachments  # render_pdf embeds only what it is given


def test_only_data_urls_are_fetched(monkeypatch, tmp_path):
    opened: list[str] = []
    original = urllib.request.OpenerDirector.open

    def recording_open(self, fullurl, *args, **kwargs):
        url = fullurl if isinstance(fullurl, str) else fullurl.full_url
        opened.append(url.split(",")[0])
        return original(self, fullurl, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", recording_open)
    path = render_pdf(HOSTILE, tmp_path / "hostile.pdf")
    pdf = path.read_bytes()
    assert opened == ["data:image/png;base64"]  # the data: image only; no file:, no http(s):
    assert b"root:" not in pdf  # /etc/passwd was not embedded
    assert not PdfReader(io.BytesIO(pdf)).attachments
    assert "hostile page" in _text(pdf)


def test_the_recorder_can_see_a_fetch(monkeypatch):
    # Control: with WeasyPrint's permissive default, the same recorder sees file: reads,
    # so the test above would fail if render_pdf used it.
    from weasyprint.urls import URLFetcher

    opened: list[str] = []
    original = urllib.request.OpenerDirector.open

    def recording_open(self, fullurl, *args, **kwargs):
        url = fullurl if isinstance(fullurl, str) else fullurl.full_url
        opened.append(url)
        return original(self, fullurl, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", recording_open)
    page = '<html><body><img src="file:///etc/hostname"><p>x</p></body></html>'
    render_pdf(page, url_fetcher=URLFetcher(allowed_protocols={"file"}))
    assert "file:///etc/hostname" in opened


def test_safe_fetcher_refuses_everything_but_data():
    fetcher = safe_url_fetcher()
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/", "https://example.invalid/", "ftp://x/"):
        with pytest.raises(ValueError, match="disallowed protocol"):
            fetcher.fetch(url)
    assert fetcher.fetch(f"data:image/png;base64,{PNG}").read()[:4] == b"\x89PNG"


def _html_verdicts(html: str) -> list[str]:
    """Every verdict string the HTML shows: badge texts and the decision."""
    import re

    return sorted(set(re.findall(r'<span class="(?:badge [a-z]+[^"]*|value)">([A-Z][A-Z ]+?)(?: \d+)?</span>', html)))


@pytest.fixture(scope="module")
def archived():
    import json

    result = build_result()
    manifest = {**result.manifest, "run_digest": "7e" * 32}
    result = result.model_copy(update={"manifest": manifest})
    results_json = result.model_dump_json(indent=2) + "\n"
    html = render_html(result)
    from datetime import UTC, datetime

    pdf = render_pdf(html, attachments={"results.json": results_json, "policy.yaml": result.policy_text},
                     created=datetime(2026, 11, 28, 15, tzinfo=UTC))
    return result, html, pdf, results_json, json


def test_archival_pdf_is_pdf_a_3b_tagged_with_its_evidence_attached(archived):
    result, html, pdf, results_json, json = archived
    reader = PdfReader(io.BytesIO(pdf))
    att = reader.attachments
    assert att["results.json"] == [results_json.encode()]  # byte for byte
    assert att["policy.yaml"] == [result.policy_text.encode()]
    assert json.loads(att["results.json"][0]) == json.loads(result.model_dump_json())
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root  # tagged
    assert "/OutputIntents" in root and "/AF" in root
    relationships = {str(f.get_object()["/F"]): str(f.get_object()["/AFRelationship"]) for f in root["/AF"]}
    assert relationships == {"results.json": "/Data", "policy.yaml": "/Source"}
    meta = reader.metadata
    assert "credit-scoring" in meta.title and "FAIL" in meta.subject
    keywords = [k.strip() for k in meta["/Keywords"].split(",")]
    assert keywords == [result.policy_name, "7e" * 32]


def test_every_verdict_string_of_the_html_is_in_the_pdf_text(archived):
    _, html, pdf, _, _ = archived
    verdicts = _html_verdicts(html)
    assert {"PASS", "WARN", "FAIL", "INCONCLUSIVE", "ERROR", "SKIPPED"} <= set(verdicts)
    text = _text(pdf)
    for v in verdicts:
        assert v in text, v
    assert "7e" * 32 in "".join(text.split())  # the digest, on the sign-off


def test_a_hostile_size_of_input_renders_to_a_bounded_pdf(tmp_path):
    from audit.results import AuditResult, CheckResult, GroupValue, Interval, Summary, Verdict

    long = "x" * 10_000
    groups = [GroupValue(group=f"group {long[:40]} {i}", n=5 + i % 50, value=(i % 97) / 97,
                         interval=Interval(low=0.0, high=1.0), small=i % 7 == 0) for i in range(3000)]
    table = {"title": long, "columns": ["group", "n", "rate"], "rows": [[g.group, g.n, g.value] for g in groups]}
    charts = [{"kind": "intervals", "title": long, "labels": [g.group for g in groups],
               "values": [g.value for g in groups]},
              {"kind": "heatmap", "title": long, "row_labels": [str(i) for i in range(300)],
               "col_labels": [str(i) for i in range(300)], "values": [[0.5] * 300] * 300}]
    results = [CheckResult(id="fairness.selection_rate", name=long, family="fairness", evalset=long,
                           verdict=Verdict.INCONCLUSIVE, value=0.5, interval=Interval(low=0.1, high=0.9),
                           groups=groups, message=long, reference=long, threshold={"min": 0.1, "reference": long},
                           params={"sensitive": [long] * 3}, details={"tables": [table], "charts": charts}),
               CheckResult(id=f"custom.{long}", name=long, family=long, evalset="base", verdict=Verdict.ERROR,
                           message=long, error={"type": long, "message": long, "traceback": long * 3})]
    result = AuditResult(policy_name=long, manifest={"note": long, "started_at": "2026-11-28T15:00:00Z"},
                         results=results, evalsets={long: {"kind": long, "description": long, "params": {long: long}}},
                         summary=Summary(counts={"INCONCLUSIVE": 1, "ERROR": 1}, decision="FAIL", exit_code=1,
                                         blocking_failures=[long]), policy_text=long * 5)
    html = render_html(result)
    assert len(html) < 500_000
    path = render_pdf(html, tmp_path / "big.pdf", attachments={"results.json": result.model_dump_json()})
    reader = PdfReader(path)
    assert 1 <= len(reader.pages) <= 20
    assert path.stat().st_size < 5_000_000  # results.json (about 0.6 MB here) is attached in full
    assert len(reader.attachments["results.json"][0]) == len(result.model_dump_json().encode())


def test_collector_runs_rarely_while_printing_and_its_settings_come_back(monkeypatch):
    import gc

    import weasyprint

    from audit.report import pdf as pdf_module

    seen = []
    real = weasyprint.HTML

    def recording(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(weasyprint, "HTML", recording)
    before = gc.get_threshold()
    out = render_pdf("<html><head><title>t</title></head><body><p>gc</p></body></html>", variant=None)
    assert out.startswith(b"%PDF") and "gc" in _text(out)
    assert seen == [pdf_module.GC_THRESHOLD_WHILE_PRINTING] and gc.get_threshold() == before

    def failing(*args, **kwargs):
        raise RuntimeError("layout failed")

    monkeypatch.setattr(weasyprint, "HTML", failing)
    with pytest.raises(RuntimeError, match="layout failed"):
        render_pdf("<html><body></body></html>")
    assert gc.get_threshold() == before  # restored when printing fails too


def test_each_stream_is_built_once_while_writing_and_the_pdf_is_the_same(monkeypatch):
    import types
    import zlib

    import pydyf

    from audit.report import pdf as pdf_module

    html = render_html(build_result())
    built = []

    def compressobj(*args, **kwargs):
        built.append(1)
        return zlib.compressobj(*args, **kwargs)

    monkeypatch.setattr(pydyf, "zlib", types.SimpleNamespace(compressobj=compressobj, compress=zlib.compress))

    def pages(pdf: bytes) -> list[bytes]:
        return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(pdf)).pages]

    once = render_pdf(html, attachments={"results.json": "{}"})
    n_once = len(built)
    built.clear()
    monkeypatch.setattr(pdf_module, "_start_writing", lambda document, pdf: None)  # pydyf as it comes
    twice = render_pdf(html, attachments={"results.json": "{}"})
    # PDF/A's /ID makes pydyf read every stream a second time (all but the cross-reference stream,
    # made after the hash); with the memo each is built once
    assert n_once > 10 and len(built) == 2 * n_once - 1
    assert pages(once) == pages(twice) and _text(once) == _text(twice)
    assert PdfReader(io.BytesIO(once)).attachments == PdfReader(io.BytesIO(twice)).attachments

    # Outside a write a stream is pydyf's own: its bytes follow what was drawn since the last read.
    stream = pydyf.Stream()
    stream.push_state()
    first = stream.data
    stream.pop_state()
    assert stream.data != first and stream.data.endswith(b"q\nQ\nendstream")


def test_what_print_hides_is_never_given_to_weasyprint_and_the_pages_are_the_same(monkeypatch):
    from audit.report import pdf as pdf_module

    result = build_result()
    html = render_html(result)
    printed = pdf_module.print_html(html)
    assert html.count('<figure class="chart metric">') >= 5 and 'id="policy"' in html
    assert '<figure class="chart metric">' not in printed and 'id="policy"' not in printed
    assert "<!--screen-->" not in printed and printed.count("<svg") < html.count("<svg")

    def pages(pdf: bytes) -> list[bytes]:
        return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(pdf)).pages]

    lean = render_pdf(html)
    monkeypatch.setattr(pdf_module, "print_html", lambda h: h)
    whole = render_pdf(html)
    assert pages(lean) == pages(whole) and _text(lean) == _text(whole)


def test_a_user_string_cannot_forge_a_screen_only_marker():
    from audit.report import pdf as pdf_module

    result = build_result()
    result.results[0].message = "<!--screen-->hide the rest<!--/screen-->"
    html = render_html(result)
    assert "<!--screen-->hide" not in html
    assert "hide the rest" in pdf_module.print_html(html)
