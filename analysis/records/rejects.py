"""Each import's rejected rows and problem list, kept with its version so they can be downloaded later.

An import's report (:class:`analysis.records.ingest.ImportReport`) holds, per file, the rows it rejected
(as the file had them, identifier columns dropped) and its problems (row, column, value, reason; a
value that may identify a patient already reads :data:`analysis.records.problems.WITHHELD`). Both are
written here, with the file's dialect (delimiter and encoding, so the rejected rows go back as the file
was), in the import's own transaction (:func:`record`): an import lands with its problems or not at all.
Rolling an import back forgets its problems (:func:`forget`); deleting a dataset deletes them.

Storage is bounded: at most :data:`KEPT_ROWS` problems and :data:`KEPT_ROWS` rejected rows per import
(the first ones, files in import order); what was kept says "first N of M" (:meth:`FileProblems.note`).
Nothing here touches Streamlit; writing them as CSV is :mod:`analysis.present.export`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analysis.records import db
from analysis.records.problems import PROBLEM_COLUMNS

#: Problems, and rejected rows, kept per import (each): the first ones, files in the order imported.
KEPT_ROWS = 20_000
#: Encoding of the kept frames; a row in another format is not offered (a later release may read it).
FORMAT = "parquet-1"

# One row per file of an import that had problems. (A table of :data:`analysis.records.db.metadata`,
# created by the store when missing, like the other tables added after the first release.)
table = sa.Table(
    "dataset_problems", db.metadata,
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),       # the file's place in the import
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("encoding", sa.String(40), nullable=False),      # the file's dialect, as the import found it
    sa.Column("delimiter", sa.String(4), nullable=False),      # '' for a sheet of a workbook
    sa.Column("rows_rejected", sa.Integer, nullable=False),    # in the file
    sa.Column("rejected_kept", sa.Integer, nullable=False),
    sa.Column("problems", sa.Integer, nullable=False),         # in the file (rejections and warnings)
    sa.Column("problems_kept", sa.Integer, nullable=False),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("rejected_rows", sa.LargeBinary, nullable=False),
    sa.Column("problem_list", sa.LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class FileProblems:
    """What is kept of one file's problems in one import (without the rows themselves)."""

    version: int
    position: int
    file: str
    kind: str
    encoding: str
    delimiter: str
    rows_rejected: int
    rejected_kept: int
    problems: int
    problems_kept: int

    @property
    def complete(self) -> bool:
        return self.rejected_kept == self.rows_rejected and self.problems_kept == self.problems

    def note(self) -> str:
        """What was kept, in words: "" when everything was, else "first N of M ..."."""
        parts = []
        if self.rejected_kept < self.rows_rejected:
            parts.append(f"the first {self.rejected_kept:,} of {self.rows_rejected:,} rejected rows")
        if self.problems_kept < self.problems:
            parts.append(f"the first {self.problems_kept:,} of {self.problems:,} problems")
        if not parts:
            return ""
        return (f"{self.file}: only {' and '.join(parts)} were kept with the import (at most {KEPT_ROWS:,} of "
                "each per import); the download right after the import had them all.")


# --- writing, in the import's transaction ---------------------------------------------------------------

def record(conn: Connection, store: Any, dataset_id: str, version: int, report: Any) -> None:
    """Keep an import's rejected rows and problems with its version, in the caller's transaction.

    ``store``: the :class:`analysis.records.store.Store` (nothing is kept when its database has no table
    for them: a read-only one written by an older version); ``report``: the import's report."""
    if not getattr(store, "_rejects", False):
        return
    rows = []
    problems_left = rejected_left = KEPT_ROWS
    for position, summary in enumerate(report.files):
        problems = report.problems[report.problems["file"] == summary.file]
        rejected = report.rejected_rows.get(summary.file)
        rejected = rejected if rejected is not None else pd.DataFrame(columns=["row", "problems"])
        if problems.empty and rejected.empty:
            continue
        kept_problems = problems.head(problems_left)
        kept_rejected = rejected.head(rejected_left)
        problems_left -= len(kept_problems)
        rejected_left -= len(kept_rejected)
        rows.append({"dataset_id": dataset_id, "version": version, "position": position, "file_name": summary.file,
                     "kind": summary.kind, "encoding": summary.encoding or "", "delimiter": summary.delimiter or "",
                     "rows_rejected": max(len(rejected), summary.rows_rejected), "rejected_kept": len(kept_rejected),
                     "problems": len(problems), "problems_kept": len(kept_problems), "format": FORMAT,
                     "rejected_rows": _encode(kept_rejected),
                     "problem_list": _encode(kept_problems[PROBLEM_COLUMNS].reset_index(drop=True))})
    if rows:
        conn.execute(table.insert(), rows)


def forget(conn: Connection, dataset_id: str, version: int) -> None:
    """Forget the problems kept with one version (its import was rolled back), in the caller's transaction."""
    conn.execute(table.delete().where((table.c.dataset_id == dataset_id) & (table.c.version == version)))


# --- reading ---------------------------------------------------------------------------------------------

_LISTED = [c for c in table.c if c.name not in ("dataset_id", "format", "rejected_rows", "problem_list")]


def kept(store: Any, dataset_id: str) -> list[FileProblems]:
    """What is kept of every import's problems in a dataset: newest version first, files in import order.
    Empty when the database has no table for them."""
    if not getattr(store, "_rejects", False):
        return []
    with store._errors(), store.engine.connect() as conn:
        found = conn.execute(sa.select(*_LISTED).where((table.c.dataset_id == dataset_id) & (table.c.format == FORMAT))
                             .order_by(table.c.version.desc(), table.c.position)).mappings().all()
    return [FileProblems(r["version"], r["position"], r["file_name"], r["kind"], r["encoding"], r["delimiter"],
                         r["rows_rejected"], r["rejected_kept"], r["problems"], r["problems_kept"]) for r in found]


def rejected_rows(store: Any, dataset_id: str, version: int, position: int) -> pd.DataFrame:
    """A file's kept rejected rows (row, the file's columns as text, problems); empty when none are kept."""
    data = _read(store, dataset_id, version, table.c.rejected_rows, table.c.position == position)
    return _decode(data[0]) if data else pd.DataFrame(columns=["row", "problems"])


def problem_list(store: Any, dataset_id: str, version: int) -> pd.DataFrame:
    """The kept problems of one import, all its files: file, row, column, value, reason, severity."""
    frames = [_decode(d) for d in _read(store, dataset_id, version, table.c.problem_list)]
    if not frames:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _read(store: Any, dataset_id: str, version: int, column: sa.Column, *where: Any) -> list[bytes]:
    if not getattr(store, "_rejects", False):
        return []
    with store._errors(), store.engine.connect() as conn:
        return list(conn.execute(sa.select(column).where(
            (table.c.dataset_id == dataset_id) & (table.c.version == version) & (table.c.format == FORMAT), *where)
            .order_by(table.c.position)).scalars())


def _encode(frame: pd.DataFrame) -> bytes:
    """A frame of text (and the row number) as Parquet: every column but ``row`` as text, missing kept."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if name == "row":
            columns[str(name)] = pa.array(values.to_numpy(dtype="int64"), pa.int64())
        else:
            cells = values.to_numpy(dtype=object)
            try:  # text already (the usual case): converted in Arrow
                columns[str(name)] = pa.array(cells, pa.large_string(), from_pandas=True)
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                columns[str(name)] = pa.array([None if pd.isna(v) else str(v) for v in cells], pa.large_string())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns) if columns else pa.table({}), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _decode(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    for name in frame.columns:
        if name != "row":
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame
