"""The Data page's datasets: every stored dataset in a table, and renaming and deleting one.

Renames and deletions run as button callbacks, before the page is drawn, so the sidebar shows the
change at once; their outcome is kept in ``st.session_state`` and shown once. User-supplied text
(dataset names, messages that quote them) is shown only with ``st.text`` or in dataframes, as on
the rest of the page (see :mod:`ui.upload`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analysis.present.export import in_dialect, safe_csv
from analysis.records import rejects, versions
from analysis.records.store import DatasetInfo, DatasetNotFound, Store, StoreError
from ui.setup import View, request_dataset
from ui.upload import DB_ERRORS, forget_report

T = TypeVar("T")
_MESSAGE = "_data_message"    # outcome of the last rename or delete, shown once
KEY_RENAME_PICK = "data_rename_pick"
KEY_RENAME_NAME = "data_rename_name"
KEY_RENAME_GO = "data_rename_go"
KEY_DELETE_PICK = "data_delete_pick"
KEY_DELETE_CONFIRM = "data_delete_confirm"
KEY_DELETE_GO = "data_delete_go"
KEY_ROLLBACK_CONFIRM = "data_rollback_confirm"
KEY_ROLLBACK_GO = "data_rollback_go"
KEY_REJECTED = "data_rejected_{version}_{position}"   # one per file of an import with rejected rows
KEY_PROBLEMS = "data_problems_{version}"              # one per import with problems
IMPORTS_WITH_DOWNLOADS = 12  #: the newest imports with problems offered here (the command line has them all)


def datasets_section(store: Store, view: View) -> None:
    """All datasets in a table; rename and delete."""
    st.header("Datasets")
    _show_message()
    try:
        datasets = store.datasets()
    except DB_ERRORS as exc:
        _database_error(exc)
        return
    st.dataframe(datasets_table(datasets, view.dataset.id), key="data_datasets", hide_index=True, width="stretch")
    by_id = {d.id: d for d in datasets}
    ids = list(by_id)

    def label(dataset_id: str) -> str:
        d = by_id[dataset_id]
        return f"{d.name} ({d.created_at:%Y-%m-%d %H:%M})"

    ss = st.session_state
    for key in (KEY_RENAME_PICK, KEY_DELETE_PICK):
        if key in ss and ss[key] not in by_id:
            del ss[key]  # deleted meanwhile
    current = ids.index(view.dataset.id) if view.dataset.id in by_id else 0
    left, right = st.columns(2)
    with left:
        st.markdown("**Rename a dataset**")
        st.selectbox("Dataset to rename", ids, index=current, format_func=label, key=KEY_RENAME_PICK)
        st.text_input("New name", key=KEY_RENAME_NAME, max_chars=200)
        st.button("Rename", key=KEY_RENAME_GO, on_click=_rename, args=(store,))
    with right:
        st.markdown("**Delete a dataset**")
        st.selectbox("Dataset to delete", ids, index=current, format_func=label, key=KEY_DELETE_PICK)
        confirm = st.checkbox("Yes, delete this dataset and all its records. Share links to it will stop "
                              "working. This cannot be undone.", key=KEY_DELETE_CONFIRM)
        st.button("Delete", key=KEY_DELETE_GO, on_click=_delete, args=(store, view.dataset.id),
                  disabled=not confirm)
    if view.dataset.id in by_id:
        _history(store, by_id[view.dataset.id])


def _history(store: Store, info: DatasetInfo) -> None:
    """Every import into the dataset being viewed, and the undo of the most recent one."""
    st.subheader("History of the dataset being viewed")
    st.text(info.name)
    try:
        entries = versions.history(store, info.id)
    except (DatasetNotFound, *DB_ERRORS):
        st.caption("Its history cannot be read right now.")
        return
    try:
        kept = rejects.kept(store, info.id)
    except DB_ERRORS:
        kept = []
        st.caption("The rejected rows of its imports cannot be read right now.")
    st.dataframe(history_table(entries, kept), key="data_history", hide_index=True, width="stretch")
    _problem_downloads(store, info, entries, kept)
    undoable = [v for v in entries if v.action in ("append", "replace") and not v.rolled_back]
    if not undoable or undoable[-1].version != max(v.version for v in entries if v.action != "rollback"):
        st.caption("The most recent import can be rolled back once records have been added to the dataset or "
                   "replaced.")
        return
    last = undoable[-1]
    confirm = st.checkbox(f"Yes, roll back the import of {last.created_at:%Y-%m-%d %H:%M} UTC "
                          f"(version {last.version}): the dataset goes back to its records before it.",
                          key=KEY_ROLLBACK_CONFIRM)
    st.button("Roll back the most recent import", key=KEY_ROLLBACK_GO, on_click=_rollback, args=(store, info.id),
              disabled=not confirm)


_ACTIONS = {"import": "created", "append": "records added", "replace": "records replaced", "rollback": "rolled back"}


def history_table(entries: list[versions.Version], kept: Sequence[rejects.FileProblems] = ()) -> pd.DataFrame:
    """One row per import into a dataset: when, what, which files, the counts, the problems kept with it (to
    download below the table), and the dataset after it."""
    problems: dict[int, int] = {}
    for k in kept:
        problems[k.version] = problems.get(k.version, 0) + k.problems
    return pd.DataFrame([{
        "version": v.version,
        "when (UTC)": f"{v.created_at:%Y-%m-%d %H:%M}",
        "what": _ACTIONS.get(v.action, v.action) + (" (undone)" if v.rolled_back else ""),
        "by": v.user or "",
        "files": ", ".join(f["file"] for f in v.files),
        "new": v.counts.get("new"),
        "updated": v.counts.get("updated"),
        "unchanged": v.counts.get("unchanged"),
        "rejected": v.counts.get("rejected"),
        "problems": problems.get(v.version),
        "treatments after": v.treatments,
        "side-effect records after": v.side_effects,
    } for v in reversed(entries)])


def _problem_downloads(store: Store, info: DatasetInfo, entries: list[versions.Version],
                       kept: list[rejects.FileProblems]) -> None:
    """Under the history: each import's rejected rows (in its file's own dialect) and problem list, to download
    at any time. The rows are read from the database only when a button is pressed."""
    if not kept:
        return
    by_version: dict[int, list[rejects.FileProblems]] = {}
    for k in kept:  # newest first
        by_version.setdefault(k.version, []).append(k)
    when = {v.version: v for v in entries}
    st.markdown("**Rejected rows and problems of each import**")
    st.caption("Rejected rows are written as their file was (same separator, decimal mark and encoding), with the "
               "reasons, to fix and import again. Row numbers are spreadsheet rows: the header is row 1.")
    for version, files in list(by_version.items())[:IMPORTS_WITH_DOWNLOADS]:
        entry = when.get(version)
        heading = f"Version {version}" + (f", {_ACTIONS.get(entry.action, entry.action)} "
                                           f"{entry.created_at:%Y-%m-%d %H:%M} UTC" if entry else "")
        lines = [f"{k.file}: {k.rows_rejected:,} row(s) rejected, {k.problems:,} problem(s)." for k in files]
        lines += [k.note() for k in files if k.note()]
        st.text(heading + "\n" + "\n".join(lines))
        with st.container(horizontal=True):
            buttons = [k for k in files if k.rejected_kept]
            for k in buttons:
                what = "Rejected side-effect rows" if k.kind == "side_effects" and len(buttons) > 1 else "Rejected rows"
                st.download_button(f"{what} (CSV, {k.rejected_kept:,} row{'' if k.rejected_kept == 1 else 's'})",
                                   data=partial(_rejected_csv, store, info.id, k), file_name=_rejected_name(k.file),
                                   mime="text/csv", key=KEY_REJECTED.format(version=version, position=k.position),
                                   on_click="ignore")
            st.download_button("Problem list (CSV)", data=partial(_problems_csv, store, info.id, version),
                               file_name=f"problems-version-{version}.csv", mime="text/csv",
                               key=KEY_PROBLEMS.format(version=version), on_click="ignore")
    if len(by_version) > IMPORTS_WITH_DOWNLOADS:
        st.caption(f"Only the {IMPORTS_WITH_DOWNLOADS} most recent imports with problems are offered here. For an "
                   "older one: python -m analysis problems DATASET_ID --version N --out FOLDER")


def _rejected_csv(store: Store, dataset_id: str, kept: rejects.FileProblems) -> bytes:
    """A file's kept rejected rows as the file was written (its separator, decimal mark and encoding)."""
    try:
        rows = rejects.rejected_rows(store, dataset_id, kept.version, kept.position)
    except DB_ERRORS:
        return _unreadable()
    return in_dialect(rows, kept.delimiter, kept.encoding)


def _problems_csv(store: Store, dataset_id: str, version: int) -> bytes:
    """One import's kept problem list as CSV, formula-like text neutralised."""
    try:
        return safe_csv(rejects.problem_list(store, dataset_id, version))
    except DB_ERRORS:
        return _unreadable()


def _unreadable() -> bytes:
    return safe_csv(pd.DataFrame({"message": ["The database could not be read just now; download again in a moment."]}))


def _rejected_name(file: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file).stem).strip("._") or "file"
    return f"rejected-{stem[:80]}.csv"


def _rollback(store: Store, dataset_id: str) -> None:
    """Button callback: undo the most recent import into the dataset after the confirmation."""
    ss = st.session_state
    if not ss.get(KEY_ROLLBACK_CONFIRM):
        _message("warning", "Tick the confirmation box to roll back.")
        return
    ss[KEY_ROLLBACK_CONFIRM] = False
    change = _attempt(lambda: versions.rollback(store, dataset_id), "rollback", "Nothing was rolled back.", "warning")
    if change is not None:
        _message("success", "Rolled back.", change.sentence())


def _attempt(action: Callable[[], T], what: str, refused: str, level: str = "error") -> T | None:
    """Run a change to a dataset; None (with the message to show) when it was refused: the dataset is gone,
    the input was not acceptable (``refused``, at ``level``), or the database said no."""
    try:
        return action()
    except DatasetNotFound:
        _message("error", "That dataset no longer exists: another manager may have deleted it.")
    except ValueError as exc:
        _message(level, refused, str(exc))
    except StoreError as exc:
        _message("error", f"The database refused the {what}; nothing was changed.", str(exc))
    except sa.exc.SQLAlchemyError:
        _message("error", f"The database refused the {what}; nothing was changed.")
    return None


def datasets_table(datasets: list[DatasetInfo], viewed_id: str) -> pd.DataFrame:
    """One row per dataset: name, created, counts, source files; the one being viewed marked."""
    return pd.DataFrame([{
        "viewing": "✓" if d.id == viewed_id else "",
        "name": d.name,
        "created (UTC)": f"{d.created_at:%Y-%m-%d %H:%M}",
        "treatments": d.treatments,
        "side-effect records": d.side_effects,
        "rows rejected at import": d.rows_rejected,
        "source files": ", ".join(s.file_name for s in d.sources),
        "id": d.id,
    } for d in datasets], columns=["viewing", "name", "created (UTC)", "treatments", "side-effect records",
                                   "rows rejected at import", "source files", "id"])


def _message(level: str, headline: str, detail: str = "") -> None:
    st.session_state[_MESSAGE] = (level, headline, detail)


def _show_message() -> None:
    found = st.session_state.pop(_MESSAGE, None)
    if not found:
        return
    level, headline, detail = found
    {"success": st.success, "warning": st.warning, "error": st.error}[level](headline)
    if detail:
        st.text(detail)


def _database_error(exc: Exception) -> None:
    st.error("The database refused the operation; nothing was changed.")
    if isinstance(exc, StoreError):
        st.text(str(exc))  # StoreError messages hide passwords; raw SQLAlchemy ones may quote SQL, so not shown


def _rename(store: Store) -> None:
    """Button callback (runs before the page, so the sidebar shows the new name at once)."""
    ss = st.session_state
    dataset_id = ss.get(KEY_RENAME_PICK)
    info = _attempt(lambda: store.rename(str(dataset_id), str(ss.get(KEY_RENAME_NAME, ""))), "rename",
                    "The dataset was not renamed.")
    if info is not None:
        ss[KEY_RENAME_NAME] = ""
        _message("success", "Dataset renamed.", f"New name: {info.name}")


def _delete(store: Store, viewed_id: str) -> None:
    """Button callback: delete after the confirmation; the app moves to another dataset if needed."""
    ss = st.session_state
    dataset_id = str(ss.get(KEY_DELETE_PICK))
    if not ss.get(KEY_DELETE_CONFIRM):
        _message("warning", "Tick the confirmation box to delete a dataset.")
        return
    ss[KEY_DELETE_CONFIRM] = False   # every deletion needs its own confirmation
    try:
        datasets = store.datasets()
        target = next((d for d in datasets if d.id == dataset_id), None)
        remaining = [d for d in datasets if d.id != dataset_id]
        if target is None:
            raise DatasetNotFound(dataset_id)
        if not remaining:
            _message("error", "This is the only dataset, so it cannot be deleted: the dashboard needs one to show. "
                              "Import another dataset first.")
            return
        store.delete(dataset_id)
    except DatasetNotFound:
        _message("error", "That dataset no longer exists: another manager may have deleted it.")
    except StoreError as exc:
        _message("error", "The database refused the deletion; nothing was changed.", str(exc))
    except sa.exc.SQLAlchemyError:
        _message("error", "The database refused the deletion; nothing was changed.")
    else:
        for key in (KEY_RENAME_PICK, KEY_DELETE_PICK):
            ss.pop(key, None)
        if dataset_id == viewed_id:
            request_dataset(remaining[0].id)
        forget_report(dataset_id)
        _message("success", "Dataset deleted.", f"Deleted: {target.name}")
