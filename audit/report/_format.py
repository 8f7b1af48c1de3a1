"""Text formatting shared by the renderers (HTML, JUnit, console).

Only formatting: every number comes from the :class:`~audit.results.AuditResult`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

VERDICT_ORDER = ("PASS", "WARN", "FAIL", "INCONCLUSIVE", "ERROR", "SKIPPED")

VERDICT_MEANING = {
    "PASS": "the value clears every bound",
    "WARN": "the value clears the hard bounds but is inside a warning zone",
    "FAIL": "the value violates a bound",
    "INCONCLUSIVE": "the evidence is insufficient (interval straddles a bound, too few rows, small group)",
    "ERROR": "the check raised an error; see its traceback",
    "SKIPPED": "the check does not apply to this audit (reason given)",
}


def fmt_num(v: Any) -> str:
    """A number for people: 4 significant digits, thousands separators for large ones."""
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
            return f"{v:.2e}"
        return f"{v:.4g}"
    return str(v)


def fmt_bound(v: Any) -> str:
    """A threshold bound: as written, with at most 4 significant digits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e6:
        return str(int(v)) if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, float) and abs(v) < 10:
        s = f"{v:.4g}"
        return s if "." not in s or len(s.split(".")[1]) >= 2 else f"{v:.2f}"
    return fmt_num(v)


def fmt_interval(interval: Any) -> str:
    """``[low, high]`` or an em dash when there is no interval."""
    if interval is None:
        return "—"
    low, high = _get(interval, "low"), _get(interval, "high")
    if low is None and high is None:
        return "—"
    return f"[{fmt_num(low)}, {fmt_num(high)}]"


def interval_note(interval: Any) -> str:
    """``95% bootstrap-counts`` — the level and method of an interval."""
    if interval is None:
        return ""
    level = _get(interval, "level")
    method = _get(interval, "method") or ""
    pct = f"{level * 100:g}%" if isinstance(level, int | float) else ""
    return " ".join(x for x in (pct, method) if x)


def fmt_extra(v: Any) -> str:
    """A per-group extra: a number, ``{"value", "low", "high"}``, or anything JSON."""
    if isinstance(v, dict) and "value" in v:
        s = fmt_num(v.get("value"))
        if v.get("low") is not None or v.get("high") is not None:
            s += f" {fmt_interval(v)}"
        return s
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return fmt_num(v)


def threshold_text(threshold: dict | None) -> str:
    """E.g. ``≥ 0.80 (warn < 0.85), interval decision``."""
    t = threshold or {}
    bounds = []
    if t.get("min") is not None:
        bounds.append(f"≥ {fmt_bound(t['min'])}")
    if t.get("max") is not None:
        bounds.append(f"≤ {fmt_bound(t['max'])}")
    text = " and ".join(bounds)
    warns = []
    if t.get("warn_min") is not None:
        warns.append(f"warn < {fmt_bound(t['warn_min'])}")
    if t.get("warn_max") is not None:
        warns.append(f"warn > {fmt_bound(t['warn_max'])}")
    if warns:
        text = f"{text} ({', '.join(warns)})" if text else ", ".join(warns)
    extras = []
    if t.get("decision") == "interval":
        extras.append("interval decision")
    if t.get("min_samples") is not None:
        extras.append(f"n ≥ {fmt_num(t['min_samples'])}")
    reg = t.get("max_regression")
    if isinstance(reg, dict) and reg:
        extras.append("max regression " + ", ".join(f"{k} {fmt_num(v)}" for k, v in reg.items()
                                                     if v is not None))
    return ", ".join(x for x in [text, *extras] if x) or "—"


def verdict_str(v: Any) -> str:
    return getattr(v, "value", v) if v is not None else ""


def family_of(check_id: str) -> str:
    return check_id.split(".", 1)[0]


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (naive ones are taken as UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def fmt_time(value: Any) -> str:
    dt = parse_time(value)
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else (str(value) if value else "")


def slug(text: str, max_len: int = 60) -> str:
    """A file-system safe lower-case name: letters, digits and dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return s[:max_len].rstrip("-") or "audit"


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
