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
from analysis.records import bin, rejects, versions
from analysis.records.access import ROLES, Access, AccessDenied, Grant
from analysis.records.store import DatasetInfo, DatasetNotFound, StoreError
from ui.setup import View, auth_configured, request_dataset
from ui.upload import DB_ERRORS, forget_report
from ui.widgets import table_config

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
KEY_SHARE_WHO = "data_share_who"
KEY_SHARE_ROLE = "data_share_role"
KEY_SHARE_GO = "data_share_go"
KEY_UNSHARE_PICK = "data_unshare_pick"
KEY_UNSHARE_GO = "data_unshare_go"
KEY_RESTORE_PICK = "data_restore_pick"
KEY_RESTORE_GO = "data_restore_go"


def datasets_section(view: View) -> None:
    """The datasets the user may see in a table; rename, delete, history, sharing."""
    user_access = view.access
    st.header("Datasets")
    _show_message()
    if not auth_configured():
        st.caption("No sign-in is configured, so anyone who can reach this app can see, change and delete every "
                   "dataset. To give each manager only the datasets shared with them, configure sign-in (see the "
                   "README, \"Running for several clinics\").")
    try:
        roles = user_access.roles()   # (one read for the list and both selectors)
        datasets = [d for d, _ in roles]
        renamable, deletable = user_access.able_to("rename", roles), user_access.able_to("delete", roles)
    except DB_ERRORS as exc:
        _database_error(exc)
        return
    viewed = view.dataset.id if view.dataset else None
    if not datasets:
        st.caption("You have no dataset yet: the first one you import is listed here.")
        _bin(user_access)
        return
    _table(datasets_table(datasets, viewed), "data_datasets")
    by_id = {d.id: d for d in datasets}
    ids = list(by_id)

    def label(dataset_id: str) -> str:
        d = by_id[dataset_id]
        return f"{d.name} ({d.created_at:%Y-%m-%d %H:%M})"

    ss = st.session_state
    for key, allowed in ((KEY_RENAME_PICK, renamable), (KEY_DELETE_PICK, deletable)):
        if key in ss and ss[key] not in allowed:
            del ss[key]  # deleted meanwhile, or no longer shared for this
    left, right = st.columns(2)
    with left:
        st.markdown("**Rename a dataset**")
        if _picker("Dataset to rename", [i for i in ids if i in renamable], viewed, label, KEY_RENAME_PICK,
                   "an editor"):
            st.text_input("New name", key=KEY_RENAME_NAME, max_chars=200)
            st.button("Rename", key=KEY_RENAME_GO, on_click=_rename, args=(user_access,))
    with right:
        st.markdown("**Delete a dataset**")
        if _picker("Dataset to delete", [i for i in ids if i in deletable], viewed, label, KEY_DELETE_PICK,
                   "its owner"):
            confirm = st.checkbox(_delete_consequence(), key=KEY_DELETE_CONFIRM, wrap=True)
            st.button("Delete", key=KEY_DELETE_GO, on_click=_delete, args=(user_access, viewed),
                      disabled=not confirm)
    if viewed in by_id:
        _history(user_access, by_id[viewed], viewed in renamable)
        if auth_configured() and viewed in deletable:
            _sharing(user_access, by_id[viewed])
        _changes(user_access, by_id[viewed])
    _bin(user_access)


def _table(frame: pd.DataFrame, key: str) -> None:
    """A Data page table, shown as every table is (separators, widths); it is not part of the page's report."""
    st.dataframe(frame, key=key, hide_index=True, width="stretch", column_config=table_config(frame))


def _delete_consequence() -> str:
    """What ticking the delete box agrees to, in words that are true for the configured bin."""
    try:
        days = bin.bin_days()
    except StoreError:
        days = bin.DEFAULT_BIN_DAYS
    if days <= 0:
        return ("Yes, delete this dataset and all its records. Share links to it will stop working. This cannot be "
                "undone.")
    return (f"Yes, delete this dataset. It leaves the dashboard and every share link to it at once. Its owner or an "
            f"admin can restore it from the bin below for {days:g} days (links then work again); after that it is "
            "purged for good.")


def _changes(user_access: Access, info: DatasetInfo) -> None:
    """The audit trail of the dataset being viewed: every change, who made it and when."""
    with st.expander("Every change to the dataset being viewed (who and when)"):
        try:
            entries = user_access.audit_trail(info.id, limit=500)
        except (DatasetNotFound, *DB_ERRORS):
            st.caption("Its changes cannot be read right now.")
            return
        if not entries:
            st.caption("No change has been recorded yet (changes are recorded from this version of the app on).")
            return
        _table(pd.DataFrame([{"when (UTC)": f"{e.at:%Y-%m-%d %H:%M}", "who": e.user or "", "what": e.action,
                              "name then": e.dataset_name,
                              "details": ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in e.details.items()
                                                   if v not in (None, "", []))} for e in entries]), "data_audit")


def _bin(user_access: Access) -> None:
    """Deleted datasets the user may restore (their owner, or an admin), until they are purged."""
    try:
        bin.purge_expired(user_access.store)
        binned = user_access.deleted()
    except DB_ERRORS:
        return
    if not binned:
        return
    st.subheader("Deleted datasets (the bin)")
    st.caption("A deleted dataset can be restored until the time shown; then it is purged for good. Restored, it "
               "keeps its id, so share links to it work again.")
    _table(pd.DataFrame([{"name": d.info.name, "treatments": d.info.treatments,
                          "deleted (UTC)": f"{d.deleted_at:%Y-%m-%d %H:%M}", "by": d.deleted_by or "",
                          "purged after (UTC)": f"{d.purge_after:%Y-%m-%d %H:%M}"} for d in binned]), "data_bin")
    names = {d.info.id: f"{d.info.name} (deleted {d.deleted_at:%Y-%m-%d %H:%M})" for d in binned}
    if st.session_state.get(KEY_RESTORE_PICK) not in names:
        st.session_state.pop(KEY_RESTORE_PICK, None)
    st.selectbox("Dataset to restore", list(names), format_func=names.get, key=KEY_RESTORE_PICK)
    st.button("Restore", key=KEY_RESTORE_GO, on_click=_restore, args=(user_access,))


def _restore(user_access: Access) -> None:
    dataset_id = str(st.session_state.get(KEY_RESTORE_PICK, ""))
    info = _attempt(lambda: user_access.restore(dataset_id), "restore", "The dataset was not restored.")
    if info is not None:
        st.session_state.pop(KEY_RESTORE_PICK, None)
        request_dataset(info.id)
        _message("success", "Dataset restored.", f"Restored: {info.name}")


def _picker(label: str, ids: list[str], viewed_id: str | None, format_func: Callable[[str], str], key: str,
            who: str) -> bool:
    """A dataset selector over ``ids`` (starting on the one being viewed); False, with why, when empty."""
    if not ids:
        st.caption(f"None of the datasets you can see lets you do this: it takes {who} (or an admin).")
        return False
    st.selectbox(label, ids, index=ids.index(viewed_id) if viewed_id in ids else 0, format_func=format_func,
                 key=key)
    return True


def _sharing(user_access: Access, info: DatasetInfo) -> None:
    """Who the dataset being viewed is shared with; share it with more people, or stop sharing it."""
    st.subheader("Sharing of the dataset being viewed")
    try:
        grants = user_access.grants(info.id)
    except (DatasetNotFound, *DB_ERRORS):
        st.caption("Its sharing cannot be read right now.")
        return
    _table(grants_table(grants), "data_grants")
    left, right = st.columns(2)
    with left:
        st.text_input("Share with", key=KEY_SHARE_WHO, max_chars=320, placeholder="name@clinic.example",
                      help="An e-mail address for one person, @clinic.example for everyone with an address at "
                           "that clinic, or * for everyone who can sign in.")
        st.radio("As", ["viewer", "editor"], key=KEY_SHARE_ROLE, horizontal=True,
                 format_func=lambda r: {"viewer": "viewer (sees it)",
                                        "editor": "editor (also adds records, rolls back, renames)"}[r])
        st.button("Share", key=KEY_SHARE_GO, on_click=_share, args=(user_access, info.id))
    others = [g.grantee for g in grants if g.role != "owner"]
    with right:
        if others:
            who = {g.grantee: g.who for g in grants}
            st.selectbox("Stop sharing with", others, format_func=who.get, key=KEY_UNSHARE_PICK)
            st.button("Stop sharing", key=KEY_UNSHARE_GO, on_click=_unshare, args=(user_access, info.id))
        else:
            st.caption("Not shared with anyone yet.")


def grants_table(grants: list[Grant]) -> pd.DataFrame:
    """One row per share: who, and as what."""
    return pd.DataFrame([{"who": g.who, "as": g.role} for g in grants], columns=["who", "as"])


def _share(user_access: Access, dataset_id: str) -> None:
    ss = st.session_state
    role = ss.get(KEY_SHARE_ROLE) if ss.get(KEY_SHARE_ROLE) in ROLES else "viewer"
    grant = _attempt(lambda: user_access.share(dataset_id, str(ss.get(KEY_SHARE_WHO, "")), role), "share",
                     "The dataset was not shared.")
    if grant is not None:
        ss[KEY_SHARE_WHO] = ""
        _message("success", "Shared.", f"Shared with {grant.who} as {grant.role}.")


def _unshare(user_access: Access, dataset_id: str) -> None:
    ss = st.session_state
    who = str(ss.get(KEY_UNSHARE_PICK, ""))
    if _attempt(lambda: user_access.unshare(dataset_id, who) or True, "change of sharing",
                "The sharing was not changed.") is not None:
        ss.pop(KEY_UNSHARE_PICK, None)
        _message("success", "No longer shared.", f"No longer shared with {who}.")


def _history(user_access: Access, info: DatasetInfo, may_roll_back: bool) -> None:
    """Every import into the dataset being viewed, and the undo of the most recent one."""
    st.subheader("History of the dataset being viewed")
    st.text(info.name)
    try:
        entries = user_access.history(info.id)
    except (DatasetNotFound, *DB_ERRORS):
        st.caption("Its history cannot be read right now.")
        return
    try:
        kept = user_access.kept_problems(info.id)
    except (DatasetNotFound, *DB_ERRORS):
        kept = []
        st.caption("The rejected rows of its imports cannot be read right now.")
    _table(history_table(entries, kept), "data_history")
    details = import_details(entries)
    if details:
        with st.expander("Files of each import, names in full, and who imported them"):
            st.text(details)
    _problem_downloads(user_access, info, entries, kept)
    undoable = [v for v in entries if v.action in ("append", "replace") and not v.rolled_back]
    if not may_roll_back:
        return
    if not undoable or undoable[-1].version != max(v.version for v in entries if v.action != "rollback"):
        st.caption("The most recent import can be rolled back once records have been added to the dataset or "
                   "replaced.")
        return
    last = undoable[-1]
    confirm = st.checkbox(f"Yes, roll back the import of {last.created_at:%Y-%m-%d %H:%M} UTC "
                          f"(version {last.version}): the dataset goes back to its records before it.",
                          key=KEY_ROLLBACK_CONFIRM, wrap=True)
    st.button("Roll back the most recent import", key=KEY_ROLLBACK_GO, on_click=_rollback, args=(user_access, info.id),
              disabled=not confirm)


_ACTIONS = {"import": "created", "append": "records added", "replace": "records replaced", "rollback": "rolled back"}


def history_table(entries: list[versions.Version], kept: Sequence[rejects.FileProblems] = ()) -> pd.DataFrame:
    """One row per import into a dataset: when, what, the counts, the problems kept with it (to download below
    the table) and the dataset after it, then who (when anyone signed in) and which files.

    The answer comes first, so it fits the page without scrolling sideways (1,400 px wide); the file names
    are shortened here (:func:`short_files`) and written in full by :func:`import_details` under the table."""
    problems: dict[int, int] = {}
    for k in kept:
        problems[k.version] = problems.get(k.version, 0) + k.problems
    table = pd.DataFrame([{
        "version": v.version,
        "when (UTC)": f"{v.created_at:%Y-%m-%d %H:%M}",
        "what": _ACTIONS.get(v.action, v.action) + (" (undone)" if v.rolled_back else ""),
        "rows": _row_counts(v.counts),
        "problems": problems.get(v.version, 0),
        "treatments after": v.treatments,
        "side effects after": v.side_effects,
        "by": v.user or "",
        "files": short_files([f["file"] for f in v.files]),
    } for v in reversed(entries)])
    # Without sign-in no import has a "by": the empty column would only push the files out of view.
    return table if table.empty or table["by"].astype(bool).any() else table.drop(columns="by")


SHORT_NAME = 28    #: characters of a file name shown in a table (the full name is written under it)
SHORT_FILES = 2    #: file names shown in a table cell; the others are counted


def short_files(names: Sequence[str]) -> str:
    """``clinic_export_2…_final_v2.csv, side.csv + 3 more``: file names as a table cell shows them, each cut in
    the middle to ``SHORT_NAME`` characters (its start and its extension kept), at most ``SHORT_FILES`` of them."""
    shown = [_short_name(n) for n in names[:SHORT_FILES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" + {more:,} more" if more else "")


def _short_name(name: str) -> str:
    if len(name) <= SHORT_NAME:
        return name
    tail = 12 if "." not in name[-8:] else max(len(name) - name.rindex(".") + 6, 10)
    return name[:SHORT_NAME - tail - 1] + "…" + name[-tail:]


def import_details(entries: list[versions.Version]) -> str:
    """Every import's files in full and who imported them, one import a paragraph (newest first): what the
    history table shortens. Plain text (names come from uploads)."""
    parts = []
    for v in reversed(entries):
        if not v.files and not v.user:
            continue
        head = (f"Version {v.version}, {_ACTIONS.get(v.action, v.action)} {v.created_at:%Y-%m-%d %H:%M} UTC"
                + (f" by {v.user}" if v.user else "") + (":" if v.files else "."))
        parts.append("\n".join([head, *(f"  {f['file']}" for f in v.files)]))
    return "\n\n".join(parts)


def _row_counts(counts: dict) -> str:
    """``2 new · 1 updated · 0 unchanged · 1 rejected``: the counts an import has (one column, not four half
    empty ones; a created dataset or a roll-back has none)."""
    return " · ".join(f"{counts[k]:,} {k}" for k in ("new", "updated", "unchanged", "rejected")
                      if counts.get(k) is not None)


def _problem_downloads(user_access: Access, info: DatasetInfo, entries: list[versions.Version],
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
                                   data=partial(_rejected_csv, user_access, info.id, k), file_name=_rejected_name(k.file),
                                   mime="text/csv", key=KEY_REJECTED.format(version=version, position=k.position),
                                   on_click="ignore")
            st.download_button("Problem list (CSV)", data=partial(_problems_csv, user_access, info.id, version),
                               file_name=f"problems-version-{version}.csv", mime="text/csv",
                               key=KEY_PROBLEMS.format(version=version), on_click="ignore")
    if len(by_version) > IMPORTS_WITH_DOWNLOADS:
        st.caption(f"Only the {IMPORTS_WITH_DOWNLOADS} most recent imports with problems are offered here. For an "
                   "older one: python -m analysis problems DATASET_ID --version N --out FOLDER")


def _rejected_csv(user_access: Access, dataset_id: str, kept: rejects.FileProblems) -> bytes:
    """A file's kept rejected rows as the file was written (its separator, decimal mark and encoding)."""
    try:
        rows = user_access.rejected_rows(dataset_id, kept.version, kept.position)
    except (DatasetNotFound, *DB_ERRORS):
        return _unreadable()
    return in_dialect(rows, kept.delimiter, kept.encoding)


def _problems_csv(user_access: Access, dataset_id: str, version: int) -> bytes:
    """One import's kept problem list as CSV, formula-like text neutralised."""
    try:
        return safe_csv(user_access.problem_list(dataset_id, version))
    except (DatasetNotFound, *DB_ERRORS):
        return _unreadable()


def _unreadable() -> bytes:
    return safe_csv(pd.DataFrame({"message": ["The database could not be read just now; download again in a moment."]}))


def _rejected_name(file: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file).stem).strip("._") or "file"
    return f"rejected-{stem[:80]}.csv"


def _rollback(user_access: Access, dataset_id: str) -> None:
    """Button callback: undo the most recent import into the dataset after the confirmation."""
    ss = st.session_state
    if not ss.get(KEY_ROLLBACK_CONFIRM):
        _message("warning", "Tick the confirmation box to roll back.")
        return
    ss[KEY_ROLLBACK_CONFIRM] = False
    change = _attempt(lambda: user_access.rollback(dataset_id), "rollback", "Nothing was rolled back.", "warning")
    if change is not None:
        _message("success", "Rolled back.", change.sentence())


def _attempt(action: Callable[[], T], what: str, refused: str, level: str = "error") -> T | None:
    """Run a change to a dataset; None (with the message to show) when it was refused: the dataset is gone,
    the input was not acceptable (``refused``, at ``level``), or the database said no."""
    try:
        return action()
    except DatasetNotFound:
        _message("error", "That dataset no longer exists: another manager may have deleted it.")
    except AccessDenied as exc:
        _message("error", refused, str(exc))
    except ValueError as exc:
        _message(level, refused, str(exc))
    except StoreError as exc:
        _message("error", f"The database refused the {what}; nothing was changed.", str(exc))
    except sa.exc.SQLAlchemyError:
        _message("error", f"The database refused the {what}; nothing was changed.")
    return None


def datasets_table(datasets: list[DatasetInfo], viewed_id: str | None) -> pd.DataFrame:
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


def _rename(user_access: Access) -> None:
    """Button callback (runs before the page, so the sidebar shows the new name at once)."""
    ss = st.session_state
    dataset_id = ss.get(KEY_RENAME_PICK)
    info = _attempt(lambda: user_access.rename(str(dataset_id), str(ss.get(KEY_RENAME_NAME, ""))), "rename",
                    "The dataset was not renamed.")
    if info is not None:
        ss[KEY_RENAME_NAME] = ""
        _message("success", "Dataset renamed.", f"New name: {info.name}")


def _delete(user_access: Access, viewed_id: str) -> None:
    """Button callback: delete after the confirmation; the app moves to another dataset if needed."""
    ss = st.session_state
    dataset_id = str(ss.get(KEY_DELETE_PICK))
    if not ss.get(KEY_DELETE_CONFIRM):
        _message("warning", "Tick the confirmation box to delete a dataset.")
        return
    ss[KEY_DELETE_CONFIRM] = False   # every deletion needs its own confirmation
    try:
        datasets = user_access.datasets()
        target = next((d for d in datasets if d.id == dataset_id), None)
        remaining = [d for d in datasets if d.id != dataset_id]
        if target is None:
            raise DatasetNotFound(dataset_id)
        if not remaining:
            _message("error", "This is the only dataset, so it cannot be deleted: the dashboard needs one to show. "
                              "Import another dataset first.")
            return
        user_access.delete(dataset_id)
    except DatasetNotFound:
        _message("error", "That dataset no longer exists: another manager may have deleted it.")
    except AccessDenied as exc:
        _message("error", "The dataset was not deleted.", str(exc))
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
        _message("success", "Dataset deleted.", f"Deleted: {target.name}" + (
            " (it is in the bin at the foot of this page, where it can be restored)"
            if any(d.info.id == dataset_id for d in user_access.deleted()) else ""))
