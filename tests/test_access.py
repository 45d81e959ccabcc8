"""Who sees what (analysis.records.access): owners, shares with addresses, domains and everyone, viewers and
editors, admins, and datasets a user may not see being indistinguishable from ids that do not exist.

Every test runs on SQLite and on PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from analysis.records import versions
from analysis.records.access import (COMMAND_LINE, LOCAL, Access, AccessDenied, Grant, User, normalise_grantee,
                                     parse_share, role_for)
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import DatasetNotFound, new_dataset_id

HEADER = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,PIH\n"
JANUARY = HEADER + "T1,2024-01-02,ablative,2,5,no\nT2,2024-01-03,ablative,3,4,yes\n"
FEBRUARY = HEADER + "T3,2024-02-01,non-ablative,5,1,yes\n"

ANN = User.signed_in("Ann@Northgate.example")             # owner of the Northgate dataset
BOB = User.signed_in("bob@southside.example")             # another clinic
NINA = User.signed_in("nina@northgate.example")           # Ann's colleague at the same clinic
ADMIN = User.signed_in("it@chain.example", admins=["IT@chain.example"])


def imported(text: str, name: str = "export.csv"):
    return import_files(SourceFile(name, text.encode()))


@pytest.fixture
def northgate(store):
    return Access(store, ANN).import_dataset(imported(JANUARY, "jan.csv"), "Northgate").id


def as_(store, user: User) -> Access:
    return Access(store, user)


def test_the_owner_sees_the_dataset_and_nobody_else_does(store, northgate):
    assert [d.id for d in as_(store, ANN).datasets()] == [northgate]
    assert as_(store, ANN).role(northgate) == "owner"
    assert as_(store, BOB).datasets() == []
    assert as_(store, BOB).get(northgate) is None
    with pytest.raises(DatasetNotFound):
        as_(store, BOB).load(northgate)


def test_a_dataset_one_may_not_see_is_answered_exactly_like_one_that_does_not_exist(store, northgate):
    """Same exception, same message, and the same database work (counted statements), so neither the answer
    nor its timing tells a hidden dataset from an unknown id."""
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    errors = {}
    counts = {}
    for label, dataset_id in (("hidden", northgate), ("unknown", new_dataset_id())):
        for call in ("load", "history", "rename", "delete", "add_records", "rollback", "share"):
            statements.clear()
            bob = as_(store, BOB)
            args = {"rename": ("x",), "add_records": (imported(FEBRUARY),), "share": ("bob@southside.example",)}
            with pytest.raises(DatasetNotFound) as exc:
                getattr(bob, call)(dataset_id, *args.get(call, ()))
            errors[label, call] = str(exc.value).replace(dataset_id, "ID")
            counts[label, call] = len(statements)
        statements.clear()
        assert as_(store, BOB).get(dataset_id) is None
        counts[label, "get"] = len(statements)
    for call in ("load", "history", "rename", "delete", "add_records", "rollback", "share", "get"):
        assert counts["hidden", call] == counts["unknown", call], call
        if call != "get":
            assert errors["hidden", call] == errors["unknown", call], call


def test_a_viewer_sees_but_cannot_change(store, northgate):
    as_(store, ANN).share(northgate, "bob@southside.example", "viewer")
    bob = as_(store, BOB)
    assert [d.id for d in bob.datasets()] == [northgate]
    assert len(bob.load(northgate).outcomes) == 2
    assert bob.history(northgate)[0].action == "import"
    for call, args in (("rename", ("Mine",)), ("add_records", (imported(FEBRUARY),)), ("rollback", ()),
                       ("delete", ()), ("share", ("eve@x.example",)), ("grants", ())):
        with pytest.raises(AccessDenied, match="You can view 'Northgate' but not"):
            getattr(bob, call)(northgate, *args)
    assert not bob.may(northgate, "rename") and not bob.may(northgate, "delete")
    assert store.get(northgate).name == "Northgate" and store.get(northgate).treatments == 2


def test_an_editor_at_the_same_domain_adds_renames_and_rolls_back_but_cannot_share_or_delete(store, northgate):
    as_(store, ANN).share(northgate, "@northgate.example", "editor")
    nina = as_(store, NINA)
    change = nina.add_records(northgate, imported(FEBRUARY, "feb.csv"))
    assert change.new == 1
    assert versions.history(store, northgate)[-1].user == "nina@northgate.example"   # who, on record
    nina.rename(northgate, "Northgate clinic")
    nina.rollback(northgate)
    assert store.get(northgate).treatments == 2
    with pytest.raises(AccessDenied, match="only its owner or an admin can"):
        nina.delete(northgate)
    with pytest.raises(AccessDenied):
        nina.share(northgate, "eve@x.example")
    assert as_(store, BOB).get(northgate) is None                   # the domain share is not for everyone


def test_shared_with_everyone_signed_in(store, northgate):
    as_(store, ANN).share(northgate, "*")
    assert as_(store, BOB).role(northgate) == "viewer"
    assert as_(store, NINA).role(northgate) == "viewer"


def test_the_highest_of_several_shares_counts_and_a_share_can_be_changed_and_withdrawn(store, northgate):
    ann = as_(store, ANN)
    ann.share(northgate, "*", "viewer")
    ann.share(northgate, "nina@northgate.example", "editor")
    assert as_(store, NINA).role(northgate) == "editor"
    ann.share(northgate, "NINA@northgate.example", "viewer")          # the same grantee: replaced, not added
    assert as_(store, NINA).role(northgate) == "viewer"
    assert ann.grants(northgate) == [Grant("ann@northgate.example", "owner"), Grant("*", "viewer"),
                                     Grant("nina@northgate.example", "viewer")]
    ann.unshare(northgate, "*")
    ann.unshare(northgate, "nina@northgate.example")
    assert as_(store, NINA).get(northgate) is None
    ann.unshare(northgate, "ann@northgate.example")                  # the owner cannot be unshared
    assert ann.role(northgate) == "owner"
    with pytest.raises(ValueError, match="owns 'Northgate' already"):
        ann.share(northgate, "ann@northgate.example", "viewer")
    with pytest.raises(ValueError, match="viewer or an editor"):
        ann.share(northgate, "bob@southside.example", "owner")


def test_admins_the_command_line_and_no_sign_in_see_and_manage_everything(store, northgate):
    for user in (ADMIN, COMMAND_LINE, LOCAL):
        access = as_(store, user)
        assert [d.id for d in access.datasets()] == [northgate]
        assert access.role(northgate) == "owner"
    as_(store, ADMIN).rename(northgate, "Renamed by IT")
    assert as_(store, ANN).get(northgate).name == "Renamed by IT"


def test_datasets_without_an_owner_are_for_admins_only_except_the_sample(store):
    legacy = store.import_dataset(imported(JANUARY, "old.csv"), "From before sign-in").id
    sample = store.ensure_sample()
    assert sample is None                                            # not empty: no sample is added
    assert as_(store, BOB).datasets() == []
    assert as_(store, ADMIN).get(legacy) is not None
    store.delete(legacy)
    sample = store.ensure_sample()
    assert as_(store, BOB).role(sample.id) == "viewer"               # everyone signed in may try the sample
    with pytest.raises(AccessDenied):
        as_(store, BOB).delete(sample.id)


def test_a_dataset_deleted_while_someone_views_it_is_gone_for_them(store, northgate):
    as_(store, ANN).share(northgate, "bob@southside.example")
    bob = as_(store, BOB)
    assert bob.load(northgate) is not None
    as_(store, ANN).delete(northgate)
    with pytest.raises(DatasetNotFound):
        bob.load(northgate)
    assert bob.datasets() == []
    assert bob.deleted() == []                                       # a viewer cannot restore it
    with pytest.raises(DatasetNotFound):
        bob.restore(northgate)
    as_(store, ANN).restore(northgate)                               # its shares came back with it
    assert bob.load(northgate) is not None
    store.delete(northgate)                                          # purged: its shares go with it
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_access")).scalar() == 0


def test_shares_given_at_import_land_in_the_same_transaction(store):
    info = as_(store, ANN).import_dataset(imported(JANUARY), "Northgate",
                                          shares=[parse_share("@northgate.example:editor"), parse_share("*")])
    assert as_(store, NINA).role(info.id) == "editor"
    assert as_(store, BOB).role(info.id) == "viewer"


@pytest.mark.parametrize("typed, stored", [
    ("Ann@Northgate.Example ", "ann@northgate.example"),
    ("@northgate.example", "@northgate.example"),
    ("northgate.example", "@northgate.example"),
    ("*", "*"), ("everyone", "*"),
])
def test_grantees_are_normalised(typed, stored):
    assert normalise_grantee(typed) == stored


@pytest.mark.parametrize("typed", ["", "ann", "ann@", "@", "@localhost", "a b@x.example", "x" * 330 + "@a.example"])
def test_grantees_that_are_not_addresses_domains_or_everyone_are_refused_with_what_to_type(typed):
    with pytest.raises(ValueError, match=r"Write .*clinic\.example"):
        normalise_grantee(typed)


def test_parse_share_reads_an_optional_role():
    assert parse_share("ann@x.example") == Grant("ann@x.example", "viewer")
    assert parse_share("@x.example:editor") == Grant("@x.example", "editor")


def test_role_rules_without_a_database():
    grants = [Grant("ann@x.example", "owner"), Grant("@y.example", "editor")]
    assert role_for(User.signed_in("ann@x.example"), grants) == "owner"
    assert role_for(User.signed_in("zed@y.example"), grants) == "editor"
    assert role_for(User.signed_in("zed@sub.y.example"), grants) is None       # a domain is exact
    assert role_for(User.signed_in("zed@z.example"), [], sample=True) == "viewer"
    assert role_for(User.signed_in("zed@z.example"), grants, sample=True) is None  # a shared sample: its shares


def test_the_command_line_sets_owner_and_shares_and_manages_them(store, tmp_path, capsys, monkeypatch):
    from analysis.cli import main

    monkeypatch.setenv("LASERDASH_SECRETS", str(tmp_path / "none.toml"))
    monkeypatch.delenv("LASERDASH_DEFAULT_OWNER", raising=False)
    monkeypatch.delenv("LASERDASH_DEFAULT_SHARE", raising=False)
    (tmp_path / "jan.csv").write_text(JANUARY)
    db = ["--db", store.url]
    assert main(["import", str(tmp_path / "jan.csv"), "--name", "Northgate", "--owner", "Ann@northgate.example",
                 "--share", "@northgate.example:editor", *db]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert as_(store, ANN).role(dataset_id) == "owner"
    assert as_(store, NINA).role(dataset_id) == "editor"
    assert as_(store, BOB).get(dataset_id) is None
    assert main(["share", dataset_id, "bob@southside.example", *db]) == 0
    assert "with bob@southside.example as viewer" in capsys.readouterr().out
    assert as_(store, BOB).role(dataset_id) == "viewer"
    assert main(["access", dataset_id, *db]) == 0
    assert capsys.readouterr().out.splitlines() == ["owner: ann@northgate.example",
                                                    "editor: everyone with an address at northgate.example",
                                                    "viewer: bob@southside.example"]
    assert main(["unshare", dataset_id, "bob@southside.example", *db]) == 0
    assert as_(store, BOB).get(dataset_id) is None
    assert main(["share", dataset_id, "not an address", *db]) == 1
    assert "is not an e-mail address" in capsys.readouterr().err


def test_the_command_line_takes_the_configured_defaults(store, tmp_path, capsys, monkeypatch):
    from analysis.cli import main

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[access]\ndefault_owner = "ann@northgate.example"\ndefault_share = ["*"]\n')
    monkeypatch.setenv("LASERDASH_SECRETS", str(secrets))
    monkeypatch.delenv("LASERDASH_DEFAULT_OWNER", raising=False)
    monkeypatch.delenv("LASERDASH_DEFAULT_SHARE", raising=False)
    (tmp_path / "jan.csv").write_text(JANUARY)
    assert main(["import", str(tmp_path / "jan.csv"), "--name", "Northgate", "--db", store.url]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert as_(store, ANN).role(dataset_id) == "owner"
    assert as_(store, BOB).role(dataset_id) == "viewer"
    monkeypatch.setenv("LASERDASH_DEFAULT_SHARE", "@southside.example:editor")   # the environment comes first
    (tmp_path / "feb.csv").write_text(FEBRUARY)
    assert main(["import", str(tmp_path / "feb.csv"), "--name", "Feb", "--db", store.url]) == 0
    feb = capsys.readouterr().out.splitlines()[0]
    assert as_(store, BOB).role(feb) == "editor"
    assert as_(store, NINA).role(feb) is None


def test_only_an_admin_imports_for_someone_else(store):
    with pytest.raises(AccessDenied):
        as_(store, BOB).import_dataset(imported(JANUARY), "X", owner="ann@northgate.example")


def test_a_file_in_another_clinics_dataset_is_not_a_duplicate_but_one_in_ones_own_is(store):
    from analysis.records.store import DuplicateImport

    Access(store, ANN).import_dataset(imported(JANUARY, "f.csv"), "Ann's")
    mine = Access(store, BOB).import_dataset(imported(JANUARY, "f.csv"), "Bob 1")   # Ann's is hidden from Bob
    with pytest.raises(DuplicateImport) as exc:
        Access(store, BOB).import_dataset(imported(JANUARY, "f.csv"), "Bob 2")
    assert exc.value.dataset.id == mine.id


def test_who_a_dataset_is_shared_with_is_for_its_owner(store, northgate):
    ann = as_(store, ANN)
    ann.share(northgate, "partner@rival.example", "editor")
    ann.share(northgate, "bob@southside.example", "viewer")
    seen = {e.action: e.details for e in as_(store, BOB).audit_trail(northgate)}
    assert "share" in seen and "grantee" not in seen["share"] and "role" not in seen["share"]
    assert "partner@rival.example" not in str(as_(store, BOB).audit_trail(northgate))
    assert "partner@rival.example" in str(ann.audit_trail(northgate))


def test_a_typo_among_the_admins_locks_nobody_out():
    assert User.signed_in("ann@x.example", ["typo-no-at", "ann@x.example"]).admin
    assert User.signed_in("ann@x.example", "ann@x.example").admin                   # one address as a string
    assert not User.signed_in("ann@x.example", "typo").admin


def test_a_share_with_spaces_around_it_is_read():
    assert parse_share(" @x.example:editor ") == Grant("@x.example", "editor")
