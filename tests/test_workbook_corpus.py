"""Workbooks saved by LibreOffice (.xls, .ods) import exactly as their CSV twins, as the .xlsx they came from does.

The corpus is in ``tests/corpus/workbooks/``, made by its ``make.py`` (not run here; see its docstring
for the LibreOffice version and command): for each case an .xlsx written by XlsxWriter, the .xls and .ods
LibreOffice 7.4 saved from it, and the same records as CSV files. Each workbook holds an outcome sheet
and a side-effect sheet (with title rows above the headers) and a notes sheet, which is skipped.

What LibreOffice stores differently, and why the records are still the same:

* numbers: an .ods file holds a number as text with at most 15 significant digits ("333.333333333333"
  for =1000/3, where the .xlsx and .xls hold the double 333.3333333333333); the reader writes every
  number to 15 significant digits, as a spreadsheet shows it, so all three give the CSV's text;
* whole numbers: the .xls holds some as integers, the .xlsx and .ods as floats (4 or 4.0): both are "4";
* booleans: LibreOffice reads an .xlsx boolean cell as the formula =TRUE() or =FALSE(), so the .ods holds
  the number 1 or 0 (shown as TRUE/FALSE); the .xls keeps a boolean. A yes/no flag column takes
  TRUE/FALSE and 1/0 alike;
* merged cells: calamine gives the merged ranges of .xlsx and .xls sheets but not of .ods sheets; the
  reader reads them from the .ods file's content.xml, so a merged clinic cell fills every row it covers;
* a formula whose value is text: LibreOffice 7.4 writes no text result for it into an .xls (calamine
  reads the number 0), so no record column of the corpus holds one; the notes sheet of ``northgate``
  does, and :func:`test_what_libreoffice_stores_differently` shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import pytest
import python_calamine as calamine

from analysis.records.ingest import ImportResult, SourceFile, import_files
from analysis.records.sheets import _ods_merged, text, workbook_kind
from testpaths import CORPUS

WORKBOOKS = CORPUS / "workbooks"
FORMATS = ("xlsx", "xls", "ods")
KINDS = {"xlsx": "Excel workbook (.xlsx)", "xls": "Excel 97-2003 workbook (.xls)",
         "ods": "OpenDocument spreadsheet (.ods)"}


@dataclass(frozen=True)
class Case:
    """A workbook's record sheets, the rows above each one's headers and its skipped sheet."""

    outcomes: str
    side_effects: str
    above: dict[str, int]
    skipped: str


CASES = {
    "northgate": Case("Outcomes", "Side effects", {"Outcomes": 3, "Side effects": 0}, "Notes"),
    "riverside": Case("Treatments", "Adverse events", {"Treatments": 1, "Adverse events": 1}, "Read me"),
    "eastfield": Case("Outcomes", "Side effects", {"Outcomes": 2, "Side effects": 0}, "Summary"),
    "harbour": Case("Outcomes", "Side effects", {"Outcomes": 2, "Side effects": 1}, "Notes"),
}


def from_csv(case: str) -> ImportResult:
    return import_files(SourceFile.from_path(WORKBOOKS / f"{case}_outcomes.csv"),
                        [SourceFile.from_path(WORKBOOKS / f"{case}_side_effects.csv")])


def from_book(case: str, fmt: str, name: str | None = None) -> ImportResult:
    return import_files(SourceFile(name or f"{case}.{fmt}", (WORKBOOKS / f"{case}.{fmt}").read_bytes()))


def sheets_of(case: str, book: str) -> dict[str, tuple[str, int]]:
    """Each CSV twin's name -> the label of its sheet in the workbook ``book`` and the rows above its headers."""
    c = CASES[case]
    return {f"{case}_outcomes.csv": (f"{book}, sheet '{c.outcomes}'", c.above[c.outcomes]),
            f"{case}_side_effects.csv": (f"{book}, sheet '{c.side_effects}'", c.above[c.side_effects])}


def as_in_book(problems: pd.DataFrame, case: str, book: str) -> pd.DataFrame:
    """The CSV import's problems as the workbook's must be: the file is the sheet, and every row number (the
    problem's and those its reason names) is the sheet's own, the CSV's plus the rows above its headers."""
    sheets = sheets_of(case, book)

    def reason(file: str, text: str) -> str:
        own = sheets[file][1]
        for csv_name, (label, above) in sheets.items():
            text = re.sub(rf"\({re.escape(csv_name)} row (\d+)\)",
                          lambda m, label=label, above=above: f"({label} row {int(m[1]) + above})", text)
            text = text.replace(f" in {csv_name}", f" in {label}")
        return re.sub(r"repeats the treatment_id of row (\d+)$", lambda m: f"repeats the treatment_id of row "
                      f"{int(m[1]) + own}", text)

    expected = problems.copy()
    expected["reason"] = [reason(f, r) for f, r in zip(problems["file"], problems["reason"])]
    expected["row"] = [row + sheets[f][1] for f, row in zip(problems["file"], problems["row"])]
    expected["file"] = [sheets[f][0] for f in problems["file"]]
    return expected.astype(problems.dtypes.to_dict())


CASE_FORMATS = [(c, f) for c in CASES for f in FORMATS]


@pytest.fixture(scope="module")
def twins() -> dict[str, ImportResult]:
    return {case: from_csv(case) for case in CASES}


@pytest.mark.parametrize(("case", "fmt"), CASE_FORMATS)
def test_a_workbook_gives_the_records_of_its_csv_twins(case, fmt, twins):
    book, csv = from_book(case, fmt), twins[case]
    pd.testing.assert_frame_equal(book.outcomes, csv.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(book.side_effects, csv.side_effects, check_exact=True)
    assert len(book.outcomes) > 0 and len(book.side_effects) > 0


@pytest.mark.parametrize(("case", "fmt"), CASE_FORMATS)
def test_a_workbook_gives_the_problems_of_its_csv_twins_on_the_sheets_own_rows(case, fmt, twins):
    name = f"{case}.{fmt}"
    problems = from_book(case, fmt).report.problems
    pd.testing.assert_frame_equal(problems, as_in_book(twins[case].report.problems, case, name))
    c = CASES[case]
    assert set(problems["file"]) <= {f"{name}, sheet '{c.outcomes}'", f"{name}, sheet '{c.side_effects}'"}


@pytest.mark.parametrize(("case", "fmt"), CASE_FORMATS)
def test_a_workbook_gives_the_summaries_and_notes_of_its_csv_twins(case, fmt, twins):
    name = f"{case}.{fmt}"
    book, csv = from_book(case, fmt).report, twins[case].report
    sheets = sheets_of(case, name)
    assert [f.file for f in book.files] == [sheets[f.file][0] for f in csv.files]
    for ours, theirs in zip(book.files, csv.files):
        assert (ours.kind, ours.rows_read, ours.rows_accepted, ours.rows_rejected, ours.columns, ours.ignored_columns) \
            == (theirs.kind, theirs.rows_read, theirs.rows_accepted, theirs.rows_rejected, theirs.columns,
                theirs.ignored_columns)
        assert ours.encoding == KINDS[fmt] and ours.delimiter == ""
    expected = [f"{name}: sheet '{CASES[case].skipped}' was skipped: its first rows hold no outcome or side-effect "
                "column headers."]
    for note in csv.notes:
        for csv_name, (label, _) in sheets.items():
            note = note.replace(csv_name, label)
        expected.append(note)
    assert book.notes == expected


def test_the_cases_hold_what_they_are_for(twins):
    """The clean cases import without a problem; the bad one has each kind of bad row, in both sheets."""
    for case in ("northgate", "riverside", "eastfield"):
        assert twins[case].report.problems.empty, case
    problems = from_book("harbour", "ods").report.problems
    found = problems[["row", "column", "value"]].values.tolist()
    for expected in ([5, "fitzpatrick_type", "VII"], [6, "treatment_date", "31/02/2024"], [7, "downtime_days", "-3"],
                     [10, "treatment_id", "H05"]):  # the sheet's rows: a title, an empty row, the headers, H01
        assert expected in found, expected
    reasons = " | ".join(problems["reason"])
    for words in ("is not a Fitzpatrick skin type", "is not a real date", "must be between 0 and 90",
                  "repeats the treatment_id of row 8", "its outcome row (harbour.ods, sheet 'Outcomes' row 5) was "
                  "rejected", "no outcome record has this treatment_id in harbour.ods, sheet 'Outcomes'",
                  "is not a yes/no flag", "is before the onset day", "must be a whole number",
                  "stated modality differs from the device"):
        assert words in reasons, words
    assert set(problems["file"]) == {"harbour.ods, sheet 'Outcomes'", "harbour.ods, sheet 'Side effects'"}


@pytest.mark.parametrize("fmt", ["xls", "ods"])
@pytest.mark.parametrize("case", ["northgate", "harbour"])
def test_a_workbook_named_csv_is_known_by_its_content(case, fmt):
    data = (WORKBOOKS / f"{case}.{fmt}").read_bytes()
    assert workbook_kind(data) == KINDS[fmt]
    named, renamed = from_book(case, fmt), from_book(case, fmt, name=f"{case}.csv")
    pd.testing.assert_frame_equal(renamed.outcomes, named.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(renamed.side_effects, named.side_effects, check_exact=True)
    expected = named.report.problems.replace({f"{case}.{fmt}": f"{case}.csv"}, regex=True)
    pd.testing.assert_frame_equal(renamed.report.problems, expected)
    c = CASES[case]
    assert [f.file for f in renamed.report.files] == [f"{case}.csv, sheet '{c.outcomes}'",
                                                      f"{case}.csv, sheet '{c.side_effects}'"]
    assert {f.encoding for f in renamed.report.files} == {KINDS[fmt]}


@pytest.mark.parametrize("case", list(CASES))
def test_merged_ranges_of_an_ods_sheet_are_those_of_the_xlsx_it_was_saved_from(case):
    xlsx = calamine.CalamineWorkbook.from_path(WORKBOOKS / f"{case}.xlsx")
    ods = _ods_merged((WORKBOOKS / f"{case}.ods").read_bytes())
    assert calamine.CalamineWorkbook.from_path(WORKBOOKS / f"{case}.ods").get_sheet_by_index(0).merged_cell_ranges \
        is None  # calamine gives none for .ods sheets
    for name in xlsx.sheet_names:
        assert sorted(ods.get(name, [])) == sorted(xlsx.get_sheet_by_name(name).merged_cell_ranges or []), name
    assert ods["Outcomes" if case != "riverside" else "Treatments"]  # every case has a title merged at least


def test_a_merged_clinic_cell_fills_every_row_it_covers_in_every_format():
    for fmt in FORMATS:
        assert from_book("northgate", fmt).outcomes["clinic"].tolist() == ["Northgate"] * 10, fmt


def cells(case: str, fmt: str, sheet: str) -> list[list]:
    return calamine.CalamineWorkbook.from_path(WORKBOOKS / f"{case}.{fmt}").get_sheet_by_name(sheet).to_python()


def test_what_libreoffice_stores_differently():
    """The cells as calamine reads them, where LibreOffice's files differ from the .xlsx (see the module's
    docstring), and the text the reader makes of them, which is the same."""
    cost = {fmt: cells("riverside", fmt, "Treatments")[2][11] for fmt in FORMATS}  # =1000/3
    assert cost == {"xlsx": 1000 / 3, "xls": 1000 / 3, "ods": 333.333333333333}
    assert {text(v) for v in cost.values()} == {"333.333333333333"}
    noise = {fmt: cells("riverside", fmt, "Treatments")[3][11] for fmt in FORMATS}  # =0.1+0.2
    assert noise == {"xlsx": 0.1 + 0.2, "xls": 0.1 + 0.2, "ods": 0.3} and {text(v) for v in noise.values()} == {"0.3"}
    flags = {fmt: cells("riverside", fmt, "Treatments")[2][13:15] for fmt in FORMATS}  # Erythema, PIH of R-01
    assert flags == {"xlsx": [True, False], "xls": [True, False], "ods": [1.0, 0.0]}
    whole = {fmt: cells("northgate", fmt, "Outcomes")[4][7] for fmt in FORMATS}  # fitzpatrick_type of N001
    assert {text(v) for v in whole.values()} == {"2"} and type(whole["xls"]) is int and type(whole["ods"]) is float
    rows = {fmt: cells("northgate", fmt, "Notes")[3][0] for fmt in FORMATS}  # ="Rows: "&COUNTA(...)
    assert rows == {"xlsx": "Rows: 10", "xls": 0.0, "ods": "Rows: 10"}
