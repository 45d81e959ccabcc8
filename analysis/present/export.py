"""Exports that are safe to open in a spreadsheet."""

from __future__ import annotations

import re

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")


def neutralise_cell(value: object) -> object:
    """Prefix ``'`` to a text cell that a spreadsheet would run as a formula (OWASP CSV injection).

    Numbers stay numbers: non-text values and text that is just a number (``"-1"``, ``"+2.5"``)
    are untouched, while ``"-3+cmd|..."`` or ``"=HYPERLINK(...)"`` become ``"'-3+cmd|..."``.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell neutralised (header names too)."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or pd.api.types.is_string_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype(object).map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame, delimiter: str = ",", encoding: str = "utf-8-sig") -> bytes:
    """CSV bytes (by default UTF-8 with BOM, so Excel reads accents) with formula-like text cells neutralised."""
    return neutralise_frame(frame).to_csv(index=False, sep=delimiter).encode(encoding, errors="replace")


#: The spreadsheet dialects records can be downloaded in: (separator, decimal mark).
DIALECTS = {"comma": (",", "."), "semicolon": (";", ",")}


def records_csv(frame: pd.DataFrame, dialect: str = "comma") -> bytes:
    """Records as a spreadsheet reads them: whole numbers as whole numbers ("3", not "3.0"), dates without a
    time ("2025-04-09"), in the comma dialect or the semicolon / decimal-comma one (European Excel), UTF-8
    with BOM, formula-like text neutralised."""
    delimiter, decimal = DIALECTS[dialect]
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_float_dtype(column):
            out[name] = _number_texts(column, decimal)
        elif pd.api.types.is_datetime64_any_dtype(column):
            if column.dropna().dt.normalize().equals(column.dropna()):
                out[name] = column.dt.strftime("%Y-%m-%d").astype(object).where(column.notna(), None)
    return neutralise_frame(out).to_csv(index=False, sep=delimiter).encode("utf-8-sig")


def _number_texts(column: pd.Series, decimal: str) -> pd.Series:
    """Numbers as a spreadsheet shows them: a whole number without ".0", others in their shortest exact form
    (Python's repr), with the dialect's decimal mark; missing stays missing."""
    whole = (column % 1 == 0) & (column.abs() < 2**53)
    text = column.astype(object).map(repr, na_action="ignore") if not whole.all() else None
    ints = column.where(whole).astype("Int64").astype(str)
    out = ints.where(whole, text if text is not None else ints).astype(object)
    out = out.where(column.notna(), None)
    return out.str.replace(".", decimal, regex=False) if decimal != "." else out


#: Python's codec for each encoding the import reports (see :func:`analysis.records.read.decode`).
_CODECS = {"UTF-8": "utf-8", "UTF-8 with BOM": "utf-8-sig", "UTF-16": "utf-16", "Windows-1252": "cp1252",
           "Latin-1": "latin-1"}


def in_dialect(frame: pd.DataFrame, delimiter: str, encoding: str) -> bytes:
    """Rows of a file (e.g. its rejected rows) written back as the file was: its delimiter and encoding, so
    they open in the same spreadsheet settings, and cells as they were (a decimal comma stays one). A sheet
    of a workbook (no delimiter) is written as UTF-8 CSV with a BOM."""
    return safe_csv(frame, delimiter or ",", _CODECS.get(encoding, "utf-8-sig"))
