"""``python -m analysis watch``: new control-chart and funnel signals once each, kept in the database (SQLite and
PostgreSQL), with the Trends page's sentence and a share link; exit 0 nothing new, 3 new; mailed with --mail-to."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

import smtpserver
from analysis.cli import main
from analysis.findings import signals as signals_module
from analysis.present import alerts
from analysis.records.db import watch_table
from analysis.records.store import Store

from testpaths import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
CLINICS = ("Northgate Laser Centre", "Harbourside Skin Clinic")


def write_records(folder: Path, months: list[str], spikes: dict[tuple[str, str], int], start: int = 1,
                  practitioners: int = 2, events=None) -> tuple[Path, Path]:
    """Outcome and side-effect CSVs: 40 ablative treatments per clinic and month (Fitzpatrick II), the first 4
    with hyperpigmentation, or the first ``spikes[(clinic, month)]``, or those ``events(clinic, month, i)`` picks.
    Treatment i of a clinic is by its practitioner i mod ``practitioners`` (Dr A0, Dr A1, ... Dr B0, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    outcomes, effects = folder / f"outcomes-{start}.csv", folder / f"side_effects-{start}.csv"
    n = start
    with outcomes.open("w", newline="") as out, effects.open("w", newline="") as side:
        o, s = csv.writer(out), csv.writer(side)
        o.writerow(["treatment_id", "patient_id", "clinic", "treatment_date", "modality", "fitzpatrick_type",
                    "practitioner"])
        s.writerow(["treatment_id", "effect"])
        for month in months:
            for c, clinic in enumerate(CLINICS):
                for i in range(40):
                    tid = f"T{n:06d}"
                    o.writerow([tid, f"PATIENT-{n:06d}", clinic, f"{month}-{1 + i % 28:02d}", "ablative", 2,
                                f"Dr {'AB'[c]}{i % practitioners}"])
                    if (events(clinic, month, i) or i % 10 == 1) if events else i < spikes.get((clinic, month), 4):
                        s.writerow([tid, "hyperpigmentation"])
                    n += 1
    return outcomes, effects


MONTHS_2024 = [f"2024-{m:02d}" for m in range(1, 13)]


@pytest.fixture
def dataset(store_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LASERDASH_SECRETS", str(tmp_path / "no-secrets.toml"))
    monkeypatch.delenv(alerts.BASE_URL_ENV, raising=False)
    files = write_records(tmp_path / "in", MONTHS_2024, {(CLINICS[0], "2024-06"): 20})
    assert main(["--db", store_url, "import", *map(str, files), "--name", "Clinics 2024"]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    return store_url, dataset_id


def watch(db: str, dataset_id: str, *extra: str) -> int:
    return main(["--db", db, "watch", dataset_id, *extra])


def test_first_run_lists_the_signals_then_nothing_new(dataset, capsys):
    db, dataset_id = dataset
    assert watch(db, dataset_id) == 3
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"2 new signal(s) in 'Clinics 2024' ({dataset_id}):"
    # 24 of 80 in June against 8 of 80 in each other month: centre 112/960 = 11.67 %; limits (p-chart, Montgomery)
    # 0.1167 ± 3·sqrt(0.1167·0.8833/80) = 0.1167 ± 0.1077, i.e. 0.90 % to 22.4 %
    assert lines[1] == ("- [all clinics] In 2024-06, hyperpigmentation after ablative treatment was 30 % (24 of 80), "
                        "above the control limits (0.90–22 %; average 12 %).")
    assert lines[2] == f"  http://localhost:8501/Trends_and_clinics?dataset={dataset_id}"
    assert lines[3].startswith("- [clinic Northgate Laser Centre] In 2024-06, hyperpigmentation after ablative "
                               "treatment was 50 % (20 of 40), above the control limits")
    assert lines[4] == (f"  http://localhost:8501/Trends_and_clinics?dataset={dataset_id}"
                        "&clinic=Northgate+Laser+Centre")
    assert "PATIENT-" not in out and "T000" not in out
    assert watch(db, dataset_id) == 0
    assert capsys.readouterr().out == (f"No new signals in 'Clinics 2024' ({dataset_id}) since the last run "
                                       "(2 reported before).\n")


def test_a_new_import_shows_only_its_new_signal(dataset, tmp_path, capsys):
    db, dataset_id = dataset
    assert watch(db, dataset_id) == 3
    # Northgate spikes again in January 2025 (Harbourside stays at 4 of 40, on its centre line: no run starts)
    files = write_records(tmp_path / "more", ["2025-01"], {(CLINICS[0], "2025-01"): 20}, start=10_000)
    assert main(["--db", db, "import", *map(str, files), "--into", dataset_id]) == 0
    capsys.readouterr()
    assert watch(db, dataset_id, "--json") == 3
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == dataset_id and report["known_before"] == 2
    assert {(s["where"], s["month"], s["rule"]) for s in report["new"]} == {
        ("all clinics", "2025-01", "outside limits"), ("clinic Northgate Laser Centre", "2025-01", "outside limits")}
    for s in report["new"]:
        assert s["kind"] == "control chart" and s["subject"] == "ablative" and s["direction"] == "above"
        assert s["sentence"].startswith("In 2025-01, hyperpigmentation after ablative treatment was ")
        assert s["link"].startswith(f"http://localhost:8501/Trends_and_clinics?dataset={dataset_id}")
    assert watch(db, dataset_id, "--json") == 0
    assert json.loads(capsys.readouterr().out)["new"] == []


def test_identity_is_stable_and_holds_no_numbers(dataset):
    db, dataset_id = dataset
    store = Store(db)
    records, info = store.load(dataset_id), store.get(dataset_id)
    first = signals_module.signals(records, info.created_at.date())
    again = signals_module.signals(store.load(dataset_id), info.created_at.date())
    assert [s.key for s in first] == [s.key for s in again]
    assert first[0].identity == {"kind": "control chart", "effect": "hyperpigmentation", "subject": "ablative",
                                 "month": "2024-06", "rule": "outside limits", "direction": "above"}
    assert len({s.key for s in first}) == len(first)


def test_state_is_a_table_that_goes_with_its_dataset(dataset, capsys):
    db, dataset_id = dataset
    assert watch(db, dataset_id) == 3
    store = Store(db)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(watch_table)).mappings().all()
    assert len(rows) == 2 and {r["dataset_id"] for r in rows} == {dataset_id}
    assert all("PATIENT" not in r["identity"] for r in rows)
    assert json.loads(rows[0]["identity"])["kind"] == "control chart"
    store.delete(dataset_id)  # the purge
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(watch_table)).scalar() == 0


def test_a_deleted_dataset_is_an_error(dataset, capsys):
    db, dataset_id = dataset
    assert main(["--db", db, "delete", dataset_id]) == 0
    capsys.readouterr()
    assert watch(db, dataset_id) == 1
    assert f"No dataset with id {dataset_id}" in capsys.readouterr().err


def test_funnel_signal_for_a_practitioner_above_the_998_limit(tmp_path):
    """Dr A0 has hyperpigmentation after all 60 of their treatments, Drs A1, A3, B1 and B3 after 12 of 60, Drs A2,
    B0 and B2 after none: 108 events in 480 treatments (22.5 %, one modality and skin type), so 60 × 0.225 = 13.5
    expected for Dr A0, 4.4 times that, far above the 99.8 % limit; nobody else is above it."""
    months = MONTHS_2024[:6]
    files = write_records(tmp_path / "in", months, {}, practitioners=4,
                          events=lambda clinic, month, i: i % 4 == 0 and i < 48 if clinic == CLINICS[0] else False)
    from analysis.records.ingest import SourceFile, import_files
    from analysis.records.store import Records

    result = import_files(SourceFile.from_path(files[0]), [SourceFile.from_path(files[1])])
    records = Records(result.outcomes, result.side_effects, result.side_effects_recorded)
    found = [s for s in signals_module.signals(records, date(2026, 1, 1)) if s.kind == "funnel"]
    assert [(s.unit, s.subject, s.rule) for s in found if s.unit == "practitioner"] == [
        ("practitioner", "Dr A0", "above 99.8 %")]
    (signal,) = [s for s in found if s.unit == "practitioner"]
    assert signal.sentence.startswith("Practitioner Dr A0: 60 hyperpigmentation events where 13.5 were expected ")
    assert signal.sentence.endswith("more often than chance would plausibly explain.")
    assert signal.where == "practitioners compared"
    assert alerts.link("https://dash.example", "d" + "A" * 22, signal) == (
        "https://dash.example/Trends_and_clinics?dataset=d" + "A" * 22)


def test_base_url_from_option_environment_or_secrets(dataset, tmp_path, monkeypatch, capsys):
    db, dataset_id = dataset
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[server]\npublic_url = "https://secrets.clinic.example/"\n')
    monkeypatch.setenv("LASERDASH_SECRETS", str(secrets))
    assert alerts.base_url() == "https://secrets.clinic.example"
    monkeypatch.setenv(alerts.BASE_URL_ENV, "https://env.clinic.example/dash")
    assert alerts.base_url() == "https://env.clinic.example/dash"
    assert watch(db, dataset_id, "--base-url", "https://dash.clinic.example") == 3
    assert f"  https://dash.clinic.example/Trends_and_clinics?dataset={dataset_id}\n" in capsys.readouterr().out
    assert watch(db, dataset_id, "--base-url", "javascript:alert(1)") == 1
    assert "is not an http(s) address" in capsys.readouterr().err


def test_mail_to_sends_the_new_signals_once(dataset, tmp_path, monkeypatch, capsys):
    db, dataset_id = dataset
    server = smtpserver.start(tmp_path, tls="starttls", login=True)
    try:
        for key, value in server.env("starttls", login=True).items():
            monkeypatch.setenv(key, value)
        assert watch(db, dataset_id, "--mail-to", "director@clinic.example", "--mail-to", "ann@clinic.example") == 3
        assert capsys.readouterr().out.splitlines()[-1] == "Mailed to director@clinic.example, ann@clinic.example."
        (got,) = server.received
        assert got.rcpt_tos == ["director@clinic.example", "ann@clinic.example"]
        assert got.message["Subject"] == "Laser dashboard: 2 new signal(s) in 'Clinics 2024'"
        body = got.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "- [all clinics] In 2024-06, hyperpigmentation after ablative treatment was 30 % (24 of 80)" in body
        assert (f"  http://localhost:8501/Trends_and_clinics?dataset={dataset_id}&clinic=Northgate+Laser+Centre\n"
                in body)
        assert "PATIENT-" not in body and "T000" not in body
        assert watch(db, dataset_id, "--mail-to", "director@clinic.example") == 0
        assert len(server.received) == 1  # nothing new: no mail
    finally:
        server.stop()


def test_a_failed_mail_reports_the_signals_again_next_time(dataset, tmp_path, monkeypatch, capsys):
    db, dataset_id = dataset
    server = smtpserver.start(tmp_path, login=True)
    try:
        for key, value in server.env("none", login=True).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LASERDASH_SMTP_PASSWORD", "wrong")
        assert watch(db, dataset_id, "--mail-to", "director@clinic.example") == 1
        err = capsys.readouterr().err
        assert "refused the login" in err and "Nothing was sent." in err and "wrong" not in err
        assert server.received == []
        monkeypatch.setenv("LASERDASH_SMTP_PASSWORD", smtpserver.PASSWORD)
        assert watch(db, dataset_id, "--mail-to", "director@clinic.example") == 3
        assert len(server.received) == 1
    finally:
        server.stop()


def test_refusals_exit_1_with_a_message(dataset, capsys):
    db, dataset_id = dataset
    for args, message in ((["d" + "B" * 22], "No dataset with id dBBBBBBBBBBBBBBBBBBBBBB"),
                          ([dataset_id, "--mail-to", "not an address"], "is not an e-mail address"),
                          ([dataset_id, "--mail-to", "ann@clinic.example"], "No SMTP server is configured")):
        assert watch(db, *args) == 1
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["--db", db, "watch"])
    assert usage.value.code == 2


def test_exit_codes_from_the_shell_without_a_traceback(tmp_path):
    db = f"sqlite:///{tmp_path / 'shell.db'}"
    files = write_records(tmp_path / "in", MONTHS_2024, {(CLINICS[0], "2024-06"): 20})
    assert main(["--db", db, "import", *map(str, files), "--name", "Clinics 2024"]) == 0
    dataset_id = Store(db).datasets()[0].id
    env = {**os.environ, "LASERDASH_SECRETS": str(tmp_path / "none.toml")}
    for args, code in (([dataset_id], 3), (["d" + "B" * 22], 1)):  # (exit 0: tested in-process above)
        done = subprocess.run([sys.executable, "-m", "analysis", "--db", db, "watch", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_without_side_effect_records_there_is_nothing_to_signal(store_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LASERDASH_SECRETS", str(tmp_path / "no-secrets.toml"))
    outcomes, _ = write_records(tmp_path / "in", MONTHS_2024, {(CLINICS[0], "2024-06"): 20})
    assert main(["--db", store_url, "import", str(outcomes), "--name", "Outcomes only"]) == 0
    dataset_id = capsys.readouterr().out.splitlines()[0]
    assert watch(store_url, dataset_id) == 0
    assert capsys.readouterr().out.startswith("No new signals in 'Outcomes only'")


def test_as_a_manager_a_dataset_not_shared_reads_like_one_that_does_not_exist(dataset, tmp_path, monkeypatch, capsys):
    """Issue 16 "a link to a dataset that is deleted or not shared with the configured identity": with --as (or
    $LASERDASH_REPORT_AS) the commands see only what that manager sees, and an unshared dataset gets exactly
    the message an unknown id gets; nothing is made or sent. Shared with the manager, it works."""
    from analysis.records.access import REPORT_AS_ENV

    db, dataset_id = dataset
    capsys.readouterr()
    unknown = "AAAAAAAAAAAAAAAAAAAAAA"
    assert watch(db, dataset_id, "--as", "bob@southside.example") == 1
    hidden = capsys.readouterr().err
    assert watch(db, unknown, "--as", "bob@southside.example") == 1
    assert hidden.replace(dataset_id, "ID") == capsys.readouterr().err.replace(unknown, "ID")
    out = tmp_path / "r.html"
    monkeypatch.setenv(REPORT_AS_ENV, "bob@southside.example")
    assert main(["--db", db, "report", dataset_id, "--page", "trends", "--out", str(out)]) == 2
    refused = capsys.readouterr().err
    assert main(["--db", db, "report", unknown, "--page", "trends", "--out", str(out)]) == 2
    assert refused.replace(dataset_id, "ID") == capsys.readouterr().err.replace(unknown, "ID")
    assert "Clinics 2024" not in refused and not out.exists()
    monkeypatch.delenv(REPORT_AS_ENV)
    assert main(["--db", db, "share", dataset_id, "bob@southside.example"]) == 0
    assert main(["--db", db, "report", dataset_id, "--page", "trends", "--out", str(out), "--as",
                 "Bob@Southside.example"]) == 0
    assert out.exists()
    assert watch(db, dataset_id, "--as", "not an address") == 1


def test_a_funnel_unit_the_page_calls_not_yet_a_clear_signal_is_not_sent():
    # Fifth reading of #15: North 21 of 100 against 19 clinics at 20 of 200 is above the 99.8 % limit but 0.0516
    # after allowing for 20 clinics (R values in test_compare); the page says "worth a look, not yet a clear
    # signal", so no alert goes out. At 30 of 100 it is a clear signal on both.
    from test_compare import _clinics

    from analysis.findings import signals as found

    quiet = [s for s in found.signals(_clinics(("North", 100, 21), 19, 200, 20)) if s.kind == "funnel"]
    assert quiet == []
    loud = [s for s in found.signals(_clinics(("North", 100, 30), 19, 200, 20)) if s.kind == "funnel"]
    assert [s.subject for s in loud] == ["North"]
    assert loud[0].sentence.startswith("Clinic North:") and "not yet a clear signal" not in loud[0].sentence
