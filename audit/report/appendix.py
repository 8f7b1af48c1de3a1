"""The report's reference sections: the regulation matrix and the methods appendix.

Both come from :mod:`audit.compliance`: the matrix maps this audit's results to the clauses
of the frameworks the policy declares (``frameworks:``), with the disclaimer; the methods
appendix describes, for the checks this report contains and the interval methods its
numbers carry, the formula, estimator, interval method, decision rule, limitations and
citations (the same text as docs/methods.md).
"""

from __future__ import annotations

from typing import Any

from audit.report._format import shorten, verdict_str

__all__ = ["matrix_view", "methods_view"]

STATUS_LABEL = {"evidenced": "evidenced", "partially": "partially evidenced", "gap": "gap"}


def _frameworks_of(result) -> list[str]:
    policy = (result.manifest or {}).get("policy")
    fws = policy.get("frameworks") if isinstance(policy, dict) else None
    return [str(f) for f in fws] if isinstance(fws, list) else []


def matrix_view(result, anchors: dict[tuple[str, str, str], str]) -> dict[str, Any] | None:
    """The regulation matrix for the frameworks the policy declares; None when it declares none.

    Parameters
    ----------
    result : audit.results.AuditResult
    anchors : dict
        ``(id, name, evalset) -> card anchor``, to link each evidencing result to its card.
    """
    ids = _frameworks_of(result)
    if not ids:
        return None
    from audit.compliance import DISCLAIMER, STATUSES, frameworks, matrix

    known = frameworks()
    unknown = [f for f in ids if f not in known]
    rows = matrix(result, [f for f in ids if f in known])
    by_fw: dict[str, dict[str, Any]] = {}
    for row in rows:
        fw = by_fw.setdefault(row["framework"], {"id": row["framework"], "title": row["framework_title"],
                                                 "citation": known[row["framework"]].citation, "clauses": []})
        evidence = []
        for item in row["evidence"]:
            results = []
            for x in item["results"]:
                results.append({
                    "title": shorten(x["name"] if x["name"] and x["name"] != x["id"] else x["id"], 160),
                    "evalset": shorten(x["evalset"], 80),
                    "verdict": verdict_str(x["verdict"]),
                    "counts": bool(x["counts"]),
                    "why_not": shorten(x.get("why_not") or "", 160),
                    "anchor": anchors.get((x["id"], x["name"], x["evalset"]), ""),
                })
            evidence.append({"what": item["what"], "satisfied": item["satisfied"], "results": results,
                             "checks": ", ".join(item["checks"])})
        fw["clauses"].append({
            "clause": row["clause"], "location": row["location"], "requirement": row["requirement"],
            "coverage": row["coverage"], "note": row["note"], "status": row["status"],
            "status_label": STATUS_LABEL.get(row["status"], row["status"]), "outcome": row["outcome"],
            "evidence": evidence,
        })
    counts = {s: sum(r["status"] == s for r in rows) for s in ("evidenced", "partially", "gap")}
    return {"frameworks": list(by_fw.values()), "disclaimer": DISCLAIMER, "statuses": STATUSES,
            "counts": counts, "unknown": unknown}


def methods_view(result) -> dict[str, Any]:
    """The methods appendix for the checks in ``result`` and the interval methods its numbers carry."""
    from audit.compliance import methods

    cat = methods()
    ids = list(dict.fromkeys(r.id for r in result.results))
    labels: list[str] = []
    for r in result.results:
        if r.interval is not None and r.interval.method:
            labels.append(r.interval.method)
        labels += [g.interval.method for g in r.groups if g.interval is not None and g.interval.method]
    checks, families, cited, missing = [], {}, [], []
    for cid in ids:
        m = cat.checks.get(cid)
        if m is None:
            missing.append(cid)
            continue
        fam = cat.families.get(m.family)
        if fam is not None and m.family not in families:
            families[m.family] = {"title": fam.title, "limitations": list(fam.defaults.limitations),
                                  "decision": fam.defaults.decision}
        own_limits = [x for x in m.limitations if fam is None or x not in fam.defaults.limitations]
        labels += m.intervals + m.group_intervals
        cited += m.citations
        checks.append({
            "id": cid, "name": m.name, "family": m.family, "measures": m.measures, "formula": m.formula,
            "estimator": m.estimator,
            "intervals": [(lab, cat.intervals[lab].name) for lab in m.intervals if lab in cat.intervals],
            "group_intervals": [(lab, cat.intervals[lab].name) for lab in m.group_intervals
                                if lab in cat.intervals],
            "decision": m.decision if fam is None or m.decision != fam.defaults.decision else "",
            "limitations": own_limits, "citations": m.citations,
        })
    used = [lab for lab in dict.fromkeys(labels)]
    intervals = []
    for lab in used:
        im = cat.intervals.get(lab)
        if im is None:
            missing.append(f"interval method {lab!r}")
            continue
        cited += im.citations
        intervals.append({"label": lab, "name": im.name, "what": im.what, "exact_when": im.exact_when,
                          "approximation": im.approximation, "citations": im.citations})
    order = list(dict.fromkeys(k for k in cited if k in cat.citations))
    number = {k: i for i, k in enumerate(order, start=1)}
    for c in checks:
        c["refs"] = sorted(number[k] for k in c.pop("citations") if k in number)
    for iv in intervals:
        iv["refs"] = sorted(number[k] for k in iv.pop("citations") if k in number)
    return {"decision_rules": list(cat.decision_rules), "checks": checks, "families": families,
            "intervals": intervals, "references": [(number[k], cat.citations[k]) for k in order],
            "missing": missing}
