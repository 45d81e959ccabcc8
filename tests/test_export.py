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


def test_records_are_exported_as_a_spreadsheet_reads_them():
    """Found walking through as a new user: whole numbers came out as '3.0' and dates as '2025-04-09 00:00:00'."""
    from analysis.present.export import records_csv

    frame = pd.DataFrame({"treatment_id": ["T1", "=cmd"], "treatment_date": pd.to_datetime(["2025-04-09", None]),
                          "fitzpatrick_type": [3.0, None], "downtime_days": [2.5, 3.0], "cost": [1210.0, 99.5]})
    comma = records_csv(frame).decode("utf-8-sig").splitlines()
    assert comma == ["treatment_id,treatment_date,fitzpatrick_type,downtime_days,cost",
                     "T1,2025-04-09,3,2.5,1210", "'=cmd,,,3,99.5"]
    semicolon = records_csv(frame, "semicolon").decode("utf-8-sig").splitlines()
    assert semicolon == ["treatment_id;treatment_date;fitzpatrick_type;downtime_days;cost",
                         "T1;2025-04-09;3;2,5;1210", "'=cmd;;;3;99,5"]
