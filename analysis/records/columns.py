"""Columns: how a file's headers map onto the schema, and how each kind of cell is parsed and checked.

Every check here takes a column's *distinct* values (as text) and a
:class:`~analysis.records.problems.ProblemLog` over them, and returns the parsed values;
:mod:`analysis.records.validate` runs it once per distinct value and expands what it found to the
rows. Numbers may be written by spreadsheets (decimal commas, thousands separators, currency signs);
dates as ISO, dd/mm/yyyy, mm/dd/yyyy (the order decided from the whole column, weighted by how many
rows hold each value) or Excel serial numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.records import schema
from analysis.records.problems import WITHHELD, DateOrderNeeded, Kind, ProblemLog
from analysis.records.schema import Column

DateOrder = Literal["auto", "dayfirst", "monthfirst"]


@dataclass(frozen=True)
class ColumnPlan:
    """How a file's headers map onto the schema."""

    mapping: dict[str, str]          # file header -> schema column
    flags: dict[str, str]            # file header -> effect (outcome files only)
    identifiers: list[str]           # headers dropped as patient identifiers
    ignored: list[str]               # headers not used


def plan_columns(headers: list[str], kind: Kind, overrides: dict[str, str] | None = None) -> ColumnPlan:
    """Match headers to schema columns (case/space-insensitive, with synonyms); user overrides win."""
    index = schema.OUTCOME_HEADERS if kind == "outcomes" else schema.SIDE_EFFECT_HEADERS
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    mapping: dict[str, str] = {}
    flags: dict[str, str] = {}
    identifiers: list[str] = []
    ignored: list[str] = []
    taken = set(overrides.values())
    for header in headers:
        if header in overrides:
            mapping[header] = overrides[header]
            continue
        key = schema.normalise_header(header)
        target = index.get(key) or index.get(key.replace(" ", ""))
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
        elif schema.looks_like_identifier_header(header):
            identifiers.append(header)
        elif kind == "outcomes" and schema.parse_effect(header) and schema.parse_effect(header) != "other":
            flags[header] = schema.parse_effect(header)  # type: ignore[assignment]
        else:
            ignored.append(header)
    return ColumnPlan(mapping, flags, identifiers, ignored)


def detect_kind(headers: list[str]) -> Kind:
    """Tell an outcome file (or combined sheet) from a side-effect file by its headers."""
    outcome = plan_columns(headers, "outcomes").mapping.values()
    side = plan_columns(headers, "side_effects").mapping.values()
    if "effect" in side and not ({"fitzpatrick_type", "treatment_date"} & set(outcome)):
        return "side_effects"
    return "outcomes"


def missing_required(plan: ColumnPlan, kind: Kind) -> list[str]:
    columns = schema.OUTCOME_COLUMNS if kind == "outcomes" else schema.SIDE_EFFECT_COLUMNS
    present = set(plan.mapping.values())
    missing = [c.name for c in columns if c.required and c.name not in present]
    if kind == "outcomes" and "modality" not in present and "device" not in present:
        missing.append("modality")
    return missing


def map_unique(values: pd.Series, func) -> pd.Series:
    """Apply a Python parser once per distinct value (columns repeat few values), then broadcast."""
    codes, uniques = pd.factorize(values, sort=False)
    parsed = np.array([func(u) for u in uniques] + [None], dtype=object)
    # The dtype pandas infers (str when every result is text) depends only on which results occur,
    # so infer it on those few and broadcast the typed array instead of re-inferring a million rows.
    occurring = pd.Series(parsed if (codes < 0).any() else parsed[:-1])
    if occurring.dtype == object:
        return pd.Series(parsed[codes], index=values.index)
    return pd.Series(occurring.array.take(codes), index=values.index)  # -1 (missing) takes the final None


_CURRENCY = re.compile(r"[\s\u00a0$€£¥]|^(?:usd|eur|gbp)|(?:usd|eur|gbp)$", re.IGNORECASE)


def parse_numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """Parse numbers written by spreadsheets: decimal commas, thousands separators, currency signs.

    Returns float64. Each distinct text is parsed once: plain numbers by ``pd.to_numeric`` (which
    accepts them with surrounding spaces, giving what the cleaning would), and only the ones it
    rejects go through :func:`_parse_numbers_slow` (currency, thousands, decimal commas).
    """
    codes, uniques = pd.factorize(values, sort=False)
    distinct = pd.Series(uniques)
    number = np.array(pd.to_numeric(distinct, errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    retry = np.isnan(number) & (distinct != "").to_numpy(dtype=bool)
    if retry.any():
        slow = _parse_numbers_slow(distinct[retry].reset_index(drop=True), decimal_comma)
        number[retry] = slow.to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(np.append(number, np.nan)[codes], index=values.index)


def _parse_numbers_slow(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """The full cleaning, one regular expression per value; also the reference for :func:`parse_numbers`."""
    text = values.str.replace(_CURRENCY, "", regex=True)
    if decimal_comma:
        has_comma = text.str.contains(",", regex=False)
        text = text.where(~has_comma, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    else:
        thousands = text.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
        text = text.where(~thousands, text.str.replace(",", "", regex=False))
    return pd.to_numeric(text.where(text != "", None), errors="coerce")


def check_number(col: Column, raw: pd.Series, problems: ProblemLog, header: str,
                  decimal_comma: bool) -> pd.Series:
    present = raw != ""
    number = parse_numbers(raw, decimal_comma)
    problems.add(present & number.isna(), header, raw, "is not a number")
    low, high = col.minimum, col.maximum
    bad_range = present & number.notna() & (
        (number < low if low is not None else False) | (number > high if high is not None else False))
    if bad_range.any():
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        problems.add(bad_range, header, raw, f"must be {span}")
    if col.type == "integer":
        fractional = present & number.notna() & ~bad_range & (number % 1 != 0)
        problems.add(fractional, header, raw, "must be a whole number")
        return number.astype("float64") + 0.0  # a whole number has no sign of zero ("-0" is 0, as stored)
    return number.astype("float64")


_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[ T].*)?$")
_SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def parse_dates(raw: pd.Series, order: DateOrder, file: str, header: str,
                problems: ProblemLog, today: date | None = None, rows: np.ndarray | None = None) -> pd.Series:
    """Parse a date column written as ISO, dd/mm/yyyy, mm/dd/yyyy or Excel serial numbers.

    Day-first vs month-first is decided from the whole column: a first part above 12 means
    day-first, a second part above 12 means month-first. When no value tells, and ``order`` is
    ``auto``, :class:`DateOrderNeeded` is raised so the user can say. When both occur, the order of
    the majority of rows wins and the others are rejected; ``rows`` says how many rows hold each
    value when ``raw`` holds a column's distinct values (one each by default).
    """
    today = today or date.today()
    text = raw.str.strip()
    year, month, day, is_iso, dmy, is_serial = _date_parts(text)
    is_dmy = ~np.isnan(dmy[0]) & ~is_iso
    if is_dmy.any():
        first, second = dmy[0][is_dmy], dmy[1][is_dmy]
        years = dmy[2][is_dmy]
        years = np.where(years < 100, np.where(years <= (today.year % 100) + 1, 2000 + years, 1900 + years), years)
        day_first_evidence = (first > 12).any()
        month_first_evidence = (second > 12).any()
        if order == "auto":
            if day_first_evidence and month_first_evidence:
                # Mixed column: follow the majority and reject the rows that contradict it.
                weight = np.ones(len(text), dtype=np.int64) if rows is None else np.asarray(rows)
                weight = weight[is_dmy]
                order = "dayfirst" if weight[first > 12].sum() >= weight[second > 12].sum() else "monthfirst"
            elif day_first_evidence:
                order = "dayfirst"
            elif month_first_evidence:
                order = "monthfirst"
            else:
                raise DateOrderNeeded(file, header, [WITHHELD] if schema.looks_like_identifier_header(header)
                                      else list(text[is_dmy].unique()[:3]))
        if order == "dayfirst":
            day[is_dmy], month[is_dmy] = first, second
        else:
            month[is_dmy], day[is_dmy] = first, second
        year[is_dmy] = years
    implausible = (year < 1900) | (year > 2200)  # beyond pandas' nanosecond range, and no treatment date
    problems.add(implausible, header, raw, "has an implausible year; check the date")
    year[implausible] = np.nan
    parsed = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    if is_serial.any():
        serial = pd.to_numeric(text[is_serial].str.replace(",", ".", regex=False), errors="coerce")
        serial = serial.where((serial >= 25569) & (serial <= 73051))  # 1970-01-01 .. 2099-12-31
        parsed[is_serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(np.floor(serial), unit="D")
    recognised = is_iso | is_dmy | is_serial
    blank = (text == "").to_numpy()
    problems.add(blank, header, raw, "is required: give the treatment date")
    problems.add(~blank & ~recognised, header, raw,
                 "is not a date; write it as YYYY-MM-DD, dd/mm/yyyy or mm/dd/yyyy")
    impossible = recognised & parsed.isna().to_numpy() & ~implausible
    if impossible.any():
        reason = np.empty(len(text), dtype=object)
        where = np.flatnonzero(impossible)
        reason[where] = [_impossible_reason(day[i], month[i]) for i in where]
        problems.add(impossible, header, raw, reason)
    too_early = parsed.notna() & (parsed < pd.Timestamp("1980-01-01"))
    problems.add(too_early.to_numpy(), header, raw, "is before 1980; check the year")
    future = parsed.notna() & (parsed > pd.Timestamp(today))
    problems.add(future.to_numpy(), header, raw, "is in the future; check the date")
    return parsed.astype("datetime64[ns]")


_ISO_PLAIN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"  # the common case: a plain subset of _ISO, matched by pyarrow


def _date_parts(text: pd.Series, fast: bool = True) -> tuple[np.ndarray, ...]:
    """Year, month and day of the ISO dates (NaN elsewhere), the ISO mask, the three numbers of the
    dd/mm/yyyy-like dates (unordered, NaN elsewhere) and the Excel-serial mask, for stripped text.

    Plain ``YYYY-MM-DD`` is cut by position (vectorised); only the other values go through the
    regular expressions, row by row. ``fast=False`` sends every value through them (the reference).
    """
    n = len(text)
    year, month, day = (np.full(n, np.nan) for _ in range(3))
    dmy = [np.full(n, np.nan) for _ in range(3)]
    is_iso = np.zeros(n, dtype=bool)
    is_serial = np.zeros(n, dtype=bool)
    plain = (np.asarray(text.str.fullmatch(_ISO_PLAIN).fillna(False), dtype=bool) if fast and n
             else np.zeros(n, dtype=bool))
    if plain.any():
        cut = pa.array(text[plain], type=pa.large_string())
        for target, start, stop in ((year, 0, 4), (month, 5, 7), (day, 8, 10)):  # ASCII digits only
            target[plain] = pc.cast(pc.utf8_slice_codeunits(cut, start, stop), pa.float64()).to_numpy()
        is_iso |= plain
    rest = ~plain
    if rest.any():
        other = text[rest]
        iso = other.str.extract(_ISO).astype("float64")
        found = iso[0].notna().to_numpy()
        where = np.flatnonzero(rest)[found]
        is_iso[where] = True
        for target, i in ((year, 0), (month, 1), (day, 2)):
            target[where] = iso[i].to_numpy()[found]
        parts = other.str.extract(_DMY).astype("float64")
        for i in range(3):
            dmy[i][rest] = parts[i].to_numpy()
        is_serial[rest] = np.asarray(other.str.fullmatch(_SERIAL).fillna(False), dtype=bool)
    return year, month, day, is_iso, dmy, is_serial


def _impossible_reason(day: float, month: float) -> str:
    if np.isnan(month) or month < 1 or month > 12:
        return "has no such month; check the date and whether it is day- or month-first"
    return f"is not a real date: {_MONTHS[int(month) - 1]} has no day {day:g}"


# Every character str.isspace() accepts, i.e. what Python's \s matches, written out: pandas runs a
# pattern with \s row by row in Python (RE2's \s differs), a literal class in pyarrow.
WHITESPACE = ("[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000]+")


# A value needs WHITESPACE replaced only if it holds whitespace other than a single space.
SPACING = "[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
           "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000]|  "


def clean_text(raw: pd.Series) -> pd.Series:
    cleaned = raw.str.strip()
    if cleaned.str.contains(SPACING, regex=True).any():
        cleaned = cleaned.str.replace(WHITESPACE, " ", regex=True)
    return cleaned.where(cleaned != "", None).astype(object)


def check_fitzpatrick(raw: pd.Series, problems: ProblemLog, label: str) -> pd.Series:
    fitz = map_unique(raw, schema.parse_fitzpatrick)
    blank = (raw.str.strip() == "").to_numpy()
    problems.add(blank, label, raw, "is required: give the Fitzpatrick skin type I-VI")
    problems.add(~blank & fitz.isna().to_numpy(), label, raw,
                 "is not a Fitzpatrick skin type; use I-VI or 1-6 (e.g. 'IV', '4', 'Type 4')")
    return fitz


def check_modality(raw: pd.Series, problems: ProblemLog, label: str) -> pd.Series:
    modality = map_unique(raw, schema.parse_modality)
    bad = (raw.str.strip() != "").to_numpy() & modality.isna().to_numpy()
    problems.add(bad, label, raw, "is not a modality; use 'ablative' or 'non-ablative'")
    return modality


def check_severity(raw: pd.Series, problems: ProblemLog, label: str) -> pd.Series:
    severity = map_unique(raw, schema.parse_severity)
    problems.add((raw.str.strip() != "").to_numpy() & severity.isna().to_numpy(),
                 label, raw, "is not a severity; use mild, moderate or severe")
    return severity


def check_effect(raw: pd.Series, problems: ProblemLog, label: str) -> tuple[pd.Series, np.ndarray]:
    """The canonical effect of each row ('other' for unknown text, with a warning) and the 'other' mask."""
    effect = map_unique(raw, schema.parse_effect)
    blank = (raw.str.strip() == "").to_numpy()
    problems.add(blank, label, raw, "is required: name the side effect")
    other = ~blank & effect.isna().to_numpy()
    problems.add(other, label, raw, "is not a known side effect; stored as 'other' with the original text kept",
                 "warning")
    return effect.where(~other, "other"), other


def holds_identifiers(values: pd.Series) -> bool:
    """True when the first 5000 distinct values (found in the shortest prefix that holds them) include
    an e-mail address, a phone number or a personal name."""
    ids = values.dropna()
    if ids.empty:
        return False
    size = 20_000
    while True:
        sample = ids.iloc[:size].astype(str).unique()
        if len(sample) >= 5000 or size >= len(ids):
            break
        size *= 4
    return any(schema.identifying(v) for v in sample[:5000])
