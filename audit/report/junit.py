"""JUnit XML for CI: one test case per check, failing exactly when the audit fails.

Test cases are named after the checks as the policy names them (``name:``, else the
id) with their evaluation set, ``"<name> [<evalset>]"``, the key the Python API's
``Result.verdicts`` uses; a name used twice gets ``#2``, ``#3`` ... so every case is
unique. The class name is the check's family.

Mapping of verdicts (what a CI server shows): a case is a ``<failure>`` or an
``<error>`` only when it fails the audit (exit code 1), so CI turns red exactly
when ``audit run`` exits 1.

- PASS → passed;
- blocking FAIL → ``<failure>``; blocking ERROR → ``<error>`` with the traceback;
- blocking INCONCLUSIVE → ``<failure>`` when the policy says ``inconclusive_fails``;
- SKIPPED → ``<skipped>`` with the reason;
- WARN, non-blocking FAIL / ERROR, INCONCLUSIVE that does not gate → passed, with the
  verdict and why it does not fail the audit in ``<system-out>``.

Every case carries ``<properties>``: ``verdict``, ``blocking``, ``check_id``,
``evalset`` and ``value``; the suite carries the audit's ``decision``, ``reason``,
``exit_code`` and ``run_digest``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from audit.report._format import family_of, fmt_interval, fmt_num, threshold_text, verdict_str
from audit.results import AuditResult, CheckResult

__all__ = ["render_junit", "case_names"]


def case_names(result: AuditResult) -> list[str]:
    """The unique test-case name of each check: ``"<name> [<evalset>]"``, ``#2`` ... on repeats."""
    seen: set[str] = set()
    out = []
    for r in result.results:
        key = f"{r.name or r.id} [{r.evalset}]"
        name, i = key, 2
        while name in seen:
            name, i = f"{key} #{i}", i + 1
        seen.add(name)
        out.append(name)
    return out


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
    manifest = result.manifest or {}
    inconclusive_fails = bool(manifest.get("inconclusive_fails", False))
    suite = ET.Element("testsuite", {"name": result.policy_name})
    props = ET.SubElement(suite, "properties")
    s = result.summary
    for k, v in (("decision", s.decision), ("reason", s.reason), ("exit_code", s.exit_code),
                 ("run_digest", manifest.get("run_digest")), ("model", manifest.get("model_name"))):
        if v not in (None, ""):
            ET.SubElement(props, "property", {"name": k, "value": str(v)})
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for r, name in zip(result.results, case_names(result), strict=True):
        kind = _add_case(suite, r, name, inconclusive_fails)
        if kind:
            counts[kind] += 1
        total_time += r.duration_s or 0.0
    attrs = {"tests": str(len(result.results)), **{k: str(v) for k, v in counts.items()},
             "time": f"{total_time:.3f}"}
    started = manifest.get("started_at")
    suite.attrib.update(attrs)
    if started:
        suite.set("timestamp", str(started))
    root = ET.Element("testsuites", {"name": result.policy_name, **attrs})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _add_case(suite: ET.Element, r: CheckResult, name: str, inconclusive_fails: bool) -> str | None:
    """Append one test case; return the counter it adds to ("failures", ...) or None."""
    case = ET.SubElement(suite, "testcase", {
        "classname": r.family or family_of(r.id),
        "name": name,
        "time": f"{r.duration_s or 0.0:.3f}",
    })
    verdict = verdict_str(r.verdict)
    props = ET.SubElement(case, "properties")
    for k, v in (("verdict", verdict), ("blocking", "true" if r.blocking else "false"), ("check_id", r.id),
                 ("evalset", r.evalset), ("value", fmt_num(r.value))):
        ET.SubElement(props, "property", {"name": k, "value": v})
    summary = _summary(r)
    if verdict == "SKIPPED":
        ET.SubElement(case, "skipped", {"message": r.message or "skipped"})
        return "skipped"
    gates = r.blocking and (verdict in ("FAIL", "ERROR") or (verdict == "INCONCLUSIVE" and inconclusive_fails))
    if gates and verdict == "ERROR":
        error = r.error or {}
        message = error.get("message") or r.message or "check raised an error"
        node = ET.SubElement(case, "error", {"message": message, "type": error.get("type", "ERROR")})
        node.text = error.get("traceback") or _body(r)
        return "errors"
    if gates:
        ET.SubElement(case, "failure", {"message": summary, "type": verdict}).text = _body(r)
        return "failures"
    if verdict in ("WARN", "FAIL", "ERROR", "INCONCLUSIVE"):
        if verdict == "WARN":
            note = " (a warning: does not fail the audit)"
        elif not r.blocking:
            note = " (non-blocking check: does not fail the audit)"
        else:
            note = " (does not fail the audit: the policy does not make inconclusive fail)"
        text = f"{summary}{note}\n{_body(r)}"
        if verdict == "ERROR" and (r.error or {}).get("traceback"):
            text += "\n" + r.error["traceback"]
        ET.SubElement(case, "system-out").text = text
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
