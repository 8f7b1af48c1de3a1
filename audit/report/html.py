"""The self-contained HTML report.

One file, no network: CSS is inline, charts are inline SVG, there is no URL in any
attribute, and every user string is escaped by Jinja2's autoescape. The PDF
(:mod:`audit.report.pdf`) is printed from the same HTML.

Order of the report (docs/report.md): the decision and what was audited (identity), the
sign-off bound to the run digest, policy provenance, the checks at a glance, the
regulation matrix (when the policy declares frameworks), one card per check grouped by
family, the evaluation sets, technical details, the methods appendix and the policy text.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from audit.report._format import (
    fmt_count,
    fmt_interval,
    fmt_time,
    fmt_value,
    plain,
    shorten,
    threshold_text,
    unit_of,
    verdict_str,
)
from audit.report.appendix import matrix_view, methods_view
from audit.report.cards import Seen, check_view
from audit.report.identity import decision_view, identity_view, provenance_view, technical_view
from audit.results import AuditResult

__all__ = ["render_html", "MAX_POLICY_TEXT"]

_TEMPLATES = Path(__file__).parent / "templates"
MAX_POLICY_TEXT = 40_000  # characters of the policy appendix; the whole text is in results.json
MAX_EVALSET_FACTS = 240  # an attack's full record is in its check's "Attacks used" table and results.json


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
    """Escape, then allow line breaks after the dots, underscores and @ of ids (``a.b_c@0.2``)."""
    escaped = escape(str(text))
    return Markup(re.sub(r"([._@/])", r"\1<wbr>", str(escaped)))


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
        ``https:`` or ``file:`` URL); user text is escaped; long strings and long
        per-group tables are shortened (results.json keeps every value).
    """
    return _environment().get_template("report.html.j2").render(**_context(result))


def _context(result: AuditResult) -> dict[str, Any]:
    from audit.compliance import methods

    manifest = dict(result.manifest or {})
    seen = Seen()
    checks = [check_view(i, r, seen) for i, r in enumerate(result.results, start=1)]
    fam_titles = {k: f.title for k, f in methods().families.items()}
    families: dict[str, list[dict]] = {}
    for view in checks:
        families.setdefault(view["family"], []).append(view)
    anchors = {(r.id, r.name, r.evalset): f"check-{i}" for i, r in enumerate(result.results, start=1)}
    identity = identity_view(result)
    title = shorten(result.policy_name, 200)
    model = shorten(identity["model_name"], 120)
    return {
        "policy_name": title,
        "model_name": model,
        "schema_version": result.schema_version,
        "date": fmt_time(manifest.get("started_at")),
        "created_iso": str(manifest.get("started_at") or ""),
        "toolkit_version": str(manifest.get("toolkit_version") or manifest.get("version") or ""),
        "summary": decision_view(result),
        "identity": identity,
        "provenance": provenance_view(result),
        "has_baseline": any(r.baseline for r in result.results),
        "overview": [_overview_row(i, r, v) for i, (r, v) in enumerate(zip(result.results, checks, strict=True),
                                                                          start=1)],
        "checks": checks,
        "families": [(fam_titles.get(f, f.capitalize()), items) for f, items in families.items()],
        "matrix": matrix_view(result, anchors),
        "evalsets": _evalset_rows(result.evalsets),
        "technical": technical_view(result),
        "methods": methods_view(result),
        "policy_text": shorten(result.policy_text or "", MAX_POLICY_TEXT),
        "keywords": ", ".join(x for x in (shorten(result.policy_name, 200), identity["digest"]) if x),
        "subject": _subject(result, identity),
    }


def _subject(result: AuditResult, identity: dict) -> str:
    s = result.summary
    model = f" of {identity['model_name']}" if identity["model_name"] else ""
    return shorten(f"Model audit{model} against policy {result.policy_name}: {s.decision} "
                   f"(exit code {s.exit_code})", 400)


def _overview_row(index: int, r, view: dict) -> dict[str, Any]:
    unit = unit_of(r.id, r.unit)
    baseline = dict(r.baseline or {})
    return {
        "anchor": view["anchor"], "title": view["title"], "id": r.id, "evalset": view["evalset"],
        "threshold": threshold_text(r.threshold, unit), "value": fmt_value(r.value, unit),
        "interval": fmt_interval(r.interval), "verdict": verdict_str(r.verdict),
        "vclass": verdict_str(r.verdict).lower(), "blocking": r.blocking,
        "baseline_value": view["baseline_value"], "change": view["change"], "regressed": view["regressed"],
        "has_baseline_value": bool(baseline),
    }


_EVALSET_SKIP = {"kind", "rows", "seed", "description", "params", "built_on"}


def _evalset_rows(evalsets: dict[str, dict]) -> list[dict[str, str]]:
    """One compact row per evaluation set: name, kind, rows, seed, description, facts on one line."""
    rows = []
    for name, info in (evalsets or {}).items():
        info = info if isinstance(info, dict) else {"description": info}
        facts = []
        params = info.get("params") if isinstance(info.get("params"), dict) else {}
        facts += [f"{k}={plain(v, 120)}" for k, v in params.items() if v is not None]
        for k, v in info.items():
            if k in _EVALSET_SKIP or v is None or k in params:
                continue
            if isinstance(v, dict):  # e.g. meta["report"]: its facts, inline
                facts += [f"{kk}={plain(vv, 120)}" for kk, vv in v.items() if vv is not None]
            else:
                facts.append(f"{k}={plain(v, 120)}")
        rows.append({
            "name": shorten(name, 120),
            "kind": shorten(str(info.get("kind", "")), 80),
            "rows": fmt_count(info.get("rows")) if info.get("rows") is not None else "—",
            "seed": "—" if info.get("seed") is None else str(info.get("seed")),  # no separators
            "built_on": shorten(str(info.get("built_on") or ""), 80),
            "description": shorten(str(info.get("description") or ""), 600),
            "facts": shorten(" · ".join(facts), MAX_EVALSET_FACTS),
        })
    return rows

