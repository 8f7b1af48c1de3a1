"""The PDF report, printed by WeasyPrint from the HTML report, for archives.

The page layout (A4, landscape pages for cards with wide tables, running header with the
policy name and date, the run digest and "page X of Y" in the footer, table headers
repeated, cards and charts kept whole) is the print CSS in ``templates/_style.css``.

The PDF is **PDF/A-3b** (WeasyPrint's ``pdf/a-3b`` variant), tagged where WeasyPrint
supports it (``pdf_tags``), and carries its evidence inside: ``results.json`` and the
policy as embedded files (``/AF`` associated files with relationship ``Data`` and
``Source``), so the PDF alone is the record of the run. Title, subject and keywords
(policy name and run digest) come from the HTML's ``<title>`` and ``<meta>`` tags.
Attachments get the run's start time as their dates, so the same run prints the same
attachment entries.

What the print CSS hides (each card's value strip, the policy appendix: the policy is attached)
the HTML marks ``<!--screen-->...<!--/screen-->``; WeasyPrint is given the HTML without it
(:func:`print_html`), which prints the same pages with less to parse and style.

WeasyPrint's default URL fetcher reads ``file://`` and fetches ``http(s)://``
(also from inside inline SVG, and ``rel="attachment"`` links embed local files
into the PDF). The report needs no resource at all, so the fetcher allows only
``data:`` URLs: an untrusted string that slipped into the HTML cannot read the
disk or reach the network. Attachments are passed as bytes, never fetched.
"""

from __future__ import annotations

import gc
import io
import os
import re
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

__all__ = ["render_pdf", "print_html", "safe_url_fetcher", "PDF_VARIANT", "ATTACHMENT_RELATIONSHIP"]

ALLOWED_PROTOCOLS = frozenset({"data"})
PDF_VARIANT = "pdf/a-3b"
# How each embedded file relates to the document (PDF 2.0 / PDF/A-3 AFRelationship).
ATTACHMENT_RELATIONSHIP = {"results.json": "Data", "policy.yaml": "Source"}
_DESCRIPTION = {"results.json": "The audit's results (results.json): every value, interval, verdict and "
                                "the manifest; the report renders this file.",
                "policy.yaml": "The policy the audit ran, as written."}


def safe_url_fetcher():
    """A WeasyPrint URL fetcher that refuses every URL except ``data:``.

    Returns
    -------
    weasyprint.urls.URLFetcher
        ``URLFetcher(allowed_protocols={"data"})``; refused URLs raise inside
        WeasyPrint, which logs a warning and renders without the resource.
    """
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=set(ALLOWED_PROTOCOLS))


def _attachments(files: Mapping[str, bytes | str] | None, when: datetime | None, fetcher) -> list:
    from weasyprint import Attachment

    out = []
    for name, content in (files or {}).items():
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        out.append(Attachment(file_obj=io.BytesIO(data), name=name, url_fetcher=fetcher,
                              description=_DESCRIPTION.get(name, name),
                              relationship=ATTACHMENT_RELATIONSHIP.get(name, "Supplement"),
                              created=when, modified=when))
    return out


# WeasyPrint allocates millions of short-lived objects (boxes, styles, text runs). At the default
# first-generation threshold (700) the collector runs thousands of times, and its full collections
# walk the whole audit's heap too: 0.6-0.8 s of CPU of a ~5.6 s PDF at 70k rows (the standard
# workload, in the audit's process). A higher threshold while printing keeps collections rare;
# the cycles WeasyPrint leaves are still collected, just in fewer, larger batches.
GC_THRESHOLD_WHILE_PRINTING = (100_000, 50, 100)


@contextmanager
def _rare_collections():
    old = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD_WHILE_PRINTING)
    try:
        yield
    finally:
        gc.set_threshold(*old)


# pydyf builds a stream's bytes (every drawing operator serialised, then zlib at level 9) each time
# its ``data`` is read, and a PDF with an identifier, which PDF/A requires, reads every object twice:
# once to write it and once more to hash all objects for the trailer's /ID. That second pass was
# 0.25-0.3 s of CPU of a ~5.5 s PDF at 70k rows (the standard workload; the write fell from 0.65-0.70
# to 0.38-0.41 s). While this module writes a PDF (from WeasyPrint's ``finisher`` hook, called after
# the last drawing operation, to the end of render_pdf) a stream keeps the bytes it built the first
# time; outside that window pydyf's own ``data`` runs unchanged. Dictionaries are left alone:
# caching them saved 0.02 s.
_WRITING = threading.local()
_MEMO_LOCK = threading.Lock()


def _data_once(original: property) -> property:
    def data(obj):
        if not getattr(_WRITING, "active", False):
            return original.fget(obj)
        built = obj.__dict__.get("_audit_data")
        if built is None:
            built = obj.__dict__["_audit_data"] = original.fget(obj)
        return built

    data._audit_memo = True
    return property(data, doc=original.__doc__)


def _install_data_memo() -> None:
    """Put the memo in front of pydyf's ``Stream.data`` (once per process)."""
    import pydyf

    with _MEMO_LOCK:
        current = pydyf.Stream.__dict__.get("data")
        # Installed already, or a pydyf whose streams no longer work this way: print as pydyf does.
        if not isinstance(current, property) or getattr(current.fget, "_audit_memo", False):
            return
        pydyf.Stream.data = _data_once(current)


# The report marks with these comments what its print CSS hides (the per-card value strips, the
# policy appendix, which the PDF carries as an attachment). WeasyPrint would parse and style those
# elements anyway, and the strips' SVG twice; it never sees them: 3% of the PDF's work at 70k rows.
# User text cannot forge a marker: the report escapes every user string ("<" becomes "&lt;").
_SCREEN_ONLY = re.compile(r"<!--screen-->.*?<!--/screen-->", re.S)


def print_html(html: str) -> str:
    """The report's HTML as WeasyPrint should see it: without its screen-only parts."""
    return _SCREEN_ONLY.sub("", html)


def _start_writing(document, pdf) -> None:
    _WRITING.active = True


def render_pdf(html: str, path: str | os.PathLike | None = None, *, url_fetcher=None,
               attachments: Mapping[str, bytes | str] | None = None, created: datetime | None = None,
               variant: str | None = PDF_VARIANT, tagged: bool = True) -> Path | bytes:
    """Print the HTML report to an archival PDF.

    Parameters
    ----------
    html : str
        The HTML from :func:`audit.report.render_html`.
    path : str or path-like, optional
        Where to write the PDF. Without it the PDF bytes are returned.
    url_fetcher : weasyprint.urls.URLFetcher, optional
        For tests only; defaults to :func:`safe_url_fetcher`. Pass a subclass of
        it, never a more permissive fetcher.
    attachments : mapping of str to bytes or str, optional
        Files to embed, by name (``results.json``, ``policy.yaml``): exactly these bytes.
    created : datetime, optional
        Creation and modification date of the attachments (default: now).
    variant : str or None
        WeasyPrint PDF variant; default PDF/A-3b, the archival profile that allows embedded
        files. None for a plain PDF.
    tagged : bool
        Write a tagged (structured) PDF, for screen readers and reflow.

    Returns
    -------
    pathlib.Path or bytes
        The written file's path, or the PDF bytes when ``path`` is None.
    """
    from weasyprint import HTML  # lazy: ~0.5 s to import

    _install_data_memo()
    fetcher = url_fetcher or safe_url_fetcher()
    options = {"attachments": _attachments(attachments, created, fetcher), "pdf_tags": tagged}
    if variant:
        options["pdf_variant"] = variant
    with _rare_collections():
        document = HTML(string=print_html(html), base_url=None, url_fetcher=fetcher)
        try:
            if path is None:
                return document.write_pdf(finisher=_start_writing, **options)
            path = Path(path)
            document.write_pdf(target=str(path), finisher=_start_writing, **options)
        finally:
            _WRITING.active = False
    return path
