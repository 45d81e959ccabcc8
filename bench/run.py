"""Benchmark: import, first load, statistics, filter changes and a page run at 10k / 100k / 1M treatments.

    .venv/bin/python bench/run.py                    # 10,000 / 100,000 / 1,000,000 -> bench/RESULTS.md
    .venv/bin/python bench/run.py --quick            # 10,000 and 100,000 only (CI smoke test)
    .venv/bin/python bench/run.py --sizes 2000 20000 --out /tmp/r.md --repeats 1
    .venv/bin/python bench/run.py --profile          # also cProfile import, load, filter, statistics
    .venv/bin/python bench/run.py --sizes 1000000 --steps import,import-messy --out /tmp/import.md   # imports only
    .venv/bin/python bench/run.py --sizes 100000 --steps import-xlsx --out /tmp/xlsx.md    # the workbook import only
    .venv/bin/python bench/run.py --sizes 1000000 --steps import,append --out /tmp/append.md   # 10,000 added
    .venv/bin/python bench/run.py --steps share-link                 # a share link in a fresh browser (bench/share_link.py)
    .venv/bin/python bench/run.py --steps concurrent                 # 1, 4, 8 sessions at once (bench/load.py)

Every measurement runs in a fresh child process (``bench/run.py --child STEP``) so its peak memory
(``ru_maxrss`` of that child) and its cold-start behaviour are its own. Data is generated with
``data/generate_sample.py`` into ``--data-dir`` (default ``/tmp/laserdash-bench``; reused when the
same size and seed are already there) and stored in a SQLite database next to it. The same records are
also written as a *messy export* (:func:`write_messy`: BOM, ``;``, decimal comma, dd/mm/yyyy, header
synonyms, a PIH flag column, 0.5 % bad rows) whose import is measured too, and, up to 100,000 treatments,
as a workbook (:func:`write_xlsx`: an .xlsx with typed cells, sheets "Outcomes" and "Side effects") whose
import is measured against ``pandas.read_excel(engine="calamine")``. No timing is asserted: the numbers go
into a Markdown report; the assertions are that the messy import rejects exactly the bad rows, that the
workbook import gives the same records as the CSV import, and that the append step (10,000 new treatments
added to a copy of the clean import's dataset with ``versions.add_records``) grows the dataset by exactly
those (the step fails otherwise). Text in the report after the line ``<!-- hand-written -->`` is kept when
the report is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
SEED = 20240101
PREFIX = "bench"
RESULT_MARK = "BENCH-RESULT "
HAND_WRITTEN = "<!-- hand-written -->"
PAGE = "pages/4_Skin_tone.py"
OVERVIEW = "dashboard.py"       # the home page: seven comparisons, the heaviest filter change
FITZ_FILTER = (4, 5)  # Fitzpatrick IV and V, with one clinic: the "filter change" measured

#: What ``--steps`` can select, in the order they run.
STEPS = ("import", "append", "import-messy", "import-xlsx", "load", "stats", "filter", "page", "overview", "share-link",
         "concurrent")
#: What runs when ``--steps`` is not given: all but the browser step, which needs Chromium, and the concurrent
#: sessions (about 20 minutes).
DEFAULT_STEPS = STEPS[:-2]
#: Steps that read no database of an earlier step.
IMPORT_STEPS = ("import", "import-messy", "import-xlsx")
#: The share link in a fresh browser (bench/share_link.py): the sample data, not the sizes; its section of the
#: report sits between these marks and is kept when a run does not measure it.
SHARE_STEP = "share-link"
SHARE_MARKS = ("<!-- share-link -->", "<!-- /share-link -->")
#: Several sessions at once against one server (bench/load.py; ``load`` is the first-load step): its own database
#: and server, at the largest size; its section of the report sits between these marks, kept as the share link's.
LOAD_STEP = "concurrent"
LOAD_MARKS = ("<!-- concurrent -->", "<!-- /concurrent -->")
#: Steps that each write a section of their own, not a row per size.
SECTION_STEPS = (SHARE_STEP, LOAD_STEP)

# Targets at 1,000,000 treatments (issue 6).
TARGET_IMPORT_RATIO = 2.0          # clean export (was 4x)
TARGET_MESSY_IMPORT_RATIO = 3.0    # messy export, 0.5 % bad rows
TARGET_IMPORT_PEAK_MB = 1536.0     # either export (was 2 GB)
TARGET_PEAK_MB = 2048.0
TARGET_LOAD_S = 3.0
TARGET_FILTER_MS = 300.0
TARGET_RERUN_MS = 150.0
# Target at 100,000 treatments (the largest workbook written: a 1M-row .xlsx takes minutes to write).
TARGET_XLSX_RATIO = 3.0            # workbook import / pandas.read_excel(engine="calamine")
XLSX_TARGET_SIZE = 100_000
TARGET_APPEND_S = 3.0              # 10,000 new treatments added to the dataset (import_files + add_records)
TARGET_APPEND_LOAD_S = 2.0         # the next first load of that dataset


# ------------------------------------------------------------------------------------------------
# helpers shared by parent and children
# ------------------------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def cpu_s() -> float:
    """CPU seconds (user + system, every thread) this process has used so far: on a shared machine, the
    figure the other processes do not change (wall time grows with the load average)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def data_files(data_dir: Path, size: int) -> tuple[Path, Path]:
    folder = data_dir / f"n{size}"
    return folder / f"{PREFIX}_outcomes.csv", folder / f"{PREFIX}_side_effects.csv"


def db_url(data_dir: Path, size: int, messy: bool = False) -> str:
    return f"sqlite:///{data_dir / f'n{size}' / ('bench-messy.db' if messy else 'bench.db')}"


def remove_db(url: str) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def page_calls(until: date) -> list[tuple[str, tuple]]:
    """Every statistics call the pages make through ``ui.compute`` (name, extra arguments), in page order,
    plus the two FUNCTIONS no page calls yet (procedure_time, cost), so every function is timed once."""
    return [
        ("overview", ()), ("downtime_headline", ()), ("improvement_headline", ()),    # dashboard.py
        ("skin_tone", ()), ("top_findings", (until,)),                                  # dashboard.py
        ("downtime", ()),                                                               # 2_Downtime
        ("improvement", ()), ("satisfaction", ()),                                      # 3_Results
        ("side_effects", (until,)),                                                     # 5_Side_effects
        ("monthly", (until,)), ("funnel", ("clinic",)), ("funnel", ("practitioner",)),  # 6_Trends
        ("claims", ()),                                                                 # 7_Article_check
        ("procedure_time", ()), ("cost", ()),                                           # not on a page yet
    ]


def call_label(name: str, extra: tuple) -> str:
    shown = [a for a in extra if isinstance(a, str)]
    return name + (f"({', '.join(shown)})" if shown else "")


def warm_up(records: Any) -> None:
    """Run the statistics once on a few thousand rows so library imports (statsmodels, scipy.optimize)
    and first-call overheads are not counted as 'cold': a running app server has paid them already."""
    from analysis.records.filters import Filters, apply_filters, prepare
    from analysis.records.store import Records
    from ui.compute import run

    out = records.outcomes.head(3000)
    side = records.side_effects[records.side_effects["treatment_id"].isin(out["treatment_id"])]
    small = prepare(Records(out.reset_index(drop=True), side.reset_index(drop=True), records.side_effects_recorded))
    for name, extra in page_calls(date.today()):
        run(name, ("warm-up",), extra, small)
    clinic = out["clinic"].dropna().iloc[0]
    apply_filters(small, Filters(clinics=(clinic,), fitzpatrick_types=FITZ_FILTER))


def quiet_streamlit() -> None:
    """Streamlit warns about a missing runtime when its caches are used outside ``streamlit run``."""
    import logging

    for name in ("streamlit", "streamlit.runtime", "streamlit.runtime.caching",
                 "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ------------------------------------------------------------------------------------------------
# the messy export: the same records as a European Excel export writes them
# ------------------------------------------------------------------------------------------------

MESSY_PREFIX = "bench_messy"
MESSY_FORMAT = 1          # bump when write_messy changes what it writes: cached files are then rewritten
BAD_SHARE = 0.005         # share of the outcome rows given one impossible value
#: (schema column, value the import must reject), a third of the bad rows each
BAD_VALUES = (("treatment_date", "31/02/2024"), ("fitzpatrick_type", "VII"), ("downtime_days", "-3"))
#: Header synonyms the schema accepts (analysis/records/schema.py), as a clinic's spreadsheet names them.
MESSY_OUTCOME_HEADERS = {
    "treatment_id": "Treatment ID", "patient_id": "Patient code", "clinic": "Location", "treatment_date": "Date",
    "modality": "Laser type", "device": "Device name", "treatment_area": "Treated area",
    "fitzpatrick_type": "Skin type", "downtime_days": "Downtime (days)", "improvement_score": "Improvement score",
    "satisfaction": "Satisfaction (1-5)", "procedure_minutes": "Duration (minutes)", "cost": "Price",
    "practitioner": "Treated by", "follow_up_visits": "Follow-ups",
}
MESSY_FLAG = ("PIH", "hyperpigmentation")  # a yes/no column in the outcome file instead of side-effect rows
MESSY_SIDE_HEADERS = {"treatment_id": "Treatment ID", "effect": "Side effect", "severity": "Grade",
                      "onset_day": "Onset (days)", "resolved_day": "Resolved (days)"}
UTF8_BOM = b"\xef\xbb\xbf"


def messy_files(data_dir: Path, size: int) -> tuple[Path, Path]:
    folder = data_dir / f"n{size}"
    return folder / f"{MESSY_PREFIX}_outcomes.csv", folder / f"{MESSY_PREFIX}_side_effects.csv"


def messy_marker(data_dir: Path, size: int) -> Path:
    """JSON next to the messy files: how they were made and what their import must reject."""
    return data_dir / f"n{size}" / "messy.json"


def messy_key(size: int) -> dict:
    return {"size": size, "seed": SEED, "format": MESSY_FORMAT, "bad_share": BAD_SHARE}


def _read_text_table(path: Path):
    """A CSV with every column as text, exactly as written (empty cells stay empty strings)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, encoding="utf-8") as f:
        names = f.readline().rstrip("\n").split(",")
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False))


def _write_semicolon_csv(table: Any, headers: list[str], path: Path) -> None:
    """UTF-8 with a BOM, ``;`` between cells, nothing quoted (pyarrow refuses a value that would need quotes)."""
    import pyarrow.csv as pacsv

    with open(path, "wb") as f:
        f.write(UTF8_BOM + ";".join(headers).encode("utf-8") + b"\n")
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, delimiter=";", quoting_style="none"))


def write_messy(clean: tuple[Path, Path], messy: tuple[Path, Path], seed: int = SEED) -> dict:
    """Write the generated records the way a European Excel export looks (vectorised, seconds at 1M rows).

    UTF-8 with a BOM, ``;`` delimiter, decimal comma (every ``.`` in a number column, e.g. cost ``1003,50``;
    the generator's downtimes are whole days), dates dd/mm/yyyy, header synonyms, hyperpigmentation as a
    yes/no ``PIH`` column of the outcome file (its rows leave the side-effect file), and ``BAD_SHARE`` of the
    outcome rows with one impossible value each (``BAD_VALUES``, a third each). Bad rows are drawn (seeded)
    from the treatments without any side effect, so the import rejects exactly them and no side-effect row
    follows them out. Returns what the import must report (written to :func:`messy_marker` by the caller)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from analysis.records import schema
    from analysis.records.ingest import plan_columns

    outcomes, side = _read_text_table(clean[0]), _read_text_table(clean[1])
    n = outcomes.num_rows
    ids = outcomes.column("treatment_id")
    pih = pc.equal(side.column("effect"), MESSY_FLAG[1])
    flag = pc.if_else(pc.is_in(ids, value_set=side.column("treatment_id").filter(pih)), "yes", "no")

    columns: dict[str, Any] = {}
    for col in schema.OUTCOME_COLUMNS:
        values = outcomes.column(col.name)
        if col.type == "date":  # YYYY-MM-DD -> dd/mm/yyyy
            values = pc.binary_join_element_wise(*(pc.utf8_slice_codeunits(values, a, b)
                                                   for a, b in ((8, 10), (5, 7), (0, 4))), "/")
        elif col.type in ("number", "integer"):
            values = pc.replace_substring(values, ".", ",")
        columns[col.name] = values

    # bad rows: seeded, spread through the file, among treatments with no side-effect row
    has_side = pc.is_in(ids, value_set=side.column("treatment_id")).to_numpy(zero_copy_only=False)
    rng = np.random.default_rng(seed)
    n_bad = round(n * BAD_SHARE)
    bad = np.sort(rng.choice(np.flatnonzero(~has_side), size=n_bad, replace=False))
    kind = rng.permutation(np.arange(n_bad) % len(BAD_VALUES))
    by_column = {}
    for i, (name, value) in enumerate(BAD_VALUES):
        mask = np.zeros(n, dtype=bool)
        mask[bad[kind == i]] = True
        columns[name] = pc.if_else(pa.array(mask), pa.scalar(value, pa.string()), columns[name])
        by_column[MESSY_OUTCOME_HEADERS[name]] = int(mask.sum())

    headers = [MESSY_OUTCOME_HEADERS[name] for name in columns] + [MESSY_FLAG[0]]
    plan = plan_columns(headers, "outcomes")  # the synonyms must be ones the schema accepts
    if plan.mapping != {MESSY_OUTCOME_HEADERS[c]: c for c in schema.OUTCOME_NAMES} \
            or plan.flags != {MESSY_FLAG[0]: MESSY_FLAG[1]}:
        raise RuntimeError(f"messy outcome headers not read as meant: {plan}")
    side_plan = plan_columns(list(MESSY_SIDE_HEADERS.values()), "side_effects")
    if side_plan.mapping != {v: k for k, v in MESSY_SIDE_HEADERS.items()}:
        raise RuntimeError(f"messy side-effect headers not read as meant: {side_plan}")

    messy[0].parent.mkdir(parents=True, exist_ok=True)
    _write_semicolon_csv(pa.table([*columns.values(), flag], names=headers), headers, messy[0])
    kept = side.filter(pc.invert(pih)).select(list(MESSY_SIDE_HEADERS))
    _write_semicolon_csv(kept, list(MESSY_SIDE_HEADERS.values()), messy[1])
    return {**messy_key(n), "rows_rejected": n_bad, "rejected_rows": (bad + 2).tolist(),  # header = row 1
            "rejected_by_column": by_column, "treatments": n - n_bad, "side_effects": side.num_rows,
            "pih_flags": int(pc.sum(pc.equal(flag, "yes")).as_py() or 0)}


def check_messy_import(result: Any, info: Any, expected: dict, outcome_file: str) -> dict:
    """The messy import must reject exactly the bad rows (by row number and column) and keep everything
    else: raises AssertionError otherwise, which fails the step (the bench then exits 1)."""
    report = result.report
    problems = report.problems
    rejected = problems[problems["severity"] == "rejected"]
    rows = sorted({int(r) for r in rejected.loc[rejected["file"] == outcome_file, "row"]})
    by_column = {str(k): int(v) for k, v in rejected.groupby("column").size().items()}
    got = {"rows_rejected": int(info.rows_rejected), "report_rows_rejected": int(report.rows_rejected),
           "rejected_by_column": by_column, "treatments": int(info.treatments),
           "side_effects": int(info.side_effects)}
    wrong = [f"{k}: {got[k]} (expected {expected[k.removeprefix('report_')]})" for k in got
             if got[k] != expected[k.removeprefix("report_")]]
    if rows != expected["rejected_rows"]:
        missed = sorted(set(expected["rejected_rows"]) - set(rows))[:5]
        extra = sorted(set(rows) - set(expected["rejected_rows"]))[:5]
        wrong.append(f"rejected rows differ (e.g. not rejected: {missed}; rejected but not bad: {extra})")
    if wrong:
        raise AssertionError("the messy import did not reject exactly the bad rows: " + "; ".join(wrong))
    return {**got, "warnings": int((problems["severity"] == "warning").sum())}


# ------------------------------------------------------------------------------------------------
# the workbook: the same records as an .xlsx with typed cells
# ------------------------------------------------------------------------------------------------

XLSX_NAME = "bench_workbook.xlsx"
XLSX_FORMAT = 1              # bump when write_xlsx changes what it writes: a cached workbook is then rewritten
XLSX_MAX_SIZE = 100_000      # the step runs at sizes up to this (--xlsx-max-size), 10,000 with --quick
XLSX_QUICK_MAX_SIZE = 10_000
XLSX_SHEETS = ("Outcomes", "Side effects")
XLSX_DATE_FORMAT = "dd/mm/yyyy"  # a date cell shows as a clinic's Excel would; its value is a day number
EXCEL_DAY_1970 = 25569           # 1970-01-01 as an Excel day number (1900 date system)
#: How each of a workbook-reading library's timings is taken (``--what`` of the child step ``xlsx-read``).
XLSX_READERS = {
    "read_excel": 'pandas.read_excel(path, sheet_name=None, engine="calamine")',
    "fastexcel": "fastexcel.read_excel(path).load_sheet(name).to_arrow() for both sheets",
    "calamine": "python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_name(name).to_python() for both sheets",
}


def xlsx_file(data_dir: Path, size: int) -> Path:
    return data_dir / f"n{size}" / XLSX_NAME


def xlsx_marker(data_dir: Path, size: int) -> Path:
    """JSON next to the workbook: how it was made (the cached file is reused while this matches)."""
    return data_dir / f"n{size}" / "xlsx.json"


def xlsx_key(size: int) -> dict:
    return {"size": size, "seed": SEED, "format": XLSX_FORMAT}


def _read_typed_table(path: Path, columns: tuple) -> Any:
    """A generated CSV with the schema's text columns as text (an id stays as written), its date columns as
    dates and every other column as pyarrow infers it (numbers); empty text cells stay empty strings."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, encoding="utf-8") as f:
        names = f.readline().rstrip("\n").split(",")
    kinds = {c.name: c.type for c in columns}
    types = {n: pa.date32() if kinds.get(n) == "date" else pa.string() for n in names
             if kinds.get(n) not in ("number", "integer", "fitzpatrick")}
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False))


def _write_sheet(book: Any, name: str, table: Any, date_format: Any) -> None:
    """One sheet: the column names in row 1, then one row per record; a date as a date cell (its Excel day
    number with a date format, which is what ``write_datetime`` writes), a number as a number cell, text as a
    text cell; a missing value as no cell. Rows in order, as ``constant_memory`` needs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sheet = book.add_worksheet(name)
    sheet.write_row(0, 0, table.column_names)
    columns = []
    for c, field in enumerate(table.schema):
        values = table.column(c)
        if pa.types.is_date32(field.type):
            columns.append((c, sheet.write_number, pc.add(values.cast(pa.int32()), EXCEL_DAY_1970).to_pylist(),
                            date_format))
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            columns.append((c, sheet.write_number, values.to_pylist(), None))
        else:
            columns.append((c, sheet.write_string, values.to_pylist(), None))
    for r in range(table.num_rows):
        for c, write, values, cell_format in columns:
            value = values[r]
            if value is None or value == "":
                continue
            if cell_format is None:
                write(r + 1, c, value)
            else:
                write(r + 1, c, value, cell_format)


def write_xlsx(clean: tuple[Path, Path], path: Path) -> dict:
    """Write the generated records as one workbook (XlsxWriter, ``constant_memory``): sheet "Outcomes" and
    sheet "Side effects", typed cells (see :func:`_write_sheet`). About 16 s at 100,000 treatments, 1.6 s
    at 10,000 (XlsxWriter writes cell by cell in Python), hence the cache and the size limit."""
    import xlsxwriter

    from analysis.records import schema

    outcomes = _read_typed_table(clean[0], schema.OUTCOME_COLUMNS)
    side = _read_typed_table(clean[1], schema.SIDE_EFFECT_COLUMNS)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.xlsx")
    book = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
    date_format = book.add_format({"num_format": XLSX_DATE_FORMAT})
    for name, table in zip(XLSX_SHEETS, (outcomes, side)):
        _write_sheet(book, name, table, date_format)
    book.close()
    partial.replace(path)
    return {**xlsx_key(outcomes.num_rows), "treatments": outcomes.num_rows, "side_effects": side.num_rows,
            "sheets": list(XLSX_SHEETS)}


def check_xlsx_import(book: Any, csv: Any, size: int) -> dict:
    """The workbook's import must give the records the CSV import of the same rows gives: the same counts,
    downtime total and set of dates, the same tables of canonical values, and no row rejected by either.
    Raises AssertionError otherwise, which fails the step (the bench then exits 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def table(result: Any, kind: str) -> Any:
        held = result.records(kind)
        return held if isinstance(held, pa.Table) else pa.Table.from_pandas(held, preserve_index=False)

    def facts(result: Any) -> dict:
        out = table(result, "outcomes")
        dates = pc.unique(out.column("treatment_date")).to_pylist()
        return {"treatments": result.count("outcomes"), "side_effects": result.count("side_effects"),
                "downtime_days_sum": float(pc.sum(out.column("downtime_days")).as_py() or 0),
                "dates": len(dates), "first_date": str(min(dates)) if dates else None,
                "last_date": str(max(dates)) if dates else None,
                "rows_rejected": int(result.report.rows_rejected), "problems": len(result.report.problems)}

    got, want = facts(book), facts(csv)
    wrong = [f"{k}: {got[k]} from the workbook, {want[k]} from the CSV files" for k in got if got[k] != want[k]]
    if got["treatments"] != size:
        wrong.append(f"treatments: {got['treatments']} from the workbook, {size} generated")
    if got["rows_rejected"]:
        wrong.append(f"the workbook import rejected {got['rows_rejected']} row(s)")
    book_dates = set(pc.unique(table(book, "outcomes").column("treatment_date")).to_pylist())
    if book_dates != set(pc.unique(table(csv, "outcomes").column("treatment_date")).to_pylist()):
        wrong.append("the sets of treatment dates differ")
    for kind in ("outcomes", "side_effects"):
        a, b = table(book, kind), table(csv, kind)
        if a.column_names != b.column_names:
            wrong.append(f"{kind}: columns {a.column_names} from the workbook, {b.column_names} from the CSV files")
            continue
        differ = [n for n in a.column_names if not a.column(n).equals(b.column(n))]
        if differ:
            wrong.append(f"{kind}: values differ in {', '.join(differ)}")
    if wrong:
        raise AssertionError("the workbook import did not give the CSV import's records: " + "; ".join(wrong))
    return {**got, "same_as_csv": True}
# the append: 10,000 treatments the dataset does not hold, added to it as a clinic's next export
# ------------------------------------------------------------------------------------------------

APPEND_PREFIX = "bench_append"
APPEND_ROWS = 10_000
APPEND_SEED = SEED + 1    # other records than the dataset's ...
APPEND_IDS = ("A", "Q")   # ... under new ids: treatments T... -> A..., patients P... -> Q... (never in the dataset)
APPEND_FORMAT = 1         # bump when write_append changes what it writes: cached files are then rewritten


def append_files(data_dir: Path) -> tuple[Path, Path]:
    """The file of new treatments (and its side-effect file): the same for every size."""
    folder = data_dir / "append"
    return folder / f"{APPEND_PREFIX}_outcomes.csv", folder / f"{APPEND_PREFIX}_side_effects.csv"


def append_key() -> dict:
    return {"rows": APPEND_ROWS, "seed": APPEND_SEED, "ids": list(APPEND_IDS), "format": APPEND_FORMAT}


def append_marker(data_dir: Path) -> Path:
    return data_dir / "append" / "append.json"


def write_append(files: tuple[Path, Path], n: int = APPEND_ROWS, seed: int = APPEND_SEED) -> dict:
    """``n`` generated treatments (``data/generate_sample.py``, another seed) with new treatment and patient ids,
    as the canonical CSVs: dates spread over the same two years as the dataset's, so the merged records must
    be put in load order again (the harder case; a month appended after the last date would already be)."""
    sys.path.insert(0, str(ROOT / "data"))
    from generate_sample import generate, write_csvs

    outcomes, side = generate(n, seed)
    new_id, new_patient = APPEND_IDS
    outcomes["treatment_id"] = new_id + outcomes["treatment_id"].str[1:]
    outcomes["patient_id"] = new_patient + outcomes["patient_id"].str[1:]
    side["treatment_id"] = new_id + side["treatment_id"].str[1:]
    folder = files[0].parent
    written = write_csvs(outcomes, side, folder, prefix=APPEND_PREFIX)
    if tuple(written) != tuple(files):
        raise RuntimeError(f"append files written as {written}, expected {files}")
    return {**append_key(), "treatments": len(outcomes), "side_effects": len(side)}


def copy_db(source: str, target: str) -> None:
    """A copy of a SQLite database (the backup API: consistent even with a write-ahead log)."""
    import sqlite3

    remove_db(target)
    src = sqlite3.connect(source.removeprefix("sqlite:///"))
    dst = sqlite3.connect(target.removeprefix("sqlite:///"))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _clock(totals: dict[str, float], targets: list[tuple[Any, str, str]]) -> Callable[[], None]:
    """Add up the wall time spent inside each ``owner.name`` (as ``totals[label]``) until the returned
    function restores them. Targets that do not exist are skipped."""
    restore = []
    for owner, name, label in targets:
        original = getattr(owner, name, None)
        if original is None:
            continue

        def wrapper(*a: Any, __f: Callable = original, __label: str = label, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return __f(*a, **k)
            finally:
                totals[__label] = totals.get(__label, 0.0) + time.perf_counter() - start
        setattr(owner, name, wrapper)
        restore.append((owner, name, original))
    totals.update({label: totals.get(label, 0.0) for _, _, label in targets})

    def undo() -> None:
        for owner, name, original in restore:
            setattr(owner, name, original)
    return undo


def check_append(before: Any, after: Any, change: Any, expected: dict) -> dict:
    """The append must have added exactly the file's treatments and side effects, and nothing else: raises
    AssertionError otherwise, which fails the step."""
    got = {"new": change.new, "updated": change.updated, "unchanged": change.unchanged, "rejected": change.rejected,
           "treatments_added": after.treatments - before.treatments,
           "side_effects_added": after.side_effects - before.side_effects,
           "version_step": after.version - before.version}
    want = {"new": expected["treatments"], "updated": 0, "unchanged": 0, "rejected": 0,
            "treatments_added": expected["treatments"], "side_effects_added": expected["side_effects"],
            "version_step": 1}
    wrong = [f"{k}: {got[k]} (expected {want[k]})" for k in want if got[k] != want[k]]
    if (change.treatments, change.side_effects) != (after.treatments, after.side_effects):
        wrong.append(f"the change reports {change.treatments} treatments, the dataset holds {after.treatments}")
    if wrong:
        raise AssertionError("the append did not add exactly the file's records: " + "; ".join(wrong))
    return got


# ------------------------------------------------------------------------------------------------
# child steps: each prints one JSON line prefixed with RESULT_MARK
# ------------------------------------------------------------------------------------------------

def step_generate(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT / "data"))
    from generate_sample import write_sample

    outcomes, side = data_files(args.data_dir, args.size)
    seconds, _ = timed(lambda: write_sample(outcomes.parent, args.size, SEED, prefix=PREFIX))
    (outcomes.parent / "done.json").write_text(json.dumps({"size": args.size, "seed": SEED}))
    return {"seconds": seconds, "peak_mb": peak_rss_mb()}


def step_messy(args: argparse.Namespace) -> dict:
    """Write the messy export from the generated clean CSVs (see :func:`write_messy`)."""
    marker = messy_marker(args.data_dir, args.size)
    marker.unlink(missing_ok=True)
    seconds, expected = timed(lambda: write_messy(data_files(args.data_dir, args.size),
                                                  messy_files(args.data_dir, args.size)))
    marker.write_text(json.dumps(expected))
    return {"seconds": seconds, "rows_rejected": expected["rows_rejected"], "peak_mb": peak_rss_mb()}


def input_files(args: argparse.Namespace) -> tuple[Path, Path]:
    return (messy_files if args.variant == "messy" else data_files)(args.data_dir, args.size)


def step_floor(args: argparse.Namespace) -> dict:
    """The floor: a bare pandas.read_csv(engine="pyarrow") of the same two files (``sep=";"`` for the messy
    export), timed once in a fresh process, as the import is (the caller repeats the step)."""
    import pandas as pd
    import pyarrow  # noqa: F401  (imported before timing, like pandas)

    files = input_files(args)
    sep = ";" if args.variant == "messy" else ","
    seconds, frames = timed(lambda: [pd.read_csv(f, sep=sep, engine="pyarrow") for f in files])
    rows = sum(len(f) for f in frames)
    del frames
    return {"seconds": seconds, "rows": rows, "peak_mb": peak_rss_mb()}


def step_import(args: argparse.Namespace) -> dict:
    """import_files (read + parse + validate) then Store(SQLite).import_dataset, into a fresh database.
    The messy export goes into a database of its own, and its rejected rows are checked after the timing."""
    from analysis.records.ingest import SourceFile, import_files
    from analysis.records.store import Store

    messy = args.variant == "messy"
    outcomes, side = input_files(args)
    expected = json.loads(messy_marker(args.data_dir, args.size).read_text()) if messy else None
    url = args.db or db_url(args.data_dir, args.size, messy)
    remove_db(url)
    start = time.perf_counter()
    sources = (SourceFile.from_path(outcomes), SourceFile.from_path(side))
    result = import_files(*sources)
    parsed = time.perf_counter()
    peak_after_parse = peak_rss_mb()
    store = Store(url)
    info = store.import_dataset(result, f"bench {args.size}")
    stored = time.perf_counter()
    store.engine.dispose()
    out = {"seconds": stored - start, "parse_validate_s": parsed - start, "store_s": stored - parsed,
           "peak_mb": peak_rss_mb(), "peak_after_parse_mb": peak_after_parse, "dataset_id": info.id,
           "treatments": info.treatments, "side_effects": info.side_effects,
           "rows_rejected": info.rows_rejected, "db_mb": Path(url.removeprefix("sqlite:///")).stat().st_size / 2**20}
    if messy:  # after the timing and the peak: proves the import measured is the one meant
        out.update(check_messy_import(result, info, expected, outcomes.name))
    return out


def step_xlsx(args: argparse.Namespace) -> dict:
    """Write the workbook from the generated clean CSVs (see :func:`write_xlsx`)."""
    marker = xlsx_marker(args.data_dir, args.size)
    marker.unlink(missing_ok=True)
    path = xlsx_file(args.data_dir, args.size)
    seconds, info = timed(lambda: write_xlsx(data_files(args.data_dir, args.size), path))
    marker.write_text(json.dumps(info))
    return {"seconds": seconds, "mb": path.stat().st_size / 2**20, "peak_mb": peak_rss_mb()}


def step_import_xlsx(args: argparse.Namespace) -> dict:
    """``import_files`` of the workbook (read, parse, validate; nothing stored), timed once in a fresh process.
    After the timing and the peak, the CSV files of the same rows are imported too and the records compared
    (:func:`check_xlsx_import`), so the figure is the import of the records meant."""
    from analysis.records.ingest import SourceFile, import_files

    path = xlsx_file(args.data_dir, args.size)
    start = time.perf_counter()
    result = import_files(SourceFile.from_path(path))
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    csv = import_files(*(SourceFile.from_path(p) for p in data_files(args.data_dir, args.size)))
    return {"seconds": seconds, "peak_mb": peak, "sheets_read": len(result.report.files),
            **check_xlsx_import(result, csv, args.size)}


def step_xlsx_read(args: argparse.Namespace) -> dict:
    """One library reading both sheets of the workbook (``--what``: see ``XLSX_READERS``), timed once in a fresh
    process with the library imported first (the caller repeats the step and keeps the fastest)."""
    import pandas as pd
    import pyarrow  # noqa: F401  (imported before timing, like pandas)

    path = xlsx_file(args.data_dir, args.size)
    if args.what == "read_excel":
        import python_calamine  # noqa: F401  (pandas' engine, imported before timing)

        seconds, frames = timed(lambda: pd.read_excel(path, sheet_name=None, engine="calamine"))
        rows = [len(frames[name]) for name in XLSX_SHEETS]
    elif args.what == "fastexcel":
        import fastexcel

        def read() -> list:
            reader = fastexcel.read_excel(path)
            return [reader.load_sheet(name).to_arrow() for name in XLSX_SHEETS]
        seconds, tables = timed(read)
        rows = [t.num_rows for t in tables]
    elif args.what == "calamine":
        import python_calamine as calamine

        def read() -> list:
            book = calamine.CalamineWorkbook.from_path(str(path))
            return [book.get_sheet_by_name(name).to_python() for name in XLSX_SHEETS]
        seconds, sheets = timed(read)
        rows = [len(s) - 1 for s in sheets]  # the header row is a row here
    else:
        raise SystemExit(f"unknown workbook reader {args.what}")
    return {"seconds": seconds, "rows": rows, "peak_mb": peak_rss_mb()}
def step_append_data(args: argparse.Namespace) -> dict:
    """Write the file of new treatments (see :func:`write_append`)."""
    marker = append_marker(args.data_dir)
    marker.unlink(missing_ok=True)
    seconds, expected = timed(lambda: write_append(append_files(args.data_dir)))
    marker.write_text(json.dumps(expected))
    return {"seconds": seconds, **expected, "peak_mb": peak_rss_mb()}


#: What the append's split is measured from: (module or object, function, label), patched while it runs.
def _append_phases(store: Any) -> list[tuple[Any, str, str]]:
    from analysis.records import db, versions

    read = (versions, "_read_current") if hasattr(versions, "_read_current") else (store, "load")
    return [(*read, "read_s"), (versions, "merge", "merge_s"), (db, "_encode_copies", "encode_s"),
            (versions, "_write_version", "encode_write_s")]


def step_append(args: argparse.Namespace) -> dict:
    """10,000 new treatments added to the clean import's dataset, in a copy of its database (so the other steps
    still see the original): ``import_files`` of the append file, then ``versions.add_records`` into the
    dataset, timed in this fresh process with the store already open (as in a running app). After the timing,
    checks that the dataset grew by exactly the file's treatments and side effects (the step fails otherwise)."""
    from analysis.records import versions
    from analysis.records.ingest import SourceFile, import_files
    from analysis.records.store import Store

    expected = json.loads(append_marker(args.data_dir).read_text())
    copy_db(db_url(args.data_dir, args.size), args.db)
    opened_at = time.perf_counter()
    store = Store(args.db)
    before = store.get(args.dataset)
    open_s = time.perf_counter() - opened_at
    phases: dict[str, float] = {}
    undo = _clock(phases, _append_phases(store))
    try:
        start, cpu_start = time.perf_counter(), cpu_s()
        result = import_files(*(SourceFile.from_path(p) for p in append_files(args.data_dir)))
        parsed = time.perf_counter()
        change = versions.add_records(store, args.dataset, result)
        added, cpu = time.perf_counter(), cpu_s() - cpu_start
    finally:
        undo()
    peak = peak_rss_mb()
    got = check_append(before, store.get(args.dataset), change, expected)
    store.engine.dispose()
    split = {"parse_s": parsed - start, "add_s": added - parsed, **phases}
    if "encode_write_s" in split:
        split["write_s"] = split.pop("encode_write_s") - split.get("encode_s", 0.0)
    split["other_s"] = split["add_s"] - sum(split.get(k, 0.0) for k in ("read_s", "merge_s", "encode_s", "write_s"))
    return {"seconds": added - start, "cpu_s": cpu, **split, "open_s": open_s, "peak_mb": peak, **got,
            "treatments": before.treatments + got["treatments_added"], "version": change.version,
            "db_mb": Path(args.db.removeprefix("sqlite:///")).stat().st_size / 2**20}


def step_load(args: argparse.Namespace) -> dict:
    """First load of a stored dataset in a fresh process, as ``ui.setup.load_records`` does it:
    ``prepare(Store(url).load(id))`` (the records plus their effect flags and side-effect positions)."""
    import pandas  # noqa: F401  (a running app has pandas imported)

    from analysis.records.filters import prepare
    from analysis.records.store import Store

    start, cpu_start = time.perf_counter(), cpu_s()
    store = Store(args.db)
    opened = time.perf_counter()
    records = store.load(args.dataset)
    read = time.perf_counter()
    records = prepare(records)
    loaded, cpu = time.perf_counter(), cpu_s() - cpu_start
    mem = (records.outcomes.memory_usage(deep=True).sum() + records.side_effects.memory_usage(deep=True).sum())
    return {"seconds": loaded - start, "cpu_s": cpu, "open_s": opened - start, "load_s": read - opened,
            "prepare_s": loaded - read,
            "peak_mb": peak_rss_mb(), "frames_mb": mem / 2**20,
            "treatments": len(records.outcomes), "side_effects": len(records.side_effects)}


def _loaded_for_stats(args: argparse.Namespace):
    quiet_streamlit()
    from ui.setup import load_records

    store_load_s, records = timed(lambda: load_records(args.db, args.dataset, 1))
    warm_up(records)
    return records, store_load_s


def step_summary(args: argparse.Namespace) -> dict:
    """All pages' statistics, cold (first call through ui.compute's st.cache_data function, i.e. compute +
    pickle into the cache) and cached (the same call again: key hash + unpickle), plus summarise()."""
    import pickle
    from dataclasses import astuple

    from analysis.records.filters import Filters
    from analysis.records.store import Store
    from analysis.findings.summary import summarise
    from ui.compute import run

    records, _ = _loaded_for_stats(args)
    info = Store(args.db).get(args.dataset)
    until = info.created_at.date()
    key = (args.db, info.id, info.version, astuple(Filters()))
    rows = []
    for name, extra in page_calls(until):
        cold, result = timed(lambda: run(name, key, extra, records))
        hits = [timed(lambda: run(name, key, extra, records))[0] for _ in range(max(3, args.repeats))]
        rows.append({"call": call_label(name, extra), "cold_s": cold, "cached_ms": median(hits) * 1000,
                     "pickled_kb": len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)) / 1024})
    summarise_s, _ = timed(lambda: summarise(records, until))
    return {"calls": rows, "cold_s": sum(r["cold_s"] for r in rows),
            "cached_ms": sum(r["cached_ms"] for r in rows), "summarise_s": summarise_s,
            "peak_mb": peak_rss_mb()}


def _filters_for(records: Any) -> list:
    from analysis.records.filters import Filters

    clinics = sorted(records.outcomes["clinic"].dropna().unique().tolist())
    return [Filters(clinics=(c,), fitzpatrick_types=FITZ_FILTER) for c in clinics[:3]]


def step_filter(args: argparse.Namespace) -> dict:
    """A filter change the way a page does it: ui.setup.select (st.cache_resource around apply_filters)
    then the Skin tone statistics through ui.compute's cached function. Cold: a filter not seen before
    (median over one filter per clinic); cached: the same filter again."""
    from dataclasses import astuple

    from analysis.records.store import Store
    from ui.compute import run
    from ui.setup import select

    records, _ = _loaded_for_stats(args)
    info = Store(args.db).get(args.dataset)
    cold, apply_ms, stats_ms = [], [], []
    filters = _filters_for(records)
    for f in filters:
        key = (args.db, info.id, info.version, astuple(f))
        t_apply, sel = timed(lambda: select(args.db, info.id, info.version, f))
        t_stats, _ = timed(lambda: run("skin_tone", key, (), sel))
        cold.append(t_apply + t_stats)
        apply_ms.append(t_apply * 1000)
        stats_ms.append(t_stats * 1000)
    hits = []
    f = filters[0]
    key = (args.db, info.id, info.version, astuple(f))
    for _ in range(max(5, args.repeats)):
        hits.append(timed(lambda: run("skin_tone", key, (), select(args.db, info.id, info.version, f)))[0])
    return {"cold_ms": median(cold) * 1000, "apply_filters_ms": median(apply_ms),
            "skin_tone_ms": median(stats_ms), "cached_ms": median(hits) * 1000,
            "filters": [f.describe() for f in filters], "peak_mb": peak_rss_mb()}


def step_apptest(args: argparse.Namespace) -> dict:
    """pages/4_Skin_tone.py opened directly in AppTest against the benchmark database: first run (store,
    load, statistics, render), reruns of the same view (the cached path), a filter change from the
    sidebar (cold: a clinic + Fitzpatrick IV, V not seen before) and going back to an earlier filter."""
    quiet_streamlit()
    os.environ["LASERDASH_DB_URL"] = args.db
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / args.page), default_timeout=args.step_timeout)
    first, _ = timed(at.run)
    if at.exception:
        raise RuntimeError(f"page raised: {at.exception[0].value}")
    reruns = [timed(at.run)[0] for _ in range(max(3, args.repeats))]
    clinics = at.sidebar.multiselect(key="f_clinics").options
    roman = {4: "IV", 5: "V"}
    cold = []
    for clinic in clinics[:3]:
        at.sidebar.multiselect(key="f_clinics").set_value([clinic])
        at.sidebar.multiselect(key="f_fitz").set_value([roman[t] for t in FITZ_FILTER])
        cold.append(timed(at.run)[0])
        if at.exception:
            raise RuntimeError(f"page raised after a filter change: {at.exception[0].value}")
    back = []
    for _ in range(max(3, args.repeats)):
        for clinic in clinics[:2]:  # switch between two filters seen before: both cached
            at.sidebar.multiselect(key="f_clinics").set_value([clinic])
            back.append(timed(at.run)[0])
    return {"first_s": first, "rerun_ms": median(reruns) * 1000, "filter_cold_ms": median(cold) * 1000,
            "filter_cached_ms": median(back) * 1000, "peak_mb": peak_rss_mb()}


# --- profiling children -------------------------------------------------------------------------

def _profile(func: Callable[[], Any], top: int) -> dict:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    func()
    profiler.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"where": fn if file == "~" else f"{_short(file)}:{line}({fn})", "calls": nc, "tottime": tt, "cumtime": ct,
                     "ours": file.startswith(str(ROOT)) and "/.venv/" not in file
                     and not file.startswith(str(ROOT / "bench"))})
    by_tot = sorted(rows, key=lambda r: -r["tottime"])[:top]
    ours = sorted([r for r in rows if r["ours"]], key=lambda r: -r["cumtime"])[:top]
    return {"total_s": total, "by_tottime": by_tot, "ours_by_cumtime": ours}


def _short(file: str) -> str:
    if file.startswith(str(ROOT)) and "/.venv/" not in file:
        return str(Path(file).relative_to(ROOT))
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    return file if file.startswith("{") else Path(file).name


def step_profile(args: argparse.Namespace) -> dict:
    from dataclasses import astuple

    what = args.what
    if what == "import":
        from analysis.records.ingest import SourceFile, import_files
        from analysis.records.store import Store

        url = db_url(args.data_dir, args.size).replace("bench.db", "profile.db")
        remove_db(url)

        def run() -> None:
            result = import_files(*(SourceFile.from_path(p) for p in data_files(args.data_dir, args.size)))
            Store(url).import_dataset(result, "profile")
        try:
            return _profile(run, args.top)
        finally:
            remove_db(url)
    if what == "append":
        from analysis.records import versions
        from analysis.records.ingest import SourceFile, import_files
        from analysis.records.store import Store

        url = db_url(args.data_dir, args.size).replace("bench.db", "profile-append.db")
        copy_db(db_url(args.data_dir, args.size), url)
        store = Store(url)

        def append() -> None:
            result = import_files(*(SourceFile.from_path(p) for p in append_files(args.data_dir)))
            versions.add_records(store, args.dataset, result)
        try:
            return _profile(append, args.top)
        finally:
            store.engine.dispose()
            remove_db(url)
    if what == "load":
        from analysis.records.store import Store

        from analysis.records.filters import prepare

        return _profile(lambda: prepare(Store(args.db).load(args.dataset)), args.top)
    from analysis.records.store import Store
    from ui.compute import run
    from ui.setup import select

    records, _ = _loaded_for_stats(args)
    info = Store(args.db).get(args.dataset)
    if what == "filter":
        f = _filters_for(records)[0]
        key = (args.db, info.id, info.version, astuple(f))
        return _profile(lambda: run("skin_tone", key, (), select(args.db, info.id, info.version, f)), args.top)
    if what == "stats":
        from analysis.records.filters import Filters

        key = (args.db, info.id, info.version, astuple(Filters()))
        calls = page_calls(info.created_at.date())
        return _profile(lambda: [run(n, key, e, records) for n, e in calls], args.top)
    raise SystemExit(f"unknown profile target {what}")


CHILD_STEPS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "generate": step_generate, "messy": step_messy, "floor": step_floor, "import": step_import, "load": step_load,
    "append-data": step_append_data, "append": step_append,
    "summary": step_summary, "filter": step_filter, "apptest": step_apptest, "profile": step_profile,
    "xlsx": step_xlsx, "import-xlsx": step_import_xlsx, "xlsx-read": step_xlsx_read,
}


# ------------------------------------------------------------------------------------------------
# parent: run the children, collect, write the report
# ------------------------------------------------------------------------------------------------

class StepFailed(RuntimeError):
    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def run_child(step: str, args: argparse.Namespace, size: int, log_dir: Path, **extra: Any) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--size", str(size),
           "--data-dir", str(args.data_dir), "--repeats", str(args.repeats),
           "--step-timeout", str(args.step_timeout)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    tag = extra.get("what") or (Path(extra["page"]).stem if "page" in extra else None) \
        or (extra["variant"] if extra.get("variant") not in (None, "clean") else None)
    log = log_dir / f"{step}{'-' + tag if tag else ''}-{size}.log"
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONHASHSEED="0")
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.step_timeout)
    except subprocess.TimeoutExpired as exc:
        log.write_text("\n--- stderr ---\n".join(
            x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)))
        raise StepFailed(f"did not finish in {args.step_timeout / 60:g} min", timed_out=True) from None
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise StepFailed(f"failed (exit {proc.returncode}): {tail[-300:]}")
    out = json.loads(lines[-1][len(RESULT_MARK):])
    out["wall_s"] = time.perf_counter() - started
    return out


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def bench_size(args: argparse.Namespace, size: int, log_dir: Path) -> dict:
    res: dict[str, Any] = {"size": size, "errors": {}}
    steps = args.steps

    def step(name: str, **extra: Any) -> dict | None:
        try:
            out = run_child(name, args, size, log_dir, **extra)
        except StepFailed as exc:
            label = name + (f" ({extra['variant']})" if extra.get("variant") not in (None, "clean") else "") \
                + (f" ({extra['what']})" if extra.get("what") else "")
            say(f"  {label}: {exc}")
            res["errors"][label] = str(exc)
            if not exc.timed_out:
                res.setdefault("crashed", []).append(label)
            return None
        return out

    outcomes, side = data_files(args.data_dir, size)
    marker = outcomes.parent / "done.json"
    fresh = args.fresh_data or not (outcomes.exists() and side.exists() and marker.exists()
                                    and json.loads(marker.read_text()) == {"size": size, "seed": SEED})
    if fresh:
        say(f"{size:,}: generating data in {outcomes.parent}")
        outcomes.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        if step("generate") is None:
            return res
    res["csv_mb"] = (outcomes.stat().st_size + side.stat().st_size) / 2**20

    def bench_import(variant: str, files: tuple[Path, Path]) -> dict | None:
        """The bare parse (fastest of --repeats fresh processes) and the import (median of --import-repeats)."""
        key = "" if variant == "clean" else "_" + variant
        for path in files:  # into the OS file cache, so no timed step is the one that reads the disk
            path.read_bytes()
        say(f"{size:,}: bare parse, {variant} export (pandas.read_csv engine=pyarrow; fresh process, x{args.repeats})")
        floors = [r for r in (step("floor", variant=variant) for _ in range(args.repeats)) if r]
        if floors:
            # The floor is the fastest run: a first run in a new series is sometimes twice as slow, and a slow
            # floor would flatter the import's ratio (the import is the median of its runs).
            res["floor" + key] = {"seconds": min(r["seconds"] for r in floors), "all": [r["seconds"] for r in floors],
                                  "rows": floors[0]["rows"], "peak_mb": max(r["peak_mb"] for r in floors)}
        import_repeats = args.import_repeats or args.repeats
        say(f"{size:,}: import, {variant} export (x{import_repeats})")
        runs = [r for r in (step("import", variant=variant) for _ in range(import_repeats)) if r]
        if not runs:
            return None
        imp = {k: median([r[k] for r in runs]) if isinstance(runs[0][k], float) else runs[-1][k] for k in runs[0]}
        imp["peak_mb"] = max(r["peak_mb"] for r in runs)
        imp["all"] = [r["seconds"] for r in runs]
        res["import" + key] = imp
        return imp

    def bench_xlsx() -> None:
        """The workbook (written once, then cached), its import (median of --import-repeats) and the
        libraries' reads of it (fastest of --repeats each), every one in a fresh process."""
        path, mark = xlsx_file(args.data_dir, size), xlsx_marker(args.data_dir, size)
        current = (not fresh and path.exists() and mark.exists()
                   and {k: v for k, v in json.loads(mark.read_text()).items() if k in xlsx_key(size)} == xlsx_key(size))
        if not current:
            say(f"{size:,}: writing the workbook {path.name} (XlsxWriter, constant_memory)")
            written = step("xlsx")
            if written is None:
                return
            res["xlsx_write"] = written
        res["xlsx_mb"] = path.stat().st_size / 2**20
        path.read_bytes()  # into the OS file cache
        import_repeats = args.import_repeats or args.repeats
        say(f"{size:,}: workbook import (import_files, no store; fresh process, x{import_repeats})")
        runs = [r for r in (step("import-xlsx") for _ in range(import_repeats)) if r]
        if runs:
            imp = {k: median([r[k] for r in runs]) if isinstance(runs[0][k], float) else runs[-1][k] for k in runs[0]}
            imp["peak_mb"] = max(r["peak_mb"] for r in runs)
            imp["all"] = [r["seconds"] for r in runs]
            res["xlsx_import"] = imp
        for what in XLSX_READERS:
            say(f"{size:,}: workbook read by {what} (fresh process, x{args.repeats})")
            reads = [r for r in (step("xlsx-read", what=what) for _ in range(args.repeats)) if r]
            if reads:  # the fastest, as for the bare parse
                res["xlsx_" + what] = {"seconds": min(r["seconds"] for r in reads), "all": [r["seconds"] for r in reads],
                                       "rows": reads[0]["rows"], "peak_mb": max(r["peak_mb"] for r in reads),
                                       "loadavg": max(r["loadavg"] for r in reads)}
    def bench_append(dataset: str, treatments: int) -> None:
        """10,000 new treatments added to a copy of the clean import's dataset (median of --repeats fresh
        processes, each on a new copy), then the next first load of it (median of --repeats)."""
        files, mark = append_files(args.data_dir), append_marker(args.data_dir)
        if not (all(p.exists() for p in files) and mark.exists()
                and {k: v for k, v in json.loads(mark.read_text()).items() if k in append_key()} == append_key()):
            say(f"writing the append file ({APPEND_ROWS:,} new treatments) in {files[0].parent}")
            if step("append-data") is None:
                return
        for path in files:
            path.read_bytes()
        target = db_url(args.data_dir, size).replace("bench.db", "bench-append.db")
        say(f"{size:,}: append {APPEND_ROWS:,} new treatments (import_files + versions.add_records; "
            f"fresh process, x{args.repeats})")
        runs = [r for r in (step("append", db=target, dataset=dataset) for _ in range(args.repeats)) if r]
        if not runs:
            return
        res["append"] = {k: median([r[k] for r in runs]) if isinstance(runs[0][k], float) else runs[-1][k]
                         for k in runs[0]}
        res["append"]["peak_mb"] = max(r["peak_mb"] for r in runs)
        res["append"]["all"] = [r["seconds"] for r in runs]
        say(f"{size:,}: first load after the append (fresh process, x{args.repeats})")
        loads = [r for r in (step("load", db=target, dataset=dataset) for _ in range(args.repeats)) if r]
        if loads:
            res["append_load"] = {k: median([r[k] for r in loads])
                                  for k in ("seconds", "cpu_s", "open_s", "load_s", "prepare_s", "frames_mb")}
            res["append_load"]["all"] = [r["seconds"] for r in loads]
            res["append_load"]["peak_mb"] = max(r["peak_mb"] for r in loads)
            res["append_load"]["loadavg"] = max(r["loadavg"] for r in loads)
            res["append_load"]["treatments"] = loads[-1]["treatments"]
            if loads[-1]["treatments"] != treatments + APPEND_ROWS:
                message = (f"the dataset loaded after the append holds {loads[-1]['treatments']:,} treatments, "
                           f"not {treatments:,} + {APPEND_ROWS:,}")
                say(f"  append: {message}")
                res["errors"]["append"] = message
                res.setdefault("crashed", []).append("append")

    imported = bench_import("clean", (outcomes, side)) if "import" in steps else None
    if imported is not None and "append" in steps:
        bench_append(imported["dataset_id"], imported["treatments"])

    if "import-messy" in steps:
        messy = messy_files(args.data_dir, size)
        messy_mark = messy_marker(args.data_dir, size)
        current = (not fresh and all(p.exists() for p in messy) and messy_mark.exists()
                   and {k: v for k, v in json.loads(messy_mark.read_text()).items() if k in messy_key(size)}
                   == messy_key(size))
        if not current:
            say(f"{size:,}: writing the messy export in {messy[0].parent}")
            current = step("messy") is not None
        if current:
            res["messy_csv_mb"] = sum(p.stat().st_size for p in messy) / 2**20
            res["messy_expected_rejected"] = json.loads(messy_mark.read_text())["rows_rejected"]
            bench_import("messy", messy)

    if "import-xlsx" in steps and size <= args.xlsx_max_size:
        bench_xlsx()

    if imported is None:
        return res  # the later steps read the clean import's dataset
    db = db_url(args.data_dir, size)
    dataset = imported["dataset_id"]
    if "load" in steps:
        say(f"{size:,}: first load (fresh process, x{args.repeats})")
        loads = [r for r in (step("load", db=db, dataset=dataset) for _ in range(args.repeats)) if r]
        if loads:
            res["load"] = {k: median([r[k] for r in loads])
                           for k in ("seconds", "cpu_s", "open_s", "load_s", "prepare_s", "frames_mb")}
            res["load"]["all"] = [r["seconds"] for r in loads]
            res["load"]["peak_mb"] = max(r["peak_mb"] for r in loads)
    if "stats" in steps:
        say(f"{size:,}: all pages' statistics, cold and cached")
        res["summary"] = step("summary", db=db, dataset=dataset)
    if "filter" in steps:
        say(f"{size:,}: filter change (clinic + Fitzpatrick IV, V)")
        res["filter"] = step("filter", db=db, dataset=dataset)
    if "page" in steps:
        say(f"{size:,}: AppTest {PAGE}")
        res["apptest"] = step("apptest", db=db, dataset=dataset)
    if "overview" in steps:
        say(f"{size:,}: AppTest {OVERVIEW} (filter changes only)")
        res["apptest_overview"] = step("apptest", db=db, dataset=dataset, page=OVERVIEW)
    if args.profile and size == max(args.sizes):
        res["profile"] = {}
        for what, needs in (("import", "import"), ("append", "append"), ("load", "load"), ("filter", "filter"),
                            ("stats", "stats")):
            if needs in steps:
                say(f"{size:,}: cProfile {what}")
                res["profile"][what] = step("profile", db=db, dataset=dataset, what=what, top=args.top)
    return res


# --- report -------------------------------------------------------------------------------------

def machine_info() -> list[str]:
    import numpy
    import pandas
    import pyarrow
    import sqlalchemy
    import streamlit

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return [
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; code: {code_version()}",
        f"- Machine: {os.cpu_count()} CPUs ({cpu}){mem}; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; pandas {pandas.__version__}; numpy {numpy.__version__}; "
        f"pyarrow {pyarrow.__version__}; SQLAlchemy {sqlalchemy.__version__}; streamlit {streamlit.__version__}",
    ]


def code_version() -> str:
    """The commit measured, and whether app files had uncommitted changes (the numbers belong to those)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "analysis", "ui", "pages", "dashboard.py"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not commit:
        return "unknown (no git)"
    return f"commit {commit}" + (f" with uncommitted changes in {len(changed)} app file(s)" if changed else "")


COLUMNS = ["treatments", "side-effect rows", "CSV MB", "bare parse s", "bare parse peak MB", "import s",
           "parse+validate s", "store s", "import / bare", "import peak MB", "append s", "load after append s",
           "messy import / bare", "messy import peak MB", "first load s", "load peak MB",
           "all stats cold s", "all stats cached ms", "summarise s", "filter cold ms", "filter cached ms",
           "page 1st run s", "page rerun ms", "page filter cold ms", "page filter cached ms",
           "Overview filter cold ms", "app peak MB"]


def _get(res: dict, *path: str) -> Any:
    cur: Any = res
    for key in path:
        if not isinstance(cur, dict) or cur.get(key) is None:
            return None
        cur = cur[key]
    return cur


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ratio(res: dict, key: str = "") -> float | None:
    floor = _get(res, "floor" + key, "seconds")
    imp = _get(res, "import" + key, "seconds")
    return imp / floor if imp and floor else None


def _xlsx_ratio(res: dict) -> float | None:
    floor = _get(res, "xlsx_read_excel", "seconds")
    imp = _get(res, "xlsx_import", "seconds")
    return imp / floor if imp and floor else None


def _xlsx_target_result(results: list[dict]) -> dict | None:
    """The result the workbook target is judged on: at XLSX_TARGET_SIZE, else the largest size measured."""
    measured = [r for r in results if _xlsx_ratio(r) is not None]
    exact = [r for r in measured if r["size"] == XLSX_TARGET_SIZE]
    return (exact or measured or [None])[-1]


def render_xlsx(results: list[dict], args: argparse.Namespace) -> list[str]:
    """The section *Workbooks*: the workbook import against the libraries reading the same file."""
    rows = [r for r in results if any(k.startswith("xlsx_") for k in r)]
    if not rows:
        return []
    lines = ["", "### Workbooks", "",
             f"The clean records as one .xlsx (`write_xlsx`: XlsxWriter in `constant_memory` mode; sheet \"Outcomes\" "
             f"and sheet \"Side effects\"; dates as date cells shown {XLSX_DATE_FORMAT}, numbers as number cells, "
             "text as text cells; a missing value as no cell), written once per size and cached. Measured up to "
             f"{args.xlsx_max_size:,} treatments only: writing the workbook is slow (XlsxWriter writes cell by cell). "
             "Import = `SourceFile.from_path` + `analysis.records.ingest.import_files` of the workbook (read, parse, "
             "validate; nothing stored: compare *parse+validate s* of the CSV import), median of its fresh processes. "
             "The floor is `pandas.read_excel(path, sheet_name=None, engine=\"calamine\")`, fastest of its fresh "
             "processes; fastexcel (both sheets to Arrow) and python-calamine (`CalamineWorkbook.from_path(path)"
             ".get_sheet_by_name(name).to_python()`, both sheets) are for information, fastest the same way. "
             "After each import the step imports the CSV files of the same rows and fails unless the records are "
             "the same (counts, downtime total, set of dates, every column of both tables).", "",
             "| treatments | xlsx MB | written s | import s | import peak MB | read_excel s | read_excel peak MB "
             "| import / read_excel | fastexcel s | fastexcel peak MB | python-calamine s | python-calamine peak MB "
             "| CSV parse+validate s | same records as CSV |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        same = _get(r, "xlsx_import", "same_as_csv")
        written = _get(r, "xlsx_write", "seconds")
        lines.append(
            f"| {r['size']:,} | {_fmt(r.get('xlsx_mb'), 1)} | {_fmt(written) if written is not None else 'cached'} "
            f"| {_fmt(_get(r, 'xlsx_import', 'seconds'), 2)} | {_fmt(_get(r, 'xlsx_import', 'peak_mb'), 0)} "
            f"| {_fmt(_get(r, 'xlsx_read_excel', 'seconds'), 2)} | {_fmt(_get(r, 'xlsx_read_excel', 'peak_mb'), 0)} "
            f"| {_fmt(_xlsx_ratio(r), 2)} | {_fmt(_get(r, 'xlsx_fastexcel', 'seconds'), 2)} "
            f"| {_fmt(_get(r, 'xlsx_fastexcel', 'peak_mb'), 0)} | {_fmt(_get(r, 'xlsx_calamine', 'seconds'), 2)} "
            f"| {_fmt(_get(r, 'xlsx_calamine', 'peak_mb'), 0)} | {_fmt(_get(r, 'import', 'parse_validate_s'), 2)} "
            f"| {'yes' if same else '—'} |")
    target = _xlsx_target_result(results)
    if target is not None:
        i = target["xlsx_import"]
        lines += ["", f"Checked at {target['size']:,}: {i['treatments']:,} treatments and {i['side_effects']:,} "
                      f"side effects from the workbook as from the CSV files, downtime total {i['downtime_days_sum']:,.0f} "
                      f"days in both, the same {i['dates']:,} treatment dates ({i['first_date']} to {i['last_date']}), "
                      f"{i['rows_rejected']:,} rows rejected and {i['problems']:,} problems in both."]
    return lines


def row_values(res: dict) -> dict[str, Any]:
    floor = _get(res, "floor", "seconds")
    imp = _get(res, "import", "seconds")
    return {
        "treatments": res["size"],
        "side-effect rows": _get(res, "import", "side_effects"),
        "CSV MB": res.get("csv_mb"),
        "bare parse s": floor,
        "bare parse peak MB": _get(res, "floor", "peak_mb"),
        "import s": imp,
        "parse+validate s": _get(res, "import", "parse_validate_s"),
        "store s": _get(res, "import", "store_s"),
        "import / bare": _ratio(res),
        "import peak MB": _get(res, "import", "peak_mb"),
        "append s": _get(res, "append", "seconds"),
        "load after append s": _get(res, "append_load", "seconds"),
        "messy import / bare": _ratio(res, "_messy"),
        "messy import peak MB": _get(res, "import_messy", "peak_mb"),
        "first load s": _get(res, "load", "seconds"),
        "load peak MB": _get(res, "load", "peak_mb"),
        "all stats cold s": _get(res, "summary", "cold_s"),
        "all stats cached ms": _get(res, "summary", "cached_ms"),
        "summarise s": _get(res, "summary", "summarise_s"),
        "filter cold ms": _get(res, "filter", "cold_ms"),
        "filter cached ms": _get(res, "filter", "cached_ms"),
        "page 1st run s": _get(res, "apptest", "first_s"),
        "page rerun ms": _get(res, "apptest", "rerun_ms"),
        "page filter cold ms": _get(res, "apptest", "filter_cold_ms"),
        "page filter cached ms": _get(res, "apptest", "filter_cached_ms"),
        "Overview filter cold ms": _get(res, "apptest_overview", "filter_cold_ms"),
        "app peak MB": _get(res, "apptest", "peak_mb"),
    }


DIGITS = {"CSV MB": 0, "bare parse peak MB": 0, "import peak MB": 0, "messy import peak MB": 0,
          "messy import / bare": 1, "load peak MB": 0, "app peak MB": 0,
          "filter cold ms": 0, "filter cached ms": 1, "page rerun ms": 0, "page filter cold ms": 0,
          "page filter cached ms": 0, "Overview filter cold ms": 0, "all stats cached ms": 1, "bare parse s": 2, "first load s": 2,
          "append s": 2, "load after append s": 2,
          "import / bare": 1}

TARGETS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "import / bare": (f"≤ {TARGET_IMPORT_RATIO:g}×", lambda v: v <= TARGET_IMPORT_RATIO),
    "import peak MB": (f"< {TARGET_IMPORT_PEAK_MB:,.0f}", lambda v: v < TARGET_IMPORT_PEAK_MB),
    "messy import / bare": (f"≤ {TARGET_MESSY_IMPORT_RATIO:g}×", lambda v: v <= TARGET_MESSY_IMPORT_RATIO),
    "messy import peak MB": (f"< {TARGET_IMPORT_PEAK_MB:,.0f}", lambda v: v < TARGET_IMPORT_PEAK_MB),
    "first load s": (f"< {TARGET_LOAD_S:g}", lambda v: v < TARGET_LOAD_S),
    "append s": (f"< {TARGET_APPEND_S:g}", lambda v: v < TARGET_APPEND_S),
    "load after append s": (f"< {TARGET_APPEND_LOAD_S:g}", lambda v: v < TARGET_APPEND_LOAD_S),
    "load peak MB": (f"< {TARGET_PEAK_MB:,.0f}", lambda v: v < TARGET_PEAK_MB),
    "filter cold ms": (f"< {TARGET_FILTER_MS:g}", lambda v: v < TARGET_FILTER_MS),
    "page filter cold ms": (f"< {TARGET_FILTER_MS:g}", lambda v: v < TARGET_FILTER_MS),
    "Overview filter cold ms": (f"< {TARGET_FILTER_MS:g}", lambda v: v < TARGET_FILTER_MS),
    "page rerun ms": (f"< {TARGET_RERUN_MS:g}", lambda v: v < TARGET_RERUN_MS),
    "page filter cached ms": (f"< {TARGET_RERUN_MS:g}", lambda v: v < TARGET_RERUN_MS),
    "app peak MB": (f"< {TARGET_PEAK_MB:,.0f}", lambda v: v < TARGET_PEAK_MB),
}


def verdicts(res: dict) -> dict[str, str]:
    values = row_values(res)
    out = {}
    for column, (_, ok) in TARGETS.items():
        value = values.get(column)
        out[column] = "—" if value is None else ("met" if ok(value) else "**not met**")
    return out


def render(results: list[dict], args: argparse.Namespace, elapsed: float) -> str:
    sizes = ", ".join(f"{r['size']:,}" for r in results)
    largest = results[-1]
    lines = ["# Benchmark results", "",
             f"Generated by `python bench/run.py{' ' + ' '.join(args.argv) if args.argv else ''}` "
             f"(sizes {sizes}; {elapsed / 60:.1f} min). See `bench/README.md` for what each column measures.", ""]
    lines += machine_info()
    busiest = max((v["loadavg"] for r in results for v in r.values() if isinstance(v, dict) and "loadavg" in v),
                  default=None)
    if busiest is not None:
        cpus = os.cpu_count() or 1
        note = (f"- Highest 1-minute load average seen at a step's start or end: {busiest:.1f} on {cpus} CPUs"
                + (" — **other work was running on the machine, so timings are noisy (likely too slow)**."
                   if busiest > 0.75 * cpus + 1 else "."))
        lines.append(note)
    lines += ["", "## Results", "",
              "Times are medians of repeats, except the bare parse, which is the fastest of its repeats (the floor; "
              "the conservative choice for the import's ratio). The bare parse and the import are each timed once "
              "per fresh process (first call, as an app server meets an upload), and that is repeated. Peak MB = peak resident set "
              "size (`ru_maxrss`) of the child process that ran the step. The import columns without a prefix "
              "are the clean export (the generated CSVs); \"messy\" = the same records as a European Excel "
              "export (BOM, `;`, decimal comma, dd/mm/yyyy, header synonyms, a PIH yes/no column, 0.5 % bad rows; "
              "its bare parse is `read_csv(sep=\";\", engine=\"pyarrow\")`; breakdown below). \"stats\" = every "
              "function in "
              "`ui/compute.py`'s `FUNCTIONS` and composites, called as the pages call them, through "
              "`ui.compute.run` (`st.cache_data`); \"first load\" = `Store.load` + `analysis.records.filters.prepare`, as "
              "`ui.setup.load_records` does; \"append\" = `import_files` of a file of "
              f"{APPEND_ROWS:,} new treatments + `versions.add_records` into the clean import's dataset (a copy of "
              "its database), \"load after append\" = the next first load of it (breakdown below); "
              "\"filter\" = `ui.setup.select` (clinic + Fitzpatrick IV, V) then the Skin tone "
              "statistics; \"page\" = `pages/4_Skin_tone.py` in `streamlit.testing.v1.AppTest`; \"Overview\" = "
              "`dashboard.py` the same way. The workbook import has its own table (*Workbooks*, below).", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---:" for _ in COLUMNS) + "|")
    for res in results:
        values = row_values(res)
        lines.append("| " + " | ".join(_fmt(values[c], DIGITS.get(c, 1)) for c in COLUMNS) + " |")
    target_row = [TARGETS[c][0] if c in TARGETS else "" for c in COLUMNS]
    target_row[0] = "target (1,000,000)"
    lines.append("| " + " | ".join(target_row) + " |")
    marks = verdicts(largest)
    verdict_row = [marks.get(c, "") for c in COLUMNS]
    verdict_row[0] = f"at {largest['size']:,}"
    lines.append("| " + " | ".join(verdict_row) + " |")
    if largest["size"] != 1_000_000:
        lines += ["", f"_The targets are stated for 1,000,000 treatments; this run's largest size is "
                      f"{largest['size']:,}, so the last row is only indicative._"]

    lines += ["", f"### Targets at {largest['size']:,} treatments", "", "| target | measured | verdict |", "|---|---:|---|"]
    v = row_values(largest)
    for label, column, unit in (
            (f"import / bare parse, clean export: within {TARGET_IMPORT_RATIO:g}×", "import / bare", "×"),
            (f"import / bare parse, messy export (0.5 % bad rows): within {TARGET_MESSY_IMPORT_RATIO:g}×",
             "messy import / bare", "×"),
            (f"peak memory of the import, clean export: under {TARGET_IMPORT_PEAK_MB / 1024:g} GB",
             "import peak MB", " MB"),
            (f"peak memory of the import, messy export (0.5 % bad rows): under {TARGET_IMPORT_PEAK_MB / 1024:g} GB",
             "messy import peak MB", " MB"),
            ("peak memory of the app process (page first run) under 2 GB", "app peak MB", " MB"),
            ("first load of a stored dataset under 3 s", "first load s", " s"),
            (f"adding {APPEND_ROWS:,} new treatments to the dataset under {TARGET_APPEND_S:g} s "
             "(import_files + versions.add_records)", "append s", " s"),
            (f"the next first load of that dataset under {TARGET_APPEND_LOAD_S:g} s", "load after append s", " s"),
            ("a filter change under 300 ms (select + Skin tone statistics)", "filter cold ms", " ms"),
            ("a filter change under 300 ms (whole Skin tone page in AppTest)", "page filter cold ms", " ms"),
            ("a filter change under 300 ms (whole Overview page in AppTest: seven comparisons)",
             "Overview filter cold ms", " ms"),
            ("a cached page rerun under 150 ms (same view)", "page rerun ms", " ms"),
            ("a cached page rerun under 150 ms (back to a filter seen before)", "page filter cached ms", " ms")):
        lines.append(f"| {label} | {_fmt(v[column], DIGITS.get(column, 1))}{unit if v[column] is not None else ''} "
                     f"| {marks[column]} |")
    if "import-xlsx" in args.steps:
        wb = _xlsx_target_result(results)
        ratio = _xlsx_ratio(wb) if wb else None
        at = "" if wb is None or wb["size"] == XLSX_TARGET_SIZE else f" (at {wb['size']:,}: indicative)"
        verdict = "—" if ratio is None else ("met" if ratio <= TARGET_XLSX_RATIO else "**not met**")
        lines.append(f"| workbook import within {TARGET_XLSX_RATIO:g}× pandas.read_excel(engine='calamine'), "
                     f"{XLSX_TARGET_SIZE:,} treatments | {_fmt(ratio, 2)}{'×' if ratio is not None else ''}{at} "
                     f"| {verdict} |")

    messy = [r for r in results if r.get("import_messy") or r.get("floor_messy")]
    if messy:
        lines += ["", "### Messy export", "",
                  "The clean records written as a European Excel export: UTF-8 with a BOM, `;` between cells, "
                  "decimal comma, dates dd/mm/yyyy, header synonyms (\"Treatment ID\", \"Date\", \"Skin type\", "
                  "\"Downtime (days)\", ...), hyperpigmentation as a yes/no \"PIH\" column instead of side-effect "
                  "rows, and 0.5 % of the outcome rows with one impossible value (31/02/2024, skin type VII, "
                  "downtime -3; a third each). The import must reject exactly those rows (the step fails otherwise). "
                  "Bare parse = `pandas.read_csv(sep=\";\", engine=\"pyarrow\")` of both files, fastest of its fresh "
                  "processes; import = median, as above.", "",
                  "| treatments | CSV MB | bare parse s | bare parse peak MB | import s | parse+validate s | store s "
                  "| import / bare | import peak MB | rows rejected | expected |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in messy:
            lines.append(
                f"| {r['size']:,} | {_fmt(r.get('messy_csv_mb'), 0)} | {_fmt(_get(r, 'floor_messy', 'seconds'), 2)} "
                f"| {_fmt(_get(r, 'floor_messy', 'peak_mb'), 0)} | {_fmt(_get(r, 'import_messy', 'seconds'))} "
                f"| {_fmt(_get(r, 'import_messy', 'parse_validate_s'))} | {_fmt(_get(r, 'import_messy', 'store_s'))} "
                f"| {_fmt(_ratio(r, '_messy'))} | {_fmt(_get(r, 'import_messy', 'peak_mb'), 0)} "
                f"| {_fmt(_get(r, 'import_messy', 'rows_rejected'))} | {_fmt(r.get('messy_expected_rejected'))} |")
    lines += render_xlsx(results, args)
    appended = [r for r in results if r.get("append") or r.get("append_load")]
    if appended:
        lines += ["", f"### Adding {APPEND_ROWS:,} treatments to a dataset", "",
                  f"A file of {APPEND_ROWS:,} treatments the dataset does not hold (`data/generate_sample.py` with "
                  f"seed {APPEND_SEED}, treatment ids T… renamed A…, patient ids P… renamed Q…; dates spread over "
                  "the same two years, so the merged records are put in load order again), with its side-effect "
                  "file, added to the clean import's dataset in a copy of its database: `import_files` (parse) + "
                  "`versions.add_records` (read the current records, merge, encode the Parquet copies, write the "
                  "version), timed in a fresh process with the store open, median of its runs (each on a new "
                  "copy). The step then checks that exactly the file's treatments and side effects were added. "
                  "The split is the time inside `versions._read_current` (read: the current records as Arrow "
                  "tables, from their Parquet copy), `versions.merge`, `db._encode_copies` "
                  "(encode) and the rest of `versions._write_version` (write: archive the old copy, store the new "
                  "one, in one transaction); other = the rest of `add_records` (`store.get`, `check_records`). "
                  "Load after append = `prepare(Store.load(id))` of the new version in a fresh process, as *first "
                  "load* above.", "",
                  "CPU s = user + system seconds of the process over the same span (all threads; what a loaded "
                  "machine does not inflate, unlike the wall time).", "",
                  "| treatments before | append s | append CPU s | parse s | add_records s | read s | merge s "
                  "| encode s | write s | other s | append peak MB | treatments after | load after append s "
                  "| its CPU s | its read s | its flags s | its peak MB |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in appended:
            a, ld = r.get("append") or {}, r.get("append_load") or {}
            lines.append(
                f"| {r['size']:,} | {_fmt(a.get('seconds'), 2)} | {_fmt(a.get('cpu_s'), 2)} | {_fmt(a.get('parse_s'), 2)} "
                f"| {_fmt(a.get('add_s'), 2)} | {_fmt(a.get('read_s'), 2)} | {_fmt(a.get('merge_s'), 2)} "
                f"| {_fmt(a.get('encode_s'), 2)} | {_fmt(a.get('write_s'), 2)} | {_fmt(a.get('other_s'), 2)} "
                f"| {_fmt(a.get('peak_mb'), 0)} | {_fmt(a.get('treatments') or ld.get('treatments'))} "
                f"| {_fmt(ld.get('seconds'), 2)} | {_fmt(ld.get('cpu_s'), 2)} | {_fmt(ld.get('load_s'), 2)} "
                f"| {_fmt(ld.get('prepare_s'), 2)} "
                f"| {_fmt(ld.get('peak_mb'), 0)} |")
    calls = _get(largest, "summary", "calls")
    if calls:
        lines += ["", f"### Statistics per call at {largest['size']:,} treatments", "",
                  "Cold = first call through `ui.compute.run` (compute, pickle into `st.cache_data`); cached = the "
                  "same call again (hash the key, unpickle the stored result). Calls run in page order; "
                  "`top_findings` and `claims` are built from the other cached comparisons, so the parts they "
                  "computed first (monthly and the funnels) are cache hits when their own row comes.",
                  "",
                  "| call | cold s | cached ms | pickled kB |", "|---|---:|---:|---:|"]
        for c in calls:
            lines.append(f"| `{c['call']}` | {c['cold_s']:.2f} | {c['cached_ms']:.2f} | {c['pickled_kb']:.0f} |")
        lines.append(f"| **all** | **{sum(c['cold_s'] for c in calls):.1f}** | "
                     f"**{sum(c['cached_ms'] for c in calls):.1f}** | |")
        lines.append(f"| `analysis.findings.summary.summarise` (not cached by the app) | "
                     f"{_get(largest, 'summary', 'summarise_s'):.1f} | — | |")
    details = []
    for res in results:
        f = res.get("filter") or {}
        ld = res.get("load") or {}
        if f or ld:
            details.append(f"| {res['size']:,} | {_fmt(f.get('apply_filters_ms'), 0)} | {_fmt(f.get('skin_tone_ms'), 0)} "
                           f"| {_fmt(ld.get('open_s'), 2)} | {_fmt(ld.get('load_s'), 2)} | {_fmt(ld.get('prepare_s'), 2)} "
                           f"| {_fmt(ld.get('frames_mb'), 0)} "
                           f"| {_fmt(_get(res, 'import', 'db_mb'), 0)} |")
    if details:
        lines += ["", "### Breakdowns", "",
                  "| treatments | filter: select ms | filter: Skin tone stats ms | load: open store s | "
                  "load: read + coerce s | load: effect flags s | records in memory MB | SQLite file MB |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|", *details]
    errors = [(r["size"], step, msg) for r in results for step, msg in r.get("errors", {}).items()]
    if errors:
        lines += ["", "### Steps that did not complete", ""]
        lines += [f"- {size:,} treatments, {step}: {msg}" for size, step, msg in errors]
    prof = largest.get("profile")
    if prof:
        lines += ["", f"## Profile at {largest['size']:,} treatments (cProfile, generated)", "",
                  "Top functions by own time (`tottime`) and the project's functions by cumulative time. cProfile "
                  "adds overhead, so totals are higher than in the table above; shares are of the profiled total.", ""]
        for what, title in (("import", "Import (import_files + Store.import_dataset)"),
                            ("append", f"Append ({APPEND_ROWS:,} new treatments: import_files + versions.add_records)"),
                            ("load", "First load (Store.load + prepare)"),
                            ("filter", "Filter change (select + Skin tone statistics, cold)"),
                            ("stats", "All pages' statistics (cold)")):
            p = prof.get(what)
            if not p:
                continue
            total = p["total_s"]
            lines += [f"### {title}: {total:.1f} s profiled", "", "| own time: function | calls | tottime s | share |",
                      "|---|---:|---:|---:|"]
            for r in p["by_tottime"][:args.top]:
                lines.append(f"| `{r['where']}` | {r['calls']:,} | {r['tottime']:.2f} | {100 * r['tottime'] / total:.0f} % |")
            lines += ["", "| project function (cumulative) | calls | cumtime s | share |", "|---|---:|---:|---:|"]
            for r in p["ours_by_cumtime"][:args.top]:
                lines.append(f"| `{r['where']}` | {r['calls']:,} | {r['cumtime']:.2f} | {100 * r['cumtime'] / total:.0f} % |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(path: Path, text: str | None, share: str | None = None, concurrent: str | None = None) -> None:
    """Write the generated report ``text`` (None: keep the one in the file) with the share-link and the
    concurrent-sessions sections (None: keep the file's), followed by the file's hand-written part."""
    old = path.read_text() if path.exists() else ""
    kept = old[old.index(HAND_WRITTEN):] if HAND_WRITTEN in old else ""
    generated = old[:old.index(HAND_WRITTEN)] if kept else old
    blocks = []
    for (start, end), new in ((SHARE_MARKS, share), (LOAD_MARKS, concurrent)):
        old_block = ""
        if start in generated and end in generated:
            old_block = generated[generated.index(start):generated.index(end) + len(end)]
            generated = generated.replace(old_block, "")
        blocks.append(new if new is not None else old_block)
    body = (text if text is not None else generated).rstrip() + "\n"
    for block in blocks:
        if block:
            body += "\n" + block.strip() + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body + ("\n" + kept if kept else ""))


def bench_share_link(args: argparse.Namespace, log_dir: Path) -> str | None:
    """Run bench/share_link.py (its own app servers and browser); its report section, or None when it failed."""
    from share_link import render as render_share  # bench/share_link.py (this folder is on sys.path)

    out = log_dir / "share-link.json"
    log = log_dir / "share-link.log"
    say(f"share link in a fresh browser (bench/share_link.py, x{args.share_repeats} per case)")
    cmd = [sys.executable, str(ROOT / "bench" / "share_link.py"), "--repeats", str(args.share_repeats), "--json", str(out)]
    try:
        with log.open("w") as f:
            done = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=args.step_timeout)
    except subprocess.TimeoutExpired:
        say(f"  share-link: did not finish within {args.step_timeout:.0f} s (see {log})")
        return None
    if done.returncode != 0:
        say(f"  share-link: failed with exit code {done.returncode} (see {log})")
        return None
    result = json.loads(out.read_text())
    started, ended = SHARE_MARKS
    lines = [started, "## A share link opened in a fresh browser", "",
             f"Generated by `python bench/run.py --steps {SHARE_STEP}` (`bench/share_link.py`; see `bench/README.md`); "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {code_version()}.", "",
             *render_share(result), ended]
    return "\n".join(lines)


def bench_concurrent(args: argparse.Namespace, log_dir: Path) -> str | None:
    """Run bench/load.py (its own database, servers and clients) at the largest size; its report section, or None
    when it failed."""
    out = log_dir / "concurrent.json"
    log = log_dir / "concurrent.log"
    size = max(args.sizes)
    say(f"{size:,}: concurrent sessions against one server (bench/load.py)")
    cmd = [sys.executable, str(ROOT / "bench" / "load.py"), "--size", str(size), "--data-dir", str(args.data_dir),
           "--json", str(out)]
    timeout = max(args.step_timeout, 3600.0)
    try:
        with log.open("w") as f:
            done = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        say(f"  {LOAD_STEP}: did not finish within {timeout:.0f} s (see {log})")
        return None
    if done.returncode != 0:
        say(f"  {LOAD_STEP}: failed with exit code {done.returncode} (see {log})")
        return None
    return concurrent_section(json.loads(out.read_text()), f"python bench/run.py --steps {LOAD_STEP}")


def concurrent_section(result: dict, command: str) -> str:
    """The report's section for bench/load.py's ``result`` (its --json), made by ``command``."""
    from load import render as render_load  # bench/load.py

    started, ended = LOAD_MARKS
    lines = [started, "## Several sessions at once", "",
             f"Generated by `{command}` (`bench/load.py`; see `bench/README.md`); "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {code_version()}; `/proc/loadavg` at the end: "
             f"`{result['loadavg_end']}`.", "", *render_load(result), ended]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="numbers of treatments (default 10000 100000 1000000)")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 only (CI smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md", help="report to write")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile import, first load, a filter change and the statistics at the largest size")
    parser.add_argument("--top", type=int, default=12, help="rows per profile table (default 12)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the fast steps (median; default 3)")
    parser.add_argument("--import-repeats", type=int, default=0,
                        help="repeats of the import (default: --repeats)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "laserdash-bench",
                        help="where generated CSVs and the SQLite databases go (default /tmp/laserdash-bench)")
    parser.add_argument("--fresh-data", action="store_true", help="regenerate the CSVs even if present")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory afterwards (default: "
                        "kept when it is the default directory, so reruns skip generation)")
    parser.add_argument("--step-timeout", type=float, default=900.0,
                        help="seconds before a step is stopped and reported as not finished (default 900)")
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS),
                        help="comma-separated steps to run (default: " + ",".join(DEFAULT_STEPS) + "); "
                        f"'{SHARE_STEP}' opens a share link in a fresh Chromium (bench/share_link.py, on the sample, "
                        "--share-repeats times) and only (re)writes its section of the report; "
                        f"'{LOAD_STEP}' runs bench/load.py (1, 4 and 8 concurrent sessions changing filters on one "
                        "server, at the largest size; about 20 minutes) and only (re)writes its section; "
                        "'import' is the clean export, 'import-messy' the messy one, each with its bare parse; "
                        "'import-xlsx' the same records as a workbook, against pandas.read_excel (calamine); "
                        f"'append' adds {APPEND_ROWS:,} new treatments to (a copy of) the clean import's dataset and "
                        "loads it again; the steps other than the imports read the clean import's database, so "
                        "they need 'import'")
    parser.add_argument("--xlsx-max-size", type=int, default=None,
                        help=f"largest size at which the workbook step runs (default {XLSX_MAX_SIZE:,}; "
                        f"{XLSX_QUICK_MAX_SIZE:,} with --quick): writing a larger .xlsx takes minutes")
    parser.add_argument("--share-repeats", type=int, default=5,
                        help=f"fresh browser contexts per case in '{SHARE_STEP}' (median; default 5)")
    # child-only options
    parser.add_argument("--child", choices=sorted(CHILD_STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--what", help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=("clean", "messy"), default="clean", help=argparse.SUPPRESS)
    parser.add_argument("--page", default=PAGE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    steps = [x.strip() for x in args.steps.split(",") if x.strip()]
    unknown = [x for x in steps if x not in STEPS]
    if unknown or not steps:
        parser.error(f"--steps: unknown step(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STEPS)}")
    needs_import = [x for x in steps if x not in (*IMPORT_STEPS, *SECTION_STEPS)]
    if needs_import and "import" not in steps:
        parser.error(f"--steps: {', '.join(needs_import)} read(s) the clean import's database: add 'import'")
    args.steps = [x for x in STEPS if x in steps]
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.sizes = sorted(set(args.sizes))
    if args.xlsx_max_size is None:
        args.xlsx_max_size = XLSX_QUICK_MAX_SIZE if args.quick else XLSX_MAX_SIZE
    args.data_dir = args.data_dir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        load_before = os.getloadavg()[0]
        out = CHILD_STEPS[args.child](args)
        out["loadavg"] = max(load_before, os.getloadavg()[0])
        print(RESULT_MARK + json.dumps(out, default=str), flush=True)
        return 0
    args.data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = args.data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    results = []
    sized = [x for x in args.steps if x not in SECTION_STEPS]
    for size in args.sizes if sized else ():
        results.append(bench_size(args, size, log_dir))
        (args.data_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    share = bench_share_link(args, log_dir) if SHARE_STEP in args.steps else None
    concurrent = bench_concurrent(args, log_dir) if LOAD_STEP in args.steps else None
    elapsed = time.perf_counter() - started
    write_report(args.out, render(results, args, elapsed) if sized else None, share, concurrent)
    say(f"wrote {args.out} (raw numbers in {args.data_dir / 'results.json'}, child logs in {log_dir})")
    default_dir = Path(tempfile.gettempdir()) / "laserdash-bench"
    if not args.keep_data and args.data_dir != default_dir.resolve():
        shutil.rmtree(args.data_dir, ignore_errors=True)
    # A step that crashed is a failure (the CI smoke test relies on this); one that ran out of time is
    # only reported, as the issue asks.
    failed_share = SHARE_STEP in args.steps and share is None
    failed_share = failed_share or (LOAD_STEP in args.steps and concurrent is None)
    return 1 if failed_share or any(r.get("crashed") for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
