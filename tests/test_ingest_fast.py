"""The importer's fast paths give exactly what the slow (reference) paths give.

At a million rows the importer reads plain files with pyarrow, cuts plain ISO dates by position,
parses plain numbers with ``pd.to_numeric`` and cleans text with a pattern pyarrow can run. Each of
those is only allowed where it cannot change a result: these tests hold every fast path against the
slow one it replaces, on tricky values, generated files and the messy-file corpus.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

import pyarrow as pa

from analysis.records import columns, read, validate
from analysis.records.ingest import ImportOptions, ImportProblem, SourceFile, import_files
from analysis.records.problems import ProblemLog

CORPUS = Path(__file__).parent / "corpus"
WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]

NUMBERS = ["", " ", "1", "  3 ", "-3", "+5", ".5", "5.", "0", "-0", "00012", "1e5", "1E-3", "2,5", "1,234",
           "1,234.5", "-1,234", "12,345,678.9", "1,23", "1.234", "1.234,5", "1.5", "€ 5", "5 €", "$12", "£3",
           "¥7", "USD 7", "usd7", "7 EUR", "eur 1.234,50", "gbp 1,234.50", "GBP", "uſd 5", "1 234", "1\xa0234",
           "\xa05", "3\xa0", "3\u2000", "\u30003", "3\x0b", "3\x0c", "3\x1c", "3\x85", "\t3\n", "- 5", "1_000",
           "0x10", "inf", "-inf", "Infinity", "nan", "NaN", "n/a", "abc", "١٢٣", "²", "9007199254740993",
           "12345678901234567890", "-12345678901234567890", "1e308", "1e309", "4.0", "2.5", "−3", "1,5e3"]
DATES = ["2024-01-05", "2024-1-5", "2024-1-05", "2024-01-5", "2024-001-05", "2024/01/05", "2024.01.05",
         "2024-01-05T10:00", "2024-01-05 09:30",
         "2024-01-05x", "2024-02-30", "2024-02-29", "2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
         "0001-01-01", "1899-12-31", "1979-12-31", "2730-01-01", "9999-12-31", "2099-01-01", " 2024-03-01 ",
         "\xa02024-03-01", "٢٠٢٤-٠١-٠٥", "13/01/2024", "01/13/2024", "05/06/24", "5.6.2024", "31/02/2024",
         "02/03/2024", "45292", "45292,5", "45292.75", "12345", "", " ", "notadate", "2024-01", "24-01-05"]
TEXTS = ["", " ", "  ", "a", " a ", "a  b", "a\tb", "a\nb", "a\x0bb", "a\x0cb", "a\x1cb", "a\x85b", "a\xa0b",
         "a\u2000b", "a\u2028b", "a\u3000b", "a\u200bb", " \xa0 a \u3000 b \t ", "Dr  J.\tOkafor",
         "Clínica São João", "x" * 300, "\u3000", "\xa0\xa0"]


def reference_text(value: object) -> object:
    """The cleaning _text stands for, with Python's own \\s."""
    if not isinstance(value, str):
        return value
    cleaned = re.sub(r"\s+", " ", value.strip())
    return cleaned or None


def arrow_frame(cells: pa.Table | None) -> pd.DataFrame | None:
    """What the pyarrow reader gives, as a frame (columns named as the C parser names them)."""
    if cells is None:
        return None
    frame = cells.to_pandas()
    frame.columns = cells.column_names
    return frame


def arrow_text(raw: pd.Series) -> pd.Series:
    """The import's text cleaning (:func:`analysis.records.validate._text`, in Arrow) of a column, as an
    object Series with None for missing."""
    cleaned = validate._text(pa.chunked_array([pa.array(raw.astype(str).tolist(), pa.large_string())]))
    return pd.Series(cleaned.cast(pa.string()).to_numpy(zero_copy_only=False), index=raw.index, dtype=object)


def old_text(raw: pd.Series) -> pd.Series:
    """_text as it was: Python's \\s, so pandas ran it row by row."""
    cleaned = raw.str.strip().str.replace(r"\s+", " ", regex=True)
    return cleaned.where(cleaned != "", None).astype(object)


def old_may_have_extra_fields(text: str, first_line: str, delimiter: str) -> bool:
    header_fields = re.sub(r'"[^"]*"', "", first_line).count(delimiter) + 1
    counts = pd.Series(text.split("\n")[1:], dtype=object).str.count(re.escape(delimiter))
    return bool((counts >= header_fields).any())


def same_values(a: pd.Series, b: pd.Series) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
            continue
        assert x == y and type(x) is type(y), (x, y)


# --- text --------------------------------------------------------------------------------------

def test_whitespace_class_is_exactly_what_python_calls_whitespace():
    inside = columns.WHITESPACE[1:-2]
    assert columns.WHITESPACE.startswith("[") and columns.WHITESPACE.endswith("]+")
    assert sorted(inside) == WHITESPACE
    assert "\\" not in columns.WHITESPACE  # no \s, no \u escapes: pandas hands it to pyarrow
    spacing = columns.SPACING
    assert spacing.endswith("]|  ") and sorted(spacing[1:-4]) == [c for c in WHITESPACE if c != " "]


@pytest.mark.parametrize("rows", [1, 30_000])  # the direct path, and the per-distinct-value path
def test_text_matches_pythons_whitespace_rules(rows):
    values = (TEXTS * (rows // len(TEXTS) + 1))[:max(rows, len(TEXTS))]
    for dtype in ("str", object):
        raw = pd.Series(values, dtype=dtype, index=np.arange(len(values)) + 7)
        fast = arrow_text(raw)
        assert fast.dtype == object
        assert_series_equal(fast, old_text(raw.astype(object)))
        assert [reference_text(v) for v in values] == [None if v is None or v != v else v for v in fast]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(WHITESPACE + list("ab€ 1\u200b")), max_size=8), max_size=30))
def test_text_fast_and_slow_agree_on_generated_values(values):
    raw = pd.Series(values, dtype="str")
    assert_series_equal(arrow_text(raw), old_text(raw.astype(object)))


# --- numbers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("decimal_comma", [False, True])
def test_numbers_fast_and_slow_agree_on_tricky_values(decimal_comma):
    for dtype in ("str", object):
        raw = pd.Series(NUMBERS * 2, dtype=dtype, index=np.arange(2 * len(NUMBERS)) + 3)
        fast = columns.parse_numbers(raw, decimal_comma)
        slow = columns._parse_numbers_slow(raw, decimal_comma).astype("float64")
        assert fast.dtype == "float64"
        assert_series_equal(fast, slow, check_exact=True)


def test_numbers_spreadsheet_spellings():
    raw = pd.Series(["1,234", "€ 5", "USD 7", "  3 ", "3\xa0", "1.234,5", "abc", ""], dtype="str")
    got = columns.parse_numbers(raw, decimal_comma=False).tolist()
    assert got[:5] == [1234.0, 5.0, 7.0, 3.0, 3.0] and all(np.isnan(got[5:]))
    assert columns.parse_numbers(raw, decimal_comma=True).tolist()[5] == 1234.5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(NUMBERS),
                          st.lists(st.sampled_from(list("0123456789.,-+eE ") + ["\xa0", "€", "usd", "EUR", "\t"]),
                                   max_size=9).map("".join)), max_size=25),
       st.booleans())
def test_numbers_fast_and_slow_agree_on_generated_values(values, decimal_comma):
    raw = pd.Series(values, dtype="str")
    fast = columns.parse_numbers(raw, decimal_comma)
    assert_series_equal(fast, columns._parse_numbers_slow(raw, decimal_comma).astype("float64"), check_exact=True)


# --- dates -------------------------------------------------------------------------------------

def assert_date_parts_agree(text: pd.Series) -> None:
    fast = columns._date_parts(text)
    slow = columns._date_parts(text, fast=False)
    for a, b in zip(fast[:4] + (fast[5],), slow[:4] + (slow[5],)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(fast[4], slow[4]):
        np.testing.assert_array_equal(a, b)


def test_date_parts_fast_and_slow_agree_on_tricky_values():
    for dtype in ("str", object):
        assert_date_parts_agree(pd.Series(DATES, dtype=dtype).str.strip())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(DATES),
                          st.text(alphabet=st.sampled_from(list("0123456789-/. T")), max_size=12)), max_size=25))
def test_date_parts_fast_and_slow_agree_on_generated_values(values):
    assert_date_parts_agree(pd.Series(values, dtype="str").str.strip())


@pytest.mark.parametrize("order", ["dayfirst", "monthfirst", "auto"])
def test_parse_dates_results_and_problems_do_not_depend_on_the_path(order, monkeypatch):
    values = [v for v in DATES if "/" not in v or order != "auto"] + ["14/03/2024"]
    raw = pd.Series(values, dtype="str")

    def run():
        problems = ProblemLog("f.csv", np.arange(2, len(raw) + 2))
        parsed = columns.parse_dates(raw, order, "f.csv", "treatment_date", problems,
                                    today=pd.Timestamp("2025-06-30").date())
        return parsed, problems.frame()

    fast = run()
    slow_parts = columns._date_parts
    monkeypatch.setattr(columns, "_date_parts", lambda text: slow_parts(text, fast=False))
    slow = run()
    assert_series_equal(fast[0], slow[0])
    assert_frame_equal(fast[1], slow[1])
    by_row = fast[1].set_index("row")["reason"]
    assert by_row[2 + values.index("2024-02-30")] == "is not a real date: February has no day 30"
    assert by_row[2 + values.index("2730-01-01")] == "has an implausible year; check the date"


# --- reading -----------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(",;\n\"ab \t|") + ["é", "\u3000", "\r\n"]), max_size=80).map("".join),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from([1, 2, 3, 7, 1 << 23]))
def test_line_scan_matches_splitting_the_text(text, delimiter, chunk):
    first_line = text.split("\n", 1)[0]
    expected = old_may_have_extra_fields(text, first_line, delimiter)
    saved = read._SCAN_CHUNK
    read._SCAN_CHUNK = chunk  # small chunks put line ends on every chunk boundary
    try:
        assert read._may_have_extra_fields(text, first_line, delimiter) == expected
        assert read._may_have_extra_fields(text, first_line, delimiter, text.encode()) == expected
    finally:
        read._SCAN_CHUNK = saved


CELLS = ["", " ", "a", "1", "2024-01-05", "ü€", "NA", "null", "nan", "#", "'x'", "\u3000", "x y", "\x0b"]


@st.composite
def plain_csv(draw) -> tuple[str, str]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 6))
    header = draw(st.lists(st.sampled_from(["a", "b", "a", "", " c ", "Unnamed: 1", "a.1"]), min_size=width,
                           max_size=width))
    rows = draw(st.lists(st.lists(st.sampled_from(CELLS), min_size=width, max_size=width), max_size=8))
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    if draw(st.booleans()) and len(lines) > 1:  # a blank line, a short row or a long row
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(["", "a", delimiter * width])))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return end.join(lines) + draw(st.sampled_from(["", end, end + end])), delimiter


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_csv())
def test_arrow_reader_gives_the_c_parser_frame_or_steps_aside(case):
    text, delimiter = case
    first_line = text.split("\n", 1)[0]
    frame = arrow_frame(read._read_arrow(text, text.encode(), first_line, delimiter))
    if frame is None:
        return
    assert not old_may_have_extra_fields(text, first_line, delimiter)
    assert_frame_equal(frame, read._read_fast(text, delimiter))


def test_arrow_reader_steps_aside_for_quotes_short_rows_and_bare_carriage_returns():
    for text in ['a,b\n"x",1\n', "a,b\n1\n", "a,b\r1,2\r", "a,b\n1,2\x00\n", "a,b\n1,2,3\n"]:
        assert read._read_arrow(text, text.encode(), text.split("\n", 1)[0], ",") is None
    text = "a,b,,a\n1,2,,3\n\n"
    assert_frame_equal(arrow_frame(read._read_arrow(text, text.encode(), "a,b,,a", ",")), read._read_fast(text, ","))


def without_fast_paths(monkeypatch) -> None:
    slow_parts = columns._date_parts
    monkeypatch.setattr(read, "BYTES_PATH", False)
    monkeypatch.setattr(read, "_read_arrow", lambda *args, **kwargs: None)
    monkeypatch.setattr(columns, "_date_parts", lambda text: slow_parts(text, fast=False))
    monkeypatch.setattr(columns, "parse_numbers", columns._parse_numbers_slow)
    monkeypatch.setattr(validate, "_text", lambda raw, encoded=None: pa.array(
        old_text(raw.to_pandas().astype(str)).to_numpy(dtype=object), pa.string(), from_pandas=True))


def import_everything(files: list[SourceFile], options: ImportOptions | None = None):
    try:
        result = import_files(files[0], files[1:], options)
    except ImportProblem as exc:
        return str(exc)
    report = result.report
    return (result.outcomes, result.side_effects, report.problems, report.notes,
            [vars(f) for f in report.files], report.rejected_rows, report.summary_lines(10_000))


def assert_same_import(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, str):
        assert a == b
        return
    for x, y in zip(a, b):
        if isinstance(x, pd.DataFrame):
            assert_frame_equal(x, y)
        elif isinstance(x, dict) and x and isinstance(next(iter(x.values())), pd.DataFrame):
            assert x.keys() == y.keys()
            for key in x:
                assert_frame_equal(x[key], y[key])
        else:
            assert x == y


CORPUS_CASES = [[name] for name in sorted(p.name for p in CORPUS.iterdir() if p.is_file())] + [
    ["orphans_outcomes.csv", "orphans_side_effects.csv"], ["orphans_outcomes.csv", "side_effect_synonyms.csv"]]


@pytest.mark.parametrize("names", CORPUS_CASES, ids="+".join)
@pytest.mark.parametrize("order", ["auto", "dayfirst"])
def test_corpus_imports_the_same_without_the_fast_paths(names, order, monkeypatch):
    files = [SourceFile.from_path(CORPUS / n) for n in names]
    options = ImportOptions(date_order=order)
    fast = import_everything(files, options)
    tables = []
    for f in files:
        try:
            tables.append(read.read_table(f))
        except ImportProblem as exc:
            tables.append(str(exc))
    without_fast_paths(monkeypatch)
    assert_same_import(fast, import_everything(files, options))
    for f, table in zip(files, tables):
        try:
            slow = read.read_table(f)
        except ImportProblem as exc:
            assert table == str(exc)
            continue
        assert_frame_equal(table.frame, slow.frame)
        assert list(table.rows) == list(slow.rows)
        assert_frame_equal(table.malformed, slow.malformed)


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_large_plain_file_imports_the_same_without_the_fast_paths(sep, monkeypatch):
    # Large enough for the per-distinct-value text path; every kind of value, as a clinic system writes it.
    rng = np.random.default_rng(6)
    n = 25_000
    commas = ["1,5", "1,234.50", "1.234,5"] if sep == ";" else ["1 234"]
    rows = pd.DataFrame({
        "treatment_id": [f"T{i:06d}" for i in range(n)],
        "patient_id": [f"P{i % 7000:05d}" for i in range(n)],
        "clinic": rng.choice(["Northgate Laser Centre", " Harbourside  Skin Clinic", "Clínica\xa0Sol", ""], n),
        "treatment_date": rng.choice(["2024-01-05", "2024-02-30", "2023-12-31", "2024-1-5", "45292", "x"], n),
        "modality": rng.choice(["ablative", "non-ablative", "", "NA", "laser"], n),
        "device": rng.choice(["Fractional CO2 10600 nm", "Er:glass 1550 nm", "IPL", ""], n),
        "treatment_area": rng.choice(["Face", "neck", "hands\u3000back"], n),
        "fitzpatrick_type": rng.choice(["I", "4", "Type 4", "7", ""], n),
        "downtime_days": rng.choice(["9", "€ 5", "abc", "-3", "  3 ", "", *commas], n),
        "cost": rng.choice(["1210.00", "USD 7", "", *commas], n),
        "PIH": rng.choice(["yes", "no", "", "maybe"], n),
    })
    rows.loc[rows.index % 997 == 0, "treatment_id"] = "T000001"  # repeats
    text = rows.to_csv(index=False, lineterminator="\n", sep=sep)
    assert '"' not in text  # so the pyarrow reader is used
    side = "treatment_id,effect,severity,onset_day,resolved_day\n" + "".join(
        f"T{i:06d},{e},{s},{o},{r}\n".replace(",", sep) for i, e, s, o, r in zip(
            rng.integers(0, n + 50, 8000), rng.choice(["erythema", "PIH", "itching", ""], 8000),
            rng.choice(["mild", "grade 2", "extreme", ""], 8000), rng.choice(["0", "2", "x"], 8000),
            rng.choice(["5", "1", ""], 8000)))
    files = [SourceFile("big.csv", text.encode()), SourceFile("side.csv", side.encode())]
    assert read._read_arrow(text, files[0].data, text.split("\n", 1)[0], sep) is not None
    fast = import_everything(files, ImportOptions(date_order="dayfirst"))
    assert not isinstance(fast, str) and len(fast[0]) > 0 and len(fast[2]) > 0
    without_fast_paths(monkeypatch)
    assert_same_import(fast, import_everything(files, ImportOptions(date_order="dayfirst")))


@pytest.mark.parametrize("block", [1 << 10, 1 << 14, 1 << 24])
def test_the_arrow_readers_block_size_does_not_change_the_frame(block, monkeypatch):
    """pyarrow cuts the file into blocks at line ends; whatever the block size, the frame is the C parser's."""
    rng = np.random.default_rng(5)
    lines = ["id,clinic,note"] + [f"T{i},{rng.choice(['North', 'Clínica Sol', ''])},{'x' * int(rng.integers(0, 40))}"
                                  for i in range(5000)]
    text = "\n".join(lines) + "\n"
    monkeypatch.setattr(read, "_ARROW_BLOCK", block)
    frame = arrow_frame(read._read_arrow(text, text.encode(), lines[0], ","))
    assert frame is not None
    assert_frame_equal(frame, read._read_fast(text, ","))
