"""Importing a clinic's files: read, check every row, build typed records and the report of what happened.

The flow is ``SourceFile`` (bytes and a name) -> :func:`analysis.records.read.read_table` (decode,
find the delimiter, split into text cells with spreadsheet row numbers) -> :func:`import_files` (map
headers to the schema, check every row once per distinct value, build the records in Arrow; see
:mod:`analysis.records.validate`) -> :class:`ImportResult` (records plus an :class:`ImportReport`).
Whole-file refusals raise :class:`ImportProblem`; row-level problems go in the report, which names
the file, the row as a spreadsheet shows it (header = row 1), the column, the value and the reason.
Nothing here touches storage or Streamlit.

This module is the import's public face: the names a caller needs (``SourceFile``, ``ImportOptions``,
``ImportProblem`` and its subclasses, ``WITHHELD``) can be imported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.records import columnar, schema, validate
from analysis.records.columns import (
    ColumnPlan,
    DateOrder,
    clean_text,
    detect_kind,
    holds_identifiers,
    missing_required,
    plan_columns,
)
from analysis.records.problems import (
    PROBLEM_COLUMNS,
    WITHHELD,
    DateOrderNeeded,
    ImportProblem,
    Kind,
    MissingColumns,
    ProblemLog,
    clip,
)
from analysis.records.read import RawTable, SourceFile, delimiter_name
from analysis.records.sheets import read_tables

__all__ = ["PROBLEM_COLUMNS", "WITHHELD", "DateOrderNeeded", "FileSummary", "ImportOptions", "ImportProblem",
           "ImportReport", "ImportResult", "MissingColumns", "SourceFile", "import_files"]

@dataclass(frozen=True)
class ImportOptions:
    """Choices the user can make about a file; the defaults decide from the data."""

    date_order: DateOrder = "auto"
    outcome_columns: dict[str, str] = field(default_factory=dict)  # file header -> schema column
    side_effect_columns: dict[str, str] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()  # a workbook's sheets to read (default: every sheet of records)
    clinic: str | None = None     # the clinic of the rows whose file gives none (no clinic column, or a blank)


@dataclass
class FileSummary:
    """What happened to one file."""

    file: str
    kind: Kind
    sha256: str
    encoding: str
    delimiter: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    columns: dict[str, str]          # file header -> schema column (or 'flag: effect')
    ignored_columns: list[str]
    dropped_identifier_columns: list[str]


@dataclass
class ImportReport:
    """The full account of an import: per-file summaries, file-level notes and row-level problems.

    ``problems`` is a frame with columns file, row, column, value, reason, severity
    ('rejected' or 'warning'); ``rejected_rows`` holds the original text of every rejected row
    with its row number and reasons, ready to download, fix and upload again.
    """

    files: list[FileSummary]
    notes: list[str]
    problems: pd.DataFrame
    rejected_rows: dict[str, pd.DataFrame]
    outcomes_accepted: int
    side_effects_accepted: int

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "warning"]

    def summary_lines(self, max_problems: int = 20) -> list[str]:
        """The report as plain sentences, for the command line and the app."""
        lines = [f"Accepted {self.outcomes_accepted} treatment(s) and "
                 f"{self.side_effects_accepted} side-effect record(s); "
                 f"rejected {self.rows_rejected} row(s)."]
        for f in self.files:
            how = f"{f.encoding}, delimiter {delimiter_name(f.delimiter)}" if f.delimiter else f.encoding
            lines.append(f"{f.file} ({f.kind.replace('_', '-')}, {how}): {f.rows_read} row(s) read, "
                         f"{f.rows_accepted} accepted, {f.rows_rejected} rejected.")
        lines.extend(self.notes)
        shown = self.problems.head(max_problems)
        for p in shown.itertuples(index=False):
            lines.append(f"{p.file} row {p.row}, column '{p.column}', value '{clip(p.value)}': "
                         f"{p.reason} ({p.severity})")
        if len(self.problems) > max_problems:
            lines.append(f"... and {len(self.problems) - max_problems} more problem(s); "
                         "download the rejected rows for the full list.")
        return lines


class ImportResult:
    """Typed, canonical records ready to store, and the report of how they were read.

    The records are frames (``outcomes``, ``side_effects``; see :mod:`analysis.records.schema`). The import may
    hand them over as tables of canonical values instead (:meth:`from_tables`), which become frames on
    first use; from then on the frame is the record, since a caller may change it.
    """

    def __init__(self, outcomes: pd.DataFrame, side_effects: pd.DataFrame, report: ImportReport,
                 sources: list[SourceFile]) -> None:
        self._frames: dict[str, pd.DataFrame] = {"outcomes": outcomes, "side_effects": side_effects}
        self._tables: dict[str, pa.Table] = {}
        self._parquet: dict[str, Future[bytes]] = {}
        self.report = report
        self.sources = sources

    @classmethod
    def from_tables(cls, outcomes: pa.Table, side_effects: pa.Table, report: ImportReport,
                    sources: list[SourceFile], parquet: dict[str, Future[bytes]] | None = None) -> "ImportResult":
        """Records as tables of canonical values (:func:`analysis.records.columnar.to_arrow`'s form); ``parquet``:
        their Parquet encoding (:func:`analysis.records.columnar.to_parquet`), being made in the background."""
        result = cls(pd.DataFrame(), pd.DataFrame(), report, sources)
        result._frames.clear()
        result._tables.update(outcomes=outcomes, side_effects=side_effects)
        result._parquet.update(parquet or {})
        return result

    @property
    def outcomes(self) -> pd.DataFrame:
        return self._frame("outcomes")

    @property
    def side_effects(self) -> pd.DataFrame:
        return self._frame("side_effects")

    def _frame(self, kind: str) -> pd.DataFrame:
        if kind not in self._frames:
            self._frames[kind] = columnar.to_frame(self._tables.pop(kind), kind)  # type: ignore[arg-type]
        return self._frames[kind]

    def records(self, kind: str) -> pd.DataFrame | pa.Table:
        """A kind's records as they are held: a table of canonical values until a frame is made from it."""
        return self._frames[kind] if kind in self._frames else self._tables[kind]

    def parquet(self, kind: str) -> bytes | None:
        """The records of a kind encoded by :func:`analysis.records.columnar.to_parquet` (``ordered`` for outcomes), if
        the import made that encoding and they are still held as the table it was made from."""
        if kind in self._tables and kind in self._parquet:
            return self._parquet[kind].result()
        return None

    def count(self, kind: str) -> int:
        """How many records of a kind there are (without making frames)."""
        return len(self._frames[kind]) if kind in self._frames else self._tables[kind].num_rows

    @property
    def side_effects_recorded(self) -> bool:
        """True when the import carried side effects at all (a side-effect file, flag columns or an event)."""
        return self.count("side_effects") > 0 or any(
            f.kind == "side_effects" or any(c.startswith("flag:") for c in f.columns.values())
            for f in self.report.files)


def _classify(tables: list[RawTable]) -> tuple[RawTable, list[RawTable]]:
    outcomes = [t for t in tables if detect_kind(t.headers) == "outcomes"]
    sides = [t for t in tables if t not in outcomes]
    if not outcomes:
        raise ImportProblem(", ".join(t.file for t in tables),
                            "no outcome file was given: every file looks like side-effect records.",
                            "Add the outcome records (one row per treatment) to the import.")
    if len(outcomes) > 1:
        raise ImportProblem(", ".join(t.file for t in outcomes),
                            "more than one file looks like outcome records.",
                            "Import one outcome file (with its side-effect file) at a time. If one of them is "
                            "the side-effect file, its kind-of-effect column was not recognised: name it "
                            "'effect' (or 'side effect', 'complication', 'adverse event').")
    return outcomes[0], sides



def import_files(outcomes: SourceFile, side_effects: SourceFile | list[SourceFile] | None = None,
                 options: ImportOptions | None = None) -> ImportResult:
    """Read, check and normalise an outcome file and optional side-effect files.

    Raises :class:`ImportProblem` (or a subclass) when a file cannot be used at all, including
    when no row of the outcome file is valid. Row-level problems are in ``result.report``.
    """
    options = options or ImportOptions()
    extra = [side_effects] if isinstance(side_effects, SourceFile) else list(side_effects or [])
    sources = [outcomes, *extra]
    hashing = ThreadPoolExecutor(max_workers=1)  # the files' SHA-256, while they are parsed and checked
    hashed = hashing.submit(lambda: {s.name: s.sha256 for s in sources})
    hashing.shutdown(wait=False)
    tables: list[RawTable] = []
    sheet_notes: list[str] = []
    for source in sources:
        found, skipped = read_tables(source, options.sheets, _repeating_columns(options))
        tables.extend(found)
        sheet_notes.extend(skipped)
    out_table, side_tables = _classify(tables) if len(tables) > 1 else (tables[0], [])
    plan = plan_columns(out_table.headers, "outcomes", options.outcome_columns)
    missing = missing_required(plan, "outcomes")
    if missing:
        raise MissingColumns(out_table.file, "outcomes", out_table.headers, missing, plan.mapping)
    side_plans = []
    for table in side_tables:
        side_plan = plan_columns(table.headers, "side_effects", options.side_effect_columns)
        side_missing = missing_required(side_plan, "side_effects")
        if side_missing:
            raise MissingColumns(table.file, "side_effects", table.headers, side_missing,
                                 side_plan.mapping)
        side_plans.append(side_plan)
    # The side-effect files are checked in a thread while the outcomes are: most of the work is Arrow's,
    # which releases the GIL, so the two cores share it.
    # Each side effect's treatment is looked up among all the outcome rows' ids there too, as soon as the
    # ids are known; the few ids of rejected rows are dealt with afterwards (_check_orphans).
    side_logs = [ProblemLog(t.file, t.rows) for t in side_tables]
    outcome_ids: Future[pa.Array] = Future()

    def check_side(table: RawTable, side_plan: ColumnPlan, log: ProblemLog) -> tuple[pa.Table, np.ndarray]:
        side = validate.side_effects(table, side_plan, log)
        return side, _listed(side.column("treatment_id"), outcome_ids.result())

    with ThreadPoolExecutor(max_workers=1) as pool:
        side_jobs = [pool.submit(check_side, t, p, log) for t, p, log in zip(side_tables, side_plans, side_logs)]
        notes: list[str] = list(sheet_notes)
        _note_columns(out_table, plan, notes)
        problems = ProblemLog(out_table.file, out_table.rows)
        try:
            records, flag_effects, ids_refused = validate.outcomes(out_table, plan, options.date_order, problems,
                                                                   notes, ids_known=outcome_ids.set_result,
                                                                   clinic=options.clinic)
        finally:
            if not outcome_ids.done():  # refused before the ids were known: the side checks stop there
                outcome_ids.set_exception(ImportProblem(out_table.file, "not imported."))
        _add_malformed(out_table, problems, _has_identifiers(out_table, plan) or ids_refused)
        if records.num_rows == 0:
            first = problems.frame().head(3)
            examples = "; ".join(f"row {p.row} '{p.column}' = '{p.value if p.value == WITHHELD else clip(p.value, 30)}'"
                                 f": {p.reason}" for p in first.itertuples())
            raise ImportProblem(out_table.file, f"no row could be imported. First problems: {examples}.",
                                "Fix these values (or the column headers) and import the file again.")
        # The store will want the outcomes as Parquet: encode them while the rest is checked.
        encoder = ThreadPoolExecutor(max_workers=2)  # the side effects are encoded beside the outcomes
        parquet = {"outcomes": encoder.submit(columnar.to_parquet, records, ordered=True)}
        sides = [job.result() for job in side_jobs]
    sha = hashed.result()
    summaries = [_summary(out_table, "outcomes", sha, plan, records.num_rows, problems)]
    all_problems = [problems.frame()]
    rejected_rows = {out_table.file: _rejected(out_table, problems, all_problems[0], plan, ids_refused)}
    if flag_effects.num_rows:
        notes.append(_flag_note(out_table.file, flag_effects.num_rows, plan))
    side_parts = [flag_effects]
    for table, side_plan, (side, listed), side_problems in zip(side_tables, side_plans, sides, side_logs):
        _note_columns(table, side_plan, notes)
        _check_orphans(side, listed, out_table, outcome_ids.result(), problems, side_plan, side_problems)
        side_ids_refused = _side_ids_refused(table, notes)
        _add_malformed(table, side_problems, _has_identifiers(table, side_plan) or side_ids_refused)
        kept = side.filter(pa.array(~side_problems.rejected)) if side_problems.rejected.any() else side
        side_parts.append(kept)
        summaries.append(_summary(table, "side_effects", sha, side_plan, kept.num_rows, side_problems))
        all_problems.append(side_problems.frame())
        rejected_rows[table.file] = _rejected(table, side_problems, all_problems[-1], None, side_ids_refused)
    side_effects_table = validate.concat(side_parts, "side_effects")
    parquet["side_effects"] = encoder.submit(columnar.to_parquet, side_effects_table, ordered=False)
    encoder.shutdown(wait=False)
    report = _report([out_table, *side_tables], summaries, notes, all_problems, rejected_rows, records.num_rows,
                     side_effects_table.num_rows)
    return ImportResult.from_tables(records, side_effects_table, report, sources, parquet)


def _listed(ids: pa.ChunkedArray, known: pa.Array) -> np.ndarray:
    """Which ``ids`` are among ``known`` (a missing id is not): an anti-join, which finds the few that are
    not about twice as fast as hashing every id into a set."""
    rows = pa.table({"id": ids, "row": pa.array(np.arange(len(ids)))})
    missing = rows.join(pa.table({"id": known.cast(pa.string())}), "id", join_type="left anti").column("row")
    listed = np.ones(len(ids), dtype=bool)
    listed[missing.to_numpy()] = False
    return listed


def _repeating_columns(options: ImportOptions) -> Callable[[list[str]], list[str]]:
    """Which columns of a file to read dictionary-encoded: all the columns that are checked, but the ids
    (nearly every value distinct)."""
    def choose(headers: list[str]) -> list[str]:
        kind = detect_kind(headers)
        plan = plan_columns(headers, kind, options.outcome_columns if kind == "outcomes" else options.side_effect_columns)
        return [h for h, c in plan.mapping.items() if c not in ("treatment_id", "patient_id")] + list(plan.flags)
    return choose


def _check_orphans(side: pa.Table, listed: np.ndarray, out_table: RawTable, outcome_ids: pa.Array,
                   out_problems: ProblemLog, side_plan: ColumnPlan, problems: ProblemLog) -> None:
    """A side effect must follow a treatment that was imported: say so, and whether that treatment's row
    was rejected (naming it). ``listed``: which side effects' ids are among all the outcome rows' ids."""
    ids = side.column("treatment_id")
    orphan = ~listed & ids.is_valid().to_numpy(zero_copy_only=False)
    rejected = out_problems.rejected
    rejected_id_rows: dict[str, int] = {}
    if rejected.any():
        rejected_ids = outcome_ids.filter(pa.array(rejected)).cast(pa.string())
        rejected_id_rows = dict(zip(rejected_ids.to_pylist(), out_table.rows[rejected]))
        candidates = pc.unique(rejected_ids.drop_null())
        # an id that also has an accepted row (a repeated id's first row) is imported
        also_accepted = pc.and_(pc.is_in(outcome_ids.cast(pa.string()), value_set=candidates), pa.array(~rejected))
        gone = pc.filter(candidates, pc.invert(pc.is_in(candidates, value_set=outcome_ids.cast(pa.string())
                                                          .filter(also_accepted))))
        orphan |= pc.is_in(ids, value_set=gone).to_numpy(zero_copy_only=False)
    if not orphan.any():
        return
    values = ids.to_numpy(zero_copy_only=False)
    reasons = np.full(len(values), None, dtype=object)
    where = np.flatnonzero(orphan)
    reasons[where] = [f"its outcome row ({out_table.file} row {rejected_id_rows[t]}) was rejected"
                      if t in rejected_id_rows else f"no outcome record has this treatment_id in {out_table.file}"
                      for t in values[where]]
    problems.add(orphan, {v: k for k, v in side_plan.mapping.items()}["treatment_id"],
                 np.where(pd.isna(values), "", values), reasons)


def _report(tables: list[RawTable], summaries: list[FileSummary], notes: list[str], all_problems: list[pd.DataFrame],
            rejected_rows: dict[str, pd.DataFrame], outcomes: int, side_effects: int) -> ImportReport:
    """The import's report: the notes of skipped empty rows last, problems by file (in import order) then row."""
    for table in tables:
        if table.blank_rows:
            notes.append(f"{table.file}: {table.blank_rows} empty row(s) skipped.")
    problems_frame = pd.concat(all_problems, ignore_index=True)
    order = {t.file: i for i, t in enumerate(tables)}
    problems_frame = (problems_frame.assign(_f=problems_frame["file"].map(order))
                      .sort_values(["_f", "row"], kind="stable").drop(columns="_f").reset_index(drop=True))
    return ImportReport(summaries, notes, problems_frame, rejected_rows, outcomes, side_effects)


def _flag_note(file: str, records: int, plan: ColumnPlan) -> str:
    return (f"{file}: {records} side-effect record(s) made from the flag columns "
            + ", ".join(f"'{h}'" for h in plan.flags) + ".")


def _side_ids_refused(table: RawTable, notes: list[str]) -> bool:
    """A side-effect file stores no patient id, but one may be in the file (and so in its rejected rows):
    True (with a note) when such a column holds e-mail addresses, phone numbers or names."""
    side_ids = _patient_id_headers(table, plan_columns(table.headers, "outcomes"))
    refused = any(holds_identifiers(table.frame_of(headers=[h])[h]) for h in side_ids)
    if refused:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in side_ids)} hold e-mail addresses, "
                     "phone numbers or personal names, which identify patients, so they are left blank in the "
                     "rejected rows.")
    return refused


def _note_columns(table: RawTable, plan: ColumnPlan, notes: list[str]) -> None:
    if plan.identifiers:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in plan.identifiers)} look like patient "
                     "identifiers (names, contact details or dates of birth) and were NOT stored.")
    if plan.ignored:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in plan.ignored)} are not part of the "
                     "schema and were ignored.")


def _summary(table: RawTable, kind: Kind, sha: dict[str, str], plan: ColumnPlan, accepted: int,
             problems: ProblemLog) -> FileSummary:
    columns = dict(plan.mapping)
    columns.update({h: f"flag: {e}" for h, e in plan.flags.items()})
    rejected = int(problems.rejected.sum()) + len(table.malformed)
    return FileSummary(table.file, kind, sha[table.source_name], table.encoding, table.delimiter,
                       table.num_rows + len(table.malformed), accepted, rejected, columns, plan.ignored,
                       plan.identifiers)


def _add_malformed(table: RawTable, problems: ProblemLog, withhold: bool) -> None:
    """Report the rows that could not be split into columns. Their text is quoted only when the file has
    no patient identifier in it: its fields cannot be matched to the headers, so no part can be shown."""
    malformed = table.malformed
    values = [WITHHELD] * len(malformed) if withhold else malformed["value"].tolist()
    problems.add_rows(malformed["row"].to_numpy(), values, malformed["reason"].tolist())


def _has_identifiers(table: RawTable, plan: ColumnPlan) -> bool:
    """True when a column of the file is (or is named like) a patient identifier, even one mapped to the schema."""
    return bool(plan.identifiers) or any(schema.looks_like_identifier_header(h) for h in table.headers)


def _patient_id_headers(table: RawTable, plan: ColumnPlan) -> list[str]:
    return [h for h, c in plan.mapping.items() if c == "patient_id" and h in table.headers]


def _joined_by_row(rows: np.ndarray, texts: np.ndarray) -> pd.Series:
    """The texts of each row joined with '; ' (in the order given), indexed by row in ascending order."""
    order = np.argsort(rows, kind="stable")
    rows, texts = rows[order], texts[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return pd.Series([texts[a] if b - a == 1 else "; ".join(texts[a:b]) for a, b in zip(starts, ends)],
                     index=rows[starts], dtype=object)


def _rejected(table: RawTable, problems: ProblemLog, found: pd.DataFrame, plan: ColumnPlan | None,
              ids_refused: bool) -> pd.DataFrame:
    """The rejected rows as they were in the file (minus identifier columns), with row number and reasons.

    Patient ids are treated as in the accepted rows: when the import refused the column (it holds e-mail
    addresses or phone numbers) it is left blank, and any such value is blanked in any case. ``found``:
    the file's problems; ``plan``: its column plan (None: as an outcome file would be read)."""
    found = found[found["severity"] == "rejected"]
    if found.empty:
        return pd.DataFrame(columns=["row", "problems"])
    reasons = _joined_by_row(found["row"].to_numpy(), (found["column"] + ": " + found["reason"]).to_numpy(object))
    default = plan_columns(table.headers, "outcomes")
    keep = [c for c in table.headers if c not in default.identifiers]
    rows = table.frame_of(problems.rejected, keep)
    for header in _patient_id_headers(table, default if plan is None else plan):
        if header in rows.columns:
            text = rows[header].astype(str)
            rows[header] = "" if ids_refused else text.where(~text.map(schema.identifying).astype(bool), "")
    rows.insert(0, "row", table.rows[problems.rejected])
    if len(table.malformed):
        bad = pd.DataFrame({"row": table.malformed["row"]})
        rows = pd.concat([rows, bad], ignore_index=True)
    rows["problems"] = rows["row"].map(reasons)
    return rows.sort_values("row").reset_index(drop=True)
