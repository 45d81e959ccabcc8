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
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from analysis.records import columnar, schema
from analysis.records.ingest import ImportProblem, ImportResult, SourceFile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = ROOT / "data" / "laserdash.db"
DB_URL_ENV = "LASERDASH_DB_URL"
#: Set to 1 to also store every record as a SQL row (see the module docstring).
SQL_ROWS_ENV = "LASERDASH_SQL_ROWS"
SAMPLE_OUTCOMES = ROOT / "data" / "sample_outcomes.csv"
SAMPLE_SIDE_EFFECTS = ROOT / "data" / "sample_side_effects.csv"
SAMPLE_NAME = "Sample clinics (synthetic)"
SCHEMA_VERSION = "1"
#: Rows per batch handed to the database driver (bounds the memory of the Python row tuples).
_INSERT_CHUNK = 50_000
#: Encoding of the columnar copies; a copy in another format is ignored (read from the rows, rewritten).
BLOB_FORMAT = "parquet-1"
_SIDE_EFFECT_COLUMNS: tuple[str, ...] = schema.SIDE_EFFECT_FRAME_COLUMNS
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# New ids are "d" + 22 base64url characters; databases written before that change hold bare 22-character
# tokens, which must stay loadable (same 128 random bits).
_ID_PATTERN = re.compile(r"^d?[A-Za-z0-9_-]{22}$")
_log = logging.getLogger(__name__)


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


metadata = sa.MetaData()

datasets_table = sa.Table(
    "datasets", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("treatments", sa.Integer, nullable=False),
    sa.Column("side_effects", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),  # JSON: notes and per-file summaries of the import
)

sources_table = sa.Table(
    "dataset_sources", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_accepted", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
)

outcomes_table = sa.Table(
    "outcomes", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("treatment_id", sa.String(200), primary_key=True),
    sa.Column("patient_id", sa.String(200)),
    sa.Column("clinic", sa.String(200)),
    sa.Column("treatment_date", sa.Date, nullable=False),
    sa.Column("modality", sa.String(20), nullable=False),
    sa.Column("device", sa.String(200)),
    sa.Column("treatment_area", sa.String(200)),
    sa.Column("fitzpatrick_type", sa.SmallInteger, nullable=False),
    sa.Column("downtime_days", sa.Float),
    sa.Column("improvement_score", sa.SmallInteger),
    sa.Column("satisfaction", sa.SmallInteger),
    sa.Column("procedure_minutes", sa.Float),
    sa.Column("cost", sa.Float),
    sa.Column("practitioner", sa.String(200)),
    sa.Column("follow_up_visits", sa.Integer),
    sa.CheckConstraint("fitzpatrick_type BETWEEN 1 AND 6", name="ck_outcomes_fitzpatrick"),
    sa.CheckConstraint("modality IN ('ablative', 'non-ablative')", name="ck_outcomes_modality"),
)

side_effects_table = sa.Table(
    "side_effects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("treatment_id", sa.String(200), nullable=False),
    sa.Column("effect", sa.String(40), nullable=False),
    sa.Column("effect_detail", sa.String(500)),
    sa.Column("severity", sa.String(20)),
    sa.Column("onset_day", sa.Float),
    sa.Column("resolved_day", sa.Float),
)

column_maps_table = sa.Table(
    "column_maps", metadata,
    sa.Column("headers_key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("mapping", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

meta_table = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(500), nullable=False),
)

# A columnar copy of a dataset's rows, one per kind ("outcomes", "side_effects"): the frames that
# loading the rows gives, as Parquet. Valid only for the dataset version and format it names.
blobs_table = sa.Table(
    "dataset_blobs", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


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
    #: Optional per-treatment effect flags (one bool column per effect, aligned with ``outcomes``) and
    #: each side effect's row position in ``outcomes``; :func:`analysis.records.filters.prepare` fills them
    #: once per dataset version so selections and statistics never join on text ids again.
    flags: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    side_pos: np.ndarray | None = field(default=None, repr=False, compare=False)


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
            metadata.create_all(self.engine, tables=[t for t in metadata.sorted_tables if t is not blobs_table])
            with self.engine.begin() as conn:
                conn.execute(sa.select(meta_table.c.value).limit(1)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None
        #: Whether ``dataset_blobs`` exists. A read-only database written by an older version has no such
        #: table and cannot get one: it still opens, and its datasets load from their rows.
        self._blobs = self._create_blobs_table()
        #: Cleared when storing a missing columnar copy failed for lack of write access: not tried again.
        self._store_missing_copies = True

    def _create_blobs_table(self) -> bool:
        try:
            blobs_table.create(self.engine, checkfirst=True)
            return True
        except sa.exc.SQLAlchemyError as exc:
            try:
                present = sa.inspect(self.engine).has_table(blobs_table.name)
            except sa.exc.SQLAlchemyError:
                present = False
            if not present:
                _log.warning("%s: cannot create the table %s (%s); datasets load from their rows.",
                             describe_url(self.url), blobs_table.name, getattr(exc, "orig", exc))
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
                       _meta_key: str | None = None) -> DatasetInfo:
        """Store an import as a new dataset in one transaction and return it.

        Raises :class:`DuplicateImport` when a file with the same SHA-256 is already stored
        (unless ``allow_duplicate``), :class:`RecordsRefused` when a record breaks the schema, and
        :class:`StoreError` when the database refuses the write; in all cases nothing is written.
        """
        name = _clean_name(name)
        if not allow_duplicate:
            for source in result.sources:
                existing = self._dataset_with_source(source.sha256)
                if existing is not None:
                    raise DuplicateImport(source.name, existing)
        if not self._blobs:
            raise StoreError(f"The database {describe_url(self.url)} has no table for the records "
                             f"({blobs_table.name}) and it could not be created, so nothing can be saved. "
                             "Give the app write permission on the database.")
        tables = {}
        for kind in ("outcomes", "side_effects"):
            records = result.records(kind)
            tables[kind] = records if isinstance(records, pa.Table) else columnar.to_arrow(records, kind)
        check_records(tables["outcomes"], tables["side_effects"])
        # Encoded before the transaction (or during the import, in the background), so other writers wait only
        # for the few inserts below.
        copies = _encode_copies(tables["outcomes"], tables["side_effects"],
                                {kind: result.parquet(kind) for kind in tables})
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
                    _insert_frame(conn, outcomes_table, result.outcomes, dataset_id, schema.OUTCOME_NAMES)
                    _insert_frame(conn, side_effects_table, result.side_effects, dataset_id, _SIDE_EFFECT_COLUMNS)
                _write_blobs(conn, dataset_id, 1, copies)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None
        info = self.get(dataset_id)
        if info is None:  # pragma: no cover - the transaction above committed it
            raise StoreError("The dataset was written but cannot be read back.")
        return info

    def rename(self, dataset_id: str, name: str) -> DatasetInfo:
        """Give a dataset a new name (its records and version are unchanged)."""
        name = _clean_name(name)
        with self._errors(), self.engine.begin() as conn:
            changed = conn.execute(datasets_table.update().where(datasets_table.c.id == dataset_id)
                                   .values(name=name)).rowcount
        if not changed:
            raise DatasetNotFound(dataset_id)
        return self.get(dataset_id)  # type: ignore[return-value]

    def delete(self, dataset_id: str) -> None:
        """Delete a dataset and all its records, in one transaction."""
        with self._errors(), self.engine.begin() as conn:
            if conn.execute(sa.select(datasets_table.c.id).where(datasets_table.c.id == dataset_id)).first() is None:
                raise DatasetNotFound(dataset_id)
            copies = (blobs_table,) if self._blobs else ()  # (also ON DELETE CASCADE)
            for table in (*copies, side_effects_table, outcomes_table, sources_table):
                conn.execute(table.delete().where(table.c.dataset_id == dataset_id))
            conn.execute(meta_table.delete().where(meta_table.c.value == dataset_id))
            conn.execute(datasets_table.delete().where(datasets_table.c.id == dataset_id))

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
            rows = conn.execute(sa.select(datasets_table).order_by(datasets_table.c.created_at.desc())).mappings().all()
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
            row = conn.execute(sa.select(datasets_table).where(datasets_table.c.id == dataset_id)).mappings().first()
            if row is None:
                return None
            sources = conn.execute(sa.select(sources_table).where(sources_table.c.dataset_id == dataset_id)).mappings().all()
        return _dataset_info(row, [_source_info(s) for s in sources])

    def load(self, dataset_id: str) -> Records:
        """Read a dataset's records back as typed frames. Raises :class:`DatasetNotFound`, and
        :class:`StoreError` when its records cannot be read.

        Reads the dataset's columnar copy when it has a valid one, else its rows (and then tries to
        store the copy for the next load; a database that refuses the write still loads).
        """
        info = self.get(dataset_id)
        if info is None:
            raise DatasetNotFound(dataset_id)
        with self._errors(), self.engine.connect() as conn:
            copied = _read_blobs(conn, info) if self._blobs else None
            outcomes, side_effects = copied or self._load_rows(conn, dataset_id)
        if copied is None:
            if (len(outcomes), len(side_effects)) != (info.treatments, info.side_effects):
                raise StoreError(f"The records of dataset '{info.name}' cannot be read: their stored copy is "
                                 "missing or damaged (see the server log). Delete the dataset and import its "
                                 "files again, or restore the database from a backup.")
            if self._blobs and self._store_missing_copies:
                self._store_missing_blobs(info, outcomes, side_effects)
        return Records(outcomes, side_effects, info.side_effects_recorded)

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
        reads the rows again.
        """
        try:
            with self.engine.connect() as conn:
                # SQLite: give up after 0.2 s instead of waiting up to 30 s for another import to finish.
                _sqlite_pragma(conn, "PRAGMA busy_timeout=200")
                try:
                    with conn.begin():
                        if conn.dialect.name == "postgresql":
                            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                        conn.execute(blobs_table.delete().where(blobs_table.c.dataset_id == info.id))
                        _write_blobs(conn, info.id, info.version, _encode_copies(outcomes, side_effects))
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

    def _dataset_with_source(self, sha256: str) -> DatasetInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sources_table.c.dataset_id).where(sources_table.c.sha256 == sha256)
                               .limit(1)).first()
        return self.get(row[0]) if row else None


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
    enforce): every outcome needs a unique treatment id, a date, a modality and a Fitzpatrick type
    1-6; every side effect a treatment id and an effect. Judged on the values that would be stored
    (:func:`analysis.records.columnar.to_arrow`: ids 1 and "1" are the same text, a type 4.0 is 4). Takes
    frames or tables of canonical values. Raises :class:`RecordsRefused`."""
    out = outcomes if isinstance(outcomes, pa.Table) else columnar.to_arrow(outcomes, "outcomes")
    side = side_effects if isinstance(side_effects, pa.Table) else columnar.to_arrow(side_effects, "side_effects")
    if _allowed(out, side):
        return
    ids = out.column("treatment_id").to_pandas()
    fitzpatrick = out.column("fitzpatrick_type").to_numpy(zero_copy_only=False)
    known = pc.is_in(out.column("modality"), value_set=pa.array(schema.MODALITIES, pa.string()))
    checks = (
        (out, "outcome", "treatment_id", ids.isna().to_numpy(), "has no treatment_id"),
        (out, "outcome", "treatment_id", (ids.duplicated() & ids.notna()).to_numpy(), "repeats a treatment_id"),
        (out, "outcome", "treatment_date", _missing(out, "treatment_date"), "has no treatment_date"),
        (out, "outcome", "modality", ~known.fill_null(False).to_numpy(zero_copy_only=False),
         "has a modality other than " + " or ".join(schema.MODALITIES)),
        (out, "outcome", "fitzpatrick_type", _missing(out, "fitzpatrick_type") | ~np.isin(fitzpatrick, range(1, 7)),
         "has a Fitzpatrick type outside 1-6"),
        (side, "side-effect", "treatment_id", _missing(side, "treatment_id"), "has no treatment_id"),
        (side, "side-effect", "effect", _missing(side, "effect"), "has no effect"),
    )
    for table, kind, column, bad, what in checks:
        where = np.flatnonzero(bad)
        if len(where):
            first = int(where[0])
            value = table.column(column)[first].as_py()
            raise RecordsRefused(f"Nothing was saved: {kind} record {first + 1} {what} "
                                 f"({column} = {value!r}; {len(where)} record(s) in all). "
                                 "The import should have rejected it: please report this as a bug.")
    raise RecordsRefused("Nothing was saved: a record breaks the store's schema. Please report this as a bug.")


def _missing(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).is_null().to_numpy(zero_copy_only=False)


def _allowed(outcomes: pa.Table, side_effects: pa.Table) -> bool:
    """True when :func:`check_records` passes (the checks in Arrow, without finding the first offender)."""
    def present(table: pa.Table, *names: str) -> bool:
        return all(table.column(name).null_count == 0 for name in names)

    if not (present(outcomes, "treatment_id", "treatment_date", "modality", "fitzpatrick_type")
            and present(side_effects, "treatment_id", "effect")):
        return False
    if len(outcomes) == 0:
        return True
    fitzpatrick = pc.min_max(outcomes.column("fitzpatrick_type"))
    known = pc.is_in(outcomes.column("modality"), value_set=pa.array(schema.MODALITIES, pa.string()))
    return (columnar.unique_text(outcomes.column("treatment_id"))
            and pc.all(known).as_py() is True
            and fitzpatrick["min"].as_py() >= 1 and fitzpatrick["max"].as_py() <= 6)


# --- writing rows ----------------------------------------------------------------------------
#
# A column is turned into the values the database stores ("canonical" values) once, column-wise with
# numpy: the row inserts and the columnar copy are both made from them, so the copy holds exactly
# what reading the rows back gives.

def _insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame, dataset_id: str,
                  columns: tuple[str, ...]) -> None:
    """Insert a frame's rows through the driver, in the caller's transaction (COPY on PostgreSQL)."""
    if not len(frame):
        return
    names = ("dataset_id", *columns)
    types = [table.c[name].type for name in columns]
    batches = (_row_tuples(chunk, columns, types, dataset_id) for chunk in _chunks(frame, _INSERT_CHUNK))
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy_rows(conn, table, names, batches)
    else:
        _executemany_rows(conn, table, names, batches)


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def _row_tuples(frame: pd.DataFrame, columns: tuple[str, ...], types: list[Any],
                dataset_id: str) -> list[tuple[Any, ...]]:
    """Rows as tuples of plain Python values: None for missing, ``YYYY-MM-DD`` for dates, int for integers."""
    values = [_python_values(*columnar.canonical(frame[name], _arrow_type(sql_type)), sql_type)
              for name, sql_type in zip(columns, types)]
    return list(zip(itertools.repeat(dataset_id, len(frame)), *values))


def _python_values(values: np.ndarray, missing: np.ndarray | None, sql_type: Any) -> list[Any]:
    if isinstance(sql_type, sa.Date):
        values = np.datetime_as_string(values, unit="D").astype(object)
    elif values.dtype != object:
        values = values.astype(object)
    if missing is not None and missing.any():
        values[missing] = None
    return values.tolist()


def _copy_rows(conn: Connection, table: sa.Table, names: tuple[str, ...],
               batches: Iterable[list[tuple[Any, ...]]]) -> None:
    """PostgreSQL: ``COPY ... FROM STDIN`` on the connection's own transaction (psycopg 3)."""
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(row)
    except dbapi.Error as exc:  # raised by the driver itself, not through SQLAlchemy: wrap it the same way
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=conn.dialect) from exc


def _executemany_rows(conn: Connection, table: sa.Table, names: tuple[str, ...],
                      batches: Iterable[list[tuple[Any, ...]]]) -> None:
    """``INSERT`` with the driver's executemany (no per-row SQLAlchemy parameter processing)."""
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if marker is None:  # pragma: no cover - SQLite and psycopg use one of the above
        for batch in batches:
            conn.execute(table.insert(), [dict(zip(names, row)) for row in batch])
        return
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
                 f"VALUES ({', '.join([marker] * len(names))})")
    for batch in batches:
        conn.exec_driver_sql(statement, batch)


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


# --- columnar copies -----------------------------------------------------------------------------

def _encode_copies(outcomes: pd.DataFrame | pa.Table, side_effects: pd.DataFrame | pa.Table,
                   encoded: dict[str, bytes | None] | None = None) -> dict[str, tuple[int, bytes]]:
    """Each kind's records (frames, or tables of canonical values) as Parquet, outcomes in load order:
    kind -> (rows, bytes). ``encoded``: encodings already made of these tables. The two are encoded in
    parallel (Arrow releases the GIL while it encodes)."""
    encoded = encoded or {}

    def encode(kind: str, records: pd.DataFrame | pa.Table) -> tuple[int, bytes]:
        table = records if isinstance(records, pa.Table) else columnar.to_arrow(records, kind)  # type: ignore[arg-type]
        data = encoded.get(kind)
        return table.num_rows, data if data is not None else columnar.to_parquet(table, ordered=kind == "outcomes")

    with ThreadPoolExecutor(max_workers=1) as pool:  # the side effects there, the outcomes here
        side = pool.submit(encode, "side_effects", side_effects)
        return {"outcomes": encode("outcomes", outcomes), "side_effects": side.result()}


def _write_blobs(conn: Connection, dataset_id: str, version: int, copies: dict[str, tuple[int, bytes]]) -> None:
    """Store a dataset's columnar copies (from :func:`_encode_copies`) in the caller's transaction."""
    for kind, (rows, data) in copies.items():
        _write_blob(conn, dataset_id, version, kind, rows, data)


def _write_blob(conn: Connection, dataset_id: str, version: int, kind: str, rows: int, data: bytes) -> None:
    conn.execute(blobs_table.insert().values(dataset_id=dataset_id, kind=kind, version=version,
                                             format=BLOB_FORMAT, rows=rows, data=data))


def _arrow_type(sql_type: Any) -> pa.DataType:
    if isinstance(sql_type, sa.Date):
        return pa.date32()
    if isinstance(sql_type, sa.Integer):
        return pa.int64()
    if isinstance(sql_type, sa.Float):
        return pa.float64()
    return pa.string()


def _read_blobs(conn: Connection, info: DatasetInfo) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """A dataset's frames from its columnar copies, or None when it has no valid copy (read the rows)."""
    rows = conn.execute(sa.select(blobs_table.c.kind, blobs_table.c.rows, blobs_table.c.data).where(
        (blobs_table.c.dataset_id == info.id) & (blobs_table.c.version == info.version)
        & (blobs_table.c.format == BLOB_FORMAT))).all()
    found = {row.kind: row for row in rows}
    expected = {"outcomes": info.treatments, "side_effects": info.side_effects}
    if set(found) != set(expected):
        return None
    frames = []
    for kind, count in expected.items():
        row = found[kind]
        try:
            frame = _decode_blob(row.data, kind)
        except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:
            _log.warning("Dataset %s: its columnar copy (%s) cannot be read (%s); loading the rows.", info.id,
                         kind, exc)
            return None
        if len(frame) != count or row.rows != count:
            _log.warning("Dataset %s: its columnar copy (%s) has %d rows, not %d; loading the rows.", info.id,
                         kind, len(frame), count)
            return None
        frames.append(frame)
    return frames[0], frames[1]


def _decode_blob(data: bytes, kind: str) -> pd.DataFrame:
    """Parquet bytes back to a record frame (:func:`analysis.records.columnar.to_frame`). Text is read
    dictionary-encoded where values repeat (every text column but the treatment id)."""
    text = [name for name in columnar.columns(kind) if columnar.arrow_type(name) == pa.string()]
    table = pq.read_table(pa.BufferReader(data), columns=list(columnar.columns(kind)),
                          read_dictionary=[name for name in text if name != "treatment_id"])
    return columnar.to_frame(table, kind)


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
