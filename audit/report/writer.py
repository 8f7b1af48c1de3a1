"""Write every report of one audit run into its own new folder.

The folder is ``<policy-name-slug>-<model-label-slug>-<UTC start time YYYYmmddTHHMMSSZ>``
under the output folder (``<policy-name-slug>-<UTC start>`` for a predictions-only audit) (``-2``, ``-3`` ... appended when it exists: an earlier report is
never overwritten). Files are written into a hidden temporary sibling
(``.<name>.tmp-<pid>-<random>``), each flushed to disk (fsync) before the folder is
renamed into place, so a crash or a power cut never leaves a half-written folder under
the final name. Temporary folders that killed runs left behind (older than the current
run, their process gone) are removed when the next report is written to the same folder
(:func:`remove_stale_temporaries`); ``audit history`` never counts them
(:func:`is_temporary`).

Every problem with the output folder (a file, under a file, not writable, disk full) is an
:class:`~audit.errors.OutputError` naming the folder (exit code 2), never a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from audit.errors import OutputError
from audit.report._format import parse_time, slug
from audit.results import AuditResult

__all__ = ["write_report", "report_folder_name", "check_output_folder", "ensure_output_folder",
           "remove_stale_temporaries", "is_temporary"]

_MAX_SUFFIX = 10_000
_TEMPORARY = re.compile(r"^\..+\.tmp-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+$")


def report_folder_name(result: AuditResult) -> str:
    """``<policy-slug>-<model-slug>-<YYYYmmddTHHMMSSZ>`` from the manifest (UTC start time).

    The model part is the model's label (``manifest.model_name``: file stem, entry point or
    the policy's ``models:`` name, made unique within a run), so two candidate models
    audited together get folders naming each. A predictions-only audit has no model
    label: ``<policy-slug>-<YYYYmmddTHHMMSSZ>``. Without a readable ``started_at`` the
    current UTC time is used.
    """
    manifest = result.manifest or {}
    started = parse_time(manifest.get("started_at")) or datetime.now(UTC)
    model = manifest.get("model_name")
    label = f"-{slug(str(model), 40)}" if model else ""
    return f"{slug(result.policy_name)}{label}-{started.strftime('%Y%m%dT%H%M%SZ')}"


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

    Raises
    ------
    OutputError
        The output folder is a file or lies under one, is not writable, or the disk is full.
    """
    from audit.report.html import render_html
    from audit.report.junit import render_junit
    from audit.report.pdf import render_pdf

    if policy_text is not None and policy_text != result.policy_text:
        # One policy text everywhere: results.json, the report's appendix, policy.yaml; the run
        # digest covers the policy text, so it is recomputed for the text written.
        from audit.digest import with_digest

        result = with_digest(result.model_copy(update={"policy_text": policy_text}))
    out = ensure_output_folder(out_dir)
    started = parse_time((result.manifest or {}).get("started_at"))
    remove_stale_temporaries(out, before=started.timestamp() if started else time.time())
    name = report_folder_name(result)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=out))
    except OSError as exc:
        raise _output_error(out, exc) from None
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
            _fsync_file(tmp / "report.pdf")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a report folder is an ordinary folder
        _fsync_dir(tmp)
        final = _move_into_place(tmp, out, name)
        _fsync_dir(out)  # the rename itself reaches the disk
        return final
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS:
            raise _output_error(out, exc) from None
        raise


def check_output_folder(folder: str | os.PathLike, what: str = "--out") -> Path:
    """Check, without creating anything, that ``folder`` can hold report folders.

    Run before an audit so a bad ``--out`` stops it in a second, not after the work.

    Raises
    ------
    OutputError
        ``folder`` is a file or lies under a file, or it (or the folder it would be created in)
        is not writable.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{what} {out}: is a file, not a folder; give a folder to hold the report folders")
    existing = out
    for parent in (out, *out.parents):
        if parent.exists() or parent.is_symlink():
            existing = parent
            break
    if not existing.is_dir():
        raise OutputError(f"{what} {out}: lies under {existing}, which is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        which = "the folder" if existing == out else f"{existing}, where it would be created,"
        raise OutputError(f"{what} {out}: {which} is not writable by this user (or is on a read-only "
                          "file system); choose another folder or change its permissions")
    return out


def ensure_output_folder(folder: str | os.PathLike, what: str = "--out") -> Path:
    """``folder``, created if missing, after :func:`check_output_folder`.

    Raises
    ------
    OutputError
        As :func:`check_output_folder`, or the folder cannot be created.
    """
    out = check_output_folder(folder, what)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(out, exc, what) from None
    return out


_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
            errno.EFBIG: "a file grew beyond the file system's limit",
            errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
            errno.EROFS: "the file system is read-only", errno.ENOTDIR: "a part of the path is a file",
            errno.EEXIST: "a file is in the way", errno.ENAMETOOLONG: "the path is too long",
            errno.EIO: "an input/output error on the disk"}
_OUTPUT_ERRNOS = frozenset(_REASONS)


def _output_error(out: Path, exc: OSError, what: str = "--out") -> OutputError:
    """An OSError met while writing under ``out``, as an input error naming the folder."""
    reason = _REASONS.get(exc.errno, exc.strerror or str(exc))
    where = f" ({exc.filename})" if getattr(exc, "filename", None) and str(exc.filename) != str(out) else ""
    return OutputError(f"{what} {out}: cannot write the report: {reason}{where}; nothing was left half-written")


def is_temporary(name: str) -> bool:
    """True for the name of a report folder still being written (or left by a killed run)."""
    return bool(_TEMPORARY.match(name))


def remove_stale_temporaries(folder: str | os.PathLike, before: float) -> list[Path]:
    """Remove the temporary folders killed runs left in ``folder``; the ones removed.

    A temporary folder is stale when nothing in it changed since ``before`` (the current run's
    start, seconds since the epoch) and the process that made it (its pid is in the name) is
    not running on this machine. A concurrent run's folder is therefore never touched.
    """
    out = Path(folder)
    removed = []
    try:
        entries = list(out.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if m is None or entry.is_symlink() or not entry.is_dir():
            continue
        pid = int(m.group("pid")) if m.group("pid") else None
        if pid is not None and _alive(pid):
            continue
        if _newest_change(entry) >= before:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or an absurd pid): leave its folder alone
    return True


def _newest_change(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for f in folder.iterdir():
        try:
            newest = max(newest, f.lstat().st_mtime)
        except OSError:
            continue
    return newest


def _write_model_card(result: AuditResult, folder: Path) -> None:
    import json

    from audit.report.model_card import model_card

    markdown, data = model_card(result)
    _write_text(folder / "model_card.md", markdown)
    _write_text(folder / "model_card.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
