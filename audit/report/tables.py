"""Tables of a check card, shaped for reading: one table per card, numbers by kind, bounded.

A check's result can describe its rows twice: as ``groups`` (structured per-group values)
and as a details table the check wrote for people. The card shows one of them:

- a details table whose first column lists the groups (or the severities of the groups)
  *is* the per-group table: it is shown, with its own column names, and the generic
  groups table is not;
- otherwise the groups are shown as a table built from ``groups``.

Every table is bounded: per-group tables beyond :data:`MAX_GROUP_ROWS` keep the groups with
the lowest and highest values, other tables their first :data:`MAX_TABLE_ROWS` rows, and
cells are cut to :data:`MAX_CELL` characters; a note says what was left out (all of it is
in results.json). Adjacent ``low``/``high`` columns become one interval column, and long
per-feature example tables (an attack that changed every pixel) become one summary row
per example.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from audit.report._format import (
    fmt_count,
    fmt_interval,
    fmt_num,
    humanize_key,
    shorten,
)
from audit.report.charts import select_extremes

__all__ = [
    "MAX_GROUP_ROWS",
    "MAX_TABLE_ROWS",
    "MAX_CELL",
    "card_tables",
    "matches_groups",
]

MAX_GROUP_ROWS = 30
MAX_TABLE_ROWS = 40
MAX_CELL = 160
MAX_COLUMNS = 14
TRANSPOSE_COLUMNS = 7  # a table with more columns than this and at most TRANSPOSE_ROWS rows is transposed
TRANSPOSE_ROWS = 7
EXAMPLE_FEATURES = 8    # an example changing more features than this is summarised
MAX_EXAMPLE_IMAGES = 3

# "0.430 (0.406-0.453)": a value with its interval written by a check as text.
_PAIR = re.compile(r"^(-?\d[\d.,e+-]*) \((-?\d[\d.,e+-]*)-(-?\d[\d.,e+-]*)\)$")
_COUNT_COLUMNS = re.compile(r"^(n|rows?|count|flips|flipped|calls|timed calls|warm-up|rows attacked|"
                            r"example|base row|.*\brows\b.*)$", re.I)


def _cell(v: Any, column: str = "") -> dict[str, Any]:
    """One cell: its text, whether it is a number (right-aligned), and an interval line."""
    if isinstance(v, bool):
        return {"text": "yes" if v else "no", "num": False, "ci": ""}
    if v is None:
        return {"text": "—", "num": True, "ci": ""}
    if isinstance(v, int):
        return {"text": fmt_count(v), "num": True, "ci": ""}
    if isinstance(v, float):
        if _COUNT_COLUMNS.match(column) and math.isfinite(v) and v.is_integer():
            return {"text": fmt_count(v), "num": True, "ci": ""}
        return {"text": fmt_num(v), "num": True, "ci": ""}
    if isinstance(v, dict) and "value" in v:
        ci = fmt_interval(v) if (v.get("low") is not None or v.get("high") is not None) else ""
        return {"text": fmt_num(v.get("value")), "num": True, "ci": ci}
    if isinstance(v, dict | list):
        return {"text": shorten(json.dumps(v, sort_keys=True, default=str), MAX_CELL), "num": False, "ci": ""}
    text = str(v)
    m = _PAIR.match(text)
    if m:
        return {"text": m.group(1), "num": True, "ci": f"{m.group(2)} – {m.group(3)}"}
    return {"text": shorten(text, MAX_CELL), "num": False, "ci": ""}


def _low_high_pairs(columns: list[str]) -> list[tuple[int, int, int]]:
    """(value column, low column, high column) for each adjacent ``low``/``high`` pair after a value."""
    out = []
    i = 1
    while i + 1 < len(columns):
        a, b = columns[i].strip().lower(), columns[i + 1].strip().lower()
        if a.endswith("low") and b.endswith("high") and a[:-3] == b[:-4]:
            out.append((i - 1, i, i + 1))
            i += 2
        else:
            i += 1
    return out


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _merge_intervals(columns: list[str], rows: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """Fold ``low``/``high`` columns into the value column before them as ``{value, low, high}``."""
    pairs = [p for p in _low_high_pairs(columns)
             if all(_is_number(r[p[0]]) and _is_number(r[p[1]]) and _is_number(r[p[2]])
                    for r in rows if len(r) > p[2])]
    if not pairs:
        return columns, rows
    drop = {j for _, lo, hi in pairs for j in (lo, hi)}
    new_rows = []
    for r in rows:
        r = list(r) + [None] * (len(columns) - len(r))
        for v, lo, hi in pairs:
            r[v] = {"value": r[v], "low": r[lo], "high": r[hi]}
        new_rows.append([c for j, c in enumerate(r) if j not in drop])
    return [c for j, c in enumerate(columns) if j not in drop], new_rows


def _severity_label(label: str) -> str:
    return label.rsplit("@", 1)[-1] if "@" in label else label


def _same_number(a: Any, b: str) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def matches_groups(table: dict, groups: list) -> bool:
    """True when ``table`` lists the same rows as ``groups`` (its first column names them)."""
    rows = table.get("rows") or []
    if not groups or len(rows) != len(groups):
        return False
    for row, g in zip(rows, groups, strict=True):
        first = row[0] if isinstance(row, list | tuple) and row else row
        label = str(g.group)
        if str(first) == label:
            continue
        if "@" in label and _same_number(first, _severity_label(label)):
            continue
        return False
    return True


def _transpose(columns: list[str], rows: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """Rows become columns: the first column's values head the new columns."""
    head = [str(columns[0])] + [str(r[0]) if r else "" for r in rows]
    body = [[columns[j]] + [r[j] if j < len(r) else None for r in rows] for j in range(1, len(columns))]
    return head, body


def _table(title: str, columns: list[str], rows: list[list[Any]], *, flags: set[int] = frozenset(),
           keep: list[int] | None = None, note: str = "", empty: str = "none found") -> dict[str, Any]:
    columns, rows = _merge_intervals(columns, rows)
    if len(columns) > TRANSPOSE_COLUMNS and 0 < len(rows) <= TRANSPOSE_ROWS and keep is None:
        # Many columns, few rows (a latency profile per batch size, the attacks of a curve): one
        # row per measure reads better and fits the page's width. A flagged row becomes a column
        # whose heading says so.
        columns, rows = _transpose(columns, rows)
        columns = [c if j - 1 not in flags else f"{c} (flagged)" for j, c in enumerate(columns)]
        flags = set()
        transposed = True
    else:
        transposed = False
    total = len(rows)
    if keep is None:
        keep = list(range(min(total, MAX_TABLE_ROWS)))
        if total > MAX_TABLE_ROWS:
            note = note or (f"First {MAX_TABLE_ROWS} of {total:,} rows shown; all of them are in "
                            "results.json.")
    cut_cols = len(columns) > MAX_COLUMNS
    shown_cols = columns[:MAX_COLUMNS]
    if cut_cols:
        note = (note + " " if note else "") + (f"First {MAX_COLUMNS} of {len(columns)} columns shown; all "
                                               "in results.json.")
    out_rows = []
    for i in keep:
        row = rows[i] if isinstance(rows[i], list | tuple) else [rows[i]]
        cells = [_cell(row[j] if j < len(row) else None, shown_cols[j]) for j in range(len(shown_cols))]
        span = 1
        if transposed and len(cells) > 2 and all(c == cells[1] for c in cells[2:]):
            # the same value in every column (the attack of every set of a curve): said once
            cells, span = cells[:2], len(cells) - 1
        out_rows.append({"cells": cells, "flag": i in flags, "span": span})
    return {"title": shorten(title, 300), "columns": [shorten(c, 60) for c in shown_cols], "rows": out_rows,
            "note": note, "empty": empty if not total else "", "wide": len(shown_cols) > 8}


def _group_keep(groups: list, limit: int) -> tuple[list[int], str]:
    keep = select_extremes([g.value for g in groups], limit)
    if len(keep) == len(groups):
        return keep, ""
    return keep, (f"{len(keep)} of {len(groups):,} groups shown: the {limit // 2} with the lowest and the "
                  f"{limit - limit // 2} with the highest values; every group is in results.json.")


def _gap_column(result) -> str:
    cmp = (result.params or {}).get("compare_to") or "best"
    target = "reference group" if cmp == "reference" else f"{cmp} group"
    kind = "ratio" if result.id.endswith("_ratio") else "gap"
    return f"{kind} vs {target}"


def groups_table(result, caption: str = "") -> dict[str, Any]:
    """The per-group table built from ``result.groups`` (group, rows, value and interval, extras)."""
    groups = list(result.groups)
    extra_keys: list[str] = []
    for g in groups:
        extra_keys += [k for k in g.extra if k not in extra_keys and k not in ("partition", "included")]
    # An extra that repeats the group's value (a fairness check's first rate) is shown once.
    extra_keys = [k for k in extra_keys
                  if not all(isinstance(g.extra.get(k), dict) and g.value is not None
                             and g.extra[k].get("value") == g.value for g in groups)]
    names = {k: (_gap_column(result) if k == "gap" else humanize_key(k)) for k in extra_keys}
    excluded = any(g.extra.get("included") is False for g in groups)
    columns = ["group", "rows", "value", *[names[k] for k in extra_keys]]
    if any(g.small for g in groups) or excluded:
        columns.append("note")
    rows, flags = [], set()
    for i, g in enumerate(groups):
        iv = g.interval
        value = {"value": g.value, "low": iv.low if iv else None, "high": iv.high if iv else None}
        row = [shorten(g.group, 120), g.n, value, *[g.extra.get(k) for k in extra_keys]]
        if len(columns) > len(row):
            bits = (["small"] if g.small else []) + (["excluded from the value"]
                                                       if g.extra.get("included") is False else [])
            row.append(", ".join(bits) or "")
        rows.append(row)
        if g.small:
            flags.add(i)
    keep, note = _group_keep(groups, MAX_GROUP_ROWS)
    title = "Per group" + (f": {caption}" if caption else "")
    if any(g.small for g in groups):
        title += " (groups below the minimum size are flagged: shown, not hidden)"
    return _table(title, columns, rows, flags=flags, keep=keep, note=note)


def _example_summary(table: dict) -> tuple[dict[str, Any], list[dict]] | None:
    """One summary row per example of a long-format example table, and image maps where pixel-shaped.

    Returns None when the table is not an example table or its examples change few features.
    """
    cols = [str(c) for c in table.get("columns") or []]
    low = [c.lower() for c in cols]
    if "example" not in low or "feature" not in low:
        return None
    rows = [r for r in table.get("rows") or [] if isinstance(r, list | tuple)]
    ie, ifeat = low.index("example"), low.index("feature")
    ichange = next((j for j, c in enumerate(low) if c.startswith("change")), None)
    ibase = low.index("base row") if "base row" in low else None
    ipred = low.index("prediction") if "prediction" in low else None
    examples: dict[Any, list] = {}
    for r in rows:
        examples.setdefault(r[ie], []).append(r)
    if not examples or max(len(v) for v in examples.values()) <= EXAMPLE_FEATURES:
        return None
    unit = cols[ichange][len("change"):].strip(" ()") if ichange is not None else ""
    out_rows, images = [], []
    for ex, rs in examples.items():
        changes = [abs(float(r[ichange])) for r in rs
                   if ichange is not None and isinstance(r[ichange], int | float) and not isinstance(r[ichange], bool)]
        pred = next((r[ipred] for r in rs if ipred is not None and r[ipred]), "")
        out_rows.append([ex, rs[0][ibase] if ibase is not None else None, pred, len(rs),
                         max(changes) if changes else None,
                         sum(changes) / len(changes) if changes else None])
        if ichange is not None and len(images) < MAX_EXAMPLE_IMAGES:
            cells = {str(r[ifeat]): r[ichange] for r in rs}
            images.append({"example": ex, "prediction": pred, "cells": cells})
    title = str(table.get("title") or "Examples")
    summary = _table(f"{title}: one row per example", ["example", "base row", "prediction",
                                                       "features changed", f"largest |change| ({unit})",
                                                       f"mean |change| ({unit})"], out_rows,
                     note=f"{len(rows):,} changed feature values in {len(examples)} examples, summarised; "
                     "every value is in results.json.")
    return summary, images


def _image_shape(names: list[str]) -> tuple[str, int] | None:
    """``(prefix, side)`` when every feature is ``<prefix><index>`` and the indices fit a square image."""
    parsed = [re.fullmatch(r"([A-Za-z_]+?)_?(\d+)", n) for n in names]
    if not parsed or not all(parsed):
        return None
    prefixes = {m.group(1) for m in parsed}
    if len(prefixes) != 1:
        return None
    top = max(int(m.group(2)) for m in parsed)
    side = math.isqrt(top) + (0 if math.isqrt(top) ** 2 > top else 1)
    if side < 4 or side > 64:
        return None
    return prefixes.pop(), side


def card_tables(result, *, caption: str = "") -> tuple[list[dict], list[dict]]:
    """The tables of one check card, and the example image maps to draw.

    Parameters
    ----------
    result : audit.results.CheckResult
    caption : str
        What a group's value is (from the methods reference), for the generic groups table.

    Returns
    -------
    tables : list of dict
        Template-ready tables (title, columns, rows of cells, note, empty text).
    images : list of dict
        ``{"example", "prediction", "side", "values"}`` per example image to draw (pixel-shaped
        example tables only): ``values`` maps the pixel index to its change.
    """
    details = result.details or {}
    raw = [t for t in details.get("tables") or [] if isinstance(t, dict)]
    groups = list(result.groups)
    tables, images = [], []
    dup = next((t for t in raw if matches_groups(t, groups)), None)
    if groups and dup is None:
        tables.append(groups_table(result, caption))
    for t in raw:
        columns = [str(c) for c in t.get("columns") or []]
        rows = [list(r) if isinstance(r, list | tuple) else [r] for r in t.get("rows") or []]
        flags = {int(i) for i in t.get("flag_rows") or [] if isinstance(i, int)}
        if t is dup:
            keep, note = _group_keep(groups, MAX_GROUP_ROWS)
            tables.append(_table(str(t.get("title") or ""), columns, rows, flags=flags, keep=keep, note=note))
            continue
        summarised = _example_summary(t)
        if summarised is not None:
            summary, examples = summarised
            tables.append(summary)
            for ex in examples:
                shape = _image_shape(list(ex["cells"]))
                if shape is None:
                    continue
                prefix, side = shape
                values = {int(re.sub(r"\D", "", k)): v for k, v in ex["cells"].items()}
                images.append({"example": ex["example"], "prediction": ex["prediction"], "side": side,
                               "values": values, "prefix": prefix})
            continue
        # Example tables flag every row (they are all changes): no highlight needed.
        if flags and len(flags) == len(rows):
            flags = set()
        tables.append(_table(str(t.get("title") or ""), columns, rows, flags=flags))
    return tables, images
