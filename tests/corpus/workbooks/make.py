r"""Make the workbook corpus: workbooks saved by LibreOffice as .xls and .ods, and the CSV twin of each.

The tests (tests/test_workbook_corpus.py) do NOT run this script: CI has no LibreOffice, so its output
is committed. Run it again only to change the corpus, and commit what it writes.

Made with LibreOffice 7.4.7.2 (``soffice --version``: "LibreOffice 7.4.7.2 40(Build:2)"; Debian 12
package libreoffice-calc-nogui 4:7.4.7-1+deb12u14), XlsxWriter 3.3.1 and Python 3.11, by::

    apt-get install -y libreoffice-calc-nogui
    python tests/corpus/workbooks/make.py

For each case the script writes, in this folder:

* ``CASE.xlsx``: written by XlsxWriter with typed cells: date cells (some with a time), numbers (some
  typed as text), formulas with their last calculated value, booleans in yes/no flag columns, title
  rows above the headers, an outcome sheet, a side-effect sheet and one notes sheet;
* ``CASE.xls`` and ``CASE.ods``: that workbook opened and saved again by LibreOffice, with exactly::

      soffice -env:UserInstallation=file://<temporary folder> --headless \
          --convert-to xls --outdir tests/corpus/workbooks tests/corpus/workbooks/CASE.xlsx
      soffice -env:UserInstallation=file://<temporary folder> --headless \
          --convert-to ods --outdir tests/corpus/workbooks tests/corpus/workbooks/CASE.xlsx

  (a new LibreOffice profile in a temporary folder, so no one's settings change the files, with one
  setting: no thumbnail image in the .ods, ``/org.openoffice.Office.Common/Save/Document/
  GenerateThumbnail`` false, which would make up most of the file; the filters LibreOffice picks are
  "MS Excel 97" and "calc8");
* ``CASE_outcomes.csv`` and ``CASE_side_effects.csv``: the same records as CSV files, as a clinic's
  system would export them: dates as ISO text (with the time, where the cell has one), yes/no for
  the booleans, a formula's value, numbers to the 15 significant digits a spreadsheet keeps, a merged
  cell's value on every row it covers, and no title rows (so the CSV's row numbers are the sheet's
  less the rows above its headers).

The cases: ``northgate`` (plain headers, a clinic cell merged down the rows, formulas, a PIH flag),
``riverside`` (headers by synonym, the side-effect sheet first, date-and-time cells, formulas whose
value has more than 15 digits), ``eastfield`` (numbers typed as text, an empty row, two flag columns)
and ``harbour`` (bad rows: Fitzpatrick "VII", a text date "31/02/2024", a negative downtime, a repeated
treatment id, values out of range, a side effect of a rejected row and of no treatment, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

HERE = Path(__file__).resolve().parent
CREATED = dt.datetime(2024, 4, 2, 9, 0)  # the workbooks' creation date (fixed, so a rerun writes the same cells)


@dataclass(frozen=True)
class Formula:
    """A formula cell and the value it was last calculated to (which XlsxWriter stores with it)."""

    formula: str
    value: Any


@dataclass
class Sheet:
    """A sheet: rows above the headers, the header row, the records (as the CSV twin holds them) and the
    ranges merged below the header: (first record, last record, column), the first record's value."""

    above: list[list[Any]]
    header: list[str]
    rows: list[list[Any]]
    merge: list[tuple[int, int, int]] = field(default_factory=list)
    twin: str | None = None  # the CSV twin's name; None for a sheet of notes


def case_northgate() -> dict[str, Sheet]:
    d = dt.date
    header = ["treatment_id", "patient_id", "clinic", "treatment_date", "modality", "device", "treatment_area",
              "fitzpatrick_type", "downtime_days", "improvement_score", "satisfaction", "procedure_minutes", "cost",
              "PIH"]
    co2, erglass, eryag = "Fractional CO2 10600 nm", "Er:glass 1550 nm", "Er:YAG 2940 nm"
    rows = [
        ["N001", "P101", "Northgate", d(2024, 1, 8), "ablative", co2, "face", 2, 7, 3, 5, 45,
         Formula("=1000*1.2", 1200), False],
        ["N002", "P102", "Northgate", d(2024, 1, 9), "non-ablative", erglass, "face", 3, 2.5, 2, 4, 30,
         Formula("=733.75*1.2", 880.5), False],
        ["N003", "P103", "Northgate", d(2024, 1, 15), "non-ablative", erglass, "neck", "IV", "2", 2, 4, 30, 720, True],
        ["N004", "P101", "Northgate", d(2024, 2, 5), "ablative", eryag, "hands", 2, 5, 3, 5, 40, 950, False],
        ["N005", "P104", "Northgate", d(2024, 2, 12), "non-ablative", erglass, "décolleté", 5, 1.5, 1, 3, 25,
         Formula("=600*1.2", 720), True],
        ["N006", "P105", "Northgate", d(2024, 2, 29), "ablative", co2, "face", 1, 10, 4, 5, 60, 1450.5, False],
        ["N007", "P106", "Northgate", d(2024, 3, 4), "non-ablative", erglass, "chest", 6, 0, 1, 2, 20, 640, False],
        ["N008", "P102", "Northgate", d(2024, 3, 11), "non-ablative", erglass, "face", 3, 3, 2, 4, 30, 720, False],
        ["N009", "P107", "Northgate", d(2024, 3, 18), "ablative", co2, "neck", "II", 8, 3, 4, 50, 1300, False],
        ["N010", "P108", "Northgate", d(2024, 3, 28), "ablative", eryag, "face", 4, 6, 3, 5, 45, 1100, True],
    ]
    side = [
        ["N001", "erythema", "mild", 0, Formula("=D2+4", 4)],
        ["N003", "PIH", "moderate", 14, 60],
        ["N004", "swelling", "mild", 0, 3],
        ["N006", "erythema", "moderate", 0, Formula("=D5+12", 12)],
        ["N010", "acneiform eruption", "mild", 5, 12],
    ]
    notes = [["About this workbook"], ["Downtime in days; cost in EUR including VAT (formulas on some rows)."],
             ["Rows on the Outcomes sheet:"], [Formula('="Rows: "&COUNTA(Outcomes!A5:A14)', "Rows: 10")]]
    return {
        "Outcomes": Sheet([["Laser outcomes, Northgate clinic, January to March 2024"],
                           ["Exported from ClinicDesk on 02/04/2024"], []], header, rows,
                          merge=[(0, len(rows) - 1, 2)], twin="northgate_outcomes.csv"),
        "Side effects": Sheet([], ["treatment_id", "effect", "severity", "onset_day", "resolved_day"], side,
                              twin="northgate_side_effects.csv"),
        "Notes": Sheet([], [], notes),
    }


def case_riverside() -> dict[str, Sheet]:
    t = dt.datetime
    header = ["Treatment ID", "Patient", "Date", "Laser type", "Laser", "Area", "Skin type", "Downtime (days)",
              "Improvement", "Satisfaction", "Duration (minutes)", "Cost", "Follow-up visits", "Erythema", "PIH"]
    co2, erglass = "Fractional CO2 10600 nm", "Er:glass 1550 nm"
    rows = [
        ["R-01", "RS-1", t(2024, 3, 4, 9, 30), "Ablative", co2, "Face", "III", Formula("=10/3", 10 / 3), 3, 5,
         Formula("=45/0.7", 45 / 0.7), Formula("=1000/3", 1000 / 3), 2, True, False],
        ["R-02", "RS-2", t(2024, 3, 4, 11, 0), "Non-ablative", erglass, "Neck", "V", 2, 2, 4, 30,
         Formula("=0.1+0.2", 0.1 + 0.2), 1, False, True],
        ["R-03", "RS-3", t(2024, 3, 5, 14, 15), "Non-ablative", erglass, "Face", 2, 1.25, 1, 3, 25, 500, 0, False,
         False],
        ["R-04", "RS-1", t(2024, 3, 12, 10, 0), "Ablative", co2, "Hands", "II", 6, 3, 5, 55,
         Formula("=2*1000/3", 2000 / 3), 3, True, False],
        ["R-05", "RS-4", t(2024, 3, 19, 0, 0), "Non-ablative", erglass, "Chest", 4, 2, 2, 4, 35, 640.25, 1, False,
         False],
        ["R-06", "RS-5", t(2024, 3, 26, 16, 45), "Ablative", co2, "Face", "I", 9, 4, 5, 70, 1500, 2, True, True],
    ]
    side = [
        ["R-01", "Erythema", "Mild", 0, Formula("=D3+5", 5)],
        ["R-02", "Post-inflammatory hyperpigmentation", "Moderate", 10, Formula("=D4+35", 45)],
        ["R-04", "Oedema", "Mild", 0, 2],
        ["R-06", "Blistering", "Severe", 1, 9],
    ]
    return {
        "Read me": Sheet([], [], [["Riverside Skin: treatment log and adverse events."],
                                  ["Times are the start of the session."]]),
        "Adverse events": Sheet([["Adverse events reported after treatment"]],
                                ["Treatment ID", "Side effect", "Grade", "Onset (days)", "Resolved (days)"], side,
                                twin="riverside_side_effects.csv"),
        "Treatments": Sheet([["Riverside Skin, treatment log, March 2024"]], header, rows,
                            twin="riverside_outcomes.csv"),
    }


def case_eastfield() -> dict[str, Sheet]:
    d = dt.date
    header = ["treatment_id", "treatment_date", "modality", "device", "fitzpatrick_type", "downtime_days",
              "satisfaction", "cost", "practitioner", "Blistering", "Infection"]
    rows = [
        ["E1", d(2024, 5, 2), "non-ablative", "IPL", "2", "1", "4", "350", "TK", False, False],
        ["E2", d(2024, 5, 2), "non-ablative", "IPL", "3", "0.5", "5", "350", "TK", False, False],
        ["E3", d(2024, 5, 9), "ablative", "Fractional CO2 10600 nm", "4", "7", "4", "1200.50", "MB", True, False],
        [None] * len(header),  # an empty row: skipped, and counted in the sheet's row numbers
        ["E4", d(2024, 5, 16), "ablative", "Fractional CO2 10600 nm", "1", "8", "5", "1200.50", "MB", False, True],
        ["E5", d(2024, 5, 23), "non-ablative", "Er:glass 1550 nm", "5", "2", "3", "780", "TK", False, False],
    ]
    side = [["E3", "blistering", "moderate", 2, 9], ["E4", "infection", "severe", 3, None],
            ["E5", "other", "mild", 1, Formula("=D4+1", 2)]]
    return {
        "Outcomes": Sheet([["Eastfield Laser Studio"], ["May 2024 (numbers as the booking system exports them: text)"]],
                          header, rows, twin="eastfield_outcomes.csv"),
        "Side effects": Sheet([], ["treatment_id", "effect", "severity", "onset_day", "resolved_day"], side,
                              twin="eastfield_side_effects.csv"),
        "Summary": Sheet([], [], [["Treatments", Formula("=COUNTA(Outcomes!A4:A9)", 5)],
                                  ["Mean satisfaction", Formula("=AVERAGE(4,5,4,5,3)", 4.2)]]),
    }


def case_harbour() -> dict[str, Sheet]:
    d = dt.date
    header = ["treatment_id", "patient_id", "treatment_date", "modality", "device", "fitzpatrick_type",
              "downtime_days", "improvement_score", "satisfaction", "cost", "PIH"]
    co2, erglass = "Fractional CO2 10600 nm", "Er:glass 1550 nm"
    rows = [
        ["H01", "HP1", d(2024, 2, 1), "ablative", co2, 3, 7, 3, 5, 1200, False],
        ["H02", "HP2", d(2024, 2, 2), "non-ablative", erglass, "VII", 2, 2, 4, 800, False],  # no such skin type
        ["H03", "HP3", "31/02/2024", "non-ablative", erglass, 2, 2, 2, 4, 800, False],  # no 31 February
        ["H04", "HP4", d(2024, 2, 6), "ablative", co2, 4, -3, 3, 5, 1200, False],  # negative downtime
        ["H05", "HP5", d(2024, 2, 7), "ablative", co2, 2, 6, 3, 4, Formula("=1000*1.2", 1200), True],
        [None] * len(header),
        ["H05", "HP6", d(2024, 2, 8), "non-ablative", erglass, 3, 2, 2, 4, 800, False],  # repeats H05
        ["H07", "HP7", d(2024, 2, 9), "non-ablative", erglass, 3, 2, 2, 7, 800, False],  # satisfaction 7
        ["H08", "HP8", d(2024, 2, 12), "ablative", co2, 2, 7, 2.5, 5, 1200, False],  # improvement 2.5
        ["H09", "HP9", d(2024, 2, 13), "non-ablative", erglass, 5, 1, 1, 3, 800, "maybe"],  # not a flag
        ["H10", "HP10", d(2024, 2, 14), "ablative", erglass, 4, 2, 2, 4, 800, False],  # modality vs device
        ["H11", "HP11", d(2024, 2, 15), "non-ablative", erglass, 6, 2, 2, 4, "USD 7", False],
        ["H12", "HP12", d(2024, 2, 16), "non-ablative", erglass, "iv", 95, 2, 4, 800, False],  # downtime 95
    ]
    side = [
        ["H01", "erythema", "mild", 0, 3],
        ["H02", "PIH", "moderate", 7, 30],  # its outcome row was rejected
        ["H99", "erythema", "mild", 0, 2],  # no such treatment
        ["H05", "swelling", "grade 2", 0, 2],  # no such severity
        ["H01", "edema", "mild", 5, Formula("=D7-3", 2)],  # resolved before its onset
        ["H08", "itching", "mild", 1, 2],  # no such effect
        ["H10", "blistering", "moderate", -1, 4],  # negative onset
    ]
    return {
        "Outcomes": Sheet([["Harbour Clinic: February 2024 (with mistakes)"], []], header, rows,
                          twin="harbour_outcomes.csv"),
        "Side effects": Sheet([["Side effects"]], ["treatment_id", "effect", "severity", "onset_day", "resolved_day"],
                              side, twin="harbour_side_effects.csv"),
        "Notes": Sheet([], [], [["Checked by"], ["nobody yet"]]),
    }


CASES = {"northgate": case_northgate, "riverside": case_riverside, "eastfield": case_eastfield,
         "harbour": case_harbour}


def write_xlsx(path: Path, sheets: dict[str, Sheet]) -> None:
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": CREATED, "author": "tests/corpus/workbooks/make.py"})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    date_time = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    bold = book.add_format({"bold": True})
    for name, sheet in sheets.items():
        ws = book.add_worksheet(name)
        r = 0
        for row in sheet.above:
            for c, value in enumerate(row):
                write(ws, r, c, value, date, date_time)
            r += 1
        if sheet.above and sheet.above[0] and sheet.header:  # a title merged across the headers' width
            ws.merge_range(0, 0, 0, len(sheet.header) - 1, sheet.above[0][0], bold)
        if sheet.header:
            ws.write_row(r, 0, sheet.header, bold)
            r += 1
        covered = {(first + i, col) for first, last, col in sheet.merge for i in range(last - first + 1)}
        for i, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if (i, c) not in covered:
                    write(ws, r + i, c, value, date, date_time)
        for first, last, col in sheet.merge:
            ws.merge_range(r + first, col, r + last, col, sheet.rows[first][col])
    book.close()


def write(ws: Any, r: int, c: int, value: Any, date: Any, date_time: Any) -> None:
    if value is None:
        return
    if isinstance(value, Formula):
        ws.write_formula(r, c, value.formula, None, value.value)
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(r, c, value, date_time)
    elif isinstance(value, dt.date):
        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
    elif isinstance(value, str):
        ws.write_string(r, c, value)  # text, even when it looks like a number or a date
    else:
        ws.write_number(r, c, value)


def twin_text(value: Any) -> str:
    """A cell as the clinic's CSV export writes it."""
    if isinstance(value, Formula):
        return twin_text(value.value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.15g}"
    return str(value)


def write_twins(sheets: dict[str, Sheet]) -> None:
    for sheet in sheets.values():
        if sheet.twin:
            with open(HERE / sheet.twin, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(sheet.header)
                writer.writerows([twin_text(v) for v in row] for row in sheet.rows)


NO_THUMBNAIL = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Save/Document"><prop oor:name="GenerateThumbnail" oor:op="fuse">\
<value>false</value></prop></item>
</oor:items>
"""


def convert(paths: list[Path], soffice: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(NO_THUMBNAIL)
        for target in ("xls", "ods"):
            for path in paths:
                subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                                target, "--outdir", str(HERE), str(path)], check=True)


def main() -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise SystemExit("LibreOffice is needed: apt-get install -y libreoffice-calc-nogui")
    made = []
    for name, build in CASES.items():
        sheets = build()
        path = HERE / f"{name}.xlsx"
        write_xlsx(path, sheets)
        write_twins(sheets)
        made.append(path)
    for path in made:  # (LibreOffice would say 'Overwriting' for each)
        path.with_suffix(".xls").unlink(missing_ok=True)
        path.with_suffix(".ods").unlink(missing_ok=True)
    convert(made, soffice)
    print(subprocess.run([soffice, "--version"], capture_output=True, text=True).stdout.strip())
    for path in sorted(HERE.iterdir()):
        print(f"{path.stat().st_size:>7}  {path.name}")


if __name__ == "__main__":
    main()
