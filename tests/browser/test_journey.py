"""A first-time manager's journey in a real headless Chromium (issue 17).

Cold open of the Overview on the sample (the welcome shows) → the Data page's template (workbook and
CSV) → import the clinic's own export: `;` between cells, decimal comma, dd/mm/yyyy dates, Windows-1252,
with three bad rows → the report lists them → the rejected rows come back in the file's own dialect →
the share link of a filtered view, copied from "Share this view", opens in a fresh browser with the same
dataset, filters and counts.

Elements are found by widget key (``st-key-<key>``) or Streamlit's test ids, not by wording.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from test_browser import ARTIFACTS, Console, pick, selected_tags, wait_idle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CLINIC = "Hautklinik Zürich"          # only in Windows-1252 in the file (ü is one byte, 0xFC)
PRACTITIONER = "Dr É. Dubé"
#: (row in the file's data, column, value the import must reject)
BAD = ((5, "fitzpatrick_type", "VII"), (17, "treatment_date", "31/02/2024"), (29, "downtime_days", "-3"))
ROWS = 300
WELCOME = '[data-testid="stAlertContentInfo"]:has([data-testid="stAlertDynamicIcon"]:text-is("waving_hand"))'


def european_export(folder: Path) -> tuple[Path, Path]:
    """300 sample treatments (new ids) and their side effects as a European Excel export: `;`, decimal comma,
    dd/mm/yyyy, Windows-1252, a clinic and practitioner with accents, and three rows the import must reject."""
    out = pd.read_csv(ROOT / "data" / "sample_outcomes.csv", dtype=str).head(ROWS)
    side = pd.read_csv(ROOT / "data" / "sample_side_effects.csv", dtype=str)
    side = side[side["treatment_id"].isin(out["treatment_id"])].copy()
    out["treatment_id"] = "J" + out["treatment_id"]
    side["treatment_id"] = "J" + side["treatment_id"]
    out["treatment_date"] = pd.to_datetime(out["treatment_date"]).dt.strftime("%d/%m/%Y")
    out["cost"] = out["cost"].str.replace(".", ",", regex=False)
    out.loc[out.index[:120], "clinic"] = CLINIC
    out.loc[out.index[:40], "practitioner"] = PRACTITIONER
    for row, column, value in BAD:
        out.loc[out.index[row], column] = value
    paths = folder / "praxis_export.csv", folder / "praxis_side_effects.csv"
    paths[0].write_bytes(out.to_csv(sep=";", index=False, lineterminator="\r\n").encode("cp1252"))
    paths[1].write_bytes(side.to_csv(sep=";", index=False, lineterminator="\r\n").encode("cp1252"))
    return paths


def download(page, key: str):
    """Press the download button with widget key ``key``; the Playwright download."""
    with page.expect_download() as info:
        page.locator(f".st-key-{key} button").click()
    return info.value


def clipboard(page, timeout_s: float = 15.0) -> str:
    """The text on the clipboard, once something is there (copying is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = page.evaluate("navigator.clipboard.readText()").strip()
        if text or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(200)


def selection_line(page) -> str:
    """The line under the page title: dataset, selection and number of treatments (from ``ui.setup_page``)."""
    return page.locator('[data-testid="stMain"] [data-testid="stText"]').first.inner_text().strip()


def test_first_time_manager_journey(app, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app)
    page = context.new_page()
    console = Console(page)

    # 1. Cold open of the Overview: the sample, with the welcome.
    page.goto(app)
    wait_idle(page)
    page.locator(WELCOME).wait_for(timeout=60_000)
    assert "dataset=" in page.url
    sample_dataset = parse_qs(urlparse(page.url).query)["dataset"]
    page.screenshot(path=str(ARTIFACTS / "journey-1-welcome.png"), full_page=True)

    # 2. The Data page offers the template, as a workbook and as CSV: the committed files.
    page.goto(f"{app}/Data")
    wait_idle(page)
    page.locator(".st-key-upload_template_xlsx button").wait_for(timeout=60_000)
    workbook = download(page, "upload_template_xlsx")
    assert workbook.suggested_filename.endswith(".xlsx")
    assert Path(workbook.path()).read_bytes() == (ROOT / "data" / "template.xlsx").read_bytes()
    template = download(page, "upload_template_csv")
    assert template.suggested_filename.endswith(".csv")
    assert Path(template.path()).read_bytes() == (ROOT / "data" / "template.csv").read_bytes()
    assert {"treatment_id", "fitzpatrick_type", "modality"} <= set(
        pd.read_csv(template.path(), nrows=0).columns)

    # 3. Import the clinic's own export.
    outcomes, side_effects = european_export(tmp_path)
    page.locator(".st-key-upload_files input[type=file]").set_input_files([str(outcomes), str(side_effects)])
    wait_idle(page, outcomes.name)
    page.locator(".st-key-upload_import button").wait_for(timeout=60_000)
    page.locator(".st-key-upload_import button").click()
    wait_idle(page)
    page.locator(".st-key-upload_problems_csv button").wait_for(timeout=90_000)
    page.screenshot(path=str(ARTIFACTS / "journey-2-report.png"), full_page=True)

    # 4. The report lists the bad rows (its problems table, also downloadable); they download in the file's
    # dialect.
    problems = pd.read_csv(download(page, "upload_problems_csv").path(), dtype=str, encoding="utf-8-sig")
    listed = problems[(problems["file"] == outcomes.name) & (problems["severity"] == "rejected")]
    assert sorted(zip(listed["row"].astype(int), listed["column"], listed["value"])) == sorted(
        (row + 2, column, value) for row, column, value in BAD)     # spreadsheet rows: the header is row 1
    buttons = page.locator('[class*="st-key-upload_rejected_"] button')
    assert buttons.count() >= 1
    found = {}
    for i in range(buttons.count()):
        with page.expect_download() as info:
            buttons.nth(i).click()
        found[info.value.suggested_filename] = Path(info.value.path()).read_bytes()
    raw = found[f"rejected-{outcomes.stem}.csv"]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")                      # not re-encoded: Windows-1252, as the file came
    text = raw.decode("cp1252")
    header = text.splitlines()[0]
    assert header.count(";") >= 10 and "," not in header
    rejected = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    assert len(rejected) == len(BAD)
    assert sorted(rejected["treatment_id"]) == sorted(f"JT{int(i) + 1:07d}" for i, _, _ in BAD)
    for _, column, value in BAD:
        assert value in set(rejected[column])    # the bad cell as it was, to fix
    assert all("," in cost for cost in rejected["cost"])              # decimal comma kept
    assert CLINIC in set(rejected["clinic"]) and PRACTITIONER in set(rejected["practitioner"])
    imported = parse_qs(urlparse(page.url).query)["dataset"]
    assert imported != sample_dataset            # the dashboard switched to the new dataset

    # 5. A filtered view of the new dataset, and its link from "Share this view".
    page.get_by_role("link", name="Skin tone & hyperpigmentation", exact=True).click()
    wait_idle(page)
    pick(page, "f_clinics", CLINIC)
    pick(page, "f_fitz", "III")
    pick(page, "f_fitz", "IV")
    query = parse_qs(urlparse(page.url).query)
    assert query["dataset"] == imported and query["clinic"] == [CLINIC] and query["fitz"] == ["III", "IV"]
    line, tags = selection_line(page), selected_tags(page, "f_fitz", expect_last="IV")
    assert f"{ROWS - len(BAD):,}" not in line    # the filters narrowed the selection
    page.locator(".st-key-share_view summary").click()     # "Share this view": its link is drawn once opened
    code = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').last
    code.wait_for(timeout=30_000)
    code.hover()
    code.locator('[data-testid="stBaseButton-elementToolbar"]').click()    # the code block's copy button
    shared = clipboard(page)
    assert shared == code.inner_text().strip()
    assert parse_qs(urlparse(shared).query) == query
    page.screenshot(path=str(ARTIFACTS / "journey-3-share.png"), full_page=True)
    assert console.unexpected() == []
    context.close()

    # 6. The colleague's browser: same dataset, same filters, same counts; no welcome any more.
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other_console = Console(other)
    other.goto(shared)
    wait_idle(other)
    assert urlparse(other.url).path.rstrip("/").endswith("/Skin_tone")
    assert parse_qs(urlparse(other.url).query) == query
    assert selected_tags(other, "f_fitz", expect_last="IV") == tags
    assert selected_tags(other, "f_clinics", expect_last=CLINIC) == [CLINIC]
    assert selection_line(other) == line
    other.screenshot(path=str(ARTIFACTS / "journey-4-shared.png"), full_page=True)
    other.get_by_role("link", name="Overview", exact=True).click()
    wait_idle(other)
    assert parse_qs(urlparse(other.url).query)["dataset"] == imported
    assert other.locator(WELCOME).count() == 0
    assert other_console.unexpected() == []
    fresh.close()
