"""Streamlit AppTest: the Overview opens on the bundled sample with no set-up."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analysis.records.store import Store, new_dataset_id

from testpaths import ROOT


@pytest.fixture
def app_db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("LASERDASH_DB_URL", url)
    return url


def run_page(path: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_opens_on_the_sample_dataset(app_db):
    at = run_page("dashboard.py")
    assert not at.exception
    values = metric_values(at)
    sample = Store(app_db).datasets()[0]
    assert values["Treatments"] == f"{sample.treatments:,}"
    assert values["Clinics"] == "3"
    assert at.query_params["dataset"] == sample.id


def test_unknown_dataset_in_link_shows_notice_and_falls_back(app_db):
    at = run_page("dashboard.py", {"dataset": new_dataset_id()})
    assert not at.exception
    assert any("does not exist here" in w.value for w in at.warning)
    assert "Treatments" in metric_values(at)


def test_an_unknown_dataset_link_does_not_apply_its_filters_to_another_dataset(app_db):
    """Found walking through as a new user: the link's filters were silently applied to the newest dataset."""
    at = run_page("dashboard.py", {"dataset": new_dataset_id(), "fitz": "V", "clinic": "Northgate Laser Centre"})
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "The dataset in this link was not found: it does not exist here (it may have been deleted, or the link is "
        "incomplete). Showing the newest dataset instead, without the link's filters."]
    assert at.sidebar.multiselect(key="f_fitz").value == [] and at.sidebar.multiselect(key="f_clinics").value == []
    assert set(at.query_params) == {"dataset"}
    assert metric_values(at)["Treatments"] == f"{Store(app_db).datasets()[0].treatments:,}"


def test_malformed_dataset_in_link_reveals_nothing(app_db):
    at = run_page("dashboard.py", {"dataset": "<script>alert(1)</script>"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "<script>" not in text


def test_an_emptied_store_opens_on_the_sample_again(app_db):
    run_page("dashboard.py")
    store = Store(app_db)
    for d in store.datasets():  # e.g. deleted from the command line while the app runs
        store.delete(d.id)
    at = run_page("dashboard.py")
    assert not at.exception
    assert metric_values(at)["Treatments"] == f"{Store(app_db).datasets()[0].treatments:,}"


def test_tables_offer_no_unguarded_csv_download():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def test_no_full_garbage_collection_after_every_script_run():
    """Streamlit's post-run gc.collect(2) holds the GIL for 0.1-0.2 CPU-s with this app's modules loaded, so with
    several sessions every run waited for the others' collections (bench/load.py, bench/RESULTS.md)."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "id", "client_secret": "secret",
        "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}


@pytest.mark.parametrize("page", ["dashboard.py", "pages/8_Data.py"])
def test_with_auth_configured_nothing_shows_before_sign_in(app_db, page):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    if page != "dashboard.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart") and not at.sidebar.selectbox
    assert "Sample clinics" not in str(at)


def test_signed_in_users_see_the_dashboard_and_can_sign_out(app_db):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "manager@clinic.example", "email_verified": True}
    at.run()
    assert not at.exception
    assert "Treatments" in metric_values(at)
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_without_auth_no_sign_in_is_asked(app_db):
    at = run_page("dashboard.py")
    assert "Sign in" not in [b.label for b in at.button]


PAGE_FILES = ["dashboard.py", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))]


@pytest.mark.parametrize("page", PAGE_FILES)
def test_each_page_runs_as_its_own_script(app_db, page):
    """A page file run on its own (no dashboard.py before it) sets itself up from the URL."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    at.query_params["dataset"] = Store(app_db).ensure_sample().id if not Store(app_db).datasets() else \
        Store(app_db).datasets()[0].id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.sidebar.multiselect(key="f_fitz") is not None


def test_choosing_every_value_of_a_filter_means_no_filter(app_db):
    """A link made with every clinic chosen says 'all clinics', so it still covers a clinic added next month."""
    at = run_page("dashboard.py")
    clinics = at.sidebar.multiselect(key="f_clinics")
    offered = list(clinics.options)
    clinics.set_value(offered[:1])
    at.run()
    chosen = at.query_params["clinic"]
    assert ([chosen] if isinstance(chosen, str) else list(chosen)) == offered[:1]
    at.sidebar.multiselect(key="f_clinics").set_value(offered)
    at.run()
    assert not at.exception
    assert "clinic" not in at.query_params
    assert at.sidebar.multiselect(key="f_clinics").value == []          # reads "All clinics"
    assert metric_values(at)["Treatments"] == f"{Store(app_db).datasets()[0].treatments:,}"


def test_filters_that_choose_every_value_are_no_filters():
    from ui.setup import all_or_chosen

    assert all_or_chosen(["a", "b"], ["a", "b"]) == ()
    assert all_or_chosen(["b"], ["a", "b"]) == ("b",)
    assert all_or_chosen([], ["a"]) == ()
    assert all_or_chosen([], []) == ()


def test_a_selection_of_one_modality_says_so_instead_of_too_few(app_db):
    """Found walking through as a new user: 'Too few treatments to conclude from: 1133 ablative and 0 non-ablative'."""
    dataset = Store(app_db).ensure_sample() or Store(app_db).datasets()[0]
    at = run_page("pages/2_Downtime.py", {"dataset": dataset.id, "device": "Fractional CO2 10600 nm"})
    assert not at.exception
    shown = [i.value for i in at.info] + [w.value for w in at.warning]
    assert any(t.startswith("This selection holds only ablative treatments (1,133), so there is nothing to compare")
               for t in shown), shown
    assert not any("Too few treatments to conclude from" in t for t in shown)


def test_a_first_open_on_the_sample_says_what_this_is_and_what_to_do(app_db):
    at = run_page("dashboard.py")
    assert not at.exception
    welcome = " ".join(i.value for i in at.info)
    assert "These are sample records" in welcome and "download the template" in welcome
    assert "share a link" in welcome


def test_the_welcome_shrinks_to_one_line_once_there_are_own_records(app_db, corpus):
    from analysis.records.ingest import SourceFile, import_files

    run_page("dashboard.py")                     # the sample is imported on first open
    store = Store(app_db)
    own = store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "Our clinic")
    at = run_page("dashboard.py", {"dataset": own.id})
    assert not any("These are sample records" in i.value for i in at.info)
    assert any("on your clinic's records" in c.value for c in at.caption)
    at = run_page("dashboard.py", {"dataset": store.sample_id()})
    assert any("You are viewing the bundled sample records" in c.value for c in at.caption)
