"""Renderers: pure functions from an :class:`~audit.results.AuditResult` to reports.

A renderer formats what the result holds; it never computes a metric.

- :func:`render_html` — one self-contained HTML file (inline CSS and SVG, no URL).
- :func:`render_pdf` — the same HTML printed to A4 PDF by WeasyPrint, fetching
  nothing but ``data:`` URLs.
- :func:`render_junit` — JUnit XML for CI, one test case per check.
- :func:`print_summary` — a coloured table in the terminal (rich).
- :func:`write_report` — all of the above plus ``results.json`` and ``policy.yaml``
  into a new folder per run.
- :mod:`audit.report.charts` — the SVG charts (matplotlib).

Heavy libraries (matplotlib, WeasyPrint, Jinja2, rich) are imported when a
renderer is first called, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["render_html", "render_pdf", "render_junit", "print_summary", "write_report"]

_WHERE = {
    "render_html": "audit.report.html",
    "render_pdf": "audit.report.pdf",
    "render_junit": "audit.report.junit",
    "print_summary": "audit.report.console",
    "write_report": "audit.report.writer",
}

if TYPE_CHECKING:  # pragma: no cover
    from audit.report.console import print_summary
    from audit.report.html import render_html
    from audit.report.junit import render_junit
    from audit.report.pdf import render_pdf
    from audit.report.writer import write_report


def __getattr__(name: str) -> Any:
    # Lazy: `audit --help` must not pay for Jinja2, rich or matplotlib.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'audit.report' has no attribute {name!r}")
