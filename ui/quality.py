"""The Data page's data quality: the checks of the whole dataset being viewed, one sentence and one table each.

The checks themselves are :func:`analysis.findings.quality.quality_summary`; this draws them, cached
per dataset version.
"""

from __future__ import annotations

import streamlit as st

from analysis.findings.quality import QualitySummary, quality_summary
from analysis.present import tables
from analysis.records.store import Records
from ui import widgets
from ui.setup import View

MAX_QUALITY_ROWS = 1_000


@st.cache_data(max_entries=8, show_spinner="Checking the data…")
def _quality(url: str, dataset_id: str, version: int, rows_rejected: int, _records: Records) -> QualitySummary:
    """Keyed by database, dataset id and version (records never change within a version)."""
    return quality_summary(_records, rows_rejected)


def quality_section(view: View) -> None:
    """The data-quality checks of the whole dataset being viewed, one sentence and one table each."""
    if view.dataset is None:
        return
    st.header("Data quality")   # the report is titled "Data quality"; its checks are its headings
    summary = _quality(view.store_url, view.dataset.id, view.dataset.version, view.dataset.rows_rejected,
                       view.records)
    widgets.sentence(f"These checks cover the whole dataset ({summary.treatments:,} treatments, "
                     f"{summary.side_effects:,} side-effect records), whatever the filters in the sidebar. "
                     "Values here were accepted by the import; the checks point at the ones worth confirming.")
    st.text(f"Dataset: {view.dataset.name}")
    widgets.metrics([("Treatments", f"{summary.treatments:,}", ""),
                     ("Side-effect records", f"{summary.side_effects:,}", ""),
                     ("Rows rejected at import", "not known" if summary.rows_rejected is None
                      else f"{summary.rows_rejected:,}", "")], per_row=3)
    for check in summary.checks():
        widgets.heading(check.title)
        widgets.sentence(check.sentence)
        if not check.table.empty:
            table = check.table.head(MAX_QUALITY_ROWS)
            if len(table) < len(check.table):
                widgets.sentence(f"Showing the first {len(table):,} of {len(check.table):,} rows.")
            widgets.table(tables.readable(table), key=f"quality_{check.key}")
        if check.key == "costs" and not summary.cost_fences.empty:
            widgets.sentence("What counts as unusual on each device (costs outside the fences):")
            widgets.table(tables.readable(summary.cost_fences), key="quality_cost_fences")
