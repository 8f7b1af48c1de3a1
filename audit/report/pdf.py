"""The PDF report, printed by WeasyPrint from the HTML report.

The page layout (A4, running header with the policy name and date, "page X of
Y" footer, table headers repeated, rows and charts never split) is the print
CSS in ``templates/_style.css``.

WeasyPrint's default URL fetcher reads ``file://`` and fetches ``http(s)://``
(also from inside inline SVG, and ``rel="attachment"`` links embed local files
into the PDF). The report needs no resource at all, so the fetcher allows only
``data:`` URLs: an untrusted string that slipped into the HTML cannot read the
disk or reach the network.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["render_pdf", "safe_url_fetcher"]

ALLOWED_PROTOCOLS = frozenset({"data"})


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


def render_pdf(html: str, path: str | os.PathLike | None = None, *, url_fetcher=None) -> Path | bytes:
    """Print the HTML report to PDF.

    Parameters
    ----------
    html : str
        The HTML from :func:`audit.report.render_html`.
    path : str or path-like, optional
        Where to write the PDF. Without it the PDF bytes are returned.
    url_fetcher : weasyprint.urls.URLFetcher, optional
        For tests only; defaults to :func:`safe_url_fetcher`. Pass a subclass of
        it, never a more permissive fetcher.

    Returns
    -------
    pathlib.Path or bytes
        The written file's path, or the PDF bytes when ``path`` is None.
    """
    from weasyprint import HTML  # lazy: ~0.5 s to import

    document = HTML(string=html, base_url=None, url_fetcher=url_fetcher or safe_url_fetcher())
    if path is None:
        return document.write_pdf()
    path = Path(path)
    document.write_pdf(target=str(path))
    return path
