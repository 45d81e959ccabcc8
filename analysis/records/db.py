"""The store's SQL tables, and how records are checked against them, written as rows and kept as columnar copies.

:mod:`analysis.records.store` owns the datasets (ids, versions, transactions, errors); this module holds
what it writes: the table definitions, :func:`refusal` (what the row tables' keys and constraints
would refuse), the bulk row inserts (``executemany`` on SQLite, ``COPY`` on PostgreSQL) and the
Parquet copies in ``dataset_blobs`` that :meth:`analysis.records.store.Store.load` reads. Everything
here runs in the caller's connection and transaction.
"""

from __future__ import annotations

import itertools
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analysis.records import columnar, schema

#: Rows per batch handed to the database driver (bounds the memory of the Python row tuples).
_INSERT_CHUNK = 50_000
#: Encoding of the columnar copies; a copy in another format is ignored (read from the rows, rewritten).
BLOB_FORMAT = "parquet-1"
_log = logging.getLogger(__name__)


# --- the tables ------------------------------------------------------------------------------------

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


# Every import into a dataset, newest last: the history a manager sees, and what a rollback undoes.
versions_table = sa.Table(
    "dataset_versions", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("action", sa.String(20), nullable=False),        # import, append, replace, rollback
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user", sa.String(320)),                           # who, once sign-in exists
    sa.Column("treatments", sa.Integer, nullable=False),       # the dataset's counts after it
    sa.Column("side_effects", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),              # JSON: files, counts, notes, what it undid
    sa.Column("rolled_back", sa.Boolean, nullable=False, default=False),
)

# Who may see and change a dataset once sign-in is configured (analysis.records.access): one row per grant.
# ``grantee`` is an e-mail address (lower case), "@domain" for a whole e-mail domain, or "*" for everyone
# signed in; ``role`` is "owner" (exactly the creator's address), "editor" or "viewer".
access_table = sa.Table(
    "dataset_access", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("grantee", sa.String(320), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
    sa.CheckConstraint("role IN ('owner', 'editor', 'viewer')", name="ck_access_role"),
)

# Deleted datasets wait here (restorable) until they are purged: a dataset with a row here is gone from every
# view and link, but keeps its records, history and shares.
bin_table = sa.Table(
    "dataset_bin", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_by", sa.String(320)),
)

# Every change to a dataset, who made it and when: the audit trail. No foreign key: the record outlives the
# dataset. ``details`` is JSON of counts, file names and shares, never a record's value.
audit_table = sa.Table(
    "audit_trail", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user", sa.String(320)),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("dataset_id", sa.String(32), nullable=False, index=True),
    sa.Column("dataset_name", sa.String(200), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
)


def live(table: sa.Table = datasets_table) -> Any:
    """The condition that a dataset (``table.c.id``, or ``table.c.dataset_id``) is not in the bin."""
    column = table.c.id if table is datasets_table else table.c.dataset_id
    return ~sa.exists().where(bin_table.c.dataset_id == column)


def record_audit(conn: Connection, user: str | None, action: str, dataset_id: str, name: str, when: Any,
                 **details: Any) -> None:
    """Add a change to the audit trail, in the caller's transaction."""
    conn.execute(audit_table.insert().values(at=when, user=user, action=action, dataset_id=dataset_id,
                                             dataset_name=name, details=json.dumps(details, default=str)))


# The columnar copies of a dataset's earlier versions (as ``dataset_blobs`` held them), so that the most
# recent import can be rolled back.
archive_table = sa.Table(
    "dataset_archive", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


# The signals ``python -m analysis watch`` has reported for a dataset (analysis.records.watched), so that each is
# reported once. ``signal`` is the SHA-256 of ``identity``, the JSON of what makes the signal itself (its kind,
# effect, clinic, modality or unit, month and rule): never a record's value, so never a patient identifier.
watch_table = sa.Table(
    "watch_signals", metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("signal", sa.String(64), primary_key=True),
    sa.Column("identity", sa.Text, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
)


# --- what the schema allows -------------------------------------------------------------------

def refusal(outcomes: pd.DataFrame | pa.Table, side_effects: pd.DataFrame | pa.Table) -> str | None:
    """Why the store's schema does not allow these records (what the row tables' keys and constraints
    enforce), or None when it does: every outcome needs a unique treatment id, a date, a modality and
    a Fitzpatrick type 1-6; every side effect a treatment id and an effect. Judged on the values that
    would be stored (:func:`analysis.records.columnar.to_arrow`: ids 1 and "1" are the same text, a type
    4.0 is 4). Takes frames or tables of canonical values. The store refuses them with this reason
    (:func:`analysis.records.store.check_records`)."""
    out = outcomes if isinstance(outcomes, pa.Table) else columnar.to_arrow(outcomes, "outcomes")
    side = side_effects if isinstance(side_effects, pa.Table) else columnar.to_arrow(side_effects, "side_effects")
    if _allowed(out, side):
        return None
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
            return (f"Nothing was saved: {kind} record {first + 1} {what} "
                    f"({column} = {value!r}; {len(where)} record(s) in all). "
                    "The import should have rejected it: please report this as a bug.")
    return "Nothing was saved: a record breaks the store's schema. Please report this as a bug."


def _missing(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).is_null().to_numpy(zero_copy_only=False)


def _allowed(outcomes: pa.Table, side_effects: pa.Table) -> bool:
    """True when :func:`refusal` finds nothing (the checks in Arrow, without finding the first offender)."""
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


def _read_blobs(conn: Connection, dataset_id: str, version: int,
                expected: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]] | None:
    """A dataset's frames from its columnar copies of ``version``, or None when it has no valid copy (read
    the rows). ``expected``: the number of records of each kind, outcomes first. Third: what the copies' ids
    give while they are still Arrow text, as :class:`~analysis.records.store.Records` fields: ``side_pos``, each
    side effect's row among the outcomes (:func:`analysis.records.columnar.side_positions`), and
    ``patient_keys``, each outcome's patient id as an integer (:func:`analysis.records.columnar.id_keys`); each
    None when the ids do not allow it."""
    copies = _read_copies(conn, dataset_id, version, expected, _decode_copy)
    if copies is None:
        return None
    outcomes, side_effects = copies
    ids, side_ids = outcomes.table.column("treatment_id"), side_effects.table.column("treatment_id")
    return outcomes.frame, side_effects.frame, {"side_pos": columnar.side_positions(ids, side_ids),
                                                "patient_keys": columnar.id_keys(outcomes.table.column("patient_id"))}


def _read_tables(conn: Connection, dataset_id: str, version: int,
                 expected: dict[str, int]) -> tuple[pa.Table, pa.Table] | None:
    """A dataset's records of ``version`` as tables of canonical values, straight from its columnar copies (no
    frames made; text dictionary-encoded where the copy keeps it so), or None when it has no valid copy."""
    return _read_copies(conn, dataset_id, version, expected, _decode_table)  # type: ignore[return-value]


def _read_copies(conn: Connection, dataset_id: str, version: int, expected: dict[str, int],
                 decode: Callable[[bytes, str], Any]) -> tuple[Any, Any] | None:
    rows = conn.execute(sa.select(blobs_table.c.kind, blobs_table.c.rows, blobs_table.c.data).where(
        (blobs_table.c.dataset_id == dataset_id) & (blobs_table.c.version == version)
        & (blobs_table.c.format == BLOB_FORMAT))).all()
    found = {row.kind: row for row in rows}
    if set(found) != set(expected):
        return None
    decoded = []
    for kind, count in expected.items():
        row = found[kind]
        try:
            records = decode(row.data, kind)
        except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:
            _log.warning("Dataset %s: its columnar copy (%s) cannot be read (%s); loading the rows.", dataset_id,
                         kind, exc)
            return None
        if len(records) != count or row.rows != count:
            _log.warning("Dataset %s: its columnar copy (%s) has %d rows, not %d; loading the rows.", dataset_id,
                         kind, len(records), count)
            return None
        decoded.append(records)
    return decoded[0], decoded[1]


def record_version(conn: Connection, dataset_id: str, version: int, action: str, when: Any, user: str | None,
                   treatments: int, side_effects: int, summary: dict) -> None:
    """Add a dataset's new version to its history, in the caller's transaction."""
    conn.execute(versions_table.insert().values(dataset_id=dataset_id, version=version, action=action, created_at=when,
                                                user=user, treatments=treatments, side_effects=side_effects,
                                                summary=json.dumps(summary), rolled_back=False))


def import_summary(report: Any) -> dict:
    """What the history keeps of an import's report: its files (names, SHA-256, counts) and notes. Never a
    record's value, so never a patient identifier."""
    return {"files": [{"file": f.file, "sha256": f.sha256, "kind": f.kind, "rows_read": f.rows_read,
                       "rows_accepted": f.rows_accepted, "rows_rejected": f.rows_rejected} for f in report.files],
            "notes": list(report.notes), "rows_rejected": report.rows_rejected}


def _newer_copy(conn: Connection, dataset_id: str, version: int) -> bool:
    """Whether the dataset's columnar copy is of a later version than ``version`` (one landed meanwhile)."""
    row = conn.execute(sa.select(sa.func.max(blobs_table.c.version)).where(blobs_table.c.dataset_id == dataset_id)).first()
    return row is not None and row[0] is not None and row[0] > version


def _decode_blob(data: bytes, kind: str) -> pd.DataFrame:
    """Parquet bytes back to a record frame (:func:`analysis.records.columnar.to_frame`)."""
    return _decode_copy(data, kind).frame


@dataclass(frozen=True)
class _Decoded:
    frame: pd.DataFrame
    table: pa.Table

    def __len__(self) -> int:  # the rows, as _read_copies checks them
        return len(self.frame)


def _decode_copy(data: bytes, kind: str) -> _Decoded:
    """Parquet bytes back to a record frame, and the table it was made from. Text is read
    dictionary-encoded where values repeat (every text column but the treatment and patient ids: a patient has
    a few treatments at most, so a dictionary of patient ids is hashed, and its strings made, for little; at a
    million treatments reading them plain halves the time of this function)."""
    text = [name for name in columnar.columns(kind) if columnar.arrow_type(name) == pa.string()]
    table = pq.read_table(pa.BufferReader(data), columns=list(columnar.columns(kind)),
                          read_dictionary=[name for name in text if name not in ("treatment_id", "patient_id")])
    return _Decoded(columnar.to_frame(table, kind), table)


def _decode_table(data: bytes, kind: str) -> pa.Table:
    """Parquet bytes back to a table of canonical values, text as the copy keeps it (plain or dictionary-encoded:
    the Arrow schema stored with it says which). Raises ``TypeError`` when a column is not of its canonical type."""
    table = pq.read_table(pa.BufferReader(data), columns=list(columnar.columns(kind)))
    for field in table.schema:
        type_ = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if type_ != columnar.arrow_type(field.name):
            raise TypeError(f"{field.name} is stored as {field.type}, not {columnar.arrow_type(field.name)}")
    return table
