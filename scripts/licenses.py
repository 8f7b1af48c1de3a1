"""Licences of the core dependencies: write THIRD_PARTY_LICENSES.md and gate on an allow-list.

Run from the repository root, in the environment the project is installed in::

    python scripts/licenses.py                      # writes THIRD_PARTY_LICENSES.md
    python scripts/licenses.py --output - --pyproject path/to/pyproject.toml

It reads ``[project].dependencies`` from ``pyproject.toml`` (the core: no
extras), follows every installed distribution's own requirements (markers
evaluated for this interpreter; a requirement only an extra asks for is
followed only when a parent asked for that extra), and reads each one's
licence from its installed metadata, in this order:

1. ``License-Expression`` (PEP 639: an SPDX expression);
2. ``License``, when it is a short name (``"MIT"``, ``"Apache 2.0"``, ``"BSD-3-Clause"``);
3. the ``License ::`` trove classifiers (several are read as alternatives, OR);
4. the opening lines of the licence file the distribution ships (MIT, BSD or Apache text).

Exit code 0 when every dependency's licence is allowed, 1 when one is not
(copyleft, source-available, proprietary or not found), 2 when the inputs are
wrong (no pyproject, a core dependency not installed). The table is written
either way.

The allow-list (:data:`ALLOWED`) holds permissive licences an Apache-2.0
project may depend on and redistribute without conditions beyond notices: MIT,
MIT-0, BSD (0/2/3-clause; ``BSD`` when a classifier does not say which), ISC,
Apache-2.0, PSF-2.0 / Python-2.0 / CNRI-Python (the permissive Python
licences), HPND, Zlib, Unlicense, CC0-1.0. MPL-2.0 and MPL-1.1 are allowed too:
their copyleft is per file and reaches only modified MPL files; using an
unmodified installed library (certifi, tqdm, pyphen) imposes nothing on this
project's code (the ASF lists both in its category B, fine to depend on in
binary form). They are marked "weak copyleft" in the table so that vendoring
or patching such a package gets a second look. For ``A OR B`` the first allowed
alternative is the one the project uses, and the table says so. GPL, AGPL and LGPL (reciprocal
licences that reach the combined work or require relinking), BUSL (not open
source: production use needs a commercial licence), SSPL, and anything
proprietary or undeclared fail.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata as md
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["ALLOWED", "LicenceRow", "evaluate", "judge", "main", "render", "resolve"]

#: SPDX identifiers that pass, with a note for the report (compared case-insensitively).
ALLOWED = {
    "MIT": "", "MIT-0": "", "MIT-CMU": "", "0BSD": "", "BSD-2-Clause": "", "BSD-3-Clause": "",
    "BSD": "BSD-style; the metadata does not say which clauses", "ISC": "", "Apache-2.0": "",
    "PSF-2.0": "", "Python-2.0": "", "CNRI-Python": "", "HPND": "", "Zlib": "", "Unlicense": "",
    "CC0-1.0": "",
    "MPL-2.0": "weak copyleft (per file): allowed unmodified",
    "MPL-1.1": "weak copyleft (per file): allowed unmodified",
}
_ALLOWED_UPPER = {k.upper(): v for k, v in ALLOWED.items()}
#: Licence families that fail, with the reason given in the report.
DENIED = {
    "AGPL": "strong copyleft, reaching network use", "LGPL": "copyleft (relinking, source of the library)",
    "GPL": "strong copyleft over the combined work", "BUSL": "source-available, not open source: "
    "production use needs a commercial licence", "SSPL": "not open source",
    "LicenseRef-Proprietary": "proprietary",
}

# Short names seen in License fields and classifiers, to SPDX.
_ALIASES = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "expat": "MIT",
    "bsd": "BSD", "bsd license": "BSD", "new bsd": "BSD-3-Clause", "new bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause", "bsd 3-clause license": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause", "bsd-3": "BSD-3-Clause", "simplified bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause", "bsd 2-clause license": "BSD-2-Clause",
    "apache": "Apache-2.0", "apache 2": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0", "apache license 2.0": "Apache-2.0", "apache 2.0 license": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0", "isc": "ISC", "isc license": "ISC",
    "isc license (iscl)": "ISC", "psf": "PSF-2.0", "python software foundation license": "PSF-2.0",
    "psfl": "PSF-2.0", "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "mozilla public license 1.1 (mpl 1.1)": "MPL-1.1",
    "historical permission notice and disclaimer (hpnd)": "HPND", "the unlicense (unlicense)": "Unlicense",
    "zlib/libpng license": "Zlib", "business source license 1.1": "BUSL-1.1", "bsl 1.1": "BUSL-1.1",
    "other/proprietary license": "LicenseRef-Proprietary", "proprietary": "LicenseRef-Proprietary",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu library or lesser general public license (lgpl)": "LGPL-2.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "gnu general public license (gpl)": "GPL-2.0-or-later", "gpl": "GPL-2.0-or-later",
    "lgpl": "LGPL-2.0-or-later", "agpl": "AGPL-3.0-only",
}
_SPDX_TOKEN = re.compile(r"^[A-Za-z0-9.+-]+$")


@dataclass
class LicenceRow:
    """One distribution in the report."""

    name: str
    version: str
    licence: str
    source: str
    status: str = ""  # "ok" or "FAIL"
    reason: str = ""
    required_by: set[str] = field(default_factory=set)


def _short(text: str | None) -> str | None:
    """An SPDX expression for a short licence name, or None."""
    if not text:
        return None
    text = text.strip()
    if "\n" in text or len(text) > 80:
        return None
    alias = _ALIASES.get(text.lower().removesuffix(" license").strip()) or _ALIASES.get(text.lower())
    if alias:
        return alias
    words = re.split(r"\s+(AND|OR|WITH)\s+|[()]", text)
    if all(w is None or not w.strip() or w in ("AND", "OR", "WITH") or _SPDX_TOKEN.match(w.strip())
           for w in words):
        return text  # already an SPDX expression
    return None


def _from_text(text: str) -> str | None:
    """Recognise the licence at the top of a licence file (other licences may follow it)."""
    head = " ".join(text.split()[:400]).lower()
    if "permission is hereby granted, free of charge" in head:
        return "MIT"
    if "apache license" in head and "version 2.0" in head:
        return "Apache-2.0"
    if "redistribution and use in source and binary forms" in head:
        return "BSD-3-Clause" if "neither the name" in head or "names of its contributors" in head \
            else "BSD-2-Clause"
    if "mozilla public license version 2.0" in head:
        return "MPL-2.0"
    return None


def resolve(meta: Mapping, licence_text: str | None = None) -> tuple[str, str]:
    """The licence of one distribution, as an SPDX expression, and where it was read.

    Parameters
    ----------
    meta : mapping
        The distribution's metadata (``importlib.metadata.metadata(name)``, or any
        object with ``get(key)`` and ``get_all(key)``).
    licence_text : str, optional
        The text of the licence file it ships, read when nothing else names the licence.

    Returns
    -------
    (expression, source) : tuple of str
        ``("UNKNOWN", "not declared")`` when nothing names it.
    """
    expr = (meta.get("License-Expression") or "").strip()
    if expr:
        return expr, "License-Expression"
    short = _short(meta.get("License"))
    if short:
        return short, "License"
    names = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or [])
             if c.startswith("License ::") and c.count("::") >= 2]
    found = [_ALIASES.get(n.lower()) or _ALIASES.get(n.lower().removesuffix(" license")) for n in names]
    found = [f for f in found if f]
    texts = ((meta.get("License"), "License text"), (licence_text, "licence file"))
    guesses = [(g, src) for text, src in texts if text and (g := _from_text(text))]
    if found:
        alternatives = sorted(set(found))
        if alternatives == ["BSD"]:
            # "BSD License" does not say which clauses; the licence text usually does.
            for guess, src in guesses:
                if guess.startswith("BSD"):
                    return guess, f"classifier + {src}"
        return (" OR ".join(alternatives) if len(alternatives) > 1 else alternatives[0]), "classifier"
    return guesses[0] if guesses else ("UNKNOWN", "not declared")


def _tokens(expr: str) -> list[str]:
    return [t for t in re.split(r"\s+|(\(|\))", expr) if t]


def _parse(tokens: list[str]):
    """SPDX expression -> nested ("OR"|"AND", [...]) / licence id; WITH keeps the licence."""
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def factor():
        tok = take()
        if tok == "(":
            node = expr_or()
            if take() != ")":
                raise ValueError("unbalanced parentheses")
        else:
            node = tok
        if peek() and peek().upper() == "WITH":
            take()
            take()  # an exception only adds permissions: judge the licence it modifies
        return node

    def term():
        parts = [factor()]
        while peek() and peek().upper() == "AND":
            take()
            parts.append(factor())
        return parts[0] if len(parts) == 1 else ("AND", parts)

    def expr_or():
        parts = [term()]
        while peek() and peek().upper() == "OR":
            take()
            parts.append(term())
        return parts[0] if len(parts) == 1 else ("OR", parts)

    node = expr_or()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r}")
    return node


def _judge_id(lic: str) -> tuple[bool, str]:
    key = lic.upper().removesuffix("+")
    if key in _ALLOWED_UPPER:
        return True, _ALLOWED_UPPER[key]
    for family, why in DENIED.items():
        if key.startswith(family.upper()):
            return False, f"{lic}: {why}"
    return False, f"{lic}: not in the allow-list of permissive licences"


def judge(expression: str) -> tuple[bool, str]:
    """Whether a licence expression passes the allow-list, and why (or a note).

    ``A OR B`` passes when either passes (the recipient may choose); ``A AND B``
    when both do; ``A WITH exception`` is judged as ``A``.
    """
    if expression == "UNKNOWN":
        return False, "no licence in the metadata or licence file: check it by hand"
    try:
        tree = _parse(_tokens(expression))
    except (ValueError, IndexError) as exc:
        return False, f"unreadable licence expression {expression!r} ({exc})"

    def walk(node) -> tuple[bool, str]:
        if isinstance(node, str):
            return _judge_id(node)
        op, parts = node
        results = [walk(p) for p in parts]
        if op == "OR":
            good = [(p, r) for p, r in zip(parts, results, strict=True) if r[0]]
            if not good:
                return False, "; ".join(r[1] for r in results)
            part, (_, note) = good[0]
            chosen = f"used under {part}" if isinstance(part, str) and len(good) < len(parts) else ""
            return True, "; ".join(x for x in (chosen, note) if x)
        bad = [r for r in results if not r[0]]
        notes = "; ".join(r[1] for r in (bad or results) if r[1])
        return (not bad), notes

    return walk(tree)


def evaluate(metas: Iterable[tuple[Mapping, str | None]]) -> list[LicenceRow]:
    """Resolve and judge each distribution: the decision, without touching the environment.

    Parameters
    ----------
    metas : iterable of (metadata, licence_text)
        Each distribution's metadata mapping (``Name``, ``Version``, ``License``,
        ``License-Expression``, ``Classifier``) and its licence file's text or None.

    Returns
    -------
    list of LicenceRow
        One per distribution, sorted by name, ``status`` ``"ok"`` or ``"FAIL"``.
    """
    rows = []
    for meta, text in metas:
        expr, source = resolve(meta, text)
        ok, reason = judge(expr)
        rows.append(LicenceRow(name=meta.get("Name") or "?", version=meta.get("Version") or "?",
                               licence=expr, source=source, status="ok" if ok else "FAIL", reason=reason))
    return sorted(rows, key=lambda r: canonicalize_name(r.name))


def _licence_text(dist: md.Distribution) -> str | None:
    for name in dist.metadata.get_all("License-File") or []:
        for path in (f"licenses/{name}", name):
            text = dist.read_text(path)
            if text:
                return text
    for f in dist.files or []:
        parts = str(f).split("/")
        if len(parts) >= 2 and parts[0].endswith(".dist-info") and "LICEN" in parts[-1].upper():
            return Path(f.locate()).read_text(errors="replace")
    return None


def core_requirements(pyproject: Path) -> list[Requirement]:
    """``[project].dependencies`` of a pyproject.toml."""
    data = tomllib.loads(pyproject.read_text())
    return [Requirement(r) for r in data.get("project", {}).get("dependencies", [])]


def closure(roots: list[Requirement]) -> tuple[dict[str, md.Distribution], dict[str, set[str]], list[str]]:
    """Installed distributions the roots need, transitively; who needs each; what is missing."""
    index = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions() if d.metadata["Name"]}
    found: dict[str, md.Distribution] = {}
    parents: dict[str, set[str]] = {}
    missing: list[str] = []
    todo = [(r, "pyproject.toml") for r in roots]
    seen_extras: dict[str, set[str]] = {}
    while todo:
        req, parent = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        parents.setdefault(key, set()).add(parent)
        extras = set(req.extras)
        if key in seen_extras and extras <= seen_extras[key]:
            continue
        seen_extras[key] = seen_extras.get(key, set()) | extras
        dist = index.get(key)
        if dist is None:
            missing.append(str(req))
            continue
        found[key] = dist
        for sub in dist.requires or []:
            sr = Requirement(sub)
            wanted = {""} | seen_extras[key]
            if sr.marker is None or any(sr.marker.evaluate({"extra": e}) for e in wanted):
                sr.marker = None
                todo.append((sr, dist.metadata["Name"]))
    return found, parents, missing


def render(rows: list[LicenceRow], roots: list[Requirement]) -> str:
    """THIRD_PARTY_LICENSES.md: one table row per distribution."""
    direct = {canonicalize_name(r.name) for r in roots}
    failing = [r for r in rows if r.status != "ok"]
    lines = [
        "# Third-party licences",
        "",
        "Distributions the core of `audit` installs (`[project].dependencies` of pyproject.toml and",
        "everything they require), with the licence their installed metadata declares. Generated by",
        "`python scripts/licenses.py`; regenerate after changing dependencies. Optional extras are",
        "not part of the core and not listed.",
        "",
        f"Allowed: {', '.join(ALLOWED)} (see scripts/licenses.py for why).",
        "",
        f"**{len(rows)} distributions, {len(failing)} not allowed"
        + (": " + ", ".join(f"{r.name} ({r.licence})" for r in failing) if failing else "") + ".**",
        "",
        "| distribution | version | licence | read from | status | note | required by |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"**{r.name}**" if canonicalize_name(r.name) in direct else r.name
        req = ", ".join(sorted(r.required_by))
        lines.append(f"| {name} | {r.version} | {r.licence} | {r.source} | {r.status} | "
                     f"{r.reason.replace('|', '/')} | {req} |")
    lines += ["", "Bold: a direct dependency.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyproject", default="pyproject.toml", type=Path)
    ap.add_argument("--output", default="THIRD_PARTY_LICENSES.md",
                    help="where to write the table ('-' for stdout)")
    args = ap.parse_args(argv)
    if not args.pyproject.is_file():
        print(f"error: {args.pyproject} not found; run from the repository root or pass --pyproject",
              file=sys.stderr)
        return 2
    roots = core_requirements(args.pyproject)
    found, parents, missing = closure(roots)
    rows = evaluate((d.metadata, _licence_text(d)) for d in found.values())
    for r in rows:
        r.required_by = parents.get(canonicalize_name(r.name), set())
    text = render(rows, roots)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: {len(rows)} distributions")
    if missing:
        print(f"error: not installed, so their licences cannot be read: {', '.join(sorted(missing))}; "
              f"install the project first (pip install -e .)", file=sys.stderr)
        return 2
    failing = [r for r in rows if r.status != "ok"]
    for r in failing:
        print(f"FAIL {r.name} {r.version}: {r.licence} ({r.source}) - {r.reason}; required by "
              f"{', '.join(sorted(r.required_by))}", file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
