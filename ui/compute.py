"""Statistics for a view, cached by (database, dataset id, version, filters) with a bounded cache."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from typing import Any, Callable

import streamlit as st

from analysis.findings import claims, compare, effects, monitoring, skin_tone
from analysis.findings.overview import dataset_overview
from analysis.records import versions
from analysis.records.store import Records, StoreError
from analysis.findings.summary import top_findings
from ui.setup import View, get_store

#: The statistics a page can ask for, each a function of the selection (and extra arguments).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "overview": dataset_overview,
    "downtime": compare.downtime,
    "improvement": compare.improvement,
    # the same without per-group breakdowns: what the Overview, its findings and the article check use
    "downtime_headline": lambda r: compare.downtime(r, breakdowns=()),
    "improvement_headline": lambda r: compare.improvement(r, breakdowns=()),
    "satisfaction": compare.satisfaction,
    "skin_tone": skin_tone.skin_tone,
    "side_effects": effects.side_effects,
    "monthly": lambda r, until: monitoring.monthly(r, follow_up_until=until),
    "funnel": monitoring.funnel,
    "claims": claims.check_claims,
    "procedure_time": lambda r: compare.compare_measure(r, "procedure_minutes", "procedure time", "minutes",
                                                        breakdowns=("treatment_area",)),
    "cost": lambda r: compare.compare_measure(r, "cost", "cost per session", "",
                                              breakdowns=("device", "treatment_area", "practitioner")),
}


@st.cache_data(max_entries=128, show_spinner="Computing statistics…")
def _run(name: str, key: tuple, extra: tuple, _records: Records, _parts: dict[str, Any] | None = None) -> Any:
    """``FUNCTIONS[name]``; ``_parts`` are results it would otherwise recompute (determined by ``key``)."""
    return FUNCTIONS[name](_records, *extra, **(_parts or {}))


def _claims(records: Records, key: tuple) -> Any:
    parts = {"downtime": _run("downtime_headline", key, (), records),
             "improvement": _run("improvement_headline", key, (), records),
             "skin_tone": _run("skin_tone", key, (), records)}
    return _run("claims", key, (), records, parts)


def _top_findings(records: Records, key: tuple, until: Any) -> Any:
    """The Overview's three findings, from the cached comparisons the other pages show."""
    return top_findings(*(_run(name, key, extra, records) for name, extra in (
        ("skin_tone", ()), ("downtime_headline", ()), ("improvement_headline", ()), ("monthly", (until,)),
        ("funnel", ("clinic",)), ("funnel", ("practitioner",)))))


#: Results built from other cached results (not cached themselves: they are cheap once the parts are).
COMPOSITES: dict[str, Callable[..., Any]] = {"claims": _claims, "top_findings": _top_findings}


def run(name: str, key: tuple, extra: tuple, records: Records) -> Any:
    """``name``'s result for ``records``, cached under ``key`` (what identifies the records)."""
    if name in COMPOSITES:
        return COMPOSITES[name](records, key, *extra)
    return _run(name, key, extra, records)


@st.cache_data(max_entries=256, show_spinner=False)
def _last_import(url: str, dataset_id: str, version: int) -> date:
    """The date of the import the dataset's ``version`` holds the records of (the version only keys the cache)."""
    return versions.last_import(get_store(url), dataset_id).date()


def follow_up_until(view: View) -> date:
    """The date the dataset's side-effect records are complete to: its latest import (not rolled back)."""
    try:
        return _last_import(view.store_url, view.dataset.id, view.dataset.version)
    except StoreError:  # the history cannot be read: the dataset's first import is the date known
        return view.dataset.created_at.date()


def compute(view: View, name: str, *extra: Any) -> Any:
    """``FUNCTIONS[name](view.selection, *extra)`` (or a composite), computed once per dataset version and filters."""
    key = (view.store_url, view.dataset.id, view.dataset.version, astuple(view.filters))
    return run(name, key, extra, view.selection)
