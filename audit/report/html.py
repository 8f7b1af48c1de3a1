"""The self-contained HTML report.

One file, no network: CSS is inline, charts are inline SVG, there is no URL in
any attribute, and every user string is escaped by Jinja2's autoescape. The PDF
(:mod:`audit.report.pdf`) is printed from the same HTML.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from audit.report import charts
from audit.report._format import (
    VERDICT_MEANING,
    VERDICT_ORDER,
    family_of,
    fmt_extra,
    fmt_interval,
    fmt_num,
    fmt_time,
    interval_note,
    threshold_text,
    verdict_str,
)
from audit.results import AuditResult, CheckResult

__all__ = ["render_html"]

_TEMPLATES = Path(__file__).parent / "templates"

# Decisions that are not verdict names still get a colour.
_DECISION_CLASS = {
    "approve": "pass", "approved": "pass", "pass": "pass", "passed": "pass", "ok": "pass",
    "reject": "fail", "rejected": "fail", "fail": "fail", "failed": "fail",
}


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,  # every user string (ids, messages, labels, policy text) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["breakable"] = _breakable
    return env


def _breakable(text: Any) -> Markup:
    """Escape, then allow line breaks after the dots of dotted ids (``a.b_c@0.2``)."""
    escaped = escape(str(text))
    return Markup(re.sub(r"([._@])", r"\1<wbr>", str(escaped)))


def render_html(result: AuditResult) -> str:
    """Render the audit as one self-contained HTML page.

    Parameters
    ----------
    result : audit.results.AuditResult
        The audit to report.

    Returns
    -------
    str
        The HTML document. It references no external resource (no ``http:``,
        ``https:`` or ``file:`` URL); user text is escaped.
    """
    return _environment().get_template("report.html.j2").render(**_context(result))


def _context(result: AuditResult) -> dict[str, Any]:
    manifest = dict(result.manifest or {})
    has_baseline = any(r.baseline for r in result.results)
    checks = [_check_view(i, r) for i, r in enumerate(result.results, start=1)]
    families: dict[str, list[dict]] = {}
    for view in checks:
        families.setdefault(view["family"], []).append(view)
    counts = result.summary.counts or {}
    decision = str(result.summary.decision)
    return {
        "policy_name": result.policy_name,
        "schema_version": result.schema_version,
        "date": fmt_time(manifest.get("started_at")),
        "finished": fmt_time(manifest.get("finished_at")),
        "toolkit_version": manifest.get("toolkit_version") or manifest.get("version") or "",
        "decision": decision,
        "decision_class": _verdict_class(decision),
        "exit_code": result.summary.exit_code,
        "blocking_failures": list(result.summary.blocking_failures),
        "counts": [(v, int(counts.get(v, 0)), VERDICT_MEANING[v]) for v in VERDICT_ORDER]
        + [(k, int(n), "") for k, n in counts.items() if k not in VERDICT_ORDER],
        "total": len(result.results),
        "has_baseline": has_baseline,
        "checks": checks,
        "families": list(families.items()),
        "evalsets": _evalset_rows(result.evalsets),
        "manifest": manifest,
        "policy_text": result.policy_text or "",
    }


def _verdict_class(text: str) -> str:
    t = (text or "").strip()
    if t.upper() in VERDICT_ORDER:
        return t.lower()
    if "WARN" in t.upper() or "CONDITION" in t.upper():  # "PASS WITH WARNINGS"
        return "warn"
    return _DECISION_CLASS.get(t.lower().split()[0] if t else "", "neutral")


def _check_view(index: int, r: CheckResult) -> dict[str, Any]:
    verdict = verdict_str(r.verdict)
    threshold = dict(r.threshold or {})
    baseline = dict(r.baseline or {})
    svg = charts.metric_chart(r, uid=f"m{index}")
    detail_charts = []
    for j, chart in enumerate((r.details or {}).get("charts") or [], start=1):
        drawn = charts.chart_svg(chart, uid=f"d{index}-{j}")
        title = chart.get("title", "") if isinstance(chart, dict) else ""
        kind = chart.get("kind", "?") if isinstance(chart, dict) else "?"
        detail_charts.append({"svg": Markup(drawn) if drawn else None, "title": title, "kind": kind})
    return {
        "anchor": f"check-{index}",
        "id": r.id,
        "name": r.name if r.name and r.name != r.id else "",
        "family": r.family or family_of(r.id),
        "evalset": r.evalset,
        "verdict": verdict,
        "vclass": verdict.lower(),
        "blocking": r.blocking,
        "threshold": threshold_text(threshold),
        "reference": r.reference or threshold.get("reference") or "",
        "value": fmt_num(r.value),
        "interval": fmt_interval(r.interval),
        "interval_note": interval_note(r.interval),
        "n": fmt_num(r.n),
        "duration": f"{r.duration_s:.2f} s",
        "message": r.message or "",
        "params": json.dumps(r.params, sort_keys=True, default=str) if r.params else "",
        "chart": Markup(svg) if svg else None,
        "baseline": bool(baseline),
        "baseline_value": fmt_num(baseline.get("baseline_value")) if baseline else "",
        "change": _signed(baseline.get("change")) if baseline else "",
        "regressed": bool(baseline.get("regressed")),
        "baseline_extra": {k: _plain(v) for k, v in baseline.items()
                           if k not in ("baseline_value", "change", "regressed") and v is not None},
        "groups": _groups_table(r),
        "tables": [_table_view(t) for t in (r.details or {}).get("tables") or [] if isinstance(t, dict)],
        "charts": detail_charts,
        "error": _error_view(r.error),
    }


def _signed(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
        return "+" + fmt_num(v)
    return fmt_num(v)


def _groups_table(r: CheckResult) -> dict[str, Any] | None:
    if not r.groups:
        return None
    extra_keys: list[str] = []
    for g in r.groups:
        extra_keys += [k for k in g.extra if k not in extra_keys]
    rows = []
    for g in r.groups:
        cells = [_gcell(g.n), _gcell(g.value), {"text": fmt_interval(g.interval), "ci": "", "num": True}]
        cells += [_gcell(g.extra[k]) if k in g.extra else _gcell(None) for k in extra_keys]
        rows.append({"group": g.group, "cells": cells, "small": g.small})
    return {"columns": ["n", "value", "interval", *extra_keys], "rows": rows,
            "any_small": any(g.small for g in r.groups)}


def _gcell(v: Any) -> dict[str, Any]:
    """A per-group cell: the number, and its interval (on its own line) if it has one."""
    if isinstance(v, dict) and "value" in v:
        ci = fmt_interval(v) if (v.get("low") is not None or v.get("high") is not None) else ""
        return {"text": fmt_num(v.get("value")), "ci": ci, "num": True}
    numeric = v is None or (isinstance(v, int | float) and not isinstance(v, bool))
    return {"text": fmt_extra(v), "ci": "", "num": numeric}


def _table_view(t: dict) -> dict[str, Any]:
    flagged = set(t.get("flag_rows") or [])
    rows = []
    for i, row in enumerate(t.get("rows") or []):
        cells = [{"text": _cell(c), "num": isinstance(c, int | float) and not isinstance(c, bool)}
                 for c in (row if isinstance(row, list | tuple) else [row])]
        rows.append({"cells": cells, "flag": i in flagged})
    return {"title": t.get("title", ""), "columns": [str(c) for c in t.get("columns") or []],
            "rows": rows}


def _cell(c: Any) -> str:
    if isinstance(c, dict | list):
        return fmt_extra(c)
    return fmt_num(c)


def _error_view(error: dict | None) -> dict[str, Any] | None:
    if not error:
        return None
    fields = {k: v for k, v in error.items() if k != "traceback"}
    return {"fields": fields, "traceback": error.get("traceback") or ""}


def _evalset_rows(evalsets: dict[str, dict]) -> list[dict[str, str]]:
    known = ("kind", "rows", "seed", "description", "params")
    rows = []
    for name, info in (evalsets or {}).items():
        info = info if isinstance(info, dict) else {"description": info}
        other = []
        for k, v in info.items():
            if k in known:
                continue
            if isinstance(v, dict):  # e.g. meta["report"]: its facts, one per line
                other += [f"{kk}: {_plain(vv)}" for kk, vv in v.items()]
            else:
                other.append(f"{k}: {_plain(v)}")
        params = info.get("params")
        rows.append({
            "name": name,
            "kind": str(info.get("kind", "")),
            "rows": fmt_num(info.get("rows")),
            "seed": "—" if info.get("seed") is None else str(info.get("seed")),  # no separators
            "description": str(info.get("description") or ""),
            "params": ", ".join(f"{k}={_plain(v)}" for k, v in params.items())
            if isinstance(params, dict) else _plain(params),
            "other": other,
        })
    return rows


def _plain(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return fmt_num(v)
