"""One card per check: what it measures, its value against the threshold, one table, its charts.

The card's title is the check's human name (the policy's ``name``, else the methods
reference's), with the id secondary; one plain sentence says what the check measures and
how to read its value (``audit.compliance.methods()``); a value with a special meaning gets
a note (an AUROC below 0.5 ranks inverted). Parameters are a short key/value list, numbers
are formatted by kind (:mod:`audit.report._format`), and tables and charts that an earlier
card already showed (the shared latency profile) are not repeated: the card links to it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from audit.report import charts
from audit.report._format import (
    fmt_count,
    fmt_interval,
    fmt_num,
    fmt_value,
    interval_note,
    plain,
    shorten,
    threshold_text,
    unit_of,
    verdict_str,
)
from audit.report.tables import card_tables

__all__ = ["Seen", "check_view", "check_title", "method_of", "MAX_MESSAGE"]

MAX_MESSAGE = 1200
MAX_TITLE = 200
MAX_PARAM = 200
LANDSCAPE_COLUMNS = 10


def method_of(check_id: str):
    """The methods-reference entry of a check id, or None for a check it does not describe."""
    from audit.compliance import methods

    return methods().checks.get(check_id)


def check_title(r) -> str:
    """The policy's name for the check, else the methods reference's human name, else the id."""
    if r.name and r.name != r.id:
        return r.name
    m = method_of(r.id)
    return m.name if m is not None else r.id


@dataclass
class Seen:
    """Tables and charts already shown in the report, by content, with where they were shown."""

    where: dict[str, tuple[str, str]] = field(default_factory=dict)

    def first(self, item: Any, anchor: str, title: str) -> tuple[str, str] | None:
        """None the first time ``item`` is seen (and remember it); else (anchor, title) of that card."""
        key = hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()
        if key in self.where:
            return self.where[key]
        self.where[key] = (anchor, title)
        return None


def _words(text: str) -> set[str]:
    return {w for w in text.lower().replace("_", " ").replace("-", " ").split() if w}


def _chart_threshold(chart: dict, r, unit: str) -> dict:
    """The chart with the check's threshold drawn when it plots the quantity the threshold bounds.

    A check holds no threshold, so its charts carry none; the renderer adds the policy's when
    the chart's value axis is the check's own metric (its label names the metric, as "flip rate"
    for ``robustness.flip_rate``) or is in the check's unit (a throughput curve in rows/s).
    """
    existing = chart.get("threshold") if isinstance(chart.get("threshold"), dict) else {}
    if any(existing.get(k) is not None for k in ("min", "max", "warn_min", "warn_max")):
        return chart
    th = r.threshold or {}
    if all(th.get(k) is None for k in ("min", "max", "warn_min", "warn_max")):
        return chart
    axis = chart.get("xlabel") if chart.get("kind") == "intervals" else chart.get("ylabel")
    axis = str(axis or "").strip().lower()
    metric = r.id.rsplit(".", 1)[-1].replace("_", " ")
    if unit:
        metric = metric.removesuffix(" " + unit.lower().replace("/", " per ")).strip()
    same = bool(axis) and (axis == metric or (unit and axis == unit.lower()))
    if not same or chart.get("kind") not in ("intervals", "curve", "box"):
        return chart
    bounds = {k: th.get(k) for k in ("min", "max", "warn_min", "warn_max")}
    return {**chart, "threshold": bounds}


def _chart_identity(chart: dict) -> dict:
    """A chart without its interval bounds: what makes two charts show the same thing."""
    skip = {"low", "high", "lows", "highs"}
    out = {k: v for k, v in chart.items() if k not in skip and k != "series"}
    if isinstance(chart.get("series"), list):
        out["series"] = [{k: v for k, v in s.items() if k not in skip} if isinstance(s, dict) else s
                         for s in chart["series"]]
    return out


def t_title_or(dropped: dict) -> str:
    return dropped.get("what") or "table"


def _dedupe_rows(t: dict, seen: Seen, anchor: str, title: str) -> dict:
    """A key/value table (two columns) keeps only the rows an earlier card's same table did not show.

    The machine a latency check ran on is the same for every latency check; only the load
    average moves. The first card lists every fact; later cards list what differs.
    """
    if len(t["columns"]) != 2 or len(t["rows"]) < 4:
        return t
    kept, first_seen = [], None
    for r in t["rows"]:
        again = seen.first({"kv": t["title"], "row": [(c["text"], c["ci"]) for c in r["cells"]]}, anchor, title)
        if again is None:
            kept.append(r)
        elif first_seen is None:
            first_seen = again
    if first_seen is None or not kept:
        return t
    note = f"Other rows as in “{first_seen[1]}”."
    return {**t, "rows": kept, "note": (t["note"] + " " + note).strip()}


def _dedupe_columns(t: dict, seen: Seen, anchor: str, title: str) -> tuple[dict | None, dict | None]:
    """Drop the columns of ``t`` an earlier card already showed for the same rows.

    Fairness checks over the same groups all list each group's rows, base rate, selection
    rate, TPR, FPR and precision; the first card shows them, later cards show only their own
    columns and say where the rest is. A column counts as shown when one earlier card showed
    each of its cells (same column, same row label, same value and interval), also for a subset
    of that card's rows (the calibration check lists the single attributes only). Returns (table
    or None when nothing new is left, {"anchor", "title", "what"} of the earlier card when
    columns were dropped, else None).
    """
    rows = t["rows"]
    if len(t["columns"]) < 3 or not rows:
        return t, None
    labels = [r["cells"][0]["text"] if r["cells"] else "" for r in rows]
    keep, first_seen = [0], None
    for j in range(1, len(t["columns"])):
        cells = [(r["cells"][j]["text"], r["cells"][j]["ci"]) if j < len(r["cells"]) else None for r in rows]
        where = {seen.first({"column": t["columns"][j], "label": label, "value": cell}, anchor, title)
                 for label, cell in zip(labels, cells, strict=True)}
        again = next(iter(where)) if len(where) == 1 else None  # every cell shown, and by one card
        if again is None:
            keep.append(j)
        elif first_seen is None:
            first_seen = again
    # One repeated column (the group sizes) stays: only a shared block of columns is worth a reference.
    if first_seen is None or len(t["columns"]) - len(keep) < 2:
        return t, None
    gone = [t["columns"][j] for j in range(len(t["columns"])) if j not in keep]
    where = {"anchor": first_seen[0], "title": first_seen[1], "what": "columns " + ", ".join(gone)}
    if len(keep) == 1:
        return None, where
    new_rows = [{**r, "cells": [r["cells"][j] for j in keep if j < len(r["cells"])]} for r in rows]
    note = f"Columns {', '.join(gone)}: as in “{first_seen[1]}”."
    return {**t, "columns": [t["columns"][j] for j in keep], "rows": new_rows,
            "note": (t["note"] + " " + note).strip(), "wide": len(keep) > 8}, where


# The runner ends a message with " — <why>"; these whys only restate the value, the threshold and
# the verdict the card shows beside them (in the report's number format), so the card leaves them out.
_RESTATED = re.compile(r"^(value|interval) \S.* (meets|breaks the bound|is within .* but in the warning zone)\b")


def card_message(message: str) -> str:
    """The check's message without a verdict reason that only restates value, threshold and verdict.

    Reasons that say more (a small group, a straddled bound, too few rows) stay.
    """
    head, sep, why = (message or "").rpartition(" — ")
    if sep and _RESTATED.match(why):
        return head
    return message or ""


def _special_note(r, method) -> str:
    """A sentence for a value with a special meaning, or ''."""
    v = r.value
    if not isinstance(v, int | float) or isinstance(v, bool):
        return ""
    tail = r.id.rsplit(".", 1)[-1]
    if "auroc" in tail or tail == "roc_auc":
        if v < 0.5:
            what = "the detector's scores rank" if r.id.startswith("ood.") else "the scores rank"
            return (f"Below 0.5 {what} inverted: the rows that should score higher score lower "
                    f"({fmt_num(v)}; 0 is perfectly inverted, 0.5 is no separation). The ranking is not "
                    "useful as it stands.")
    iv = r.interval
    if iv is not None and iv.low is not None and iv.low == iv.high == v:
        return ("The interval has no width: every bootstrap replicate gave the same value, which happens at "
                "the ends of the scale (perfect separation, no event).")
    return ""


def _params(params: dict) -> list[tuple[str, str]]:
    out = []
    for k, v in (params or {}).items():
        if v is None or v == [] or v == {}:
            continue
        out.append((shorten(k, 60), plain(v, MAX_PARAM)))
    return out


def check_view(index: int, r, seen: Seen) -> dict[str, Any]:
    """Everything the card template needs for check result ``r`` (the ``index``-th of the report)."""
    verdict = verdict_str(r.verdict)
    method = method_of(r.id)
    unit = unit_of(r.id, r.unit)
    anchor = f"check-{index}"
    title = shorten(check_title(r), MAX_TITLE)
    threshold = dict(r.threshold or {})
    baseline = dict(r.baseline or {})
    svg = charts.metric_chart(r, uid=f"m{index}", unit=unit)
    tables, images = card_tables(r, caption=(method.group_value or "") if method else "")
    shown_tables, repeats = [], []
    for t in tables:
        again = seen.first({"t": t["title"], "c": t["columns"], "r": t["rows"]}, anchor, title)
        if again is not None:
            repeats.append({"what": t["title"] or "table", "anchor": again[0], "title": again[1]})
            continue
        t = _dedupe_rows(t, seen, anchor, title)
        t, dropped = _dedupe_columns(t, seen, anchor, title)
        if dropped is not None and t is None:
            repeats.append({"what": t_title_or(dropped), "anchor": dropped["anchor"], "title": dropped["title"]})
        elif t is not None:
            shown_tables.append(t)
    detail_charts = []
    for j, chart in enumerate((r.details or {}).get("charts") or [], start=1):
        if not isinstance(chart, dict):
            continue
        drawn_chart = _chart_threshold(chart, r, unit)
        # The same chart in several cards (the shared latency profile) is drawn once. Checks that
        # share a profile bootstrap its intervals each with their own seed, so the intervals are
        # left out of the comparison, unless this card draws its own threshold on the chart.
        again = seen.first(_chart_identity(chart), anchor, title)
        if again is not None and drawn_chart is chart:
            repeats.append({"what": str(chart.get("title") or "chart"), "anchor": again[0], "title": again[1]})
            continue
        drawn = charts.chart_svg(drawn_chart, uid=f"d{index}-{j}")
        detail_charts.append({"svg": Markup(drawn) if drawn else None, "title": shorten(chart.get("title", ""), 200),
                              "kind": str(chart.get("kind", "?")), "small": False})
    for k, im in enumerate(images, start=1):
        label = f"Example {im['example']}" + (f" ({im['prediction']})" if im["prediction"] else "")
        drawn = charts.image_map(im["values"], im["side"], f"{label}: change per pixel", uid=f"i{index}-{k}")
        detail_charts.append({"svg": Markup(drawn), "title": label, "kind": "image", "small": True})
    scope = (r.details or {}).get("scope") if isinstance((r.details or {}).get("scope"), dict) else {}
    return {
        "anchor": anchor,
        "id": r.id,
        "title": title,
        "family": r.family,
        "evalset": shorten(r.evalset, 120),
        "verdict": verdict,
        "vclass": verdict.lower(),
        "blocking": r.blocking,
        "measures": method.measures if method else "",
        "how_to_read": method.how_to_read if method else "",
        "note": _special_note(r, method),
        "threshold": threshold_text(threshold, unit),
        "reference": shorten(r.reference or threshold.get("reference") or "", 400),
        "value": fmt_value(r.value, unit),
        "interval": fmt_interval(r.interval, unit),
        "interval_note": interval_note(r.interval),
        "n": fmt_count(r.n) if r.n is not None else "",
        "rows_from": shorten(scope.get("source", ""), 120) if scope else "",
        "duration": f"{r.duration_s:.2f} s",
        "message": shorten(card_message(r.message), MAX_MESSAGE),
        "params": _params(r.params),
        "chart": Markup(svg) if svg else None,
        "baseline": bool(baseline),
        "baseline_value": fmt_value(baseline.get("baseline_value"), unit) if baseline else "",
        "change": _signed(baseline.get("change")) if baseline else "",
        "regressed": bool(baseline.get("regressed")),
        "baseline_extra": [(k.replace("_", " "), plain(v)) for k, v in baseline.items()
                           if k not in ("baseline_value", "change", "regressed") and v is not None],
        "tables": shown_tables,
        # A table wider than a portrait page's column is printed on a landscape page, with its card.
        "landscape": any(len(t["columns"]) > LANDSCAPE_COLUMNS for t in shown_tables),
        "repeats": _group_repeats(repeats),
        "charts": detail_charts,
        "error": _error_view(r.error),
    }


def _group_repeats(repeats: list[dict]) -> list[dict]:
    """One line per earlier card: "Latency per batch size, Measured on: shown with “p95 latency”."""
    out: dict[str, dict] = {}
    for r in repeats:
        entry = out.setdefault(r["anchor"], {"anchor": r["anchor"], "title": r["title"], "whats": []})
        if r["what"] not in entry["whats"]:
            entry["whats"].append(r["what"])
    return [{**e, "what": ", ".join(e["whats"])} for e in out.values()]


def _signed(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
        return "+" + fmt_num(v)
    return fmt_num(v)


def _error_view(error: dict | None) -> dict[str, Any] | None:
    if not error:
        return None
    fields = [(k, shorten(v, 600)) for k, v in error.items() if k != "traceback"]
    return {"fields": fields, "traceback": shorten(error.get("traceback") or "", 6000)}
