"""Article check: the source article's claims, tested on this clinic's own records.

What the page shows, in order, is :func:`analysis.present.content.article_check` (its PDF and the command line
show the same)."""

import ui
from analysis.present import content

view = ui.setup_page("Article check")
page = ui.start_report("Article check", view)
ui.empty_selection(view)
content.article_check(page, ui.page_input(view))
ui.finish(view, "article-check")
