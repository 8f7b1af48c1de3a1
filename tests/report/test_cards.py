"""Cards (audit.report.cards): what a later card leaves out because an earlier one showed it."""

import re

from audit.report import render_html
from audit.report.cards import Seen, _dedupe_columns
from audit.results import AuditResult, CheckResult, GroupValue, Interval, Summary, Verdict

GROUPS = ["sex=F", "sex=M", "race=A", "race=B", "sex=F & race=A", "sex=M & race=B"]


def _table(columns, rows):
    return {"title": "Per-group metrics", "columns": columns, "note": "",
            "rows": [{"cells": [{"text": c, "ci": ""} for c in r]} for r in rows]}


def test_columns_an_earlier_card_showed_for_more_groups_are_left_out():
    seen = Seen()
    first = _table(["group", "rows", "TPR", "FPR"], [[g, str(100 + i), f"0.{i}1", f"0.{i}2"] for i, g in enumerate(GROUPS)])
    assert _dedupe_columns(first, seen, "check-1", "First") == (first, None)
    # the single attributes only (a subset of the rows), the same numbers, and a column of its own
    later = _table(["group", "rows", "TPR", "FPR", "ECE"],
                   [[g, str(100 + i), f"0.{i}1", f"0.{i}2", "0.05"] for i, g in enumerate(GROUPS[:4])])
    kept, where = _dedupe_columns(later, seen, "check-2", "Later")
    assert kept["columns"] == ["group", "ECE"]
    assert [[c["text"] for c in r["cells"]] for r in kept["rows"]] == [[g, "0.05"] for g in GROUPS[:4]]
    assert where == {"anchor": "check-1", "title": "First", "what": "columns rows, TPR, FPR"}
    assert "as in “First”" in kept["note"]


def test_a_column_with_one_new_value_is_kept():
    seen = Seen()
    first = _table(["group", "rows", "TPR", "FPR"], [[g, "100", f"0.{i}1", f"0.{i}2"] for i, g in enumerate(GROUPS)])
    _dedupe_columns(first, seen, "check-1", "First")
    rows = [[g, "100", f"0.{i}1", f"0.{i}2", "1"] for i, g in enumerate(GROUPS)]
    rows[2][2] = "0.99"  # race=A's TPR differs (another evaluation set, say)
    kept, where = _dedupe_columns(_table(["group", "rows", "TPR", "FPR", "gap"], rows), seen, "check-2", "Later")
    assert kept["columns"] == ["group", "TPR", "gap"]  # rows and FPR repeated; TPR is new
    assert where["what"] == "columns rows, FPR"


def test_every_div_a_table_opens_is_closed():
    # Tables of up to 4 columns and 15-30 rows once closed a <div> they had not opened.
    results = []
    for i, n in enumerate((10, 14, 15, 20, 30, 31), start=1):
        groups = [GroupValue(group=f"g{j}", n=100, value=j / 100, interval=Interval(low=0, high=1)) for j in range(n)]
        results.append(CheckResult(id="fairness.demographic_parity_difference", name=f"dp{i}", family="fairness",
                                   evalset="base", verdict=Verdict.PASS, value=0.1, groups=groups,
                                   threshold={"max": 0.5}, params={"sensitive": ["g"]}))
    result = AuditResult(policy_name="p", manifest={}, results=results,
                         summary=Summary(counts={"PASS": len(results)}, decision="PASS", exit_code=0))
    doc = render_html(result)
    for i in range(1, len(results) + 1):
        card = re.search(rf'<article class="[^"]*" id="check-{i}">.*?</article>', doc, flags=re.S).group(0)
        assert card.count("<div") == card.count("</div>"), i
    assert doc.count("<div") == doc.count("</div>")
