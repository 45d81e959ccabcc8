"""Exported CSVs are safe to open in Excel (OWASP CSV injection) and numbers stay numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analysis.present.export import neutralise_cell, safe_csv


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("face", "face"),
    ("-1", "-1"),          # a number written as text stays a number
    ("+2.5", "+2.5"),
    ("1e3", "1e3"),
    (-3.0, -3.0),
    (7, 7),
    (None, None),
])
def test_neutralise_cell(value, expected):
    assert neutralise_cell(value) == expected


def test_safe_csv_neutralises_text_and_keeps_numbers():
    frame = pd.DataFrame({"clinic": ["=1+1", "Main"], "cost": [-5.0, 10.0], "=bad header": ["a", "b"]})
    text = safe_csv(frame).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text))
    assert list(back["clinic"]) == ["'=1+1", "Main"]
    assert list(back["cost"]) == [-5.0, 10.0]
    assert list(back.columns)[2] == "'=bad header"
