"""Statistics for a view, cached by (database, dataset id, version, filters) with a bounded cache.

What can be computed is :data:`analysis.present.content.FUNCTIONS` (and its ``COMPOSITES``)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from typing import Any

import streamlit as st

from analysis.present.content import COMPOSITES, FUNCTIONS
from analysis.records import versions
from analysis.records.store import DatasetNotFound, Records, StoreError
from ui.setup import View


@st.cache_data(max_entries=128, show_spinner="Computing statistics…")
def _run(name: str, key: tuple, extra: tuple, _records: Records, _parts: dict[str, Any] | None = None) -> Any:
    """``FUNCTIONS[name]``; ``_parts`` are results it would otherwise recompute (determined by ``key``)."""
    return FUNCTIONS[name](_records, *extra, **(_parts or {}))


def run(name: str, key: tuple, extra: tuple, records: Records) -> Any:
    """``name``'s result for ``records``, cached under ``key`` (what identifies the records)."""
    if name in COMPOSITES:
        return COMPOSITES[name](lambda n, *e, parts=None: _run(n, key, e, records, parts), *extra)
    return _run(name, key, extra, records)


@st.cache_data(max_entries=256, show_spinner=False)
def _complete_to(url: str, dataset_id: str, version: int, _view: View) -> date | None:
    """The date the records of the dataset's ``version`` are complete to (url, id and version key the cache; the
    history is read through the view's access, as every read is)."""
    last = versions.records_complete_to_in(_view.access.history(dataset_id))
    return last.date() if last else None


def follow_up_until(view: View) -> date:
    """The date the dataset's side-effect records are complete to: its latest import (not rolled back), or the
    bundled sample's export date (:func:`analysis.records.versions.records_complete_to`)."""
    try:
        last = _complete_to(view.store_url, view.dataset.id, view.dataset.version, view)
    except (StoreError, DatasetNotFound):  # history unreadable (or deleted a moment ago): its creation date
        last = None
    return last or view.dataset.created_at.date()


def compute(view: View, name: str, *extra: Any) -> Any:
    """``FUNCTIONS[name](view.selection, *extra)`` (or a composite), computed once per dataset version and filters."""
    key = (view.store_url, view.dataset.id, view.dataset.version, astuple(view.filters))
    return run(name, key, extra, view.selection)
