"""Deletes that can be undone: a deleted dataset waits in the bin, restorable, until it is purged.

:func:`move_to_bin` takes a dataset out of every view and link at once (the store's listings and lookups skip
datasets in the bin), but keeps its records, history and shares. :func:`restore` brings it back under the
same id, so its share links work again. :func:`purge_expired` deletes for good what has been in the bin for
longer than :func:`bin_days` (``$LASERDASH_BIN_DAYS``, default 30; 0 purges at once). Each step is recorded
in the audit trail, in the same transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from analysis.records.db import bin_table, datasets_table
from analysis.records.store import DatasetInfo, DatasetNotFound, Store, StoreError, _dataset_info

BIN_DAYS_ENV = "LASERDASH_BIN_DAYS"
DEFAULT_BIN_DAYS = 30.0


@dataclass(frozen=True)
class DeletedDataset:
    """A dataset in the bin: restorable until ``purge_after``."""

    info: DatasetInfo
    deleted_at: datetime
    deleted_by: str | None
    purge_after: datetime


def bin_days() -> float:
    """How many days a deleted dataset stays restorable (``$LASERDASH_BIN_DAYS``, default 30)."""
    raw = os.environ.get(BIN_DAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_BIN_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise StoreError(f"{BIN_DAYS_ENV} must be a number of days, not '{raw}'.") from None
    if days < 0 or days != days:
        raise StoreError(f"{BIN_DAYS_ENV} must be 0 or more days, not '{raw}'.")
    return days


def move_to_bin(store: Store, dataset_id: str, *, user: str | None = None, days: float | None = None) -> None:
    """Delete a dataset so that it can be restored for ``days`` days (default :func:`bin_days`); with no bin
    (0 days, or a database that cannot have one) it is purged at once."""
    days = bin_days() if days is None else days
    if not store._bin or days <= 0:
        store.delete(dataset_id, user=user)
        return
    with store._errors(), store.engine.begin() as conn:
        name = conn.execute(sa.select(datasets_table.c.name).where(
            (datasets_table.c.id == dataset_id) & store._live())).scalar()
        if name is None:
            raise DatasetNotFound(dataset_id)
        conn.execute(bin_table.insert().values(dataset_id=dataset_id, deleted_at=datetime.now(timezone.utc),
                                               deleted_by=user))
        store.audit(conn, user, "delete", dataset_id, name, restorable_days=days)


def restore(store: Store, dataset_id: str, *, user: str | None = None) -> DatasetInfo:
    """Bring a deleted dataset back from the bin, under the same id. Raises DatasetNotFound when it is not
    in the bin (never deleted, or purged)."""
    with store._errors(), store.engine.begin() as conn:
        name = conn.execute(sa.select(datasets_table.c.name).where(datasets_table.c.id == dataset_id)).scalar()
        if name is None or not store._bin or not conn.execute(
                bin_table.delete().where(bin_table.c.dataset_id == dataset_id)).rowcount:
            raise DatasetNotFound(dataset_id)
        store.audit(conn, user, "restore", dataset_id, name)
    info = store.get(dataset_id)
    if info is None:  # pragma: no cover - restored in the transaction above
        raise DatasetNotFound(dataset_id)
    return info


def deleted(store: Store, days: float | None = None) -> list[DeletedDataset]:
    """The datasets in the bin, most recently deleted first."""
    if not store._bin:
        return []
    days = bin_days() if days is None else days
    with store._errors(), store.engine.connect() as conn:
        rows = conn.execute(sa.select(datasets_table, bin_table.c.deleted_at, bin_table.c.deleted_by)
                            .join(bin_table, bin_table.c.dataset_id == datasets_table.c.id)
                            .order_by(bin_table.c.deleted_at.desc())).mappings().all()
    out = []
    for r in rows:
        at = utc(r["deleted_at"])
        out.append(DeletedDataset(_dataset_info(r, []), at, r["deleted_by"], at + timedelta(days=days)))
    return out


def purge_expired(store: Store, *, now: datetime | None = None, days: float | None = None) -> list[str]:
    """Delete for good the datasets in the bin for longer than ``days``; their ids."""
    now = now or datetime.now(timezone.utc)
    days = bin_days() if days is None else days
    gone = [d.info.id for d in deleted(store, days) if d.purge_after <= now]
    for dataset_id in gone:
        try:
            store.delete(dataset_id, reason=f"in the bin for more than {days:g} days")
        except DatasetNotFound:
            pass  # purged by another process meanwhile
    return gone


def utc(value: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
