"""Markdown documentation generated from the YAML catalogues (docs/methods.md, docs/compliance.md).

The YAML files are the single source; the Markdown is regenerated with
``python -m audit.compliance docs`` and a test fails when the committed files differ.
"""

from __future__ import annotations

from audit.compliance._frameworks import DISCLAIMER, STATUSES, Evidence, Framework
from audit.compliance._methods import MethodsCatalog

__all__ = ["render_methods_markdown", "render_compliance_markdown", "GENERATED_NOTE"]

GENERATED_NOTE = (
    "<!-- Generated from audit/compliance/{src} by `python -m audit.compliance docs`. "
    "Do not edit by hand: edit the YAML and regenerate (a test compares the two). -->"
)


def _cell(text: str) -> str:
    # A table cell is one line and a pipe would end it.
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _refs(keys: list[str]) -> str:
    return ", ".join(f"[{k}](#ref-{_anchor(k)})" for k in keys) or "none"


def _intervals(labels: list[str]) -> str:
    return ", ".join(f"[`{x}`](#interval-{_anchor(x)})" for x in labels) or "none"


def render_methods_markdown(cat: MethodsCatalog) -> str:
    """``docs/methods.md``: decision rules, interval methods, every check by family, references."""
    out = [
        "# Methods reference",
        "",
        GENERATED_NOTE.format(src="methods.yaml"),
        "",
        "What every registered check measures, how it is computed, which confidence interval it "
        "carries, how the policy's threshold turns it into a verdict, how to read it, its "
        "limitations and where the method comes from. The same content is available from Python "
        "as `audit.compliance.methods()` (the report uses the names and the how-to-read lines).",
        "",
        "- [How a value becomes a verdict](#how-a-value-becomes-a-verdict)",
        "- [Interval methods](#interval-methods)",
    ]
    out += [f"- [{f.title}](#family-{_anchor(k)})" for k, f in cat.families.items()]
    out += ["- [References](#references)", "", "## How a value becomes a verdict", ""]
    out += [f"- {rule}" for rule in cat.decision_rules]
    out += [
        "",
        "## Interval methods",
        "",
        "Every `interval.method` label that results.json can carry.",
        "",
        "| label | method |",
        "|---|---|",
    ]
    out += [
        f"| [`{k}`](#interval-{_anchor(k)}) | {_cell(v.name)} |" for k, v in cat.intervals.items()
    ]
    for k, v in cat.intervals.items():
        out += [
            "",
            f'<a id="interval-{_anchor(k)}"></a>',
            "",
            f"### `{k}`: {v.name}",
            "",
            f"- **How:** {v.what}",
            f"- **Exact when:** {v.exact_when}",
            f"- **Approximation error:** {v.approximation}",
            f"- **References:** {_refs(v.citations)}",
        ]
    for fam, f in cat.families.items():
        members = [c for c in cat.checks.values() if c.family == fam]
        out += [
            "",
            f'<a id="family-{_anchor(fam)}"></a>',
            "",
            f"## {f.title}",
            "",
            f.intro,
            "",
            "| check | name | interval | per group |",
            "|---|---|---|---|",
        ]
        out += [
            f"| [`{c.id}`](#check-{_anchor(c.id)}) | {_cell(c.name)} | {_intervals(c.intervals)} | "
            f"{_intervals(c.group_intervals)} |"
            for c in members
        ]
        for c in members:
            out += [
                "",
                f'<a id="check-{_anchor(c.id)}"></a>',
                "",
                f"### `{c.id}`: {c.name}",
                "",
                f"- **Measures:** {c.measures}",
                f"- **Formula:** {c.formula}",
                f"- **Estimator:** {c.estimator}",
                f"- **Interval:** {_intervals(c.intervals)}; "
                f"per group: {_intervals(c.group_intervals)}",
                f"- **Decision:** {c.decision}",
                f"- **How to read:** {c.how_to_read}",
            ]
            if c.group_value:
                out.append(f"- **Per group:** {c.group_value}")
            out.append("- **Limitations:**")
            out += [f"  - {x}" for x in c.limitations] or ["  - none recorded"]
            out += [f"- **References:** {_refs(c.citations)}"]
    out += ["", "## References", ""]
    for k, text in sorted(cat.citations.items()):
        out += [f'- <a id="ref-{_anchor(k)}"></a>**{k}**: {text}']
    return "\n".join(out) + "\n"


def _conditions(e: Evidence) -> str:
    parts = []
    for key, allowed in e.params.items():
        parts.append(f"`params.{key}` is {' or '.join(f'`{a}`' for a in allowed)}")
    if e.intersectional:
        parts.append("the groups include intersectional ones")
    if e.threshold_min_at_least is not None:
        parts.append(f"the threshold's `min` is at least {e.threshold_min_at_least:g}")
    if e.threshold_max_at_most is not None:
        parts.append(f"the threshold's `max` is at most {e.threshold_max_at_most:g}")
    if e.evalset_kinds:
        kinds = " or ".join(f"`{k}*`" for k in e.evalset_kinds)
        parts.append(f"it ran on an evaluation set of kind {kinds}")
    return f" (counted only when {' and '.join(parts)})" if parts else ""


def _framework_md(fw: Framework) -> list[str]:
    out = [
        "",
        f"## {fw.title} (`{fw.id}`)",
        "",
        f"{fw.citation}" + (f" <{fw.url}>" if fw.url else ""),
    ]
    if fw.note:
        out += ["", fw.note]
    out += ["", "| clause | coverage | evidencing checks |", "|---|---|---|"]
    for c in fw.clauses:
        checks = ", ".join(f"`{p}`" for p in c.check_patterns()) or "none"
        out.append(f"| {_cell(c.clause)} | {c.coverage} | {_cell(checks)} |")
    for c in fw.clauses:
        out += [
            "",
            f"### {c.clause}",
            "",
            f"- **Where:** {c.location}",
            f"- **Requirement:** {c.requirement}",
            f"- **Coverage:** {c.coverage}" + (f". {c.note}" if c.note else ""),
        ]
        if c.evidence:
            out.append("- **Evidence** (each item needs one result of any of its checks):")
            out += [
                f"  - {e.what}: {', '.join(f'`{p}`' for p in e.checks)}{_conditions(e)}"
                for e in c.evidence
            ]
        else:
            out.append("- **Evidence:** none that an audit run computes.")
    if fw.not_mapped:
        out += ["", "Not in the matrix:", ""]
        out += [f"- {n.clause}: {n.reason}" for n in fw.not_mapped]
    return out


def render_compliance_markdown(fws: dict[str, Framework]) -> str:
    """``docs/compliance.md``: how the matrix is built, then every framework and clause."""
    out = [
        "# Regulation matrix",
        "",
        GENERATED_NOTE.format(src="frameworks.yaml"),
        "",
        f"> **{DISCLAIMER}**",
        "",
        "`audit.compliance.matrix(result, framework_ids)` maps one audit result onto the clauses "
        "below: for each clause, the check results that evidence it, their verdicts, and a status. "
        "Framework ids: " + ", ".join(f"`{k}`" for k in fws) + ".",
        "",
        "A result counts as evidence for an item when its check id matches one of the item's "
        "checks, it meets the item's conditions, and it reached a verdict (PASS, WARN or FAIL). "
        "INCONCLUSIVE, ERROR and SKIPPED results are listed with the reason they do not count. "
        "A FAIL counts as evidence (the examination was made) and sets the row's `outcome` to "
        "`fail`.",
        "",
        "| status | meaning |",
        "|---|---|",
    ]
    out += [f"| `{k}` | {_cell(v)} |" for k, v in STATUSES.items()]
    out += [
        "",
        "Coverage is how much of a clause an audit run can evidence at best: `full` (the clause "
        "asks for a computation the checks perform), `partial` (the note says what is left to the "
        "user), `none` (nothing the audit computes evidences it). A partial clause is never "
        "`evidenced`.",
    ]
    for fw in fws.values():
        out += _framework_md(fw)
    return "\n".join(out) + "\n"
