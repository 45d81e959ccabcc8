"""The import's fast path for clean files: each column checked once per distinct value, records built in Arrow.

:func:`analysis.records.ingest.import_files` tries :func:`import_clean` first. It runs the *same* checks as the
full path (the same functions of :mod:`analysis.records.ingest`), but on each column's distinct values, and
broadcasts the results to the rows with Arrow, so a clean export of a million treatments never turns
its cells into Python objects. As soon as any check finds a problem (a rejected row, a warning, a
question about the date order, a row that could not be split), it gives up and returns None: the full
path then reports every problem with its row number. What it returns is exactly what the full path
gives for the same files (``tests/test_ingest_arrow.py`` holds it to that).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.records import columnar, schema
from analysis.records import ingest as full
from analysis.records.ingest import (
    ColumnPlan,
    FileSummary,
    ImportOptions,
    ImportProblem,
    ImportResult,
    RawTable,
    SourceFile,
    plan_columns,
)

# A value the full path's text cleaning would change: whitespace at either end, or whitespace other
# than single spaces inside (the same character class, which is exactly what str.isspace() accepts).
_SPACE_CLASS = full._WHITESPACE[:-1]
_NEEDS_CLEANING = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$|{full._SPACING}"


class _Unclean(Exception):
    """Something the full path reports (or that this path does not handle): use the full path."""


def import_clean(out_table: RawTable, plan: ColumnPlan, side_tables: list[RawTable], options: ImportOptions,
                 sources: list[SourceFile], hashed: Future[dict[str, str]]) -> ImportResult | None:
    """The import of files with no problem at all, as tables of canonical values; None for any other files."""
    if any(len(t.malformed) for t in (out_table, *side_tables)) or not len(out_table.frame):
        return None
    try:
        return _import(out_table, plan, side_tables, options, sources, hashed)
    except (_Unclean, ImportProblem):
        return None


def _import(out_table: RawTable, plan: ColumnPlan, side_tables: list[RawTable], options: ImportOptions,
            sources: list[SourceFile], hashed: Future[dict[str, str]]) -> ImportResult:
    notes: list[str] = []
    side_plans = [plan_columns(list(t.frame.columns), "side_effects", options.side_effect_columns)
                  for t in side_tables]
    if any(full._missing_required(p, "side_effects") for p in side_plans):
        raise _Unclean
    # The side-effect files are checked in a thread while the outcomes are: most of the work is Arrow's,
    # which releases the GIL, so the two cores share it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        side_jobs = [pool.submit(_side_effects, t, p) for t, p in zip(side_tables, side_plans)]
        full._note_columns(out_table, plan, notes)
        outcomes, flag_effects, ids_refused = _outcomes(out_table, plan, options, notes)
        # The store will want the outcomes as Parquet: encode them while the rest is checked.
        encoder = ThreadPoolExecutor(max_workers=1)
        parquet = {"outcomes": encoder.submit(columnar.to_parquet, outcomes, ordered=True)}
        encoder.shutdown(wait=False)
        sides = [job.result() for job in side_jobs]
    sha = hashed.result()  # the files' SHA-256, computed in a thread meanwhile
    problems = full._Problems(out_table.file, out_table.rows)
    summaries: list[FileSummary] = [full._summary(out_table, "outcomes", sha, plan, outcomes.num_rows, problems)]
    all_problems = [problems.frame()]
    rejected_rows = {out_table.file: full._rejected(out_table, problems, plan, ids_refused)}
    if flag_effects.num_rows:
        notes.append(full._flag_note(out_table.file, flag_effects.num_rows, plan))
    side_parts = [flag_effects]
    known_ids = outcomes.column("treatment_id")
    for table, side_plan, side in zip(side_tables, side_plans, sides):
        full._note_columns(table, side_plan, notes)
        if not pc.all(pc.is_in(side.column("treatment_id"), value_set=known_ids)).as_py():
            raise _Unclean  # an orphan: the full path names its row
        side_ids_refused = full._side_ids_refused(table, notes)
        side_problems = full._Problems(table.file, table.rows)
        side_parts.append(side)
        summaries.append(full._summary(table, "side_effects", sha, side_plan, side.num_rows, side_problems))
        all_problems.append(side_problems.frame())
        rejected_rows[table.file] = full._rejected(table, side_problems, None, side_ids_refused)
    side_effects = _concat(side_parts, "side_effects")
    report = full._report([out_table, *side_tables], summaries, notes, all_problems, rejected_rows,
                          outcomes.num_rows, side_effects.num_rows)
    return ImportResult.from_tables(outcomes, side_effects, report, sources, parquet)


# --- outcomes ------------------------------------------------------------------------------------

def _outcomes(table: RawTable, plan: ColumnPlan, options: ImportOptions,
              notes: list[str]) -> tuple[pa.Table, pa.Table, bool]:
    """What ``ingest._validate_outcomes`` gives for a clean file: records, flag side effects, ids refused."""
    frame = table.frame
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.delimiter != ","
    n = len(frame)
    out: dict[str, pa.Array] = {}
    device_distinct = None
    for col in schema.OUTCOME_COLUMNS:
        header = by_name.get(col.name)
        label = header or col.name
        if header is None:  # what the full path makes of a column of empty cells
            if col.type not in ("text", "number", "integer", "modality"):
                raise _Unclean
            out[col.name] = pa.nulls(n, columnar.arrow_type(col.name))
            continue
        raw = _raw(frame, header)
        if col.name == "device":  # wanted twice: as text, and for the modality it implies
            device_distinct = _distinct(raw)
            out[col.name] = _text(raw, device_distinct)
            continue
        if col.type == "text":
            out[col.name] = _text(raw)
            continue
        indices, distinct = _distinct(raw)
        probe = full._Problems(table.file, np.arange(len(distinct)))
        if col.type in ("number", "integer"):
            parsed = full._check_number(col, distinct, probe, label, decimal_comma)
        elif col.type == "date":
            parsed = full.parse_dates(distinct, options.date_order, table.file, label, probe)
        elif col.type == "fitzpatrick":
            parsed = full._check_fitzpatrick(distinct, probe, label)
        elif col.type == "modality":
            parsed = full._check_modality(distinct, probe, label)
        else:  # pragma: no cover - every schema type is handled above
            raise _Unclean
        if probe.parts:
            raise _Unclean
        out[col.name] = _expand(parsed, indices, col.name)
    ids = out["treatment_id"]
    if ids.null_count or not columnar.unique_text(ids):
        raise _Unclean  # a missing or repeated id
    out["modality"] = _modality(table, out["modality"], device_distinct, notes)
    out["treatment_area"] = _lower(out["treatment_area"])
    patient = {"patient_id": _series(out["patient_id"])}
    ids_refused = full._drop_identifier_values(patient, table.file, notes)
    if ids_refused:
        out["patient_id"] = pa.nulls(n, pa.string())
    for name in ("fitzpatrick_type", "treatment_date", "modality"):
        if out[name].null_count:
            raise _Unclean
    flags = []
    for header, effect in plan.flags.items():
        indices, distinct = _distinct(_raw(frame, header))
        flag = full._map_unique(distinct, schema.parse_flag)
        if flag.isna().any():
            raise _Unclean
        yes = np.asarray(flag == True, dtype=bool)[indices]  # noqa: E712
        flags.append(_side_table({"treatment_id": ids.filter(pa.array(yes)),
                                  "effect": pa.array(np.full(int(yes.sum()), effect, dtype=object), pa.string())}))
    records = pa.table({name: out[name] for name in columnar.columns("outcomes")})
    flag_effects = _concat(flags, "side_effects") if flags else _side_table({"treatment_id": pa.array([], pa.string()),
                                                                              "effect": pa.array([], pa.string())})
    return records, flag_effects, ids_refused


def _modality(table: RawTable, stated: pa.Array, device: tuple[np.ndarray, pd.Series] | None,
              notes: list[str]) -> pa.Array:
    """Modality from the device where it is blank; a blank without a known device, or a stated modality the
    device contradicts (a warning), is for the full path to report."""
    n = len(stated)
    stated_codes = _codes(stated, schema.MODALITIES)
    if device is not None:  # the device column's rows and distinct values
        indices, distinct = device
        implied_distinct = full._map_unique(distinct, schema.device_modality)
        implied_codes = _codes(pa.array(implied_distinct.to_numpy(dtype=object), pa.string(), from_pandas=True),
                               schema.MODALITIES)[indices]
    else:
        implied_codes = np.full(n, -1, dtype=np.int64)
    blank = stated_codes < 0
    if (blank & (implied_codes < 0)).any():
        raise _Unclean
    if ((~blank) & (implied_codes >= 0) & (stated_codes != implied_codes)).any():
        raise _Unclean
    filled = blank & (implied_codes >= 0)
    if filled.any():
        notes.append(full._modality_note(table.file, int(filled.sum())))
    codes = np.where(blank, implied_codes, stated_codes).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(schema.MODALITIES), pa.string()))


# --- side effects --------------------------------------------------------------------------------

def _side_effects(table: RawTable, plan: ColumnPlan) -> pa.Table:
    """What ``ingest._validate_side_effects`` gives for a clean file."""
    frame = table.frame
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.delimiter != ","
    ids = _text(_raw(frame, by_name["treatment_id"])).cast(pa.string())
    if ids.null_count:
        raise _Unclean
    out: dict[str, pa.Array] = {"treatment_id": ids}
    checks = [("effect", by_name["effect"], lambda raw, probe, label: full._check_effect(raw, probe, label)[0])]
    if "severity" in by_name:
        checks.append(("severity", by_name["severity"], full._check_severity))
    for col in schema.SIDE_EFFECT_COLUMNS:
        if col.type == "number" and col.name in by_name:
            checks.append((col.name, by_name[col.name],
                           lambda raw, probe, label, col=col: full._check_number(col, raw, probe, label,
                                                                                  decimal_comma)))
    for name, header, check in checks:
        indices, distinct = _distinct(_raw(frame, header))
        probe = full._Problems(table.file, np.arange(len(distinct)))
        parsed = check(distinct, probe, header)
        if probe.parts:
            raise _Unclean
        out[name] = _expand(parsed, indices, name)
    side = _side_table(out)
    onset, resolved = (side.column(name).to_numpy() for name in ("onset_day", "resolved_day"))
    if (resolved < onset).any():  # NaN compares False, as in the full path
        raise _Unclean
    return side


def _side_table(columns: dict[str, pa.Array]) -> pa.Table:
    n = len(columns["treatment_id"])
    return pa.table({name: columns.get(name, pa.nulls(n, columnar.arrow_type(name)))
                     for name in columnar.columns("side_effects")})


def _concat(tables: list[pa.Table], kind: columnar.Kind) -> pa.Table:
    """Tables of one kind stacked; a text column that is dictionary-encoded in some parts only is made plain."""
    tables = [t for t in tables if t.num_rows] or tables[:1]
    if len(tables) == 1:
        return tables[0]
    fields = []
    for name in columnar.columns(kind):
        types = {t.schema.field(name).type for t in tables}
        fields.append(pa.field(name, types.pop() if len(types) == 1 else columnar.arrow_type(name)))
    target = pa.schema(fields)
    return pa.concat_tables([t.cast(target) for t in tables])


# --- columns -------------------------------------------------------------------------------------

def _raw(frame: pd.DataFrame, header: str) -> pa.ChunkedArray:
    """A column's cells as Arrow text, as the full path reads them (``astype(str)``); the chunks the
    reader made are kept (no copy)."""
    column = frame[header]
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(str)
    values = pa.chunked_array(column.array.__arrow_array__() if hasattr(column.array, "__arrow_array__")
                              else pa.array(column))
    if values.null_count:
        raise _Unclean
    return values


def _distinct(raw: pa.ChunkedArray) -> tuple[np.ndarray, pd.Series]:
    """Each row's position in the column's distinct values, and those values (in order of appearance)."""
    encoded = pc.dictionary_encode(raw).unify_dictionaries()
    if encoded.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), pd.Series([], dtype=str)
    indices = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks])
    return indices, encoded.chunk(0).dictionary.to_pandas().astype(str)


def _expand(parsed: pd.Series, indices: np.ndarray, name: str) -> pa.Array:
    """Parsed distinct values as the canonical values of every row."""
    type_ = columnar.arrow_type(name)
    if type_ == pa.string():
        return _dictionary(parsed.to_numpy(dtype=object, na_value=None), indices)
    values, missing = columnar.canonical(parsed.rename(name).reset_index(drop=True), type_)
    return pa.array(values, type=type_, mask=missing, from_pandas=missing is None).take(pa.array(indices))


def _dictionary(values: np.ndarray, indices: np.ndarray) -> pa.DictionaryArray:
    """Rows pointing at (possibly repeated, possibly missing) text values, as a dictionary array."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
    dictionary = pa.array(np.asarray(uniques, dtype=object), pa.string())
    if len(uniques) == len(values):  # still distinct and none missing: the positions are the codes
        return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32, copy=False)), dictionary)
    rows = codes[indices].astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(rows, mask=rows < 0), dictionary)


def _text(raw: pa.ChunkedArray, encoded: tuple[np.ndarray, pd.Series] | None = None) -> pa.Array:
    """``ingest._text``: trimmed, inner whitespace runs as one space, missing for blank. ``encoded``: the
    column's :func:`_distinct`, when already made."""
    sample = raw.slice(0, 10_000)
    if pc.count_distinct(sample).as_py() * 4 < len(sample):  # few distinct values: clean each once
        indices, distinct = encoded or _distinct(raw)
        return _dictionary(full._clean_text(distinct).to_numpy(dtype=object), indices)
    if _may_hold_whitespace(raw) and pc.any(pc.match_substring_regex(raw, _NEEDS_CLEANING)).as_py():
        cleaned = full._clean_text(raw.to_pandas().astype(str))
        return pa.array(cleaned.to_numpy(dtype=object), pa.string(), from_pandas=True)
    blank = pc.equal(raw, "")
    return pc.if_else(blank, pa.scalar(None, raw.type), raw).cast(pa.string())


# Every byte a whitespace character's UTF-8 can hold: the ASCII ones (tab to carriage return, the
# separators 0x1c-0x1f, space) and the lead bytes of U+0085, U+00A0 (0xc2), U+1680 (0xe1), U+2000-U+205F
# (0xe2) and U+3000 (0xe3). Text without any of them has nothing to clean.
_WHITESPACE_BYTES = np.zeros(256, dtype=bool)
_WHITESPACE_BYTES[[*range(0x09, 0x0e), *range(0x1c, 0x21), 0xc2, 0xe1, 0xe2, 0xe3]] = True


def _may_hold_whitespace(raw: pa.ChunkedArray) -> bool:
    """False when no value can hold a whitespace character (a scan of the bytes, no regular expression)."""
    for chunk in raw.chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)) or len(chunk) == 0:
            return True
        if chunk.buffers()[1] is None or chunk.buffers()[2] is None:
            return True  # not the layout read below: let the pattern decide
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type)
                                else np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        if _WHITESPACE_BYTES[data].any():
            return True
    return False


def _lower(values: pa.Array) -> pa.Array:
    """``str.lower`` of each text value (Python's, as the full path applies it)."""
    if pa.types.is_dictionary(values.type):
        lowered = pd.Series(values.dictionary.to_numpy(zero_copy_only=False), dtype=object).str.lower()
        indices = values.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        keep = np.append(lowered.to_numpy(dtype=object), None)
        return _dictionary(keep, np.where(indices < 0, len(keep) - 1, indices))
    lowered = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object).str.lower()
    return pa.array(lowered.to_numpy(dtype=object), pa.string(), from_pandas=True)


def _codes(values: pa.Array, categories: tuple[str, ...]) -> np.ndarray:
    """Position of each text value in ``categories`` (-1 for missing or other values)."""
    value_set = pa.array(list(categories), pa.string())
    if isinstance(values, pa.DictionaryArray):  # look up each distinct value once
        lookup = np.append(pc.index_in(values.dictionary, value_set=value_set).fill_null(-1)
                           .to_numpy(zero_copy_only=False).astype(np.int64), -1)
        return lookup[values.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    if pa.types.is_dictionary(values.type):
        values = values.cast(pa.string())
    found = pc.index_in(values, value_set=value_set)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _series(values: pa.Array) -> pd.Series:
    """Text values as a pandas str Series (missing as NA), without a Python object per row."""
    return values.cast(pa.string()).to_pandas()
