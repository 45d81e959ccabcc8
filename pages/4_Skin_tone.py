"""Skin tone & hyperpigmentation: the rate per Fitzpatrick type for each modality — the core view.

What the page shows, in order, is :func:`analysis.present.content.skin_tone_page` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Skin tone & hyperpigmentation")
page = ui.start_report("Skin tone & hyperpigmentation", view)
ui.empty_selection(view)
content.skin_tone_page(page, ui.page_input(view))
ui.finish(view, "skin-tone")
