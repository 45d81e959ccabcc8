"""Who sees what, in the app (AppTest with ``[auth]`` configured and a signed-in user): the selector, the Data
page, share links, and the Data page's controls follow each user's role. The rules themselves are tested in
tests/test_access.py; the real sign-in flow in tests/browser/test_signin.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis.present.urlstate import DATASET_NOT_FOUND
from analysis.records.access import Access, User
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import Store, new_dataset_id
from apphelpers import app_database

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "id", "client_secret": "secret",
        "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
CSV = ("treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,PIH\n"
       + "".join(f"N{i},2024-01-{i % 27 + 1:02d},{'ablative' if i % 2 else 'non-ablative'},{i % 6 + 1},{i % 9},"
                 f"{'yes' if i % 7 == 0 else 'no'}\n" for i in range(40)))


@pytest.fixture
def app_db(tmp_path_factory, tmp_path, monkeypatch) -> str:
    return app_database(tmp_path_factory, tmp_path, monkeypatch)


@pytest.fixture
def northgate(app_db) -> str:
    """A dataset owned by Ann at Northgate (the database also holds the sample)."""
    store = Store(app_db)
    try:
        result = import_files(SourceFile("northgate.csv", CSV.encode()))
        return Access(store, User.signed_in("ann@northgate.example")).import_dataset(result, "Harbourview").id
    finally:
        store.engine.dispose()


def signed_in(email: str, page: str = "dashboard.py", query: dict | None = None, admins=(), verified=True,
              access: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["access"] = {"admins": list(admins), **(access or {})}
    at.user = {"is_logged_in": True, "email": email, **({"email_verified": verified} if verified is not None else {})}
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page != "dashboard.py":
        at.switch_page(page)
    return at.run()


def dataset_choices(at: AppTest) -> list[str]:
    box = next(s for s in at.sidebar.selectbox if s.key == "f_dataset")
    return list(box.options)   # (as shown: the datasets' names)


def texts(at: AppTest) -> str:
    return str(at)


def test_another_clinic_sees_neither_the_dataset_nor_its_name(app_db, northgate):
    at = signed_in("bob@southside.example")
    assert not at.exception
    assert "Harbourview" not in texts(at)
    assert dataset_choices(at) == ["Sample clinics (synthetic)"]
    data = signed_in("bob@southside.example", "pages/8_Data.py")
    assert not data.exception
    assert "Harbourview" not in texts(data) and northgate not in texts(data)
    assert all("Harbourview" not in str(df.value) for df in data.dataframe)


def test_a_share_link_to_a_dataset_one_may_not_see_reads_like_one_to_no_dataset(app_db, northgate):
    hidden = signed_in("bob@southside.example", query={"dataset": northgate, "clinic": "X"})
    unknown = signed_in("bob@southside.example", query={"dataset": new_dataset_id(), "clinic": "X"})
    assert [w.value for w in hidden.warning] == [w.value for w in unknown.warning]
    assert DATASET_NOT_FOUND in [w.value for w in hidden.warning]
    assert "Harbourview" not in texts(hidden)
    assert texts(hidden).count("treatments") == texts(unknown).count("treatments")


def test_the_owner_sees_it_and_its_sharing_a_viewer_sees_it_without_controls(app_db, northgate):
    owner = signed_in("ann@northgate.example", "pages/8_Data.py", query={"dataset": northgate})
    assert not owner.exception
    assert "Harbourview" in dataset_choices(owner)
    assert any(t.key == "data_share_who" for t in owner.text_input)
    owner.text_input(key="data_share_who").input("bob@southside.example")
    owner.button(key="data_share_go").click().run()
    assert not owner.exception
    assert any("Shared with bob@southside.example as viewer" in t.value for t in owner.text)

    viewer = signed_in("bob@southside.example", "pages/8_Data.py", query={"dataset": northgate})
    assert not viewer.exception
    assert "Harbourview" in dataset_choices(viewer)
    keys = {w.key for w in [*viewer.selectbox, *viewer.text_input, *viewer.button, *viewer.checkbox]}
    for control in ("data_rename_pick", "data_delete_pick", "data_share_who", "data_rollback_go"):
        assert control not in keys, control
    assert any("it takes an editor" in c.value for c in viewer.caption)


def test_an_admin_sees_every_dataset(app_db, northgate):
    at = signed_in("IT@chain.example", admins=["it@chain.example"])
    assert "Harbourview" in dataset_choices(at)


def test_without_sign_in_the_data_page_says_anyone_can_change_everything(app_db, northgate):
    at = AppTest.from_file(str(ROOT / "pages" / "8_Data.py"), default_timeout=120)
    at.query_params["dataset"] = northgate
    at.run()
    assert not at.exception
    assert any("anyone who can reach this app can see, change and delete every dataset" in c.value
               for c in at.caption)


def test_the_app_reads_and_changes_datasets_only_through_access():
    """Enforced where the data is read: the Streamlit layer never calls the store's dataset methods itself."""
    forbidden = ("versions.add_records", "versions.rollback", "versions.history", ".import_dataset(", "store.load(",
                 "store.rename(", "store.delete(", "store.get(")
    for path in [*(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "dashboard.py"]:
        text = path.read_text(encoding="utf-8")
        for call in forbidden:
            if call == ".import_dataset(":
                text_ = text.replace("user_access.import_dataset(", "")
            else:
                text_ = text
            assert call not in text_, f"{path.name} calls {call} (go through view.access)"
        if path.name != "setup.py":   # (its load_records is called only with datasets Access listed)
            assert ".load(" not in text and "load_records(" not in text, path.name


@pytest.mark.parametrize("verified", [False, None])
def test_an_address_the_provider_has_not_verified_opens_nothing(app_db, northgate, verified):
    """A provider that lets anyone claim @northgate.example must not hand out Northgate's shares."""
    Store(app_db)  # (the database exists)
    from analysis.records.access import Access as A

    store = Store(app_db)
    A(store, User.signed_in("ann@northgate.example")).share(northgate, "@northgate.example")
    store.engine.dispose()
    at = signed_in("mallory@northgate.example", verified=verified)
    assert not at.exception
    assert any("has not confirmed that you own your e-mail address" in e.value for e in at.error)
    assert "Harbourview" not in texts(at) and not at.sidebar.selectbox
    trusted = signed_in("mallory@northgate.example", verified=None, access={"require_verified_email": False})
    assert "Harbourview" in dataset_choices(trusted)       # the configured choice for such providers


def test_the_welcome_is_only_for_the_sample(app_db, northgate):
    """With the sample deleted and one dataset of one's own, the welcome does not call it sample records."""
    from analysis.records import bin

    store = Store(app_db)
    bin.move_to_bin(store, store.sample_id())
    store.engine.dispose()
    at = signed_in("ann@northgate.example")
    assert not at.exception
    assert not any("These are sample records" in i.value for i in at.info)


def test_remembered_column_choices_are_per_manager(monkeypatch):
    import ui.upload as upload

    monkeypatch.setattr(upload, "current_user", lambda: User.signed_in("ann@northgate.example"))
    ann = upload.remembered_headers(["Datum", "Typ"])
    monkeypatch.setattr(upload, "current_user", lambda: User.signed_in("bob@southside.example"))
    bob = upload.remembered_headers(["Datum", "Typ"])
    from analysis.records.store import headers_key

    assert headers_key(ann) != headers_key(bob)
    from analysis.records.access import LOCAL

    monkeypatch.setattr(upload, "current_user", lambda: LOCAL)
    assert upload.remembered_headers(["Datum", "Typ"]) == ["Datum", "Typ"]   # without sign-in: as before


def test_a_manager_with_no_dataset_yet_imports_the_first_on_the_data_page(app_db, northgate):
    """Nothing shared and the sample in the bin: the other pages point to the Data page, which still offers the
    import (not a dead end), and the imported dataset is the manager's own."""
    from analysis.records import bin

    store = Store(app_db)
    bin.move_to_bin(store, store.sample_id())
    store.engine.dispose()
    overview = signed_in("bob@southside.example")
    assert not overview.exception
    assert any("Import your clinic's records on the Data page" in i.value for i in overview.info)
    assert "Harbourview" not in texts(overview)

    data = signed_in("bob@southside.example", "pages/8_Data.py")
    assert not data.exception
    assert any("You have no dataset yet" in i.value for i in data.info)
    assert "Harbourview" not in texts(data) and northgate not in texts(data)
    assert not [d for d in data.sidebar.get("download_button")]   # nothing to share or download yet
    data.file_uploader(key="upload_files").set_value([("southside.csv", CSV.encode(), "text/csv")])
    data.run()
    assert not data.exception
    data.text_input(key="upload_name").input("Southside")
    data.button(key="upload_import").click().run()
    assert not data.exception, data.exception
    assert "Southside" in dataset_choices(data)
    store = Store(app_db)
    try:
        mine = Access(store, User.signed_in("bob@southside.example")).datasets()
        assert [d.name for d in mine] == ["Southside"]
        assert [d.name for d in Access(store, User.signed_in("ann@northgate.example")).datasets()] == ["Harbourview"]
    finally:
        store.engine.dispose()
