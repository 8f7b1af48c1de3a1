"""The Markdown summary, read back with a real Markdown parser (markdown-it, GFM tables) and
compared with results.json."""

from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from audit.report.markdown import append_step_summary, md_escape, summary_markdown
from audit.report.writer import write_report

from .conftest import EVIL, build_result


class _Cells(HTMLParser):
    """Tables of rendered HTML as lists of rows of cell texts (entities decoded); links and raw
    HTML elements counted."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.links, self.tags = [], 0, set()
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "a":
            self.links += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _render(md: str) -> _Cells:
    html = MarkdownIt("commonmark").enable("table").render(md)
    parser = _Cells()
    parser.feed(html)
    return parser


@pytest.fixture
def written(tmp_path):
    result = build_result()
    folder = write_report(result, tmp_path, pdf=False)
    return result, folder, json.loads((folder / "results.json").read_text())


def test_table_reads_back_as_results_json(written):
    result, folder, saved = written
    md = summary_markdown([result], [folder])
    parsed = _render(md)
    assert len(parsed.tables) == 1
    header, *rows = parsed.tables[0]
    assert header == ["Check", "Id", "Evaluation set", "Verdict", "Value", "Interval", "Threshold"]
    gating = [r for r in saved["results"] if r["blocking"] and r["verdict"] in ("FAIL", "ERROR")]
    assert len(rows) == len(gating) == 2
    for row, r in zip(rows, gating, strict=True):
        name, cid, evalset, verdict, value, interval, threshold = row
        assert (name, cid, evalset, verdict) == (r["name"], r["id"], r["evalset"], r["verdict"])
        if r["value"] is None:
            assert value == "—" and interval == "—"
        else:
            assert float(value) == pytest.approx(r["value"], rel=5e-4)  # 4 significant digits
            low, high = (float(x) for x in interval.split(" – "))  # "0.400 – 0.520"
            # interval ends: 3 significant digits of the larger end (audit.report._format)
            assert (low, high) == (pytest.approx(r["interval"]["low"], rel=5e-3),
                                   pytest.approx(r["interval"]["high"], rel=5e-3))
        assert f"{r['threshold']['min']:.2f}" in threshold
    counts = saved["summary"]["counts"]
    for verdict, n in counts.items():
        assert f"{n} {verdict}" in md
    assert f"{saved['summary']['decision']}** (exit code {saved['summary']['exit_code']})" in md
    assert folder.name in md and str(folder.parent) not in md  # the folder is named, not located


def test_user_text_is_inert(written):
    result, folder, _ = written
    md = summary_markdown([result], [folder])
    parsed = _render(md)
    assert parsed.links == 0
    assert "script" not in parsed.tags and "b" not in parsed.tags
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script>" not in html and "http://" not in md and "evil.example" in md
    # The policy name (with a pipe, backticks and HTML around it) comes back as written.
    hostile = result.model_copy(update={"policy_name": "a | b `code` <i>x</i> [l](http://x.y) www.z.org"})
    md = summary_markdown([hostile])
    heading = re.search(r"<h3>(.*?)</h3>", MarkdownIt("commonmark").enable("table").render(md)).group(1)
    assert html_lib.unescape(heading) == "Audit a | b `code` <i>x</i> [l](http://x.y) www.z.org: FAIL"
    assert _render(md).links == 0 and "i" not in _render(md).tags


@pytest.mark.parametrize("text", [EVIL, "p|q", "`x`", "a\nb", "*bold* _it_", "[x](y)", "\\|", "&amp;"])
def test_escaped_cell_round_trips_through_a_table(text):
    parsed = _render(f"| h |\n|---|\n| {md_escape(text)} |\n")
    assert parsed.tables[0][1] == [" ".join(text.split("\n"))]
    assert parsed.links == 0


def test_several_models_get_one_line_each(written, tmp_path):
    result, folder, _ = written
    other = result.model_copy(update={"manifest": {**result.manifest, "model_name": "cand|b"},
                                      "summary": result.summary.model_copy(update={
                                          "decision": "PASS", "exit_code": 0, "blocking_failures": [],
                                          "counts": {"PASS": 3, "WARN": 0, "FAIL": 0, "INCONCLUSIVE": 0,
                                                     "ERROR": 0, "SKIPPED": 0}}),
                                      "results": [r for r in result.results if r.verdict.value == "PASS"]})
    parsed = _render(summary_markdown([result, other], [folder, None]))
    models, failures = parsed.tables
    assert models[0][:3] == ["Model", "Decision", "Exit code"]
    assert [row[:3] for row in models[1:]] == [["model", "FAIL", "1"], ["cand|b", "PASS", "0"]]
    assert [int(x) for x in models[2][3:9]] == [3, 0, 0, 0, 0, 0]
    assert {row[0] for row in failures[1:]} == {"model"}  # only the failing model's rows


def test_no_failures_says_so():
    result = build_result()
    passing = result.model_copy(update={"results": [r for r in result.results if r.verdict.value == "PASS"],
                                        "summary": result.summary.model_copy(update={"decision": "PASS",
                                                                                     "exit_code": 0})})
    md = summary_markdown([passing])
    assert "No blocking failures." in md and _render(md).tables == []


def test_inconclusive_blocks_when_the_policy_says_so():
    result = build_result()
    strict = result.model_copy(update={"manifest": {**result.manifest, "inconclusive_fails": True}})
    rows = _render(summary_markdown([strict])).tables[0][1:]
    assert "INCONCLUSIVE" in [row[3] for row in rows]


def test_github_step_summary_is_appended(tmp_path, monkeypatch):
    target = tmp_path / "step.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert append_step_summary("### one\n") == target
    assert append_step_summary("### two") == target
    assert target.read_text() == "earlier step\n### one\n### two\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert append_step_summary("### three\n") is None
