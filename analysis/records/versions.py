"""A dataset that lives: records added to it month after month, replaced, rolled back, with its history.

A dataset keeps its id (so every share link opens its newest records) while its ``version`` changes
with each import into it (so caches refresh). The rules of adding records, as ``data/README.md`` states
them for managers:

* a treatment id the dataset does not hold is **new** and is added;
* a treatment id it holds is **updated** when any of its values differs in the file (the file's row
  wins), and **unchanged** otherwise;
* when the file carries side effects (a side-effect file, or yes/no side-effect columns), they replace
  the side effects stored for every treatment the file holds; a treatment whose side effects differ is
  updated too. A file without side effects leaves the stored ones alone;
* treatments the file does not hold are kept: adding never deletes;
* a file identical (SHA-256) to one already imported into the dataset is skipped, and the report says so.

Replacing swaps all the records for the file's. Each of these is one transaction that first checks the
dataset is still at the version it was read at: two imports into one dataset at the same moment both land,
one after the other (the second is merged again onto the first's result), or the second is refused with
"try again" after a few attempts; an update is never lost. The previous version's columnar copy is
archived, so the most recent import can be rolled back.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from analysis.records import columnar, db, rejects, schema
from analysis.records.db import (archive_table, blobs_table, datasets_table, outcomes_table, side_effects_table,
                                 sources_table, versions_table)
from analysis.records.ingest import ImportResult
from analysis.records.store import (SAMPLE_OUTCOMES, SAMPLE_SIDE_EFFECTS, DatasetNotFound, Store, StoreError,
                                    check_records)

Action = Literal["import", "append", "replace", "rollback"]
#: The day the bundled sample was exported (``EXTRACTION_DATE`` in data/generate_sample.py): its side-effect records
#: are complete to this day however much later it is imported (see :func:`records_complete_to`).
SAMPLE_EXPORTED = date(2026, 3, 31)
ATTEMPTS = 4  #: merges tried when other imports into the same dataset keep landing first


class ConcurrentChange(StoreError):
    """Another import into the dataset kept landing first; nothing was written. Try again."""


@dataclass(frozen=True)
class Change:
    """What one import into a dataset (or a rollback) did."""

    dataset_id: str
    action: Action
    version: int               # the dataset's version afterwards (unchanged when skipped)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    treatments: int = 0        # the dataset's counts afterwards
    side_effects: int = 0
    skipped: str | None = None  # why nothing was changed (an identical file), if so

    def sentence(self) -> str:
        """The change in one plain sentence, for the command line and the app."""
        if self.skipped:
            return self.skipped
        if self.action == "rollback":
            return (f"Rolled back the most recent import: the dataset is back to {self.treatments} treatment(s) and "
                    f"{self.side_effects} side-effect record(s) (now version {self.version}).")
        if self.action == "replace":
            return (f"Replaced all records: {self.treatments} treatment(s) and {self.side_effects} side-effect "
                    f"record(s); {self.rejected} row(s) rejected (now version {self.version}).")
        return (f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged and {self.rejected} rejected "
                f"row(s); the dataset now holds {self.treatments} treatment(s) and {self.side_effects} side-effect "
                f"record(s) (version {self.version}).")


@dataclass(frozen=True)
class Version:
    """One entry of a dataset's history."""

    version: int
    action: str
    created_at: datetime
    user: str | None
    treatments: int
    side_effects: int
    files: tuple[dict, ...]
    counts: dict
    rolled_back: bool


def add_records(store: Store, dataset_id: str, result: ImportResult, *, replace: bool = False,
                user: str | None = None) -> Change:
    """Add an import's records to a dataset (or replace its records with them), as one new version."""
    _require_history(store)
    action: Action = "replace" if replace else "append"
    info = store.get(dataset_id)
    if info is None:
        raise DatasetNotFound(dataset_id)
    known = {s.sha256 for s in info.sources}
    if not replace and all(s.sha256 in known for s in result.sources):
        names = ", ".join(s.name for s in result.sources)
        return Change(dataset_id, action, info.version, treatments=info.treatments, side_effects=info.side_effects,
                      rejected=result.report.rows_rejected,
                      skipped=f"Skipped: {names} {'is' if len(result.sources) == 1 else 'are'} identical to a file "
                              f"already imported into '{info.name}', so nothing changed (version {info.version}).")
    for _ in range(ATTEMPTS):
        info = store.get(dataset_id)
        if info is None:
            raise DatasetNotFound(dataset_id)
        encoded = None
        if replace:
            outcomes, side = result.records("outcomes"), result.records("side_effects")
            counts = {"new": result.count("outcomes")}
            encoded = {kind: result.parquet(kind) for kind in ("outcomes", "side_effects")}
        else:
            current = _read_current(store, info)
            if current is None:
                continue  # a version landed between reading the dataset and its records: read again
            outcomes, side, counts = merge(*current, result)
        counts["rejected"] = result.report.rows_rejected
        check_records(outcomes, side)
        written = _write_version(store, info, action, outcomes, side, user, {
            **db.import_summary(result.report), "counts": counts}, sources=result, encoded=encoded)
        if written is not None:
            return Change(dataset_id, action, written, counts.get("new", 0), counts.get("updated", 0),
                          counts.get("unchanged", 0), counts["rejected"], len(outcomes), len(side))
    raise ConcurrentChange(f"Other imports into '{info.name}' kept landing at the same moment, so this one was not "
                           "saved. Try again.")


def merge(outcomes: pd.DataFrame | pa.Table, side_effects: pd.DataFrame | pa.Table, result: ImportResult
          ) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """The records after adding an import to them (the rules in the module docstring), and the counts.

    Works on the canonical values (:mod:`analysis.records.columnar`; frames are converted), in Arrow: the stored
    records are only filtered and concatenated with the file's, and compared with them only for the treatments
    both hold. Returns tables of canonical values, text dictionary-encoded as the stored records have it (see
    :func:`_concat`), outcomes in no particular order (the copy is written in load order)."""
    stored, stored_side = _table(outcomes, "outcomes"), _table(side_effects, "side_effects")
    incoming = _table(result.records("outcomes"), "outcomes")
    incoming_side = _table(result.records("side_effects"), "side_effects")
    stored_ids, ids = _plain(stored.column("treatment_id")), _plain(incoming.column("treatment_id"))
    stored_common = stored.filter(pc.is_in(stored_ids, value_set=ids))  # hashes the file's ids, not the dataset's
    common = _plain(stored_common.column("treatment_id"))
    held = pc.is_in(ids, value_set=common)
    changed = _changed_outcomes(stored_common, incoming.filter(held))
    carries_side = result.side_effects_recorded
    if carries_side and len(common):
        undecided = pc.filter(common, pc.invert(pc.is_in(common, value_set=changed)))
        changed = pa.concat_arrays([changed, _changed_effects(stored_side, incoming_side, undecided)])
    is_changed = pc.is_in(ids, value_set=changed)
    written = incoming.filter(pc.or_(pc.invert(held), is_changed))
    kept = stored.filter(pc.invert(pc.is_in(stored_ids, value_set=changed))) if len(changed) else stored
    merged = _concat([kept, written], "outcomes")
    side = stored_side
    if carries_side:
        written_ids = _plain(written.column("treatment_id"))
        side_ids = _plain(stored_side.column("treatment_id"))
        in_file = pc.is_in(side_ids, value_set=ids)
        added = incoming_side.filter(pc.is_in(_plain(incoming_side.column("treatment_id")), value_set=written_ids))
        if pc.any(in_file).as_py():  # the stored side effects of the file's unchanged treatments stay where they were
            unchanged = pc.and_(in_file, pc.invert(pc.is_in(side_ids, value_set=written_ids)))
            side = _concat([stored_side.filter(pc.invert(in_file)), added, stored_side.filter(unchanged)],
                           "side_effects")
        else:
            side = _concat([stored_side, added], "side_effects")
    counts = {"new": len(ids) - len(common), "updated": len(changed), "unchanged": len(common) - len(changed)}
    return merged, side, counts


def _read_current(store: Store, info: Any) -> tuple[pa.Table, pa.Table] | None:
    """The dataset's records at ``info.version`` as tables of canonical values, straight from its columnar copy
    (no frames made); from :meth:`Store.load` when it has no valid copy of that version. None when a later
    version has landed since ``info`` was read."""
    expected = {"outcomes": info.treatments, "side_effects": info.side_effects}
    with store._errors(), store.engine.connect() as conn:
        tables = db._read_tables(conn, info.id, info.version, expected)
        if tables is None and db._newer_copy(conn, info.id, info.version):
            return None
    if tables is not None:
        return tables
    current = store.load(info.id)  # (a later version read here is not written over: _claim checks the version)
    return columnar.to_arrow(current.outcomes, "outcomes"), columnar.to_arrow(current.side_effects, "side_effects")


def _table(records: pd.DataFrame | pa.Table, kind: columnar.Kind) -> pa.Table:
    """A kind's records as a table of its canonical values (text plain or dictionary-encoded, as given)."""
    if not isinstance(records, pa.Table):
        return columnar.to_arrow(records, kind)
    table = records.select(list(columnar.columns(kind)))
    for i, field in enumerate(table.schema):
        type_ = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if type_ != columnar.arrow_type(field.name):  # (a column of nulls only, say)
            table = table.set_column(i, field.name, table.column(i).cast(columnar.arrow_type(field.name)))
    return table


def _plain(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Values in one array, text plain (not dictionary-encoded), so that two tables compare by value."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _concat(tables: list[pa.Table], kind: columnar.Kind) -> pa.Table:
    """Tables of one kind's canonical values as one. A text column is dictionary-encoded when the first (stored)
    table has it so or it repeats few values (every text column but the ids: clinic, device, effect, ...), so
    the copy is written, and the next load reads it, as the import's was; the chunks then share one dictionary."""
    fields = []
    for field in tables[0].schema:
        type_ = columnar.arrow_type(field.name)
        if type_ == pa.string() and (pa.types.is_dictionary(field.type) or field.name not in _IDS):
            type_ = pa.dictionary(pa.int32(), pa.string())
        fields.append(pa.field(field.name, type_))
    target = pa.schema(fields)
    combined = pa.concat_tables([t if t.schema.equals(target) else t.cast(target) for t in tables])
    return combined.unify_dictionaries()


#: Text columns that hardly repeat: kept plain (a dictionary would be as large as the values).
_IDS = frozenset({"treatment_id", "patient_id"})


def _changed_outcomes(before: pa.Table, after: pa.Table) -> pa.Array:
    """Ids of the treatments whose values differ between the stored rows and the file's (the same treatments, in
    any order): cell by cell, equal values or both missing (a float's NaN counts as missing)."""
    ids = _plain(before.column("treatment_id"))
    if len(ids) == 0:
        return pa.array([], pa.string())
    after = after.take(pc.index_in(ids, value_set=_plain(after.column("treatment_id"))))
    differs = None
    for name in schema.OUTCOME_NAMES[1:]:
        a, b = _plain(before.column(name)), _plain(after.column(name))
        both_missing = pc.and_(pc.is_null(a, nan_is_null=True), pc.is_null(b, nan_is_null=True))
        differ = pc.invert(pc.or_(pc.fill_null(pc.equal(a, b), False), both_missing))
        differs = differ if differs is None else pc.or_(differs, differ)
    return pc.filter(ids, differs)


def _changed_effects(stored: pa.Table, incoming: pa.Table, treatments: pa.Array) -> pa.Array:
    """Of ``treatments``, those whose side effects in the file differ from the stored ones: compared in one pass,
    as multisets of records, every value as text ('' when missing)."""
    if len(treatments) == 0:
        return pa.array([], pa.string())
    names = list(columnar.columns("side_effects"))

    def records(table: pa.Table, weight: int) -> pa.Table:
        table = table.filter(pc.is_in(_plain(table.column("treatment_id")), value_set=treatments))
        text = [pc.fill_null(_plain(table.column(n)).cast(pa.string()), "") for n in names]
        return pa.table([*text, pa.array(np.full(table.num_rows, weight, dtype=np.int64))], names=[*names, "w"])

    balance = pa.concat_tables([records(stored, 1), records(incoming, -1)]).group_by(names).aggregate([("w", "sum")])
    differ = balance.filter(pc.not_equal(balance.column("w_sum"), 0)).column("treatment_id")
    return pc.unique(differ.combine_chunks())


def rollback(store: Store, dataset_id: str, *, user: str | None = None) -> Change:
    """Undo the most recent import into a dataset: its records go back to the version before it (as a new
    version, so caches refresh). The first import cannot be rolled back (delete the dataset instead)."""
    _require_history(store)
    info = store.get(dataset_id)
    if info is None:
        raise DatasetNotFound(dataset_id)
    with store._errors(), store.engine.begin() as conn:  # (a busy or refusing database: a StoreError)
        latest = conn.execute(sa.select(versions_table).where(
            (versions_table.c.dataset_id == dataset_id) & (versions_table.c.action != "rollback")
            & (versions_table.c.rolled_back == sa.false())).order_by(versions_table.c.version.desc()).limit(1)
        ).mappings().first()
        if latest is None or latest["action"] == "import":
            raise ValueError(f"'{info.name}' has no import to roll back: only records added to it after it was "
                             "created can be. To remove the dataset, delete it.")
        previous = latest["version"] - 1
        copies = conn.execute(sa.select(archive_table).where(
            (archive_table.c.dataset_id == dataset_id) & (archive_table.c.version == previous))).mappings().all()
        if {c["kind"] for c in copies} != {"outcomes", "side_effects"}:
            raise StoreError(f"The records of '{info.name}' before its last import were not kept, so it cannot be "
                             "rolled back.")
        rows = {c["kind"]: c["rows"] for c in copies}
        version = info.version + 1
        if not _claim(conn, info, version, rows["outcomes"], rows["side_effects"]):
            raise ConcurrentChange(f"'{info.name}' changed while it was being rolled back. Look at its history and "
                                   "try again.")
        _archive_current(conn, info)
        conn.execute(blobs_table.delete().where(blobs_table.c.dataset_id == dataset_id))
        for c in copies:
            db._write_blob(conn, dataset_id, version, c["kind"], c["rows"], c["data"])
        files = json.loads(latest["summary"]).get("files", [])
        for f in files:  # the rolled-back files may be imported again
            conn.execute(sources_table.delete().where((sources_table.c.dataset_id == dataset_id)
                                                      & (sources_table.c.sha256 == f["sha256"])))
        conn.execute(versions_table.update().where((versions_table.c.dataset_id == dataset_id)
                                                   & (versions_table.c.version == latest["version"]))
                     .values(rolled_back=True))
        rejects.forget(conn, dataset_id, latest["version"])
        db.record_version(conn, dataset_id, version, "rollback", datetime.now(timezone.utc), user, rows["outcomes"],
                          rows["side_effects"], {"undid": latest["version"], "files": files})
        if store.sql_rows:
            data = {c["kind"]: c["data"] for c in copies}
            _rewrite_rows(conn, dataset_id, db._decode_blob(data["outcomes"], "outcomes"),
                          db._decode_blob(data["side_effects"], "side_effects"))
    return Change(dataset_id, "rollback", version, treatments=rows["outcomes"], side_effects=rows["side_effects"])


def history(store: Store, dataset_id: str) -> list[Version]:
    """A dataset's imports, oldest first (a dataset from before histories were kept: its first import, as the
    dataset records it)."""
    info = store.get(dataset_id)
    if info is None:
        raise DatasetNotFound(dataset_id)
    rows = []
    if store._history:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(versions_table).where(versions_table.c.dataset_id == dataset_id)
                                .order_by(versions_table.c.version)).mappings().all()
    if not rows:
        files = tuple({"file": s.file_name, "sha256": s.sha256, "kind": s.kind, "rows_read": s.rows_read,
                       "rows_accepted": s.rows_accepted, "rows_rejected": s.rows_rejected} for s in info.sources)
        return [Version(info.version, "import", info.created_at, None, info.treatments, info.side_effects, files,
                        {"rejected": info.rows_rejected}, False)]
    out = []
    for r in rows:
        summary = json.loads(r["summary"])
        created = r["created_at"] if r["created_at"].tzinfo else r["created_at"].replace(tzinfo=timezone.utc)
        out.append(Version(r["version"], r["action"], created, r["user"], r["treatments"], r["side_effects"],
                           tuple(summary.get("files", [])), summary.get("counts", {}), bool(r["rolled_back"])))
    return out


def last_import(store: Store, dataset_id: str) -> datetime:
    """When the records a dataset holds now were imported: its newest import, addition or replacement that was
    not rolled back (a rollback brings back an earlier one's records). How far its side-effect records are
    complete is :func:`records_complete_to`."""
    return _or_created(store, dataset_id, last_import_in(history(store, dataset_id)))


def last_import_in(entries: list[Version]) -> datetime | None:
    """:func:`last_import` from a dataset's history (as ``Access.history`` gives it); None when it has none."""
    kept = [v for v in entries if v.action != "rollback" and not v.rolled_back]
    return max(v.created_at for v in kept) if kept else None


def records_complete_to(store: Store, dataset_id: str) -> datetime:
    """The moment a dataset's side-effect records are complete to: events still unresolved were followed up to
    it (Kaplan-Meier censors them there) and months are judged only once their follow-up is over.

    A clinic's export is complete to the day it was exported, which is at the latest the day it was imported, so
    each import counts as complete to the moment it was made (the newest import, addition or replacement not
    rolled back). The one export whose date is known is the bundled sample (data/sample_*.csv, recognised by
    the files' SHA-256): it is complete to :data:`SAMPLE_EXPORTED` however much later it
    was imported. Counting it complete to its import date instead would follow every event unresolved on that
    day for months after the export, with no resolution recorded: long flat tails on the survival curves.
    """
    return _or_created(store, dataset_id, records_complete_to_in(history(store, dataset_id)))


def _or_created(store: Store, dataset_id: str, found: datetime | None) -> datetime:
    """``found``, or for a dataset with no history the moment it was created."""
    if found is not None:
        return found
    info = store.get(dataset_id)
    if info is None:
        raise DatasetNotFound(dataset_id)
    return info.created_at


def records_complete_to_in(entries: list[Version]) -> datetime | None:
    """:func:`records_complete_to` from a dataset's history (as ``Access.history`` gives it); None when it has
    none. Of the imports whose records the dataset holds now (from its latest replacement, or its first import, on;
    a replaced import's records are gone), the latest of the moments each is complete to."""
    kept = sorted((v for v in entries if v.action != "rollback" and not v.rolled_back), key=lambda v: v.version)
    bases = [i for i, v in enumerate(kept) if v.action in ("import", "replace")]
    held = kept[bases[-1]:] if bases else kept
    return max(_complete_to(v) for v in held) if held else None


def _complete_to(version: Version) -> datetime:
    """The moment one import's records are complete to: when it was made, or the bundled sample's export date."""
    hashes = {f.get("sha256") for f in version.files}
    if hashes and hashes <= _sample_hashes():
        return min(version.created_at, datetime.combine(SAMPLE_EXPORTED, time.min, tzinfo=timezone.utc))
    return version.created_at


@functools.lru_cache(maxsize=1)
def _sample_hashes() -> frozenset[str]:
    """SHA-256 of the bundled sample's files (none when they are not installed)."""
    found = set()
    for path in (SAMPLE_OUTCOMES, SAMPLE_SIDE_EFFECTS):
        try:
            found.add(hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError:
            continue
    return frozenset(found)


# --- writing a version -------------------------------------------------------------------------------

def _write_version(store: Store, info: Any, action: Action, outcomes: pd.DataFrame | pa.Table,
                   side: pd.DataFrame | pa.Table, user: str | None, summary: dict, sources: ImportResult,
                   encoded: dict[str, bytes | None] | None = None) -> int | None:
    """Write the dataset's next version in one transaction (records as frames or tables of canonical values;
    ``encoded``: their Parquet copies already made); None when another version landed first."""
    copies = db._encode_copies(outcomes, side, encoded)
    version = info.version + 1
    now = datetime.now(timezone.utc)
    try:
        with store.engine.begin() as conn:
            if not _claim(conn, info, version, len(outcomes), len(side), sources.report.rows_rejected):
                return None
            _archive_current(conn, info)
            conn.execute(blobs_table.delete().where(blobs_table.c.dataset_id == info.id))
            db._write_blobs(conn, info.id, version, copies)
            if action == "replace":  # the earlier files' records are gone: importing one again is not a repeat
                conn.execute(sources_table.delete().where(sources_table.c.dataset_id == info.id))
            conn.execute(sources_table.insert(), [
                {"dataset_id": info.id, "file_name": f.file, "sha256": f.sha256, "kind": f.kind,
                 "rows_read": f.rows_read, "rows_accepted": f.rows_accepted, "rows_rejected": f.rows_rejected}
                for f in sources.report.files])
            db.record_version(conn, info.id, version, action, now, user, len(outcomes), len(side), summary)
            rejects.record(conn, store, info.id, version, sources.report)
            if store.sql_rows:
                _rewrite_rows(conn, info.id, _frame(outcomes, "outcomes"), _frame(side, "side_effects"))
    except sa.exc.IntegrityError:
        return None  # the same version number written by another import at the same moment
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"The database refused the import: {getattr(exc, 'orig', exc)}") from None
    return version


def _claim(conn: Any, info: Any, version: int, treatments: int, side_effects: int, rejected: int | None = None) -> bool:
    """Move the dataset to ``version`` if it is still at the version it was read at (the row lock makes a
    second writer wait, then find the version moved on)."""
    values = {"version": version, "treatments": treatments, "side_effects": side_effects}
    if rejected is not None:
        values["rows_rejected"] = rejected
    done = conn.execute(datasets_table.update().where((datasets_table.c.id == info.id)
                                                      & (datasets_table.c.version == info.version)).values(**values))
    return done.rowcount == 1


def _archive_current(conn: Any, info: Any) -> None:
    """Keep the copy being replaced, so that this change can be rolled back."""
    columns = [blobs_table.c.dataset_id, blobs_table.c.version, blobs_table.c.kind, blobs_table.c.format,
               blobs_table.c.rows, blobs_table.c.data]
    conn.execute(archive_table.delete().where((archive_table.c.dataset_id == info.id)
                                              & (archive_table.c.version == info.version)))
    conn.execute(archive_table.insert().from_select(
        ["dataset_id", "version", "kind", "format", "rows", "data"],
        sa.select(*columns).where((blobs_table.c.dataset_id == info.id) & (blobs_table.c.version == info.version))))


def _frame(records: pd.DataFrame | pa.Table, kind: columnar.Kind) -> pd.DataFrame:
    return columnar.to_frame(records, kind) if isinstance(records, pa.Table) else records


def _rewrite_rows(conn: Any, dataset_id: str, outcomes: pd.DataFrame, side: pd.DataFrame) -> None:
    for table in (side_effects_table, outcomes_table):
        conn.execute(table.delete().where(table.c.dataset_id == dataset_id))
    db._insert_frame(conn, outcomes_table, outcomes, dataset_id, schema.OUTCOME_NAMES)
    db._insert_frame(conn, side_effects_table, side, dataset_id, schema.SIDE_EFFECT_FRAME_COLUMNS)


def _require_history(store: Store) -> None:
    if not store._history or not store._blobs:
        raise StoreError("This database cannot keep a dataset's history (it is read-only or was written by an older "
                         "version that cannot be upgraded), so records cannot be added to a dataset. Import them as "
                         "a new dataset.")


