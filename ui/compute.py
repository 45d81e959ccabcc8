"""Statistics for a view, cached by (database, dataset id, version, filters) with a bounded cache."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any, Callable

import streamlit as st

from analysis import claims, compare
from analysis.overview import dataset_overview
from analysis.store import Records
from analysis.summary import top_findings
from ui.setup import View

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "overview": dataset_overview,
    "downtime": compare.downtime,
    "improvement": compare.improvement,
    "satisfaction": compare.satisfaction,
    "skin_tone": compare.skin_tone,
    "side_effects": compare.side_effects,
    "monthly": lambda r, until: compare.monthly(r, follow_up_until=until),
    "funnel": compare.funnel,
    "claims": claims.check_claims,
    "top_findings": lambda r, until: top_findings(compare.skin_tone(r), compare.downtime(r), compare.improvement(r),
                                                  compare.monthly(r, follow_up_until=until),
                                                  compare.funnel(r, "clinic"), compare.funnel(r, "practitioner")),
    "procedure_time": lambda r: compare.compare_measure(r, "procedure_minutes", "procedure time", "minutes",
                                                        breakdowns=("treatment_area",)),
    "cost": lambda r: compare.compare_measure(r, "cost", "cost per session", "",
                                              breakdowns=("device", "treatment_area", "practitioner")),
}


@st.cache_data(max_entries=128, show_spinner="Computing statistics…")
def _run(name: str, key: tuple, extra: tuple, _records: Records) -> Any:
    return FUNCTIONS[name](_records, *extra)


def follow_up_until(view: View) -> Any:
    """The date the dataset's side-effect records are complete to: when it was imported."""
    return view.dataset.created_at.date()


def compute(view: View, name: str, *extra: Any) -> Any:
    """``FUNCTIONS[name](view.selection, *extra)``, computed once per dataset version and filters."""
    key = (view.store_url, view.dataset.id, view.dataset.version, astuple(view.filters))
    return _run(name, key, extra, view.selection)
