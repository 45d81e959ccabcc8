"""The Data page's data quality: the checks of the whole dataset being viewed, one sentence and one table each.

The checks themselves are :func:`analysis.findings.quality.quality_summary`, shown by
:func:`analysis.present.content.data_quality`; this draws them, cached per dataset version.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from analysis.findings.quality import QualitySummary, quality_summary
from analysis.present import content
from analysis.records.store import Records
from ui import widgets
from ui.setup import View


@st.cache_data(max_entries=8, show_spinner="Checking the data…")
def _quality(url: str, dataset_id: str, version: int, rows_rejected: int, _records: Records) -> QualitySummary:
    """Keyed by database, dataset id and version (records never change within a version)."""
    return quality_summary(_records, rows_rejected)


def quality_section(view: View) -> None:
    """The data-quality checks of the whole dataset being viewed (:func:`analysis.present.content.data_quality`,
    which the Data page's report shows too)."""
    if view.dataset is None:   # a signed-in manager with no dataset yet
        return
    st.header("Data quality")   # the report is titled "Data quality"; its checks are its headings
    st.text(f"Dataset: {view.dataset.name}")
    checks = replace(widgets.page_input(view), quality=lambda: _quality(
        view.store_url, view.dataset.id, view.dataset.version, view.dataset.rows_rejected, view.records))
    content.data_quality(widgets.PageSink(), checks)
