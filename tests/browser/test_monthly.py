"""The monthly workflow in a real headless Chromium: a workbook becomes a dataset, the next month's
workbook is added to it, and a share link made before the second month opens the newest records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import xlsxwriter

from test_browser import ARTIFACTS, Console, metric, wait_idle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def month_workbook(path: Path, rows: pd.DataFrame, side: pd.DataFrame) -> Path:
    """The records as a clinic system's workbook: a title row, typed cells, outcomes and side effects on two sheets."""
    book = xlsxwriter.Workbook(str(path))
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    for name, frame in (("Treatments", rows), ("Side effects", side)):
        sheet = book.add_worksheet(name)
        sheet.write(0, 0, f"{name} exported {dt.date(2024, 7, 1):%d %B %Y}")
        sheet.write_row(2, 0, list(frame.columns))
        for r, record in enumerate(frame.itertuples(index=False), start=3):
            for c, value in enumerate(record):
                if isinstance(value, pd.Timestamp):
                    sheet.write_datetime(r, c, value.to_pydatetime(), date)
                elif pd.isna(value):
                    continue
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)
                else:
                    sheet.write_number(r, c, float(value))
    book.close()
    return path


def months(folder: Path) -> tuple[Path, Path]:
    """January: 120 treatments; February: 60 new ones and 10 of January's with a longer downtime."""
    out = pd.read_csv(ROOT / "data" / "sample_outcomes.csv", parse_dates=["treatment_date"]).head(180)
    side = pd.read_csv(ROOT / "data" / "sample_side_effects.csv")
    out["treatment_id"] = "M" + out["treatment_id"].astype(str)
    side["treatment_id"] = "M" + side["treatment_id"].astype(str)
    january, february = out.iloc[:120], out.iloc[120:]
    changed = january.iloc[:10].assign(downtime_days=january["downtime_days"].iloc[:10] + 1)
    february = pd.concat([february, changed])
    return (month_workbook(folder / "january.xlsx", january, side[side["treatment_id"].isin(january["treatment_id"])]),
            month_workbook(folder / "february.xlsx", february,
                           side[side["treatment_id"].isin(february["treatment_id"])]))


def upload(page, base: str, path: Path, into_existing: bool) -> None:
    page.goto(f"{base}/Data")
    wait_idle(page, "Import records")
    page.locator(".st-key-upload_files input[type=file]").set_input_files([str(path)])
    wait_idle(page, path.name)  # (the uploader lists it; the recognised-sheets table is a canvas)
    if into_existing:
        page.locator(".st-key-upload_target").get_by_text("Add to a dataset", exact=True).click()
        wait_idle(page, "A treatment id the dataset does not hold is added")
    page.locator(".st-key-upload_import button").click()
    wait_idle(page, "Treatments imported")


def test_a_second_month_goes_into_the_same_dataset_and_old_links_show_it(app, browser, tmp_path):
    january, february = months(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console = Console(page)
    upload(page, app, january, into_existing=False)
    assert metric(page, "Treatments imported") == "120"
    page.get_by_role("link", name="Overview", exact=True).click()
    wait_idle(page, "Treatments")
    assert metric(page, "Treatments") == "120"
    shared = page.url                                   # a link a colleague was sent in January
    dataset = parse_qs(urlparse(shared).query)["dataset"]

    upload(page, app, february, into_existing=True)
    assert page.get_by_text("60 new, 10 updated, 0 unchanged and 0 rejected row(s)", exact=False).count() > 0
    page.screenshot(path=str(ARTIFACTS / "monthly-second-import.png"), full_page=True)
    assert page.get_by_text("records added", exact=True).count() > 0          # the history table
    assert console.unexpected() == []
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other_console = Console(other)
    other.goto(shared)
    wait_idle(other, "Treatments")
    assert parse_qs(urlparse(other.url).query)["dataset"] == dataset
    assert metric(other, "Treatments") == "180"
    other.screenshot(path=str(ARTIFACTS / "monthly-old-link.png"), full_page=True)
    assert other_console.unexpected() == []
    fresh.close()
