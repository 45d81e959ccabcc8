"""Who may see and change which dataset: the one place every read and write of the app goes through.

With sign-in configured, every dataset has an **owner** (the signed-in user who created it, by e-mail) who can
share it with listed e-mail addresses, whole e-mail domains (``@clinic.example``) or everyone signed in
(``*``), each as a **viewer** or an **editor**:

============  ======================================================================
role          may
============  ======================================================================
viewer        see the dataset (select it, open its pages, its history)
editor        also add records to it, replace them, roll back an import, rename it
owner         also share it and delete it
admin         everything on every dataset (admins are listed in the secrets)
============  ======================================================================

A dataset a user may not see does not exist for that user: :meth:`Access.get` returns None and every other
method raises :class:`~analysis.records.store.DatasetNotFound`, exactly as for an id that does not exist, after
the same one query, so neither the answer nor its timing tells the two apart. A dataset the user may see but not
change raises :class:`AccessDenied`, which says who can.

Without sign-in (the single-machine default) the user is :data:`LOCAL`: anyone who can reach the app may do
everything, as the Data page says. The command line acts as an admin too: whoever can run it can reach the
database anyway. Datasets that have no owner (imported before sign-in was configured) are seen by admins
only, except the bundled sample, which everyone signed in may view.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import sqlalchemy as sa

from analysis.records import audit, bin, rejects, versions
from analysis.records.db import access_table, datasets_table, meta_table
from analysis.records.ingest import ImportResult
from analysis.records.store import ROOT, DatasetInfo, DatasetNotFound, DuplicateImport, Records, Store, StoreError, is_valid_dataset_id

Role = Literal["viewer", "editor", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "owner")
_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
EVERYONE = "*"
#: What each change needs (reading needs "viewer").
NEEDS: dict[str, Role] = {"append": "editor", "replace": "editor", "rollback": "editor", "rename": "editor",
                          "share": "owner", "delete": "owner"}
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_log = logging.getLogger(__name__)
_DOMAIN = re.compile(r"^@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class AccessDenied(StoreError):
    """The user may see the dataset but not make this change. The message says who can."""


@dataclass(frozen=True)
class User:
    """Who is asking. ``email`` is None only for :data:`LOCAL` (no sign-in configured)."""

    email: str | None
    admin: bool = False
    #: How changes by a user with no e-mail address are put on record ("command line"), if at all.
    via: str | None = None

    @classmethod
    def signed_in(cls, email: str, admins: Iterable[str] | str = ()) -> "User":
        """The signed-in user with this e-mail address; an admin when it is listed in ``admins`` (entries that are
        not e-mail addresses are skipped with a warning in the log, so one typo locks nobody out)."""
        address = normalise_email(email)
        return cls(address, admin=address in admin_addresses(admins))

    @property
    def actor(self) -> str | None:
        """Who the user is in a dataset's history and audit trail (None: unknown, no sign-in)."""
        return self.email or self.via


#: The user when no sign-in is configured: anyone who can reach the app, allowed everything.
LOCAL = User(None, admin=True)
#: The command line: whoever can run it can reach the database, so it acts as an admin.
COMMAND_LINE = User(None, admin=True, via="command line")


@dataclass(frozen=True)
class Grant:
    """One share of a dataset: ``grantee`` (an address, ``@domain`` or ``*``) as ``role``."""

    grantee: str
    role: Role

    @property
    def who(self) -> str:
        """The grantee in words."""
        if self.grantee == EVERYONE:
            return "everyone signed in"
        if self.grantee.startswith("@"):
            return f"everyone with an address at {self.grantee[1:]}"
        return self.grantee


def admin_addresses(admins: Iterable[str] | str) -> set[str]:
    """The configured admins' addresses (a single address may be given as a string)."""
    out = set()
    for entry in [admins] if isinstance(admins, str) else admins:
        try:
            out.add(normalise_email(str(entry)))
        except ValueError:
            _log.warning("[access] admins: %r is not an e-mail address; it is ignored.", entry)
    return out


def normalise_email(email: str) -> str:
    """An e-mail address as stored and compared: stripped, lower case. Raises ValueError when it is not one."""
    address = (email or "").strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise ValueError(f"'{email}' is not an e-mail address. Write it as name@clinic.example.")
    return address


def normalise_grantee(text: str) -> str:
    """A share's grantee from what a user typed: an e-mail address, ``@domain`` (or ``domain``) or ``*``.

    Raises ValueError with a message that says what to type.
    """
    value = (text or "").strip().lower()
    if value in {EVERYONE, "everyone"}:
        return EVERYONE
    if "@" not in value and "." in value:
        value = "@" + value
    if value.startswith("@"):
        if not _DOMAIN.match(value) or len(value) > 320:
            raise ValueError(f"'{text}' is not an e-mail domain. Write it as @clinic.example.")
        return value
    try:
        return normalise_email(value)
    except ValueError:
        raise ValueError(f"'{text}' is not an e-mail address, an e-mail domain or '*'. Write name@clinic.example "
                         "for one person, @clinic.example for everyone at that clinic, or * for everyone signed "
                         "in.") from None


def parse_share(text: str) -> Grant:
    """A share written as ``GRANTEE[:ROLE]`` (the command line's ``--share``); the role defaults to viewer."""
    text = (text or "").strip()
    grantee, _, role = text.rpartition(":") if text.endswith((":viewer", ":editor")) else (text, "", "")
    role = role or "viewer"
    return Grant(normalise_grantee(grantee), role)  # type: ignore[arg-type]


def role_for(user: User, grants: Iterable[Grant], *, sample: bool = False) -> Role | None:
    """The highest role ``user`` has through ``grants`` (None: may not see the dataset)."""
    if user.admin:
        return "owner"
    grants = list(grants)
    if user.email is None:
        return None
    domain = "@" + user.email.rpartition("@")[2]
    best = 0
    for g in grants:
        if g.grantee in {user.email, domain, EVERYONE}:
            best = max(best, _RANK[g.role])
    if not best and sample and not grants:
        best = _RANK["viewer"]
    return ROLES[best - 1] if best else None


#: The configuration the command line reads ``[access]`` from (the app reads it through Streamlit's secrets).
SECRETS_ENV = "LASERDASH_SECRETS"
OWNER_ENV = "LASERDASH_DEFAULT_OWNER"
SHARE_ENV = "LASERDASH_DEFAULT_SHARE"


def configured(name: str = "access") -> dict:
    """The ``[access]`` (or another) section of ``$LASERDASH_SECRETS`` (default ``.streamlit/secrets.toml``), or {}."""
    path = os.environ.get(SECRETS_ENV) or str(ROOT / ".streamlit" / "secrets.toml")
    try:
        with open(path, "rb") as f:
            section = tomllib.load(f).get(name, {})
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"Cannot read the [{name}] settings in {path}: {exc}") from None
    return section if isinstance(section, dict) else {}


REPORT_AS_ENV = "LASERDASH_REPORT_AS"
AS_HELP = ("make it as this signed-in manager sees the datasets (only those shared with EMAIL); default: "
           "$LASERDASH_REPORT_AS, else [access] report_as in the secrets, else the command line, which sees every "
           "dataset as an admin")


def report_identity(email: str | None = None) -> User:
    """Who a report or an alert from the command line is made for: ``--as EMAIL``, else ``$LASERDASH_REPORT_AS``,
    else ``[access] report_as``; with none of them, the command line (an admin, as every command). Raises
    ValueError for an address that is not one."""
    settings = configured()
    email = email or os.environ.get(REPORT_AS_ENV) or settings.get("report_as") or None
    if not email:
        return COMMAND_LINE
    return User.signed_in(normalise_email(email), settings.get("admins", ()))


def cli_defaults(owner: str | None, shares: Sequence[str] | None) -> tuple[str | None, list[Grant]]:
    """The owner and shares of a dataset imported on the command line: as given, else the configured defaults
    (``$LASERDASH_DEFAULT_OWNER`` / ``$LASERDASH_DEFAULT_SHARE``, else ``[access] default_owner`` /
    ``default_share``)."""
    settings = configured() if owner is None or shares is None else {}
    owner = owner or os.environ.get(OWNER_ENV) or settings.get("default_owner") or None
    if shares is None:
        env = os.environ.get(SHARE_ENV)
        shares = env.split(",") if env else list(settings.get("default_share", []))
    return (normalise_email(owner) if owner else None), [parse_share(s) for s in shares if s.strip()]


class Access:
    """One user's way to the datasets: every method checks the user's role before it reads or writes.

    The app holds no :class:`~analysis.records.store.Store` of its own for datasets; it asks this class.
    """

    def __init__(self, store: Store, user: User) -> None:
        self.store = store
        self.user = user

    # --- who may do what ---------------------------------------------------------------------

    def role(self, dataset_id: str, *, deleted: bool = False) -> Role | None:
        """The user's role on the dataset; None when it does not exist (or is in the bin, unless ``deleted``) or
        the user may not see it."""
        if not is_valid_dataset_id(dataset_id):
            return None
        with self.store._errors(), self.store.engine.connect() as conn:
            where = datasets_table.c.id == dataset_id
            if not deleted:
                where = where & self.store._live()
            query = sa.select(datasets_table.c.id, *self._grant_columns()).where(where)
            if self.store._access:
                query = query.outerjoin(access_table, access_table.c.dataset_id == datasets_table.c.id)
            rows = conn.execute(query).all()
            sample = self._sample_id(conn)
        if not rows:
            return None
        grants = [Grant(r.grantee, r.role) for r in rows if r.grantee is not None]
        return role_for(self.user, grants, sample=dataset_id == sample)

    def may(self, dataset_id: str, action: str) -> bool:
        """Whether the user may make this change (``append``, ``rename``, ``share``, ``delete`` ...)."""
        role = self.role(dataset_id)
        return role is not None and _RANK[role] >= _RANK[NEEDS[action]]

    def require(self, dataset_id: str, action: str | None = None) -> DatasetInfo:
        """The dataset, when the user may see it (and make ``action``). Raises DatasetNotFound or AccessDenied."""
        role = self.role(dataset_id)
        info = self.store.get(dataset_id) if role is not None else None
        if info is None:
            raise DatasetNotFound(dataset_id)
        if action is not None and _RANK[role] < _RANK[NEEDS[action]]:  # type: ignore[index]
            who = "its owner, its editors or an admin" if NEEDS[action] == "editor" else "its owner or an admin"
            hint = " Ask its owner to share it with you as an editor." if NEEDS[action] == "editor" else ""
            raise AccessDenied(f"You can view '{info.name}' but not {_VERB[action]} it: only {who} can.{hint}")
        return info

    # --- reading -------------------------------------------------------------------------------

    def datasets(self, able_to: str | None = None) -> list[DatasetInfo]:
        """The datasets the user may see (and, with ``able_to``, make that change to), newest first."""
        needed = _RANK[NEEDS[able_to]] if able_to else _RANK["viewer"]
        return [d for d, role in self.roles() if _RANK[role] >= needed]

    def roles(self) -> list[tuple[DatasetInfo, Role]]:
        """Every dataset the user may see with the user's role on it, newest first (two queries in all)."""
        every = self.store.datasets()
        if self.user.admin:
            return [(d, "owner") for d in every]
        grants: dict[str, list[Grant]] = {}
        with self.store._errors(), self.store.engine.connect() as conn:
            if self.store._access:
                for r in conn.execute(sa.select(access_table)).mappings():
                    grants.setdefault(r["dataset_id"], []).append(Grant(r["grantee"], r["role"]))
            sample = self._sample_id(conn)
        out = [(d, role_for(self.user, grants.get(d.id, []), sample=d.id == sample)) for d in every]
        return [(d, role) for d, role in out if role is not None]

    def able_to(self, action: str, roles: list[tuple[DatasetInfo, Role]]) -> set[str]:
        """The ids among ``roles`` (from :meth:`roles`) on which the user may make ``action``."""
        return {d.id for d, role in roles if _RANK[role] >= _RANK[NEEDS[action]]}

    def get(self, dataset_id: str) -> DatasetInfo | None:
        """The dataset, or None when it does not exist or the user may not see it (the same answer)."""
        return self.store.get(dataset_id) if self.role(dataset_id) is not None else None

    def load(self, dataset_id: str) -> Records:
        """The dataset's records. Raises DatasetNotFound when it does not exist or the user may not see it."""
        self.require(dataset_id)
        return self.store.load(dataset_id)

    def history(self, dataset_id: str) -> list[versions.Version]:
        self.require(dataset_id)
        return versions.history(self.store, dataset_id)

    def kept_problems(self, dataset_id: str) -> list[rejects.FileProblems]:
        """What each import into the dataset kept of its rejected rows and problems (newest first)."""
        self.require(dataset_id)
        return rejects.kept(self.store, dataset_id)

    def rejected_rows(self, dataset_id: str, version: int, position: int):
        """One file's kept rejected rows (a DataFrame), from the import that made ``version``."""
        self.require(dataset_id)
        return rejects.rejected_rows(self.store, dataset_id, version, position)

    def problem_list(self, dataset_id: str, version: int):
        """The kept problem list (a DataFrame) of the import that made ``version``."""
        self.require(dataset_id)
        return rejects.problem_list(self.store, dataset_id, version)

    def deleted(self) -> list[bin.DeletedDataset]:
        """The datasets in the bin that the user may restore (their owner, or an admin)."""
        binned = bin.deleted(self.store)
        if self.user.admin:
            return binned
        return [d for d in binned if self.role(d.info.id, deleted=True) == "owner"]

    def audit_trail(self, dataset_id: str | None = None, limit: int = 1000) -> list[audit.AuditEntry]:
        """The changes to a dataset the user may see; all changes, to admins only."""
        if dataset_id is None:
            if not self.user.admin:
                raise AccessDenied("Only admins can see the changes to every dataset.")
            return audit.trail(self.store, None, limit)
        self.require(dataset_id)
        entries = audit.trail(self.store, dataset_id, limit)
        if self.role(dataset_id) == "owner":
            return entries
        # Who a dataset is shared with is for its owner and admins (as Access.grants): others see that it changed.
        return [replace(e, details={k: v for k, v in e.details.items()
                                    if k not in ("grantee", "role", "owner", "shared_with")}) for e in entries]

    def grants(self, dataset_id: str) -> list[Grant]:
        """Who the dataset is shared with (its owner first). Only its owner and admins may ask."""
        self.require(dataset_id, "share")
        if not self.store._access:
            return []
        with self.store._errors(), self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(access_table).where(access_table.c.dataset_id == dataset_id)).mappings()
            out = [Grant(r["grantee"], r["role"]) for r in rows]
        return sorted(out, key=lambda g: (-_RANK[g.role], g.grantee))

    # --- writing -------------------------------------------------------------------------------

    def import_dataset(self, result: ImportResult, name: str, *, shares: Sequence[Grant] = (),
                       owner: str | None = None, allow_duplicate: bool = False) -> DatasetInfo:
        """Store an import as a new dataset owned by the user (shared as ``shares``), in one transaction.

        ``owner``: someone else as the owner; only admins (e.g. the command line's ``--owner``) may.
        """
        if owner is not None and not self.user.admin:
            raise AccessDenied("Only an admin can import a dataset for someone else.")
        owner = normalise_email(owner) if owner else self.user.email
        grants: list[tuple[str, str]] = [(owner, "owner")] if owner else []
        grants += [(g.grantee, g.role) for g in shares if g.grantee != owner]
        if not allow_duplicate:
            # Only a dataset the user may see counts as holding the file already: naming (or even noticing)
            # another clinic's would tell that it exists.
            for source in result.sources:
                for dataset_id in self.store.datasets_with_source(source.sha256):
                    visible = self.get(dataset_id)
                    if visible is not None:
                        raise DuplicateImport(source.name, visible)
        info = self.store.import_dataset(result, name, allow_duplicate=True, user=self.user.actor, grants=grants)
        audit.record(self.store, self.user.actor, "import", info.id, info.name, treatments=info.treatments,
                     files=[f.file for f in result.report.files], rejected=result.report.rows_rejected,
                     owner=owner, shared_with=[f"{g.grantee} ({g.role})" for g in shares])
        return info

    def add_records(self, dataset_id: str, result: ImportResult, *, replace: bool = False) -> versions.Change:
        info = self.require(dataset_id, "replace" if replace else "append")
        change = versions.add_records(self.store, dataset_id, result, replace=replace, user=self.user.actor)
        if not change.skipped:
            audit.record(self.store, self.user.actor, change.action, dataset_id, info.name, version=change.version,
                         new=change.new, updated=change.updated, unchanged=change.unchanged, rejected=change.rejected,
                         files=[f.file for f in result.report.files])
        return change

    def rollback(self, dataset_id: str) -> versions.Change:
        info = self.require(dataset_id, "rollback")
        change = versions.rollback(self.store, dataset_id, user=self.user.actor)
        audit.record(self.store, self.user.actor, "rollback", dataset_id, info.name, version=change.version,
                     treatments=change.treatments)
        return change

    def rename(self, dataset_id: str, name: str) -> DatasetInfo:
        self.require(dataset_id, "rename")
        return self.store.rename(dataset_id, name, user=self.user.actor)

    def delete(self, dataset_id: str) -> None:
        """Move the dataset to the bin (restorable for :func:`analysis.records.bin.bin_days` days)."""
        self.require(dataset_id, "delete")
        bin.move_to_bin(self.store, dataset_id, user=self.user.actor)

    def restore(self, dataset_id: str) -> DatasetInfo:
        """Bring a dataset back from the bin. Only its owner and admins may (others: DatasetNotFound)."""
        if self.role(dataset_id, deleted=True) != "owner":   # (in the bin, it is visible to no one else)
            raise DatasetNotFound(dataset_id)
        return bin.restore(self.store, dataset_id, user=self.user.actor)

    def share(self, dataset_id: str, grantee: str, role: Role = "viewer") -> Grant:
        """Share the dataset with ``grantee`` (an address, ``@domain`` or ``*``) as ``role`` (viewer or
        editor), replacing an earlier share with the same grantee. Only its owner and admins may."""
        if role not in ("viewer", "editor"):
            raise ValueError(f"A dataset is shared as a viewer or an editor, not as '{role}'.")
        info = self.require(dataset_id, "share")
        grant = Grant(normalise_grantee(grantee), role)
        with self.store._errors(), self.store.engine.begin() as conn:
            owner = conn.execute(sa.select(access_table.c.grantee).where(
                (access_table.c.dataset_id == dataset_id) & (access_table.c.role == "owner"))).scalar()
            if grant.grantee == owner:
                raise ValueError(f"{owner} owns '{info.name}' already.")
            conn.execute(access_table.delete().where((access_table.c.dataset_id == dataset_id)
                                                     & (access_table.c.grantee == grant.grantee)))
            conn.execute(access_table.insert().values(dataset_id=dataset_id, grantee=grant.grantee, role=role))
            self.store.audit(conn, self.user.actor, "share", dataset_id, info.name, grantee=grant.grantee, role=role)
        return grant

    def unshare(self, dataset_id: str, grantee: str) -> None:
        """Stop sharing the dataset with ``grantee`` (its owner stays). Only its owner and admins may."""
        info = self.require(dataset_id, "share")
        value = normalise_grantee(grantee)
        with self.store._errors(), self.store.engine.begin() as conn:
            if conn.execute(access_table.delete().where((access_table.c.dataset_id == dataset_id)
                                                        & (access_table.c.grantee == value)
                                                        & (access_table.c.role != "owner"))).rowcount:
                self.store.audit(conn, self.user.actor, "unshare", dataset_id, info.name, grantee=value)

    # --- helpers -------------------------------------------------------------------------------

    def _grant_columns(self) -> list:
        if self.store._access:
            return [access_table.c.grantee, access_table.c.role]
        return [sa.null().label("grantee"), sa.null().label("role")]

    @staticmethod
    def _sample_id(conn: sa.Connection) -> str | None:
        return conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "sample_dataset")).scalar()


_VERB = {"append": "add records to", "replace": "replace the records of", "rollback": "roll back",
         "rename": "rename", "share": "share", "delete": "delete"}
