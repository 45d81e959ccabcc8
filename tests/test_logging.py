"""No patient identifier reaches a log line (issue 7).

Files with identifier columns (names, e-mail addresses, phone numbers, dates of birth, addresses),
with rows that are rejected, side effects that name no treatment, and a patient id column of e-mail
addresses, are imported through the command line and through the Data page with every logger at
DEBUG (SQLAlchemy's included, which logs each SQL statement with its parameters) and Python warnings
always shown. None of the identifier *values* may appear in anything captured: log records,
stdout, stderr, warnings, and the files the import writes or offers for download.

Two leaks found here were in ``analysis/ingest.py`` itself (the Data page already withheld both,
``ui.upload.without_identifiers``): the text of a row that cannot be split into columns, and patient ids
that are e-mail addresses or phone numbers in the rejected rows. The import now withholds both.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from apphelpers import app_database, record_downloads
from testpaths import ROOT

# Invented people; every value is distinctive enough that a match anywhere is a leak.
PEOPLE = [
    # name, e-mail, mobile, date of birth, address, postcode
    ("Philippa Quatermain", "philippa.quatermain@mailbox.example", "+44 7700 900123", "1971-03-14",
     "17 Larkspur Lane", "ZX9 8QW"),
    ("Tobias Wrenfield", "t.wrenfield@post.example", "07700 900456", "1968-11-02", "4 Gannet Row", "QX2 7LP"),
    ("Ingrid Halvorsen-Pike", "ingrid.hp@inbox.example", "(0113) 496 0789", "1984-07-29", "88 Osprey Court",
     "JZ5 3RT"),
]
EMAIL_IDS = ["m.okonkwo-brandt@clinicmail.example", "+44 7700 900999"]   # patient ids that identify
OUTCOME_IDENTIFIER_HEADERS = ["Patient Name", "Email", "Mobile", "Date of Birth", "Home Address", "Postcode"]


def identifier_values() -> list[str]:
    """Every identifier value written to the files, and the parts of them that identify on their own."""
    values: list[str] = []
    for name, email, phone, dob, address, postcode in PEOPLE:
        values += [name, *name.split(), email, email.split("@")[0], phone, "".join(c for c in phone if c.isdigit()),
                   dob, address, postcode]
    for value in EMAIL_IDS:
        values += [value, value.split("@")[0], "".join(c for c in value if c.isdigit())]
    return [v for v in values if len(v) >= 6]


IDENTIFIERS = identifier_values()


def leaks(text: str) -> list[str]:
    return [v for v in IDENTIFIERS if v.lower() in text.lower()]


def write_identifier_files(folder: Path, ragged: bool = False) -> dict[str, Path]:
    """Three exports a clinic's system might produce, all with patient identifiers in them.

    * ``outcomes``: 30 treatments cut from the sample with six identifier columns, a pseudonymous
      patient code, a bad skin type, a bad date and a repeated treatment id (rejected rows);
    * ``side_effects``: their side effects with the patient's name and e-mail, one with an unknown
      severity and one naming a treatment that is not in the outcome file;
    * ``ids``: outcomes whose patient id column holds e-mail addresses and phone numbers (not stored),
      one of them on a rejected row.

    With ``ragged``, the outcome and side-effect files also get a row with one field too many: a name written "Surname,
    First" without quotes, the usual cause, which the reader cannot split into the columns.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = ROOT / "data"
    out = pd.read_csv(data / "sample_outcomes.csv", dtype=str, keep_default_na=False).head(30).copy()
    out["treatment_id"] = "L" + out["treatment_id"]
    out["patient_id"] = [f"PX-{i:04d}" for i in range(len(out))]
    person = [PEOPLE[i % len(PEOPLE)] for i in range(len(out))]
    for j, header in enumerate(OUTCOME_IDENTIFIER_HEADERS):
        out.insert(1 + j, header, [p[j] for p in person])
    out.loc[3, "fitzpatrick_type"] = "VII"
    out.loc[4, "treatment_date"] = "2024-02-31"
    out.loc[5, "treatment_id"] = out.loc[6, "treatment_id"]
    side = pd.read_csv(data / "sample_side_effects.csv", dtype=str, keep_default_na=False)
    side["treatment_id"] = "L" + side["treatment_id"]
    side = side[side["treatment_id"].isin(out["treatment_id"])].head(20).copy()
    owner = dict(zip(out["treatment_id"], person))
    side.insert(1, "Patient Name", [owner[t][0] for t in side["treatment_id"]])
    side.insert(2, "Email", [owner[t][1] for t in side["treatment_id"]])
    orphan = side.iloc[[0]].assign(treatment_id="LNOPE", **{"Patient Name": PEOPLE[1][0], "Email": PEOPLE[1][1]})
    side = pd.concat([side, orphan], ignore_index=True)
    side.loc[1, "severity"] = "catastrophic"
    ids = pd.read_csv(data / "sample_outcomes.csv", dtype=str, keep_default_na=False).iloc[30:36].copy()
    ids["treatment_id"] = "M" + ids["treatment_id"]
    ids["patient_id"] = [EMAIL_IDS[i % 2] for i in range(len(ids))]
    ids.iloc[1, ids.columns.get_loc("fitzpatrick_type")] = "0"     # rejected, with a phone number for a patient id
    paths = {"outcomes": folder / "named.csv", "side_effects": folder / "named_side.csv",
             "ids": folder / "email_ids.csv"}
    out.to_csv(paths["outcomes"], index=False)
    side.to_csv(paths["side_effects"], index=False)
    ids.to_csv(paths["ids"], index=False)
    if ragged:
        first, surname = PEOPLE[0][0].split()
        for key, frame in (("outcomes", out.assign(treatment_id="LRAGGED")), ("side_effects", side)):
            cells = [str(v) for v in frame.iloc[0].to_numpy()]
            cells[1] = f"{surname}, {first}"   # column 1 is "Patient Name"; unquoted, one field too many
            with paths[key].open("a", encoding="utf-8") as f:
                f.write(",".join(cells) + "\n")
    for path in paths.values():   # the files do hold the values the tests look for
        assert leaks(path.read_text(encoding="utf-8"))
    return paths


# --- the command line ------------------------------------------------------------------------------

# Runs ``python -m analysis`` with every logger at DEBUG, SQLAlchemy's SQL-and-parameters logging on.
BOOTSTRAP = """
import logging, runpy, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("sqlalchemy").setLevel(logging.DEBUG)
sys.argv = ["analysis", *sys.argv[1:]]
runpy.run_module("analysis", run_name="__main__", alter_sys=True)
"""


def run_logged(*args: str, sql_rows: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LASERDASH_DB_URL"}
    return subprocess.run([sys.executable, "-W", "always", "-c", BOOTSTRAP, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**env, "PYTHONWARNINGS": "always",
                                                       "LASERDASH_SQL_ROWS": "1" if sql_rows else "0"})


@pytest.mark.parametrize("sql_rows", [False, True], ids=["copies", "copies+rows"])
def test_cli_imports_log_no_identifier_values(tmp_path, sql_rows):
    """With ``sql_rows`` every record's values also pass through SQL statement logging."""
    files = write_identifier_files(tmp_path / "in")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runs = [
        run_logged("--db", db, "import", str(files["outcomes"]), str(files["side_effects"]), "--name", "With names",
                   "--max-problems", "1000", sql_rows=sql_rows),
        run_logged("--db", db, "import", str(files["ids"]), "--name", "E-mail ids", "--max-problems", "1000",
                   sql_rows=sql_rows),
        run_logged("--db", db, "datasets"),
        run_logged("summary", "--file", str(files["outcomes"]), str(files["side_effects"])),
        run_logged("--db", db, "import", str(files["outcomes"]), str(files["side_effects"]), "--name", "Again",
                   sql_rows=sql_rows),
    ]
    for done in runs[:4]:
        assert done.returncode == 0, done.stderr[-3000:]
    assert runs[4].returncode == 1 and "already imported" in runs[4].stderr   # refused: an error line, still clean
    logged = "\n".join(r.stdout + "\n" + r.stderr for r in runs)
    # The capture is live: SQL statements with their parameters, the report, the pseudonymous codes.
    assert "INSERT INTO dataset_blobs" in logged and "DEBUG sqlalchemy" in logged
    assert ("INSERT INTO outcomes" in logged) == sql_rows
    assert "PX-0007" in logged or not sql_rows  # a pseudonymous code: logged with its row
    assert "row 5, column 'fitzpatrick_type', value 'VII'" in logged
    assert "were NOT stored" in logged
    assert leaks(logged) == []


def test_cli_a_row_that_cannot_be_split_is_not_quoted_when_the_file_has_identifiers(tmp_path):
    files = write_identifier_files(tmp_path / "in", ragged=True)
    only_ragged = tmp_path / "in" / "only_ragged.csv"
    lines = files["outcomes"].read_text(encoding="utf-8").splitlines()
    only_ragged.write_text("\n".join([lines[0], lines[-1]]) + "\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runs = [
        run_logged("--db", db, "import", str(files["outcomes"]), str(files["side_effects"]), "--name", "Ragged"),
        run_logged("summary", "--file", str(files["outcomes"]), str(files["side_effects"])),
        run_logged("--db", db, "import", str(only_ragged), "--name", "Only ragged"),
    ]
    assert [r.returncode for r in runs] == [0, 0, 1]
    logged = "\n".join(r.stdout + "\n" + r.stderr for r in runs)
    assert "(whole row)" in logged   # the ragged rows are reported (by row number)
    assert leaks(logged) == []


def test_cli_rejected_rows_files_hold_no_identifier_values(tmp_path):
    files = write_identifier_files(tmp_path / "in")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    out = tmp_path / "rejected"
    for args in ([str(files["outcomes"]), str(files["side_effects"]), "--name", "a"], [str(files["ids"]), "--name", "b"]):
        done = run_logged("--db", db, "import", *args, "--rejected", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        assert leaks(done.stdout + done.stderr) == []
    written = sorted(out.glob("*.csv"))
    assert [p.name for p in written] == ["email_ids.rejected.csv", "named.rejected.csv",
                                         "named_side.rejected.csv"]
    assert leaks("\n".join(p.read_text(encoding="utf-8-sig") for p in written)) == []


# --- the Data page ----------------------------------------------------------------------------------

@pytest.fixture
def app_db(tmp_path_factory, tmp_path, monkeypatch) -> str:
    return app_database(tmp_path_factory, tmp_path, monkeypatch)


@pytest.fixture
def debug_logging(caplog):
    """Every logger at DEBUG into ``caplog``: the root's, SQLAlchemy's and Streamlit's (which do not
    propagate, so the capture handler is added to each of them)."""
    import streamlit.logger as st_logger

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    previous = st_logger._global_log_level
    st_logger.set_log_level(logging.DEBUG)
    hooked = []

    def hook() -> None:
        for name in list(logging.root.manager.loggerDict):
            logger = logging.getLogger(name)
            if name.startswith("streamlit") and caplog.handler not in logger.handlers:
                logger.setLevel(logging.DEBUG)
                logger.addHandler(caplog.handler)
                hooked.append(logger)

    hook()
    yield hook
    for logger in hooked:
        logger.removeHandler(caplog.handler)
    st_logger.set_log_level(previous)


def _upload_and_import(files: list[Path], downloads=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "8_Data.py"), default_timeout=180).run()
    assert not at.exception
    at.file_uploader(key="upload_files").set_value([(p.name, p.read_bytes(), "text/csv") for p in files])
    at.run()
    assert not at.exception
    at.button(key="upload_import").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_data_page_imports_log_no_identifier_values(app_db, tmp_path, debug_logging, caplog, capfd, recwarn,
                                                    monkeypatch):
    # Every record also stored as a SQL row: then every stored value passes through statement logging.
    monkeypatch.setenv("LASERDASH_SQL_ROWS", "1")
    files = write_identifier_files(tmp_path / "in", ragged=True)
    debug_logging()
    shown: list[str] = []
    for batch in ([files["outcomes"], files["side_effects"]], [files["ids"]]):
        at = _upload_and_import(batch)
        debug_logging()   # loggers made during the run
        metrics = {m.label: m.value for m in at.metric}
        assert int(metrics["Rows rejected"]) > 0
        shown += [e.value for kind in ("error", "warning", "info", "success") for e in getattr(at, kind)]
    # A file with no valid row is refused with an error; that is logged nowhere either.
    lines = files["outcomes"].read_text(encoding="utf-8").splitlines()
    only_ragged = tmp_path / "in" / "only_ragged.csv"
    only_ragged.write_text("\n".join([lines[0], lines[-1]]) + "\n", encoding="utf-8")
    at = _upload_and_import([only_ragged])
    shown += [e.value for e in at.error]
    assert any("refused" in s for s in shown)
    captured = capfd.readouterr()
    logged = "\n".join([caplog.text, captured.out, captured.err, *(str(w.message) for w in recwarn)])
    assert "DEBUG" in caplog.text and "sqlalchemy" in caplog.text   # the capture is live
    assert "PX-0007" in caplog.text                                 # and would show stored values
    assert leaks(logged) == []
    assert leaks("\n".join(shown)) == []   # the Markdown messages hold constant text only


@pytest.fixture
def downloads(monkeypatch):
    """``fetch(at, key) -> bytes``: what the download button ``key`` would download (as in test_pages)."""
    return record_downloads(monkeypatch)


def test_data_page_downloads_hold_no_identifier_values(app_db, tmp_path, downloads):
    files = write_identifier_files(tmp_path / "in", ragged=True)
    texts: list[str] = []
    for batch in ([files["outcomes"], files["side_effects"]], [files["ids"]]):
        at = _upload_and_import(batch)
        # The import's downloads (the templates beside the uploader are fixed files, tested in test_template)
        found = [b.key for b in at.get("download_button")
                 if b.key and b.key.startswith("upload_") and not b.key.startswith("upload_template_")]
        assert "upload_problems_csv" in found and "upload_rejected_0" in found
        for key in found:
            texts.append(downloads(at, key).decode("utf-8-sig"))
        problems = next(df.value for df in at.dataframe if "reason" in df.value.columns)
        texts.append(problems.to_csv())
    joined = "\n".join(texts)
    assert "(whole row)" in joined and "not shown: the file has patient identifier columns" in joined
    assert "LNOPE" in joined and "VII" in joined and "catastrophic" in joined   # the problems are all there
    assert leaks(joined) == []
