"""Every page (and ``dashboard.py``) starts with :func:`setup_page`.

In Streamlit's classic multipage mode a link straight to a page runs that page file alone, so
nothing may rely on another page having run. ``setup_page`` configures the page, opens the
store, reads the view from the URL on a session's first run (dataset id and filters, validated,
with a notice for anything dropped), draws the sidebar filters, writes the view back into the
URL (so the address bar is always a share link) and returns the selected records.

Filters survive page switches through ``persist_state="session"`` plus an explicit re-seed of
the widgets when the page changes (measured in a real browser and in AppTest; ``bind=
"query-params"`` writes labels instead of ids and drops bad values silently, so it is not used).
"""

from __future__ import annotations

from collections.abc import Sequence

import os
import sys
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from analysis.present import urlstate
from analysis.records import access
from analysis.records.filters import Filters, apply_filters, options, prepare
from analysis.records.schema import FITZPATRICK_ROMAN
from analysis.records.store import DatasetInfo, DatasetNotFound, Records, Store, StoreError, database_url
from ui.reading import sidebar_glossary

APP_NAME = "Laser outcomes"
_STATE = "_view"             # {"dataset": id, "filters": Filters}
_PAGE = "_view_page"         # the page whose widgets were last seeded
_NOTES = "_view_notes"
_PENDING = "_view_pending"   # a dataset to switch to on the next run (set by the Data page)
KEY_DATASET = "f_dataset"
KEY_DATES = "f_dates"
KEY_CLINICS = "f_clinics"
KEY_DEVICES = "f_devices"
KEY_AREAS = "f_areas"
KEY_FITZ = "f_fitz"
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
# The sidebar navigation (Streamlit's own is hidden in .streamlit/config.toml: it would call the
# entry page "dashboard"). Paths are relative to the entry script.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("dashboard.py", "Overview", ":material/dashboard:"),
    ("pages/2_Downtime.py", "Downtime", ":material/schedule:"),
    ("pages/3_Results.py", "Results", ":material/trending_up:"),
    ("pages/4_Skin_tone.py", "Skin tone & hyperpigmentation", ":material/palette:"),
    ("pages/5_Side_effects.py", "Side effects", ":material/healing:"),
    ("pages/6_Trends_and_clinics.py", "Trends & clinics", ":material/monitoring:"),
    ("pages/7_Article_check.py", "Article check", ":material/fact_check:"),
    ("pages/8_Data.py", "Data: import & datasets", ":material/upload_file:"),
)


@dataclass(frozen=True)
class View:
    """What a page shows: the dataset, all its records, the filtered selection and the filters.

    Only the Data page can get a view with no dataset (``dataset`` None: the signed-in user sees none yet),
    so that a manager can import the first one; every other page stops before that.
    """

    dataset: DatasetInfo
    records: Records
    selection: Records
    filters: Filters
    choices: urlstate.FilterChoices
    store_url: str
    #: The signed-in user's way to the datasets: every read and change of a dataset goes through it.
    access: access.Access

    @classmethod
    def without_dataset(cls, store_url: str, user_access: access.Access) -> "View":
        return cls(None, None, None, Filters(), None, store_url, user_access)  # type: ignore[arg-type]

    @property
    def cache_key(self) -> tuple:
        """Key for anything computed from the selection: dataset id, version and the filters."""
        return (*self.dataset.cache_key, self.filters)


def configured_url() -> str:
    """Database URL: Streamlit secret ``[database] url``, else ``$LASERDASH_DB_URL``, else SQLite in data/."""
    secret = None
    try:
        if "database" in st.secrets:
            secret = st.secrets["database"].get("url")
    except (FileNotFoundError, KeyError, AttributeError, ValueError):
        secret = None
    return database_url(secret or os.environ.get("LASERDASH_DB_URL") or None)


@st.cache_resource(show_spinner=False, max_entries=4)
def get_store(url: str) -> Store:
    """One store (connection pool) per database URL and server process; opens on the sample when empty."""
    store = Store(url)
    store.ensure_sample()
    return store


@st.cache_resource(show_spinner="Loading records…", max_entries=4)
def load_records(url: str, dataset_id: str, version: int) -> Records:
    """A dataset's records, shared read-only across sessions, keyed by (id, version).

    Called only by :func:`setup_page` with a dataset that the user's :class:`~analysis.records.access.Access`
    has just listed (so the cache is never reached for a dataset the user may not see)."""
    return prepare(get_store(url).load(dataset_id))


# A selection holds its own copy of the row references: ~160 MB for a broad filter of a 1,000,000-treatment
# dataset (measured), so only the last few are kept; an evicted one is recomputed in ~0.15 s.
@st.cache_resource(show_spinner=False, max_entries=8)
def select(url: str, dataset_id: str, version: int, filters: Filters) -> Records:
    """The records matching ``filters`` (shared read-only), keyed by dataset version and filters."""
    return apply_filters(load_records(url, dataset_id, version), filters)


@st.cache_resource(show_spinner=False, max_entries=4)
def _choices(url: str, dataset_id: str, version: int) -> urlstate.FilterChoices:
    return urlstate.FilterChoices.from_options(options(load_records(url, dataset_id, version)))


def request_dataset(dataset_id: str) -> None:
    """Switch every page to ``dataset_id`` (with no filters) from the next run on."""
    st.session_state[_PENDING] = dataset_id


def current_user() -> access.User:
    """Who is using the app: the signed-in user (an admin when listed in ``[access] admins``), or
    :data:`analysis.records.access.LOCAL` (anyone, allowed everything) when no sign-in is configured."""
    if not auth_configured():
        return access.LOCAL
    email = st.user.get("email")
    try:
        settings = dict(st.secrets.get("access", {}))
    except (FileNotFoundError, KeyError, AttributeError, ValueError, TypeError):
        settings = {}
    # Datasets are shared by address, so an address the provider has not verified could claim someone else's
    # shares (or a whole domain's). Providers that never send the claim need require_verified_email = false.
    if settings.get("require_verified_email", True) and st.user.get("email_verified") is not True:
        st.error("Your sign-in provider has not confirmed that you own your e-mail address, and datasets are shared "
                 "by e-mail address, so you cannot open them. Ask whoever runs this dashboard: either the provider "
                 "must send a verified address, or ([access] require_verified_email = false) the provider must be "
                 "one that only admits your organisation's own accounts.")
        st.stop()
    try:
        return access.User.signed_in(str(email or ""), settings.get("admins", []))
    except ValueError:
        st.error("Your sign-in did not give an e-mail address, and datasets are shared by e-mail address. Ask "
                 "whoever runs this dashboard to request the 'email' scope from the sign-in provider.")
        st.stop()
        raise  # pragma: no cover - st.stop() ends the run


def get_access(url: str) -> access.Access:
    """The current user's :class:`~analysis.records.access.Access` to the store at ``url``."""
    return access.Access(get_store(url), current_user())


def auth_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section: then sign-in is required."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, ValueError):
        return False


def _require_sign_in() -> None:
    """With ``[auth]`` configured, show nothing but a sign-in button until the user is signed in."""
    if not auth_configured():
        return
    if not st.user.get("is_logged_in", False):
        st.title(APP_NAME)
        st.info("Sign in to see the clinic's records.")
        st.button("Sign in", key="auth_sign_in", on_click=st.login, type="primary")
        st.stop()
    who = st.user.get("email") or st.user.get("name") or ""
    if who:   # plain text: the name comes from the sign-in provider
        st.sidebar.text(f"Signed in as {who}", width="stretch")
    st.sidebar.button("Sign out", key="auth_sign_out", on_click=st.logout)


def setup_page(title: str, icon: str = "🔬", *, without_dataset: bool = False) -> View:
    """Configure the page, read the view from the URL or the session, draw the filters, return the selection.

    A signed-in user who sees no dataset yet is told so and the page stops, except with ``without_dataset``
    (the Data page), which then gets a view with no dataset, so that the user can import one.
    """
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=icon, layout="wide")
    _require_sign_in()
    url = configured_url()
    try:
        store = get_store(url)
        user_access = get_access(url)
        datasets = user_access.datasets()
        if not datasets and not store.datasets():  # all deleted (e.g. from the command line): the sample again
            store.ensure_sample()
            datasets = user_access.datasets()
    except StoreError as exc:
        st.error("The database cannot be used right now.")
        st.text(str(exc))
        st.stop()
    if not datasets:
        if without_dataset:
            _navigation()
            sidebar_glossary()
            st.title(title)
            st.info("You have no dataset yet. Import your clinic's records below: the dataset is yours, and you can "
                    "share it with colleagues. Or ask a colleague who has one to share it with you.")
            return View.without_dataset(url, user_access)
        st.info("No dataset has been shared with you yet. Import your clinic's records on the Data page, ask a "
                "colleague who has one to share it with you (on the Data page), or ask an admin.")
        _navigation()
        st.stop()
    by_id = {d.id: d for d in datasets}
    ss = st.session_state
    notes: list[str] = []
    first_run = _STATE not in ss
    if first_run:
        dataset_id, notes = urlstate.parse_dataset(st.query_params.to_dict() | _lists(), list(by_id))
        # A link's filters were made for its dataset: with that dataset not found, none are applied.
        ss[_STATE] = {"dataset": dataset_id or datasets[0].id, "filters": Filters() if notes else None}
    if ss.get(_PENDING) in by_id:
        ss[_STATE] = {"dataset": ss.pop(_PENDING), "filters": Filters()}
        ss[_PAGE] = None
    state = ss[_STATE]
    if state["dataset"] not in by_id:  # deleted meanwhile, perhaps by another manager
        notes.append("The dataset you were looking at is no longer available. Showing the newest dataset.")
        state.update(dataset=datasets[0].id, filters=Filters())
        ss[_PAGE] = None
    dataset = by_id[state["dataset"]]
    try:
        records = load_records(url, dataset.id, dataset.version)
    except DatasetNotFound:
        st.warning("This dataset was deleted a moment ago. Reload the page to see the remaining datasets.")
        st.stop()
    choices = _choices(url, dataset.id, dataset.version)
    if state["filters"] is None:
        state["filters"], more = urlstate.parse_filters(_lists(), choices)
        notes.extend(more)
    page = _calling_page()
    if ss.get(_PAGE) != page:
        ss[_PAGE] = page
        _seed_widgets(dataset.id, state["filters"], choices)
    ss[_NOTES] = notes
    filters = _sidebar(by_id, choices)
    if ss[KEY_DATASET] != dataset.id:  # the user picked another dataset: start it unfiltered
        request_dataset(ss[KEY_DATASET])
        st.rerun()
    state["filters"] = filters
    st.query_params.from_dict(urlstate.to_params(dataset.id, filters))
    for note in notes:
        st.warning(note, icon="⚠️")
    selection = select(url, dataset.id, dataset.version, filters)
    st.title(title)
    st.text(f"Dataset: {dataset.name} · Selection: {filters.describe()} · {len(selection.outcomes):,} treatments")
    return View(dataset, records, selection, filters, choices, url, user_access)


def _calling_page() -> str:
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__file__", "?"))


def _lists() -> dict[str, list[str]]:
    """Every query parameter with all its values (repeated keys are lists)."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def _seed_widgets(dataset_id: str, filters: Filters, choices: urlstate.FilterChoices) -> None:
    ss = st.session_state
    ss[KEY_DATASET] = dataset_id
    start = filters.date_from or choices.first_date
    end = filters.date_to or choices.last_date
    ss[KEY_DATES] = (start, end) if start and end else ()
    ss[KEY_CLINICS] = list(filters.clinics)
    ss[KEY_DEVICES] = list(filters.devices)
    ss[KEY_AREAS] = list(filters.areas)
    ss[KEY_FITZ] = [FITZPATRICK_ROMAN[t] for t in filters.fitzpatrick_types]


def _navigation() -> None:
    """Links to every page. When a page file runs as its own entry script (as AppTest does when it
    opens a page directly) the other pages are unknown to Streamlit, so the links are left out."""
    with st.sidebar:
        for path, label, icon in PAGES:
            if not (ROOT / path).exists():
                continue
            try:
                st.page_link(path, label=label, icon=icon)
            except StreamlitPageNotFoundError:
                return
        st.divider()


def _sidebar(by_id: dict[str, DatasetInfo], choices: urlstate.FilterChoices) -> Filters:
    _navigation()
    sb = st.sidebar
    sb.selectbox("Dataset", list(by_id), format_func=lambda i: by_id[i].name, key=KEY_DATASET,
                 persist_state="session", help="Import more on the Data page.")
    sb.markdown("**Filters**")
    dates = ()
    if choices.first_date and choices.last_date:
        dates = sb.date_input("Treatment dates", min_value=choices.first_date, max_value=choices.last_date,
                              key=KEY_DATES, persist_state="session", format="YYYY-MM-DD")
    types = [FITZPATRICK_ROMAN[t] for t in choices.fitzpatrick_types]
    picked = {}
    for key, label, offered, everything in ((KEY_CLINICS, "Clinic", choices.clinics, "All clinics"),
                                            (KEY_DEVICES, "Device", choices.devices, "All devices"),
                                            (KEY_AREAS, "Treatment area", choices.areas, "All areas"),
                                            (KEY_FITZ, "Fitzpatrick skin type", types, "All types")):
        chosen = sb.multiselect(label, offered, key=key, persist_state="session", placeholder=everything,
                                on_change=_all_means_no_filter, args=(key, tuple(offered)))
        picked[key] = all_or_chosen(chosen, offered)
    start, end = _range(dates, choices)
    sidebar_glossary()   # below the filters, which stay at the top of the sidebar
    inverse = {v: k for k, v in FITZPATRICK_ROMAN.items()}
    return Filters(date_from=start, date_to=end, clinics=picked[KEY_CLINICS], devices=picked[KEY_DEVICES],
                   areas=picked[KEY_AREAS], fitzpatrick_types=tuple(sorted(inverse[f] for f in picked[KEY_FITZ])))


def all_or_chosen(chosen: list[str], offered: Sequence[str]) -> tuple[str, ...]:
    """The values a filter keeps: none (no filter) when every value offered is chosen, so that a share link
    means "all clinics" and still covers a clinic added next month, not a list of today's clinics."""
    return () if offered and set(offered) <= set(chosen) else tuple(chosen)


def _all_means_no_filter(key: str, offered: tuple[str, ...]) -> None:
    """Choosing every value clears the filter, which then reads 'All ...'."""
    if offered and set(offered) <= set(st.session_state.get(key) or ()):
        st.session_state[key] = []


def _range(dates: tuple, choices: urlstate.FilterChoices) -> tuple[date | None, date | None]:
    """A (start, end) from the date widget; a half-picked range (one date) means from that date on."""
    picked = tuple(dates or ())
    start = picked[0] if len(picked) >= 1 else None
    end = picked[1] if len(picked) >= 2 else None
    if start and choices.first_date and start <= choices.first_date:
        start = None
    if end and choices.last_date and end >= choices.last_date:
        end = None
    return start, end


def share_link(view: View) -> str:
    """The address that reopens this view: page URL plus dataset id and filters."""
    query = urlencode(urlstate.to_params(view.dataset.id, view.filters), doseq=True)
    base = st.context.url or ""
    return f"{base}?{query}" if query else base
