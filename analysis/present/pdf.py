"""A page (or every page) as a PDF: the same content as the page's HTML report, printed by Chromium.

Used by the page's "PDF" download, ``python -m analysis report`` and ``python -m analysis send-report``.
The charts are drawn by plotly.js inside headless Chromium (as SVG, so they stay vector graphics in the PDF);
page numbers come from CSS ``@page`` margin boxes. Chromium is Debian's ``/usr/bin/chromium`` (or
``$LASERDASH_CHROMIUM``); no browser is ever downloaded.
"""

from __future__ import annotations

from analysis.records import access
from analysis.records.store import Store


class PdfUnavailable(RuntimeError):
    """Chromium is not installed (or failed): the message says what to install; nothing was written."""


def report_pdf(store: Store, target: str, page: str = "overview", user: access.User = access.COMMAND_LINE) -> bytes:
    """The PDF of ``page`` ("all" for every page in one document) for ``target``.

    ``target`` is a dataset id or a share link copied from the browser (its dataset and filters are used, as
    the manager saw them). ``user`` is who asks: the command line acts as admin.

    Raises :class:`analysis.present.document.TargetError` (a ``ValueError``: unknown page, a link to another
    server, a dataset that is deleted or not visible to ``user``) with a message fit to print, and
    :class:`PdfUnavailable` when Chromium is missing.
    """
    raise NotImplementedError  # being built on branch pdf
