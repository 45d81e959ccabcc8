"""A page (or every page) as a PDF: the same content as the page's HTML report, printed by Chromium.

Used by the page's "PDF" download, ``python -m analysis report`` and ``python -m analysis send-report``.
The report's HTML (:func:`analysis.present.report.document` with ``for_print``) is printed by headless Chromium:
the charts are drawn there by plotly.js as SVG, so they stay vector graphics in the PDF; page numbers come
from CSS ``@page`` margin boxes. Chromium is Debian's ``/usr/bin/chromium`` (or ``$LASERDASH_CHROMIUM``);
no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from analysis.present.document import page_reports
from analysis.present.report import Report, document
from analysis.records import access
from analysis.records.store import Store

CHROMIUM_ENV = "LASERDASH_CHROMIUM"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
#: Longest a print may take (seconds): every page of a large dataset prints in well under this.
TIMEOUT = 180


class PdfUnavailable(RuntimeError):
    """Chromium is not installed (or failed): the message says what to install; nothing was written."""


def chromium() -> str | None:
    """The Chromium to print with: ``$LASERDASH_CHROMIUM``, else Debian's, else one on the PATH; None if none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file():
            return path
    return shutil.which("chromium")


MISSING = ("PDF needs Chromium, which is not installed on this server (Debian: apt-get install chromium; or set "
           f"{CHROMIUM_ENV} to its path). The HTML report has the same content.")


def html_to_pdf(html: str, timeout: float = TIMEOUT) -> bytes:
    """Print an HTML document (self-contained: no network is used) to PDF with headless Chromium."""
    browser = chromium()
    if browser is None:
        raise PdfUnavailable(MISSING)
    with tempfile.TemporaryDirectory(prefix="laserdash-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                   f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
                   # let plotly.js finish drawing before printing
                   "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000",
                   f"--print-to-pdf={out}", page.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, cwd=tmp,
                                  env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(f"Chromium took more than {timeout:g} s to print the report; try one page, or "
                                 "narrow the filters.") from None
        except OSError as exc:
            raise PdfUnavailable(f"Chromium ({browser}) could not be started: {exc.strerror}.") from None
        if not out.is_file() or out.stat().st_size == 0:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfUnavailable(f"Chromium could not print the report (exit {done.returncode}: {detail[0]}).")
        return out.read_bytes()


def reports_pdf(reports: list[Report]) -> bytes:
    """Reports (one page's, or every page's) as one PDF."""
    return html_to_pdf(document(reports, for_print=True))


def report_pdf(store: Store, target: str, page: str | None = None,
               user: access.User = access.COMMAND_LINE) -> bytes:
    """The PDF of ``page`` ("all" for every page in one document) for ``target``.

    ``target`` is a dataset id or a share link copied from the browser (its dataset and filters are used, as
    the manager saw them; with ``page=None`` the link's page). ``user`` is who asks: the command line acts as admin.

    Raises :class:`analysis.present.document.TargetError` (a ``ValueError``: unknown page, a link to another
    server, a dataset that is deleted or not visible to ``user``) with a message fit to print, and
    :class:`PdfUnavailable` when Chromium is missing or fails.
    """
    return reports_pdf(page_reports(store, target, page, user)[0])
