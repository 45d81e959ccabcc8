"""Every page (and ``dashboard.py``) starts with :func:`setup_page`: a page opened straight from a
link runs alone, so nothing may rely on another page having run first."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from analysis.store import DatasetInfo, DatasetNotFound, Records, Store, StoreError, database_url

DATASET_PARAM = "dataset"


@dataclass(frozen=True)
class View:
    """What a page shows: the chosen dataset and its records."""

    dataset: DatasetInfo
    records: Records


def _configured_url() -> str:
    """Database URL: Streamlit secret ``[database] url``, else ``$LASERDASH_DB_URL``, else SQLite in data/."""
    try:
        secret = st.secrets.get("database", {}).get("url")
    except (FileNotFoundError, KeyError, AttributeError):
        secret = None
    except Exception:  # noqa: BLE001 - st.secrets raises its own parse errors; fall back to the environment
        secret = None
    return database_url(secret or os.environ.get("LASERDASH_DB_URL") or None)


@st.cache_resource(show_spinner=False)
def get_store(url: str) -> Store:
    """One store (connection pool) per database URL and server process; opens on the sample when empty."""
    store = Store(url)
    store.ensure_sample()
    return store


@st.cache_data(max_entries=8, show_spinner="Loading records…")
def load_records(url: str, dataset_id: str, version: int) -> Records:
    """A dataset's records, cached by (id, version) so a new import is never hidden by an old entry."""
    return get_store(url).load(dataset_id)


def setup_page(title: str, icon: str = "🔬") -> View:
    """Configure the page, choose the dataset (from the URL, else the newest) and load its records."""
    st.set_page_config(page_title=f"{title} · Laser outcomes", page_icon=icon, layout="wide")
    url = _configured_url()
    try:
        store = get_store(url)
        datasets = store.datasets()
    except StoreError as exc:
        st.error(str(exc))
        st.stop()
    if not datasets:
        st.info("No datasets yet. Import records with `python -m analysis import OUTCOMES.csv --name NAME`.")
        st.stop()
    wanted = st.query_params.get(DATASET_PARAM)
    by_id = {d.id: d for d in datasets}
    if wanted and wanted not in by_id:
        st.warning("The link names a dataset that does not exist here (it may have been deleted). "
                   "Showing the newest dataset instead.")
        wanted = None
    ids = list(by_id)
    chosen = st.sidebar.selectbox("Dataset", ids, index=ids.index(wanted) if wanted else 0,
                                  format_func=lambda i: by_id[i].name, key="dataset_choice")
    st.query_params[DATASET_PARAM] = chosen
    dataset = by_id[chosen]
    try:
        records = load_records(url, dataset.id, dataset.version)
    except DatasetNotFound as exc:
        st.warning(str(exc))
        st.stop()
    st.title(title)
    return View(dataset, records)
