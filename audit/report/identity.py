"""The report's first page: the decision, what was audited (identity), the sign-off, provenance.

A reviewer signs one run: the first page names the decision and the rule that decided it,
the model, data and policy with their SHA-256, the seed, executor and toolkit version, and
the run digest; the sign-off block follows at once and repeats the digest, so a signature
is bound to one run. Everything is read from the result's manifest and summary; fields a
toolkit version did not record (an older results.json without ``run_digest`` or
``summary.reason``) are left out or marked "not recorded", never invented.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from audit.report._format import (
    VERDICT_MEANING,
    VERDICT_ORDER,
    fmt_count,
    fmt_time,
    humanize_key,
    plain,
    shorten,
)

__all__ = ["decision_view", "identity_view", "provenance_view", "technical_view", "run_digest"]

MAX_FIELD = 400

# Decisions that are not verdict names still get a colour.
_DECISION_CLASS = {
    "approve": "pass", "approved": "pass", "pass": "pass", "passed": "pass", "ok": "pass",
    "reject": "fail", "rejected": "fail", "fail": "fail", "failed": "fail",
}

# Manifest keys the first page already shows; the technical section shows the rest.
_ON_FIRST_PAGE = {"policy", "files", "run_digest", "seed", "toolkit_version", "started_at", "finished_at",
                  "model_name"}
# Per-set build and predict times of this machine: noise to a reviewer, kept in results.json.
_NOT_SHOWN = {"timings"}


def verdict_class(text: str) -> str:
    t = (text or "").strip()
    if t.upper() in VERDICT_ORDER:
        return t.lower()
    if "WARN" in t.upper() or "CONDITION" in t.upper():  # "PASS WITH WARNINGS"
        return "warn"
    return _DECISION_CLASS.get(t.lower().split()[0] if t else "", "neutral")


def run_digest(manifest: dict) -> str:
    """The run digest the manifest records (a hex string), or ''."""
    d = manifest.get("run_digest")
    if isinstance(d, dict):  # tolerate {"sha256": ...}
        d = d.get("sha256") or d.get("value")
    return str(d) if d else ""


def decision_view(result) -> dict[str, Any]:
    """The decision box: verdict, exit code, the rule that decided, counts and blocking checks."""
    s = result.summary
    counts = s.counts or {}
    decision = str(s.decision)
    reason = getattr(s, "reason", None)
    return {
        "decision": decision,
        "decision_class": verdict_class(decision),
        "exit_code": s.exit_code,
        "reason": shorten(reason, 600) if reason else "",
        "blocking_failures": [shorten(b, 300) for b in s.blocking_failures],
        "counts": [(v, int(counts.get(v, 0)), VERDICT_MEANING[v]) for v in VERDICT_ORDER]
        + [(k, int(n), "") for k, n in counts.items() if k not in VERDICT_ORDER],
        "total": len(result.results),
    }


def _file_name(path: Any) -> str:
    if not path:
        return ""
    text = str(path)
    return PurePath(text).name if "/" in text or "\\" in text else text


def _hash(v: Any) -> str:
    return str(v) if v else "not recorded"


def identity_view(result) -> dict[str, Any]:
    """Model, data, reference, policy and run facts for the first page, as labelled rows."""
    m = dict(result.manifest or {})
    files = m.get("files") if isinstance(m.get("files"), dict) else {}
    policy = m.get("policy") if isinstance(m.get("policy"), dict) else {}
    model = files.get("model") if isinstance(files.get("model"), dict) else {}
    sections = []

    rows = [("Name", shorten(model.get("name") or m.get("model_name") or "not recorded", MAX_FIELD))]
    if model.get("kind"):
        rows.append(("Type", shorten(model["kind"], MAX_FIELD)))
    if model.get("source") or model.get("path"):
        rows.append(("Source", shorten(_file_name(model.get("source") or model.get("path")), MAX_FIELD)))
    if model:
        rows.append(("SHA-256", _hash(model.get("sha256"))))
    sections.append({"title": "Model", "rows": rows, "hashes": {"SHA-256"}})

    for key, title in (("data", "Data"), ("reference", "Reference data")):
        f = files.get(key) if isinstance(files.get(key), dict) else None
        if not f:
            continue
        rows = [("File", shorten(_file_name(f.get("path")) or "in memory", MAX_FIELD))]
        if f.get("rows") is not None:
            rows.append(("Rows", fmt_count(f.get("rows"))))
        rows.append(("SHA-256", _hash(f.get("sha256"))))
        sections.append({"title": title, "rows": rows, "hashes": {"SHA-256"}})

    rows = [("Name", shorten(policy.get("name") or result.policy_name, MAX_FIELD))]
    if policy.get("description"):
        rows.append(("Description", shorten(policy["description"], 1200)))
    for k, label in (("owner", "Owner"), ("approved_by", "Approved by")):
        if policy.get(k):
            rows.append((label, shorten(policy[k], MAX_FIELD)))
    review = policy.get("review_by")
    overdue = bool(policy.get("review_overdue"))
    if review:
        rows.append(("Review by", str(review)))
    if policy.get("frameworks"):
        rows.append(("Frameworks", plain(policy["frameworks"], MAX_FIELD)))
    policy_file = files.get("policy") if isinstance(files.get("policy"), dict) else {}
    rows.append(("SHA-256", _hash(policy.get("sha256") or policy_file.get("sha256"))))
    sections.append({"title": "Policy", "rows": rows, "hashes": {"SHA-256"}, "overdue": overdue,
                     "review_by": str(review or "")})

    execution = m.get("execution") if isinstance(m.get("execution"), dict) else {}
    executor = str(execution.get("executor") or "not recorded")
    if execution.get("workers"):
        executor += f", {fmt_count(execution['workers'])} worker(s)"
    if execution.get("partitions"):
        executor += f", {fmt_count(execution['partitions'])} partition(s)"
    digest = run_digest(m)
    rows = [("Seed", str(m.get("seed")) if m.get("seed") is not None else "not recorded"),
            ("Executor", executor),
            ("Toolkit version", str(m.get("toolkit_version") or m.get("version") or "not recorded")),
            ("Started", fmt_time(m.get("started_at")) or "not recorded")]
    if m.get("finished_at"):
        rows.append(("Finished", fmt_time(m.get("finished_at"))))
    rows.append(("Run digest", digest or "not recorded by this toolkit version"))
    sections.append({"title": "Run", "rows": rows, "hashes": {"Run digest"} if digest else set()})
    return {"sections": sections, "columns": two_columns(sections), "digest": digest, "review_overdue": overdue, "review_by": str(review or ""),
            "model_name": model.get("name") or m.get("model_name") or ""}


def _height(section: dict) -> int:
    # printed lines, roughly: a caption, then a line per row plus one per ~48 characters (hashes wrap)
    return 1 + sum(1 + len(str(v)) // 48 for _, v in section["rows"])


def two_columns(sections: list[dict]) -> list[list[dict]]:
    """Split the sections, in order, into two columns of about equal height.

    The first page lays the identity tables out side by side. CSS multi-column layout did the
    balancing before, but WeasyPrint lays columns out again and again while it balances them:
    it cost ~0.8 s of CPU on a 1-page grid (more than any other page of a 15-page report), so
    the split is chosen here and the page prints two plain blocks.
    """
    heights = [_height(s) for s in sections]
    total = sum(heights)
    best = min(range(len(sections) + 1), key=lambda k: (abs(total - 2 * sum(heights[:k])), -k))
    return [sections[:best], sections[best:]]


def _origin(o: Any) -> str:
    if not isinstance(o, dict):
        return ""
    return f"{o.get('file')}" + (f":{o['line']}" if o.get("line") else "")


def provenance_view(result) -> dict[str, Any] | None:
    """Which file set each threshold, and the inherited checks removed with their reasons.

    None unless the policy extends baselines (``manifest.policy.provenance``).
    """
    policy = (result.manifest or {}).get("policy")
    prov = policy.get("provenance") if isinstance(policy, dict) else None
    if not isinstance(prov, dict):
        return None
    from audit.report.cards import check_title

    files = [{"name": shorten(f.get("name"), 200), "sha256": f.get("sha256") or "",
              "extends": ", ".join(f.get("extends") or []), "owner": shorten(f.get("owner") or "", 200),
              "approved_by": shorten(f.get("approved_by") or "", 200), "review_by": f.get("review_by") or ""}
             for f in prov.get("files") or [] if isinstance(f, dict)]
    origins = [c for c in prov.get("checks") or [] if isinstance(c, dict)]
    rows = []
    for i, r in enumerate(result.results):
        o = origins[i] if i < len(origins) and origins[i].get("id") == r.id else next(
            (c for c in origins if c.get("id") == r.id and c.get("evalset") == r.evalset), None)
        if o is None:
            continue
        th = o.get("threshold") or {}
        bounds = [f"{k} {_origin(v)}" for k, v in th.items() if k in ("min", "max", "warn_min", "warn_max")]
        others = [f"{k} {_origin(v)}" for k, v in th.items() if k not in ("min", "max", "warn_min", "warn_max")]
        rows.append({"title": shorten(check_title(r), 200), "id": r.id, "evalset": shorten(r.evalset, 80),
                     "added_by": _origin(o.get("added_by")),
                     "bounds": "; ".join(bounds) or "no bound set", "other": "; ".join(others),
                     "locked_in": o.get("locked_in") or ""})
    removed = [{"title": shorten(x.get("name") or x.get("id"), 200), "id": x.get("id"),
                "evalset": x.get("evalset"), "reason": shorten(x.get("reason"), 600),
                "removed_by": _origin(x.get("removed_by")), "defined_in": _origin(x.get("defined_in"))}
               for x in prov.get("removed") or [] if isinstance(x, dict)]
    return {"policy": prov.get("policy"), "files": files, "rows": rows, "removed": removed}


def technical_view(result) -> list[tuple[str, str]]:
    """The rest of the manifest as (label, one line of text) rows: keys in words, values plain.

    Booleans read yes/no, nested mappings become ``key: value · key: value``; the first page's
    facts are not repeated, except the full file paths; per-set timings stay in results.json.
    """
    m = dict(result.manifest or {})
    rows: list[tuple[str, str]] = []
    files = m.get("files") if isinstance(m.get("files"), dict) else {}
    paths = [f"{humanize_key(k)}: {v.get('path') or v.get('source')}"
             for k, v in files.items() if isinstance(v, dict) and (v.get("path") or v.get("source"))]
    if paths:
        rows.append(("File paths", shorten(" · ".join(paths), 2 * MAX_FIELD)))
    for k, v in m.items():
        if k in _ON_FIRST_PAGE or k in _NOT_SHOWN:
            continue
        rows.append((humanize_key(k), _inline(v)))
    return rows


def _label(k: Any) -> str:
    # snake_case keys read as words; names (numpy, scikit-learn, OMP_NUM_THREADS) stay as written
    text = str(k)
    return humanize_key(text) if "_" in text and text.islower() else text


def _inline(v: Any, depth: int = 0) -> str:
    if isinstance(v, dict):
        if not v:
            return "none"
        if depth >= 2:
            return shorten(str(v), MAX_FIELD)
        return shorten(" · ".join(f"{_label(k)}: {_inline(x, depth + 1)}" for k, x in v.items()), 2 * MAX_FIELD)
    return plain(v, MAX_FIELD)
