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


#: Python's codec for each encoding the import reports (see :func:`analysis.records.read.decode`).
_CODECS = {"UTF-8": "utf-8", "UTF-8 with BOM": "utf-8-sig", "UTF-16": "utf-16", "Windows-1252": "cp1252",
           "Latin-1": "latin-1"}


def in_dialect(frame: pd.DataFrame, delimiter: str, encoding: str) -> bytes:
    """Rows of a file (e.g. its rejected rows) written back as the file was: its delimiter and encoding, so
    they open in the same spreadsheet settings, and cells as they were (a decimal comma stays one). A sheet
    of a workbook (no delimiter) is written as UTF-8 CSV with a BOM."""
    return safe_csv(frame, delimiter or ",", _CODECS.get(encoding, "utf-8-sig"))
