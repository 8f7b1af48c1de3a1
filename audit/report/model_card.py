"""A model card from an audit result, after Mitchell et al. (2019), Model Cards for Model Reporting.

:func:`model_card` returns the card twice: as Markdown, and as a JSON-ready dict
the HTML/PDF report can render. Markdown is rendered from the dict alone
(:func:`render_model_card`), so a card stored as JSON renders to the same text.

Like every renderer, the card computes no metric: every number is copied from
the :class:`~audit.results.AuditResult`. Sections (Mitchell et al. 2019, section 4):
model details, intended use, factors, metrics, evaluation data, training data,
quantitative analyses, ethical considerations, caveats and recommendations; plus
the audit decision and the run digest when the result has one.
"""

from __future__ import annotations

import math
from typing import Any

from audit.results import AuditResult, CheckResult

__all__ = ["FORMAT", "FORMAT_VERSION", "model_card", "model_card_data", "render_model_card"]

FORMAT = "audit-model-card"
FORMAT_VERSION = "1"

MITCHELL_2019 = (
    "Mitchell, M., Wu, S., Zaldivar, A., Barnes, P., Vasserman, L., Hutchinson, B., Spitzer, E., "
    "Raji, I. D. & Gebru, T. (2019). Model cards for model reporting. Proceedings of the "
    "Conference on Fairness, Accountability, and Transparency (FAT* '19), 220-229."
)

# Families reported under "quantitative analyses", in order, with their section titles.
# Performance results are the card's "metrics" section.
ANALYSES = (
    ("fairness", "Fairness"),
    ("robustness", "Robustness to perturbation and shift"),
    ("shift", "Distribution shift against the training data"),
    ("ood", "Out-of-distribution detection"),
    ("adversarial", "Adversarial robustness"),
    ("data", "Data quality"),
    ("latency", "Runtime profile"),
)

# What to do about a result the card lists under caveats, by verdict.
RECOMMENDATION = {
    "INCONCLUSIVE": "Gather more evidence before relying on this aspect (more rows, larger "
    "groups or attack sample, more timed calls), or decide with the point value knowingly.",
    "SKIPPED": "Supply what the check needs, or record why this aspect does not apply.",
    "ERROR": "Fix the error and audit again; this aspect is unexamined.",
    "FAIL": "Non-blocking failure: decide explicitly whether it is acceptable for the "
    "intended use.",
}

_GROUP_RATES = ("base_rate", "selection_rate", "tpr", "fpr", "precision")
_GROUP_RATE_NAMES = {
    "base_rate": "base rate",
    "selection_rate": "selection rate",
    "tpr": "TPR",
    "fpr": "FPR",
    "precision": "precision",
}


# -- reading the result ------------------------------------------------------------------------


def _verdict(r: CheckResult) -> str:
    return getattr(r.verdict, "value", str(r.verdict))


def _policy(result: AuditResult) -> dict:
    """The policy as run (results.json keeps its text), or {} when it cannot be read."""
    if not result.policy_text:
        return {}
    import yaml

    try:
        data = yaml.safe_load(result.policy_text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _method(check_id: str):
    from audit.compliance import methods

    return methods().checks.get(check_id)


def _method_name(check_id: str) -> str | None:
    entry = _method(check_id)
    return entry.name if entry is not None else None


def _title(r: CheckResult) -> str:
    # The policy's own name for the check wins; else the methods reference's human name.
    if r.name and r.name != r.id:
        return r.name
    return _method_name(r.id) or r.id


def _threshold_text(th: dict | None) -> str:
    t = th or {}
    parts = []
    if t.get("min") is not None:
        parts.append(f"≥ {_num(t['min'])}")
    if t.get("max") is not None:
        parts.append(f"≤ {_num(t['max'])}")
    warn = []
    if t.get("warn_min") is not None:
        warn.append(f"warn < {_num(t['warn_min'])}")
    if t.get("warn_max") is not None:
        warn.append(f"warn > {_num(t['warn_max'])}")
    text = " and ".join(parts)
    if warn:
        text = f"{text} ({', '.join(warn)})" if text else ", ".join(warn)
    if t.get("decision") == "interval":
        text += ", interval decision"
    return text or "none"


def _check_row(r: CheckResult) -> dict[str, Any]:
    iv = r.interval
    row = {
        "id": r.id,
        "name": _title(r),
        "method_name": _method_name(r.id),
        "evalset": r.evalset,
        "verdict": _verdict(r),
        "value": r.value,
        "low": iv.low if iv is not None else None,
        "high": iv.high if iv is not None else None,
        "level": iv.level if iv is not None else None,
        "interval_method": iv.method if iv is not None else None,
        "n": r.n,
        "threshold": _threshold_text(r.threshold),
        "blocking": r.blocking,
        "reference": r.reference,
        "message": r.message,
    }
    if r.family == "adversarial":
        d = r.details or {}
        row["attack"] = {
            k: d.get(k) for k in ("attack", "eps", "eps_units", "upper_bound") if k in d
        }
    return row


def _group_row(g) -> dict[str, Any]:
    iv = g.interval
    return {
        "group": g.group,
        "n": g.n,
        "value": g.value,
        "low": iv.low if iv is not None else None,
        "high": iv.high if iv is not None else None,
        "interval_method": iv.method if iv is not None else None,
        "small": g.small,
        "included": g.extra.get("included", True) if isinstance(g.extra, dict) else True,
    }


def _sensitive(policy: dict, result: AuditResult) -> tuple[list[str], list[str] | None]:
    """Sensitive columns, and which of them the model takes as inputs (None if unknown)."""
    data = policy.get("data") if isinstance(policy.get("data"), dict) else {}
    cols = [str(c) for c in data.get("sensitive") or []]
    if not cols:  # older or hand-made results: the group labels name the columns
        seen = []
        for r in result.results:
            if r.family in ("fairness", "data"):
                for g in r.groups:
                    for part in g.group.split(" & "):
                        col = part.split("=", 1)[0] if "=" in part else None
                        if col and col not in seen:
                            seen.append(col)
        return seen, None
    features = data.get("features")
    if isinstance(features, list):
        return cols, [c for c in cols if c in features]
    if "data" in policy:
        return cols, list(cols) if data.get("sensitive_features", True) else []
    return cols, None


def _factor_groups(result: AuditResult) -> tuple[list[dict], str | None]:
    """Group sizes on the base set, from data.group_representation or else a fairness check."""
    rows_base = (result.evalsets.get("base") or {}).get("rows")
    sources = [
        r
        for r in result.results
        if r.evalset == "base"
        and r.groups
        and (r.id == "data.group_representation" or r.family == "fairness")
    ]
    sources.sort(
        key=lambda r: r.id != "data.group_representation"
    )  # stable: the first fairness check next
    if not sources:
        return [], None
    r = sources[0]
    out, seen = [], set()
    for g in r.groups:
        if g.group not in seen:
            seen.add(g.group)
            out.append(
                {
                    "group": g.group,
                    "n": g.n,
                    "share": g.n / rows_base if rows_base else None,
                    "small": g.small,
                }
            )
    return out, r.id


def _group_rates(result: AuditResult) -> dict[str, Any] | None:
    """Per-group base rate, selection rate, TPR, FPR and precision (with Wilson intervals) of the
    first classification fairness check on the base set that reports them."""
    for r in result.results:
        if r.family != "fairness" or r.evalset != "base" or not r.groups:
            continue
        if not all(isinstance(g.extra.get(k), dict) for g in r.groups for k in _GROUP_RATES):
            continue
        rows = []
        for g in r.groups:
            row = {"group": g.group, "n": g.n, "small": g.small}
            for k in _GROUP_RATES:
                e = g.extra[k]
                row[k] = {"value": e.get("value"), "low": e.get("low"), "high": e.get("high")}
            rows.append(row)
        return {"id": r.id, "name": _title(r), "evalset": r.evalset, "rows": rows}
    return None


# -- building the card -------------------------------------------------------------------------


def model_card_data(result: AuditResult) -> dict[str, Any]:
    """The model card as a JSON-ready dict (see :func:`model_card` for the sections)."""
    m = result.manifest or {}
    files = m.get("files") or {}
    model = files.get("model") or {}
    policy = _policy(result)
    cols, inputs = _sensitive(policy, result)
    if not model:  # a predictions-only audit has no model to take inputs
        inputs = None
    groups, groups_from = _factor_groups(result)
    by_family: dict[str, list[dict]] = {}
    for r in result.results:
        by_family.setdefault(r.family, []).append(_check_row(r))
    desc = policy.get("description")
    name = m.get("model_name") or model.get("name") or "model"
    data_file = files.get("data") or {}
    ref = files.get("reference")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "title": f"Model card: {name}",
        "reference": MITCHELL_2019,
        "summary": {
            "decision": result.summary.decision,
            "exit_code": result.summary.exit_code,
            "counts": dict(result.summary.counts),
            "blocking_failures": list(result.summary.blocking_failures),
        },
        "model_details": {
            "name": name,
            "kind": model.get("kind"),
            "source": model.get("source"),
            "sha256": model.get("sha256"),
            "task": m.get("task"),
            "positive_label": m.get("pos_label"),
            "policy": result.policy_name,
            "policy_sha256": (files.get("policy") or {}).get("sha256"),
            "audited_at": m.get("started_at"),
            "finished_at": m.get("finished_at"),
            "toolkit_version": m.get("toolkit_version"),
            "seed": m.get("seed"),
            "results_schema_version": result.schema_version,
            "libraries": dict(m.get("libraries") or {}),
        },
        "intended_use": {
            "description": " ".join(str(desc).split()) if desc else None,
            "source": "the policy's description" if desc else None,
            "out_of_scope": None,
        },
        "factors": {
            "sensitive_columns": cols,
            "model_inputs": inputs,
            "groups": groups,
            "groups_from": groups_from,
        },
        "metrics": by_family.get("performance", []),
        "group_metrics": [
            {
                "id": r.id,
                "name": _title(r),
                "evalset": r.evalset,
                "verdict": _verdict(r),
                "group_value": getattr(_method(r.id), "group_value", None),
                "groups": [_group_row(g) for g in r.groups],
            }
            for r in result.results
            if r.family == "fairness" and r.groups
        ],
        "group_rates": _group_rates(result),
        "evaluation_data": {
            "path": data_file.get("path"),
            "sha256": data_file.get("sha256"),
            "rows": data_file.get("rows"),
            "evaluation_sets": [
                {
                    "name": k,
                    "kind": v.get("kind"),
                    "rows": v.get("rows"),
                    "description": v.get("description"),
                }
                for k, v in result.evalsets.items()
            ],
        },
        "training_data": (
            {
                "known": True,
                "path": ref.get("path"),
                "sha256": ref.get("sha256"),
                "rows": ref.get("rows"),
            }
            if isinstance(ref, dict)
            else {"known": False}
        ),
        "quantitative_analyses": {fam: by_family.get(fam, []) for fam, _ in ANALYSES},
        "ethical_considerations": _ethics(result, cols, inputs),
        "caveats": _caveats(result),
        "run_digest": m.get("run_digest"),
    }


def _ethics(result: AuditResult, cols: list[str], inputs: list[str] | None) -> list[str]:
    out = []
    if cols:
        line = f"Sensitive columns examined: {', '.join(cols)}."
        if inputs is not None:
            line += (
                f" The model takes {', '.join(inputs)} as input(s)."
                if inputs
                else " The model does not take them as inputs."
            )
        out.append(line)
    else:
        out.append("No sensitive column was named: group disparities were not examined.")
    fair = [r for r in result.results if r.family == "fairness"]
    if cols and not fair:
        out.append(
            "No fairness check was run: group disparities in outcomes and errors are unknown."
        )
    for r in fair:
        v = _verdict(r)
        if v in ("FAIL", "WARN"):
            bound = _threshold_text(r.threshold)
            out.append(f"{_title(r)} on {r.evalset}: {_num(r.value)} ({v}; bound {bound}).")
    for r in result.results:
        small = [g for g in r.groups if g.small]
        if small and r.family in ("fairness", "data", "robustness", "adversarial"):
            names = ", ".join(f"{g.group} (n={g.n})" for g in small)
            out.append(f"{_title(r)} on {r.evalset}: group(s) below min_group_size: {names}.")
    out.append(
        "Only the sensitive columns named in the policy were examined; other groups, proxies "
        "of the sensitive attributes among the features, and harms that are not group "
        "statistics were not."
    )
    return out


def _caveats(result: AuditResult) -> list[dict[str, Any]]:
    out = []
    for r in result.results:
        v = _verdict(r)
        reason = None
        if v in ("INCONCLUSIVE", "SKIPPED"):
            reason = r.message
        elif v == "ERROR":
            reason = (r.error or {}).get("message") or r.message
        elif v == "FAIL" and not r.blocking:
            reason = r.message
        if reason is not None:
            out.append(
                {
                    "verdict": v,
                    "id": r.id,
                    "name": _title(r),
                    "evalset": r.evalset,
                    "reason": reason,
                    "recommendation": RECOMMENDATION[v],
                }
            )
        if r.family == "adversarial" and (r.details or {}).get("upper_bound"):
            out.append(
                {
                    "verdict": v,
                    "id": r.id,
                    "name": _title(r),
                    "evalset": r.evalset,
                    "reason": "a black-box attack was run on a model that allows a white-box one",
                    "recommendation": "Read the value as an upper bound on robustness; run a "
                    "white-box attack for a tighter one.",
                }
            )
    return out


def model_card(result: AuditResult) -> tuple[str, dict[str, Any]]:
    """The model card of an audit result, as Markdown and as a JSON-ready dict.

    Parameters
    ----------
    result : AuditResult
        The audit (``AuditResult.model_validate(json.load(open("results.json")))``).

    Returns
    -------
    markdown : str
        The card for people; ``render_model_card(data)`` gives the same text.
    data : dict
        ``format``, ``format_version``, ``title``, ``reference``, ``summary``,
        ``model_details``, ``intended_use``, ``factors``, ``metrics`` (performance
        results), ``group_metrics`` (per-group values of each fairness result),
        ``group_rates`` (base rate, selection rate, TPR, FPR, precision per group),
        ``evaluation_data``, ``training_data``, ``quantitative_analyses`` (results by
        family), ``ethical_considerations``, ``caveats`` (INCONCLUSIVE, SKIPPED, ERROR
        and non-blocking FAIL results with their reasons) and ``run_digest``. Every
        check row carries ``value``, ``low``, ``high``, ``level``, ``interval_method``,
        ``verdict`` and ``threshold`` as results.json has them.
    """
    data = model_card_data(result)
    return render_model_card(data), data


# -- Markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = "\\`*_[]<>|#"


def _md(text: Any) -> str:
    """User text for Markdown: one line, every character that could format or inject escaped."""
    if text is None:
        return "—"
    s = " ".join(str(text).split())
    out = []
    for ch in s:
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _num(v: Any) -> str:
    """A number for people: 4 significant digits; thousands separators from 10,000 on."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        if v == 0:
            return "0"
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        if abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return _md(v)


def _interval(row: dict) -> str:
    if row.get("low") is None and row.get("high") is None:
        return "—"
    return f"[{_num(row.get('low'))}, {_num(row.get('high'))}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _result_table(rows: list[dict]) -> list[str]:
    return _table(
        ["check", "evaluation set", "value", "interval", "interval method", "verdict", "threshold"],
        [
            [
                f"{_md(r['name'])} ({_md(r['id'])})",
                _md(r["evalset"]),
                _num(r["value"]),
                _interval(r),
                _md(r["interval_method"]) if r.get("interval_method") else "—",
                r["verdict"],
                _md(r["threshold"]),
            ]
            for r in rows
        ],
    )


def _findings(rows: list[dict]) -> list[str]:
    return [
        f"- **{_md(r['name'])}** on {_md(r['evalset'])}: {_md(r['message'])}"
        for r in rows
        if r.get("message")
    ]


def render_model_card(data: dict[str, Any]) -> str:
    """Markdown of a model card dict (from :func:`model_card_data`, or read back from JSON)."""
    d, s = data["model_details"], data["summary"]
    out = [
        f"# {_md(data['title'])}",
        "",
        f"Generated by audit {_md(d.get('toolkit_version'))} from the results of policy "
        f"{_md(d.get('policy'))} (results schema {_md(d.get('results_schema_version'))}). "
        "Sections follow "
        f"{_md(data['reference'])} Every number is copied from results.json.",
        "",
        f"**Audit decision: {_md(s['decision'])}** ("
        + ", ".join(f"{k} {v}" for k, v in s["counts"].items())
        + ").",
    ]
    if s["blocking_failures"]:
        out.append("Blocking failures: " + "; ".join(_md(x) for x in s["blocking_failures"]) + ".")

    libs = d.get("libraries") or {}
    out += ["", "## Model details", ""] + _table(
        ["item", "value"],
        [
            ["model", f"{_md(d.get('name'))} ({_md(d.get('kind'))})"],
            ["source", _md(d.get("source"))],
            ["SHA-256", _md(d.get("sha256"))],
            ["task", f"{_md(d.get('task'))}, positive label {_md(d.get('positive_label'))}"],
            [
                "audited",
                f"{_md(d.get('audited_at'))} to {_md(d.get('finished_at'))}, "
                f"seed {_md(d.get('seed'))}",
            ],
            ["policy", f"{_md(d.get('policy'))} (SHA-256 {_md(d.get('policy_sha256'))})"],
            ["libraries", _md(", ".join(f"{k} {v}" for k, v in libs.items())) if libs else "—"],
        ],
    )

    iu = data["intended_use"]
    out += [
        "",
        "## Intended use",
        "",
        f"{_md(iu['description'])} (from {_md(iu['source'])})."
        if iu.get("description")
        else "The policy states no description of the intended use.",
        "",
        "Out-of-scope uses: "
        + (_md(iu["out_of_scope"]) if iu.get("out_of_scope") else "not stated."),
    ]

    f = data["factors"]
    out += ["", "## Factors", ""]
    if f["sensitive_columns"]:
        line = "Sensitive columns: " + ", ".join(_md(c) for c in f["sensitive_columns"]) + "."
        if f["model_inputs"] is not None:
            line += (
                " Model inputs among them: "
                + (", ".join(_md(c) for c in f["model_inputs"]) or "none")
                + "."
            )
        out.append(line)
    else:
        out.append("No sensitive columns were named.")
    if f["groups"]:
        out += ["", f"Groups on the base set (from {_md(f['groups_from'])}):", ""]
        out += _table(
            ["group", "rows", "share", "below min_group_size"],
            [
                [_md(g["group"]), _num(g["n"]), _num(g["share"]), "yes" if g["small"] else "no"]
                for g in f["groups"]
            ],
        )

    out += ["", "## Metrics", ""]
    out += _result_table(data["metrics"]) if data["metrics"] else ["No performance check was run."]
    for gm in data["group_metrics"]:
        out += [
            "",
            f"### Per group: {_md(gm['name'])} ({_md(gm['id'])}) on {_md(gm['evalset'])}",
            "",
        ]
        if gm.get("group_value"):
            out += [f"Value per group: {_md(gm['group_value'])}.", ""]
        out += _table(
            ["group", "n", "value", "interval", "interval method", "below min_group_size"],
            [
                [
                    _md(g["group"]),
                    _num(g["n"]),
                    _num(g["value"]),
                    _interval(g),
                    _md(g["interval_method"]) if g.get("interval_method") else "—",
                    "yes" if g["small"] else "no",
                ]
                for g in gm["groups"]
            ],
        )
    gr = data.get("group_rates")
    if gr:
        out += [
            "",
            f"### Rates per group ({_md(gr['id'])} on {_md(gr['evalset'])}; Wilson intervals)",
            "",
        ]
        out += _table(
            ["group", "n", *[_GROUP_RATE_NAMES[k] for k in _GROUP_RATES]],
            [
                [
                    _md(r["group"]),
                    _num(r["n"]),
                    *[f"{_num(r[k]['value'])} {_interval(r[k])}" for k in _GROUP_RATES],
                ]
                for r in gr["rows"]
            ],
        )

    ev = data["evaluation_data"]
    out += [
        "",
        "## Evaluation data",
        "",
        f"File {_md(ev['path'])}, {_num(ev['rows'])} rows, SHA-256 {_md(ev['sha256'])}.",
        "",
    ]
    out += _table(
        ["evaluation set", "kind", "rows", "description"],
        [
            [_md(e["name"]), _md(e["kind"]), _num(e["rows"]), _md(e["description"])]
            for e in ev["evaluation_sets"]
        ],
    )

    td = data["training_data"]
    out += [
        "",
        "## Training data",
        "",
        (
            f"Reference (training) sample {_md(td['path'])}, {_num(td['rows'])} rows, "
            f"SHA-256 {_md(td['sha256'])}."
        )
        if td.get("known")
        else "Unknown: no reference (training) sample was given, so drift, duplicate and "
        "OOD-detector checks could not compare with the training data.",
    ]

    out += ["", "## Quantitative analyses"]
    for fam, title in ANALYSES:
        rows = data["quantitative_analyses"].get(fam) or []
        if not rows:
            continue
        out += ["", f"### {title}", ""] + _result_table(rows) + [""] + _findings(rows)

    out += ["", "## Ethical considerations", ""] + [
        f"- {_md(x)}" for x in data["ethical_considerations"]
    ]

    out += ["", "## Caveats and recommendations", ""]
    if data["caveats"]:
        out += _table(
            ["verdict", "check", "evaluation set", "reason", "recommendation"],
            [
                [
                    c["verdict"],
                    f"{_md(c['name'])} ({_md(c['id'])})",
                    _md(c["evalset"]),
                    _md(c["reason"]),
                    _md(c["recommendation"]),
                ]
                for c in data["caveats"]
            ],
        )
    else:
        out.append("Every check reached a verdict; none was inconclusive, skipped or in error.")

    out += [
        "",
        "## Run digest",
        "",
        f"`{data['run_digest']}`"
        if isinstance(data.get("run_digest"), str) and "`" not in data["run_digest"]
        else "Not recorded in this result.",
    ]
    return "\n".join(out) + "\n"
