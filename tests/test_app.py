"""Streamlit AppTest: the Overview opens on the bundled sample with no set-up."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analysis.store import Store, new_dataset_id

from conftest import ROOT


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
