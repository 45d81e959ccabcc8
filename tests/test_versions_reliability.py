"""Faults during a dataset's life: kill -9 during an append, a replace or a rollback; a reader in another process.

Every change into a dataset (``import FILE --into ID [--replace]``, ``rollback ID``) runs the command line in
its own process, paused at one moment of its work and killed there with SIGKILL:

* ``merged``: its records are merged and encoded, no transaction yet (not for a rollback, which merges nothing);
* ``opened``: at the start of its transaction, before its first statement;
* ``claimed``: inside it, the dataset row moved to the new version and counts, nothing else written yet;
* ``outcomes written``: inside it, the old copy archived and deleted, the new outcome copy written;
* ``version recorded``: inside it, everything written, the commit next;
* ``committed``: right after the commit (the command has not printed anything yet).

After each kill the dataset must load and be exactly its previous version (version, counts, sources, history,
archive, records) or, after ``committed`` only, exactly the new one, which is checked against records computed
here independently of :mod:`analysis.records.versions`; a later import into it must then still land.

Starting Python and importing the project takes seconds on a small machine, so the processes are forked from
one process that imported the command line once (:class:`Forks`); each child is a separate process running
``analysis.cli.main`` and dies by SIGKILL like any other. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from analysis.records import versions
from analysis.records.db import archive_table, blobs_table, sources_table, versions_table
from analysis.records.ingest import ImportResult, SourceFile, import_files
from analysis.records.store import Store

from testpaths import ROOT

ADD_MOMENTS = ("merged", "opened", "claimed", "outcomes written", "version recorded")
ROLLBACK_MOMENTS = ("opened", "claimed", "outcomes written", "version recorded")


# --- the exports --------------------------------------------------------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("generate_sample", ROOT / "data" / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Export:
    """An outcome file and its side-effect file, and what the import reads from them."""

    files: tuple[Path, Path]
    result: ImportResult

    @property
    def args(self) -> list[str]:
        return [str(self.files[0]), str(self.files[1])]


@dataclass(frozen=True)
class Exports:
    base: Export         # Jan 2024 - Aug 2025, 56,827 treatments: the dataset
    append: Export       # Sep - Dec 2025 (13,173 new) + 1,000 base rows changed + 50 sent again unchanged
    replace: Export      # Jun - Dec 2025, 20,863 treatments: a corrected export that replaces everything
    later: Export        # 1,500 treatments never seen: the next month's import
    updated: int
    unchanged: int


def _export(generator, folder: Path, name: str, outcomes: pd.DataFrame, side: pd.DataFrame) -> Export:
    paths = generator.write_csvs(outcomes, side[side["treatment_id"].isin(set(outcomes["treatment_id"]))],
                                 folder, name)
    return Export(paths, import_files(SourceFile.from_path(paths[0]), SourceFile.from_path(paths[1])))


@pytest.fixture(scope="module")
def generated() -> tuple[pd.DataFrame, pd.DataFrame]:
    """70,000 treatments from Jan 2024 to Dec 2025 and their side effects (as ``data/generate_sample.py`` makes)."""
    return _generator().generate(70_000, seed=11)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, generated) -> Exports:
    folder = tmp_path_factory.mktemp("exports")
    generator = _generator()
    outcomes, side = generated
    base = outcomes[outcomes["treatment_date"] < "2025-09-01"]
    changed = base[base["downtime_days"].notna()].iloc[::40].head(1_000).copy()
    changed["downtime_days"] += 1                      # corrected afterwards in the EMR
    # (few: versions.merge compares the side effects of each treatment sent again one by one, milliseconds each)
    again = base[~base["treatment_id"].isin(changed["treatment_id"])].iloc[7::60].head(50)
    appended = pd.concat([outcomes[outcomes["treatment_date"] >= "2025-09-01"], changed, again], ignore_index=True)
    later, later_side = generator.generate(1_500, seed=5)
    later = later.assign(treatment_id="N" + later["treatment_id"])
    later_side = later_side.assign(treatment_id="N" + later_side["treatment_id"])
    return Exports(_export(generator, folder, "base", base, side),
                   _export(generator, folder, "append", appended, side),
                   _export(generator, folder, "replace", outcomes[outcomes["treatment_date"] >= "2025-06-01"], side),
                   _export(generator, folder, "later", later, later_side), len(changed), len(again))


# --- processes forked from one that imported the command line -------------------------------------------

_FORKS = r"""
import json, os, sys, time, traceback
from analysis import cli
from analysis.records import db, rejects, versions

def pause(point):
    print("paused", point, flush=True)
    time.sleep(600)

def hook(module, name, point, after, when=lambda *args: True):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        if not after and when(*args):
            pause(point)
        result = original(*args, **kwargs)
        if after and when(*args):
            pause(point)
        return result
    setattr(module, name, wrapper)

def child(request):
    os.environ.update(request["env"])
    point = request["pause"]
    if point == "merged":
        hook(versions, "_write_version", point, after=False)
    elif point == "opened":
        hook(versions, "_claim", point, after=False)
    elif point == "claimed":
        hook(versions, "_claim", point, after=True)
    elif point == "outcomes written":
        hook(db, "_write_blob", point, after=True, when=lambda *args: args[3] == "outcomes")
    elif point == "version recorded":
        hook(db, "record_version", point, after=True)
    elif point == "problems kept":
        hook(rejects, "record", point, after=True)
    elif point == "committed":
        hook(versions, "add_records", point, after=True)
        hook(versions, "rollback", point, after=True)
    return cli.main(request["argv"])

print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            print("child", os.getpid(), flush=True)
            code = child(request)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("exit", os.waitstatus_to_exitcode(status), flush=True)
"""


class Forks:
    """A process that imported the command line once and forks a child for each command it is given."""

    def __init__(self, folder: Path) -> None:
        self.stderr = folder / "forks.stderr"
        self.proc = subprocess.Popen([sys.executable, "-c", _FORKS], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr.open("wb"), text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.pending = True  # "ready" not read yet: the import goes on while the test prepares its dataset

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("closed")

    def _line(self, timeout: float = 120) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer from the command within {timeout} s; stderr:\n"
                                 f"{self.stderr.read_text()}") from None

    def _wait_ready(self) -> None:
        if self.pending:
            line = self._line()
            assert line == "ready", f"{line}\n{self.stderr.read_text()}"
            self.pending = False

    def run(self, argv: list[str], pause: str | None = None, env: dict[str, str] | None = None) -> list[str]:
        """Run the command line with ``argv`` in a child; with ``pause``, kill it there with SIGKILL.
        Returns what it printed."""
        self._wait_ready()
        self.proc.stdin.write(json.dumps({"argv": argv, "pause": pause, "env": env or {}}) + "\n")
        self.proc.stdin.flush()
        line = self._line()
        assert line.startswith("child "), line
        pid = int(line.split()[1])
        printed = []
        while not (line := self._line()).startswith(("exit ", "paused ", "closed")):
            printed.append(line)
        if pause is None:
            assert line == "exit 0", f"{line}: {printed}\n{self.stderr.read_text()}"
            return printed
        assert line == f"paused {pause}", f"{line} (not paused at {pause}): {printed}\n{self.stderr.read_text()}"
        os.kill(pid, signal.SIGKILL)
        assert self._line() == f"exit {-signal.SIGKILL}"
        return printed

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child left paused
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def forks(tmp_path) -> Forks:
    started = Forks(tmp_path)
    yield started
    started.close()


# --- a dataset's whole state --------------------------------------------------------------------------

@dataclass
class State:
    """Everything a dataset is: what it says of itself, its history, its stored copies and its records."""

    version: int
    treatments: int
    side_effects: int
    rows_rejected: int
    sources: list[tuple[str, str, str]]
    history: list[tuple]
    archived: list[tuple[int, str, int]]
    outcomes: pd.DataFrame
    side: pd.DataFrame

    def assert_same(self, other: "State", what: str) -> None:
        mine = (self.version, self.treatments, self.side_effects, self.rows_rejected, self.sources, self.history,
                self.archived)
        theirs = (other.version, other.treatments, other.side_effects, other.rows_rejected, other.sources,
                  other.history, other.archived)
        assert mine == theirs, what
        pd.testing.assert_frame_equal(self.outcomes, other.outcomes, obj=f"outcomes ({what})")
        pd.testing.assert_frame_equal(self.side, other.side, obj=f"side effects ({what})")


def state(url: str, dataset_id: str) -> State:
    """The dataset as a new reader sees it, after checking that every part of it is of one version."""
    store = Store(url)
    try:
        info = store.get(dataset_id)
        assert info is not None
        records = store.load(dataset_id)
        assert (len(records.outcomes), len(records.side_effects)) == (info.treatments, info.side_effects)
        history = versions.history(store, dataset_id)
        assert history[-1].version == info.version
        assert (history[-1].treatments, history[-1].side_effects) == (info.treatments, info.side_effects)
        with store.engine.connect() as conn:
            copies = conn.execute(sa.select(blobs_table.c.kind, blobs_table.c.version, blobs_table.c.rows)
                                  .order_by(blobs_table.c.kind)).all()
            archived = conn.execute(sa.select(archive_table.c.version, archive_table.c.kind, archive_table.c.rows)
                                    .order_by(archive_table.c.version, archive_table.c.kind)).all()
            history_rows = conn.execute(sa.select(sa.func.count()).select_from(versions_table)).scalar_one()
            source_rows = conn.execute(sa.select(sa.func.count()).select_from(sources_table)).scalar_one()
        assert [tuple(c) for c in copies] == [("outcomes", info.version, info.treatments),
                                              ("side_effects", info.version, info.side_effects)]
        assert {a.version for a in archived} == set(range(1, info.version))   # each earlier version, whole
        assert len(archived) == 2 * (info.version - 1)
        assert history_rows == len(history) and source_rows == len(info.sources)
        return State(info.version, info.treatments, info.side_effects, info.rows_rejected,
                     sorted((s.file_name, s.sha256, s.kind) for s in info.sources),
                     [(v.version, v.action, v.rolled_back, v.treatments, v.side_effects,
                       json.dumps(v.counts, sort_keys=True), tuple(f["sha256"] for f in v.files)) for v in history],
                     [tuple(a) for a in archived], records.outcomes, records.side_effects)
    finally:
        store.engine.dispose()


def canonical(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows in one order, plain values: compares records whatever order and encoding they came in."""
    plain = frame.astype({c: object for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})
    return plain.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)


def assert_records(found: State, outcomes: pd.DataFrame, side: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(canonical(found.outcomes, ["treatment_id"]), canonical(outcomes, ["treatment_id"]),
                                  check_dtype=False)
    columns = list(side.columns)
    pd.testing.assert_frame_equal(canonical(found.side, columns), canonical(side, columns), check_dtype=False)


def assert_appended(before: State, after: State, export: Export, counts: dict) -> None:
    """``after`` is ``before`` with the export added by the rules, worked out here: every treatment of the file
    as the file has it (with its side effects, as the file carries them), every other one kept."""
    file = export.result
    ids = set(file.outcomes["treatment_id"])
    outcomes = pd.concat([before.outcomes[~before.outcomes["treatment_id"].isin(ids)], file.outcomes])
    side = pd.concat([before.side[~before.side["treatment_id"].isin(ids)], file.side_effects])
    assert_records(after, outcomes, side)
    assert (after.version, after.treatments, after.side_effects) == (before.version + 1, len(outcomes), len(side))
    shas = tuple(s.sha256 for s in file.sources)
    assert after.history == [*before.history, (after.version, "append", False, len(outcomes), len(side),
                                               json.dumps({**counts, "rejected": 0}, sort_keys=True), shas)]
    assert after.sources == sorted([*before.sources, *((s.file, s.sha256, s.kind) for s in file.report.files)])


def cli(*args: str, url: str) -> list[str]:
    return ["--db", url, *args]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'versions.db'}"
    return request.getfixturevalue("pg_url")


def new_dataset(url: str, exports: Exports) -> str:
    store = Store(url)
    try:
        return store.import_dataset(exports.base.result, "Northgate").id
    finally:
        store.engine.dispose()


# --- the tests ----------------------------------------------------------------------------------------

def test_kill_9_during_an_append_leaves_the_previous_version_or_the_new_one(url, exports, forks):
    did = new_dataset(url, exports)
    before = state(url, did)
    append = cli("import", *exports.append.args, "--into", did, url=url)
    for moment in ADD_MOMENTS:
        forks.run(append, pause=moment)
        state(url, did).assert_same(before, f"killed at '{moment}'")
    forks.run(append, pause="committed")
    after = state(url, did)
    new = len(exports.append.result.outcomes) - exports.updated - exports.unchanged
    assert_appended(before, after, exports.append,
                    {"new": new, "updated": exports.updated, "unchanged": exports.unchanged})
    # a later import into it lands, on the records of the append
    forks.run(cli("import", *exports.later.args, "--into", did, url=url))
    assert_appended(after, state(url, did), exports.later, {"new": 1_500, "updated": 0, "unchanged": 0})


def test_kill_9_during_a_replace_leaves_the_previous_version_or_the_new_one(url, exports, forks):
    did = new_dataset(url, exports)
    before = state(url, did)
    replace = cli("import", *exports.replace.args, "--into", did, "--replace", url=url)
    for moment in ADD_MOMENTS:
        forks.run(replace, pause=moment)
        state(url, did).assert_same(before, f"killed at '{moment}'")
    forks.run(replace, pause="committed")
    after = state(url, did)
    file = exports.replace.result
    assert_records(after, file.outcomes, file.side_effects)
    assert (after.version, after.treatments, after.side_effects) == (2, len(file.outcomes), len(file.side_effects))
    assert after.history[:-1] == before.history
    assert after.history[-1][:5] == (2, "replace", False, len(file.outcomes), len(file.side_effects))
    forks.run(cli("import", *exports.later.args, "--into", did, url=url))
    assert_appended(after, state(url, did), exports.later, {"new": 1_500, "updated": 0, "unchanged": 0})


def test_kill_9_during_a_rollback_leaves_the_previous_version_or_the_one_before(url, exports, forks):
    did = new_dataset(url, exports)
    first = state(url, did)
    store = Store(url)
    versions.add_records(store, did, exports.append.result)
    store.engine.dispose()
    before = state(url, did)
    for moment in ROLLBACK_MOMENTS:
        forks.run(cli("rollback", did, url=url), pause=moment)
        state(url, did).assert_same(before, f"killed at '{moment}'")
    forks.run(cli("rollback", did, url=url), pause="committed")
    after = state(url, did)
    # the records, counts and sources of the first version, exactly (same order too: the same copy)
    pd.testing.assert_frame_equal(after.outcomes, first.outcomes)
    pd.testing.assert_frame_equal(after.side, first.side)
    assert (after.version, after.treatments, after.side_effects, after.sources) == (
        3, first.treatments, first.side_effects, first.sources)
    assert [h[:3] for h in after.history] == [(1, "import", False), (2, "append", True), (3, "rollback", False)]
    # a later import lands on the rolled-back records; the rolled-back file may be imported again
    forks.run(cli("import", *exports.later.args, "--into", did, url=url))
    later = state(url, did)
    assert_appended(after, later, exports.later, {"new": 1_500, "updated": 0, "unchanged": 0})
    forks.run(cli("import", *exports.append.args, "--into", did, url=url))
    assert state(url, did).treatments == later.treatments + len(exports.append.result.outcomes) - (
        exports.updated + exports.unchanged)


# --- a reader in one process, appends in another --------------------------------------------------------

MONTH = 2_000
_APPENDS = r"""
import sys
from analysis.cli import main
url, dataset_id, *files = sys.argv[1:]
print("start", flush=True)
for outcomes, side in zip(files[::2], files[1::2]):
    code = main(["--db", url, "import", outcomes, side, "--into", dataset_id])
    if code:
        sys.exit(code)
"""


@dataclass(frozen=True)
class Months:
    base: Export                  # 20,000 treatments of Jan 2024 - Jul 2025
    months: tuple[Export, ...]    # Aug, Sep, Oct, Nov, Dec 2025: 2,000 treatments each


@pytest.fixture(scope="module")
def months(tmp_path_factory, generated) -> Months:
    folder = tmp_path_factory.mktemp("months")
    generator = _generator()
    outcomes, side = generated
    earlier = outcomes[outcomes["treatment_date"] < "2025-08-01"]
    base = _export(generator, folder, "base", earlier.iloc[::2].head(20_000), side)
    monthly = []
    for month in range(8, 13):
        rows = outcomes[outcomes["treatment_date"].dt.strftime("%Y-%m") == f"2025-{month:02d}"]
        assert len(rows) >= MONTH
        monthly.append(_export(generator, folder, f"2025-{month:02d}", rows.head(MONTH), side))
    return Months(base, tuple(monthly))


def test_a_reader_in_another_process_sees_whole_months_only(url, months):
    store = Store(url)
    did = store.import_dataset(months.base.result, "Harbourside").id
    # what the dataset holds after k months: the ids and side-effect count of each whole version
    ids = [set(months.base.result.outcomes["treatment_id"])]
    side_effects = [len(months.base.result.side_effects)]
    for m in months.months:
        ids.append(ids[-1] | set(m.result.outcomes["treatment_id"]))
        side_effects.append(side_effects[-1] + len(m.result.side_effects))
    read: list = []
    original_get = store.get

    def get(dataset_id):  # what load() read the dataset as, for the check below
        read.append(original_get(dataset_id))
        return read[-1]

    store.get = get
    writer = subprocess.Popen([sys.executable, "-c", _APPENDS, url, did, *(a for m in months.months for a in m.args)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        assert writer.stdout.readline().strip() == "start", writer.stderr.read()
        while writer.poll() is None:
            records = store.load(did)
            info = read[-1]
            base = len(ids[0])
            n = len(records.outcomes)
            assert (n - base) % MONTH == 0 and 0 <= (n - base) // MONTH <= len(months.months), n   # whole months
            assert (n, len(records.side_effects)) == (info.treatments, info.side_effects), info
            k = info.version - 1                           # months added in the version it read
            assert set(records.outcomes["treatment_id"]) == ids[k] and n == len(ids[k])
            assert len(records.side_effects) == side_effects[k]
            assert set(records.side_effects["treatment_id"]) <= ids[k]
            seen.append(info.version)
    finally:
        if writer.poll() is None:
            writer.kill()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    final = store.load(did)
    assert len(final.outcomes) == len(ids[-1]) and read[-1].version == 1 + len(months.months)
    assert len(set(seen)) >= 3, seen   # the reads did fall between the appends
    store.engine.dispose()


def test_a_reader_storing_a_missing_copy_keeps_an_append_that_landed_meanwhile(url, months):
    """A dataset stored by an older version has rows only; its first load stores its columnar copy. When an
    append lands between a reader reading those rows and storing that copy, the reader must not put the old
    version's copy in place of the append's: the dataset would no longer load (or load the old records)."""
    with_rows = Store(url, sql_rows=True)
    did = with_rows.import_dataset(months.base.result, "Eastfield").id
    with with_rows.engine.begin() as conn:  # as an older version stored it: rows, no copy, no history
        for table in (blobs_table, versions_table):
            conn.execute(table.delete().where(table.c.dataset_id == did))
    with_rows.engine.dispose()
    reader, writer = Store(url, sql_rows=False), Store(url, sql_rows=False)
    original = reader._store_missing_blobs

    def append_meanwhile(info, outcomes, side_effects):  # the rows are read; the copy is not stored yet
        versions.add_records(writer, did, months.months[0].result)
        original(info, outcomes, side_effects)

    reader._store_missing_blobs = append_meanwhile
    assert len(reader.load(did).outcomes) == len(months.base.result.outcomes)   # the version it read
    expected = len(months.base.result.outcomes) + MONTH
    for store in (Store(url), reader, writer):
        info = store.get(did)
        assert (info.version, info.treatments, len(store.load(did).outcomes)) == (2, expected, expected)
        store.engine.dispose()
    versions.rollback(writer, did)   # and the copy of the version before the append was kept
    check = Store(url)
    assert len(check.load(did).outcomes) == len(months.base.result.outcomes)
    check.engine.dispose()
