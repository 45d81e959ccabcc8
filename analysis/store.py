"""Durable storage of datasets (named imports) with SQLAlchemy: SQLite by default, PostgreSQL when shared.

A dataset is written in one transaction (it lands whole or not at all), has a random URL-safe id
of 128 bits (it goes into share links) and a ``version`` that changes whenever its records
change, so callers can cache by ``(id, version)``. Records are stored typed and canonical, so
reading them back needs no re-parsing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from analysis import schema
from analysis.ingest import ImportProblem, ImportResult, SourceFile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB_PATH = ROOT / "data" / "laserdash.db"
DB_URL_ENV = "LASERDASH_DB_URL"
SAMPLE_OUTCOMES = ROOT / "data" / "sample_outcomes.csv"
SAMPLE_SIDE_EFFECTS = ROOT / "data" / "sample_side_effects.csv"
SAMPLE_NAME = "Sample clinics (synthetic)"
SCHEMA_VERSION = "1"
_INSERT_CHUNK = 20_000
_ID_PATTERN = re.compile(r"^d[A-Za-z0-9_-]{22}$")


class StoreError(RuntimeError):
    """The database cannot be used (damaged, read-only, full, unreachable); the message says what to do."""


class DatasetNotFound(LookupError):
    """No dataset has this id. The message never names other datasets."""

    def __init__(self, dataset_id: str) -> None:
        shown = dataset_id if is_valid_dataset_id(dataset_id) else "(malformed id)"
        super().__init__(f"No dataset with id {shown}. It may have been deleted, or the link is incomplete.")


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
    """A dataset's records as typed frames (see :mod:`analysis.schema` for the columns).

    ``side_effects_recorded`` is False when the import had no side-effect file, no flag columns and
    no event: then side-effect rates are unknown, not zero.
    """

    outcomes: pd.DataFrame
    side_effects: pd.DataFrame
    side_effects_recorded: bool = True
    #: Optional per-treatment effect flags (one bool column per effect, aligned with ``outcomes``) and
    #: each side effect's row position in ``outcomes``; :func:`analysis.filters.prepare` fills them
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
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout, and its folder is created."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """Datasets in a SQL database. Create once per process and share (it holds a connection pool)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        try:
            self.engine = make_engine(self.url)
            metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                conn.execute(sa.select(meta_table.c.value).limit(1)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from None

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
        (unless ``allow_duplicate``) and :class:`StoreError` when the database refuses the write;
        in both cases nothing is written.
        """
        name = _clean_name(name)
        if not allow_duplicate:
            for source in result.sources:
                existing = self._dataset_with_source(source.sha256)
                if existing is not None:
                    raise DuplicateImport(source.name, existing)
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
                    treatments=len(result.outcomes), side_effects=len(result.side_effects),
                    rows_rejected=report.rows_rejected, report=json.dumps(summary)))
                conn.execute(sources_table.insert(), [
                    {"dataset_id": dataset_id, "file_name": f.file, "sha256": f.sha256, "kind": f.kind,
                     "rows_read": f.rows_read, "rows_accepted": f.rows_accepted,
                     "rows_rejected": f.rows_rejected} for f in report.files])
                _insert_frame(conn, outcomes_table, result.outcomes, dataset_id, schema.OUTCOME_NAMES)
                _insert_frame(conn, side_effects_table, result.side_effects, dataset_id,
                              ("treatment_id", "effect", "effect_detail", "severity", "onset_day",
                               "resolved_day"))
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
            for table in (side_effects_table, outcomes_table, sources_table):
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
        """Read a dataset's records back as typed frames. Raises :class:`DatasetNotFound`."""
        info = self.get(dataset_id)
        if info is None:
            raise DatasetNotFound(dataset_id)
        with self._errors(), self.engine.connect() as conn:
            out = pd.read_sql(sa.select(*[outcomes_table.c[n] for n in schema.OUTCOME_NAMES])
                              .where(outcomes_table.c.dataset_id == dataset_id)
                              .order_by(outcomes_table.c.treatment_date, outcomes_table.c.treatment_id), conn)
            side = pd.read_sql(sa.select(side_effects_table.c.treatment_id, side_effects_table.c.effect,
                                         side_effects_table.c.effect_detail, side_effects_table.c.severity,
                                         side_effects_table.c.onset_day, side_effects_table.c.resolved_day)
                               .where(side_effects_table.c.dataset_id == dataset_id)
                               .order_by(side_effects_table.c.id), conn)
        return Records(schema.coerce_outcomes(out), schema.coerce_side_effects(side), info.side_effects_recorded)

    def ensure_sample(self) -> DatasetInfo | None:
        """Import the bundled sample data when the store holds no dataset at all; return it."""
        if self.datasets():
            return None
        from analysis.ingest import import_files  # local: keeps start-up light for readers

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


def _insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame, dataset_id: str,
                  columns: tuple[str, ...]) -> None:
    for chunk in _chunks(frame, _INSERT_CHUNK):
        rows = _frame_rows(chunk, columns)
        for row in rows:
            row["dataset_id"] = dataset_id
        if rows:
            conn.execute(table.insert(), rows)


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def _frame_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (None for missing, date for dates, int for small ints)."""
    data: dict[str, list[Any]] = {}
    for name in columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            values = [None if pd.isna(v) else v.date() for v in col]
        elif pd.api.types.is_float_dtype(col):
            arr = col.to_numpy(dtype="float64")
            obj = arr.astype(object)
            obj[np.isnan(arr)] = None
            if name in ("improvement_score", "satisfaction", "follow_up_visits"):
                obj = np.array([None if v is None else int(v) for v in obj], dtype=object)
            values = obj.tolist()
        elif pd.api.types.is_integer_dtype(col):
            values = [int(v) for v in col]
        else:
            values = [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                      for v in col.astype(object)]
        data[name] = values
    return [dict(zip(columns, values)) for values in zip(*(data[c] for c in columns))]


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
