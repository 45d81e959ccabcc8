"""Downtime: how long patients needed before normal activities, ablative vs non-ablative.

What the page shows, in order, is :func:`analysis.present.content.downtime` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Downtime")
page = ui.start_report("Downtime", view)
ui.empty_selection(view)
content.downtime(page, ui.page_input(view))
ui.finish(view, "downtime")
