"""The model card of the demo audit: its numbers are results.json's, its JSON round-trips,
and user text cannot break its Markdown."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from audit.compliance import methods
from audit.report.model_card import FORMAT, model_card, render_model_card
from audit.results import AuditResult, CheckResult, GroupValue, Interval, Summary, Verdict
from tests._demo_result import demo_results_json


@pytest.fixture(scope="module")
def demo():
    raw = demo_results_json()
    md, data = model_card(AuditResult.model_validate(raw))
    return raw, md, data


def _rows_by_family(data):
    return {"performance": data["metrics"], **data["quantitative_analyses"]}


def test_every_check_appears_once_with_results_json_numbers(demo):
    raw, _, data = demo
    by_family = _rows_by_family(data)
    seen = {fam: 0 for fam in by_family}
    for r in raw["results"]:
        row = by_family[r["family"]][seen[r["family"]]]
        seen[r["family"]] += 1
        assert (row["id"], row["evalset"], row["verdict"]) == (r["id"], r["evalset"], r["verdict"])
        assert row["value"] == r["value"] and row["n"] == r["n"]
        iv = r["interval"] or {}
        assert (row["low"], row["high"], row["level"], row["interval_method"]) == (
            iv.get("low"),
            iv.get("high"),
            iv.get("level"),
            iv.get("method"),
        )
        assert row["blocking"] == r["blocking"] and row["message"] == r["message"]
    assert sum(seen.values()) == len(raw["results"])


def test_titles_are_the_policy_names_or_the_methods_names(demo):
    raw, _, data = demo
    rows = [row for fam in _rows_by_family(data).values() for row in fam]
    for row in rows:
        r = next(
            x
            for x in raw["results"]
            if x["id"] == row["id"]
            and x["evalset"] == row["evalset"]
            and x["message"] == row["message"]
        )
        expected = r["name"] if r["name"] != r["id"] else methods().check(r["id"]).name
        assert row["name"] == expected


def test_per_group_values_and_rates_equal_results_json(demo):
    raw, _, data = demo
    fairness = [r for r in raw["results"] if r["family"] == "fairness" and r["groups"]]
    assert len(data["group_metrics"]) == len(fairness) >= 2
    for gm, r in zip(data["group_metrics"], fairness, strict=True):
        assert gm["id"] == r["id"]
        for g, expected in zip(gm["groups"], r["groups"], strict=True):
            assert (g["group"], g["n"], g["value"], g["small"]) == (
                expected["group"],
                expected["n"],
                expected["value"],
                expected["small"],
            )
            assert (g["low"], g["high"]) == (
                expected["interval"]["low"],
                expected["interval"]["high"],
            )
    rates = data["group_rates"]
    first = fairness[0]
    assert rates["id"] == first["id"]
    for row, g in zip(rates["rows"], first["groups"], strict=True):
        for k in ("base_rate", "selection_rate", "tpr", "fpr", "precision"):
            assert row[k] == {x: g["extra"][k][x] for x in ("value", "low", "high")}


def test_factors_data_and_model_details_equal_the_manifest(demo):
    raw, _, data = demo
    files = raw["manifest"]["files"]
    assert data["model_details"]["sha256"] == files["model"]["sha256"]
    assert data["model_details"]["audited_at"] == raw["manifest"]["started_at"]
    ev = data["evaluation_data"]
    assert (ev["path"], ev["sha256"], ev["rows"]) == (
        files["data"]["path"],
        files["data"]["sha256"],
        files["data"]["rows"],
    )
    assert [e["name"] for e in ev["evaluation_sets"]] == list(raw["evalsets"])
    td = data["training_data"]
    assert td["known"] and td["sha256"] == files["reference"]["sha256"] and td["rows"] == 6000
    policy = yaml.safe_load(raw["policy_text"])
    assert (
        data["factors"]["sensitive_columns"] == policy["data"]["sensitive"] == ["sex", "age_band"]
    )
    assert data["intended_use"]["description"] == " ".join(policy["description"].split())
    rows_base = raw["evalsets"]["base"]["rows"]
    by_col = {}
    for g in data["factors"]["groups"]:
        assert g["share"] == pytest.approx(g["n"] / rows_base)
        by_col.setdefault(g["group"].split("=")[0], 0)
        by_col[g["group"].split("=")[0]] += g["n"]
    assert by_col == {
        "sex": rows_base,
        "age_band": rows_base,
    }  # each column's groups cover every row


def test_summary_ethics_and_caveats_follow_the_verdicts(demo):
    raw, md, data = demo
    assert data["summary"]["counts"] == raw["summary"]["counts"]
    assert data["summary"]["blocking_failures"] == raw["summary"]["blocking_failures"]
    failing_fairness = [
        r for r in raw["results"] if r["family"] == "fairness" and r["verdict"] == "FAIL"
    ]
    for r in failing_fairness:
        assert any(
            line.startswith(r["name"] if r["name"] != r["id"] else methods().check(r["id"]).name)
            for line in data["ethical_considerations"]
        )
    listed = {(c["id"], c["evalset"], c["verdict"]) for c in data["caveats"]}
    expected = {
        (r["id"], r["evalset"], r["verdict"])
        for r in raw["results"]
        if r["verdict"] in ("INCONCLUSIVE", "SKIPPED", "ERROR")
        or (r["verdict"] == "FAIL" and not r["blocking"])
    }
    assert listed == expected
    # The runner records the run digest (results schema 1.2); the card prints it as recorded.
    assert data["run_digest"] == raw["manifest"]["run_digest"] and f"`{raw['manifest']['run_digest']}`" in md


def _table_after(md: str, heading: str) -> list[list[str]]:
    lines = md.split("\n")
    i = lines.index(heading)
    while not lines[i].startswith("|"):
        i += 1
    rows = []
    for line in lines[i + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_markdown_metrics_table_shows_results_json_numbers(demo):
    raw, md, _ = demo
    perf = [r for r in raw["results"] if r["family"] == "performance"]
    rows = _table_after(md, "## Metrics")
    assert len(rows) == len(perf)
    for cells, r in zip(rows, perf, strict=True):
        check, evalset, value, interval, method, verdict, threshold = cells
        assert r["id"].replace("_", "\\_") in check
        assert evalset.replace("\\", "") == r["evalset"]
        assert _number(value) == pytest.approx(r["value"], rel=5e-4)
        lo, hi = (_number(x) for x in interval.strip("[]").split(", "))
        assert lo == pytest.approx(r["interval"]["low"], rel=5e-4)
        assert hi == pytest.approx(r["interval"]["high"], rel=5e-4)
        assert method == r["interval"]["method"] and verdict == r["verdict"]
        if r["threshold"].get("min") is not None:
            assert f"≥ {r['threshold']['min']:.4g}" in threshold


def test_markdown_per_group_table_shows_results_json_numbers(demo):
    raw, md, _ = demo
    dpr = next(r for r in raw["results"] if r["id"] == "fairness.demographic_parity_ratio")
    heading = next(
        line
        for line in md.split("\n")
        if line.startswith("### Per group:") and "demographic" in line
    )
    rows = _table_after(md, heading)
    for cells, g in zip(rows, dpr["groups"], strict=True):
        assert cells[0].replace("\\", "").replace("&lt;", "<") == g["group"]
        assert int(cells[1]) == g["n"]
        assert _number(cells[2]) == pytest.approx(g["value"], rel=5e-4)


def test_json_round_trip_renders_the_same_markdown(demo):
    _, md, data = demo
    back = json.loads(json.dumps(data, allow_nan=False))
    assert back == data
    assert back["format"] == FORMAT
    assert render_model_card(back) == md


def _tiny(**manifest) -> AuditResult:
    evil = "<script>alert(1)</script> | `x` *y* [z](http://evil.example)"
    results = [
        CheckResult(
            id="fairness.selection_rate",
            name=evil,
            family="fairness",
            evalset="base",
            verdict=Verdict.INCONCLUSIVE,
            value=0.3,
            interval=Interval(low=0.2, high=0.4),
            message=f"1 group(s) below min_group_size=30: {evil} (n=3)",
            groups=[GroupValue(group=f"sex={evil}", n=3, value=0.3, small=True)],
        ),
        CheckResult(
            id="latency.p95_ms",
            name="latency.p95_ms",
            family="latency",
            evalset="base",
            verdict=Verdict.SKIPPED,
            message="needs a live model; this is a predictions-only audit",
        ),
        CheckResult(
            id="performance.accuracy",
            name="performance.accuracy",
            family="performance",
            evalset="base",
            verdict=Verdict.ERROR,
            message="ValueError: boom",
            error={"type": "ValueError", "message": "boom", "traceback": "..."},
        ),
    ]
    return AuditResult(
        policy_name="tiny",
        manifest=dict(manifest),
        results=results,
        evalsets={"base": {"kind": "base", "rows": 10, "description": evil}},
        summary=Summary(
            counts={"INCONCLUSIVE": 1, "SKIPPED": 1, "ERROR": 1},
            decision="PASS WITH WARNINGS",
            exit_code=0,
        ),
        policy_text="version: 1\nname: tiny\ndata: {path: x.csv, target: y, sensitive: [sex]}\n",
    )


def test_caveats_give_reasons_and_the_run_digest_is_shown():
    md, data = model_card(_tiny(run_digest="sha256:0123abcd"))
    caveats = {c["verdict"]: c for c in data["caveats"]}
    assert caveats["SKIPPED"]["reason"] == "needs a live model; this is a predictions-only audit"
    assert caveats["ERROR"]["reason"] == "boom"
    assert caveats["INCONCLUSIVE"]["reason"].startswith("1 group(s) below min_group_size=30")
    assert data["run_digest"] == "sha256:0123abcd" and "`sha256:0123abcd`" in md
    assert data["training_data"] == {"known": False}
    assert data["factors"]["model_inputs"] is None  # no model: a predictions-only audit
    assert "The policy states no description of the intended use." in md


def test_user_text_cannot_inject_html_or_break_tables():
    md, _ = model_card(_tiny())
    assert "<script>" not in md
    assert not re.search(r"(?<!\\)\]\(", md), "an unescaped '](' would make a link"
    assert not re.search(r"(?<!\\)`x", md), "an unescaped backtick would open a code span"
    # A pipe in user text is escaped, so every table keeps its number of columns.
    assert [len(r) for r in _table_after(md, "## Caveats and recommendations")] == [5, 5, 5]
    assert [len(r) for r in _table_after(md, "## Evaluation data")] == [4]
    per_group = next(line for line in md.split("\n") if line.startswith("### Per group:"))
    assert [len(r) for r in _table_after(md, per_group)] == [6]
