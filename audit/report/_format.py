"""Text formatting shared by the renderers (HTML, PDF, JUnit, console, Markdown).

Only formatting: every number comes from the :class:`~audit.results.AuditResult`.

Numbers are formatted by kind, the same way everywhere:

- shares, rates and other plain numbers: 4 significant digits (``0.7512``, ``0.0145``);
  magnitudes below 0.0001 print as ``< 0.0001`` (a value such as ``5.42e-20`` is a
  floating-point zero for a reader); 1,000 and above as a whole number with separators;
- counts (integers): thousands separators (``4,000``);
- quantities with a unit (``ms``, ``s``, ``MB``, ``rows/s``): the number, a space, the unit;
- intervals: both ends with the same number of decimals (3 significant digits of the
  larger end), joined by an en dash (``0.432 – 0.498``); an end the method could not bound prints as ``not bounded``.
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

TINY = 1e-4  # below this magnitude a number prints as "< 0.0001"
SIGNIFICANT = 4
DASH = "–"  # en dash between the ends of an interval

# Units implied by a check id's suffix, for results whose `unit` field is empty.
_ID_UNITS = (("_rows_per_s", "rows/s"), ("_ms", "ms"), ("_mb", "MB"), ("_s", "s"))


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        f = float(v)
        return f if math.isfinite(f) else None
    return None


def _decimals(magnitude: float, sig: int = SIGNIFICANT) -> int:
    """Decimals that give ``sig`` significant digits to a number of this magnitude."""
    if magnitude <= 0:
        return 0
    return max(0, sig - 1 - math.floor(math.log10(magnitude)))


def _fixed(v: float, decimals: int) -> str:
    text = f"{v:,.{decimals}f}"
    return "0" if text.strip("-0.,") == "" else text


def fmt_num(v: Any) -> str:
    """A number for people: 4 significant digits, separators from 1,000, ``< 0.0001`` for tiny ones.

    Examples
    --------
    >>> [fmt_num(x) for x in (0.751249, 48571, 4000, 5.42e-20, 0.0145, 175070.6, None, True)]
    ['0.7512', '48,571', '4,000', '< 0.0001', '0.0145', '175,071', '—', 'yes']
    """
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        if v == 0:
            return "0"
        a = abs(v)
        if a < TINY:
            return "< 0.0001" if v > 0 else "> -0.0001"
        if a >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{SIGNIFICANT}g}"
    return str(v)


def fmt_count(v: Any) -> str:
    """A count: an integer with thousands separators (a float count is rounded)."""
    f = _finite(v)
    return "—" if f is None else f"{round(f):,}"


def unit_of(check_id: str, unit: str | None = None) -> str:
    """The unit of a check's value: the result's ``unit`` field, else implied by the id's suffix.

    Examples
    --------
    >>> unit_of("latency.p95_ms"), unit_of("latency.throughput_rows_per_s"), unit_of("fairness.x")
    ('ms', 'rows/s', '')
    """
    if unit:
        return unit
    tail = check_id.rsplit(".", 1)[-1]
    for suffix, u in _ID_UNITS:
        if tail.endswith(suffix):
            return u
    return ""


def fmt_value(v: Any, unit: str = "") -> str:
    """A check's value with its unit (``7.419 ms``, ``175,071 rows/s``, ``0.4645``)."""
    text = fmt_num(v)
    return f"{text} {unit}" if unit and text != "—" else text


def fmt_interval(interval: Any, unit: str = "") -> str:
    """``0.432 – 0.498`` (both ends to the same decimals), or an em dash without an interval.

    Examples
    --------
    >>> fmt_interval({"low": 42550.2, "high": 56174.0}), fmt_interval({"low": 5.42e-20, "high": 9.59e-4})
    ('42,550 – 56,174', '< 0.0001 – 0.000959')
    >>> fmt_interval({"low": 0.43, "high": 0.5}), fmt_interval({"low": 0.00027, "high": 0.01715})
    ('0.430 – 0.500', '0.00027 – 0.01715')
    """
    if interval is None:
        return "—"
    low, high = _finite(_get(interval, "low")), _finite(_get(interval, "high"))
    if low is None and high is None:
        return "—"
    ends = [a for a in (abs(low or 0.0), abs(high or 0.0)) if a >= TINY]
    if not ends:
        text = f"{fmt_num(low)} {DASH} {fmt_num(high)}"
    else:
        biggest = max(ends)
        if biggest >= 1000:
            decimals = 0
        else:
            # The same decimals at both ends: 3 significant digits of the larger end and at
            # least 2 of the smaller, so "0.0200 – 0.0421" and never "0.02 – 0.04208".
            smallest = min(ends)
            decimals = min(max(_decimals(biggest, 3), _decimals(smallest, 2)), 7)

        def end(x: float | None) -> str:
            if x is None:
                return "not bounded"
            if x != 0 and abs(x) < TINY:
                return fmt_num(x)
            return _fixed(x, decimals)

        text = f"{end(low)} {DASH} {end(high)}"
    return f"{text} {unit}" if unit else text


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
            s += f" ({fmt_interval(v)})"
        return s
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return fmt_num(v)


def fmt_bound(v: Any) -> str:
    """A threshold bound: as written, with at most 4 significant digits and separators."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, float) and TINY <= abs(v) < 10:
        s = f"{v:.4g}"
        return s if "." not in s or len(s.split(".")[1]) >= 2 else f"{v:.2f}"
    return fmt_num(v)


def threshold_text(threshold: dict | None, unit: str = "") -> str:
    """E.g. ``≥ 0.80 (warn < 0.85), interval decision``; ``≤ 50 ms`` with a unit."""
    t = threshold or {}
    u = f" {unit}" if unit else ""
    bounds = []
    if t.get("min") is not None:
        bounds.append(f"≥ {fmt_bound(t['min'])}{u}")
    if t.get("max") is not None:
        bounds.append(f"≤ {fmt_bound(t['max'])}{u}")
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


# Words shown in capitals or with their usual spelling when a snake_case key is humanised.
_WORDS = {
    "sha256": "SHA-256", "os": "OS", "cpu": "CPU", "gb": "GB", "mb": "MB", "id": "id", "url": "URL",
    "ood": "OOD", "auroc": "AUROC", "tpr": "TPR", "fpr": "FPR", "psi": "PSI", "ks": "KS", "fdr": "FDR",
    "n": "n", "json": "JSON", "env": "environment", "pos": "positive", "s": "(s)", "ms": "(ms)",
}


def humanize_key(key: Any) -> str:
    """``toolkit_version`` -> ``Toolkit version``; ``sha256`` -> ``SHA-256``; other text unchanged.

    Examples
    --------
    >>> humanize_key("toolkit_version"), humanize_key("sha256"), humanize_key("wall_time_s")
    ('Toolkit version', 'SHA-256', 'Wall time (s)')
    """
    text = str(key)
    if not re.fullmatch(r"[a-z0-9_]+", text):
        return text  # a label someone wrote (a group, a library name with capitals): keep it
    words = [_WORDS.get(w, w) for w in text.split("_") if w]
    if not words:
        return text
    first = words[0]
    words[0] = first[:1].upper() + first[1:] if first.islower() else first
    return " ".join(words)


def plain(v: Any, limit: int = 300) -> str:
    """Any manifest value as short plain text: yes/no, numbers by :func:`fmt_num`, lists joined."""
    if v is None:
        return "—"
    if isinstance(v, bool | int | float):
        return fmt_num(v)
    if isinstance(v, list | tuple):
        return shorten(", ".join(plain(x, limit) for x in v), limit) if v else "none"
    if isinstance(v, dict):
        return shorten("; ".join(f"{humanize_key(k)}: {plain(x, limit)}" for k, x in v.items()), limit)
    return shorten(str(v), limit)


def shorten(text: Any, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out.

    Reports stay bounded whatever the input (a 10,000-character column name): the full
    value is always in results.json.
    """
    s = "" if text is None else str(text)
    if len(s) <= limit:
        return s
    return f"{s[: max(limit - 1, 1)]}… ({len(s) - limit + 1:,} more characters in results.json)"


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
