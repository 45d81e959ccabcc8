"""Storage: datasets land whole or not at all, ids are unguessable, records come back typed."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import sqlalchemy as sa

from analysis.records import store as store_module
from analysis.records import db as tables_module
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import (
    DatasetNotFound,
    DuplicateImport,
    RecordsRefused,
    Store,
    StoreError,
    is_valid_dataset_id,
    new_dataset_id,
)
from analysis.records.db import datasets_table, metadata


def imported(corpus, outcomes: str, *side: str):
    return import_files(SourceFile.from_path(corpus / outcomes), [SourceFile.from_path(corpus / s) for s in side])


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, to compare a store before and after an operation."""
    with store.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                for t in metadata.sorted_tables}


def test_round_trip_gives_back_identical_typed_frames(store, corpus):
    result = imported(corpus, "orphans_outcomes.csv", "side_effect_synonyms.csv")
    info = store.import_dataset(result, "Round trip")
    records = store.load(info.id)
    pd.testing.assert_frame_equal(records.outcomes, result.outcomes)
    pd.testing.assert_frame_equal(records.side_effects, result.side_effects)
    assert (info.treatments, info.side_effects) == (2, 5)
    assert info.rows_rejected == result.report.rows_rejected


def test_dataset_metadata_names_sources_with_sha256(store, corpus):
    result = imported(corpus, "orphans_outcomes.csv", "orphans_side_effects.csv")
    info = store.import_dataset(result, "  Clinic   A  export ")
    assert info.name == "Clinic A export"
    assert [s.file_name for s in info.sources] == ["orphans_outcomes.csv", "orphans_side_effects.csv"] or \
        sorted(s.file_name for s in info.sources) == ["orphans_outcomes.csv", "orphans_side_effects.csv"]
    shas = {s.file_name: s.sha256 for s in info.sources}
    assert shas["orphans_outcomes.csv"] == SourceFile.from_path(corpus / "orphans_outcomes.csv").sha256
    assert info.created_at.tzinfo is not None
    assert info.version == 1


def test_ids_are_random_url_safe_and_128_bits():
    ids = {new_dataset_id() for _ in range(2000)}
    assert len(ids) == 2000
    for i in list(ids)[:50]:
        assert re.fullmatch(r"d[A-Za-z0-9_-]{22}", i)  # 22 base64url characters carry 16 random bytes = 128 bits
        assert is_valid_dataset_id(i)
    assert not any(i.startswith("-") for i in ids)  # a command line would read it as an option
    for bad in ["", "1", "../../etc/passwd", "x" * 23, "' OR 1=1 --aaaaaaaaaaaa", "-" + "a" * 22, None, 42]:
        assert not is_valid_dataset_id(bad)


def test_ids_written_before_the_d_prefix_still_load(store, corpus, monkeypatch):
    """Databases from before the 'd' prefix hold bare 22-character tokens: their datasets must still open."""
    old = "GNLDT0LmnOHxYwdXIAf1PA"
    monkeypatch.setattr("analysis.records.store.new_dataset_id", lambda: old)
    info = store.import_dataset(imported(corpus, "bom_utf8.csv"), "Old")
    assert info.id == old and is_valid_dataset_id(old)
    assert len(store.load(old).outcomes) == info.treatments
    assert store.get(old).name == "Old"


def test_same_file_twice_is_detected(store, corpus):
    first = store.import_dataset(imported(corpus, "bom_utf8.csv"), "First")
    with pytest.raises(DuplicateImport) as info:
        store.import_dataset(imported(corpus, "bom_utf8.csv"), "Second")
    assert "already imported as dataset 'First'" in str(info.value)
    assert info.value.dataset.id == first.id
    again = store.import_dataset(imported(corpus, "bom_utf8.csv"), "Second", allow_duplicate=True)
    assert again.id != first.id
    assert len(store.datasets()) == 2


def test_list_rename_delete(store, corpus):
    a = store.import_dataset(imported(corpus, "bom_utf8.csv"), "A")
    b = store.import_dataset(imported(corpus, "latin1_tab.csv"), "B")
    assert {d.id for d in store.datasets()} == {a.id, b.id}
    renamed = store.rename(a.id, "A renamed")
    assert renamed.name == "A renamed" and renamed.version == a.version
    store.delete(b.id)
    assert [d.id for d in store.datasets()] == [a.id]
    with store.engine.connect() as conn:
        for table in ("outcomes", "side_effects", "dataset_sources", "dataset_blobs"):
            left = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE dataset_id = :i"), {"i": b.id}).scalar()
            assert left == 0, table
    with pytest.raises(DatasetNotFound):
        store.delete(b.id)
    with pytest.raises(DatasetNotFound):
        store.rename(b.id, "x")
    with pytest.raises(ValueError, match="needs a name"):
        store.rename(a.id, "   ")


def test_unknown_or_malformed_id_reveals_nothing(store, corpus):
    real = store.import_dataset(imported(corpus, "bom_utf8.csv"), "Secret clinic")
    for probe in [new_dataset_id(), "not-an-id", "<script>", real.id[:-1]]:
        assert store.get(probe) is None
        with pytest.raises(DatasetNotFound) as info:
            store.load(probe)
        assert "Secret clinic" not in str(info.value) and real.id not in str(info.value)
        assert "<script>" not in str(info.value)


@pytest.mark.parametrize("sql_rows", [False, True], ids=["copies", "copies+rows"])
def test_failed_import_leaves_the_store_exactly_as_it_was(store_url, corpus, monkeypatch, sql_rows):
    store = Store(store_url, sql_rows=sql_rows)
    store.import_dataset(imported(corpus, "bom_utf8.csv"), "Existing")
    before = snapshot(store)
    original_rows, original_copy = tables_module._insert_frame, tables_module._write_blob

    def fail_on_side_effects(conn, table, frame, dataset_id, columns):
        if table.name == "side_effects":
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error (simulated)"))
        return original_rows(conn, table, frame, dataset_id, columns)

    def fail_on_side_effect_copy(conn, dataset_id, version, kind, rows, data):
        if kind == "side_effects":  # the dataset, its sources and the outcomes are written by now
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error (simulated)"))
        return original_copy(conn, dataset_id, version, kind, rows, data)

    if sql_rows:
        monkeypatch.setattr(tables_module, "_insert_frame", fail_on_side_effects)
    else:
        monkeypatch.setattr(tables_module, "_write_blob", fail_on_side_effect_copy)
    with pytest.raises(StoreError, match="simulated"):
        store.import_dataset(imported(corpus, "orphans_outcomes.csv", "orphans_side_effects.csv"), "Doomed")
    assert snapshot(store) == before
    store.engine.dispose()


@pytest.mark.parametrize("sql_rows", [False, True], ids=["copies", "copies+rows"])
@pytest.mark.parametrize("column, value, message", [
    ("fitzpatrick_type", 9, "outcome record 2 has a Fitzpatrick type outside 1-6 (fitzpatrick_type = 9"),
    ("treatment_id", None, "outcome record 2 has no treatment_id"),
    ("treatment_id", "DUP", "outcome record 2 repeats a treatment_id"),
    ("modality", None, "outcome record 2 has a modality other than ablative or non-ablative"),
])
def test_records_breaking_the_schema_are_refused_and_nothing_is_written(store_url, corpus, sql_rows, column,
                                                                        value, message):
    """The import validates every value; the store still refuses what its schema forbids (what the row tables'
    keys and constraints refuse), before writing anything."""
    store = Store(store_url, sql_rows=sql_rows)
    store.import_dataset(imported(corpus, "bom_utf8.csv"), "Existing")
    before = snapshot(store)
    result = imported(corpus, "latin1_tab.csv")
    assert len(result.outcomes) == 2
    # Corrupt the last record after validation (for "DUP", the first one too).
    if value == "DUP":
        result.outcomes.loc[0, column] = value
    result.outcomes.loc[len(result.outcomes) - 1, column] = value
    with pytest.raises(RecordsRefused, match=re.escape(message)):
        store.import_dataset(result, "Half")
    assert snapshot(store) == before
    store.engine.dispose()


def test_version_is_part_of_the_cache_key(store, corpus):
    info = store.import_dataset(imported(corpus, "bom_utf8.csv"), "V")
    assert info.cache_key == (info.id, 1)
    with store.engine.begin() as conn:
        conn.execute(datasets_table.update().where(datasets_table.c.id == info.id).values(version=2))
    assert store.get(info.id).cache_key == (info.id, 2)


def test_column_maps_are_remembered_by_headers(store):
    headers = ["Ref", "When", "Kind", "Tone"]
    assert store.column_map(headers, "outcomes") is None
    store.save_column_map(headers, "outcomes", {"Ref": "treatment_id"})
    assert store.column_map(["tone", "KIND", "when", "ref"], "outcomes") == {"Ref": "treatment_id"}
    store.save_column_map(headers, "outcomes", {"Ref": "patient_id"})
    assert store.column_map(headers, "outcomes") == {"Ref": "patient_id"}


def test_sample_is_imported_only_into_an_empty_store(store):
    sample = store.ensure_sample()
    assert sample is not None and sample.treatments > 4000
    assert store.ensure_sample() is None
    assert len(store.datasets()) == 1
    records = store.load(sample.id)
    assert set(records.outcomes["fitzpatrick_type"]) == {1, 2, 3, 4, 5, 6}
    store.delete(sample.id)
    assert store.ensure_sample() is not None  # an emptied store opens on the sample again


def test_corrupt_database_file_is_reported_not_replaced(tmp_path):
    path = tmp_path / "corrupt.db"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="damaged or is not a database"):
        Store(f"sqlite:///{path}")
    assert path.read_bytes() == garbage


def test_default_url_is_sqlite_in_data_folder(monkeypatch):
    monkeypatch.delenv(store_module.DB_URL_ENV, raising=False)
    assert store_module.database_url().endswith("data/laserdash.db")
    monkeypatch.setenv(store_module.DB_URL_ENV, "postgresql+psycopg://u:secret@localhost/db")
    assert store_module.database_url().startswith("postgresql")
    assert "secret" not in store_module.describe_url(store_module.database_url())


def test_database_errors_on_reads_and_renames_become_store_errors(store, corpus):
    info = store.import_dataset(imported(corpus, "bom_utf8.csv"), "A")
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE dataset_sources"))
    for call in (store.datasets, lambda: store.get(info.id), lambda: store.delete(info.id)):
        with pytest.raises(StoreError, match="refused the operation"):
            call()


def test_the_check_judges_the_values_that_would_be_stored(store, corpus):
    """Ids 1 and "1" are one stored text (refused as a repeat); 1 and 1.0 are two ("1", "1.0"); a type of 4.0 is 4."""
    result = imported(corpus, "latin1_tab.csv")
    result.outcomes["treatment_id"] = pd.Series([1, "1"], dtype=object)
    with pytest.raises(RecordsRefused, match="outcome record 2 repeats a treatment_id"):
        store.import_dataset(result, "same text")
    assert store.datasets() == []
    result = imported(corpus, "latin1_tab.csv")
    result.outcomes["treatment_id"] = pd.Series([1, 1.0], dtype=object)
    result.outcomes["fitzpatrick_type"] = [4.0, 6.0]
    info = store.import_dataset(result, "two texts")
    loaded = store.load(info.id).outcomes
    assert sorted(loaded["treatment_id"]) == ["1", "1.0"]
    assert sorted(loaded["fitzpatrick_type"]) == [4, 6]
