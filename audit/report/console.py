"""A terminal summary of the audit with rich: one row per check, then the decision."""

from __future__ import annotations

from typing import Any

from audit.report._format import (
    VERDICT_ORDER,
    fmt_interval,
    fmt_num,
    threshold_text,
    verdict_str,
)
from audit.results import AuditResult

__all__ = ["print_summary", "VERDICT_STYLE"]

VERDICT_STYLE = {
    "PASS": "bold green",
    "WARN": "bold yellow",
    "FAIL": "bold red",
    "INCONCLUSIVE": "bold magenta",
    "ERROR": "bold white on red",
    "SKIPPED": "dim",
}


def print_summary(result: AuditResult, console: Any = None) -> None:
    """Print a table of the checks with coloured verdicts and the overall decision.

    Parameters
    ----------
    result : audit.results.AuditResult
        The audit to summarise.
    console : rich.console.Console, optional
        Where to print; default: a new console on standard output.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    # A terminal: ids and thresholds fold when it is narrow. Anything else (a CI log, a pipe, a
    # file) is read or searched later: ids and thresholds stay whole, the table gets wider.
    whole = not console.is_terminal
    table = Table(title=f"Audit: {result.policy_name}", title_justify="left", box=box.SIMPLE_HEAD)
    # Numbers and verdicts never wrap; the verdict comes right after the check so a narrow
    # terminal never cuts it off.
    if whole:
        # Ratios would share out the console's width; here each column takes what its longest
        # id word or threshold needs, and the table is printed as wide as that.
        from rich.cells import cell_len

        word = max((cell_len(w) for r in result.results for w in f"{r.id} {r.evalset}".split()), default=0)
        thr = max((cell_len(threshold_text(r.threshold)) for r in result.results), default=0)
        table.add_column("Check", overflow="fold", min_width=max(24, word))
        table.add_column("Verdict", no_wrap=True)
        table.add_column("Value", justify="right", no_wrap=True)
        table.add_column("Interval", no_wrap=True)
        table.add_column("Threshold", no_wrap=True, min_width=max(12, thr))
    else:
        table.add_column("Check", overflow="fold", min_width=24, ratio=3)
        table.add_column("Verdict", no_wrap=True)
        table.add_column("Value", justify="right", no_wrap=True)
        table.add_column("Interval", overflow="fold", ratio=1)
        table.add_column("Threshold", overflow="fold", min_width=12, ratio=1)
    for r in result.results:
        verdict = verdict_str(r.verdict)
        # Text objects: user strings are never parsed as rich markup.
        check = Text(r.name)
        where = f"{r.id} on {r.evalset}" if r.name != r.id else f"on {r.evalset}"
        check.append(f"\n{where}", style="dim")
        if not r.blocking:
            check.append(" (non-blocking)", style="dim")
        table.add_row(check, Text(verdict, style=VERDICT_STYLE.get(verdict, "")), Text(fmt_num(r.value)),
                      Text(fmt_interval(r.interval)), Text(threshold_text(r.threshold)))
    if whole:
        from rich.measure import Measurement

        # Measured without the console's width limit: the table at its natural width.
        need = Measurement.get(console, console.options.update_width(10_000), table).maximum
        width = console.width
        console.width = max(width, need)  # print(width=...) cannot exceed the console's width
        try:
            console.print(table)
        finally:
            console.width = width
    else:
        console.print(table)
    counts = result.summary.counts or {}
    line = Text("Decision: ")
    decision = str(result.summary.decision)
    line.append(decision, style=VERDICT_STYLE.get(decision.upper(), "bold"))
    line.append("   ")
    for v in VERDICT_ORDER:
        n = int(counts.get(v, 0))
        line.append(f"{v} {n}", style=VERDICT_STYLE[v] if n else "dim")
        line.append("  ")
    console.print(line)
    if result.summary.blocking_failures:
        console.print(Text("Blocking: " + ", ".join(result.summary.blocking_failures), style="red"))
