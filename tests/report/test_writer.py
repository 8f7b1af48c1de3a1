"""Report folder: new per run, complete, atomic."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from audit.report import writer
from audit.report.writer import report_folder_name, write_report
from audit.results import AuditResult

from .conftest import build_result


def test_folder_name_from_policy_and_utc_start():
    result = build_result()
    result.policy_name = "Credit Scoring / v2"
    result.manifest["started_at"] = "2026-11-28T16:30:05+01:00"  # 15:30:05 UTC
    assert report_folder_name(result) == "credit-scoring-v2-20261128T153005Z"


def test_folder_name_names_the_model():
    result = build_result()
    result.policy_name = "Credit Scoring"
    result.manifest["started_at"] = "2026-11-28T15:30:05Z"
    result.manifest["model_name"] = "Candidate B.v2"
    assert report_folder_name(result) == "credit-scoring-candidate-b-v2-20261128T153005Z"
    result.manifest["model_name"] = None  # predictions-only: no model label
    assert report_folder_name(result) == "credit-scoring-20261128T153005Z"


def test_two_calls_make_two_folders_with_every_file(tmp_path):
    result = build_result()
    first = write_report(result, tmp_path, pdf=False)
    second = write_report(result, tmp_path, pdf=False, policy_text="version: 1\nname: other\n")
    assert first != second
    assert first.name == report_folder_name(result)
    assert second.name == first.name + "-2"
    for folder in (first, second):
        assert {p.name for p in folder.iterdir()} == {"results.json", "report.html", "junit.xml",
                                                      "policy.yaml"}
    # results.json round-trips to the same result
    again = AuditResult.model_validate(json.loads((first / "results.json").read_text()))
    assert again == result
    ET.fromstring((first / "junit.xml").read_bytes())
    assert (first / "policy.yaml").read_text() == result.policy_text
    assert (second / "policy.yaml").read_text() == "version: 1\nname: other\n"
    assert json.loads((second / "results.json").read_text())["policy_text"] == "version: 1\nname: other\n"
    assert "name: other" in (second / "report.html").read_text()
    assert result.policy_text != "version: 1\nname: other\n"  # the caller's object is untouched
    # no temporary folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name])


def test_existing_folder_is_never_overwritten(tmp_path):
    result = build_result()
    taken = tmp_path / report_folder_name(result)
    taken.mkdir()  # even an empty folder (which rename would silently replace) is kept
    (tmp_path / (taken.name + "-2")).mkdir()
    folder = write_report(result, tmp_path, pdf=False)
    assert folder.name == taken.name + "-3"
    assert list(taken.iterdir()) == []


def test_crash_leaves_no_folder_under_the_final_name(tmp_path, monkeypatch):
    import audit.report.pdf

    def boom(html, path=None, **kwargs):
        (path.parent / "report.pdf").write_bytes(b"%PDF-half")  # half-written output
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(audit.report.pdf, "render_pdf", boom)
    with pytest.raises(RuntimeError, match="printer on fire"):
        write_report(build_result(), tmp_path, pdf=True)
    assert list(tmp_path.iterdir()) == []
    assert writer.report_folder_name(build_result())  # module still usable


def test_full_report_with_pdf(tmp_path):
    small = build_result()
    small.results = small.results[:1]  # one check: the PDF itself is tested in test_pdf.py
    folder = write_report(small, tmp_path / "new" / "dir")
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert folder.parent == tmp_path / "new" / "dir"
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "policy.yaml", "report.html",
                                                        "report.pdf", "results.json"]
