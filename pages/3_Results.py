"""Results: investigator-rated improvement and patient satisfaction, ablative vs non-ablative.

What the page shows, in order, is :func:`analysis.present.content.results` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Results")
page = ui.start_report("Results", view)
ui.empty_selection(view)
content.results(page, ui.page_input(view))
ui.finish(view, "results")
