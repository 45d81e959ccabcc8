"""Fuzzing the importer: whatever bytes arrive, the result is an import report or a clear refusal.

Two sources of inputs: hypothesis-generated CSV text built from the schema's own vocabulary
(headers, synonyms, odd values), and mutated copies of the messy-file corpus (bytes flipped,
inserted, deleted, truncated, lines duplicated or swapped).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import example, HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.records import schema
from analysis.records.ingest import ImportOptions, ImportProblem, SourceFile, import_files

CORPUS = Path(__file__).parent / "corpus"
ACCEPTED = (ImportProblem,)


def attempt(*files: SourceFile, options: ImportOptions | None = None) -> None:
    """Import; a refusal must be an ImportProblem naming a file; a result must account for every row."""
    try:
        result = import_files(files[0], list(files[1:]), options)
    except ACCEPTED as exc:
        assert exc.file and str(exc).startswith(exc.file)
        return
    report = result.report
    assert report.outcomes_accepted == len(result.outcomes) > 0
    for summary in report.files:
        assert summary.rows_accepted + summary.rows_rejected <= summary.rows_read
    assert set(result.side_effects["treatment_id"]) <= set(result.outcomes["treatment_id"])
    assert result.outcomes["fitzpatrick_type"].between(1, 6).all()


HEADERS = [c.name for c in schema.OUTCOME_COLUMNS] + [s for c in schema.OUTCOME_COLUMNS for s in c.synonyms[:2]] + \
    ["PIH", "Redness", "Patient Name", "Email", "DOB", "", "Unnamed: 3", "x" * 300, "=cmd|' /C calc'!A0"]
VALUES = ["", " ", "1", "IV", "Type 4", "vii", "-3", "2,5", "1.234,5", "45292", "31/02/2024", "02/03/2024",
          "2024-02-30", "2024-01-01", "ablative", "non-ablative", "Fractional CO2 10600 nm", "yes", "x", "n/a",
          "NaN", "inf", "1e308", "\"quoted, comma\"", "=HYPERLINK(\"x\")", "ü€", "\t", "T1", "T1", "jane@example.com"]


@st.composite
def csv_text(draw) -> str:
    headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=9))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(st.sampled_from(VALUES), min_size=0, max_size=len(headers) + 2), max_size=12))
    lines = [delimiter.join(headers)] + [delimiter.join(r) for r in rows]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_text(), st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
       st.sampled_from(["auto", "dayfirst", "monthfirst"]))
def test_generated_files_end_in_a_report_or_a_refusal(text, encoding, order):
    data = text.encode(encoding, errors="replace")
    attempt(SourceFile("fuzz.csv", data), options=ImportOptions(date_order=order))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_text(), csv_text())
def test_generated_pairs_end_in_a_report_or_a_refusal(outcomes, side_effects):
    attempt(SourceFile("outcomes.csv", outcomes.encode()), SourceFile("side.csv", side_effects.encode()))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
@example(b"\x01\r\r,")  # a lone carriage return in the header line made the csv module raise (found by this test)
def test_arbitrary_bytes_end_in_a_report_or_a_refusal(data):
    attempt(SourceFile("bytes.csv", data))


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random structural or byte-level change."""
    if not data:
        return bytes([rng.randrange(256)])
    kind = rng.randrange(7)
    i = rng.randrange(len(data))
    if kind == 0:
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if kind == 1:
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8))) + data[i:]
    if kind == 2:
        return data[:i] + data[i + rng.randrange(1, 20):]
    if kind == 3:
        return data[:i]
    lines = data.split(b"\n")
    j = rng.randrange(len(lines))
    if kind == 4:
        lines.insert(j, lines[j])
    elif kind == 5:
        k = rng.randrange(len(lines))
        lines[j], lines[k] = lines[k], lines[j]
    else:
        lines[j] = lines[j].replace(b",", b";", 1) if rng.random() < 0.5 else lines[j] + b',"unclosed'
    return b"\n".join(lines)


CORPUS_FILES = sorted(p.name for p in CORPUS.iterdir() if p.is_file())


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_mutated_corpus_files_end_in_a_report_or_a_refusal(name):
    rng = random.Random(f"laserdash-{name}")  # reproducible per file
    original = (CORPUS / name).read_bytes()
    for _ in range(40):
        data = original
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
        attempt(SourceFile(name, data))
    side = (CORPUS / "orphans_side_effects.csv").read_bytes()
    for _ in range(10):
        attempt(SourceFile("orphans_outcomes.csv", (CORPUS / "orphans_outcomes.csv").read_bytes()),
                SourceFile("side.csv", mutate(side, rng)))
