"""The glossary in a real browser: the sidebar button opens it, "How to read this" opens at the page's foot,
and a finding's tooltip defines the terms it uses. Elements are found by widget key (``st-key-<key>``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import wait_idle

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"

pytestmark = pytest.mark.browser


def test_glossary_how_to_read_and_tooltips_open(app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{app}/Downtime")
    wait_idle(page, "By Fitzpatrick skin type")
    # the glossary, from the sidebar
    page.locator(".st-key-glossary button").first.click()
    definition = page.locator('[data-testid="stPopoverBody"]').get_by_text(
        "The range the true value probably lies in", exact=False)
    definition.wait_for(timeout=30_000)
    assert definition.is_visible()
    page.screenshot(path=str(ARTIFACTS / "glossary-popover.png"))
    page.keyboard.press("Escape")
    # "How to read this" at the foot of the page: closed at first, then the page's notes
    reading = page.locator(".st-key-how_to_read")
    reading.scroll_into_view_if_needed()
    note = reading.get_by_text("Downtime is compared by its median", exact=False)
    assert not note.is_visible()
    reading.locator("summary").first.click()
    note.wait_for(state="visible", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "glossary-how-to-read.png"))
    # a finding's tooltip: what a p-value is, without leaving the page
    finding = page.locator('[data-testid="stMain"] [data-testid="stText"]').filter(has_text="p <").first
    finding.scroll_into_view_if_needed()
    finding.locator('[data-testid="stTooltipHoverTarget"]').first.hover()
    tip = page.locator('[data-testid="stTooltipContent"]').first
    tip.wait_for(timeout=30_000)
    assert "p-value" in tip.inner_text()
    context.close()
