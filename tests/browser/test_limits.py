"""Limits in a real headless Chromium (issue 7): a file over the upload limit and a 1,000,000-row export
both end in a clear outcome, never a frozen page; the limit is shown before uploading and matches the
configuration; and with Streamlit logging at DEBUG the server log holds no patient identifier.

Two servers: one started with ``STREAMLIT_SERVER_MAX_UPLOAD_SIZE=1`` (so a 2 MB file is over the limit)
and DEBUG logging, one with the limit of ``.streamlit/config.toml``. The million-row test takes about
three minutes on two cores (generating the file, uploading 122 MB, importing, loading the new dataset).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from apprunner import ARTIFACTS, ROOT, start_app, stop
from test_browser import Console, metric, upload_through_the_data_page, wait_idle, write_upload

pytestmark = pytest.mark.browser

CONFIG_LIMIT_MB = int(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"])
SMALL_LIMIT_MB = 1
MILLION = 1_000_000
LONG = 15 * 60_000   # ms: turns a hang into a failure; never a speed requirement


def _serve(tmp_path_factory, log_name: str, **env: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    db = tmp_path_factory.mktemp("limits") / "app.db"
    log = ARTIFACTS / log_name
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLIT_SERVER_FILE_WATCHER_TYPE", "none")   # no "file changed" prompt mid-test
        for key, value in env.items():
            mp.setenv(key, value)
        proc, base = start_app(f"sqlite:///{db}", log)
    return proc, base, log


@pytest.fixture(scope="module")
def small_limit_app(tmp_path_factory):
    """The dashboard with a 1 MB upload limit and every Streamlit logger at DEBUG; yields (url, log)."""
    proc, base, log = _serve(tmp_path_factory, "streamlit-limits-debug.log",
                             STREAMLIT_SERVER_MAX_UPLOAD_SIZE=str(SMALL_LIMIT_MB), STREAMLIT_LOGGER_LEVEL="debug")
    yield base, log
    stop(proc)


@pytest.fixture(scope="module")
def configured_app(tmp_path_factory):
    """The dashboard with the upload limit of .streamlit/config.toml."""
    proc, base, _ = _serve(tmp_path_factory, "streamlit-limits.log")
    yield base
    stop(proc)


def open_data_page(browser, base: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console = Console(page)
    page.goto(f"{base}/Data")
    wait_idle(page, "Import records")
    return context, page, console


def shown_limit(page) -> tuple[str, str, str]:
    """The limit as the page states it: the uploader's own line, the help tooltip, the caption."""
    instructions = page.locator('[data-testid="stFileUploaderDropzoneInstructions"]').inner_text()
    page.locator(".st-key-upload_files [data-testid=stTooltipHoverTarget]").first.hover()
    tooltip = page.locator('[data-testid="stTooltipContent"]').first
    tooltip.wait_for(timeout=10_000)
    help_text = tooltip.inner_text()
    page.mouse.move(0, 0)
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="per file").first.inner_text()
    return instructions, help_text, caption


def recognised_table(page):
    """The table of uploaded files the page drew (dataframes carry no st-key class: found by a header)."""
    return page.locator('[data-testid="stDataFrame"]').filter(has_text="recognised as")


def write_over_limit(path: Path, megabytes: float) -> Path:
    """A real export (the sample, repeated with new ids) of just over ``megabytes``."""
    sample = pd.read_csv(ROOT / "data" / "sample_outcomes.csv", dtype=str)
    parts, size, i = [], 0, 0
    while size <= megabytes * 1_000_000 * 1.05:
        part = sample.assign(treatment_id=f"X{i}-" + sample["treatment_id"])
        parts.append(part)
        size += len(part.to_csv(index=False))
        i += 1
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_the_limit_is_shown_before_uploading_and_matches_the_configuration(configured_app, browser):
    context, page, console = open_data_page(browser, configured_app)
    instructions, help_text, caption = shown_limit(page)
    assert f"{CONFIG_LIMIT_MB}MB per file" in instructions
    assert f"Up to {CONFIG_LIMIT_MB} MB per file" in help_text
    assert f"Up to {CONFIG_LIMIT_MB} MB per file" in caption
    assert console.unexpected() == []
    context.close()


def test_a_file_over_the_limit_is_refused_with_a_message_and_the_page_stays_usable(small_limit_app, browser,
                                                                                    tmp_path):
    base, _ = small_limit_app
    too_big = write_over_limit(tmp_path / "too_big_export.csv", 2 * SMALL_LIMIT_MB)
    assert too_big.stat().st_size > 2 * SMALL_LIMIT_MB * 1024 * 1024
    context, page, console = open_data_page(browser, base)
    instructions, help_text, caption = shown_limit(page)   # the limit in force, wherever it is stated
    assert f"{SMALL_LIMIT_MB}MB per file" in instructions
    assert f"Up to {SMALL_LIMIT_MB} MB per file" in help_text and f"Up to {SMALL_LIMIT_MB} MB per file" in caption

    page.locator(".st-key-upload_files input[type=file]").set_input_files(str(too_big))
    chip = page.locator('.st-key-upload_files [data-testid="stFileChip"][aria-invalid="true"]')
    chip.wait_for(timeout=30_000)
    chip.hover()
    reason = page.locator('[data-testid="stTooltipErrorContent"]').first
    reason.wait_for(timeout=10_000)
    assert reason.inner_text().strip() == f"File must be {SMALL_LIMIT_MB:.1f}MB or smaller."
    wait_idle(page)
    page.screenshot(path=str(ARTIFACTS / "upload-over-limit.png"), full_page=True)
    page.mouse.move(0, 0)
    # Nothing reached the server: no table of recognised files, no Import button, no error, no exception.
    assert recognised_table(page).count() == 0
    assert page.locator(".st-key-upload_import").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("is marked in red", exact=False).count() == 1   # the caption says what red means

    # Still usable: remove the refused file, import a normal one, open another page.
    chip.locator('[data-testid="stFileChipDeleteBtn"] button').click()
    chip.wait_for(state="detached", timeout=30_000)
    outcomes, side_effects = write_upload(tmp_path)
    upload_through_the_data_page(page, base, [outcomes, side_effects])
    assert recognised_table(page).count() == 1   # the same check finds the table once a file is uploaded
    assert metric(page, "Treatments imported") == "400"
    page.get_by_role("link", name="Overview", exact=True).click()
    wait_idle(page, "What stands out")
    assert page.get_by_text("clinic_export").count() > 0   # the new dataset is the one shown
    assert console.unexpected() == []
    context.close()


def test_the_server_log_at_debug_holds_no_patient_identifier(small_limit_app, browser, tmp_path):
    from test_logging import leaks, write_identifier_files

    base, log = small_limit_app
    files = write_identifier_files(tmp_path / "in", ragged=True)
    context, page, console = open_data_page(browser, base)
    upload_through_the_data_page(page, base, [files["outcomes"], files["side_effects"]])
    assert int(metric(page, "Rows rejected")) > 0
    # The problems table draws only the cells in view: bring it into view, and give it a moment to draw.
    page.get_by_text("Rejected rows were not imported", exact=False).first.scroll_into_view_if_needed()
    withheld = page.get_by_text("not shown: the file has patient identifier columns")
    withheld.first.wait_for(state="attached", timeout=30_000)
    assert withheld.count() > 0
    page.screenshot(path=str(ARTIFACTS / "upload-identifiers-report.png"), full_page=True)
    upload_through_the_data_page(page, base, [files["ids"]])
    assert int(metric(page, "Rows rejected")) == 1
    context.close()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "AppSession initialized" in text   # a DEBUG-level line: the log really was at DEBUG
    assert leaks(text) == []
    assert leaks(page.url) == []


def test_a_million_row_export_shows_progress_then_the_report(configured_app, browser, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_sample", ROOT / "data" / "generate_sample.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    outcomes, _ = generator.write_sample(tmp_path, n_treatments=MILLION, seed=7, prefix="million")
    assert outcomes.stat().st_size < CONFIG_LIMIT_MB * 1024 * 1024   # a year's export fits the configured limit

    context, page, console = open_data_page(browser, configured_app)
    page.locator(".st-key-upload_files input[type=file]").set_input_files(str(outcomes))
    page.locator(".st-key-upload_import button").wait_for(timeout=LONG)   # shown once the file is recognised
    wait_idle(page, timeout=LONG)
    assert str(MILLION) in recognised_table(page).first.text_content().replace(",", "")

    page.locator(".st-key-upload_import button").click()
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=LONG)
    page.screenshot(path=str(ARTIFACTS / "import-million-progress.png"), full_page=False)
    assert "Step" in progress.inner_text() or "Saved" in progress.inner_text()
    assert page.get_by_text("Importing…").count() > 0
    wait_idle(page, "Treatments imported", timeout=LONG)
    page.screenshot(path=str(ARTIFACTS / "import-million-report.png"), full_page=False)
    assert metric(page, "Treatments imported") == f"{MILLION:,}"
    assert metric(page, "Rows rejected") == "0"
    assert page.get_by_text(f"{MILLION:,} treatments", exact=False).count() > 0   # the page shows the new dataset
    assert page.locator('[data-testid="stException"]').count() == 0
    assert console.unexpected() == []
    context.close()
