"""Trends & clinics: monthly p-chart of hyperpigmentation beside the same months against their case mix, volume,
and funnel plots of clinics and practitioners.

What the page shows, in order, is :func:`analysis.present.content.trends` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Trends & clinics")
page = ui.start_report("Trends & clinics", view)
ui.empty_selection(view)
content.trends(page, ui.page_input(view))
ui.finish(view, "trends")
