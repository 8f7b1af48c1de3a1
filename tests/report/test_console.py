"""Console summary: every check, its verdict and the decision; user text is not markup."""

from __future__ import annotations

import io

from rich.console import Console

from audit.report import print_summary

from .conftest import build_result


def test_summary_lists_checks_and_decision():
    result = build_result()
    console = Console(record=True, width=160, force_terminal=True, color_system="standard",
                      file=io.StringIO())
    print_summary(result, console=console)
    text = console.export_text(clear=False)
    for r in result.results:
        assert r.id in text
        assert r.verdict.value in text
    assert "Decision: FAIL" in text
    assert "<script>alert('x')</script>" in text  # printed as text, not swallowed as markup
    styled = console.export_text(styles=True)
    assert "\x1b[1;31mFAIL" in styled and "\x1b[1;32mPASS" in styled  # coloured verdicts
