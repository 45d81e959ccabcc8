"""Columnar copies: ``Store.load`` reads a dataset's Parquet copy, which must give exactly the frames its rows give.

Datasets stored by older versions (or with ``sql_rows``) have rows: one without a (valid) copy loads from its
rows, and the copy follows imports, deletes and versions. So the ``store`` here writes rows as well as copies
(``sql_rows=True``); the default store, which writes copies only, is checked against it at the end. Runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pandas as pd
import pytest
import sqlalchemy as sa

from analysis.records import schema
from analysis.records.filters import distinct_patients, hashed_positions, patient_keys, prepare
from analysis.records import store as store_module
from analysis.records import db as tables_module
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import (
    SAMPLE_OUTCOMES,
    SAMPLE_SIDE_EFFECTS,
    Store,
    StoreError,
)
from analysis.records.db import (
    blobs_table,
    datasets_table,
    metadata,
    outcomes_table,
    side_effects_table,
)

CORPUS_OUTCOMES = ["bad_dates.csv", "bad_numbers.csv", "bom_utf8.csv", "combined_flags.csv", "duplicate_ids.csv",
                   "formula_injection.csv", "latin1_tab.csv", "mixed_fitzpatrick.csv", "month_first_dates.csv",
                   "orphans_outcomes.csv", "pii_columns.csv", "pii_in_patient_id.csv", "ragged.csv",
                   "semicolon_decimal_comma.csv", "utf16_excel_unicode.txt"]


@pytest.fixture
def store(store_url) -> Store:
    """A store that writes every record as a row too (``LASERDASH_SQL_ROWS=1``), as older versions did."""
    s = Store(store_url, sql_rows=True)
    yield s
    s.engine.dispose()


def rows_as_before(store: Store, dataset_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames ``Store.load`` gave before the columnar copies existed (its code, verbatim)."""
    with store.engine.connect() as conn:
        out = pd.read_sql(sa.select(*[outcomes_table.c[n] for n in schema.OUTCOME_NAMES])
                          .where(outcomes_table.c.dataset_id == dataset_id)
                          .order_by(outcomes_table.c.treatment_date, outcomes_table.c.treatment_id), conn)
        side = pd.read_sql(sa.select(side_effects_table.c.treatment_id, side_effects_table.c.effect,
                                     side_effects_table.c.effect_detail, side_effects_table.c.severity,
                                     side_effects_table.c.onset_day, side_effects_table.c.resolved_day)
                           .where(side_effects_table.c.dataset_id == dataset_id)
                           .order_by(side_effects_table.c.id), conn)
    return schema.coerce_outcomes(out), schema.coerce_side_effects(side)


def assert_identical(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal frames, and stricter than ``assert_frame_equal`` where it is lenient: a RangeIndex on both,
    None (not NaN) for missing text and only ``str`` values in text columns."""
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    assert isinstance(left.index, pd.RangeIndex) and isinstance(right.index, pd.RangeIndex)
    for name in left.columns:
        if pd.api.types.is_object_dtype(left[name].dtype):
            for frame in (left, right):
                assert all(v is None or type(v) is str for v in frame[name]), name
            assert [v is None for v in left[name]] == [v is None for v in right[name]], name


def blob_count(store: Store, dataset_id: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(blobs_table)
                            .where(blobs_table.c.dataset_id == dataset_id)).scalar_one()


def load_from_copy_only(store: Store, dataset_id: str, monkeypatch) -> store_module.Records:
    """``store.load`` with the row path disabled: proves the frames came from the copy."""
    with monkeypatch.context() as patch:
        patch.setattr(Store, "_load_rows", lambda *a, **k: pytest.fail("loaded the rows, not the copy"))
        return store.load(dataset_id)


def check_copy_matches_rows(store: Store, dataset_id: str, monkeypatch) -> None:
    copied = load_from_copy_only(store, dataset_id, monkeypatch)
    out, side = rows_as_before(store, dataset_id)
    assert_identical(copied.outcomes, out)
    assert_identical(copied.side_effects, side)
    check_side_positions(copied)


def check_side_positions(records: store_module.Records) -> None:
    """The side-effect positions the load matched on the copy's Arrow ids are the hash join's, and prepare()
    given them gives what it gives from the frames alone."""
    ids = records.outcomes["treatment_id"].to_numpy(dtype=object)
    side_ids = records.side_effects["treatment_id"].to_numpy(dtype=object)
    if records.side_pos is not None:
        assert records.side_pos.dtype == np.int64
        assert np.array_equal(records.side_pos, hashed_positions(ids, side_ids))
    given, alone = prepare(records), prepare(store_module.Records(records.outcomes, records.side_effects,
                                                                  records.side_effects_recorded))
    if records.patient_keys is not None:  # the keys of the copy's Arrow ids are those of the frame's ids
        assert np.array_equal(records.patient_keys, patient_keys(records.outcomes["patient_id"].to_numpy(dtype=object)))
    assert distinct_patients(given) == distinct_patients(alone) == (
        int(records.outcomes["patient_id"].nunique()) if records.outcomes["patient_id"].notna().any() else None)
    pd.testing.assert_frame_equal(given.outcomes, alone.outcomes)
    assert (given.flags is None) == (alone.flags is None)
    if given.flags is not None:
        pd.testing.assert_frame_equal(given.flags, alone.flags)
        assert np.array_equal(given.side_pos, alone.side_pos)


def test_sample_loads_from_its_copy_exactly_as_from_its_rows(store, monkeypatch):
    info = store.ensure_sample()
    assert blob_count(store, info.id) == 2
    check_copy_matches_rows(store, info.id, monkeypatch)
    assert load_from_copy_only(store, info.id, monkeypatch).side_pos is not None  # matched while loading


@pytest.mark.parametrize("name", CORPUS_OUTCOMES)
def test_corpus_files_load_from_their_copy_exactly_as_from_their_rows(store, corpus, monkeypatch, name):
    info = store.import_dataset(import_files(SourceFile.from_path(corpus / name)), name)
    check_copy_matches_rows(store, info.id, monkeypatch)


def test_side_effect_files_and_no_side_effects_round_trip(store, corpus, monkeypatch):
    with_side = import_files(SourceFile.from_path(corpus / "orphans_outcomes.csv"),
                             [SourceFile.from_path(corpus / "side_effect_synonyms.csv"),
                              SourceFile.from_path(corpus / "orphans_side_effects.csv")])
    info = store.import_dataset(with_side, "with side effects")
    check_copy_matches_rows(store, info.id, monkeypatch)
    records = store.load(info.id)
    pd.testing.assert_frame_equal(records.outcomes, with_side.outcomes)
    pd.testing.assert_frame_equal(records.side_effects, with_side.side_effects)
    without = store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "none")
    records = load_from_copy_only(store, without.id, monkeypatch)
    assert len(records.side_effects) == 0
    check_copy_matches_rows(store, without.id, monkeypatch)


def test_unsorted_import_comes_back_in_load_order(store, monkeypatch):
    result = import_files(SourceFile.from_path(SAMPLE_OUTCOMES), SourceFile.from_path(SAMPLE_SIDE_EFFECTS))
    shuffled = result.outcomes.sample(frac=1.0, random_state=3).reset_index(drop=True)
    # Ids that differ only in case or punctuation, on one date: code-point order, whatever the server locale.
    day = shuffled.loc[0, "treatment_date"]
    odd = ["b-1", "B2", "a10", "a9", "_z", "Z", "é1", "e2"]
    replaced = shuffled.loc[:len(odd) - 1, "treatment_id"].tolist()
    shuffled.loc[:len(odd) - 1, "treatment_id"] = odd
    shuffled.loc[:len(odd) - 1, "treatment_date"] = day
    side = result.side_effects[~result.side_effects["treatment_id"].isin(replaced)]
    result = type(result)(shuffled, side.reset_index(drop=True), result.report, result.sources)
    info = store.import_dataset(result, "shuffled")
    check_copy_matches_rows(store, info.id, monkeypatch)
    loaded = store.load(info.id).outcomes
    expected = shuffled.sort_values(["treatment_date", "treatment_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, expected)
    assert [i for i in loaded["treatment_id"] if i in odd] == sorted(odd) == ["B2", "Z", "_z", "a10", "a9", "b-1",
                                                                           "e2", "é1"]


def test_awkward_values_survive_the_driver_and_the_copy(store, corpus, monkeypatch):
    """Tabs, newlines, backslashes, COPY's NULL marker and non-ASCII text; missing values of every type."""
    result = import_files(SourceFile.from_path(corpus / "mixed_fitzpatrick.csv"))
    out = result.outcomes
    texts = ["tab\there", "line\nbreak", "back\\slash", "\\N", "ünïcödé 😀", "  spaced  ", ""]
    out["clinic"] = pd.Series((texts * 3)[:len(out)], dtype=object)
    out["device"] = pd.Series([None] * len(out), dtype=object)
    out["patient_id"] = pd.Series([None, "P1"] * (len(out) // 2) + [None] * (len(out) % 2), dtype=object)
    out["downtime_days"] = np.nan
    out["cost"] = [0.1 + 0.2 * i for i in range(len(out))]  # not exactly representable in decimal
    out["improvement_score"] = [np.nan if i % 2 else float(i % 5) for i in range(len(out))]
    info = store.import_dataset(result, "awkward")
    check_copy_matches_rows(store, info.id, monkeypatch)
    loaded = store.load(info.id).outcomes.set_index("treatment_id")
    original = out.set_index("treatment_id").loc[loaded.index]
    assert loaded["clinic"].tolist() == original["clinic"].tolist()
    assert loaded["cost"].tolist() == original["cost"].tolist()
    assert loaded["device"].map(lambda v: v is None).all()


def test_dataset_without_a_copy_loads_from_its_rows_and_gets_one(store, corpus, monkeypatch):
    info = store.import_dataset(import_files(SourceFile.from_path(corpus / "orphans_outcomes.csv"),
                                             SourceFile.from_path(corpus / "side_effect_synonyms.csv")), "old")
    with store.engine.begin() as conn:  # as if stored by the version before the copies
        conn.execute(blobs_table.delete())
    first = store.load(info.id)
    assert blob_count(store, info.id) == 2  # written by that first load
    second = load_from_copy_only(store, info.id, monkeypatch)
    assert_identical(second.outcomes, first.outcomes)
    assert_identical(second.side_effects, first.side_effects)
    check_copy_matches_rows(store, info.id, monkeypatch)


def test_database_created_before_the_copies_gets_the_table(store_url, corpus, monkeypatch):
    old = Store(store_url, sql_rows=True)
    info = old.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "before")
    with old.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE dataset_blobs"))
    old.engine.dispose()
    store = Store(store_url)
    try:
        assert sa.inspect(store.engine).has_table("dataset_blobs")
        out, side = rows_as_before(store, info.id)
        records = store.load(info.id)
        assert_identical(records.outcomes, out)
        assert blob_count(store, info.id) == 2
        check_copy_matches_rows(store, info.id, monkeypatch)
    finally:
        store.engine.dispose()


def test_read_only_database_without_the_table_still_opens_and_loads(tmp_path, corpus):
    db = tmp_path / "old.db"
    writer = Store(f"sqlite:///{db}", sql_rows=True)
    info = writer.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "old")
    with writer.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE dataset_blobs"))
    writer.engine.dispose()
    read_only = Store(f"sqlite:///file:{db}?mode=ro&uri=true")
    records = read_only.load(info.id)
    assert_identical(records.outcomes, rows_as_before(read_only, info.id)[0])
    assert not sa.inspect(read_only.engine).has_table("dataset_blobs")
    with pytest.raises(StoreError, match="read-only"):
        read_only.delete(info.id)


def test_read_only_database_loads_a_dataset_without_a_copy(tmp_path, corpus):
    db = tmp_path / "ro.db"
    writer = Store(f"sqlite:///{db}", sql_rows=True)
    info = writer.import_dataset(import_files(SourceFile.from_path(corpus / "latin1_tab.csv")), "old")
    with writer.engine.begin() as conn:
        conn.execute(blobs_table.delete())
    writer.engine.dispose()
    read_only = Store(f"sqlite:///file:{db}?mode=ro&uri=true")
    for _ in range(2):  # the failed write of the copy is not an error, and not tried again
        records = read_only.load(info.id)
        assert_identical(records.outcomes, rows_as_before(read_only, info.id)[0])
    assert read_only._store_missing_copies is False
    assert blob_count(read_only, info.id) == 0


def test_delete_removes_the_copies_and_rename_keeps_them(store, corpus, monkeypatch):
    a = store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "A")
    b = store.import_dataset(import_files(SourceFile.from_path(corpus / "latin1_tab.csv")), "B")
    store.rename(a.id, "A renamed")
    check_copy_matches_rows(store, a.id, monkeypatch)
    store.delete(b.id)
    assert blob_count(store, b.id) == 0 and blob_count(store, a.id) == 2


def test_delete_cascades_to_the_copies(store, corpus):
    info = store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "A")
    with store.engine.begin() as conn:  # another client deleting the dataset row only
        for table in (side_effects_table, outcomes_table, tables_module.sources_table):
            conn.execute(table.delete().where(table.c.dataset_id == info.id))
        conn.execute(datasets_table.delete().where(datasets_table.c.id == info.id))
    assert blob_count(store, info.id) == 0


def test_a_copy_of_another_version_or_format_is_not_used(store, corpus, monkeypatch):
    info = store.import_dataset(import_files(SourceFile.from_path(corpus / "mixed_fitzpatrick.csv")), "V")
    with store.engine.begin() as conn:
        conn.execute(datasets_table.update().where(datasets_table.c.id == info.id).values(version=2))
        conn.execute(outcomes_table.update().where(outcomes_table.c.dataset_id == info.id).values(clinic="Changed"))
    assert set(store.load(info.id).outcomes["clinic"]) == {"Changed"}  # from the rows: the copy is of version 1
    with store.engine.connect() as conn:
        assert set(conn.execute(sa.select(blobs_table.c.version)).scalars()) == {2}  # rewritten for version 2
    assert set(load_from_copy_only(store, info.id, monkeypatch).outcomes["clinic"]) == {"Changed"}
    monkeypatch.setattr(tables_module, "BLOB_FORMAT", "parquet-99")
    with monkeypatch.context() as patch:
        calls = []
        original = Store._load_rows
        patch.setattr(Store, "_load_rows", lambda self, *a: calls.append(1) or original(self, *a))
        store.load(info.id)
    assert calls == [1]


def test_a_damaged_copy_falls_back_to_the_rows(store, corpus, caplog):
    info = store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "D")
    expected = rows_as_before(store, info.id)
    with store.engine.begin() as conn:
        conn.execute(blobs_table.update().where(blobs_table.c.kind == "outcomes").values(data=b"not parquet"))
    with caplog.at_level(logging.WARNING, logger="analysis.records.db"):
        records = store.load(info.id)
    assert "cannot be read" in caplog.text
    assert_identical(records.outcomes, expected[0])
    assert_identical(store.load(info.id).outcomes, expected[0])  # and the copy was written again


def test_failure_while_writing_the_copy_leaves_the_store_unchanged(store, corpus, monkeypatch):
    store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "Existing")

    def snapshot() -> dict[str, list[tuple]]:
        with store.engine.connect() as conn:
            return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                    for t in metadata.sorted_tables}

    before = snapshot()
    original = tables_module._write_blobs

    def fail_after_the_first_copy(conn, dataset_id, version, copies):
        original(conn, dataset_id, version, {"outcomes": copies["outcomes"]})
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error (simulated)"))

    monkeypatch.setattr(tables_module, "_write_blobs", fail_after_the_first_copy)
    with pytest.raises(StoreError, match="simulated"):
        store.import_dataset(import_files(SourceFile.from_path(corpus / "orphans_outcomes.csv"),
                                          SourceFile.from_path(corpus / "orphans_side_effects.csv")), "Doomed")
    assert snapshot() == before


def test_copies_store_canonical_values_like_the_rows(store, corpus, monkeypatch):
    """Scores are integers in the database: a copy holds what the rows hold, not the frame's floats."""
    result = import_files(SourceFile.from_path(corpus / "mixed_fitzpatrick.csv"))
    result.outcomes["satisfaction"] = [np.nan, 2.0, 3.0, 4.5, 5.0, 1.0, 2.0][:len(result.outcomes)]
    result.outcomes["follow_up_visits"] = 3
    info = store.import_dataset(result, "canonical")
    check_copy_matches_rows(store, info.id, monkeypatch)


@pytest.fixture
def pg_icu_url(pg_admin_url) -> str:
    """A fresh PostgreSQL database whose default collation is ICU English (not code-point order)."""
    import uuid

    name = f"test_icu_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                                 "LOCALE 'C.UTF-8' TEMPLATE template0"))
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        pytest.skip(f"this PostgreSQL cannot create an ICU database: {exc}")
    yield sa.engine.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_rows_and_copy_share_one_order_under_any_postgresql_collation(pg_icu_url, corpus, monkeypatch):
    result = import_files(SourceFile.from_path(corpus / "mixed_fitzpatrick.csv"))
    odd = ["b-1", "B2", "a10", "a9", "_z", "Z", "é1", "e2"][:len(result.outcomes)]
    result.outcomes["treatment_id"] = odd
    result.outcomes["treatment_date"] = result.outcomes["treatment_date"].iloc[0]
    store = Store(pg_icu_url, sql_rows=True)
    try:
        info = store.import_dataset(result, "collation")
        copied = load_from_copy_only(store, info.id, monkeypatch).outcomes
        assert copied["treatment_id"].tolist() == sorted(odd)  # code-point order, as on SQLite
        with store.engine.connect() as conn:
            rows = store._load_rows(conn, info.id)[0]
        assert_identical(copied, rows)
        assert rows_as_before(store, info.id)[0]["treatment_id"].tolist() != sorted(odd)  # the server's order
    finally:
        store.engine.dispose()


# --- the default store: copies only -----------------------------------------------------------------

@pytest.fixture
def copies_only(store_url) -> Store:
    s = Store(store_url, sql_rows=False)
    yield s
    s.engine.dispose()


def row_counts(store: Store, dataset_id: str) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.dataset_id == dataset_id))
                     .scalar_one() for t in (outcomes_table, side_effects_table))


def test_sql_rows_follow_the_environment(store_url, monkeypatch):
    monkeypatch.delenv(store_module.SQL_ROWS_ENV, raising=False)
    assert Store(store_url).sql_rows is False
    monkeypatch.setenv(store_module.SQL_ROWS_ENV, "1")
    assert Store(store_url).sql_rows is True
    assert Store(store_url, sql_rows=False).sql_rows is False


@pytest.mark.parametrize("name", CORPUS_OUTCOMES)
def test_the_default_store_writes_no_rows_and_loads_what_the_rows_would_give(store, copies_only, corpus,
                                                                            monkeypatch, name):
    result = import_files(SourceFile.from_path(corpus / name))
    with_rows = store.import_dataset(result, name)
    copied = copies_only.import_dataset(result, name, allow_duplicate=True)
    assert row_counts(copies_only, copied.id) == (0, 0)
    assert blob_count(copies_only, copied.id) == 2
    records = load_from_copy_only(copies_only, copied.id, monkeypatch)
    out, side = rows_as_before(store, with_rows.id)
    assert_identical(records.outcomes, out)
    assert_identical(records.side_effects, side)
    pd.testing.assert_frame_equal(records.outcomes, result.outcomes.sort_values(
        ["treatment_date", "treatment_id"]).reset_index(drop=True))


def test_a_damaged_copy_without_rows_is_a_clear_error(copies_only, corpus, caplog):
    info = copies_only.import_dataset(import_files(SourceFile.from_path(corpus / "orphans_outcomes.csv"),
                                                   SourceFile.from_path(corpus / "orphans_side_effects.csv")), "D")
    other = copies_only.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "fine")
    with copies_only.engine.begin() as conn:
        conn.execute(blobs_table.update().where((blobs_table.c.kind == "side_effects")
                                                & (blobs_table.c.dataset_id == info.id)).values(data=b"not parquet"))
    with caplog.at_level(logging.WARNING, logger="analysis.records.db"):
        with pytest.raises(StoreError, match="records of dataset 'D' cannot be read.*import its files again"):
            copies_only.load(info.id)
    assert "cannot be read" in caplog.text
    assert blob_count(copies_only, info.id) == 2  # nothing was overwritten with the empty rows
    assert len(copies_only.load(other.id).outcomes) == other.treatments


def test_the_columnar_types_are_those_of_the_row_tables():
    """A copy and the rows must hold the same values: the Arrow type of each column follows its SQL type."""
    from analysis.records import columnar

    for kind, table in (("outcomes", outcomes_table), ("side_effects", side_effects_table)):
        expected = pa.schema([pa.field(name, tables_module._arrow_type(table.c[name].type))
                              for name in columnar.columns(kind)])
        assert columnar.arrow_schema(kind) == expected
        assert set(columnar.columns(kind)) == {c.name for c in table.c} - {"dataset_id", "id"}
