"""Screens that fit (issue 17): every page at 1400×1000 and 1024×768 in headless Chromium.

Each page is screenshot at both sizes into ``tests/artifacts/screens/`` (not committed) for a reviewer
to look at. Then, in the page itself:

- in every plotly chart, the title, axis titles, legend, tick labels, annotations (captions) and point
  labels do not overlap one another and lie inside the chart's box;
- no metric card's label or value is cut off (ellipsis);
- at 1400 px, no table needs scrolling sideways (except the comparison tables, whose answer columns come
  first and fit, and the Data page's record lists).
"""

from __future__ import annotations

import json

import pytest

from apprunner import ARTIFACTS
from test_browser import PAGES, Console, wait_idle

pytestmark = pytest.mark.browser

SCREENS = ARTIFACTS / "screens"
SIZES = {"1400x1000": (1400, 1000), "1024x768": (1024, 768)}
ALL_PAGES = {**PAGES, "Data": "Data"}
READY_TEXT = {"Overview": "What stands out", "Data": "Import records"}
LINKS = {"Data": "Data: import & datasets"}
# Pages whose comparison tables are wider than the page: the answer columns come first and fit at 1,400 px
# (tests/test_figures.py checks their widths), the modality rates and n follow by scrolling sideways. The Data
# page's tables list records and are left to the grid.
WIDE_TABLES_BY_DESIGN = ("Results", "Skin tone & hyperpigmentation", "Side effects", "Data")

# Bounding boxes of the labelled parts of every plotly chart on the page; pairs that intersect by more than
# a pixel, and parts reaching outside the chart's own box.
CHART_PROBLEMS = r"""
() => {
  const parts = [
    ['title', '.g-gtitle text'], ['x title', '.g-xtitle text'], ['y title', '.g-ytitle text'],
    ['legend', 'g.legend'], ['x tick', '.xaxislayer-above .xtick text'], ['y tick', '.yaxislayer-above .ytick text'],
    ['annotation', 'g.annotation'], ['point label', '.textpoint text'],
  ];
  const problems = [];
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
  charts.forEach((chart, index) => {
    const title = chart.querySelector('.g-gtitle text')?.textContent || `chart ${index + 1}`;
    const box = chart.getBoundingClientRect();
    const items = [];
    for (const [kind, selector] of parts) {
      chart.querySelectorAll(selector).forEach((el) => {
        const r = el.getBoundingClientRect();
        if (r.width < 1 || r.height < 1 || !el.textContent.trim()) return;
        // slanted tick labels: their boxes are upright rectangles around slanted text, so neighbours' boxes
        // cross although the words do not; plotly slants them exactly so that they do not touch
        const slanted = kind.endsWith('tick') && /rotate\((?!0[ ,)])/.test(el.getAttribute('transform') || '');
        items.push({kind, slanted, text: el.textContent.trim().slice(0, 40), r});
      });
    }
    const tol = 1;
    for (const it of items) {
      if (it.r.left < box.left - tol || it.r.right > box.right + tol || it.r.top < box.top - tol ||
          it.r.bottom > box.bottom + tol) {
        problems.push(`${title}: ${it.kind} "${it.text}" reaches outside the chart`);
      }
    }
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        if (items[i].slanted && items[j].slanted && items[i].kind === items[j].kind) continue;
        const a = items[i].r, b = items[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > tol && h > tol) {
          problems.push(`${title}: ${items[i].kind} "${items[i].text}" overlaps ${items[j].kind} "${items[j].text}"`);
        }
      }
    }
  });
  return problems;
}
"""

CUT_METRICS = """
() => [...document.querySelectorAll('[data-testid="stMetric"] [data-testid="stMetricValue"] div,'
                                    + '[data-testid="stMetric"] [data-testid="stMetricLabel"] p')]
  .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent)
"""

WIDE_TABLES = """
() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].filter((frame) => {
  const scroller = frame.querySelector('.dvn-scroller');
  return scroller && scroller.scrollWidth > scroller.clientWidth + 1;
}).map((frame) => {
  const scroller = frame.querySelector('.dvn-scroller');
  const index = [...document.querySelectorAll('[data-testid="stDataFrame"]')].indexOf(frame) + 1;
  return `table ${index}: ${scroller.scrollWidth} px of columns in ${scroller.clientWidth} px`;
})
"""


def wait_for_charts(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
        ".every((c) => c.querySelector('.js-plotly-plot .main-svg'))", timeout=60_000)
    page.wait_for_timeout(800)  # plotly's second layout pass (automargin) after the first draw


def whole_page(page, width: int, height: int, path) -> None:
    """Screenshot the whole page: the app scrolls inside its main area, so the window is made as tall as it
    for the picture (the width, which decides the layout, stays), then set back."""
    tall = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
                         "[data-testid=stAppViewContainer]')].map((e) => e.scrollHeight))")
    page.set_viewport_size({"width": width, "height": max(height, tall)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": height})


@pytest.fixture(scope="module")
def screens(app, browser):
    """Every page at both sizes: screenshots written, and what each check found, by (size, page)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    found: dict[tuple[str, str], dict[str, list[str]]] = {}
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        console = Console(page)
        page.goto(app)
        wait_idle(page, READY_TEXT["Overview"])
        for label, path in ALL_PAGES.items():
            page.get_by_role("link", name=LINKS.get(label, label), exact=True).click()
            wait_idle(page, READY_TEXT.get(label, label))
            wait_for_charts(page)
            found[(size, label)] = {"charts": page.evaluate(CHART_PROBLEMS), "metrics": page.evaluate(CUT_METRICS),
                                    "tables": page.evaluate(WIDE_TABLES),
                                    "exceptions": [label] * page.locator('[data-testid="stException"]').count()}
            whole_page(page, width, height, SCREENS / f"{size}-{path or 'Overview'}.png")
        found[(size, "console")] = {"errors": console.unexpected()}
        context.close()
    (SCREENS / "problems.json").write_text(json.dumps({f"{s} {p}": v for (s, p), v in found.items()}, indent=1))
    return found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("label", ALL_PAGES)
def test_chart_labels_do_not_overlap_or_leave_the_chart(screens, size, label):
    assert screens[(size, label)]["exceptions"] == []
    assert screens[(size, label)]["charts"] == []


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("label", ALL_PAGES)
def test_metric_cards_are_not_cut_off(screens, size, label):
    assert screens[(size, label)]["metrics"] == []


@pytest.mark.parametrize("label", [label for label in ALL_PAGES if label not in WIDE_TABLES_BY_DESIGN])
def test_tables_fit_without_scrolling_sideways_at_1400(screens, label):
    assert screens[("1400x1000", label)]["tables"] == []


@pytest.mark.parametrize("size", SIZES)
def test_no_console_errors(screens, size):
    assert screens[(size, "console")]["errors"] == []
