"""Collecting policy problems with file, key path, line and a suggestion.

A policy may be spread over several files (``extends``). Validation runs on the
merged document, so each problem's key path is translated back to the file
and the key path *in that file* where the offending value was written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.errors import PolicyProblem

__all__ = ["Collector", "Located", "describe", "format_loc", "union_merged"]

# (source index, key path in that source); source 0 is the policy that was loaded.
Located = tuple[int, tuple]


def format_loc(loc: tuple) -> str:
    """``("checks", 2, "threshold", "min")`` -> ``checks[2].threshold.min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _longest(mapping: dict[tuple, Any], loc: tuple) -> tuple[tuple, Any] | None:
    while True:
        if loc in mapping:
            return loc, mapping[loc]
        if not loc:
            return None
        loc = loc[:-1]


class Collector:
    """Problems found so far, each placed in its file.

    Parameters
    ----------
    files : list of str
        How to name each source file in messages (index 0: the loaded policy,
        named ``None`` in problems since the error names it already).
    lines : list of dict
        Per source, key path -> line.
    origins : dict, optional
        Key path in the merged document -> (source, key path in that source).
        Without it, paths are the loaded policy's own.
    """

    def __init__(self, files: list[str], lines: list[dict[tuple, int]],
                 origins: dict[tuple, Located] | None = None):
        self.files = files
        self.lines = lines
        self.origins = origins
        self.problems: list[PolicyProblem] = []

    def place(self, loc: tuple) -> Located:
        """Where a key path of the merged document was written."""
        if self.origins is None:
            return 0, loc
        hit = _longest(self.origins, loc)
        if hit is None:
            return 0, loc
        prefix, (src, path) = hit
        return src, path + loc[len(prefix):]

    def line(self, src: int, path: tuple) -> int | None:
        if src >= len(self.lines):
            return None
        hit = _longest(self.lines[src], path)
        return hit[1] if hit is not None else None

    def add_at(self, src: int, path: tuple, message: str, line: int | None = None) -> None:
        """A problem at ``path`` of source ``src`` (at ``line`` when the path cannot tell)."""
        file = None if src == 0 or src >= len(self.files) else self.files[src]
        line = line if line is not None else self.line(src, path)
        problem = PolicyProblem(format_loc(path), message, line, file)
        if problem not in self.problems:
            self.problems.append(problem)

    def add(self, loc: tuple, message: str) -> None:
        """A problem at key path ``loc`` of the merged document."""
        self.add_at(*self.place(loc), message)

    def add_validation(self, err: ValidationError, prefix: tuple = (), model=None,
                       model_at: Callable[[tuple], type[BaseModel] | None] | None = None) -> None:
        """Every error of a pydantic validation, under key path ``prefix``."""
        for loc, e in union_merged(err.errors()):
            self.add(prefix + loc, describe(e, prefix + loc, model, model_at))


_UNION_TAGS = {"bool", "int", "float", "str", "none", "list", "dict", "date"}


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or "[" in part)


def union_merged(errors: list[dict]) -> list[tuple[tuple, dict]]:
    """pydantic's errors with the members of a failed union folded into one per key.

    A value failing ``bool | int | float | str`` gets one error per member, each
    with the member's type in its path (``categories[1].bool``); the reader wants
    one line: "expected bool, int, float or str".
    """
    out: list[tuple[tuple, dict]] = []
    unions: dict[tuple, list[str]] = {}
    for e in errors:
        loc = tuple(e["loc"])
        # An unknown key is the user's text, never a union member's tag (a key may hold '[').
        if loc and e["type"] != "extra_forbidden" and _is_union_tag(loc[-1]):
            key = loc[:-1]
            if key not in unions:
                unions[key] = []
                out.append((key, {**e, "loc": key}))
            unions[key].append(str(loc[-1]))
            continue
        out.append((loc, e))
    for i, (loc, e) in enumerate(out):
        if loc in unions and e["loc"] == loc and len(unions[loc]) > 1:
            kinds = unions[loc]
            out[i] = (loc, {"type": "union", "loc": loc, "input": e.get("input"),
                            "msg": f"Expected {', '.join(kinds[:-1])} or {kinds[-1]}"})
    return out


def describe(e: dict, loc: tuple, model=None,
             model_at: Callable[[tuple], type[BaseModel] | None] | None = None) -> str:
    """One pydantic error as "what was expected; what was found; did you mean"."""
    kind, msg = e["type"], e["msg"]
    found = e.get("input")
    if kind == "extra_forbidden":
        parent = model if model is not None else (model_at(loc[:-1]) if model_at else None)
        if loc[-1] == "trust" and parent is not None and "batch_size" in parent.model_fields:
            return ("a policy cannot grant trust: loading pickle/joblib models runs code, so only the "
                    "person running the audit grants it, with --trust-model on the command line (or "
                    "AUDIT_TRUST_MODEL=1 in its environment); remove 'trust' from the policy")
        allowed = sorted(parent.model_fields) if parent is not None else []
        if parent is not None and not allowed:
            return f"unknown key {loc[-1]!r}; this takes no parameters"
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {loc[-1]!r}; expected one of {allowed}{hint}"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ")
    shown = repr(found)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    text = f"{msg[0].lower() + msg[1:]}; found {shown}"
    if kind == "literal_error" and isinstance(found, str):
        options = re.findall(r"'([^']*)'", (e.get("ctx") or {}).get("expected", ""))
        close = difflib.get_close_matches(found, options, n=1, cutoff=0.6)
        if close:
            text += f"; did you mean {close[0]!r}?"
    elif kind == "finite_number":
        text = f"expected a finite number; found {shown} (.nan and .inf are not allowed)"
    elif kind == "bool_type" and isinstance(found, str):
        text += " (a string; write true or false, without quotes)"
    elif kind in ("int_type", "float_type") and isinstance(found, str):
        text += " (a string; write the number without quotes)"
    elif kind == "int_type" and isinstance(found, float):
        text += " (a float; write a whole number without a decimal point)"
    return text
