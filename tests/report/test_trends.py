"""Side-by-side, compare and history reports: each model's own values, pages that fit, page numbers.

Two different models are audited together on the demo data (real runs); the side-by-side HTML
table is compared cell by cell with each model's own results, formatted here independently.
Every cross-run report is printed to PDF and read back with pypdf: every verdict word of the
HTML is in the PDF text, the pages are landscape, numbered "page X of Y", and the files have
the permissions of run reports.
"""

from __future__ import annotations

import json
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from audit.compare import compare_runs
from audit.report.trends import (
    collect_history,
    model_labels,
    render_models_html,
    write_comparison,
    write_history,
    write_models_report,
)

POLICY = """\
version: 1
name: side-by-side
seed: 1
data: {{path: {data}, target: repaid, sensitive: [sex, age_band], reference: {ref}}}
defaults: {{n_boot: 200}}
checks:
  - id: performance.accuracy
    threshold: {{min: 0.74, warn_min: 0.75}}
  - id: performance.roc_auc
    threshold: {{min: 0.8}}
  - id: fairness.demographic_parity_ratio
    name: "Impact ratio (four-fifths rule)"
    threshold: {{min: 0.8}}
  - id: fairness.equalized_odds_difference
    params: {{sensitive: [sex]}}
    threshold: {{max: 0.2, blocking: false}}
  - id: robustness.flip_rate
    evalset: perturbed.noise@0.5
    threshold: {{max: 0.05}}
"""

VERDICT_WORDS = re.compile(r"\b(PASS WITH WARNINGS|PASS|WARN|FAIL|INCONCLUSIVE|ERROR|SKIPPED|REGRESSION)\b")


class _Tables(HTMLParser):
    """Cell texts of every table, by the table's id."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._id = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self._row = []
            self.tables[self._id].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict:
    p = _Tables()
    p.feed(html)
    return p.tables


def _g(v) -> str:
    return "-" if v is None else f"{v:.4g}"


@pytest.fixture(scope="module")
def two_models(demo_files, tmp_path_factory):
    """Results of two different models (same class: labels Pipeline and Pipeline-2) on the same data."""
    import audit
    from audit.data.demo import train_demo_model

    root = tmp_path_factory.mktemp("sbs")
    policy = root / "policy.yaml"
    policy.write_text(POLICY.format(data=demo_files["holdout"], ref=demo_files["train"]))
    train = pd.read_parquet(demo_files["train"])
    a = train_demo_model(train, seed=0)
    b = train_demo_model(train.sample(400, random_state=5).reset_index(drop=True), seed=0)
    results = audit.run_models(str(policy), [a, b])
    assert [r.manifest["model_name"] for r in results] == ["Pipeline", "Pipeline-2"]
    va = [r.value for r in results[0].results]
    vb = [r.value for r in results[1].results]
    assert va != vb  # two different models
    return results


def test_side_by_side_cells_are_each_models_own_values(two_models):
    html = render_models_html(two_models, charts=False)
    t = tables(html)
    head, *rows = t["checks"]
    assert head == ["check", "evaluation set", "Pipeline", "Pipeline-2"]
    assert len(rows) == len(two_models[0].results)
    for i, row in enumerate(rows):
        for j, res in enumerate(two_models):
            r = res.results[i]
            assert row[:2] == [r.name, r.evalset]
            iv = f" [{_g(r.interval.low)}, {_g(r.interval.high)}]" if r.interval else ""
            assert row[2 + j] == f"{_g(r.value)}{iv} {r.verdict.value}", (r.id, j)
    summary = t["models"][1:]
    for row, res in zip(summary, two_models, strict=True):
        assert row[0] == res.manifest["model_name"]
        assert row[2:8] == [str(res.summary.counts[v]) for v in ("PASS", "WARN", "FAIL", "INCONCLUSIVE",
                                                                  "ERROR", "SKIPPED")]
        assert row[-1] == res.manifest["run_digest"]


def test_results_sharing_a_label_keep_their_own_columns(two_models):
    a, b = two_models
    same = [a.model_copy(update={"manifest": {**a.manifest, "model_name": "model"}}),
            b.model_copy(update={"manifest": {**b.manifest, "model_name": "model"}})]
    assert model_labels(same) == ["model", "model-2"]
    assert model_labels([a, b, a]) == ["Pipeline", "Pipeline-2", "Pipeline-3"]
    head, *rows = tables(render_models_html(same, charts=False))["checks"]
    assert head[2:] == ["model", "model-2"]
    acc = rows[0]
    assert acc[2].startswith(_g(a.results[0].value)) and acc[3].startswith(_g(b.results[0].value))


def _pdf_text(path: Path) -> tuple[str, list]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n".join(p.extract_text() for p in reader.pages), reader.pages


def _visible_text(html: str) -> str:
    body = re.sub(r"<style.*?</style>|<svg.*?</svg>|<title>.*?</title>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _check_pdf(html_path: Path, pdf_path: Path, must: list[str]) -> None:
    text, pages = _pdf_text(pdf_path)
    flat = re.sub(r"\s+", "", text)
    html_words = VERDICT_WORDS.findall(_visible_text(html_path.read_text()))
    pdf_words = VERDICT_WORDS.findall(text)
    assert html_words, "the HTML shows no verdict"
    for w in set(html_words):  # no verdict cut off the page: each appears as often as in the HTML
        assert pdf_words.count(w) >= html_words.count(w), (pdf_path.name, w)
    for s in must:  # e.g. full SHA-256 hashes, wrapped but not cut
        assert re.sub(r"\s+", "", s) in flat, (pdf_path.name, s)
    n = len(pages)
    for i, page in enumerate(pages, 1):
        assert f"page {i} of {n}" in page.extract_text(), (pdf_path.name, i)
        box = page.mediabox
        assert float(box.width) > float(box.height)  # landscape A4
    for p in (html_path, pdf_path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    assert stat.S_IMODE(pdf_path.parent.stat().st_mode) == 0o755


def test_models_report_pdf(two_models, tmp_path):
    html = write_models_report(two_models, tmp_path / "out")
    assert html.parent.name.startswith("side-by-side-models-")
    _check_pdf(html, html.with_suffix(".pdf"),
               [r.manifest["run_digest"] for r in two_models]
               + [r.manifest["files"]["model"]["sha256"] or "" for r in two_models])


def test_compare_report_pdf(two_models, tmp_path):
    a, b = two_models
    cmp = compare_runs(a, b)
    assert cmp["before"]["model"] == "Pipeline" and cmp["after"]["run_digest"] == b.manifest["run_digest"]
    html = write_comparison(cmp, tmp_path / "cmp")
    assert "REGRESSION" in html.read_text() or cmp["regressions"] == 0
    _check_pdf(html, html.with_suffix(".pdf"), [a.manifest["run_digest"], b.manifest["run_digest"]])


def test_history_report_pdf(two_models, tmp_path):
    runs = tmp_path / "runs"
    for i, day in enumerate((1, 2, 3)):
        for res in two_models:
            r = res.model_copy(update={"manifest": {**res.manifest, "started_at": f"2026-11-0{day}T00:00:0{i}Z"}})
            d = runs / f"{res.manifest['model_name']}-{day}"
            d.mkdir(parents=True)
            (d / "results.json").write_text(r.model_dump_json())
    hist = collect_history(runs)
    assert len(hist["runs"]) == 6
    # one series per check and model: a model's values are never mixed with another's
    acc = [s for s in hist["series"] if s["key"].startswith("performance.accuracy")]
    assert {s["model"]: s["y"] for s in acc} == {
        r.manifest["model_name"]: [r.results[0].value] * 3 for r in two_models}
    html = write_history(hist, tmp_path / "hist")
    assert html.read_text().count("<svg") == len(hist["series"]) == 2 * len(two_models[0].results)
    _check_pdf(html, html.with_suffix(".pdf"), [two_models[0].manifest["run_digest"]])


def test_run_report_pdf_keeps_every_verdict(two_models, tmp_path):
    from audit.report.writer import write_report

    folder = write_report(two_models[1], tmp_path)
    assert folder.name.startswith("side-by-side-pipeline-2-")
    text, pages = _pdf_text(folder / "report.pdf")
    doc = json.loads((folder / "results.json").read_text())
    for r in doc["results"]:
        assert r["verdict"] in text
    assert any(f"of {len(pages)}" in p.extract_text() for p in pages)
