"""Overview: the dataset at a glance. Run with ``streamlit run dashboard.py``.

What the page shows, in order, is :func:`analysis.present.content.overview` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Overview")
ui.welcome(view)
page = ui.start_report("Overview", view)
ui.empty_selection(view)
content.overview(page, ui.page_input(view))
ui.finish(view, "overview")
