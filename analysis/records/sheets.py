"""Reading spreadsheet workbooks (.xlsx, .xlsm, .xls, .ods) into the same tables of text cells as CSV files.

A file is known for a workbook by its content, not its name: a zip holding ``xl/`` parts (.xlsx, .xlsm),
a zip whose ``mimetype`` is an OpenDocument spreadsheet (.ods), or an OLE2 compound file (.xls). It is
read with calamine (``python-calamine``), which gives each cell's typed value (formula cells: the value
last calculated). Each sheet is recognised by its headers, found in its first rows as they are in
CSV files, so a workbook may hold the outcomes and the side effects on two sheets; a sheet that is
neither is skipped and said so. Cells become the text a CSV export would hold: a date cell becomes an
ISO date (so no question of day or month first arises), a whole number ``4`` (not ``4.0``), any other
number to the 15 significant digits a spreadsheet keeps, a boolean ``TRUE``/``FALSE``; merged cells below
the header repeat their value over the merged range (for .ods files, whose merged ranges calamine does
not give, they are read from the file's ``content.xml``). Rows keep the spreadsheet's own numbers, and
every table names its sheet, so every problem does.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Sequence
from xml.parsers import expat

import numpy as np
import pandas as pd
import pyarrow as pa
import python_calamine as calamine

from analysis.records.columns import detect_kind, missing_required, plan_columns
from analysis.records.problems import ImportProblem
from analysis.records.read import Encode, RawTable, SourceFile, finish_table, read_table

HEADER_ROWS = 10  #: a sheet's headers are looked for in its first this many rows

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted Office Open XML workbook is kept in (its name as the OLE2 directory stores it).
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_EXPORT_CSV = "Open it in Excel or LibreOffice and save it again, or export each sheet as CSV."


def workbook_kind(data: bytes) -> str | None:
    """What kind of workbook the bytes are ('Excel workbook (.xlsx)', ...), or None for any other file."""
    if data.startswith(_OLE2):
        return "Excel 97-2003 workbook (.xls)"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
                return "OpenDocument spreadsheet (.ods)"
            if any(name.startswith("xl/") for name in names):
                return "Excel workbook (.xlsx)"
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return "Excel workbook (.xlsx)"  # a damaged zip: calamine says what is wrong with it
    return None


def read_tables(source: SourceFile, sheets: Sequence[str] = (), encode: Encode | None = None
                ) -> tuple[list[RawTable], list[str]]:
    """Any file as tables of text cells: a workbook's record sheets, or a CSV file's one table; and notes
    on the sheets skipped. See :func:`read_workbook` and :func:`analysis.records.read.read_table`."""
    if workbook_kind(source.data):
        return read_workbook(source, sheets)
    return [read_table(source, encode)], []


def read_workbook(source: SourceFile, sheets: Sequence[str] = ()) -> tuple[list[RawTable], list[str]]:
    """The record sheets of a workbook as tables, and notes on the sheets skipped.

    ``sheets``: read only these (by name); by default every sheet whose headers are those of outcome or
    side-effect records. Raises :class:`ImportProblem` for a workbook that cannot be read (a password,
    damage), a sheet asked for that is not there, or a workbook without any record sheet."""
    kind = workbook_kind(source.data) or "workbook"
    if source.data.startswith(_OLE2) and _ENCRYPTED in source.data:  # an encrypted .xlsx is kept in an OLE2 file
        raise _password(source.name, "Excel workbook")
    try:
        book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(source.data))
        listed = [m for m in book.sheets_metadata if m.typ == calamine.SheetTypeEnum.WorkSheet]
    except calamine.PasswordError:
        raise _password(source.name, kind) from None
    except Exception as exc:  # calamine's errors (zip, XML, CFB, ...) all mean the same to the user
        raise ImportProblem(source.name, f"this looks like an {kind}, but it could not be read: it may be "
                            f"damaged or incomplete ({type(exc).__name__}).", _EXPORT_CSV) from None
    names = [m.name for m in listed]
    unknown = [s for s in sheets if s not in names]
    if unknown:
        raise ImportProblem(source.name, f"the workbook has no sheet named {', '.join(repr(s) for s in unknown)} "
                            f"(its sheets: {', '.join(repr(n) for n in names)}).", "Choose one of its sheets.")
    tables: list[RawTable] = []
    notes: list[str] = []
    later: list[str] = []
    ods_merged: dict[str, list[Merged]] | None = None
    for meta in listed:
        if sheets and meta.name not in sheets:
            continue
        try:
            sheet = book.get_sheet_by_name(meta.name)
            rows = sheet.to_python(skip_empty_area=False)
        except Exception as exc:
            raise ImportProblem(f"{source.name}, sheet '{meta.name}'", "this sheet could not be read: the workbook "
                                f"may be damaged ({type(exc).__name__}).", _EXPORT_CSV) from None
        found = _header_row(rows)
        label = f"{source.name}, sheet '{meta.name}'"
        if found is None:
            beyond = _header_row(rows, len(rows))
            if beyond is not None:
                later.append(f"sheet '{meta.name}' has its column headers in row {beyond + 1}")
            if sheets:  # asked for by name: say why it cannot be used
                raise ImportProblem(label, _no_headers(beyond), _START_HINT)
            notes.append(f"{source.name}: sheet '{meta.name}' was skipped: "
                         + ("it is empty." if not any(_filled(r) for r in rows) else
                            "its first rows hold no outcome or side-effect column headers."))
            continue
        merged = sheet.merged_cell_ranges
        if merged is None and kind == "OpenDocument spreadsheet (.ods)":
            ods_merged = _ods_merged(source.data) if ods_merged is None else ods_merged
            merged = ods_merged.get(meta.name)
        tables.append(_table(source, meta.name, rows, found, merged or []))
    if not tables:
        where = ("; ".join(later) + ": only the first " f"{HEADER_ROWS} rows are searched, so delete the rows "
                 "above the headers") if later else ""
        raise ImportProblem(source.name, "no sheet of the workbook holds outcome or side-effect records "
                            f"(sheets: {', '.join(repr(n) for n in names) or 'none'}){'; ' + where if where else ''}.",
                            _START_HINT)
    return tables, notes


def _password(file: str, kind: str) -> ImportProblem:
    return ImportProblem(file, f"this {kind} is protected with a password, so it cannot be read.",
                         "Open it, remove the password (in Excel: File > Info > Protect Workbook > Encrypt with "
                         "Password, then clear it), save it and import it again.")


_START_HINT = ("Put the column headers (treatment_id, treatment_date, modality, fitzpatrick_type, ...; see the "
               "data dictionary) in one row within the first 10 rows of the sheet, with the records below it.")


def _no_headers(beyond: int | None) -> str:
    if beyond is None:
        return "no row of this sheet holds outcome or side-effect column headers."
    return (f"its column headers are in row {beyond + 1}, but only the first {HEADER_ROWS} rows are searched: "
            f"delete the {beyond} row(s) above them.")


def _filled(row: list) -> bool:
    return any(cell not in ("", None) for cell in row)


def _header_row(rows: list[list], limit: int = HEADER_ROWS) -> int | None:
    """The first of the rows (up to ``limit``) whose cells are the headers of outcome or side-effect records."""
    for i, row in enumerate(rows[:limit]):
        headers = [text(c).strip() for c in row]
        if sum(1 for h in headers if h) < 2:
            continue
        kind = detect_kind(headers)
        if not missing_required(plan_columns(headers, kind), kind):
            return i
    return None


Merged = tuple[tuple[int, int], tuple[int, int]]  #: a merged range: its first and last cell, (row, column) from 0

_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def _ods_merged(data: bytes) -> dict[str, list[Merged]]:
    """Each sheet's merged ranges in an OpenDocument spreadsheet, as calamine gives them for .xlsx and .xls
    files (for .ods files it gives none). A merged range is a cell with ``table:number-columns-spanned`` or
    ``table:number-rows-spanned`` above 1 (the cells it covers are ``table:covered-table-cell``); rows and
    cells repeated (``table:number-rows-repeated``, ``table:number-columns-repeated``) count as many times.
    A file that cannot be read this way has none (calamine has read its cells already)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            content = archive.read("content.xml")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, RuntimeError):
        return {}
    if b"-spanned=" not in content:
        return {}
    found: dict[str, list[Merged]] = {}
    tables: list[str] = []  # the tables being read: a sheet, and any table inside one of its cells
    row = col = 0
    rows_repeated = 1

    def number(attrs: dict[str, str], name: str) -> int:
        try:
            return max(1, int(attrs.get(f"{_TABLE_NS} {name}", "1")))
        except ValueError:
            return 1

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal row, col, rows_repeated
        ns, _, local = tag.rpartition(" ")
        if ns != _TABLE_NS:
            return
        if local == "table":
            tables.append(attrs.get(f"{_TABLE_NS} name", ""))
            if len(tables) == 1:
                row, col = 0, 0
                found.setdefault(tables[0], [])
        elif len(tables) != 1:
            return
        elif local == "table-row":
            col, rows_repeated = 0, number(attrs, "number-rows-repeated")
        elif local in ("table-cell", "covered-table-cell"):
            across, down = number(attrs, "number-columns-spanned"), number(attrs, "number-rows-spanned")
            if local == "table-cell" and (across > 1 or down > 1):
                found[tables[0]].append(((row, col), (row + down - 1, col + across - 1)))
            col += number(attrs, "number-columns-repeated")

    def end(tag: str) -> None:
        nonlocal row
        ns, _, local = tag.rpartition(" ")
        if ns != _TABLE_NS:
            return
        if local == "table":
            tables.pop()
        elif local == "table-row" and len(tables) == 1:
            row += rows_repeated

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(content, True)
    except expat.ExpatError:
        return {}
    return found


def _table(source: SourceFile, name: str, rows: list[list], header: int, merged: list[Merged]) -> RawTable:
    """A sheet's rows below its header row as a table of text cells, numbered as the sheet numbers them."""
    width = max(len(r) for r in rows)
    grid = [list(r) + [""] * (width - len(r)) for r in rows]
    for (r0, c0), (r1, c1) in merged:  # (the grid starts at cell A1: skip_empty_area=False)
        if r1 <= header or r0 >= len(grid):
            continue
        value = grid[r0][c0]
        for r in range(max(r0, header + 1), min(r1, len(grid) - 1) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                grid[r][c] = value
    body = grid[header + 1:]
    keep = [i for i, row in enumerate(body) if _filled(row)]  # trailing empty rows never reach the table
    last = keep[-1] + 1 if keep else 0
    body = body[:last]
    headers = [text(c).strip() for c in grid[header]]
    columns = [pa.array([text(row[c]) for row in body], pa.large_string()) for c in range(width)]
    cells = pa.table(columns, names=headers) if columns else pa.table({})
    numbers = np.arange(header + 2, header + 2 + len(body))  # the header is row header+1 (1-based)
    label = f"{source.name}, sheet '{name}'"
    table = RawTable(label, cells, numbers, _kind_name(source), "", pd.DataFrame(columns=["row", "value", "reason"]),
                     0, source=source.name, sheet=name, decimal_comma=_decimal_comma(body))
    return finish_table(table, "\t".join(headers))


def _kind_name(source: SourceFile) -> str:
    return workbook_kind(source.data) or "workbook"


_COMMA_DECIMAL = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_POINT_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(?:\.\d{3})+(?:,\d+)?\s*$")
_COMMA_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(?:,\d{3})+\.\d+\s*$")


def _decimal_comma(body: list[list]) -> bool:
    """Whether numbers typed as text in the sheet use a decimal comma ('2,5', '1.234,50'): only when some
    do and none is written the other way ('1,234.50'). Number cells are numbers either way."""
    texts = [c for row in body for c in row if isinstance(c, str) and c and c[-1:].isdigit()]
    comma = any(_COMMA_DECIMAL.match(t) or _POINT_THOUSANDS.match(t) for t in texts)
    return comma and not any(_COMMA_THOUSANDS.match(t) for t in texts)


def text(cell: object) -> str:
    """A cell's value as a CSV export would write it."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        if math.isfinite(cell) and cell.is_integer() and abs(cell) < 2**53:
            return str(int(cell))
        # 15 significant digits, as Excel shows a number and LibreOffice stores it in an .ods file: the
        # digits beyond are a formula's floating-point noise (=0.1+0.2 is 0.30000000000000004).
        return f"{cell:.15g}"
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(sep=" ")
    if isinstance(cell, (dt.date, dt.time)):
        return cell.isoformat()
    if isinstance(cell, dt.timedelta):
        return str(cell)
    return str(cell)
