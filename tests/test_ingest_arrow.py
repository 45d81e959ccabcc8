"""The Arrow path for clean files (``analysis.records.ingest_arrow``) gives exactly what the full path gives.

The full path checks every cell and reports each problem with its row; the Arrow path runs the same
checks once per distinct value and steps aside at the first problem. For any files, the import must be
the same either way: frames (values, dtypes, None for missing text), report, notes, problems, rejected
rows, or the same refusal. Clean files must actually take the Arrow path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.records import ingest
from analysis.records.ingest import ImportOptions, SourceFile, import_files

from testpaths import ROOT

CORPUS = ROOT / "tests" / "corpus"
SAMPLE = [ROOT / "data" / "sample_outcomes.csv", ROOT / "data" / "sample_side_effects.csv"]


def run(files: list[SourceFile], options: ImportOptions | None, arrow: bool, monkeypatch):
    """Import with the Arrow path (and reading UTF-8 from bytes), or with neither: the full path."""
    monkeypatch.setattr(ingest, "ARROW_PATH", arrow)
    monkeypatch.setattr(ingest, "BYTES_PATH", arrow)
    try:
        result = import_files(files[0], files[1:], options)
    except ingest.ImportProblem as exc:
        return type(exc).__name__ + ": " + str(exc), None
    took_arrow = isinstance(result.records("outcomes"), pa.Table)
    return result, took_arrow


def assert_identical_frames(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    assert isinstance(left.index, pd.RangeIndex) and isinstance(right.index, pd.RangeIndex)
    for name in left.columns:
        if pd.api.types.is_float_dtype(left[name].dtype):  # assert_frame_equal takes -0.0 for 0.0
            assert (np.signbit(left[name].to_numpy()) == np.signbit(right[name].to_numpy())).all(), name
        if pd.api.types.is_object_dtype(left[name].dtype):
            for frame in (left, right):
                assert all(v is None or type(v) is str for v in frame[name]), name
            assert [v is None for v in left[name]] == [v is None for v in right[name]], name


def assert_same(files: list[SourceFile], options: ImportOptions | None, monkeypatch) -> bool:
    """Import both ways, compare everything; True when the Arrow path was taken."""
    fast, took_arrow = run(files, options, True, monkeypatch)
    full, full_arrow = run(files, options, False, monkeypatch)
    if isinstance(fast, str) or isinstance(full, str):
        assert fast == full
        return False
    assert full_arrow is False
    assert fast.count("outcomes") == full.count("outcomes")
    assert_identical_frames(fast.outcomes, full.outcomes)
    assert_identical_frames(fast.side_effects, full.side_effects)
    a, b = fast.report, full.report
    pd.testing.assert_frame_equal(a.problems, b.problems)
    assert a.notes == b.notes
    assert [vars(f) for f in a.files] == [vars(f) for f in b.files]
    assert a.rejected_rows.keys() == b.rejected_rows.keys()
    for key in a.rejected_rows:
        pd.testing.assert_frame_equal(a.rejected_rows[key], b.rejected_rows[key])
    assert a.summary_lines(10_000) == b.summary_lines(10_000)
    assert fast.side_effects_recorded == full.side_effects_recorded
    return took_arrow


def sources(*paths: Path) -> list[SourceFile]:
    return [SourceFile.from_path(p) for p in paths]


def test_the_sample_data_takes_the_arrow_path(monkeypatch):
    assert assert_same(sources(*SAMPLE), None, monkeypatch)


@pytest.mark.parametrize("names", [["bom_utf8.csv"], ["latin1_tab.csv"], ["utf16_excel_unicode.txt"],
                                   ["semicolon_decimal_comma.csv"], ["pii_columns.csv"], ["pii_in_patient_id.csv"],
                                   ["month_first_dates.csv"], ["formula_injection.csv"]], ids="+".join)
def test_clean_corpus_files_take_the_arrow_path(names, monkeypatch):
    assert assert_same(sources(*(CORPUS / n for n in names)), None, monkeypatch)


@pytest.mark.parametrize("names", [[p.name] for p in sorted(CORPUS.iterdir())] + [
    ["orphans_outcomes.csv", "orphans_side_effects.csv"], ["orphans_outcomes.csv", "side_effect_synonyms.csv"],
    ["bom_utf8.csv", "side_effect_synonyms.csv"]], ids="+".join)
@pytest.mark.parametrize("order", ["auto", "dayfirst", "monthfirst"])
def test_every_corpus_file_imports_the_same_either_way(names, order, monkeypatch):
    assert_same(sources(*(CORPUS / n for n in names)), ImportOptions(date_order=order), monkeypatch)


# --- generated files -------------------------------------------------------------------------------

OUTCOME_CELLS = {
    "Treatment ID": ["T1", "T2", " T3", "T4 ", "T\u30005", "T  6", ""],
    "Patient": ["P1", "P2", "", "jane@example.com", "Jane Smith", "07700 900123", " P3 "],
    "Clinic": ["North", "north", " North ", "Clínica\xa0Sol", "", "a  b"],
    "Date": ["2024-01-05", "2024-1-5", "05/01/2024", "13/01/2024", "01/13/2024", "45292", "2024-02-30", "",
             "1979-01-01", "2999-01-01", "x"],
    "Modality": ["ablative", "Non-ablative", "non ablative", "", "laser", "ABLATIVE"],
    "Device": ["Fractional CO2 10600 nm", "Er:glass 1550 nm", "IPL", "", "Er:YAG 2940 nm"],
    "Area": ["Face", "face", "NECK", "", "Hands  back", "İstanbul"],
    "FST": ["I", "4", "Type 4", "iv", "7", "", "FST VI"],
    "Downtime (days)": ["9", "0", "€ 5", "abc", "-3", "  3 ", "", "1,5", "91", "2.5", "-0"],
    "Improvement": ["0", "4", "5", "2.5", "", "3", "-0", "-0.0"],
    "Satisfaction": ["1", "5", "", "0", "4"],
    "Cost": ["1210.00", "USD 7", "", "1,234.50", "x", "0.1"],
    "Follow-up visits": ["1", "", "2.0", "-1", "-0"],
    "PIH": ["yes", "no", "", "x", "maybe", "Y"],
}
CLEAN_CELLS = {column: [v for v in values if v not in {
    "", "T\u30005", "jane@example.com", "Jane Smith", "07700 900123", "2024-02-30", "1979-01-01", "2999-01-01", "x",
    "laser", "7", "abc", "-3", "91", "2.5", "5", "0", "1,5", "maybe", "-1", "13/01/2024", "01/13/2024", "05/01/2024",
    "45292", "2024-1-5"} or column in ("Patient", "Clinic", "Area", "Device", "Cost", "PIH", "Downtime (days)")
    and v in {"", "0", "2.5"}] for column, values in OUTCOME_CELLS.items()}
SIDE_CELLS = {
    "treatment_id": ["T1", "T2", " T3", "T9", ""],
    "effect": ["erythema", "PIH", "swelling", "itching", ""],
    "severity": ["mild", "Moderate", "", "grade 2"],
    "onset_day": ["0", "2", "", "x"],
    "resolved_day": ["5", "1", "", "14"],
}


@st.composite
def export(draw, clean: bool) -> list[SourceFile]:
    cells = CLEAN_CELLS if clean else OUTCOME_CELLS
    columns = draw(st.lists(st.sampled_from(sorted(cells)), unique=True, min_size=3, max_size=len(cells)))
    for required in ("Treatment ID", "Date", "FST"):
        if required not in columns:
            columns.append(required)
    if "Modality" not in columns and "Device" not in columns:
        columns.append("Modality")
    n = draw(st.integers(1, 12))
    rows = [[draw(st.sampled_from(cells[c])) for c in columns] for _ in range(n)]
    ids = columns.index("Treatment ID")
    if clean or draw(st.booleans()):
        for i, row in enumerate(rows):  # unique ids, in most files
            row[ids] = f"T{i + 1}"
    if clean and "Device" in columns:
        for row in rows:  # no contradiction between a stated modality and the device; a known device otherwise
            row[columns.index("Device")] = ("" if "Modality" in columns
                                            else draw(st.sampled_from(["Fractional CO2 10600 nm", "Er:glass 1550 nm"])))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    text = "\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in r) for r in [columns, *rows]) + "\n"
    files = [SourceFile("export.csv", text.encode())]
    if draw(st.booleans()):
        side_columns = ["treatment_id", "effect"] + draw(st.lists(st.sampled_from(["severity", "onset_day",
                                                                                   "resolved_day"]), unique=True))
        side_rows = []
        for _ in range(draw(st.integers(1 if clean else 0, 8))):
            row = [draw(st.sampled_from(SIDE_CELLS[c])) for c in side_columns]
            if clean:
                row[0] = f"T{draw(st.integers(1, n))}"
                row[1] = draw(st.sampled_from(["erythema", "PIH", "swelling"]))
                for j, c in enumerate(side_columns[2:], start=2):
                    row[j] = {"severity": "mild", "onset_day": "1", "resolved_day": "3"}[c]
            side_rows.append(row)
        side = "\n".join(",".join(r) for r in [side_columns, *side_rows]) + "\n"
        files.append(SourceFile("side.csv", side.encode()))
    return files


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(export(clean=False), st.sampled_from(["auto", "dayfirst", "monthfirst"]))
def test_generated_messy_files_import_the_same_either_way(monkeypatch, files, order):
    assert_same(files, ImportOptions(date_order=order), monkeypatch)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(export(clean=True))
def test_generated_clean_files_take_the_arrow_path(monkeypatch, files):
    assert assert_same(files, ImportOptions(date_order="dayfirst"), monkeypatch)


def test_a_large_clean_file_takes_the_arrow_path(monkeypatch):
    """Large enough for the per-distinct-value text path and dictionary-encoded columns."""
    rng = np.random.default_rng(11)
    n = 30_000
    frame = pd.DataFrame({
        "treatment_id": [f"T{i:06d}" for i in range(n)],
        "patient_id": [f"P{i % 9000:05d}" for i in range(n)],
        "clinic": rng.choice(["Northgate Laser Centre", " Harbourside  Skin Clinic", "Clínica\xa0Sol", ""], n),
        "treatment_date": rng.choice(["2024-01-05", "2023-12-31", "2024-1-5", "45292"], n),
        "modality": rng.choice(["ablative", "non-ablative", ""], n),
        "device": rng.choice(["", "Er:glass 1550 nm"], n),
        "treatment_area": rng.choice(["Face", "neck", "hands\u3000back", "NECK"], n),
        "fitzpatrick_type": rng.choice(["I", "4", "Type 4", "VI"], n),
        "downtime_days": rng.choice(["9", "€ 5", "  3 ", ""], n),
        "cost": rng.choice(["1210.00", "USD 7", "", "1 234"], n),
        "PIH": rng.choice(["yes", "no", ""], n),
        "practitioner": [f"Dr {i % 40}" for i in range(n)],
    })
    blank = frame["modality"] == ""
    frame.loc[blank, "device"] = "Er:glass 1550 nm"   # modality taken from the device there
    frame.loc[~blank, "device"] = ""
    frame.loc[frame.index % 7 == 0, "treatment_id"] = [f" T{i:06d} " for i in frame.index[frame.index % 7 == 0]]
    text = frame.to_csv(index=False, lineterminator="\n")
    assert '"' not in text
    side = "treatment_id,effect,severity,onset_day,resolved_day\n" + "".join(
        f"T{i:06d},{e},{s},0,{r}\n" for i, e, s, r in zip(rng.integers(0, n, 20_000),
                                                          rng.choice(["erythema", "PIH", "Swelling"], 20_000),
                                                          rng.choice(["mild", "severe", ""], 20_000),
                                                          rng.choice(["5", "", "14"], 20_000)))
    files = [SourceFile("big.csv", text.encode()), SourceFile("side.csv", side.encode())]
    assert assert_same(files, ImportOptions(date_order="dayfirst"), monkeypatch)


# --- reading UTF-8 from the bytes ------------------------------------------------------------------

def read_both_ways(source: SourceFile, monkeypatch):
    out = []
    for on in (True, False):
        monkeypatch.setattr(ingest, "BYTES_PATH", on)
        try:
            table = ingest.read_table(source)
            out.append((table.frame, list(table.rows), table.encoding, table.delimiter, table.malformed,
                        table.blank_rows))
        except ingest.ImportProblem as exc:
            out.append(type(exc).__name__ + ": " + str(exc))
    return out


def assert_same_read(source: SourceFile, monkeypatch) -> None:
    fast, full = read_both_ways(source, monkeypatch)
    if isinstance(fast, str) or isinstance(full, str):
        assert fast == full
        return
    pd.testing.assert_frame_equal(fast[0], full[0])
    assert fast[1:4] == full[1:4] and fast[5] == full[5]
    pd.testing.assert_frame_equal(fast[4], full[4])


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_corpus_files_read_the_same_from_their_bytes(name, monkeypatch):
    assert_same_read(SourceFile.from_path(CORPUS / name), monkeypatch)


BYTE_PIECES = [b"a", b"b", b",", b";", b"\t", b"\n", b"\r\n", b"\r", b" ", b"", b"\xef\xbb\xbf", b"\xc3\xa9", b"\xe9",
               b"\xff", b"\x00", b"\x01", b"\x1b", b'"', b"\xe2\x80", b"\x80", b"1", b"\xf0\x9f\x98\x80"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(BYTE_PIECES), max_size=40).map(b"".join),
       st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf"]), st.sampled_from([b"id,date\n", b""]))
def test_generated_bytes_read_the_same_either_way(monkeypatch, body, bom, header):
    assert_same_read(SourceFile("f.csv", bom + header + body), monkeypatch)


@pytest.mark.parametrize("data", [b"\t\t\n\t\t\n", b"\xef\xbb\xbf\t\t\r\n\t\t\r\n", b" \t \n \t \n",
                                  b"\t\n\xef\xbb\xbf\t \xef\xbb\xbf", b"\xef\xbf\xbf\t\xef\xbb\xbb\n\xef\xbb\xbb\t\xef\xbb\xbb\n"])
def test_files_decode_calls_empty_are_refused_the_same_way(data, monkeypatch):
    """Found by a review: the bytes path skipped decode()'s test for an empty file."""
    assert_same_read(SourceFile("f.csv", data), monkeypatch)


def test_a_large_file_with_controls_or_a_bad_byte_late_reads_the_same(monkeypatch):
    rows = "".join(f"T{i},2024-01-0{i % 9 + 1}\n" for i in range(40_000)).encode()
    for tail in (b"", b"T9,\xe9\n", b"T9,\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\n"):
        for head in (b"", b"\x01" * 700 + b"\n"):
            assert_same_read(SourceFile("big.csv", b"id,date\n" + head + rows + tail), monkeypatch)


WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(WHITESPACE + list("ab1€é😀")), max_size=6), min_size=1, max_size=12),
       st.integers(0, 3), st.booleans())
def test_the_byte_scan_never_misses_whitespace(values, start, large):
    """The scan that lets ids skip the regular expression must flag every value holding any whitespace."""
    from analysis.records import ingest_arrow

    array = pa.array(values, pa.large_string() if large else pa.string()).slice(min(start, len(values) - 1))
    holds = any(ch.isspace() for v in array.to_pylist() for ch in v)
    if holds:
        assert ingest_arrow._may_hold_whitespace(pa.chunked_array([array]))


def test_every_whitespace_character_starts_with_a_flagged_byte():
    from analysis.records import ingest_arrow

    for ch in WHITESPACE:
        assert ingest_arrow._WHITESPACE_BYTES[ch.encode()[0]], hex(ord(ch))
