"""Checking a file's rows and building its records, each column once per distinct value, in Arrow.

A column of a million cells holds few distinct values (or, for ids, cells no check can fault): each
column is dictionary-encoded, its distinct values are parsed and checked by the functions of
:mod:`analysis.records.columns`, and what they found is expanded to every row holding the value
(:meth:`~analysis.records.problems.ProblemLog.expand`), with its row number, column, value and
reason. The checks that need a row's other cells (a repeated treatment id, the modality a device
implies, a side effect resolved before its onset) run on whole arrays. The records come out as
Arrow tables of the canonical values :mod:`analysis.records.columnar` stores, rejected rows left out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.records import columnar, schema
from analysis.records.columns import (
    WHITESPACE,
    ColumnPlan,
    DateOrder,
    SPACING,
    check_effect,
    check_fitzpatrick,
    check_modality,
    check_number,
    check_severity,
    clean_text,
    holds_identifiers,
    map_unique,
    parse_dates,
)
from analysis.records.problems import ProblemLog
from analysis.records.read import RawTable

Distinct = tuple[np.ndarray, pd.Series]  # each row's position in the distinct values, and those values


def outcomes(table: RawTable, plan: ColumnPlan, date_order: DateOrder, problems: ProblemLog, notes: list[str],
             ids_known: Callable[[pa.Array], object] | None = None,
             clinic: str | None = None) -> tuple[pa.Table, pa.Table, bool]:
    """The accepted outcome records, the side effects of the flag columns, and whether the patient id
    column was refused (it held e-mail addresses, phone numbers or names). Problems go in ``problems``.
    ``ids_known`` is called with every row's treatment id (cleaned; rejected rows' too) as soon as they are."""
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.uses_decimal_comma
    n = table.num_rows
    out: dict[str, pa.Array] = {}
    raw_of: dict[str, Distinct] = {}
    for col in schema.OUTCOME_COLUMNS:
        header = by_name.get(col.name)
        label = header or col.name
        if header is None and col.type in ("text", "number", "integer", "modality"):
            out[col.name] = pa.nulls(n, columnar.arrow_type(col.name))  # what blank cells give
            continue
        raw = _raw(table, header) if header else pa.chunked_array([pa.repeat("", n)])
        if col.type == "text":
            encoded = _distinct(raw) if col.name == "device" else None  # wanted again for the modality
            out[col.name] = _text(raw, encoded)
            if encoded is not None:
                raw_of[col.name] = encoded
            if col.name == "treatment_id" and ids_known is not None:
                ids_known(out[col.name])
            continue
        indices, distinct = raw_of[col.name] = _distinct(raw)
        probe = ProblemLog(table.file, np.arange(len(distinct)))
        if col.type in ("number", "integer"):
            parsed = check_number(col, distinct, probe, label, decimal_comma)
        elif col.type == "date":
            parsed = parse_dates(distinct, date_order, table.file, label, probe,
                                 rows=np.bincount(indices, minlength=len(distinct)))
        elif col.type == "fitzpatrick":
            parsed = check_fitzpatrick(distinct, probe, label)
        else:  # modality
            parsed = check_modality(distinct, probe, label)
        problems.expand(probe, indices)
        out[col.name] = _expand(parsed, indices, col.name, probe.rejected)
    ids = out["treatment_id"]
    _check_ids(ids, by_name["treatment_id"], table, problems)
    out["modality"] = _modality(table, by_name, out["modality"], raw_of, problems, notes)
    out["treatment_area"] = _lower(out["treatment_area"])
    if clinic is not None and clinic.strip():
        out["clinic"] = _given_clinic(table, out["clinic"], " ".join(clinic.split()), notes)
    ids_refused = holds_identifiers(_identifier_sample(out["patient_id"]))
    if ids_refused:
        out["patient_id"] = pa.nulls(n, pa.string())
        notes.append(f"{table.file}: the patient id column holds e-mail addresses, phone numbers or personal names, "
                     "which identify patients, so it was not stored (and is left blank in the rejected rows). Use a "
                     "pseudonymous patient code instead.")
    flags = []
    for header, effect in plan.flags.items():
        raw = _raw(table, header)
        indices, distinct = _distinct(raw)
        flag = map_unique(distinct, schema.parse_flag)
        unknown = flag.isna().to_numpy()
        probe = ProblemLog(table.file, np.arange(len(distinct)))
        probe.add(unknown, header, distinct, "is not a yes/no flag; use yes/no, y/n, 1/0, true/false, or x/blank")
        problems.expand(probe, indices)
        flags.append((np.asarray(flag == True, dtype=bool)[indices], effect))  # noqa: E712
    accepted = ~problems.rejected
    records = pa.table({name: out[name] for name in columnar.columns("outcomes")})
    if not accepted.all():
        records = records.filter(pa.array(accepted))
    flag_effects = concat([side_table({"treatment_id": ids.filter(pa.array(yes & accepted)).cast(pa.string()),
                                       "effect": pa.repeat(pa.scalar(effect, pa.string()), int((yes & accepted).sum()))})
                           for yes, effect in flags], "side_effects")
    return records, flag_effects, ids_refused


def _check_ids(ids: pa.Array, label: str, table: RawTable, problems: ProblemLog) -> None:
    """treatment_id is required and unique: a later repeat is rejected and names the row it repeats."""
    missing = ids.is_null().to_numpy(zero_copy_only=False)
    problems.add(missing, label, np.full(len(ids), "", dtype=object), "is required: give each treatment an id")
    if columnar.unique_text(ids):
        return
    text = _series(ids)
    repeat = (text.notna() & text.duplicated(keep="first")).to_numpy()
    first_row = pd.Series(table.rows, index=text.index).groupby(text).transform("first")
    reason = "repeats the treatment_id of row " + first_row.astype("Int64").astype(str)
    problems.add(repeat, label, text.fillna(""), reason.to_numpy())


def _modality(table: RawTable, by_name: dict[str, str], stated: pa.Array, raw_of: dict[str, Distinct],
              problems: ProblemLog, notes: list[str]) -> pa.DictionaryArray:
    """Modality from the device where it is blank (with a note); blank with a device that does not tell is
    rejected; a stated modality the device contradicts is kept, with a warning."""
    n = len(stated)
    stated_codes = _codes(stated, schema.MODALITIES)
    if "device" in raw_of:
        indices, distinct = raw_of["device"]
        implied = map_unique(distinct, schema.device_modality)
        implied_codes = _codes(pa.array(implied.to_numpy(dtype=object), pa.string(), from_pandas=True),
                               schema.MODALITIES)[indices]
    else:
        implied_codes = np.full(n, -1, dtype=np.int64)
    blank = stated_codes < 0
    filled = blank & (implied_codes >= 0) & ~problems.rejected
    if filled.any():
        notes.append(modality_note(table.file, int(filled.sum())))
    stated_header = by_name.get("modality")
    stated_raw = raw_of["modality"] if stated_header else None
    stated_blank = (np.ones(n, dtype=bool) if stated_raw is None
                    else (stated_raw[1].str.strip() == "").to_numpy()[stated_raw[0]])
    unknown = blank & (implied_codes < 0) & stated_blank
    if unknown.any():
        device = _cells(raw_of.get("device"), unknown)
        problems.add(unknown, stated_header or by_name.get("device", "modality"), device,
                     "modality is blank and the device does not tell; give 'ablative' or 'non-ablative'")
    clash = ~blank & (implied_codes >= 0) & (stated_codes != implied_codes)
    if clash.any():
        device = _cells(raw_of["device"], clash)
        usual = np.array(schema.MODALITIES, dtype=object)[np.maximum(implied_codes, 0)]
        reason = np.full(n, None, dtype=object)
        where = np.flatnonzero(clash)
        reason[where] = [f"stated modality differs from the device '{d}' (usually {u}); the stated modality was kept"
                         for d, u in zip(device[where], usual[where])]
        problems.add(clash, stated_header, _cells(stated_raw, clash), reason, "warning")
    codes = np.where(blank, implied_codes, stated_codes).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                          pa.array(list(schema.MODALITIES), pa.string()))


def _given_clinic(table: RawTable, clinics: pa.Array, name: str, notes: list[str]) -> pa.Array:
    """The clinic given on import for the rows whose file names none (said in a note)."""
    blank = clinics.is_null().to_numpy(zero_copy_only=False)
    if not blank.any():
        return clinics
    notes.append(f"{table.file}: the clinic was not given in {int(blank.sum())} row(s) and was set to '{name}' "
                 "as asked on import.")
    plain = clinics.cast(pa.string()).to_numpy(zero_copy_only=False)
    return _dictionary(np.where(blank, name, plain).astype(object), np.arange(len(plain)))


def _cells(encoded: Distinct | None, mask: np.ndarray) -> np.ndarray:
    """The text of the rows in ``mask`` (others None) of a dictionary-encoded column ('' when there is none)."""
    out = np.full(len(mask), None, dtype=object)
    where = np.flatnonzero(mask)
    if encoded is None:
        out[where] = ""
    else:
        indices, distinct = encoded
        out[where] = distinct.to_numpy(dtype=object)[indices[where]]
    return out


def side_effects(table: RawTable, plan: ColumnPlan, problems: ProblemLog) -> pa.Table:
    """Every side-effect row of the file as canonical values (rejected ones included: the caller adds the
    check against the outcomes, then leaves out the rows ``problems`` rejects)."""
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.uses_decimal_comma
    n = table.num_rows
    ids = _text(_raw(table, by_name["treatment_id"])).cast(pa.string())
    problems.add(ids.is_null().to_numpy(zero_copy_only=False), by_name["treatment_id"],
                 np.full(n, "", dtype=object), "is required: name the treatment this side effect followed")
    out: dict[str, pa.Array] = {"treatment_id": ids}
    indices, distinct = _distinct(_raw(table, by_name["effect"]))
    probe = ProblemLog(table.file, np.arange(len(distinct)))
    effect, other = check_effect(distinct, probe, by_name["effect"])
    problems.expand(probe, indices)
    out["effect"] = _expand(effect, indices, "effect", probe.rejected)
    detail = np.full(len(distinct), None, dtype=object)
    if other.any():  # the original text is kept for 'other' only
        detail[other] = clean_text(distinct[other]).to_numpy(dtype=object)
    out["effect_detail"] = _dictionary(detail, indices)
    checks = [("severity", check_severity)] + [
        (col.name, lambda raw, probe, label, col=col: check_number(col, raw, probe, label, decimal_comma))
        for col in schema.SIDE_EFFECT_COLUMNS if col.type == "number"]
    raw_of: dict[str, Distinct] = {}
    days = {name: np.full(n, np.nan) for name in ("onset_day", "resolved_day")}  # as written, even if rejected
    for name, check in checks:
        header = by_name.get(name)
        if header is None:  # blank cells: nothing to report, nothing stored
            out[name] = pa.nulls(n, columnar.arrow_type(name))
            continue
        indices, distinct = raw_of[name] = _distinct(_raw(table, header))
        probe = ProblemLog(table.file, np.arange(len(distinct)))
        parsed = check(distinct, probe, header)
        problems.expand(probe, indices)
        out[name] = _expand(parsed, indices, name, probe.rejected)
        if name in days:
            days[name] = parsed.to_numpy(dtype="float64", na_value=np.nan)[indices]
    side = side_table(out)
    early = days["resolved_day"] < days["onset_day"]  # NaN compares False
    if early.any():
        problems.add(early, by_name.get("resolved_day", "resolved_day"), _cells(raw_of.get("resolved_day"), early),
                     "is before the onset day; resolved_day must be on or after onset_day")
    return side


def side_table(columns: dict[str, pa.Array]) -> pa.Table:
    """A side-effect table from some of its columns (the others missing)."""
    n = len(columns["treatment_id"])
    return pa.table({name: columns.get(name, pa.nulls(n, columnar.arrow_type(name)))
                     for name in columnar.columns("side_effects")})


def concat(tables: list[pa.Table], kind: columnar.Kind) -> pa.Table:
    """Tables of one kind stacked; a text column that is dictionary-encoded in some parts only is made plain."""
    tables = [t for t in tables if t.num_rows] or tables[:1]
    if not tables:
        return columnar.arrow_schema(kind).empty_table()
    if len(tables) == 1:
        return tables[0]
    fields = []
    for name in columnar.columns(kind):
        types = {t.schema.field(name).type for t in tables}
        fields.append(pa.field(name, types.pop() if len(types) == 1 else columnar.arrow_type(name)))
    target = pa.schema(fields)
    return pa.concat_tables([t.cast(target) for t in tables])


# --- columns -------------------------------------------------------------------------------------

def _raw(table: RawTable, header: str) -> pa.ChunkedArray:
    """A column's cells as the reader gave them (text, or dictionary-encoded text)."""
    values = table.column(header)
    return values.fill_null("") if values.null_count else values


def _distinct(raw: pa.ChunkedArray) -> Distinct:
    """Each row's position in the column's distinct values, and those values (in order of appearance)."""
    encoded = pc.dictionary_encode(raw).unify_dictionaries()
    if encoded.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), pd.Series([], dtype=str)
    indices = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks])
    return indices, encoded.chunk(0).dictionary.to_pandas().astype(str)


def _expand(parsed: pd.Series, indices: np.ndarray, name: str, rejected: np.ndarray) -> pa.Array:
    """Parsed distinct values as the canonical values of every row (a rejected value as missing: its rows
    are left out of the records anyway)."""
    type_ = columnar.arrow_type(name)
    if rejected.any():
        parsed = parsed.where(~rejected, None) if type_ == pa.string() else parsed.mask(rejected)
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


# A value the text cleaning would change: whitespace at either end, or whitespace other than single
# spaces inside (the same character class, which is exactly what str.isspace() accepts).
_SPACE_CLASS = WHITESPACE[:-1]
_NEEDS_CLEANING = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$|{SPACING}"


def _text(raw: pa.ChunkedArray, encoded: Distinct | None = None) -> pa.Array:
    """Trimmed text, inner whitespace runs as one space, missing for blank (:func:`columns.clean_text`).
    ``encoded``: the column's :func:`_distinct`, when already made."""
    if encoded is None and pa.types.is_dictionary(raw.type):
        encoded = _distinct(raw)  # read dictionary-encoded: cleaned once per distinct value
    sample = raw.slice(0, 10_000)
    if encoded is not None or pc.count_distinct(sample).as_py() * 4 < len(sample):  # few values: clean each once
        indices, distinct = encoded or _distinct(raw)
        return _dictionary(clean_text(distinct).to_numpy(dtype=object), indices)
    if _may_hold_whitespace(raw) and pc.any(pc.match_substring_regex(raw, _NEEDS_CLEANING)).as_py():
        cleaned = clean_text(raw.to_pandas().astype(str))
        return pa.array(cleaned.to_numpy(dtype=object), pa.string(), from_pandas=True)
    blank = pc.equal(raw, "")
    if not pc.any(blank).as_py():  # (false, not null: the reader gives no missing cells here)
        return raw.cast(pa.string()).combine_chunks()
    return pc.if_else(blank, pa.scalar(None, raw.type), raw).cast(pa.string()).combine_chunks()


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
        if len(data) and data.min() > 0x20 and data.max() < 0xc2:  # no byte of the table's ranges (codes, ids)
            continue
        if _WHITESPACE_BYTES[data].any():
            return True
    return False


def _lower(values: pa.Array) -> pa.Array:
    """``str.lower`` of each text value (Python's)."""
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


def _identifier_sample(values: pa.Array) -> pd.Series:
    """The present values :func:`columns.holds_identifiers` looks at, in order: the shortest prefix of
    20,000 x 4^k present values that holds 5,000 distinct ones (or all of them). Only that prefix is
    converted to pandas, not a million ids."""
    present = values.cast(pa.string()).drop_null()
    size = 20_000
    while size < len(present) and len(pc.unique(present.slice(0, size))) < 5000:
        size *= 4
    return _series(present.slice(0, size))


def _series(values: pa.Array) -> pd.Series:
    """Text values as a pandas Series (missing as NA), without a Python object per row."""
    return values.cast(pa.string()).to_pandas()


def modality_note(file: str, filled: int) -> str:
    return f"{file}: modality was blank in {filled} row(s) and was taken from the device."
