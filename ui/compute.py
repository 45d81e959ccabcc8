"""Statistics for a view, cached by (database, dataset id, version, filters) with a bounded cache.

What can be computed is :data:`analysis.present.content.FUNCTIONS` (and its ``COMPOSITES``)."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import streamlit as st

from analysis.present.content import COMPOSITES, FUNCTIONS
from analysis.records.store import Records
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


def follow_up_until(view: View) -> Any:
    """The date the dataset's side-effect records are complete to: when it was imported."""
    return view.dataset.created_at.date()


def compute(view: View, name: str, *extra: Any) -> Any:
    """``FUNCTIONS[name](view.selection, *extra)`` (or a composite), computed once per dataset version and filters."""
    key = (view.store_url, view.dataset.id, view.dataset.version, astuple(view.filters))
    return run(name, key, extra, view.selection)
