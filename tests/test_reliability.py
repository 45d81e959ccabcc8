"""Faults and load: a killed import, a read-only or full database, concurrent imports with readers.

Every dataset must be complete or absent, with exact counts, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import Store, StoreError

from testpaths import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location("generate_sample", ROOT / "data" / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> tuple[Path, Path]:
    """150,000 treatments: an import that takes long enough to be killed at several moments."""
    folder = tmp_path_factory.mktemp("big")
    return _generator().write_sample(folder, n_treatments=150_000, seed=7)


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("datasets", "dataset_sources", "dataset_blobs", "outcomes", "side_effects")}
    finally:
        engine.dispose()


def assert_whole_or_absent(url: str, treatments: int, side_effects: int, *, sql_rows: bool = False) -> None:
    """Every stored dataset loads with exactly its records; nothing is left of a dataset that did not land."""
    store = Store(url)
    found = counts(url)
    datasets = store.datasets()
    assert found["dataset_blobs"] == 2 * len(datasets)
    assert found["dataset_sources"] == 2 * len(datasets)
    assert found["outcomes"] == (sum(d.treatments for d in datasets) if sql_rows else 0)
    assert found["side_effects"] == (sum(d.side_effects for d in datasets) if sql_rows else 0)
    for d in datasets:
        assert (d.treatments, d.side_effects) == (treatments, side_effects)
        records = store.load(d.id)
        assert (len(records.outcomes), len(records.side_effects)) == (treatments, side_effects)
    store.engine.dispose()


def cli_import(url: str, files: tuple[Path, Path], name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analysis", "--db", url, "import", str(files[0]), str(files[1]),
                             "--name", name, "--allow-duplicate"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


# The command-line import with a pause inside its transaction, after everything but the side-effect copy
# is written (with LASERDASH_SQL_ROWS=1: every row too), so the kill lands mid-transaction every time.
_PAUSED_IMPORT = """
import sys, time
from analysis.records import db
original = db._write_blob
def paused(conn, dataset_id, version, kind, rows, data):
    original(conn, dataset_id, version, kind, rows, data)
    if kind == "outcomes":
        print("inside the transaction", flush=True)
        time.sleep(600)
db._write_blob = paused
from analysis.cli import main
sys.exit(main(sys.argv[1:]))
"""


def kill_inside_the_transaction(url: str, files: tuple[Path, Path], sql_rows: bool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _PAUSED_IMPORT, "--db", url, "import", str(files[0]),
                             str(files[1]), "--name", "killed", "--allow-duplicate"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "LASERDASH_SQL_ROWS": "1" if sql_rows else "0"})
    line = proc.stdout.readline()  # blocks until the pause (or the end, if the import failed)
    assert line.strip() == b"inside the transaction", proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("sql_rows", [False, True], ids=["copies", "copies+rows"])
def test_kill_9_mid_import_leaves_the_sqlite_store_consistent(tmp_path, big_export, sql_rows):
    db = tmp_path / "kill.db"
    url = f"sqlite:///{db}"
    Store(url).engine.dispose()  # create the schema first
    kill_inside_the_transaction(url, big_export, sql_rows)
    assert Store(url).datasets() == []
    assert counts(url) == {"datasets": 0, "dataset_sources": 0, "dataset_blobs": 0, "outcomes": 0,
                           "side_effects": 0}
    # The same import then lands whole.
    done = cli_import(url, big_export, "second try", {"LASERDASH_SQL_ROWS": "1" if sql_rows else "0"})
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    result = import_files(SourceFile.from_path(big_export[0]), SourceFile.from_path(big_export[1]))
    assert_whole_or_absent(url, len(result.outcomes), len(result.side_effects), sql_rows=sql_rows)
    assert len(Store(url).datasets()) == 1


def test_kill_9_mid_import_leaves_postgresql_consistent(pg_url, big_export):
    Store(pg_url).engine.dispose()
    result = import_files(SourceFile.from_path(big_export[0]), SourceFile.from_path(big_export[1]))
    kill_inside_the_transaction(pg_url, big_export, sql_rows=False)
    assert_whole_or_absent(pg_url, len(result.outcomes), len(result.side_effects))
    assert Store(pg_url).datasets() == []
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):  # and at other moments: every outcome must be whole or absent
        proc = cli_import(pg_url, big_export, f"killed after {delay}s")
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert_whole_or_absent(pg_url, len(result.outcomes), len(result.side_effects))


def test_read_only_database_gives_a_clear_error(tmp_path, corpus, monkeypatch):
    db = tmp_path / "ro.db"
    Store(f"sqlite:///{db}").import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "existing")
    # File permissions do not stop root (CI runs as root), so open the file read-only through SQLite instead.
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    read_only = Store(f"sqlite:///file:{db}?mode=ro&uri=true")
    assert not (tmp_path / "cwd" / "file:").exists()  # a URI is not a folder to create
    assert [d.name for d in read_only.datasets()] == ["existing"]  # reading still works
    with pytest.raises(StoreError, match="read-only"):
        read_only.import_dataset(import_files(SourceFile.from_path(corpus / "latin1_tab.csv")), "new")
    with pytest.raises(StoreError, match="read-only"):
        read_only.rename(read_only.datasets()[0].id, "renamed")
    assert [d.name for d in Store(f"sqlite:///{db}").datasets()] == ["existing"]


def test_full_disk_gives_a_clear_error_and_keeps_what_was_stored(tmp_path, corpus):
    db = tmp_path / "full.db"
    store = Store(f"sqlite:///{db}")
    store.import_dataset(import_files(SourceFile.from_path(corpus / "bom_utf8.csv")), "existing")
    before = counts(f"sqlite:///{db}")
    pages = store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar_one()

    @sa.event.listens_for(store.engine, "connect")
    def cap(dbapi_connection, _record):  # the database cannot grow: SQLite reports SQLITE_FULL
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    store.engine.dispose()
    big = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                       SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    with pytest.raises(StoreError, match="full"):
        store.import_dataset(big, "too big")
    assert counts(f"sqlite:///{db}") == before


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_eight_concurrent_imports_with_readers_land_whole(request, tmp_path, corpus, backend):
    url = f"sqlite:///{tmp_path / 'load.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    Store(url).engine.dispose()
    source = (ROOT / "data" / "sample_outcomes.csv").read_bytes()
    side = (ROOT / "data" / "sample_side_effects.csv").read_bytes()
    header, *lines = source.decode().splitlines()
    side_header, *side_lines = side.decode().splitlines()
    jobs = []
    for i in range(8):  # eight different exports of 600 treatments each, with their side effects
        chunk = lines[i * 600:(i + 1) * 600]
        ids = {row.split(",", 1)[0] for row in chunk}
        events = [row for row in side_lines if row.split(",", 1)[0] in ids]
        jobs.append((SourceFile(f"clinic{i}.csv", "\n".join([header, *chunk]).encode()),
                     SourceFile(f"clinic{i}_side.csv", "\n".join([side_header, *events]).encode()), len(events)))
    stop = threading.Event()
    read_errors: list[BaseException] = []

    def read_loop() -> None:
        store = Store(url)
        while not stop.is_set():
            try:
                for d in store.datasets():
                    records = store.load(d.id)
                    assert len(records.outcomes) == d.treatments and len(records.side_effects) == d.side_effects
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the test thread
                read_errors.append(exc)
                return

    def import_one(job: tuple[SourceFile, SourceFile, int]) -> tuple[int, int]:
        result = import_files(job[0], job[1])
        info = Store(url).import_dataset(result, job[0].name)
        return info.treatments, info.side_effects

    readers = [threading.Thread(target=read_loop) for _ in range(2)]
    for r in readers:
        r.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        landed = list(pool.map(import_one, jobs))
    stop.set()
    for r in readers:
        r.join()
    assert not read_errors, read_errors
    assert landed == [(600, job[2]) for job in jobs]
    found = counts(url)
    assert found == {"datasets": 8, "dataset_sources": 16, "dataset_blobs": 16, "outcomes": 0, "side_effects": 0}
    store = Store(url)
    expected = {job[0].name: (600, job[2]) for job in jobs}
    for d in store.datasets():
        records = store.load(d.id)
        assert (len(records.outcomes), len(records.side_effects)) == expected.pop(d.name)
    assert expected == {}
    store.engine.dispose()
