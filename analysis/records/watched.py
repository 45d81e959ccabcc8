"""What ``python -m analysis watch`` has reported for each dataset (the ``watch_signals`` table), so that each
signal is reported once: :func:`unseen` picks the signals not reported yet, :func:`remember` records them once
they have been printed (or mailed). A signal is known by its key and identity (see
:class:`analysis.findings.signals.Signal`): no record's value, so no patient identifier, is ever stored here.
The rows go with their dataset when it is purged (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Protocol, TypeVar

import sqlalchemy as sa

from analysis.records.db import watch_table
from analysis.records.store import Store


class Watched(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def identity(self) -> dict: ...


T = TypeVar("T", bound=Watched)


def seen(store: Store, dataset_id: str) -> set[str]:
    """The keys of the signals already reported for the dataset."""
    with store._errors(), store.engine.connect() as conn:
        return set(conn.execute(sa.select(watch_table.c.signal).where(watch_table.c.dataset_id == dataset_id)).scalars())


def unseen(store: Store, dataset_id: str, signals: Sequence[T]) -> list[T]:
    """The signals not reported yet for the dataset, in their order (each once)."""
    known = seen(store, dataset_id)
    out = []
    for s in signals:
        if s.key not in known:
            known.add(s.key)
            out.append(s)
    return out


def remember(store: Store, dataset_id: str, signals: Iterable[Watched]) -> int:
    """Record the signals as reported (those recorded already, e.g. by a run at the same time, are skipped);
    returns how many were added."""
    wanted = {s.key: s.identity for s in signals}
    if not wanted:
        return 0
    now = datetime.now(timezone.utc)
    with store._errors():
        for attempt in (1, 2):  # a watch running at the same time may insert the same key first
            try:
                with store.engine.begin() as conn:
                    present = set(conn.execute(sa.select(watch_table.c.signal).where(
                        (watch_table.c.dataset_id == dataset_id) & watch_table.c.signal.in_(list(wanted)))).scalars())
                    rows = [{"dataset_id": dataset_id, "signal": key, "identity": json.dumps(identity, sort_keys=True),
                             "first_seen": now} for key, identity in wanted.items() if key not in present]
                    if rows:
                        conn.execute(watch_table.insert(), rows)
                    return len(rows)
            except sa.exc.IntegrityError:  # pragma: no cover - needs two runs interleaved exactly
                if attempt == 2:
                    raise
    return 0  # pragma: no cover
