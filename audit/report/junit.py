"""JUnit XML for CI: one test case per check.

Mapping of verdicts (what a CI server shows):

- PASS → passed; WARN → passed, with a note in ``system-out``;
- FAIL → ``<failure>``; ERROR → ``<error>`` with the traceback;
- SKIPPED → ``<skipped>`` with the reason;
- INCONCLUSIVE → ``<failure>`` only for a blocking check when the policy says
  ``inconclusive_fails``; otherwise passed with a note in ``system-out``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from audit.report._format import family_of, fmt_interval, fmt_num, threshold_text, verdict_str
from audit.results import AuditResult, CheckResult

__all__ = ["render_junit"]


def render_junit(result: AuditResult) -> str:
    """Render the audit as JUnit XML.

    Parameters
    ----------
    result : audit.results.AuditResult
        The audit to report.

    Returns
    -------
    str
        A ``<testsuites>`` document holding one ``<testsuite>`` (named after the
        policy) with one ``<testcase>`` per check; ``tests``, ``failures``,
        ``errors`` and ``skipped`` are counted on both elements.
    """
    inconclusive_fails = bool((result.manifest or {}).get("inconclusive_fails", False))
    suite = ET.Element("testsuite", {"name": result.policy_name})
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for r in result.results:
        kind = _add_case(suite, r, inconclusive_fails)
        if kind:
            counts[kind] += 1
        total_time += r.duration_s or 0.0
    attrs = {"tests": str(len(result.results)), **{k: str(v) for k, v in counts.items()},
             "time": f"{total_time:.3f}"}
    started = (result.manifest or {}).get("started_at")
    suite.attrib.update(attrs)
    if started:
        suite.set("timestamp", str(started))
    root = ET.Element("testsuites", {"name": result.policy_name, **attrs})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _add_case(suite: ET.Element, r: CheckResult, inconclusive_fails: bool) -> str | None:
    """Append one test case; return the counter it adds to ("failures", ...) or None."""
    case = ET.SubElement(suite, "testcase", {
        "classname": r.family or family_of(r.id),
        "name": f"{r.id} [{r.evalset}]",
        "time": f"{r.duration_s or 0.0:.3f}",
    })
    verdict = verdict_str(r.verdict)
    summary = _summary(r)
    if verdict == "FAIL":
        ET.SubElement(case, "failure", {"message": summary, "type": "FAIL"}).text = _body(r)
        return "failures"
    if verdict == "ERROR":
        error = r.error or {}
        message = error.get("message") or r.message or "check raised an error"
        node = ET.SubElement(case, "error", {"message": message, "type": error.get("type", "ERROR")})
        node.text = error.get("traceback") or _body(r)
        return "errors"
    if verdict == "SKIPPED":
        ET.SubElement(case, "skipped", {"message": r.message or "skipped"})
        return "skipped"
    if verdict == "INCONCLUSIVE" and r.blocking and inconclusive_fails:
        ET.SubElement(case, "failure", {"message": summary, "type": "INCONCLUSIVE"}).text = _body(r)
        return "failures"
    if verdict in ("WARN", "INCONCLUSIVE"):
        note = "" if verdict == "WARN" else " (does not fail the audit: "
        if verdict == "INCONCLUSIVE":
            note += "non-blocking)" if not r.blocking else "the policy does not make inconclusive fail)"
        ET.SubElement(case, "system-out").text = f"{summary}{note}\n{_body(r)}"
    return None


def _summary(r: CheckResult) -> str:
    parts = [f"{verdict_str(r.verdict)}: value {fmt_num(r.value)}"]
    if r.interval is not None:
        parts.append(f"interval {fmt_interval(r.interval)}")
    parts.append(f"threshold {threshold_text(r.threshold)}")
    text = ", ".join(parts)
    return f"{text}. {r.message}" if r.message else text


def _body(r: CheckResult) -> str:
    lines = [f"check: {r.id}", f"name: {r.name}", f"evaluation set: {r.evalset}",
             f"value: {fmt_num(r.value)}", f"interval: {fmt_interval(r.interval)}",
             f"n: {fmt_num(r.n)}", f"threshold: {threshold_text(r.threshold)}",
             f"blocking: {'yes' if r.blocking else 'no'}"]
    if r.reference:
        lines.append(f"reference: {r.reference}")
    if r.baseline:
        lines.append("baseline: " + ", ".join(f"{k}={_plain(v)}" for k, v in r.baseline.items()))
    for g in r.groups:
        small = " (small group)" if g.small else ""
        lines.append(f"group {g.group}: n={g.n}, value={fmt_num(g.value)} {fmt_interval(g.interval)}{small}")
    if r.message:
        lines.append(f"message: {r.message}")
    return "\n".join(lines)


def _plain(v: Any) -> str:
    return fmt_num(v) if not isinstance(v, dict | list) else str(v)
