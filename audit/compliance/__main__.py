"""``python -m audit.compliance docs [--check] [--root DIR]``: regenerate the generated docs.

Writes ``docs/methods.md`` (from ``methods.yaml``) and ``docs/compliance.md`` (from
``frameworks.yaml``) under ``--root`` (default: the current directory, the repository
root). With ``--check`` nothing is written; the exit code is 1 when a file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audit.compliance._docs import render_compliance_markdown, render_methods_markdown
from audit.compliance._frameworks import frameworks
from audit.compliance._methods import methods


def generated_docs() -> dict[str, str]:
    """Relative path -> generated Markdown text."""
    return {
        "docs/methods.md": render_methods_markdown(methods()),
        "docs/compliance.md": render_compliance_markdown(frameworks()),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(
        prog="python -m audit.compliance", description=__doc__.splitlines()[0]
    )
    ap.add_argument("command", choices=["docs"])
    ap.add_argument(
        "--check", action="store_true", help="only report stale files (exit 1), write nothing"
    )
    ap.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = ap.parse_args(argv)
    stale = []
    for rel, text in generated_docs().items():
        path = args.root / rel
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for rel in stale:
        print(f"{rel}: {'stale' if args.check else 'written'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
