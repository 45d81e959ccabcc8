"""The shared Streamlit layer: page set-up, filters from the URL, cached statistics, charts and exports.

Pages compose this and ``analysis``; they hold no statistics, SQL or data wrangling.
"""

from ui.compute import compute, follow_up_until
from ui.setup import View, request_dataset, setup_page, share_link
from ui.widgets import caption, chart, empty_selection, page_input, findings, finish, heading, metrics, sentence, start_report, table, verdict, welcome

__all__ = ["View", "caption", "chart", "page_input", "compute", "follow_up_until", "empty_selection", "findings", "finish", "heading", "request_dataset",
           "sentence", "setup_page", "share_link", "start_report", "table", "verdict"]
