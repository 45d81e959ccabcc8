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

from analysis.ingest import SourceFile, import_files
from analysis.store import Store, StoreError

from testpaths import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location("generate_sample", ROOT / "data" / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> tuple[Path, Path]:
    """150,000 treatments (about 5 s to import): long enough to kill mid-transaction."""
    folder = tmp_path_factory.mktemp("big")
    return _generator().write_sample(folder, n_treatments=150_000, seed=7)


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("datasets", "dataset_sources", "outcomes", "side_effects")}
    finally:
        engine.dispose()


def assert_whole_or_absent(url: str, treatments: int, side_effects: int) -> None:
    """Every stored dataset has exactly its records; no orphan rows without a dataset."""
    store = Store(url)
    found = counts(url)
    expected_outcomes = sum(d.treatments for d in store.datasets())
    expected_side = sum(d.side_effects for d in store.datasets())
    assert found["outcomes"] == expected_outcomes
    assert found["side_effects"] == expected_side
    for d in store.datasets():
        assert (d.treatments, d.side_effects) == (treatments, side_effects)
    store.engine.dispose()


def cli_import(url: str, files: tuple[Path, Path], name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analysis", "--db", url, "import", str(files[0]), str(files[1]),
                             "--name", name, "--allow-duplicate"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_kill_9_mid_import_leaves_the_sqlite_store_consistent(tmp_path, big_export):
    db = tmp_path / "kill.db"
    url = f"sqlite:///{db}"
    Store(url).engine.dispose()  # create the schema first
    proc = cli_import(url, big_export, "killed")
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 2_000_000:  # rows are being written, not yet committed
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be killed; make the file larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert Store(url).datasets() == []
    assert counts(url) == {"datasets": 0, "dataset_sources": 0, "outcomes": 0, "side_effects": 0}
    # The same import then lands whole.
    done = cli_import(url, big_export, "second try")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    result = import_files(SourceFile.from_path(big_export[0]), SourceFile.from_path(big_export[1]))
    assert_whole_or_absent(url, len(result.outcomes), len(result.side_effects))
    assert len(Store(url).datasets()) == 1


def test_kill_9_mid_import_leaves_postgresql_consistent(pg_url, big_export):
    Store(pg_url).engine.dispose()
    result = import_files(SourceFile.from_path(big_export[0]), SourceFile.from_path(big_export[1]))
    for delay in (1.5, 3.0, 4.5):  # at least one lands during the insert; every outcome must be whole or absent
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
    assert found == {"datasets": 8, "dataset_sources": 16, "outcomes": 8 * 600,
                     "side_effects": sum(job[2] for job in jobs)}
