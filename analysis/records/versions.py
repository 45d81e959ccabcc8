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

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from analysis.records import db, rejects, schema
from analysis.records.db import (archive_table, blobs_table, datasets_table, outcomes_table, side_effects_table,
                                 sources_table, versions_table)
from analysis.records.ingest import ImportResult
from analysis.records.store import DatasetNotFound, Store, StoreError, check_records

Action = Literal["import", "append", "replace", "rollback"]
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
        current = store.load(dataset_id)
        if replace:
            outcomes, side, counts = result.outcomes, result.side_effects, {"new": result.count("outcomes")}
        else:
            outcomes, side, counts = merge(current.outcomes, current.side_effects, result)
        counts["rejected"] = result.report.rows_rejected
        check_records(outcomes, side)
        written = _write_version(store, info, action, outcomes, side, user, {
            **db.import_summary(result.report), "counts": counts}, sources=result)
        if written is not None:
            return Change(dataset_id, action, written, counts.get("new", 0), counts.get("updated", 0),
                          counts.get("unchanged", 0), counts["rejected"], len(outcomes), len(side))
    raise ConcurrentChange(f"Other imports into '{info.name}' kept landing at the same moment, so this one was not "
                           "saved. Try again.")


def merge(outcomes: pd.DataFrame, side_effects: pd.DataFrame, result: ImportResult
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The records after adding an import to them (the rules in the module docstring), and the counts."""
    incoming, incoming_side = result.outcomes, result.side_effects
    stored = pd.Index(outcomes["treatment_id"])
    ids = pd.Index(incoming["treatment_id"])
    held = ids.isin(stored)
    new_ids = set(ids[~held])
    common = ids[held]
    before = outcomes.set_index("treatment_id").loc[common, list(schema.OUTCOME_NAMES[1:])]
    after = incoming.set_index("treatment_id").loc[common, list(schema.OUTCOME_NAMES[1:])]
    differs = ~(_same(before, after).all(axis=1))
    changed = set(common[differs.to_numpy()])
    carries_side = result.side_effects_recorded
    if carries_side:
        undecided = set(common) - changed
        before_sets, after_sets = _effect_sets(side_effects, undecided), _effect_sets(incoming_side, undecided)
        changed |= {t for t in undecided if before_sets.get(t, ()) != after_sets.get(t, ())}
    written = new_ids | changed
    kept = outcomes[~outcomes["treatment_id"].isin(changed)]
    merged = pd.concat([kept, incoming[incoming["treatment_id"].isin(written)]], ignore_index=True)
    if carries_side:
        file_ids = set(ids)
        side = pd.concat([side_effects[~side_effects["treatment_id"].isin(file_ids)],
                          incoming_side[incoming_side["treatment_id"].isin(written)],
                          side_effects[side_effects["treatment_id"].isin(file_ids - written)]], ignore_index=True)
    else:
        side = side_effects
    counts = {"new": len(new_ids), "updated": len(changed), "unchanged": len(common) - len(changed)}
    return schema.coerce_outcomes(merged), schema.coerce_side_effects(side), counts


def _same(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Cell by cell: equal values, or both missing."""
    equal = pd.DataFrame({c: (a[c].to_numpy(dtype=object) == b[c].to_numpy(dtype=object)) for c in a.columns},
                         index=a.index)
    return equal | (a.isna() & b.isna())


def _effect_sets(side: pd.DataFrame, treatments: set[str]) -> dict[str, tuple[str, ...]]:
    """Each of these treatments' side effects, as a sorted tuple of one text per record (every value, a
    missing one as ''), to compare a treatment's stored side effects with a file's in one pass."""
    rows = side[side["treatment_id"].isin(treatments)]
    if rows.empty:
        return {}
    values = rows.drop(columns="treatment_id").astype(object)
    text = values.where(values.notna(), "").astype(str)
    keys = text.iloc[:, 0]
    for column in text.columns[1:]:
        keys = keys + "\x1f" + text[column]
    ordered = pd.DataFrame({"id": rows["treatment_id"].to_numpy(), "key": keys.to_numpy()}).sort_values(["id", "key"])
    return {t: tuple(group) for t, group in ordered.groupby("id", sort=False)["key"]}


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


# --- writing a version -------------------------------------------------------------------------------

def _write_version(store: Store, info: Any, action: Action, outcomes: pd.DataFrame, side: pd.DataFrame,
                   user: str | None, summary: dict, sources: ImportResult) -> int | None:
    """Write the dataset's next version in one transaction; None when another version landed first."""
    copies = db._encode_copies(outcomes, side)
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
                _rewrite_rows(conn, info.id, outcomes, side)
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


