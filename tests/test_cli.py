"""``python -m analysis``: import prints the new id and the report; exits non-zero when nothing was imported."""

from __future__ import annotations

import json
import subprocess
import sys

from analysis.cli import main
from analysis.records.store import Records, Store, is_valid_dataset_id

from testpaths import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_import_prints_id_and_report_then_lists(tmp_path, corpus, store_url):
    db = store_url
    done = run_cli("--db", db, "import", str(corpus / "orphans_outcomes.csv"), str(corpus / "orphans_side_effects.csv"),
                   "--name", "Nightly export")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert is_valid_dataset_id(lines[0])
    assert "Accepted 2 treatment(s) and 2 side-effect record(s); rejected 3 row(s)." in lines
    assert any("orphans_outcomes.csv row 4, column 'fitzpatrick_type', value '9'" in line for line in lines)
    listed = run_cli("--db", db, "datasets")
    assert listed.returncode == 0
    assert lines[0] in listed.stdout and "Nightly export" in listed.stdout


def test_import_of_unusable_file_exits_non_zero_with_message(tmp_path, corpus, store_url):
    db = store_url
    done = run_cli("--db", db, "import", str(corpus / "empty.csv"), "--name", "Nothing")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "empty.csv: the file is empty." in done.stderr
    assert "Traceback" not in done.stderr
    assert Store(db).datasets() == []


def test_ambiguous_dates_need_a_flag(tmp_path, corpus, store_url, capsys):
    db = store_url
    assert main(["--db", db, "import", str(corpus / "ambiguous_dates.csv"), "--name", "x"]) == 1
    assert "--dayfirst" in capsys.readouterr().err
    assert main(["--db", db, "import", str(corpus / "ambiguous_dates.csv"), "--name", "x", "--dayfirst"]) == 0


def test_duplicate_import_is_refused_then_allowed(tmp_path, corpus, store_url, capsys):
    db = store_url
    path = str(corpus / "bom_utf8.csv")
    assert main(["--db", db, "import", path, "--name", "one"]) == 0
    assert main(["--db", db, "import", path, "--name", "two"]) == 1
    assert "already imported" in capsys.readouterr().err
    assert main(["--db", db, "import", path, "--name", "two", "--allow-duplicate"]) == 0
    assert len(Store(db).datasets()) == 2


def test_map_option_and_rejected_rows_file(tmp_path, corpus, store_url, capsys):
    db = store_url
    args = ["--db", db, "import", str(corpus / "unrecognised_headers.csv"), "--name", "mapped",
            "--map", "Ref=treatment_id", "--map", "When=treatment_date", "--map", "Kind=modality",
            "--map", "Tone=fitzpatrick_type"]
    assert main(args) == 0
    assert main(["--db", db, "import", str(corpus / "formula_injection.csv"), "--name", "inj",
                 "--rejected", str(tmp_path / "rej")]) == 0
    assert main(["--db", db, "import", str(corpus / "bad_numbers.csv"), "--name", "bad",
                 "--rejected", str(tmp_path / "rej")]) == 0
    written = (tmp_path / "rej" / "bad_numbers.rejected.csv").read_text(encoding="utf-8-sig")
    assert "must be between 0 and 90" in written
    assert "\n2,N1,2024-01-01,ablative,2,-3," in written  # row number first; numbers stay numbers


def test_rename_and_delete(tmp_path, corpus, store_url, capsys):
    db = store_url
    assert main(["--db", db, "import", str(corpus / "bom_utf8.csv"), "--name", "old"]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert main(["--db", db, "rename", dataset_id, "new name"]) == 0
    assert Store(db).get(dataset_id).name == "new name"
    assert main(["--db", db, "delete", dataset_id]) == 0
    assert main(["--db", db, "delete", dataset_id]) == 1
    assert "No dataset with id" in capsys.readouterr().err


def test_summary_json_for_a_stored_dataset_with_filters(tmp_path, corpus, capsys):
    import json

    from testpaths import ROOT as root

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--db", db, "import", str(root / "data" / "sample_outcomes.csv"),
                 str(root / "data" / "sample_side_effects.csv"), "--name", "sample"]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert main(["--db", db, "summary", dataset_id, "--json", "--clinic", "Northgate Laser Centre",
                 "--from", "2025-01-01", "--to", "2025-06-30"]) == 0
    summary = json.loads(capsys.readouterr().out)
    store = Store(db)
    records = store.load(dataset_id).outcomes
    expected = records[(records["clinic"] == "Northgate Laser Centre")
                       & (records["treatment_date"] >= "2025-01-01") & (records["treatment_date"] <= "2025-06-30")]
    assert summary["treatments"] == len(expected)
    assert summary["comparisons"]["hyperpigmentation"]["ci"][0] <= summary["comparisons"]["hyperpigmentation"]["risk_difference"]
    # the pooled odds ratio and the tests of interaction (issue 15)
    pooled = summary["comparisons"]["mantel_haenszel_odds_ratio"]
    assert pooled["ci"][0] <= pooled["odds_ratio"] <= pooled["ci"][1]
    modification = summary["comparisons"]["effect_modification"]
    assert modification["governing_test"] == "breslow_day_tarone"
    for name in ("likelihood_ratio_factor", "likelihood_ratio_linear", "breslow_day_tarone"):
        assert 0 <= modification[name]["p_value"] <= 1, name
    assert modification["differs_by_skin_type"] == (modification["breslow_day_tarone"]["p_value"] < 0.05)
    assert main(["--db", db, "summary", dataset_id, "--clinic", "Nowhere"]) == 1
    assert "The clinics are: 'Eastfield Dermatology & Laser'" in capsys.readouterr().err


def test_summary_of_a_file_without_storing_it(tmp_path, corpus):
    db = tmp_path / "untouched.db"
    done = run_cli("--db", f"sqlite:///{db}", "summary", "--file", str(corpus / "orphans_outcomes.csv"),
                   str(corpus / "orphans_side_effects.csv"), "--json")
    assert done.returncode == 0, done.stderr
    assert '"treatments": 2' in done.stdout
    assert not db.exists()


def test_ids_that_would_start_with_a_dash_still_work_on_the_command_line(tmp_path, corpus, capsys, monkeypatch):
    # Regression: 1 in 64 bare base64url tokens start with '-', which argparse reads as an option.
    import secrets

    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: "-" + "A" * 21)
    db = f"sqlite:///{tmp_path / 'dash.db'}"
    assert main(["--db", db, "import", str(corpus / "bom_utf8.csv"), "--name", "old"]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert main(["--db", db, "rename", dataset_id, "new name"]) == 0
    assert main(["--db", db, "delete", dataset_id]) == 0


def test_db_is_taken_before_or_after_the_command(tmp_path, corpus):
    """Found walking through as a new user: `import FILE --db URL` was refused ('unrecognized arguments')."""
    before, after = f"sqlite:///{tmp_path / 'before.db'}", f"sqlite:///{tmp_path / 'after.db'}"
    done = run_cli("import", str(corpus / "bom_utf8.csv"), "--name", "After", "--db", after)
    assert done.returncode == 0, done.stderr
    assert [d.name for d in Store(after).datasets()] == ["After"]
    assert main(["--db", before, "import", str(corpus / "bom_utf8.csv"), "--name", "Before"]) == 0
    assert [d.name for d in Store(before).datasets()] == ["Before"]
    # Given in both places, the one after the command is the one used (the usual rule: the last wins).
    assert main(["--db", before, "datasets", "--db", after]) == 0
    for command in (["datasets"], ["rename", Store(after).datasets()[0].id, "Renamed"]):
        assert main([*command, "--db", after]) == 0
    assert [d.name for d in Store(after).datasets()] == ["Renamed"]
    assert [d.name for d in Store(before).datasets()] == ["Before"]


def test_rejected_rows_are_written_back_in_the_files_own_dialect(tmp_path):
    """Found walking through as a new user: a ';' / decimal-comma file's rejected rows came back comma-separated,
    with the decimal values quoted. Now: its delimiter, its decimal commas and its encoding (here Windows-1252)."""
    text = ("treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic\r\n"
            "T1;2024-01-02;ablative;2;2,5;Clínica Sol\r\nT2;2024-01-03;ablative;VII;3,5;Clínica Sol\r\n")
    export = tmp_path / "export.csv"
    export.write_bytes(text.encode("cp1252"))
    out = tmp_path / "rejected"
    assert main(["--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "import", str(export), "--name", "X",
                 "--rejected", str(out)]) == 0
    written = (out / "export.rejected.csv").read_bytes().decode("cp1252")
    lines = written.splitlines()
    assert lines[0] == "row;treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic;problems"
    # (the reasons hold ';', so that one cell is quoted, as CSV requires)
    assert lines[1].startswith('3;T2;2024-01-03;ablative;VII;3,5;Clínica Sol;"fitzpatrick_type: is not a Fitzpatrick')


def test_summary_of_a_file_follows_unresolved_events_to_the_whole_files_latest_date(capsys):
    # A file is complete to the latest date it shows, whatever the selection: a clinic's own latest treatment
    # says nothing about when the file was exported (found by a second reading: a clinic's median was a day short).
    from analysis.findings import effects
    from analysis.records.ingest import SourceFile, import_files

    files = [ROOT / "data" / "sample_outcomes.csv", ROOT / "data" / "sample_side_effects.csv"]
    whole = import_files(*(SourceFile.from_path(p) for p in files))
    latest = effects.latest_date(Records(whole.outcomes, whole.side_effects))
    clinic = "Harbourside Skin Clinic"
    own = whole.outcomes.loc[whole.outcomes["clinic"] == clinic, "treatment_date"].max().date()
    assert own < latest  # the case that matters: the clinic's records stop earlier than the file's
    assert main(["summary", "--file", *map(str, files), "--clinic", clinic, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["time_to_resolution"]["follow_up_until"] == latest.isoformat()
