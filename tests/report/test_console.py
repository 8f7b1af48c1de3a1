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


def test_off_a_terminal_ids_and_thresholds_are_never_cut():
    from audit.report._format import threshold_text

    result = build_result()
    long_name = result.results[3].model_copy(update={
        "id": "fairness.equalized_odds_difference_with_a_very_long_registered_identifier",
        "evalset": "shifted.subpopulation@0.75", "name": "A name long enough to need wrapping " * 2,
        "threshold": {"max": 0.1, "warn_max": 0.05, "decision": "interval", "min_samples": 12345}})
    result = result.model_copy(update={"results": [*result.results, long_name]})
    console = Console(width=80, force_terminal=False, file=io.StringIO())
    assert not console.is_terminal
    print_summary(result, console=console)
    text = console.file.getvalue()
    for r in result.results:
        assert r.id in text, r.id
        assert r.evalset in text, r.evalset
        assert threshold_text(r.threshold) in text, threshold_text(r.threshold)
    assert console.width == 80  # the console passed in is left as it was


def test_on_a_narrow_terminal_the_verdict_still_shows():
    result = build_result()
    console = Console(width=80, force_terminal=True, color_system=None, file=io.StringIO())
    print_summary(result, console=console)
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for r in result.results:
        assert r.verdict.value in text
