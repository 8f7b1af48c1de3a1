"""The demo's report as a reviewer gets it: ``audit demo --model-card`` with its PDF, read back.

One run per module (about 40 s: the demo profiles latency and measures a cold start).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from audit.compliance import matrix
from audit.results import AuditResult

MAX_PAGES = 15


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from audit.cli import main

    root = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--work", str(root / "work"), "--out", str(root / "reports"), "--quiet", "--model-card"])
    assert code == 0
    (folder,) = [p for p in (root / "reports").iterdir() if p.is_dir()]
    return folder


@pytest.fixture(scope="module")
def pdf(demo) -> PdfReader:
    return PdfReader(demo / "report.pdf")


def test_demo_pdf_is_short_with_the_sign_off_and_digest_up_front(demo, pdf):
    assert len(pdf.pages) <= MAX_PAGES
    pages = [p.extract_text() for p in pdf.pages]
    signoff = next(i for i, t in enumerate(pages, start=1) if "Sign-off" in t and "Reviewed by" in t)
    assert signoff <= 2
    digest = json.loads((demo / "results.json").read_text())["manifest"].get("run_digest")
    if digest:  # recorded by toolkits that compute it
        assert digest in "".join(pages[signoff - 1].split())
    else:
        assert "not recorded" in pages[signoff - 1]


def test_demo_pdf_carries_results_json_and_the_policy(demo, pdf):
    att = pdf.attachments
    assert att["results.json"] == [(demo / "results.json").read_bytes()]
    assert att["policy.yaml"] == [(demo / "policy.yaml").read_bytes()]
    xmp = pdf.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert pdf.metadata["/Keywords"].startswith("demo-credit")


def test_every_verdict_string_of_the_html_is_in_the_pdf(demo, pdf):
    html = (demo / "report.html").read_text()
    verdicts = set(re.findall(r'<span class="(?:badge [a-z]+[^"]*|value)">([A-Z][A-Z ]+?)(?: \d+)?</span>', html))
    assert {"PASS", "WARN", "FAIL"} <= verdicts
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for v in verdicts:
        assert v in text, v
    # every check's card title is there too (cut nowhere)
    flat = "".join(text.split())
    result = AuditResult.model_validate_json((demo / "results.json").read_text())
    for r in result.results:
        if r.name != r.id:
            assert "".join(r.name.split()) in flat, r.name


def test_demo_report_has_the_regulation_matrix_of_its_frameworks(demo):
    result = AuditResult.model_validate_json((demo / "results.json").read_text())
    frameworks = result.manifest["policy"]["frameworks"]
    assert frameworks == ["eu-ai-act"]
    html = (demo / "report.html").read_text()
    rows = matrix(result, frameworks)
    assert html.count('class="clause status-') == len(rows)
    for row in rows:
        assert f"status {row['status']}" in html


def test_model_card_files_read_back_to_results_json(demo):
    saved = json.loads((demo / "results.json").read_text())
    card = json.loads((demo / "model_card.json").read_text())
    md = (demo / "model_card.md").read_text()
    assert card["summary"]["decision"] == saved["summary"]["decision"]
    assert card["summary"]["counts"] == saved["summary"]["counts"]
    assert card["model_details"]["sha256"] == saved["manifest"]["files"]["model"]["sha256"]
    assert card["evaluation_data"]["sha256"] == saved["manifest"]["files"]["data"]["sha256"]
    assert card["run_digest"] == saved["manifest"].get("run_digest")
    performance = [r for r in saved["results"] if r["family"] == "performance"]
    assert [m["value"] for m in card["metrics"]] == [r["value"] for r in performance]
    for r in performance:
        assert r["id"] in md.replace("\\_", "_")
    fair = {(g["id"], g["evalset"]): g for g in card["group_metrics"]}
    for r in saved["results"]:
        if r["family"] == "fairness" and r["groups"]:
            rows = fair[(r["id"], r["evalset"])]["groups"]
            assert [g["n"] for g in rows] == [g["n"] for g in r["groups"]]


def test_torch_demo_shows_images_as_summaries_not_pixel_tables(tmp_path):
    pytest.importorskip("torch")
    from audit.cli import main

    code = main(["demo", "--torch", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "reports"), "--quiet"])
    assert code == 0
    (folder,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    html = (folder / "report.html").read_text()
    saved = json.loads((folder / "results.json").read_text())
    examples = [t for r in saved["results"] for t in r["details"].get("tables", [])
                if t["title"].startswith("Example adversarial")]
    assert examples and max(len(t["rows"]) for t in examples) > 40  # results.json keeps every pixel
    for table in re.findall(r"<table class=\"details.*?</table>", html, flags=re.S):
        assert table.count("<tr") <= 42  # no per-pixel table in the report
    assert "one row per example" in html
    assert html.count("change per pixel</title>") >= 1
    pages = PdfReader(folder / "report.pdf").pages
    assert len(pages) <= MAX_PAGES
