"""Side effects: every effect's rate by modality and skin type, severity and how long it lasted.

What the page shows, in order, is :func:`analysis.present.content.side_effects` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Side effects")
page = ui.start_report("Side effects", view)
ui.empty_selection(view)
content.side_effects(page, ui.page_input(view))
ui.finish(view, "side-effects")
