"""Workbooks (.xlsx, .ods, ...) import like their CSV twins, each sheet recognised by its headers.

The workbooks are written by other libraries than the reader (XlsxWriter and openpyxl write them,
calamine reads them), with what real ones hold: cell dates, numbers stored as text, formulas with their
last value, booleans, percent formats, merged cells, title rows above the headers, empty trailing rows
and columns, hidden and chart-free extra sheets, a password.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from msoffcrypto.format.ooxml import OOXMLFile

from analysis.cli import main
from analysis.records.ingest import ImportOptions, ImportProblem, SourceFile, import_files
from analysis.records.sheets import text, workbook_kind
from analysis.records.store import Store

CORPUS = Path(__file__).parent / "corpus"


def xlsx(sheets: dict[str, list[list]], *, hidden: tuple[str, ...] = (), merge: dict[str, list] | None = None,
         formats: dict[str, dict] | None = None) -> bytes:
    """A workbook written by XlsxWriter: one sheet per entry, rows of Python values written by type."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    percent = book.add_format({"num_format": "0%"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
                elif isinstance(value, tuple) and value[0] == "=":  # ("=", formula, cached value)
                    sheet.write_formula(r, c, value[1], None, value[2])
                elif isinstance(value, tuple) and value[0] == "%":
                    sheet.write_number(r, c, value[1], percent)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)  # (write() would take '=...' for a formula)
                elif value is not None:
                    sheet.write(r, c, value)
        for first_row, first_col, last_row, last_col, value in (merge or {}).get(name, []):
            sheet.merge_range(first_row, first_col, last_row, last_col, value)
        if name in hidden:
            sheet.hide()
    book.close()
    return out.getvalue()


def csv_rows(path: Path) -> list[list[str]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python", encoding="utf-8-sig")
    return [list(frame.columns), *frame.values.tolist()]


def records(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    return result.outcomes, result.side_effects


def assert_same_records(a, b) -> None:
    for x, y in zip(records(a), records(b)):
        pd.testing.assert_frame_equal(x, y)


# --- the same records as the CSV twin --------------------------------------------------------------

@pytest.mark.parametrize("name", ["bom_utf8.csv", "combined_flags.csv", "pii_columns.csv", "formula_injection.csv",
                                  "bad_dates.csv", "bad_numbers.csv", "duplicate_ids.csv", "mixed_fitzpatrick.csv"])
def test_a_workbook_of_text_cells_imports_as_its_csv_twin(name):
    """Every cell typed as text, as some systems export: the same records, problems and rejected rows,
    with the same row numbers (the header is row 1 in both) and the sheet named in each problem."""
    options = ImportOptions(date_order="dayfirst")
    from_csv = import_files(SourceFile.from_path(CORPUS / name), options=options)
    book = import_files(SourceFile("twin.xlsx", xlsx({"Records": csv_rows(CORPUS / name)})), options=options)
    assert_same_records(book, from_csv)
    a, b = book.report.problems, from_csv.report.problems
    assert list(a["row"]) == list(b["row"]) and list(a["reason"]) == list(b["reason"])
    assert set(a["file"]) <= {"twin.xlsx, sheet 'Records'"}
    assert list(a["value"]) == list(b["value"])


def test_typed_cells_import_as_the_csv_twin():
    """Date cells, number cells, formulas and booleans give the records the CSV text gives."""
    csv = ("treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,cost,satisfaction,PIH\n"
           "T1,2024-03-05,ablative,4,7,1210,5,yes\nT2,2024-12-31,non-ablative,2,2.5,880.5,4,no\n")
    rows = [["treatment_id", "treatment_date", "modality", "fitzpatrick_type", "downtime_days", "cost", "satisfaction",
             "PIH"],
            ["T1", dt.date(2024, 3, 5), "ablative", 4, "7", ("=", "=1000*1.21", 1210), 5, True],
            ["T2", dt.date(2024, 12, 31), "non-ablative", 2.0, 2.5, ("=", "=880+0.5", 880.5), "4", False]]
    book = import_files(SourceFile("typed.xlsx", xlsx({"Sheet1": rows})))
    assert_same_records(book, import_files(SourceFile("twin.csv", csv.encode())))
    assert book.report.problems.empty
    assert not any("day" in n and "month" in n for n in book.report.notes)


def test_cell_dates_need_no_date_order_but_dates_typed_as_text_do():
    rows = [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"],
            ["T1", dt.date(2024, 3, 5), "ablative", "II"], ["T2", dt.date(2024, 4, 6), "ablative", "III"]]
    result = import_files(SourceFile("dates.xlsx", xlsx({"S": rows})))  # 5 March, whatever the locale
    assert list(result.outcomes["treatment_date"].dt.strftime("%Y-%m-%d")) == ["2024-03-05", "2024-04-06"]
    rows[1][1], rows[2][1] = "05/03/2024", "06/04/2024"
    with pytest.raises(ImportProblem, match="could be either day/month/year or month/day/year"):
        import_files(SourceFile("dates.xlsx", xlsx({"S": rows})))


def test_outcomes_and_side_effects_on_two_sheets_and_other_sheets_skipped():
    outcomes = [["Treatment ID", "Date", "Modality", "Skin type"], ["T1", dt.date(2024, 1, 2), "ablative", "V"],
                ["T2", dt.date(2024, 1, 3), "non-ablative", "VII"]]
    side = [["treatment_id", "effect", "onset_day"], ["T1", "erythema", 0], ["T2", "PIH", 3], ["T1", "swelling", 1]]
    data = xlsx({"Read me": [["This workbook holds the March export."]], "Side effects": side, "Outcomes": outcomes,
                 "Empty": [], "Old": [["Treatment ID", "Date"]]}, hidden=("Outcomes",))
    result = import_files(SourceFile("march.xlsx", data))
    assert list(result.outcomes["treatment_id"]) == ["T1"]
    assert sorted(result.side_effects["effect"]) == ["edema", "erythema"]
    report = result.report
    assert [f.file for f in report.files] == ["march.xlsx, sheet 'Outcomes'", "march.xlsx, sheet 'Side effects'"]
    assert [f.kind for f in report.files] == ["outcomes", "side_effects"]
    skipped = [n for n in report.notes if "was skipped" in n]
    assert skipped == ["march.xlsx: sheet 'Read me' was skipped: its first rows hold no outcome or side-effect "
                       "column headers.", "march.xlsx: sheet 'Empty' was skipped: it is empty.",
                       "march.xlsx: sheet 'Old' was skipped: its first rows hold no outcome or side-effect column "
                       "headers."]
    problems = report.problems
    assert problems[["file", "row", "column", "value"]].values.tolist() == [
        ["march.xlsx, sheet 'Outcomes'", 3, "Skin type", "VII"],
        ["march.xlsx, sheet 'Side effects'", 3, "treatment_id", "T2"]]
    assert "its outcome row (march.xlsx, sheet 'Outcomes' row 3) was rejected" in problems["reason"].iloc[1]


def test_title_rows_merged_cells_and_empty_trailing_rows_and_columns():
    rows = [["Laser outcomes, Northgate clinic"], ["Exported 2024-04-01"], [],
            [None, "Treatment ID", "Date", "Modality", "Skin type", "Clinic", None, None],
            [None, "T1", dt.date(2024, 1, 2), "ablative", "IV", None],
            [None, "T2", dt.date(2024, 1, 3), "ablative", 3, None],
            [None, "T3", dt.date(2024, 1, 4), "ablative", "x", None], [], [None, None, None, None, None, None, None]]
    data = xlsx({"Export": rows}, merge={"Export": [(4, 5, 6, 5, "Northgate")]})
    result = import_files(SourceFile("titled.xlsx", data))
    assert list(result.outcomes["clinic"]) == ["Northgate", "Northgate"]
    assert result.report.problems[["row", "value"]].values.tolist() == [[7, "x"]]  # the sheet's own row 7
    assert result.report.files[0].rows_read == 3


def test_headers_below_the_first_ten_rows_are_refused_with_the_row_to_start_from():
    rows = [[f"note {i}"] for i in range(12)] + [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"],
                                                 ["T1", "2024-01-02", "ablative", "2"]]
    with pytest.raises(ImportProblem) as caught:
        import_files(SourceFile("late.xlsx", xlsx({"Data": rows})))
    message = str(caught.value)
    assert message.startswith("late.xlsx: no sheet of the workbook holds outcome or side-effect records")
    assert "sheet 'Data' has its column headers in row 13" in message and "first 10 rows" in message
    with pytest.raises(ImportProblem, match=r"headers are in row 13.*delete the 12 row\(s\) above them"):
        import_files(SourceFile("late.xlsx", xlsx({"Data": rows})), options=ImportOptions(sheets=("Data",)))


def test_percent_and_numbers_stored_as_text_and_decimal_commas_typed_as_text():
    rows = [["treatment_id", "treatment_date", "modality", "fitzpatrick_type", "downtime_days", "cost"],
            ["T1", "2024-01-02", "ablative", "2", "2,5", "1.234,50"], ["T2", "2024-01-03", "ablative", "3", ("%", 0.5), 12]]
    result = import_files(SourceFile("eu.xlsx", xlsx({"S": rows})))
    assert list(result.outcomes["downtime_days"]) == [2.5, 0.5]  # a percent cell holds its fraction
    assert list(result.outcomes["cost"]) == [1234.5, 12.0]


def test_openpyxl_workbook_and_sheet_choice():
    book = openpyxl.Workbook()
    first = book.active
    first.title = "January"
    for row in [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"], ["J1", dt.date(2024, 1, 9),
                                                                                     "ablative", 2]]:
        first.append(row)
    second = book.create_sheet("February")
    for row in [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"], ["F1", dt.date(2024, 2, 9),
                                                                                     "ablative", 5]]:
        second.append(row)
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    with pytest.raises(ImportProblem, match="more than one file looks like outcome records"):
        import_files(SourceFile("two.xlsx", data))
    result = import_files(SourceFile("two.xlsx", data), options=ImportOptions(sheets=("February",)))
    assert list(result.outcomes["treatment_id"]) == ["F1"]
    with pytest.raises(ImportProblem, match=r"no sheet named 'March' \(its sheets: 'January', 'February'\)"):
        import_files(SourceFile("two.xlsx", data), options=ImportOptions(sheets=("March",)))


# --- known by content ------------------------------------------------------------------------------

def test_a_file_is_known_by_its_content_not_its_name():
    rows = [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"], ["T1", "2024-01-02", "ablative", "2"]]
    book = xlsx({"S": rows})
    assert workbook_kind(book) == "Excel workbook (.xlsx)"
    as_csv = import_files(SourceFile("export.csv", book))
    assert as_csv.report.files[0].file == "export.csv, sheet 'S'"
    text_file = (CORPUS / "bom_utf8.csv").read_bytes()
    assert workbook_kind(text_file) is None
    named_xlsx = import_files(SourceFile("export.xlsx", text_file))
    assert_same_records(named_xlsx, import_files(SourceFile.from_path(CORPUS / "bom_utf8.csv")))


# --- refusals --------------------------------------------------------------------------------------

def test_a_password_protected_workbook_is_refused():
    plain = xlsx({"S": [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"]]})
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt("secret", out)
    with pytest.raises(ImportProblem, match=r"^locked\.xlsx: this Excel workbook is protected with a password"):
        import_files(SourceFile("locked.xlsx", out.getvalue()))


@pytest.mark.parametrize("cut", [100, 2000, -200])
def test_a_damaged_workbook_is_refused(cut):
    data = xlsx({"S": [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"],
                       ["T1", "2024-01-02", "ablative", "2"]]})
    with pytest.raises(ImportProblem, match=r"^broken\.xlsx: this looks like an Excel workbook \(\.xlsx\), but it "
                                            "could not be read: it may be damaged"):
        import_files(SourceFile("broken.xlsx", data[:cut]))


def test_a_workbook_without_records_is_refused():
    data = xlsx({"Summary": [["Total", 12]], "Chart data": [[1, 2], [3, 4]]})
    with pytest.raises(ImportProblem, match=r"^plan\.xlsx: no sheet of the workbook holds outcome or side-effect "
                                            r"records \(sheets: 'Summary', 'Chart data'\)\."):
        import_files(SourceFile("plan.xlsx", data))


def test_cell_text_is_what_a_csv_export_writes():
    assert [text(v) for v in (None, "x", True, False, 4, 4.0, 2.5, 0.1, 1e20, float("nan"), dt.date(2024, 1, 2),
                              dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, 9, 30))] == [
        "", "x", "TRUE", "FALSE", "4", "4", "2.5", "0.1", "1e+20", "nan", "2024-01-02",
        "2024-01-02", "2024-01-02 09:30:00"]


# --- the command line ------------------------------------------------------------------------------

def test_the_command_line_imports_a_workbook_and_takes_sheet(tmp_path, capsys):
    rows = [["treatment_id", "treatment_date", "modality", "fitzpatrick_type"], ["T1", dt.date(2024, 1, 2), "ablative", 2]]
    path = tmp_path / "book.xlsx"
    path.write_bytes(xlsx({"A": rows, "B": [rows[0], ["T2", dt.date(2024, 1, 3), "ablative", 3]]}))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["--db", db, "import", str(path), "--name", "Book", "--sheet", "B"]) == 0
    out = capsys.readouterr().out
    assert "book.xlsx, sheet 'B' (outcomes, Excel workbook (.xlsx)): 1 row(s) read, 1 accepted, 0 rejected." in out
    stored = Store(db)
    assert stored.load(stored.datasets()[0].id).outcomes["treatment_id"].tolist() == ["T2"]
