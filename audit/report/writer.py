"""Write every report of one audit run into its own new folder.

The folder is ``<policy-name-slug>-<UTC start time YYYYmmddTHHMMSSZ>`` under the
output folder (``-2``, ``-3`` ... appended when it exists: an earlier report is
never overwritten). Files are written into a hidden temporary sibling
(``.<name>.tmp-<random>``) that is renamed into place at the end, so a crash never
leaves a half-written folder under the final name.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from audit.report._format import parse_time, slug
from audit.results import AuditResult

__all__ = ["write_report", "report_folder_name"]

_MAX_SUFFIX = 10_000


def report_folder_name(result: AuditResult) -> str:
    """``<policy-name-slug>-<YYYYmmddTHHMMSSZ>`` from the manifest's ``started_at`` (UTC).

    Without a readable ``started_at`` the current UTC time is used.
    """
    started = parse_time((result.manifest or {}).get("started_at")) or datetime.now(UTC)
    return f"{slug(result.policy_name)}-{started.strftime('%Y%m%dT%H%M%SZ')}"


FORMATS = frozenset({"html", "pdf", "json", "junit"})


def write_report(result: AuditResult, out_dir: str | os.PathLike, *, policy_text: str | None = None,
                 pdf: bool = True, formats=None, model_card: bool = False) -> Path:
    """Write results.json, report.html, report.pdf, junit.xml and policy.yaml (and a model card).

    Parameters
    ----------
    result : audit.results.AuditResult
        The audit.
    out_dir : str or path-like
        Parent folder (created if missing); each call makes a new folder in it.
    policy_text : str, optional
        The policy file's text; default ``result.policy_text``. When given it
        replaces ``result.policy_text`` in every output (the result object passed
        in is not modified). No ``policy.yaml`` is written when there is no text.
    pdf : bool
        Also print ``report.pdf`` (WeasyPrint; the slowest step).
    formats : set of str, optional
        Which of ``html``, ``pdf``, ``json``, ``junit`` to write (default: all, the PDF as ``pdf``
        says). ``policy.yaml`` is always written when there is a policy text.
    model_card : bool
        Also write ``model_card.md`` and ``model_card.json`` (:func:`audit.report.model_card.model_card`).

    Returns
    -------
    pathlib.Path
        The new report folder.
    """
    from audit.report.html import render_html
    from audit.report.junit import render_junit
    from audit.report.pdf import render_pdf

    if policy_text is not None and policy_text != result.policy_text:
        # One policy text everywhere: results.json, the report's appendix, policy.yaml.
        result = result.model_copy(update={"policy_text": policy_text})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = report_folder_name(result)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    want = set(FORMATS if formats is None else formats)
    if formats is None and not pdf:
        want.discard("pdf")
    try:
        results_json = result.model_dump_json(indent=2) + "\n"
        if "json" in want:
            _write_text(tmp / "results.json", results_json)
        html = render_html(result) if want & {"html", "pdf"} else None
        if "html" in want:
            _write_text(tmp / "report.html", html)
        if "junit" in want:
            _write_text(tmp / "junit.xml", render_junit(result))
        if result.policy_text:
            _write_text(tmp / "policy.yaml", result.policy_text)
        if model_card:
            _write_model_card(result, tmp)
        if "pdf" in want:
            # The archival PDF carries results.json and the policy, byte for byte as written here.
            files = {"results.json": results_json}
            if result.policy_text:
                files["policy.yaml"] = result.policy_text
            render_pdf(html, tmp / "report.pdf", attachments=files,
                       created=parse_time((result.manifest or {}).get("started_at")))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a report folder is an ordinary folder
        return _move_into_place(tmp, out, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_model_card(result: AuditResult, folder: Path) -> None:
    import json

    from audit.report.model_card import model_card

    markdown, data = model_card(result)
    _write_text(folder / "model_card.md", markdown)
    _write_text(folder / "model_card.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _move_into_place(tmp: Path, out: Path, name: str) -> Path:
    """Rename ``tmp`` to the first free name among ``name``, ``name-2``, ``name-3`` ..."""
    for i in range(1, _MAX_SUFFIX):
        final = out / (name if i == 1 else f"{name}-{i}")
        if final.exists() or final.is_symlink():
            continue
        try:
            # rename(2) fails on a non-empty existing folder, so a concurrent
            # writer that took this name first makes us try the next one.
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return final
    raise FileExistsError(f"no free report folder name for {name!r} in {out}")
