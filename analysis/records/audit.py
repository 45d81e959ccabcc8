"""The audit trail: every change to a dataset, who made it and when.

The store records renames, deletes, restores and purges, and :mod:`analysis.records.access` shares and
unshares, each in the transaction of the change; imports, appends, replaces and rollbacks are recorded with
their version in ``dataset_versions`` and, from :class:`~analysis.records.access.Access`, here as well. The
trail holds counts, file names and shares, never a record's value, so never a patient identifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from analysis.records.db import audit_table
from analysis.records.store import Store

ACTIONS = ("import", "append", "replace", "rollback", "rename", "share", "unshare", "delete", "restore", "purge")


@dataclass(frozen=True)
class AuditEntry:
    """One change on record: who did what to which dataset, when, with counts or shares in ``details``."""

    at: datetime
    user: str | None
    action: str
    dataset_id: str
    dataset_name: str
    details: dict

    def sentence(self) -> str:
        """The change in words, e.g. "2026-12-03 09:12 UTC: ann@x.example added records to 'Northgate' (12 new)"."""
        who = self.user or "the command line or an unsigned-in user"
        what = {"import": "created", "append": "added records to", "replace": "replaced the records of",
                "rollback": "rolled back the last import into", "rename": "renamed", "share": "shared",
                "unshare": "stopped sharing", "delete": "deleted", "restore": "restored",
                "purge": "purged"}.get(self.action, self.action)
        extra = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.details.items() if v not in (None, "", []))
        return f"{self.at:%Y-%m-%d %H:%M} UTC: {who} {what} '{self.dataset_name}'" + (f" ({extra})" if extra else "")


def record(store: Store, user: str | None, action: str, dataset_id: str, name: str, **details) -> None:
    """Record a change that was committed in its own transaction (imports and version changes)."""
    with store._errors(), store.engine.begin() as conn:
        store.audit(conn, user, action, dataset_id, name, **details)


def trail(store: Store, dataset_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    """The most recent changes (to one dataset, or to all), newest first."""
    if not store._audit:
        return []
    query = sa.select(audit_table).order_by(audit_table.c.at.desc(), audit_table.c.id.desc()).limit(limit)
    if dataset_id is not None:
        query = query.where(audit_table.c.dataset_id == dataset_id)
    with store._errors(), store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [AuditEntry(r["at"] if r["at"].tzinfo else r["at"].replace(tzinfo=timezone.utc), r["user"], r["action"],
                       r["dataset_id"], r["dataset_name"], json.loads(r["details"])) for r in rows]
