"""Regression audits: match checks of two runs and decide whether a value got worse.

A check is matched across runs by (id, evaluation set, name, parameters). The
direction of "worse" comes from the result itself (``direction``, written by the
check's registration into results.json) or, failing that (results written
before schema 1.1), from its threshold (only a ``min``: higher is better; only a
``max``: lower is better). Comparing needs nothing but the two files.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from audit.errors import InputError
from audit.results import AuditResult, CheckResult, Verdict

__all__ = ["load_results", "result_key", "direction", "compare_one", "apply_baseline", "changed_files",
           "compare_runs"]

_VERDICT_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.INCONCLUSIVE: 2, Verdict.SKIPPED: 2,
                 Verdict.FAIL: 3, Verdict.ERROR: 3}


def load_results(path: str | Path) -> AuditResult:
    """Read a ``results.json`` (or a report folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        return AuditResult.model_validate(json.loads(p.read_text()))
    except FileNotFoundError:
        raise InputError(f"results file not found: {p}") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InputError(f"{p}: not a results.json of this toolkit: {str(exc).splitlines()[0]}") from None


def result_key(r: CheckResult) -> str:
    """Stable key matching a check across runs."""
    return f"{r.id}|{r.evalset}|{r.name}|{json.dumps(r.params, sort_keys=True)}"


def direction(r: CheckResult) -> int:
    """+1 if higher values are better, -1 if lower are, 0 if unknown."""
    if r.direction is not None:
        return 1 if r.direction == "higher" else -1
    lo, hi = r.threshold.get("min"), r.threshold.get("max")
    if lo is not None and hi is None:
        return 1
    if hi is not None and lo is None:
        return -1
    return 0


def compare_one(cur: CheckResult, base: CheckResult) -> dict:
    """Baseline value, change, and whether the change is a regression beyond ``max_regression``."""
    out = {"baseline_value": base.value, "baseline_verdict": base.verdict.value, "change": None,
           "relative_change": None, "worse_by": None, "regressed": False, "max_regression": None}
    worse_verdict = _VERDICT_RANK[cur.verdict] > _VERDICT_RANK[base.verdict]
    out["verdict_worsened"] = worse_verdict
    if cur.value is None or base.value is None:
        return out
    change = cur.value - base.value
    out["change"] = change
    out["relative_change"] = change / abs(base.value) if base.value else None
    d = direction(cur)
    worse = -change * d if d else abs(change)
    out["worse_by"] = worse if d else None
    mr = cur.threshold.get("max_regression")
    if mr and d:
        out["max_regression"] = mr
        allowed = mr["absolute"] if mr.get("absolute") is not None else mr["relative"] * abs(base.value)
        out["regressed"] = worse > allowed + 1e-12
    return out


def apply_baseline(results: list[CheckResult], baseline: AuditResult, policy=None) -> list[CheckResult]:
    """Attach the baseline comparison to each result; a regression beyond ``max_regression`` FAILs."""
    by_key = {result_key(b): b for b in baseline.results}
    out = []
    for r in results:
        b = by_key.get(result_key(r))
        if b is None:
            out.append(r.model_copy(update={"baseline": {"matched": False}}))
            continue
        cmp = {"matched": True, **compare_one(r, b)}
        upd = {"baseline": cmp}
        if cmp["regressed"] and r.verdict in (Verdict.PASS, Verdict.WARN):
            allowed = cmp["max_regression"]
            upd["verdict"] = Verdict.FAIL
            upd["message"] = (f"{r.message} — regressed from {b.value:.4g} to {r.value:.4g}, "
                              f"beyond max_regression {allowed}")
        out.append(r.model_copy(update=upd))
    return out


def changed_files(before: dict, after: dict) -> dict:
    """Inputs (policy, model, data, reference) whose SHA-256 differs between two manifests."""
    return {k: {"before": (before.get(k) or {}).get("sha256"), "after": (after.get(k) or {}).get("sha256")}
            for k in sorted(set(before) | set(after))
            if (before.get(k) or {}).get("sha256") != (after.get(k) or {}).get("sha256")}


def compare_runs(a: AuditResult, b: AuditResult) -> dict:
    """Compare run ``a`` (before) with run ``b`` (after): rows, hash changes and the regression flag.

    A row is a regression when its value got worse beyond the check's
    ``max_regression``, or, without one, when its verdict got worse.
    """
    rows = []
    a_by = {result_key(r): r for r in a.results}
    for r in b.results:
        old = a_by.pop(result_key(r), None)
        if old is None:
            rows.append({"key": result_key(r), "name": r.name, "evalset": r.evalset, "status": "new",
                         "after": r.value, "after_verdict": r.verdict.value, "regression": False})
            continue
        c = compare_one(r, old)
        reg = c["regressed"] if c["max_regression"] else c["verdict_worsened"]
        rows.append({"key": result_key(r), "name": r.name, "evalset": r.evalset, "status": "matched",
                     "before": old.value, "after": r.value, "change": c["change"],
                     "before_verdict": old.verdict.value, "after_verdict": r.verdict.value,
                     "regression": bool(reg)})
    for k, r in a_by.items():
        rows.append({"key": k, "name": r.name, "evalset": r.evalset, "status": "removed",
                     "before": r.value, "before_verdict": r.verdict.value, "regression": False})
    changed = changed_files(a.manifest.get("files", {}), b.manifest.get("files", {}))
    return {"rows": rows, "changed_files": changed, "regressions": sum(r["regression"] for r in rows),
            "before": _run_facts(a), "after": _run_facts(b)}


def _run_facts(r: AuditResult) -> dict:
    m = r.manifest or {}
    return {"policy": r.policy_name, "started_at": m.get("started_at"), "model": m.get("model_name"),
            "decision": r.summary.decision, "run_digest": m.get("run_digest")}
