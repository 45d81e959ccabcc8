"""Each import's rejected rows and problem list are kept with its version (issue #17): still downloadable later,
in the file's own dialect, bounded, written with the import or not at all, gone with a rollback or a delete.

Every storage test runs on SQLite and on PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from analysis.cli import main
from analysis.present.export import in_dialect, safe_csv
from analysis.records import rejects, versions
from analysis.records.ingest import WITHHELD, SourceFile, import_files
from analysis.records.store import Store, StoreError

HEADER = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days\n"
GOOD = HEADER + "T1,2024-01-02,ablative,2,5\nT2,2024-01-03,ablative,3,4\n"
# T3: type 9; T4: downtime -3; T5: no date
BAD = HEADER + ("T1,2024-01-02,ablative,2,5\nT3,2024-02-01,non-ablative,9,1\nT4,2024-02-02,ablative,2,-3\n"
                "T5,,ablative,2,1\n")
SIDE = "treatment_id,effect,severity\nT1,PIH,mild\nT3,PIH,mild\nNOPE,erythema,mild\n"
# A European Excel export: ';', decimal commas, Windows-1252 (the accents), CRLF.
EUROPEAN = ("treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic\r\n"
            "E1;2024-01-02;ablative;2;2,5;Clínica Sol\r\nE2;2024-01-03;ablative;VII;3,5;Clínica Sol\r\n"
            "E3;2024-01-04;ablative;3;-1,5;Clínica Sol\r\n").encode("cp1252")


def imported(text: str | bytes, name: str, side: str | None = None):
    data = text.encode() if isinstance(text, str) else text
    return import_files(SourceFile(name, data), [SourceFile("side.csv", side.encode())] if side else None)


def kept_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(rejects.table)).scalar_one()


def test_a_new_datasets_problems_come_back_as_the_import_reported_them(store):
    result = imported(BAD, "feb.csv", SIDE)
    did = store.import_dataset(result, "Feb").id
    kept = rejects.kept(Store(store.url), did)          # a fresh store: nothing held in memory
    assert [(k.version, k.position, k.file, k.kind) for k in kept] == [(1, 0, "feb.csv", "outcomes"),
                                                                       (1, 1, "side.csv", "side_effects")]
    assert [(k.rows_rejected, k.rejected_kept, k.problems, k.problems_kept) for k in kept] == [(3, 3, 3, 3),
                                                                                            (2, 2, 2, 2)]
    assert all(k.complete and k.note() == "" for k in kept)
    problems = rejects.problem_list(store, did, 1)
    expected = result.report.problems
    assert list(problems.columns) == ["file", "row", "column", "value", "reason", "severity"]
    assert problems.astype(str).values.tolist() == expected.astype(str).values.tolist()
    assert safe_csv(problems) == safe_csv(expected)
    for k in kept:
        stored = rejects.rejected_rows(store, did, 1, k.position)
        original = result.report.rejected_rows[k.file]
        assert list(stored.columns) == list(original.columns)
        assert stored["row"].tolist() == original["row"].tolist()
        assert in_dialect(stored, k.delimiter, k.encoding) == in_dialect(original, k.delimiter, k.encoding)


def test_an_import_without_problems_keeps_nothing(store):
    did = store.import_dataset(imported(GOOD, "jan.csv"), "Jan").id
    assert rejects.kept(store, did) == []
    assert rejects.problem_list(store, did, 1).empty
    assert kept_rows(store) == 0


def test_each_import_into_a_dataset_keeps_its_own(store):
    did = store.import_dataset(imported(GOOD, "jan.csv"), "Clinic").id
    versions.add_records(store, did, imported(BAD, "feb.csv"))
    versions.add_records(store, did, imported(EUROPEAN, "mar.csv"))
    kept = rejects.kept(store, did)
    assert [(k.version, k.file, k.rows_rejected) for k in kept] == [(3, "mar.csv", 2), (2, "feb.csv", 3)]
    assert rejects.problem_list(store, did, 2)["file"].unique().tolist() == ["feb.csv"]


def test_rejected_rows_come_back_in_the_files_own_dialect(store):
    """A ';' / decimal-comma Windows-1252 file: its rejected rows are downloaded later byte for byte as right
    after the import, in its separator, decimal commas and encoding."""
    result = imported(EUROPEAN, "export.csv")
    summary = result.report.files[0]
    assert (summary.delimiter, summary.encoding) == (";", "Windows-1252")
    right_after = in_dialect(result.report.rejected_rows["export.csv"], summary.delimiter, summary.encoding)
    did = store.import_dataset(result, "Europe").id
    (k,) = rejects.kept(Store(store.url), did)
    assert (k.delimiter, k.encoding) == (";", "Windows-1252")
    later = in_dialect(rejects.rejected_rows(store, did, 1, k.position), k.delimiter, k.encoding)
    assert later == right_after
    lines = later.decode("cp1252").splitlines()
    assert lines[0] == "row;treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic;problems"
    assert lines[1].startswith("3;E2;2024-01-03;ablative;VII;3,5;Clínica Sol;")
    assert lines[2].startswith("4;E3;2024-01-04;ablative;3;-1,5;Clínica Sol;")
    # and the file the manager fixes imports again in the same settings
    fixed = later.decode("cp1252").replace(";VII;", ";4;").replace(";-1,5;", ";1,5;").encode("cp1252")
    again = import_files(SourceFile("fixed.csv", fixed)).report
    assert again.files[0].delimiter == ";" and again.files[0].encoding == "Windows-1252"


def test_identifiers_stay_withheld_in_what_is_kept(store):
    data = ("treatment_id,Patient Name,treatment_date,modality,fitzpatrick_type\n"
            "A,Jane Doe,2024-01-01,ablative,2\nB,Doe, Jane,2024-01-02,ablative,3\nC,Ann Roe,2024-01-03,ablative,8\n")
    did = store.import_dataset(imported(data, "r.csv"), "Names").id
    problems = rejects.problem_list(store, did, 1)
    assert problems.set_index("row").loc[3, "value"] == WITHHELD
    rows = rejects.rejected_rows(store, did, 1, 0)
    assert "Patient Name" not in rows.columns
    everything = problems.to_csv() + rows.to_csv()
    assert "Jane" not in everything and "Ann Roe" not in everything


def test_storage_is_bounded_and_says_first_n_of_m(store, monkeypatch):
    monkeypatch.setattr(rejects, "KEPT_ROWS", 2)
    did = store.import_dataset(imported(BAD, "feb.csv", SIDE), "Capped").id
    outcome, side = rejects.kept(store, did)
    assert (outcome.rows_rejected, outcome.rejected_kept, outcome.problems, outcome.problems_kept) == (3, 2, 3, 2)
    assert (side.rows_rejected, side.rejected_kept, side.problems, side.problems_kept) == (2, 0, 2, 0)
    assert outcome.note() == ("feb.csv: only the first 2 of 3 rejected rows and the first 2 of 3 problems were kept "
                              "with the import (at most 2 of each per import); the download right after the import "
                              "had them all.")
    assert rejects.problem_list(store, did, 1)["row"].tolist() == [3, 4]
    assert rejects.rejected_rows(store, did, 1, 0)["row"].tolist() == [3, 4]
    assert rejects.rejected_rows(store, did, 1, 1).empty


def test_a_rollback_forgets_that_imports_problems_and_a_delete_all(store):
    first = store.import_dataset(imported(BAD, "jan.csv"), "Clinic").id
    versions.add_records(store, first, imported(EUROPEAN, "feb.csv"))
    assert [k.version for k in rejects.kept(store, first)] == [2, 1]
    versions.rollback(store, first)
    assert [k.version for k in rejects.kept(store, first)] == [1]
    other = store.import_dataset(imported(BAD.replace("T", "U"), "other.csv"), "Other").id
    store.delete(first)
    assert rejects.kept(store, first) == []
    assert [k.version for k in rejects.kept(store, other)] == [1]
    assert kept_rows(store) == 1


def test_problems_are_written_with_the_import_or_not_at_all(store, monkeypatch):
    """Same transaction: when keeping the problems fails, neither the import nor its version lands, and the
    dataset stays readable at its previous version."""
    did = store.import_dataset(imported(GOOD, "jan.csv"), "Clinic").id
    before = store.load(did).outcomes

    def broken(frame: pd.DataFrame) -> bytes:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(rejects, "_encode", broken)
    with pytest.raises(StoreError):
        versions.add_records(store, did, imported(BAD, "feb.csv"))
    with pytest.raises(StoreError):
        store.import_dataset(imported(BAD, "new.csv"), "New")
    assert [d.name for d in store.datasets()] == ["Clinic"]
    assert store.get(did).version == 1 and [v.version for v in versions.history(store, did)] == [1]
    pd.testing.assert_frame_equal(store.load(did).outcomes, before)
    assert kept_rows(store) == 0


def test_the_command_line_shows_the_counts_and_writes_them_out(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    export = tmp_path / "export.csv"
    export.write_bytes(EUROPEAN)
    jan = tmp_path / "jan.csv"
    jan.write_text(GOOD)
    assert main(["--db", db, "import", str(jan), "--name", "Clinic"]) == 0
    did = Store(db).datasets()[0].id
    assert main(["--db", db, "problems", did]) == 0
    assert "No import into 'Clinic' had rejected rows or problems." in capsys.readouterr().out
    assert main(["--db", db, "import", str(export), "--into", did]) == 0
    capsys.readouterr()
    assert main(["--db", db, "history", did]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("version 2: append")
    assert lines[1].endswith("2 rejected; problems kept: 2 rejected row(s), 2 problem(s); then 3 treatment(s), "
                             "0 side-effect record(s)")
    assert "problems kept" not in lines[0]
    assert main(["--db", db, "problems", did]) == 0             # the newest import with problems, printed
    out = capsys.readouterr().out
    assert out.startswith("Version 2 of 'Clinic':\nexport.csv: 2 row(s) rejected, 2 problem(s).\n")
    assert "export.csv row 3, column 'fitzpatrick_type', value 'VII'" in out
    assert main(["--db", db, "problems", did, "--version", "1"]) == 0
    assert "Version 1 of 'Clinic' has no rejected rows or problems kept" in capsys.readouterr().out
    out_dir = tmp_path / "out"
    assert main(["--db", db, "problems", did, "--version", "2", "--out", str(out_dir)]) == 0
    written = (out_dir / "export.rejected.csv").read_bytes()
    result = import_files(SourceFile("export.csv", EUROPEAN))
    assert written == in_dialect(result.report.rejected_rows["export.csv"], ";", "Windows-1252")
    problems = pd.read_csv(out_dir / "problems-v2.csv", encoding="utf-8-sig")
    assert problems["row"].tolist() == [3, 4]
    assert main(["--db", db, "problems", "dAAAAAAAAAAAAAAAAAAAAAA"]) == 1


def test_kill_9_while_keeping_the_problems_leaves_the_previous_version(store_url, tmp_path):
    """The command line killed with SIGKILL after writing an import's problems, before its commit (a new dataset,
    then an append): the database is as before, and the same import then lands with its problems."""
    from test_versions_reliability import Forks, cli

    feb, new = tmp_path / "feb.csv", tmp_path / "new.csv"
    feb.write_bytes(EUROPEAN)
    new.write_text(BAD.replace("T", "N"))
    forks = Forks(tmp_path)
    try:
        store = Store(store_url)
        did = store.import_dataset(imported(BAD, "jan.csv"), "Clinic").id
        before = (store.get(did), rejects.kept(store, did), rejects.problem_list(store, did, 1))
        store.engine.dispose()
        forks.run(cli("import", str(feb), "--into", did, url=store_url), pause="problems kept")
        forks.run(cli("import", str(new), "--name", "New", url=store_url), pause="problems kept")
        store = Store(store_url)
        assert [d.id for d in store.datasets()] == [did]
        assert (store.get(did), rejects.kept(store, did)) == before[:2]
        pd.testing.assert_frame_equal(rejects.problem_list(store, did, 1), before[2])
        assert len(store.load(did).outcomes) == before[0].treatments
        assert kept_rows(store) == 1
        store.engine.dispose()
        forks.run(cli("import", str(feb), "--into", did, url=store_url))
        store = Store(store_url)
        assert [(k.version, k.file) for k in rejects.kept(store, did)] == [(2, "feb.csv"), (1, "jan.csv")]
        store.engine.dispose()
    finally:
        forks.close()


def test_values_that_are_not_text_are_kept_as_text(store):
    result = imported(BAD, "feb.csv")
    result.report.problems["value"] = result.report.problems["value"].astype(object)
    result.report.problems.loc[0, "value"] = 7          # (the import gives text; a number must not break keeping it)
    result.report.problems.loc[1, "value"] = None
    did = store.import_dataset(result, "Odd").id
    assert rejects.problem_list(store, did, 1)["value"].tolist()[:2] == ["7", None]
