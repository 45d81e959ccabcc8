"""The import against its expected results: every record, problem, note, summary and rejected row.

Each case is a set of files and a date order. What the import must give is written in
``tests/expected/import/``: for the messy-file corpus (every case, three date orders), for 60 small
generated exports (every kind of bad cell, repeated ids, contradicting devices, orphans, flag columns)
and, as counts and a SHA-256 of the same description, for three 25,000-row exports with bad rows.

Where the expected results came from: they were written by the per-row import as it was before the
import became one path (commit e053885, ``analysis/ingest.py`` with the Arrow path switched off), with
one correction made first: a row rejected as a repeated treatment id no longer gives its flag-column
side effects to the treatment it repeats. The one-path import was then held equal to that per-row
import on these cases and on 3,000 generated files (hypothesis). When the import's behaviour is meant to
change, rewrite them with ``python tests/test_ingest_expected.py --write`` and review the diff.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

if __name__ == "__main__":  # run as a script (--write): the project and tests/ on the path, as pytest puts them
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from analysis.records.ingest import ImportOptions, ImportProblem, SourceFile, import_files  # noqa: E402
from testpaths import ROOT  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
EXPECTED = ROOT / "tests" / "expected" / "import"
ORDERS = ("auto", "dayfirst", "monthfirst")
CORPUS_CASES = [[p.name] for p in sorted(CORPUS.iterdir()) if p.is_file()] + [  # (workbooks/ has its own tests)
    ["orphans_outcomes.csv", "orphans_side_effects.csv"], ["orphans_outcomes.csv", "side_effect_synonyms.csv"],
    ["bom_utf8.csv", "side_effect_synonyms.csv"], ["side_effect_synonyms.csv", "orphans_outcomes.csv"]]


# --- describing an import as plain data ------------------------------------------------------------

def cell(value: Any) -> Any:
    """A value as JSON that keeps its type: text, whole numbers and booleans as themselves; floats (with
    their sign of zero and NaN) and timestamps tagged; pandas' missing markers named."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return {"float": "nan" if math.isnan(value) else repr(float(value))}
    if value is pd.NaT:
        return {"missing": "NaT"}
    if value is pd.NA:
        return {"missing": "NA"}
    if isinstance(value, pd.Timestamp):
        return {"timestamp": value.isoformat()}
    return {type(value).__name__: str(value)}


def frame(data: pd.DataFrame) -> dict:
    index = data.index
    return {"columns": [[str(c), str(t)] for c, t in data.dtypes.items()],
            "index": f"range({index.start}, {index.stop})" if isinstance(index, pd.RangeIndex) else
            [cell(i) for i in index],
            "rows": [[cell(v) for v in row] for row in data.itertuples(index=False, name=None)]}


def describe(files: list[SourceFile], order: str, importer: Callable = import_files) -> dict:
    """Everything an import gives, or its refusal."""
    try:
        result = importer(files[0], files[1:], ImportOptions(date_order=order))
    except ImportProblem as exc:
        return {"refused": f"{type(exc).__name__}: {exc}"}
    report = result.report
    return {
        "outcomes": frame(result.outcomes),
        "side_effects": frame(result.side_effects),
        "side_effects_recorded": result.side_effects_recorded,
        "problems": frame(report.problems),
        "notes": report.notes,
        "files": [dict(vars(f)) for f in report.files],
        "rejected_rows": {name: frame(rows) for name, rows in report.rejected_rows.items()},
        "summary": report.summary_lines(10_000),
    }


def digest(description: dict) -> dict:
    """A large import's description as its counts and the SHA-256 of the whole."""
    text = json.dumps(description, sort_keys=True, ensure_ascii=False)
    if "refused" in description:
        return description
    return {"outcomes": len(description["outcomes"]["rows"]), "side_effects": len(description["side_effects"]["rows"]),
            "problems": len(description["problems"]["rows"]), "notes": description["notes"],
            "summary": description["summary"][:3], "sha256": hashlib.sha256(text.encode()).hexdigest()}


# --- the cases -------------------------------------------------------------------------------------

OUTCOME_CELLS = {
    "Treatment ID": ["T1", "T2", " T3", "T4 ", "T\u30005", "T  6", ""],
    "Patient": ["P1", "P2", "", "jane@example.com", "Jane Smith", "07700 900123", " P3 "],
    "Clinic": ["North", "north", " North ", "Clínica\xa0Sol", "", "a  b"],
    "Date": ["2024-01-05", "2024-1-5", "05/01/2024", "13/01/2024", "01/13/2024", "45292", "2024-02-30", "",
             "1979-01-01", "2999-01-01", "x", "31/02/2024"],
    "Modality": ["ablative", "Non-ablative", "non ablative", "", "laser", "ABLATIVE"],
    "Device": ["Fractional CO2 10600 nm", "Er:glass 1550 nm", "IPL", "", "Er:YAG 2940 nm"],
    "Area": ["Face", "face", "NECK", "", "Hands  back", "İstanbul"],
    "FST": ["I", "4", "Type 4", "iv", "7", "", "FST VI", "VII", "-1", "1e0"],
    "Downtime (days)": ["9", "0", "€ 5", "abc", "-3", "  3 ", "", "1,5", "91", "2.5", "-0", "1e400"],
    "Improvement": ["0", "4", "5", "2.5", "", "3", "-0", "-0.0"],
    "Satisfaction": ["1", "5", "", "0", "4"],
    "Cost": ["1210.00", "USD 7", "", "1,234.50", "x", "0.1"],
    "Follow-up visits": ["1", "", "2.0", "-1", "-0", "1e400"],
    "PIH": ["yes", "no", "", "x", "maybe", "Y"],
}
SIDE_CELLS = {
    "treatment_id": ["T1", "T2", " T3", "T9", ""],
    "effect": ["erythema", "PIH", "swelling", "itching", ""],
    "severity": ["mild", "Moderate", "", "grade 2"],
    "onset_day": ["0", "2", "", "x"],
    "resolved_day": ["5", "1", "", "14", "-3"],
}


def generated(seed: int) -> tuple[list[SourceFile], str]:
    """A small export with a random choice of columns and cells (some bad), maybe with a side-effect file."""
    rng = np.random.default_rng(seed)
    names = list(OUTCOME_CELLS)
    columns = [names[i] for i in rng.permutation(len(names))[: rng.integers(3, len(names) + 1)]]
    for required in ("Treatment ID", "Date", "FST"):
        if required not in columns:
            columns.append(required)
    if "Modality" not in columns and "Device" not in columns:
        columns.append("Modality")
    n = int(rng.integers(1, 13))
    rows = [[str(rng.choice(OUTCOME_CELLS[c][:2] if rng.random() < 0.7 else OUTCOME_CELLS[c])) for c in columns]
            for _ in range(n)]  # mostly good cells (the first two of each column), so most files import
    if rng.random() < 0.5:
        for i, row in enumerate(rows):  # unique ids, in half the files
            row[columns.index("Treatment ID")] = f"T{i + 1}"
    delimiter = str(rng.choice([",", ";", "\t"]))
    text = "\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in r) for r in [columns, *rows]) + "\n"
    files = [SourceFile("export.csv", text.encode())]
    if rng.random() < 0.6:
        extra = [c for c in ("severity", "onset_day", "resolved_day") if rng.random() < 0.6]
        side_columns = ["treatment_id", "effect", *extra]
        side_rows = [[str(rng.choice(SIDE_CELLS[c])) for c in side_columns] for _ in range(int(rng.integers(0, 9)))]
        side = "\n".join(",".join(r) for r in [side_columns, *side_rows]) + "\n"
        files.append(SourceFile("side.csv", side.encode()))
    return files, str(rng.choice(ORDERS))


def large(seed: int) -> tuple[list[SourceFile], str]:
    """25,000 treatments with bad cells throughout (in about a third of the rows), 1 % repeated and some blank
    ids, and 8,000 side effects:
    large enough for every per-distinct-value path and dictionary-encoded column."""
    rng = np.random.default_rng(seed)
    n = 25_000
    columns = {c: np.where(rng.random(n) < 0.97, rng.choice(v[:2], n), rng.choice(v, n))  # 3 % cells any value
               for c, v in OUTCOME_CELLS.items()}
    ids = np.array([f"T{i}" for i in range(n)], dtype=object)
    repeat = rng.random(n) < 0.01
    ids[repeat] = rng.choice(ids[:100], int(repeat.sum()))
    ids[rng.random(n) < 0.002] = ""
    columns["Treatment ID"] = ids
    if seed % 2:
        columns["Patient"] = np.array([f"P{i}" for i in range(n)], dtype=object)
    text = pd.DataFrame(columns).to_csv(index=False, sep=";" if seed % 3 == 0 else ",")
    side = pd.DataFrame({c: rng.choice(v, 8000) for c, v in SIDE_CELLS.items()})
    side["treatment_id"] = rng.choice(ids, 8000)
    files = [SourceFile("export.csv", text.encode()), SourceFile("side.csv", side.to_csv(index=False).encode())]
    return files, ORDERS[seed % 3]


def corpus_files(names: list[str]) -> list[SourceFile]:
    return [SourceFile.from_path(CORPUS / n) for n in names]


def expected_path(kind: str, name: str) -> Path:
    return EXPECTED / kind / f"{name}.json"


def load(kind: str, name: str) -> dict:
    return json.loads(expected_path(kind, name).read_text())


def roundtrip(description: dict) -> dict:
    """The description as it reads back from its JSON file (tuples become lists, and so on)."""
    return json.loads(json.dumps(description, ensure_ascii=False))


# --- the tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("names", CORPUS_CASES, ids="+".join)
def test_every_corpus_case_imports_as_expected(names, order):
    assert roundtrip(describe(corpus_files(names), order)) == load("corpus", f"{'+'.join(names)}.{order}")


@pytest.mark.parametrize("seed", range(60))
def test_generated_exports_import_as_expected(seed):
    assert roundtrip(describe(*generated(seed))) == load("generated", f"{seed:02d}")


@pytest.mark.parametrize("seed", range(3))
def test_large_exports_with_bad_rows_import_as_expected(seed):
    assert roundtrip(digest(describe(*large(seed)))) == load("large", f"{seed}")


def test_the_expected_results_cover_what_they_should():
    """The cases hold what they are for: rejected rows, warnings, refusals, orphans, flags, every order."""
    described = [load("generated", f"{s:02d}") for s in range(60)]
    reasons = {row[4] for d in described if "problems" in d for row in d["problems"]["rows"]}
    for text in ("repeats the treatment_id of row", "is not a Fitzpatrick skin type", "is not a real date",
                 "stated modality differs from the device", "no outcome record has this treatment_id",
                 "was rejected", "is not a yes/no flag", "is before the onset day", "must be a whole number"):
        assert any(text in r for r in reasons), text
    assert any("refused" in d for d in described) and sum("outcomes" in d for d in described) > 40
    for seed in range(3):
        big = load("large", str(seed))
        assert big["problems"] > 1000 and big["outcomes"] > 1000


def write(importer: Callable = import_files) -> None:
    """Write every expected result with ``importer`` (review the diff before committing it)."""
    for names in CORPUS_CASES:
        for order in ORDERS:
            save("corpus", f"{'+'.join(names)}.{order}", describe(corpus_files(names), order, importer))
    for seed in range(60):
        save("generated", f"{seed:02d}", describe(*generated(seed), importer))
    for seed in range(3):
        save("large", f"{seed}", digest(describe(*large(seed), importer)))


def save(kind: str, name: str, description: dict) -> None:
    path = expected_path(kind, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_ingest_expected.py --write")
    write()
