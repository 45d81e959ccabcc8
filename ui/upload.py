"""The Data page's import: upload the files, map their columns, choose the date order, import, show the report.

Importing is a small state machine kept in ``st.session_state`` (the uploaded bytes included),
so the steps an import may need survive the reruns between them:

* unrecognised headers (:class:`MissingColumns`): a column-mapping step, pre-filled with the
  automatic mapping and with any mapping saved earlier for the same headers; a mapping that
  imports is saved, and applied automatically to the next file with the same headers;
* ambiguous dates (:class:`DateOrderNeeded`): day first or month first;
* a file imported before (:class:`DuplicateImport`): import it again anyway, or not.

Every import attempt ends with a rerun, so what the page shows is drawn from that state alone.
The page's other parts: :mod:`ui.datasets` (rename and delete) and :mod:`ui.quality` (the checks).

User-supplied text (file names, headers, cell values, dataset names, and messages that quote
them) is shown only with ``st.text``, in dataframes or as widget options. ``st.error``,
``st.warning``, ``st.info`` and ``st.success`` render Markdown, so they get constant text (or
numbers) only, with the variable part in an ``st.text`` beneath. The same holds on the whole page.
"""

from __future__ import annotations

from collections.abc import Sequence

import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analysis.records import schema
from analysis.present.export import in_dialect, safe_csv
from analysis.records.columns import detect_kind, plan_columns
from analysis.records.ingest import (DateOrderNeeded, ImportOptions, ImportProblem, ImportReport, ImportResult,
                                     MissingColumns, SourceFile, import_files)
from analysis.records.sheets import read_tables
from analysis.records import versions
from analysis.records.access import Access, AccessDenied
from analysis.records.store import DatasetInfo, DatasetNotFound, DuplicateImport, Store, StoreError, headers_key
from ui.setup import View, current_user, get_store, request_dataset

_STATE = "_upload"            # the current upload (an _Upload), reset when the uploaded files change
KEY_FILES = "upload_files"
KEY_NAME = "upload_name"
KEY_IMPORT = "upload_import"
KEY_DATE_ORDER = "upload_date_order"
KEY_ALLOW_DUPLICATE = "upload_allow_duplicate"
KEY_MAP_PREFIX = "upload_map"
KEY_SHEETS = "upload_sheets"
_DATE_ORDER_KIND = "date_order"  # how the column-maps table keeps the date order answered for a file's headers
KEY_TARGET = "upload_target"
KEY_INTO = "upload_into"
KEY_CLINIC = "upload_clinic"
#: Where an import's records go.
TARGETS = {"new": "A new dataset", "append": "Add to a dataset", "replace": "Replace a dataset's records"}
KEY_TEMPLATE_XLSX = "upload_template_xlsx"
KEY_TEMPLATE_CSV = "upload_template_csv"
#: The templates clinics fill in, written by data/make_template.py from the schema and committed.
TEMPLATE_XLSX = Path(__file__).resolve().parents[1] / "data" / "template.xlsx"
TEMPLATE_CSV = TEMPLATE_XLSX.with_name("template.csv")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What the uploader accepts; a file is then known by its content, whatever its name says.
UPLOAD_TYPES = ["csv", "txt", "tsv", "xlsx", "xlsm", "xls", "ods"]

NOT_IN_FILE = "— not in this file —"
DATE_ORDERS = {"dayfirst": "day first (dd/mm/yyyy)", "monthfirst": "month first (mm/dd/yyyy)"}
MAX_ROWS_SHOWN = 5_000        # longer problem lists are downloaded, not scrolled
_KIND_LABELS = {"outcomes": "outcome records", "side_effects": "side-effect records"}
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "": "—"}
# store.rename/delete/datasets/column maps let SQLAlchemy errors through (only import_dataset
# turns them into StoreError); both mean "the database refused", and neither may show a traceback.
DB_ERRORS = (StoreError, sa.exc.SQLAlchemyError)


# --- state -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _FileInfo:
    """What an uploaded file was recognised as (or why it cannot be read)."""

    name: str
    kind: str | None              # "outcomes" / "side_effects"; None when unreadable
    rows: int
    headers: tuple[str, ...]
    encoding: str
    delimiter: str
    flag_columns: int
    problem: str | None
    sheet: str | None = None      # the workbook sheet it is, if any
    source: str = ""              # the uploaded file it is in (its name, or a sheet of it)


@dataclass
class _MappingStep:
    """A column-mapping step for one kind of file whose required columns were not recognised."""

    kind: str
    file: str
    headers: list[str]
    missing: list[str]
    prefill: dict[str, str]       # schema column -> file header


@dataclass
class _Done:
    dataset_id: str
    name: str
    report: ImportReport
    change: str | None = None     # what adding to (or replacing) a dataset did, in a sentence


@dataclass
class _Upload:
    """The files being imported and every step and outcome of importing them."""

    signature: tuple
    sources: list[SourceFile]
    files: list[_FileInfo]
    saved: dict[str, dict[str, str]] = field(default_factory=dict)   # kind -> mapping saved earlier
    saved_for: list[str] = field(default_factory=list)                # files a saved mapping applies to
    saved_order: str | None = None                                    # date order answered for these headers
    mapping: dict[str, _MappingStep] = field(default_factory=dict)
    dates: tuple[str, str, list[str]] | None = None                   # file, column, examples
    duplicate: tuple[str, DatasetInfo] | None = None                  # file, the dataset holding it
    pending: tuple[ImportOptions, ImportResult] | None = None         # validated, refused as a duplicate
    done: _Done | None = None
    error: tuple[str, str] | None = None                              # constant headline, detail text


# --- import records ----------------------------------------------------------------------------

def remembered_headers(headers: Sequence[str]) -> list[str]:
    """The headers a column mapping or date order is remembered under: per signed-in user, so that one clinic's
    choices are never applied to (or overwritten by) another's files."""
    user = current_user()
    return list(headers) + ([f"remembered for {user.email}"] if user.email else [])


def store_for(view: View) -> Store:
    """The (cached) store the page's view comes from."""
    return get_store(view.store_url)


def import_section(store: Store, view: View) -> None:
    """Upload, recognise, map, import and report: everything a clinic manager does to add records."""
    st.header("Import records")
    st.caption("Drop the exports here, as CSV files or Excel workbooks: the outcome records (one row per "
               "treatment) and, if you have them, the side-effect records (one row per event) — or one combined "
               "sheet with yes/no side-effect columns. The data dictionary below lists the columns and the header "
               "names that are recognised.")
    with st.expander("Data dictionary: the columns, the header names recognised, and how records are added"):
        st.markdown(_data_dictionary())  # the project's own text (data/README.md), never a user's
    _templates()
    limit = int(st.get_option("server.maxUploadSize"))
    uploaded = st.file_uploader("Outcome and side-effect files (CSV or Excel)", type=UPLOAD_TYPES,
                                accept_multiple_files=True, key=KEY_FILES, max_upload_size=limit,
                                help=f"Up to {limit} MB per file. CSV files comma, semicolon or tab separated, "
                                     "in UTF-8, Windows-1252 or Latin-1; Excel (.xlsx, .xlsm, .xls) or "
                                     "OpenDocument (.ods) workbooks, with outcomes and side effects on one or "
                                     "two sheets.")
    if not uploaded:
        # A file over the limit never reaches the server: the uploader marks it in red and says why on hover.
        st.caption(f"Up to {limit} MB per file, as CSV (.csv, .txt, .tsv) or a workbook (.xlsx, .xlsm, .xls, "
                   ".ods). A file that is larger, or of another type, is marked in red in the box above and is not "
                   "uploaded (point at it to see why): remove it, then export a shorter period, or save the file as "
                   "CSV or .xlsx.")
        st.session_state.pop(_STATE, None)
        return
    state = _current_upload(uploaded, store)
    _show_recognised(state.files)
    if not _importable(state.files):
        return
    if state.saved_for:
        st.info("A column mapping you saved earlier is used for these files:")
        st.text("\n".join(state.saved_for))
    if state.saved_order in DATE_ORDERS and state.dates is None:
        st.info(f"Dates are read as {DATE_ORDERS[state.saved_order].lower()}, as you said for a file with these "
                "columns before.")
    sheets = _sheet_step(state)
    chosen = _mapping_steps(state)
    date_order = _date_step(state)
    allow_duplicate = _duplicate_step(state)
    target, into = _target_step(view.access, view.dataset.id if view.dataset else None)
    clinic = st.text_input("Clinic (only for rows whose file names none)", key=KEY_CLINIC, max_chars=200,
                           help="A clinic's own export often has no clinic column. Name the clinic here, and a chain "
                                "can add each clinic's export to one dataset.")
    if st.button("Import", key=KEY_IMPORT, type="primary"):
        if chosen is None:
            st.error("The same column of the file is chosen for two fields. Choose each column once.")
        elif state.dates is not None and date_order is None:
            st.error("Choose how the dates are written (day first or month first) before importing.")
        else:
            options = ImportOptions(date_order=date_order or state.saved_order or "auto",
                                    outcome_columns=chosen.get("outcomes", state.saved.get("outcomes", {})),
                                    side_effect_columns=chosen.get("side_effects", state.saved.get("side_effects", {})),
                                    sheets=sheets, clinic=clinic.strip() or None)
            _attempt(state, store, view.access, options, allow_duplicate, chosen, target, into)
            st.rerun()
    _show_outcome(state)


def _templates() -> None:
    """The template workbook and CSV file to download: the columns, explained, with example rows."""
    st.caption("Not sure what to export? Start from a template: it has every column, with example rows to "
               "replace, and the workbook's Read me sheet says what each column holds.")
    left, right = st.columns(2)
    with left:
        st.download_button("Template workbook (.xlsx)", data=TEMPLATE_XLSX.read_bytes,
                           file_name="laser-records-template.xlsx", mime=XLSX_MIME, key=KEY_TEMPLATE_XLSX,
                           on_click="ignore")
    with right:
        st.download_button("Template (CSV)", data=TEMPLATE_CSV.read_bytes, file_name="laser-records-template.csv",
                           mime="text/csv", key=KEY_TEMPLATE_CSV, on_click="ignore")


@st.cache_data(max_entries=1)
def _data_dictionary() -> str:
    """data/README.md without its title (the expander is the title)."""
    text = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    return text.split("\n", 1)[1].strip() if text.startswith("# ") else text


def _current_upload(uploaded: list[Any], store: Store) -> _Upload:
    """The state of this set of uploaded files; read and recognised once, when the set changes."""
    ss = st.session_state
    signature = tuple((f.file_id, f.name, f.size) for f in uploaded)
    state = ss.get(_STATE)
    if isinstance(state, _Upload) and state.signature == signature:
        return state
    with st.spinner("Reading the files…"):
        sources = [SourceFile(f.name, f.getvalue()) for f in uploaded]
        files = [info for s in sources for info in _recognise(s)]
    state = _Upload(signature, sources, files)
    for info in files:
        if info.kind is None:
            continue
        try:
            saved = store.column_map(remembered_headers(info.headers), info.kind)
        except DB_ERRORS:
            saved = None  # a mapping that cannot be read is simply not applied
        if saved:
            state.saved.setdefault(info.kind, {}).update(saved)
            state.saved_for.append(info.name)
    outcome = next((f for f in files if f.kind == "outcomes"), None)
    if outcome is not None:
        try:  # the date order answered before for a file with these headers
            state.saved_order = (store.column_map(remembered_headers(outcome.headers), _DATE_ORDER_KIND) or {}).get("order")
        except DB_ERRORS:
            state.saved_order = None
    ss[KEY_NAME] = Path(outcome.source or outcome.name).stem[:200] if outcome else ""
    for key in (KEY_DATE_ORDER, KEY_ALLOW_DUPLICATE, KEY_SHEETS):
        ss.pop(key, None)
    ss[_STATE] = state
    return state


def _recognise(source: SourceFile) -> list[_FileInfo]:
    """What a file holds: one table for a CSV file, one per record sheet for a workbook."""
    try:
        tables, _ = read_tables(source)
    except ImportProblem as exc:
        return [_FileInfo(source.name, None, 0, (), "", "", 0, str(exc), source=source.name)]
    found = []
    for table in tables:
        headers = tuple(table.headers)
        kind = detect_kind(list(headers))
        flags = len(plan_columns(list(headers), "outcomes").flags) if kind == "outcomes" else 0
        found.append(_FileInfo(table.file, kind, table.num_rows + len(table.malformed), headers, table.encoding,
                               table.delimiter, flags, None, table.sheet, source.name))
    return found


def _show_recognised(files: list[_FileInfo]) -> None:
    rows = []
    for f in files:
        if f.kind is None:
            what = "cannot be read"
        elif f.flag_columns:
            what = f"outcome records with {f.flag_columns} side-effect column(s)"
        else:
            what = _KIND_LABELS[f.kind]
        rows.append({"file": f.name, "recognised as": what, "rows": f.rows, "columns": len(f.headers),
                     "encoding": f.encoding, "delimiter": _DELIMITERS.get(f.delimiter, f.delimiter)})
    st.dataframe(pd.DataFrame(rows), key="upload_recognised", hide_index=True, width="stretch")


def _sheet_step(state: _Upload) -> tuple[str, ...]:
    """With several record sheets in the workbooks, let the user leave some out; the sheets to read
    (empty: all of them)."""
    sheets = [f.sheet for f in state.files if f.sheet is not None]
    if len(sheets) < 2:
        return ()
    chosen = st.multiselect("Sheets to import", sheets, default=sheets, key=KEY_SHEETS,
                            help="Every sheet with outcome or side-effect column headers is imported. Leave out the "
                                 "ones you do not want, e.g. when two sheets hold outcomes for different months.")
    return () if len(chosen) == len(sheets) else tuple(chosen)


def _importable(files: list[_FileInfo]) -> bool:
    """Refuse up front what cannot be imported whatever the user chooses."""
    unreadable = [f for f in files if f.kind is None]
    if unreadable:
        st.error("A file cannot be read, so nothing can be imported. Remove it from the list above, or fix it "
                 "and upload it again.")
        st.text("\n".join(f.problem or "" for f in unreadable))
        return False
    names = [f.name for f in files]
    if len(set(names)) < len(names):
        st.error("Two files have the same name. Rename one of them and upload them again.")
        return False
    if not any(f.kind == "outcomes" for f in files):
        st.error("Every file looks like side-effect records. Add the outcome records (one row per treatment): "
                 "side effects are stored with the treatments they followed.")
        return False
    return True


def _mapping_steps(state: _Upload) -> dict[str, dict[str, str]] | None:
    """Draw a column-mapping step per kind that needs one; return kind -> {header: column}, or None
    when one file column is chosen for two fields."""
    chosen: dict[str, dict[str, str]] = {}
    valid = True
    for kind, step in state.mapping.items():
        st.warning("Some required columns were not recognised. Choose the column of the file that holds each "
                   "field (required ones first), then press Import again. The choice is remembered for files "
                   "with the same headers.")
        st.text(f"File: {step.file} ({_KIND_LABELS.get(kind, kind)})\n"
                f"Not recognised: {', '.join(schema.label(m) for m in step.missing)}")
        columns = schema.OUTCOME_COLUMNS if kind == "outcomes" else schema.SIDE_EFFECT_COLUMNS
        ordered = sorted(columns, key=lambda c: not (c.required or c.name in step.missing))
        options = [NOT_IN_FILE, *step.headers]
        token = headers_key(step.headers)[:12]
        mapping: dict[str, str] = {}
        for i, col in enumerate(ordered):
            if i % 3 == 0:
                row = st.columns(3)   # row by row, so the required fields come first in reading order
            required = col.required or col.name in step.missing
            default = step.prefill.get(col.name)
            with row[i % 3]:
                name = schema.label(col.name)
                header = st.selectbox(f"{name} (required)" if required else name, options,
                                      index=options.index(default) if default in options else 0,
                                      key=f"{KEY_MAP_PREFIX}_{kind}_{col.name}_{token}", help=col.description)
            if header and header != NOT_IN_FILE:
                if header in mapping:
                    valid = False
                mapping[header] = col.name
        chosen[kind] = mapping
    return chosen if valid else None


def _date_step(state: _Upload) -> str | None:
    if state.dates is None:
        return None
    file, column, examples = state.dates
    st.warning("The dates could be read either way: every day and month is 12 or less. Say how the file writes "
               "dates, then press Import again.")
    st.text(f"File: {file}\nColumn: {column}\nFor example: {', '.join(examples[:3])}")
    return st.radio("How are the dates written?", list(DATE_ORDERS), format_func=DATE_ORDERS.get, index=None,
                    key=KEY_DATE_ORDER, horizontal=True)


def _duplicate_step(state: _Upload) -> bool:
    if state.duplicate is None:
        return False
    file, dataset = state.duplicate
    st.warning("This file was imported before. Open that dataset from the sidebar, or import a second copy.")
    st.text(f"File: {file}\nAlready in dataset: {dataset.name}\nImported: {dataset.created_at:%Y-%m-%d %H:%M} UTC "
            f"(id {dataset.id})")
    return bool(st.checkbox("Import it again anyway", key=KEY_ALLOW_DUPLICATE))


def _target_step(user_access: Access, viewed_id: str | None) -> tuple[str, str | None]:
    """A new dataset (and its name), or the dataset to add the records to or replace; (target, dataset id)."""
    target = st.radio("Import into", list(TARGETS), format_func=TARGETS.get, key=KEY_TARGET, horizontal=True,
                      help="Add to a dataset: new treatments are added and changed ones updated; the dataset keeps "
                           "its id, so every share link to it shows the newest records.")
    if target == "new":
        st.text_input("Dataset name", key=KEY_NAME, max_chars=200,
                      help="How the dataset is listed in the sidebar; you can rename it later.")
        return "new", None
    try:
        datasets = user_access.datasets(able_to=target)
    except DB_ERRORS:
        st.error("The datasets cannot be listed: the database refused. Import into a new dataset, or try again.")
        return "new", None
    if not datasets:
        st.info("None of the datasets you can see lets you add or replace records: that takes an editor. Import "
                "into a new dataset, or ask a dataset's owner to share it with you as an editor.")
        return "none", None
    by_id = {d.id: d for d in datasets}
    ids = list(by_id)
    if st.session_state.get(KEY_INTO) not in by_id:
        st.session_state[KEY_INTO] = viewed_id if viewed_id in by_id else ids[0]
    into = st.selectbox("Dataset", ids, key=KEY_INTO,
                        format_func=lambda i: f"{by_id[i].name} ({by_id[i].treatments:,} treatments)")
    if target == "append":
        st.caption("A treatment id the dataset does not hold is added; one it holds is updated when a value differs "
                   "(the file wins). A file imported into it before is skipped. The last import can be rolled back.")
    else:
        st.caption("All the dataset's records are replaced by the file's. The last import can be rolled back.")
    return target, into


def _attempt(state: _Upload, store: Store, user_access: Access, options: ImportOptions, allow_duplicate: bool,
             chosen: dict[str, dict[str, str]], target: str = "new", into: str | None = None) -> None:
    """Import with the user's choices; record the result (or the next step needed) in ``state``."""
    state.error, state.done = None, None
    with st.status("Importing…", expanded=True) as status:
        bar = st.progress(0.0, text="Steps 1 and 2 of 3: reading the files and checking every row…")
        result = _validate(state, store, options)
        if result is not None:
            bar.progress(0.6, text="Step 3 of 3: saving the dataset…")
            saved = _save(state, user_access, options, result, allow_duplicate, target, into)
            if saved is not None:
                info, change = saved
                bar.progress(1.0, text="Saved.")
                status.update(label="Imported", state="complete", expanded=False)
                _after_import(state, store, info, result.report, chosen, change, options.date_order)
                return
        status.update(label="Not imported", state="error", expanded=False)


def _validate(state: _Upload, store: Store, options: ImportOptions) -> ImportResult | None:
    """Read and check every row; None (with the next step or the refusal in ``state``) when not importable."""
    if state.pending is not None and state.pending[0] == options:
        return state.pending[1]   # already checked; only the duplicate question was open
    state.pending = None
    sources = {s.name: s for s in state.sources}
    # Each uploaded file once, those holding outcomes first (a workbook's sheets are one file).
    order = list(dict.fromkeys([f.source for f in state.files if f.kind == "outcomes"]
                               + [f.source for f in state.files]))
    try:
        return import_files(sources[order[0]], [sources[name] for name in order[1:]] or None, options)
    except MissingColumns as exc:
        state.mapping[exc.kind] = _new_mapping_step(exc, store)
    except DateOrderNeeded as exc:
        state.dates = (exc.file, exc.column, list(exc.examples))
    except ImportProblem as exc:
        state.error = ("The import was refused and nothing was saved:", str(exc))
    except ValueError as exc:   # not an ImportProblem: a file the reader did not foresee
        state.error = ("The files could not be read, so nothing was saved:", str(exc))
    return None


def _save(state: _Upload, user_access: Access, options: ImportOptions, result: ImportResult, allow_duplicate: bool,
          target: str = "new", into: str | None = None) -> tuple[DatasetInfo, versions.Change | None] | None:
    """Store the checked records as a new dataset, or into one; None (with the reason in ``state``) when not."""
    try:
        if target == "none":
            state.error = ("Choose where to import the records, so nothing was saved.", "")
            return None
        if target != "new" and into is not None:
            change = user_access.add_records(into, result, replace=target == "replace")
            info = user_access.get(into)
            if info is None:
                raise DatasetNotFound(into)
            return info, change
        return user_access.import_dataset(result, str(st.session_state.get(KEY_NAME, "")),
                                          allow_duplicate=allow_duplicate), None
    except DatasetNotFound:
        state.error = ("That dataset no longer exists (another manager may have deleted it), so nothing was saved.",
                       "")
    except DuplicateImport as exc:
        state.pending = (options, result)
        state.duplicate = (exc.file, exc.dataset)
    except AccessDenied as exc:
        state.error = ("You may not change that dataset, so nothing was saved:", str(exc))
    except StoreError as exc:
        state.error = ("The database could not save the dataset, so nothing was saved:", str(exc))
    except sa.exc.SQLAlchemyError:
        state.error = ("The database refused the import, so nothing was saved.", "")
    except ValueError as exc:   # a dataset name that is empty or too long
        state.error = ("Check the dataset name:", str(exc))
    return None


def _new_mapping_step(exc: MissingColumns, store: Store) -> _MappingStep:
    try:
        saved = store.column_map(remembered_headers(exc.headers), exc.kind) or {}
    except DB_ERRORS:
        saved = {}
    by_column = {column: header for header, column in {**exc.mapping, **saved}.items() if header in exc.headers}
    return _MappingStep(exc.kind, exc.file, list(exc.headers), list(exc.missing), by_column)


def _after_import(state: _Upload, store: Store, info: DatasetInfo, report: ImportReport,
                  chosen: dict[str, dict[str, str]], change: versions.Change | None = None,
                  date_order: str = "auto") -> None:
    """Remember the mappings and the date order that worked, switch the app to the dataset, keep the report."""
    outcome = next((f for f in state.files if f.kind == "outcomes"), None)
    if state.dates is not None and date_order in DATE_ORDERS and outcome is not None:
        try:
            store.save_column_map(remembered_headers(outcome.headers), _DATE_ORDER_KIND, {"order": date_order})
        except DB_ERRORS:
            pass  # only the convenience of not being asked again is lost
    for kind, step in state.mapping.items():
        try:
            store.save_column_map(remembered_headers(step.headers), kind, chosen.get(kind, {}))
        except DB_ERRORS:
            pass  # the dataset is saved; only the convenience of automatic mapping next time is lost
        state.saved[kind] = chosen.get(kind, {})
    state.done = _Done(info.id, info.name, report,  # the importer already withholds identifier values
                       change.sentence() if change is not None else None)
    state.mapping, state.dates, state.duplicate, state.pending = {}, None, None, None
    request_dataset(info.id)


def _show_outcome(state: _Upload) -> None:
    if state.error is not None:
        headline, detail = state.error
        st.error(headline)
        if detail:
            st.text(detail)
    if state.done is not None:
        _show_report(state.done)


def _show_report(done: _Done) -> None:
    report = done.report
    if done.change is None:
        st.success("Imported. The dashboard switched to the new dataset.")
        st.text(f"New dataset: {done.name}")
    else:
        st.success("Imported into the dataset. The dashboard shows it, and its share links show the newest records.")
        st.text(f"Dataset: {done.name}\n{done.change}")
    cols = st.columns(4)
    cols[0].metric("Treatments imported", f"{report.outcomes_accepted:,}")
    cols[1].metric("Side-effect records imported", f"{report.side_effects_accepted:,}")
    cols[2].metric("Rows rejected", f"{report.rows_rejected:,}")
    cols[3].metric("Warnings", f"{len(report.warnings):,}")
    files = pd.DataFrame([{"file": f.file, "kind": _KIND_LABELS.get(f.kind, f.kind), "encoding": f.encoding,
                           "delimiter": _DELIMITERS.get(f.delimiter, f.delimiter), "rows read": f.rows_read,
                           "accepted": f.rows_accepted, "rejected": f.rows_rejected} for f in report.files])
    st.dataframe(files, key="upload_report_files", hide_index=True, width="stretch")
    if report.notes:
        st.markdown("**Notes**")
        st.text("\n".join(f"• {note}" for note in report.notes))
    if report.problems.empty:
        st.text("No problem was found in any row.")
        return
    st.markdown("**Problems**")
    st.caption("Rejected rows were not imported; rows with a warning were imported as described. Row numbers are "
               "spreadsheet rows: the header is row 1.")
    shown = report.problems.head(MAX_ROWS_SHOWN)
    st.dataframe(shown, key="upload_problems", hide_index=True, width="stretch")
    if len(report.problems) > len(shown):
        st.caption(f"Showing the first {len(shown):,} of {len(report.problems):,} problems; download them all below.")
    st.download_button("All problems (CSV)", data=partial(safe_csv, report.problems), file_name="import-problems.csv",
                       mime="text/csv", key="upload_problems_csv", on_click="ignore")
    summaries = {f.file: f for f in report.files}
    for i, (file, rows) in enumerate(report.rejected_rows.items()):
        if rows.empty:
            continue
        st.text(f"Rejected rows of {file}, with the reasons, to fix and import again "
                "(written as the file was: same separator, decimal mark and encoding):")
        summary = summaries.get(file)
        st.download_button(f"Rejected rows of this import (CSV, {len(rows):,} row{'' if len(rows) == 1 else 's'})",
                           data=partial(in_dialect, rows, summary.delimiter if summary else ",",
                                        summary.encoding if summary else ""),
                           file_name=_download_name(file), mime="text/csv", key=f"upload_rejected_{i}",
                           on_click="ignore")


def _download_name(file: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file).stem).strip("._") or "file"
    return f"rejected-{stem[:80]}.csv"


def forget_report(dataset_id: str) -> None:
    """Drop the report of the import that made ``dataset_id``, which was deleted: it would describe a
    dataset that is gone."""
    upload = st.session_state.get(_STATE)
    if isinstance(upload, _Upload) and upload.done is not None and upload.done.dataset_id == dataset_id:
        upload.done = None
