"""The templates clinics fill in (data/template.xlsx, data/template.csv): they import cleanly as they are,
they are what data/make_template.py makes now, and the workbook explains every column of the schema."""

from __future__ import annotations

import importlib.util
import io
import re

import openpyxl
import pandas as pd
import pytest

from analysis.records import schema
from analysis.records.ingest import ImportResult, SourceFile, import_files

from testpaths import ROOT

DATA = ROOT / "data"
XLSX = DATA / "template.xlsx"
CSV = DATA / "template.csv"
#: Words of the schema's own descriptions a clinic manager should not have to know.
JARGON = ("pseudonym", "investigator", "quartile", "modality", "canonical", "schema", "dataset")
RECORD_SHEETS = {"Outcomes": schema.OUTCOME_COLUMNS, "Side effects": schema.SIDE_EFFECT_COLUMNS}


@pytest.fixture(scope="module")
def maker():
    """data/make_template.py, loaded by file path (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_template_under_test", DATA / "make_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean_import(source: SourceFile) -> ImportResult:
    result = import_files(source)
    report = result.report
    assert report.rows_rejected == 0
    assert report.warnings.empty
    assert report.problems.empty, report.problems.to_string()
    return result


def readme(book: openpyxl.Workbook) -> list[tuple[str, ...]]:
    """The Read me table's rows (below its header row), as text."""
    rows = [tuple("" if v is None else str(v) for v in row) for row in book["Read me"].iter_rows(values_only=True)]
    top = next(i for i, row in enumerate(rows) if row[:2] == ("sheet", "column"))
    return [row for row in rows[top + 1:] if any(row)]


def view(book: openpyxl.Workbook) -> dict[str, object]:
    """What a person sees in the workbook: every sheet's cells, the header notes, which headers are bold,
    the number formats of the filled cells and the drop-down lists and range checks."""
    seen: dict[str, object] = {"sheets": book.sheetnames}
    for sheet in book:
        seen[sheet.title] = {
            "cells": [[cell.value for cell in row] for row in sheet.iter_rows()],
            "formats": [[cell.number_format for cell in row] for row in sheet.iter_rows(min_row=2)],
            "notes": [cell.comment.text if cell.comment else None for cell in sheet[1]],
            "bold": [bool(cell.font.b) for cell in sheet[1]],
            "checks": sorted((str(v.sqref), v.type, v.operator, v.formula1, v.formula2)
                             for v in sheet.data_validations.dataValidation),
        }
    return seen


# --- importing the templates as they are --------------------------------------------------------

def test_the_workbook_imports_cleanly_and_skips_the_read_me_sheet():
    result = clean_import(SourceFile.from_path(XLSX))
    assert result.report.outcomes_accepted == 5
    assert result.report.side_effects_accepted == 4
    assert result.report.notes == ["template.xlsx: sheet 'Read me' was skipped: its first rows hold no outcome or "
                                   "side-effect column headers."]
    files = {f.file: f for f in result.report.files}
    assert set(files) == {"template.xlsx, sheet 'Outcomes'", "template.xlsx, sheet 'Side effects'"}
    for f in files.values():  # every header is a canonical name: nothing mapped by a synonym, nothing ignored
        assert all(header == column for header, column in f.columns.items()) and not f.ignored_columns
    outcomes = result.outcomes
    assert outcomes["treatment_id"].tolist() == ["T0001", "T0002", "T0003", "T0004", "T0005"]
    assert outcomes["treatment_date"].min() == pd.Timestamp("2025-03-03")
    assert set(outcomes["modality"]) == set(schema.MODALITIES)
    assert set(result.side_effects["treatment_id"]) <= set(outcomes["treatment_id"])


def test_the_csv_imports_cleanly_as_the_outcome_sheet():
    result = clean_import(SourceFile.from_path(CSV))
    assert result.report.outcomes_accepted == 5 and result.report.side_effects_accepted == 0
    assert result.report.notes == []
    assert CSV.read_text(encoding="utf-8").splitlines()[0] == ",".join(schema.OUTCOME_NAMES)
    book = import_files(SourceFile.from_path(XLSX))
    pd.testing.assert_frame_equal(result.outcomes, book.outcomes)


def test_the_examples_are_synthetic_and_pseudonymous():
    outcomes = import_files(SourceFile.from_path(XLSX)).outcomes
    assert all(re.fullmatch(r"T\d{4}", v) for v in outcomes["treatment_id"])
    assert all(re.fullmatch(r"P\d{4}", v) for v in outcomes["patient_id"])
    for column in ("patient_id", "practitioner", "clinic"):
        assert not any(schema.identifying(v) for v in outcomes[column]), column


# --- the committed files are what the script makes ------------------------------------------------

def test_the_committed_csv_is_what_the_script_makes(maker):
    assert CSV.read_bytes() == maker.build_csv(), "run: .venv/bin/python data/make_template.py"


def test_the_committed_workbook_is_what_the_script_makes(maker):
    """Compared as a person sees it and as the import reads it, not byte for byte (the bytes depend on the
    XlsxWriter version as well)."""
    fresh = maker.build_workbook()
    committed = XLSX.read_bytes()
    hint = "run: .venv/bin/python data/make_template.py"
    assert view(openpyxl.load_workbook(io.BytesIO(committed))) == view(openpyxl.load_workbook(io.BytesIO(fresh))), hint
    new, old = import_files(SourceFile("template.xlsx", fresh)), import_files(SourceFile.from_path(XLSX))
    pd.testing.assert_frame_equal(old.outcomes, new.outcomes)
    pd.testing.assert_frame_equal(old.side_effects, new.side_effects)


def test_the_script_makes_the_same_bytes_on_every_run(maker):
    assert maker.build_workbook() == maker.build_workbook()


def test_the_script_writes_both_files(maker, tmp_path):
    paths = maker.write_templates(tmp_path)
    assert [p.name for p in paths] == ["template.xlsx", "template.csv"]
    assert paths[1].read_bytes() == CSV.read_bytes()


# --- what the workbook shows ----------------------------------------------------------------

def test_the_read_me_sheet_explains_every_schema_column_in_plain_words():
    rows = readme(openpyxl.load_workbook(XLSX))
    expected = [(sheet, col.name) for sheet, columns in RECORD_SHEETS.items() for col in columns]
    assert [row[:2] for row in rows] == expected
    internal = {c.name for c in (*schema.OUTCOME_COLUMNS, *schema.SIDE_EFFECT_COLUMNS) if "_" in c.name}
    columns = {(sheet, col.name): col for sheet, cols in RECORD_SHEETS.items() for col in cols}
    for sheet, name, required, holds, values, others in rows:
        col = columns[(sheet, name)]
        assert required.startswith("yes") == (col.required or name == "modality"), name
        assert holds and values and others, name
        assert not any(word in f"{holds} {values}" for word in internal), name  # no column names in the text
        assert not any(word in holds.lower() for word in JARGON), name
        for other in others.split(", "):
            assert schema.normalise_header(other) in (schema.OUTCOME_HEADERS if sheet == "Outcomes"
                                                      else schema.SIDE_EFFECT_HEADERS), other


def test_record_sheets_have_canonical_headers_notes_lists_and_date_cells():
    book = openpyxl.load_workbook(XLSX)
    assert book.sheetnames == ["Outcomes", "Side effects", "Read me"]
    for name, columns in RECORD_SHEETS.items():
        sheet = book[name]
        header = sheet[1]
        assert [c.value for c in header] == [col.name for col in columns]
        for cell, col in zip(header, columns):
            assert cell.comment is not None and cell.comment.text.strip(), col.name
            required = col.required or col.name == "modality"
            assert bool(cell.font.b) == required, col.name
            assert cell.comment.text.startswith("Required.") == required, col.name
        checks = {re.match(r"[A-Z]+", str(v.sqref)).group(): v for v in sheet.data_validations.dataValidation}
        for i, col in enumerate(columns):
            letter = openpyxl.utils.get_column_letter(i + 1)
            if col.type in ("modality", "fitzpatrick", "effect", "severity"):
                assert checks[letter].type == "list", col.name
            if col.type == "date":
                dates = [c for c in sheet[letter][1:] if c.value is not None]
                assert dates and all(c.is_date and c.number_format == "yyyy-mm-dd" for c in dates)
    lists = {v.formula1 for v in book["Outcomes"].data_validations.dataValidation if v.type == "list"}
    assert '"ablative,non-ablative"' in lists and '"I,II,III,IV,V,VI"' in lists


def test_a_schema_column_without_plain_words_stops_the_script(maker, monkeypatch):
    monkeypatch.delitem(maker.PLAIN, ("outcomes", "cost"))
    with pytest.raises(KeyError, match="no plain description"):
        maker.build_workbook()
