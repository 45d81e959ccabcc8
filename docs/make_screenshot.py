"""Redo the README's screenshot: the Overview as a first-time manager meets it (sample data, the welcome).

    .venv/bin/python docs/make_screenshot.py            # writes docs/overview.png
    .venv/bin/python docs/make_screenshot.py --out /tmp/overview.png

Starts the dashboard on a new, empty SQLite database (so it opens on the bundled sample and shows the
welcome), opens the Overview in Debian's headless Chromium at 1400×1000 (Playwright never downloads a
browser) and saves what the window shows, reduced to a 256-colour palette (Pillow) to keep it small.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests"))

from apprunner import start_app  # noqa: E402  (tests/browser/apprunner.py)
from test_browser import wait_idle  # noqa: E402

SIZE = {"width": 1400, "height": 1000}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


def chromium() -> str | None:
    for path in (os.environ.get("LASERDASH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def optimise(png: bytes) -> bytes:
    """The picture with at most 256 colours, written with zlib's best compression (a fraction of the size:
    a screenshot of a dashboard has few colours)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                                dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "overview.png")
    args = parser.parse_args(argv)
    path = chromium()
    if path is None:
        raise SystemExit("Chromium not found: install Debian's chromium or set LASERDASH_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="laserdash-shot-") as tmp:
        proc, base = start_app(f"sqlite:///{Path(tmp) / 'app.db'}", Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=SIZE)
                page.goto(base)
                wait_idle(page)
                page.locator('[data-testid="stAlertContentInfo"]').first.wait_for(timeout=60_000)  # the welcome
                page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)
                page.wait_for_timeout(1000)           # fonts and icons settle
                png = page.screenshot(full_page=False)
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    small = optimise(png)
    args.out.write_bytes(small)
    print(f"wrote {args.out} ({len(small) / 1024:.0f} kB; {len(png) / 1024:.0f} kB before the palette)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
