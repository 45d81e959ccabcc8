"""Browser tests: the real app (``streamlit run dashboard.py``) in Debian's headless Chromium via Playwright.

Chromium comes from Debian's package, never from Playwright's own download. When it is missing
and this user may install packages (root with apt-get), it is installed; otherwise the browser
tests are skipped with the reason — except under CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from apprunner import ARTIFACTS, start_app, stop  # noqa: E402  (tests/browser/apprunner.py)
from system import apt_install, unavailable  # noqa: E402  (tests/system.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def _found() -> str | None:
    for path in (os.environ.get("LASERDASH_CHROMIUM"), *CANDIDATES):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def _install() -> str:
    """Install Debian's chromium when allowed; return why not otherwise."""
    return apt_install("chromium", "LASERDASH_NO_BROWSER_INSTALL",
                       "install Chromium and set LASERDASH_CHROMIUM to its path",
                       log=ARTIFACTS / "chromium-install.log")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _found()
    if path is None:
        why = _install()
        path = _found()
        if path is None:
            unavailable(f"Chromium is not installed and could not be installed: {why or 'unknown reason'}.",
                        "the browser tests")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A running dashboard on a fresh SQLite database (it imports the bundled sample on first use)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    db = tmp_path_factory.mktemp("browser") / "app.db"
    proc, base = start_app(f"sqlite:///{db}", ARTIFACTS / "streamlit.log")
    yield base
    stop(proc)
