"""A Markdown summary of one or several audits, for CI pages (GitHub's job summary, merge requests).

What it shows: the decision and exit code, the counts per verdict, one line per model
when several were audited side by side, and a table of the blocking failures with
value, interval and threshold. It has no links (report folders are named, not linked)
and every string from the policy, the data or a model is escaped: Markdown and HTML
specials are neutralised, table pipes cannot break a row, and URLs are not turned
into links by GitHub's autolinker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from audit.report._format import VERDICT_ORDER, fmt_interval, fmt_num, threshold_text, verdict_str
from audit.results import AuditResult, CheckResult

__all__ = ["summary_markdown", "md_escape", "blocking_failures", "append_step_summary"]

# Markdown's inline specials. An underscore inside a word (demographic_parity) cannot start
# emphasis in GitHub's Markdown, so only the others are escaped, which keeps ids readable.
_SPECIAL = re.compile(r"([\\`*\[\]|~])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_GATING = {"FAIL", "ERROR"}


def md_escape(text: object) -> str:
    """``text`` as inert Markdown for a table cell or a line.

    Backslash-escapes Markdown punctuation (backticks, pipes, brackets, emphasis), turns
    ``& < >`` into HTML entities, folds newlines into spaces, and breaks ``://`` and
    ``www.`` so no URL becomes a link.
    """
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _SPECIAL.sub(lambda m: "\\" + m.group(0), s)
    s = re.sub(r"\s*[\r\n]+\s*", " ", s)
    # GitHub links bare URLs and www. names found in the source text: hide the ':' and the '.'.
    s = s.replace("://", "&#58;//")
    s = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:-1] + "&#46;", s)
    return s


def blocking_failures(result: AuditResult) -> list[CheckResult]:
    """The checks that fail the audit: blocking FAIL or ERROR, and blocking INCONCLUSIVE
    when the policy says inconclusive fails (``manifest.inconclusive_fails``)."""
    gating = _GATING | ({"INCONCLUSIVE"} if (result.manifest or {}).get("inconclusive_fails") else set())
    return [r for r in result.results if r.blocking and verdict_str(r.verdict) in gating]


def summary_markdown(results: Sequence[AuditResult], folders: Sequence[Path | str | None] | None = None) -> str:
    """Markdown summary of the audit of one model, or of several audited side by side.

    Parameters
    ----------
    results : sequence of AuditResult
        One per audited model (same policy).
    folders : sequence of paths or None, optional
        Each result's report folder; only its name is shown (no links).

    Returns
    -------
    str
        Markdown ending with a newline: a heading with the decision, a counts line (or a
        table with one row per model), and a table of blocking failures with value,
        interval and threshold (or a line saying there are none).
    """
    results = list(results)
    if not results:
        raise ValueError("summary_markdown: no results")
    folders = list(folders) if folders is not None else [None] * len(results)
    if len(folders) != len(results):
        raise ValueError(f"summary_markdown: {len(results)} results but {len(folders)} folders")
    several = len(results) > 1
    worst = max(results, key=lambda r: (r.summary.exit_code, _rank(str(r.summary.decision))))
    decision = str(worst.summary.decision)
    exit_code = max(r.summary.exit_code for r in results)
    lines = [f"### Audit {md_escape(results[0].policy_name)}: {md_escape(decision)}", ""]
    if several:
        lines.append(f"**{md_escape(decision)}** (exit code {exit_code}) over {len(results)} models.")
        lines += ["", "| Model | Decision | Exit code | " + " | ".join(VERDICT_ORDER) + " | Report folder |",
                  "|---|---|---:|" + "---:|" * len(VERDICT_ORDER) + "---|"]
        for r, f in zip(results, folders, strict=True):
            counts = [str(int(r.summary.counts.get(v, 0))) for v in VERDICT_ORDER]
            lines.append(f"| {md_escape(_model(r))} | {md_escape(r.summary.decision)} | "
                         f"{r.summary.exit_code} | " + " | ".join(counts) + f" | {_folder(f)} |")
    else:
        r, f = results[0], folders[0]
        counts = " · ".join(f"{int(r.summary.counts.get(v, 0))} {v}" for v in VERDICT_ORDER)
        lines.append(f"**{md_escape(decision)}** (exit code {exit_code}) · {len(r.results)} checks: {counts}")
        lines += ["", f"Model: {md_escape(_model(r))}" + (f" · report folder: {_folder(f)}" if f else "")]
    failing = [(r, c) for r in results for c in blocking_failures(r)]
    lines.append("")
    if not failing:
        lines.append("No blocking failures.")
        return "\n".join(lines) + "\n"
    lines += [f"#### Blocking failures ({len(failing)})", ""]
    head = (["Model"] if several else []) + ["Check", "Id", "Evaluation set", "Verdict", "Value",
                                             "Interval", "Threshold"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, c in failing:
        cells = ([_model(r)] if several else []) + [
            c.name, c.id, c.evalset, verdict_str(c.verdict), fmt_num(c.value), fmt_interval(c.interval),
            threshold_text(c.threshold)]
        lines.append("| " + " | ".join(md_escape(x) for x in cells) + " |")
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str, path: str | os.PathLike | None = None) -> Path | None:
    """Append ``markdown`` to GitHub's job summary file (``$GITHUB_STEP_SUMMARY``).

    Returns the file written, or None when neither ``path`` nor the variable is set.
    """
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return Path(target)


def _model(r: AuditResult) -> str:
    m = r.manifest or {}
    model = (m.get("files") or {}).get("model") or {}
    name = m.get("model_name") or (model.get("name") if isinstance(model, dict) else None)
    return str(name or "model")


def _folder(f) -> str:
    return md_escape(Path(f).name) if f else "—"


def _rank(decision: str) -> int:
    order = ("PASS", "PASS WITH WARNINGS", "FAIL")
    return order.index(decision) if decision in order else len(order)
