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
    assert not reader.attachments


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
