"""A dataset that lives: records added every month under the same id, replaced, rolled back, with a history.

Every test runs on SQLite and on PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import threading

import pytest

from analysis.cli import main
from analysis.records import versions
from analysis.records.ingest import ImportOptions, SourceFile, import_files
from analysis.records.store import Store

HEADER = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,PIH\n"
JANUARY = HEADER + "T1,2024-01-02,ablative,2,5,no\nT2,2024-01-03,ablative,3,4,yes\n"
# T1 unchanged, T2 updated (downtime 4 -> 6), T3 new, T4 rejected (type 9)
FEBRUARY = HEADER + ("T1,2024-01-02,ablative,2,5,no\nT2,2024-01-03,ablative,3,6,yes\n"
                     "T3,2024-02-01,non-ablative,5,1,yes\nT4,2024-02-01,non-ablative,9,1,yes\n")


def imported(text: str, name: str = "export.csv", options: ImportOptions | None = None):
    return import_files(SourceFile(name, text.encode()), options=options)


@pytest.fixture
def dataset(store_url) -> tuple[Store, str]:
    store = Store(store_url)
    return store, store.import_dataset(imported(JANUARY, "jan.csv"), "Northgate").id


def rows(store: Store, dataset_id: str) -> dict[str, float]:
    out = store.load(dataset_id).outcomes
    return dict(zip(out["treatment_id"], out["downtime_days"]))


def effects(store: Store, dataset_id: str) -> list[tuple[str, str]]:
    side = store.load(dataset_id).side_effects
    return sorted(zip(side["treatment_id"], side["effect"]))


def test_adding_counts_new_updated_unchanged_and_rejected_rows(dataset):
    store, did = dataset
    change = versions.add_records(store, did, imported(FEBRUARY, "feb.csv"))
    assert (change.new, change.updated, change.unchanged, change.rejected) == (1, 1, 1, 1)
    assert change.sentence() == ("1 new, 1 updated, 1 unchanged and 1 rejected row(s); the dataset now holds 3 "
                                 "treatment(s) and 2 side-effect record(s) (version 2).")
    assert rows(store, did) == {"T1": 5.0, "T2": 6.0, "T3": 1.0}   # the file's row wins
    assert effects(store, did) == [("T2", "hyperpigmentation"), ("T3", "hyperpigmentation")]
    info = store.get(did)
    assert (info.id, info.version, info.treatments, info.side_effects) == (did, 2, 3, 2)


def test_a_full_export_sent_again_adds_only_what_is_new(dataset):
    store, did = dataset
    versions.add_records(store, did, imported(FEBRUARY, "feb.csv"))
    march = FEBRUARY + "T5,2024-03-01,ablative,1,2,no\n"
    change = versions.add_records(store, did, imported(march, "mar.csv"))
    assert (change.new, change.updated, change.unchanged) == (1, 0, 3)
    assert effects(store, did) == [("T2", "hyperpigmentation"), ("T3", "hyperpigmentation")]  # not doubled


def test_side_effects_of_the_file_replace_a_treatments_stored_ones(dataset):
    store, did = dataset
    later = HEADER + "T1,2024-01-02,ablative,2,5,yes\n"          # PIH reported later for T1
    change = versions.add_records(store, did, imported(later, "late.csv"))
    assert (change.new, change.updated, change.unchanged) == (0, 1, 0)
    assert effects(store, did) == [("T1", "hyperpigmentation"), ("T2", "hyperpigmentation")]
    no_side = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days\nT2,2024-01-03,ablative,3,4\n"
    change = versions.add_records(store, did, imported(no_side, "plain.csv"))
    assert (change.updated, change.unchanged) == (0, 1)
    assert effects(store, did) == [("T1", "hyperpigmentation"), ("T2", "hyperpigmentation")]  # left alone


def test_a_file_imported_before_into_the_dataset_is_skipped(dataset):
    store, did = dataset
    change = versions.add_records(store, did, imported(JANUARY, "jan-again.csv"))
    assert change.skipped.startswith("Skipped: jan-again.csv is identical to a file already imported into "
                                     "'Northgate'")
    assert store.get(did).version == 1


def test_replace_swaps_all_records_in_one_version(dataset):
    store, did = dataset
    change = versions.add_records(store, did, imported(HEADER + "R1,2024-05-01,ablative,4,3,no\n", "r.csv"),
                                  replace=True)
    assert change.sentence().startswith("Replaced all records: 1 treatment(s)")
    assert rows(store, did) == {"R1": 3.0}
    assert effects(store, did) == []
    assert store.get(did).version == 2


def test_the_most_recent_import_is_rolled_back_and_recorded(dataset):
    store, did = dataset
    versions.add_records(store, did, imported(FEBRUARY, "feb.csv"))
    change = versions.rollback(store, did)
    assert change.version == 3 and rows(store, did) == {"T1": 5.0, "T2": 4.0}
    assert effects(store, did) == [("T2", "hyperpigmentation")]
    with pytest.raises(ValueError, match="has no import to roll back"):
        versions.rollback(store, did)
    history = versions.history(store, did)
    assert [(v.version, v.action, v.rolled_back) for v in history] == [
        (1, "import", False), (2, "append", True), (3, "rollback", False)]
    assert [f["file"] for f in history[1].files] == ["feb.csv"]
    assert history[1].counts == {"new": 1, "updated": 1, "unchanged": 1, "rejected": 1}
    assert len(history[1].files[0]["sha256"]) == 64
    # the rolled-back file may be added again
    assert versions.add_records(store, did, imported(FEBRUARY, "feb.csv")).skipped is None


def test_two_appends_at_the_same_moment_both_land(dataset):
    store, did = dataset
    files = [imported(HEADER + f"A{i},2024-04-0{i + 1},ablative,2,1,no\n", f"a{i}.csv") for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list = []

    def add(result) -> None:
        barrier.wait()
        try:
            outcomes.append(versions.add_records(Store(store.url), did, result))
        except Exception as exc:  # noqa: BLE001 - the test reports whatever happened
            outcomes.append(exc)

    threads = [threading.Thread(target=add, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(o, versions.Change) for o in outcomes), outcomes
    assert sorted(o.version for o in outcomes) == [2, 3]
    assert set(rows(store, did)) == {"T1", "T2", "A0", "A1"}            # no lost update


def test_a_reader_during_appends_sees_one_version_or_the_next(dataset):
    store, did = dataset
    stop = threading.Event()
    seen: list = []

    def read() -> None:
        reader = Store(store.url)
        while not stop.is_set():
            records = reader.load(did)
            seen.append((len(records.outcomes), set(records.outcomes["treatment_id"])))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for month in range(1, 6):
            text = HEADER + "".join(f"M{month}x{i},2024-0{month}-01,ablative,2,1,no\n" for i in range(200))
            versions.add_records(store, did, imported(text, f"m{month}.csv"))
    finally:
        stop.set()
        thread.join(60)
    assert seen
    for count, ids in seen:   # whole months only: 2 + 200 k treatments
        assert (count - 2) % 200 == 0 and count == len(ids)


def test_clinic_given_on_import_fills_a_file_without_one():
    result = imported(JANUARY, options=ImportOptions(clinic=" Harbourside  Clinic "))
    assert list(result.outcomes["clinic"]) == ["Harbourside Clinic"] * 2
    assert any("set to 'Harbourside Clinic' as asked on import" in n for n in result.report.notes)
    with_column = "treatment_id,treatment_date,modality,fitzpatrick_type,clinic\nT1,2024-01-02,ablative,2,North\n" \
                  "T2,2024-01-03,ablative,2,\n"
    assert list(imported(with_column, options=ImportOptions(clinic="South")).outcomes["clinic"]) == ["North", "South"]


def test_the_command_line_adds_replaces_lists_and_rolls_back(tmp_path, store_url, capsys):
    jan, feb = tmp_path / "jan.csv", tmp_path / "feb.csv"
    jan.write_text(JANUARY)
    feb.write_text(FEBRUARY)
    assert main(["--db", store_url, "import", str(jan), "--name", "Chain", "--clinic", "North"]) == 0
    did = capsys.readouterr().out.splitlines()[0]
    assert main(["import", str(feb), "--into", did, "--db", store_url, "--clinic", "North"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [did, "1 new, 1 updated, 1 unchanged and 1 rejected row(s); the dataset now holds 3 "
                            "treatment(s) and 2 side-effect record(s) (version 2)."]
    assert main(["--db", store_url, "import", str(feb), "--into", did, "--clinic", "North"]) == 0
    assert "Skipped: feb.csv is identical" in capsys.readouterr().out
    assert main(["--db", store_url, "history", did]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("version 1: import, ") and "jan.csv (SHA-256 " in listed[0]
    assert listed[1].startswith("version 2: append, ") and "1 new, 1 updated, 1 unchanged, 1 rejected" in listed[1]
    assert main(["--db", store_url, "rollback", did]) == 0
    assert "Rolled back the most recent import" in capsys.readouterr().out
    assert main(["--db", store_url, "import", str(jan), "--into", did, "--replace", "--clinic", "South"]) == 0
    assert Store(store_url).get(did).treatments == 2
    assert main(["--db", store_url, "import", str(jan)]) == 1
    assert "Give either --name (a new dataset) or --into DATASET_ID" in capsys.readouterr().err
    assert main(["--db", store_url, "import", str(jan), "--into", "d" + "A" * 22]) == 1
    assert "No dataset with id" in capsys.readouterr().err
    assert set(Store(store_url).load(did).outcomes["clinic"]) == {"South"}


def test_resending_a_whole_export_with_side_effects_is_quick_and_changes_nothing(dataset):
    """A nightly full export re-sent: thousands of unchanged treatments with side effects are compared in one pass
    (it scanned every side effect once per treatment)."""
    store, did = dataset
    rows = "".join(f"N{i},2024-03-01,ablative,2,3,{'yes' if i % 3 else 'no'}\n" for i in range(6000))
    versions.add_records(store, did, imported(HEADER + rows, "night1.csv"))
    again = HEADER + rows + "N6000,2024-03-02,ablative,2,3,no\n"        # one new treatment, all else the same
    change = versions.add_records(store, did, imported(again, "night2.csv"))
    assert (change.new, change.updated, change.unchanged) == (1, 0, 6000)


def test_after_a_replace_an_earlier_file_can_be_added_again(dataset):
    store, did = dataset
    versions.add_records(store, did, imported(HEADER + "R1,2024-05-01,ablative,4,3,no\n", "r.csv"), replace=True)
    change = versions.add_records(store, did, imported(JANUARY, "jan.csv"))   # its records were replaced away
    assert change.skipped is None and change.new == 2
