"""The regulation matrix of one audit result: per clause, the evidence found and a status.

A result *counts* as evidence for an item when its check id matches one of the
item's checks, it meets the item's conditions, and it reached a verdict: PASS,
WARN or FAIL. INCONCLUSIVE, ERROR and SKIPPED results are listed beside the
item, with why they do not count, but never make a clause look evidenced.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from audit.compliance._frameworks import DISCLAIMER, Clause, Evidence, Framework, frameworks
from audit.results import AuditResult, CheckResult

__all__ = ["matrix", "matches", "EVIDENCING_VERDICTS", "DISCLAIMER"]

EVIDENCING_VERDICTS = ("PASS", "WARN", "FAIL")


def _verdict(r: CheckResult) -> str:
    return getattr(r.verdict, "value", str(r.verdict))


def matches(check_id: str, patterns: Iterable[str]) -> bool:
    """True when ``check_id`` matches one of ``patterns`` (ids, or patterns like ``fairness.*``)."""
    return any(fnmatchcase(check_id, p) for p in patterns)


def _evalset_kind(result: AuditResult, r: CheckResult) -> str:
    meta = result.evalsets.get(r.evalset) or {}
    kind = meta.get("kind")
    if kind:
        return str(kind)
    # An evaluation set the result does not describe: its name is '<kind>@<severity>' or 'base'.
    return r.evalset.split("@", 1)[0]


def _condition_problem(item: Evidence, r: CheckResult, result: AuditResult) -> str | None:
    """Why ``r`` does not meet the item's conditions, or None when it does."""
    for key, allowed in item.params.items():
        found = r.params.get(key)
        if found not in allowed:
            return f"params.{key} is {found!r}; this evidence needs one of {allowed}"
    if item.intersectional and not any(" & " in g.group for g in r.groups):
        return (
            "no intersectional groups (set groups: intersectional or both, "
            "with two or more columns)"
        )
    th = r.threshold or {}
    if item.threshold_min_at_least is not None:
        lo = th.get("min")
        if lo is None or lo < item.threshold_min_at_least:
            need = item.threshold_min_at_least
            return f"threshold min is {lo!r}; this evidence needs a min of at least {need:g}"
    if item.threshold_max_at_most is not None:
        hi = th.get("max")
        if hi is None or hi > item.threshold_max_at_most:
            need = item.threshold_max_at_most
            return f"threshold max is {hi!r}; this evidence needs a max of at most {need:g}"
    if item.evalset_kinds:
        kind = _evalset_kind(result, r)
        if not any(kind.startswith(p) for p in item.evalset_kinds):
            return (
                f"ran on {r.evalset!r} (kind {kind!r}); this evidence needs a set of kind "
                f"{item.evalset_kinds}"
            )
    return None


def _result_row(r: CheckResult, why: str | None) -> dict[str, Any]:
    v = _verdict(r)
    if why is None and v not in EVIDENCING_VERDICTS:
        why = f"{v}: no verdict was reached" + (f" ({r.message})" if r.message else "")
    return {
        "id": r.id,
        "name": r.name,
        "evalset": r.evalset,
        "verdict": v,
        "value": r.value,
        "blocking": r.blocking,
        "counts": why is None,
        "why_not": why,
    }


def _item_row(item: Evidence, result: AuditResult) -> dict[str, Any]:
    rows = [
        _result_row(r, _condition_problem(item, r, result))
        for r in result.results
        if matches(r.id, item.checks)
    ]
    return {
        "what": item.what,
        "checks": list(item.checks),
        "satisfied": any(x["counts"] for x in rows),
        "results": rows,
    }


def _status(clause: Clause, items: list[dict]) -> str:
    satisfied = [i["satisfied"] for i in items]
    if not any(satisfied):
        return "gap"
    if clause.coverage == "full" and all(satisfied):
        return "evidenced"
    return "partially"


def _outcome(items: list[dict]) -> str | None:
    counted = [x for i in items for x in i["results"] if x["counts"]]
    if not counted:
        return None
    return "fail" if any(x["verdict"] == "FAIL" for x in counted) else "pass"


def _clause_row(fw: Framework, clause: Clause, result: AuditResult) -> dict[str, Any]:
    items = [_item_row(e, result) for e in clause.evidence]
    patterns = clause.check_patterns()
    verdicts: dict[str, list[str]] = {}
    for r in result.results:
        if matches(r.id, patterns):
            verdicts.setdefault(r.id, []).append(_verdict(r))
    return {
        "framework": fw.id,
        "framework_title": fw.title,
        "clause_id": clause.id,
        "clause": clause.clause,
        "location": clause.location,
        "url": fw.url,
        "requirement": clause.requirement,
        "coverage": clause.coverage,
        "note": clause.note,
        "check_ids": patterns,
        "verdicts": verdicts,
        "evidence": items,
        "status": _status(clause, items),
        "outcome": _outcome(items),
    }


def _framework_list(framework_ids) -> list[str]:
    known = list(frameworks())
    if framework_ids is None:
        return known
    if isinstance(framework_ids, str):
        framework_ids = [framework_ids]
    ids = list(framework_ids)
    for fid in ids:
        if fid not in known:
            near = difflib.get_close_matches(str(fid), known, n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"unknown framework id {fid!r}; expected one of {known}{hint}")
    return list(dict.fromkeys(ids))


def matrix(
    result: AuditResult, framework_ids: Iterable[str] | str | None = None
) -> list[dict[str, Any]]:
    """Regulation matrix rows for one audit result.

    Parameters
    ----------
    result : AuditResult
        The audit (``results.json`` loaded with ``AuditResult.model_validate``).
    framework_ids : iterable of str, str or None
        Frameworks to include, in the order given (ids as in :data:`FRAMEWORK_IDS`, e.g. the
        policy's ``frameworks:`` list); None for all of them.

    Returns
    -------
    list of dict
        One row per clause, JSON-ready, with keys:

        - ``framework``, ``framework_title``, ``clause_id``, ``clause``, ``location``, ``url``,
          ``requirement``, ``coverage`` (full / partial / none), ``note``;
        - ``check_ids``: the check ids and patterns the clause names;
        - ``verdicts``: ``{check id: [verdict of each matching result]}`` found in the result;
        - ``evidence``: per evidence item ``{what, checks, satisfied, results}``, each result
          ``{id, name, evalset, verdict, value, blocking, counts, why_not}``;
        - ``status``: ``evidenced``, ``partially`` or ``gap`` (see :data:`STATUSES`);
        - ``outcome``: ``"fail"`` when a counted result FAILed, ``"pass"`` when results were
          counted and none failed, None when nothing was counted.

        The disclaimer to show with the matrix is :data:`DISCLAIMER`; statuses are
        explained in :data:`STATUSES`.

    Raises
    ------
    ValueError
        An unknown framework id, named with the known ones.
    """
    chosen = _framework_list(framework_ids)
    fws = frameworks()
    return [_clause_row(fws[fid], c, result) for fid in chosen for c in fws[fid].clauses]
