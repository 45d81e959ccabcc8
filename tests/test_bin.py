"""Deletes that can be undone (analysis.records.bin) and the audit trail (analysis.records.audit), on SQLite
and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from analysis.cli import main
from analysis.records import audit, bin
from analysis.records.access import COMMAND_LINE, Access, User
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import DatasetNotFound

HEADER = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,PIH,patient_id\n"
JANUARY = HEADER + "T1,2024-01-02,ablative,2,5,no,P-SECRET-1\nT2,2024-01-03,ablative,3,4,yes,P-SECRET-2\n"
FEBRUARY = HEADER + "T3,2024-02-01,non-ablative,5,1,yes,P-SECRET-3\n"
ANN = User.signed_in("ann@northgate.example")
BOB = User.signed_in("bob@southside.example")


def imported(text: str, name: str = "export.csv"):
    return import_files(SourceFile(name, text.encode()))


@pytest.fixture
def northgate(store) -> str:
    return Access(store, ANN).import_dataset(imported(JANUARY, "jan.csv"), "Northgate").id


def test_a_deleted_dataset_leaves_every_view_at_once_and_comes_back_whole(store, northgate):
    before = store.load(northgate)
    Access(store, ANN).delete(northgate)
    assert store.get(northgate) is None and northgate not in [d.id for d in store.datasets()]
    with pytest.raises(DatasetNotFound):
        store.load(northgate)
    with pytest.raises(DatasetNotFound):
        Access(store, ANN).rename(northgate, "x")
    [binned] = Access(store, ANN).deleted()
    assert binned.info.name == "Northgate" and binned.deleted_by == "ann@northgate.example"
    assert binned.purge_after - binned.deleted_at == timedelta(days=30)
    info = Access(store, ANN).restore(northgate)
    assert info.id == northgate and info.version == 1
    assert store.load(northgate).outcomes.equals(before.outcomes)
    with pytest.raises(DatasetNotFound):                              # not in the bin any more
        Access(store, ANN).restore(northgate)


def test_a_file_in_a_deleted_dataset_may_be_imported_again(store, northgate):
    bin.move_to_bin(store, northgate)
    again = store.import_dataset(imported(JANUARY, "jan.csv"), "Northgate again")
    assert again.id != northgate


def test_only_what_has_been_in_the_bin_long_enough_is_purged(store, northgate):
    other = Access(store, ANN).import_dataset(imported(FEBRUARY, "feb.csv"), "Southside").id
    bin.move_to_bin(store, northgate, user="ann@northgate.example")
    bin.move_to_bin(store, other, user="ann@northgate.example")
    now = datetime.now(timezone.utc)
    assert bin.purge_expired(store, now=now + timedelta(days=29)) == []
    assert sorted(bin.purge_expired(store, now=now + timedelta(days=31))) == sorted([northgate, other])
    assert bin.deleted(store) == []
    with pytest.raises(DatasetNotFound):
        bin.restore(store, northgate)
    assert [e.action for e in audit.trail(store, northgate)] == ["purge", "delete", "import"]


def test_with_no_bin_a_delete_purges_at_once(store, northgate, monkeypatch):
    monkeypatch.setenv("LASERDASH_BIN_DAYS", "0")
    Access(store, ANN).delete(northgate)
    assert bin.deleted(store) == []
    assert audit.trail(store, northgate)[0].action == "purge"


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bin_period_that_is_not_a_number_of_days_is_refused(value, monkeypatch):
    from analysis.records.store import StoreError

    monkeypatch.setenv("LASERDASH_BIN_DAYS", value)
    with pytest.raises(StoreError, match="LASERDASH_BIN_DAYS must be"):
        bin.bin_days()


def test_every_change_is_on_record_with_who_and_no_patient_identifier(store, northgate):
    ann = Access(store, ANN)
    ann.add_records(northgate, imported(FEBRUARY, "feb.csv"))
    ann.rollback(northgate)
    ann.rename(northgate, "Northgate clinic")
    ann.share(northgate, "bob@southside.example", "editor")
    Access(store, BOB).add_records(northgate, imported(FEBRUARY, "feb.csv"), replace=True)
    ann.unshare(northgate, "bob@southside.example")
    ann.delete(northgate)
    ann.restore(northgate)
    entries = list(reversed(ann.audit_trail(northgate)))
    assert [(e.action, e.user) for e in entries] == [
        ("import", "ann@northgate.example"), ("append", "ann@northgate.example"),
        ("rollback", "ann@northgate.example"), ("rename", "ann@northgate.example"),
        ("share", "ann@northgate.example"), ("replace", "bob@southside.example"),
        ("unshare", "ann@northgate.example"), ("delete", "ann@northgate.example"),
        ("restore", "ann@northgate.example")]
    assert entries[1].details["new"] == 1 and entries[1].details["files"] == ["feb.csv"]
    assert entries[3].details == {"before": "Northgate"} and entries[3].dataset_name == "Northgate clinic"
    assert entries[4].details == {"grantee": "bob@southside.example", "role": "editor"}
    assert "ann@northgate.example added records to 'Northgate" in entries[1].sentence()
    with store.engine.connect() as conn:
        dumped = str(conn.exec_driver_sql("SELECT * FROM audit_trail").all())
    assert "P-SECRET" not in dumped


def test_the_whole_trail_is_for_admins_and_a_dataset_trail_for_those_who_see_it(store, northgate):
    from analysis.records.access import AccessDenied

    with pytest.raises(AccessDenied):
        Access(store, ANN).audit_trail()
    assert [e.action for e in Access(store, COMMAND_LINE).audit_trail()] == ["import"]
    with pytest.raises(DatasetNotFound):
        Access(store, BOB).audit_trail(northgate)


def test_command_line_delete_restore_list_and_audit(store, northgate, capsys):
    db = ["--db", store.url]
    assert main(["delete", northgate, *db]) == 0
    assert "restore" in capsys.readouterr().out
    assert main(["datasets", *db]) == 0
    assert northgate not in capsys.readouterr().out
    assert main(["datasets", "--deleted", *db]) == 0
    out = capsys.readouterr().out
    assert northgate in out and "Northgate" in out and "purged after" in out
    assert main(["restore", northgate, *db]) == 0
    assert main(["datasets", *db]) == 0
    assert northgate in capsys.readouterr().out
    assert main(["audit", northgate, *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "restored 'Northgate'" in lines[0] and "deleted 'Northgate'" in lines[1]
    assert main(["restore", northgate, *db]) == 1
    assert "not in the bin" in capsys.readouterr().err


def test_with_every_dataset_deleted_the_sample_comes_back(store):
    sample = store.ensure_sample()
    bin.move_to_bin(store, sample.id)
    again = store.ensure_sample()
    assert again is not None and again.id != sample.id
    assert store.sample_id() == again.id
    bin.restore(store, sample.id)                       # the old copy can still be restored beside it
    assert {d.id for d in store.datasets()} == {sample.id, again.id}


def test_command_line_appends_are_on_record(store, northgate, tmp_path, capsys):
    (tmp_path / "feb.csv").write_text(FEBRUARY)
    assert main(["import", str(tmp_path / "feb.csv"), "--into", northgate, "--db", store.url]) == 0
    entry = audit.trail(store, northgate)[0]
    assert (entry.action, entry.user, entry.details["new"]) == ("append", "command line", 1)
    assert versions_user(store, northgate) == "command line"


def versions_user(store, dataset_id):
    from analysis.records import versions

    return versions.history(store, dataset_id)[-1].user
