"""A compact HTML view of a result for Jupyter (``Result._repr_html_``).

The decision, the verdict counts and one table of the checks; every string
escaped, no links, no scripts, no external resources. The full report is
``result.write_report(folder)``.
"""

from __future__ import annotations

from html import escape

from audit.results import AuditResult
from audit.verdict import threshold_text

__all__ = ["summary_html"]

_COLOURS = {"PASS": "#2e7d4f", "WARN": "#9a6b00", "FAIL": "#b3261e", "INCONCLUSIVE": "#5b5b9a",
            "ERROR": "#b3261e", "SKIPPED": "#666666"}


def _num(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def summary_html(result: AuditResult) -> str:
    """The decision, counts and checks of ``result`` as a small, self-contained HTML fragment."""
    s = result.summary
    counts = " · ".join(f"{k} {v}" for k, v in s.counts.items() if v)
    rows = []
    for r in result.results:
        iv = r.interval
        interval = "—" if iv is None or iv.low is None else f"{_num(iv.low)} – {_num(iv.high)}"
        colour = _COLOURS.get(r.verdict.value, "#000")
        rows.append(
            "<tr>"
            f"<td>{escape(r.name)}<br><small style='color:#666'>{escape(r.id)} on {escape(r.evalset)}</small></td>"
            f"<td style='color:{colour};font-weight:bold'>{escape(r.verdict.value)}</td>"
            f"<td style='text-align:right'>{_num(r.value)}</td><td>{escape(interval)}</td>"
            f"<td>{escape(threshold_text(r.threshold)) if r.threshold else ''}"
            f"{'' if r.blocking else ' (non-blocking)'}</td></tr>")
    model = (result.manifest or {}).get("model_name")
    title = escape(result.policy_name + (f" — {model}" if model else ""))
    return (
        "<div class='audit-result'>"
        f"<p><strong>{title}</strong>: decision <strong style='color:{_COLOURS.get(s.decision.split()[0], '#000')}'>"
        f"{escape(s.decision)}</strong> (exit code {s.exit_code}); {escape(counts)}</p>"
        "<table><thead><tr><th>check</th><th>verdict</th><th>value</th><th>interval</th><th>threshold</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")
