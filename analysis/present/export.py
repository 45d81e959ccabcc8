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


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM, so Excel reads accents) with formula-like text cells neutralised."""
    return neutralise_frame(frame).to_csv(index=False).encode("utf-8-sig")
