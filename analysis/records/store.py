"""Durable storage of datasets (named imports) with SQLAlchemy: SQLite by default, PostgreSQL when shared.

A dataset is written in one transaction (it lands whole or not at all), has a random URL-safe id
of 128 bits (it goes into share links) and a ``version`` that changes whenever its records
change, so callers can cache by ``(id, version)``. Records are stored typed and canonical, so
reading them back needs no re-parsing.

A dataset's records are stored column-wise: one Parquet file per kind (``outcomes``,
``side_effects``) in ``dataset_blobs``, written in the import's transaction. That is what
:meth:`Store.load` reads, and what makes an import of a million treatments take seconds, not
minutes. With ``sql_rows`` (``LASERDASH_SQL_ROWS=1``) every record is also written as a row of the
``outcomes`` and ``side_effects`` tables in the same transaction, for SQL access (imports then take
several times longer). Datasets stored by older versions have rows only: they load from their rows
and get their columnar copy on that first load.

The tables themselves, what their keys and constraints allow, the row inserts and the columnar
copies are :mod:`analysis.records.db`; this module decides when each is written or read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from analysis.records import columnar, db, rejects, schema
from analysis.records.ingest import ImportProblem, ImportResult, SourceFile
from analysis.records.db import (access_table, archive_table, audit_table, bin_table, blobs_table, column_maps_table,
                                datasets_table, meta_table, metadata, outcomes_table, side_effects_table, sources_table,
                                versions_table, watch_table)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = ROOT / "data" / "laserdash.db"
DB_URL_ENV = "LASERDASH_DB_URL"
#: Set to 1 to also store every record as a SQL row (see the module docstring).
SQL_ROWS_ENV = "LASERDASH_SQL_ROWS"
SAMPLE_OUTCOMES = ROOT / "data" / "sample_outcomes.csv"
SAMPLE_SIDE_EFFECTS = ROOT / "data" / "sample_side_effects.csv"
SAMPLE_NAME = "Sample clinics (synthetic)"
SCHEMA_VERSION = "1"
_SIDE_EFFECT_COLUMNS: tuple[str, ...] = schema.SIDE_EFFECT_FRAME_COLUMNS
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# New ids are "d" + 22 base64url characters; databases written before that change hold bare 22-character
# tokens, which must stay loadable (same 128 random bits).
_ID_PATTERN = re.compile(r"^d?[A-Za-z0-9_-]{22}$")
_log = logging.getLogger(__name__)
#: Tables added after the first release: created when missing, and a read-only database may lack them.
_ADDED_LATER = (blobs_table, versions_table, archive_table, rejects.table, access_table, bin_table, audit_table, watch_table)


class StoreError(RuntimeError):
    """The database cannot be used (damaged, read-only, full, unreachable); the message says what to do."""


class DatasetNotFound(LookupError):
    """No dataset has this id. The message never names other datasets."""

    def __init__(self, dataset_id: str) -> None:
        shown = dataset_id if is_valid_dataset_id(dataset_id) else "(malformed id)"
        super().__init__(f"No dataset with id {shown}. It may have been deleted, or the link is incomplete.")


class RecordsRefused(StoreError):
    """Records that break the store's schema (a missing or repeated treatment id, a Fitzpatrick type
    outside 1-6, ...). The import validates every value first, so this means a bug upstream; nothing
    was written."""


class DuplicateImport(ImportProblem):
    """A file with the same content (SHA-256) was imported before."""

    def __init__(self, file: str, dataset: "DatasetInfo") -> None:
        self.dataset = dataset
        super().__init__(file, f"this exact file was already imported as dataset '{dataset.name}' "
                         f"(id {dataset.id}, {dataset.created_at:%Y-%m-%d %H:%M} UTC).",
                         "Open that dataset instead, or import again with 'allow duplicate' "
                         "(--allow-duplicate) if you really want a second copy.")


@dataclass(frozen=True)
class SourceInfo:
    """One file of an import."""

    file_name: str
    sha256: str
    kind: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset: identity, version and counts."""

    id: str
    name: str
    created_at: datetime
    version: int
    treatments: int
    side_effects: int
    rows_rejected: int
    sources: tuple[SourceInfo, ...]
    notes: tuple[str, ...] = ()
    side_effects_recorded: bool = True

    @property
    def cache_key(self) -> tuple[str, int]:
        """What a cache of this dataset's records or statistics must be keyed by."""
        return (self.id, self.version)


@dataclass(frozen=True)
class Records:
    """A dataset's records as typed frames (see :mod:`analysis.records.schema` for the columns).

    ``side_effects_recorded`` is False when the import had no side-effect file, no flag columns and
    no event: then side-effect rates are unknown, not zero.
    """

    outcomes: pd.DataFrame
    side_effects: pd.DataFrame
    side_effects_recorded: bool = True
    #: Optional per-treatment effect flags (one bool column per effect, aligned with ``outcomes``), each side
    #: effect's row position in ``outcomes`` and each outcome's patient id as an integer key (equal keys for equal
    #: ids: :func:`analysis.records.columnar.id_keys`); :func:`analysis.records.filters.prepare` fills them once per
    #: dataset version (``Store.load`` gives the last two when the stored copy's ids allow) so selections and
    #: statistics never join on, or count, text ids again.
    flags: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    side_pos: np.ndarray | None = field(default=None, repr=False, compare=False)
    patient_keys: np.ndarray | None = field(default=None, repr=False, compare=False)


def new_dataset_id() -> str:
    """A random, URL-safe id with 128 bits of entropy: ``d`` and 22 base64url characters.

    The letter in front keeps an id from starting with ``-`` (1 in 64 bare tokens do), which a
    command line would take for an option.
    """
    return "d" + secrets.token_urlsafe(16)


def is_valid_dataset_id(value: object) -> bool:
    """True when ``value`` has the shape of a dataset id (does not say it exists)."""
    return isinstance(value, str) and bool(_ID_PATTERN.match(value))


def database_url(explicit: str | None = None) -> str:
    """The database to use: an explicit URL, else ``$LASERDASH_DB_URL``, else SQLite in ``data/``."""
    if explicit:
        return explicit
    env = os.environ.get(DB_URL_ENV, "").strip()
    if env:
        return env
    return f"sqlite:///{DEFAULT_DB_PATH}"


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparseable database URL)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout, and its folder is created."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # a "file:" URI (e.g. ?mode=ro&uri=true) names an existing file: never create folders for it
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """Datasets in a SQL database. Create once per process and share (it holds a connection pool).

    ``sql_rows``: also store every record as a SQL row (default: ``$LASERDASH_SQL_ROWS`` is 1).
    """

    def __init__(self, url: str | None = None, *, sql_rows: bool | None = None) -> None:
        self.url = database_url(url)
        self.sql_rows = _env_flag(SQL_ROWS_ENV) if sql_rows is None else bool(sql_rows)
        try:
            self.engine = make_engine(self.url)
            metadata.create_all(self.engine, tables=[t for t in metadata.sorted_tables if t not in _ADDED_LATER])
            with self.engine.begin() as conn:
                conn.execute(sa.select(meta_table.c.value).limit(1)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None
        #: Whether ``dataset_blobs`` exists. A read-only database written by an older version has no such
        #: table and cannot get one: it still opens, and its datasets load from their rows.
        self._blobs = self._create_table(blobs_table, "datasets load from their rows")
        #: Whether the history of imports (``dataset_versions``, ``dataset_archive``) can be kept: the same.
        self._history = all([self._create_table(versions_table, "imports are not recorded"),
                             self._create_table(archive_table, "imports cannot be rolled back")])
        #: Whether each import's rejected rows and problems can be kept (:mod:`analysis.records.rejects`): the same.
        self._rejects = self._create_table(rejects.table, "rejected rows are not kept after an import")
        #: Whether who may see which dataset can be recorded (``dataset_access``): needed only with sign-in.
        self._access = self._create_table(access_table, "datasets cannot be shared")
        #: Whether deleted datasets can wait in a bin (else a delete purges at once), and changes be audited.
        self._bin = self._create_table(bin_table, "deleted datasets are purged at once")
        self._audit = self._create_table(audit_table, "changes are not recorded in an audit trail")
        self._watch = self._create_table(watch_table, "watch reports every signal each time")
        #: Cleared when storing a missing columnar copy failed for lack of write access: not tried again.
        self._store_missing_copies = True

    def _create_table(self, table: sa.Table, without: str) -> bool:
        """Create a table added after the first release, if missing; False when it neither exists nor can be
        made (a read-only database written by an older version), saying what then does not work."""
        try:
            table.create(self.engine, checkfirst=True)
            return True
        except sa.exc.SQLAlchemyError as exc:
            try:
                present = sa.inspect(self.engine).has_table(table.name)
            except sa.exc.SQLAlchemyError:
                present = False
            if not present:
                _log.warning("%s: cannot create the table %s (%s); %s.", describe_url(self.url), table.name,
                             getattr(exc, "orig", exc), without)
            return present

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn database errors into :class:`StoreError` with a message that says what to do."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None

    # --- writing ---------------------------------------------------------------------------

    def import_dataset(self, result: ImportResult, name: str, *, allow_duplicate: bool = False,
                       user: str | None = None, grants: Sequence[tuple[str, str]] = (),
                       _meta_key: str | None = None) -> DatasetInfo:
        """Store an import as a new dataset in one transaction and return it.

        ``grants``: who may see and change it, as ``(grantee, role)`` pairs written in the same transaction
        (see :mod:`analysis.records.access`, which checks them; use that module's ``Access.import_dataset``).

        Raises :class:`DuplicateImport` when a file with the same SHA-256 is already stored
        (unless ``allow_duplicate``), :class:`RecordsRefused` when a record breaks the schema, and
        :class:`StoreError` when the database refuses the write; in all cases nothing is written.
        """
        name = _clean_name(name)
        if not allow_duplicate:
            for source in result.sources:
                existing = [info for i in self.datasets_with_source(source.sha256) if (info := self.get(i))]
                if existing:
                    raise DuplicateImport(source.name, existing[0])
        if not self._blobs:
            raise StoreError(f"The database {describe_url(self.url)} has no table for the records "
                             f"({blobs_table.name}) and it could not be created, so nothing can be saved. "
                             "Give the app write permission on the database.")
        arrow = {}
        for kind in ("outcomes", "side_effects"):
            records = result.records(kind)
            arrow[kind] = records if isinstance(records, pa.Table) else columnar.to_arrow(records, kind)
        check_records(arrow["outcomes"], arrow["side_effects"])
        # Encoded before the transaction (or during the import, in the background), so other writers wait only
        # for the few inserts below.
        copies = db._encode_copies(arrow["outcomes"], arrow["side_effects"],
                                       {kind: result.parquet(kind) for kind in arrow})
        dataset_id = new_dataset_id()
        now = datetime.now(timezone.utc)
        report = result.report
        summary = {"notes": report.notes,
                   "files": [{"file": f.file, "kind": f.kind, "encoding": f.encoding,
                              "delimiter": f.delimiter, "columns": f.columns,
                              "ignored_columns": f.ignored_columns,
                              "dropped_identifier_columns": f.dropped_identifier_columns}
                             for f in report.files]}
        try:
            with self.engine.begin() as conn:
                if _meta_key is not None:
                    # A key left by a dataset that is gone or in the bin is taken over (the bundled sample imported
                    # again after the last dataset was deleted); a live one makes the insert fail, as it should.
                    conn.execute(meta_table.delete().where((meta_table.c.key == _meta_key) & ~sa.exists().where(
                        (datasets_table.c.id == meta_table.c.value) & self._live())))
                    conn.execute(meta_table.insert().values(key=_meta_key, value=dataset_id))
                conn.execute(datasets_table.insert().values(
                    id=dataset_id, name=name, created_at=now, version=1,
                    treatments=result.count("outcomes"), side_effects=result.count("side_effects"),
                    rows_rejected=report.rows_rejected, report=json.dumps(summary)))
                conn.execute(sources_table.insert(), [
                    {"dataset_id": dataset_id, "file_name": f.file, "sha256": f.sha256, "kind": f.kind,
                     "rows_read": f.rows_read, "rows_accepted": f.rows_accepted,
                     "rows_rejected": f.rows_rejected} for f in report.files])
                if self.sql_rows:
                    db._insert_frame(conn, outcomes_table, result.outcomes, dataset_id, schema.OUTCOME_NAMES)
                    db._insert_frame(conn, side_effects_table, result.side_effects, dataset_id,
                                         _SIDE_EFFECT_COLUMNS)
                db._write_blobs(conn, dataset_id, 1, copies)
                if grants:
                    if not self._access:
                        raise StoreError(f"The database {describe_url(self.url)} has no table for who may see a "
                                         f"dataset ({access_table.name}) and it could not be created. Give the app "
                                         "write permission on the database.")
                    conn.execute(access_table.insert(), [{"dataset_id": dataset_id, "grantee": g, "role": r}
                                                         for g, r in grants])
                if self._history:
                    db.record_version(conn, dataset_id, 1, "import", now, user, result.count("outcomes"),
                                      result.count("side_effects"),
                                      {**db.import_summary(result.report),
                                       "counts": {"new": result.count("outcomes"), "rejected": report.rows_rejected}})
                rejects.record(conn, self, dataset_id, 1, report)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None
        info = self.get(dataset_id)
        if info is None:  # pragma: no cover - the transaction above committed it
            raise StoreError("The dataset was written but cannot be read back.")
        return info

    def rename(self, dataset_id: str, name: str, *, user: str | None = None) -> DatasetInfo:
        """Give a dataset a new name (its records and version are unchanged)."""
        name = _clean_name(name)
        with self._errors(), self.engine.begin() as conn:
            before = conn.execute(sa.select(datasets_table.c.name).where(
                (datasets_table.c.id == dataset_id) & self._live())).scalar()
            if before is None:
                raise DatasetNotFound(dataset_id)
            conn.execute(datasets_table.update().where(datasets_table.c.id == dataset_id).values(name=name))
            self.audit(conn, user, "rename", dataset_id, name, before=before)
        return self.get(dataset_id)  # type: ignore[return-value]

    def delete(self, dataset_id: str, *, user: str | None = None, reason: str = "") -> None:
        """Delete a dataset and all its records for good, in one transaction (in the bin or not). The app and
        the command line move datasets to the bin first (:func:`analysis.records.bin.move_to_bin`)."""
        with self._errors(), self.engine.begin() as conn:
            name = conn.execute(sa.select(datasets_table.c.name).where(datasets_table.c.id == dataset_id)).scalar()
            if name is None:
                raise DatasetNotFound(dataset_id)
            copies = (blobs_table,) if self._blobs else ()  # (also ON DELETE CASCADE)
            history = (versions_table, archive_table) if self._history else ()
            kept = (rejects.table,) if self._rejects else ()
            grants = (access_table,) if self._access else ()
            binned = (bin_table,) if self._bin else ()
            for table in (*copies, *history, *kept, *grants, *binned, side_effects_table, outcomes_table,
                          sources_table):
                conn.execute(table.delete().where(table.c.dataset_id == dataset_id))
            conn.execute(meta_table.delete().where(meta_table.c.value == dataset_id))
            conn.execute(datasets_table.delete().where(datasets_table.c.id == dataset_id))
            self.audit(conn, user, "purge", dataset_id, name, **({"reason": reason} if reason else {}))

    def audit(self, conn: Connection, user: str | None, action: str, dataset_id: str, name: str,
              **details: Any) -> None:
        """Record a change in the audit trail, in the caller's transaction (when the database has one)."""
        if self._audit:
            db.record_audit(conn, user, action, dataset_id, name, datetime.now(timezone.utc), **details)

    def _live(self) -> Any:
        """The condition that a dataset is not in the bin."""
        return db.live() if self._bin else sa.true()

    def save_column_map(self, headers: list[str], kind: str, mapping: dict[str, str]) -> None:
        """Remember how the user mapped a file's headers, for the next file with the same headers."""
        key = headers_key(headers)
        with self._errors(), self.engine.begin() as conn:
            conn.execute(column_maps_table.delete().where((column_maps_table.c.headers_key == key)
                                                          & (column_maps_table.c.kind == kind)))
            conn.execute(column_maps_table.insert().values(headers_key=key, kind=kind, mapping=json.dumps(mapping),
                                                           updated_at=datetime.now(timezone.utc)))

    def column_map(self, headers: list[str], kind: str) -> dict[str, str] | None:
        """The mapping saved for a file with exactly these headers, if any."""
        with self._errors(), self.engine.connect() as conn:
            row = conn.execute(sa.select(column_maps_table.c.mapping).where(
                (column_maps_table.c.headers_key == headers_key(headers)) & (column_maps_table.c.kind == kind))).first()
        return json.loads(row[0]) if row else None

    # --- reading ---------------------------------------------------------------------------

    def datasets(self) -> list[DatasetInfo]:
        """All datasets, newest first."""
        with self._errors(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(datasets_table).where(self._live())
                                .order_by(datasets_table.c.created_at.desc())).mappings().all()
            sources = conn.execute(sa.select(sources_table)).mappings().all()
        by_dataset: dict[str, list[SourceInfo]] = {}
        for s in sources:
            by_dataset.setdefault(s["dataset_id"], []).append(_source_info(s))
        return [_dataset_info(r, by_dataset.get(r["id"], [])) for r in rows]

    def get(self, dataset_id: str) -> DatasetInfo | None:
        """The dataset with this id, or None (also for malformed ids)."""
        if not is_valid_dataset_id(dataset_id):
            return None
        with self._errors(), self.engine.connect() as conn:
            row = conn.execute(sa.select(datasets_table).where((datasets_table.c.id == dataset_id) & self._live())
                               ).mappings().first()
            if row is None:
                return None
            sources = conn.execute(sa.select(sources_table).where(sources_table.c.dataset_id == dataset_id)).mappings().all()
        return _dataset_info(row, [_source_info(s) for s in sources])

    def load(self, dataset_id: str) -> Records:
        """Read a dataset's records back as typed frames. Raises :class:`DatasetNotFound`, and :class:`StoreError`
        when its records cannot be read. Reads the dataset's columnar copy when it has a valid one, else its rows
        (and then tries to store the copy for the next load; a database that refuses the write still loads)."""
        for _ in range(5):  # a new version may land between reading the dataset and its copy: read again
            info = self.get(dataset_id)
            if info is None:
                raise DatasetNotFound(dataset_id)
            with self._errors(), self.engine.connect() as conn:
                expected = {"outcomes": info.treatments, "side_effects": info.side_effects}
                copied = db._read_blobs(conn, info.id, info.version, expected) if self._blobs else None
                if copied is None and self._blobs and db._newer_copy(conn, info.id, info.version):
                    continue
                outcomes, side_effects, given = copied or (*self._load_rows(conn, dataset_id), {})
            break
        else:
            raise StoreError(f"The dataset '{info.name}' is being changed right now (new records are being added). "
                             "Try again in a moment.")
        if copied is None:
            if (len(outcomes), len(side_effects)) != (info.treatments, info.side_effects):
                raise StoreError(f"The records of dataset '{info.name}' cannot be read: their stored copy is "
                                 "missing or damaged (see the server log). Delete the dataset and import its "
                                 "files again, or restore the database from a backup.")
            if self._blobs and self._store_missing_copies:
                self._store_missing_blobs(info, outcomes, side_effects)
        return Records(outcomes, side_effects, info.side_effects_recorded, **given)

    def _load_rows(self, conn: Connection, dataset_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The records from the row tables: outcomes by date then id (code-point order), side effects as stored."""
        treatment_id: Any = outcomes_table.c.treatment_id
        if conn.dialect.name == "postgresql":  # the order SQLite and the copies have, whatever the server locale
            treatment_id = treatment_id.collate("C")
        out = pd.read_sql(sa.select(*[outcomes_table.c[n] for n in schema.OUTCOME_NAMES])
                          .where(outcomes_table.c.dataset_id == dataset_id)
                          .order_by(outcomes_table.c.treatment_date, treatment_id), conn)
        side = pd.read_sql(sa.select(*[side_effects_table.c[n] for n in _SIDE_EFFECT_COLUMNS])
                           .where(side_effects_table.c.dataset_id == dataset_id)
                           .order_by(side_effects_table.c.id), conn)
        return schema.coerce_outcomes(out), schema.coerce_side_effects(side)

    def _store_missing_blobs(self, info: DatasetInfo, outcomes: pd.DataFrame, side_effects: pd.DataFrame) -> None:
        """Store the columnar copy of a dataset just read from its rows, in its own short transaction.

        Best effort, and never waits long for another writer: a read-only or busy database, a
        concurrent delete, or another process storing the same copy only mean that the next load
        reads the rows again. Nothing is stored once a newer version has landed (it has its own copy).
        """
        try:
            with self.engine.connect() as conn:
                # SQLite: give up after 0.2 s instead of waiting up to 30 s for another import to finish.
                _sqlite_pragma(conn, "PRAGMA busy_timeout=200")
                try:
                    with conn.begin():
                        if conn.dialect.name == "postgresql":
                            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                        # Only while the dataset is still at the version read: a version that landed since has
                        # its own copy, which must not be replaced by this older one. (The update locks the row
                        # as a writer's version check does, so no version lands until this commits.)
                        if not conn.execute(datasets_table.update().where(
                                (datasets_table.c.id == info.id) & (datasets_table.c.version == info.version))
                                .values(version=info.version)).rowcount:
                            return
                        conn.execute(blobs_table.delete().where(blobs_table.c.dataset_id == info.id))
                        db._write_blobs(conn, info.id, info.version, db._encode_copies(outcomes, side_effects))
                finally:
                    _sqlite_pragma(conn, f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        except sa.exc.SQLAlchemyError as exc:
            reason = getattr(exc, "orig", exc)
            if any(word in str(reason).lower() for word in ("readonly", "read-only", "permission denied")):
                self._store_missing_copies = False
            _log.info("Dataset %s: columnar copy not stored (%s); it loads from its rows.", info.id, reason)

    def ensure_sample(self) -> DatasetInfo | None:
        """Import the bundled sample data when the store holds no dataset at all; return it."""
        if self.datasets():
            return None
        from analysis.records.ingest import import_files  # local: keeps start-up light for readers

        result = import_files(SourceFile.from_path(SAMPLE_OUTCOMES), SourceFile.from_path(SAMPLE_SIDE_EFFECTS))
        try:
            return self.import_dataset(result, SAMPLE_NAME, allow_duplicate=True, _meta_key="sample_dataset")
        except sa.exc.IntegrityError:
            return None  # another process imported it at the same moment

    def sample_id(self) -> str | None:
        """The id of the bundled sample dataset this store imported by itself, if it still exists."""
        with self._errors(), self.engine.connect() as conn:
            row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "sample_dataset")).first()
        return row[0] if row else None

    def datasets_with_source(self, sha256: str) -> list[str]:
        """The ids of the datasets (not in the bin) that hold a file with this SHA-256, oldest first."""
        with self.engine.connect() as conn:
            live = db.live(sources_table) if self._bin else sa.true()
            rows = conn.execute(sa.select(sources_table.c.dataset_id).where((sources_table.c.sha256 == sha256) & live)
                                .distinct()).all()
        return sorted(r[0] for r in rows)


def headers_key(headers: list[str]) -> str:
    """A stable key for a list of headers (order and case insensitive)."""
    import hashlib

    folded = sorted(schema.normalise_header(h) for h in headers)
    return hashlib.sha256("\x1f".join(folded).encode()).hexdigest()


def _clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise ValueError("A dataset needs a name: type a few words that describe it.")
    if len(cleaned) > 200:
        raise ValueError(f"A dataset name can be at most 200 characters (this one has {len(cleaned)}).")
    return cleaned


def _source_info(row: Any) -> SourceInfo:
    return SourceInfo(row["file_name"], row["sha256"], row["kind"], row["rows_read"], row["rows_accepted"],
                      row["rows_rejected"])


def _dataset_info(row: Any, sources: list[SourceInfo]) -> DatasetInfo:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite returns naive datetimes; they were written in UTC
        created = created.replace(tzinfo=timezone.utc)
    report = json.loads(row["report"])
    notes = tuple(report.get("notes", []))
    recorded = row["side_effects"] > 0 or any(
        f.get("kind") == "side_effects" or any(str(c).startswith("flag:") for c in f.get("columns", {}).values())
        for f in report.get("files", []))
    return DatasetInfo(row["id"], row["name"], created, row["version"], row["treatments"], row["side_effects"],
                       row["rows_rejected"], tuple(sources), notes, recorded)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def check_records(outcomes: pd.DataFrame | pa.Table, side_effects: pd.DataFrame | pa.Table) -> None:
    """Refuse records the store's schema does not allow (what the row tables' keys and constraints
    enforce; see :func:`analysis.records.db.refusal`). Takes frames or tables of canonical values.
    Raises :class:`RecordsRefused`."""
    reason = db.refusal(outcomes, side_effects)
    if reason is not None:
        raise RecordsRefused(reason)


def _sqlite_pragma(conn: Connection, statement: str) -> Any:
    """SQLite: run a PRAGMA on the driver's connection, outside SQLAlchemy's transaction bookkeeping, and
    return its value. None on other databases and when it fails (only used for timeouts)."""
    if conn.dialect.name != "sqlite":
        return None
    try:
        row = conn.connection.driver_connection.execute(statement).fetchone()
    except conn.dialect.loaded_dbapi.Error:
        return None
    return row[0] if row else None


def _store_error(exc: Exception, url: str) -> StoreError:
    text = str(getattr(exc, "orig", exc) or exc)
    where = describe_url(url)
    lowered = text.lower()
    if "file is not a database" in lowered or "malformed" in lowered:
        return StoreError(f"The database {where} is damaged or is not a database file ({text}). It was left "
                          "untouched: restore it from a backup, or point LASERDASH_DB_URL at another file.")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"The database {where} is read-only, so nothing can be saved ({text}). Give the app "
                          "write permission on the file and its folder.")
    if "disk is full" in lowered or "no space" in lowered or "disk full" in lowered:
        return StoreError(f"The disk holding {where} is full ({text}); nothing was saved. Free some space and "
                          "try again.")
    if "unable to open" in lowered:
        return StoreError(f"The database {where} cannot be opened ({text}). Check the path and permissions.")
    return StoreError(f"The database {where} refused the operation: {text}")
