"""The Data page's datasets: every stored dataset in a table, and renaming and deleting one.

Renames and deletions run as button callbacks, before the page is drawn, so the sidebar shows the
change at once; their outcome is kept in ``st.session_state`` and shown once. User-supplied text
(dataset names, messages that quote them) is shown only with ``st.text`` or in dataframes, as on
the rest of the page (see :mod:`ui.upload`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analysis.records import versions
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
    st.dataframe(history_table(entries), key="data_history", hide_index=True, width="stretch")
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


def history_table(entries: list[versions.Version]) -> pd.DataFrame:
    """One row per import into a dataset: when, what, which files, the counts, and the dataset after it."""
    actions = {"import": "created", "append": "records added", "replace": "records replaced", "rollback": "rolled back"}
    return pd.DataFrame([{
        "version": v.version,
        "when (UTC)": f"{v.created_at:%Y-%m-%d %H:%M}",
        "what": actions.get(v.action, v.action) + (" (undone)" if v.rolled_back else ""),
        "by": v.user or "",
        "files": ", ".join(f["file"] for f in v.files),
        "new": v.counts.get("new"),
        "updated": v.counts.get("updated"),
        "unchanged": v.counts.get("unchanged"),
        "rejected": v.counts.get("rejected"),
        "treatments after": v.treatments,
        "side-effect records after": v.side_effects,
    } for v in reversed(entries)])


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
