"""Records as Arrow tables: the typed, canonical values a dataset stores, and the frames they give back.

A stored value is text (``str``, or missing), a date (days), a whole number (int64: Fitzpatrick type,
scores, visits) or a measure (float64: days, minutes, cost). :func:`to_arrow` turns a record frame
into those values, :func:`to_frame` turns them back into the frames the rest of the code uses (the
dtypes of :func:`analysis.records.schema.coerce_outcomes` / ``coerce_side_effects``), and
``to_frame(to_arrow(frame)) == frame`` for every canonical frame. The store writes these tables as
Parquet; the import builds them directly from the parsed file when it can.
"""

from __future__ import annotations

from functools import cache
from typing import Callable, Iterator, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.records import schema

Kind = Literal["outcomes", "side_effects"]

_DATES = frozenset({"treatment_date"})
_WHOLE = frozenset({"fitzpatrick_type", "improvement_score", "satisfaction", "follow_up_visits"})
_MEASURES = frozenset({"downtime_days", "procedure_minutes", "cost", "onset_day", "resolved_day"})


def columns(kind: Kind) -> tuple[str, ...]:
    """The stored columns of a kind of record, in order."""
    return schema.OUTCOME_NAMES if kind == "outcomes" else schema.SIDE_EFFECT_FRAME_COLUMNS


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type a column is stored as (text may also come dictionary-encoded)."""
    if name in _DATES:
        return pa.date32()
    if name in _WHOLE:
        return pa.int64()
    if name in _MEASURES:
        return pa.float64()
    return pa.string()


def arrow_schema(kind: Kind) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(name)) for name in columns(kind)])


def canonical(column: pd.Series, type_: pa.DataType) -> tuple[np.ndarray, np.ndarray | None]:
    """The values a column of this type stores, as a numpy array and the mask of missing values.

    Text: object array of str with None for missing (mask None). Dates: ``datetime64[D]``. Whole
    numbers: int64 (truncated toward zero, as ``int()`` does). Measures: float64.
    """
    if type_ == pa.date32():
        if not pd.api.types.is_datetime64_any_dtype(column):
            column = pd.to_datetime(column)
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_localize(None)
        days = column.to_numpy().astype("datetime64[D]")
        return days, np.isnat(days)
    if type_ == pa.int64():
        if (pd.api.types.is_integer_dtype(column) or pd.api.types.is_bool_dtype(column)) and not column.hasnans:
            return column.to_numpy(dtype=np.int64), None
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(numbers)
        present = numbers[~missing]
        if not np.isfinite(present).all():
            raise ValueError(f"{column.name}: an infinite value cannot be stored in an integer column.")
        whole = np.zeros(len(numbers), dtype=np.int64)
        whole[~missing] = np.trunc(present).astype(np.int64)
        return whole, missing
    if type_ == pa.float64():
        numbers = (column if pd.api.types.is_float_dtype(column) else pd.to_numeric(column, errors="coerce"))
        numbers = numbers.to_numpy(dtype="float64", na_value=np.nan)
        return numbers, np.isnan(numbers)
    text = column.to_numpy(dtype=object, na_value=None)
    if pd.api.types.infer_dtype(text, skipna=True) not in ("string", "empty"):
        text = np.array([v if v is None or isinstance(v, str) else str(v) for v in text], dtype=object)
    return text, None


def to_arrow(frame: pd.DataFrame, kind: Kind) -> pa.Table:
    """A record frame's canonical values (see :func:`canonical`) as an Arrow table, in the frame's order."""
    arrays = []
    for name in columns(kind):
        column, type_ = frame[name], arrow_type(name)
        if type_ == pa.string() and pd.api.types.is_object_dtype(column.dtype):
            try:  # str and missing values only: what canonical() gives, without going through numpy first
                arrays.append(_arrow_text(column))
                continue
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                pass  # other objects: made text by canonical()
        values, missing = canonical(column, type_)
        arrays.append(pa.array(values, type=type_, mask=missing, from_pandas=missing is None))
    return pa.Table.from_arrays(arrays, names=list(columns(kind)))


def _arrow_text(column: pd.Series) -> pa.Array:
    """An object column of str and missing values as Arrow text: dictionary-encoded when it repeats few
    values (clinic, device, effect, ...), so each distinct string is converted once. Raises
    ``ArrowTypeError`` when it holds other objects."""
    sample = column.iloc[:10_000]
    if len(column) > 20_000 and sample.nunique(dropna=False) * 4 < len(sample):
        codes, uniques = pd.factorize(column, sort=False)
        indices = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(np.asarray(uniques, dtype=object), type=pa.string()))
    return pa.array(column, type=pa.string(), from_pandas=True)


def unique_text(values: pa.ChunkedArray | pa.Array) -> bool:
    """True when no text value occurs twice (missing values aside). Sorting is several times faster than
    hashing here, and ids usually come sorted already."""
    values = values.drop_null()
    if pa.types.is_dictionary(values.type):
        values = values.cast(pa.string())
    if len(values) < 2:
        return True
    if pc.all(pc.greater(values.slice(1), values.slice(0, len(values) - 1))).as_py():
        return True  # strictly increasing already (no sort needed)
    ordered = values.take(pc.sort_indices(values))
    return not pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))).as_py()


def text_keys(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Each text value as a 64-bit integer key: its UTF-8 bytes, big-endian, padded with zero bytes. Equal keys
    are equal texts and keys sort as their texts do (code-point order), so ids can be matched and counted as
    integers. Returns the keys (0 where missing) and the mask of missing values (None when none is), or None
    when a value is longer than 8 bytes or holds a NUL character (then padding could make two texts one key)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    if not pa.types.is_string(values.type):
        return None
    n = len(values)
    nulls = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
    if n == 0:
        return np.zeros(0, dtype=np.uint64), nulls
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset:values.offset + n + 1]
    lengths = np.diff(offsets)
    if nulls is not None:
        lengths = np.where(nulls, 0, lengths)  # a missing value's slot may hold bytes: they are not its text
    if lengths.max() > 8:
        return None
    data = values.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    matrix = np.zeros((n, 8), dtype=np.uint8)
    width = int(lengths[0])
    if nulls is None and (lengths == width).all():  # ids of one length (the usual case): one reshape
        used = raw[offsets[0]:offsets[0] + n * width]
        matrix[:, :width] = used.reshape(n, width)
    else:
        starts = np.repeat(offsets[:-1].astype(np.int64), lengths)
        within = np.arange(len(starts), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        used = raw[starts + within]
        matrix[np.repeat(np.arange(n), lengths), within] = used
    if not used.all():
        return None  # a NUL character
    return matrix.view(">u8").ravel().astype(np.uint64), nulls


#: The key :func:`id_keys` gives a missing value: no text has it (its first byte would be a NUL).
MISSING_KEY = np.uint64(1)


def id_keys(values: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """:func:`text_keys` with ``MISSING_KEY`` where a value is missing (one array), or None."""
    got = text_keys(values)
    if got is None:
        return None
    keys, missing = got
    if missing is not None:
        keys[missing] = MISSING_KEY
    return keys


def key_positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray | None:
    """For each of ``wanted``, the position of the equal key in ``keys`` (-1 when none is); None when ``keys``
    repeats a value. Sort and binary search: at a million keys several times faster than a hash table here."""
    order = None
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # stored ids are often in order already
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if not (keys[1:] > keys[:-1]).all():
            return None
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    if len(wanted) > 1 and not (wanted[1:] >= wanted[:-1]).all():  # searches in order reuse the cache
        needles = np.argsort(wanted, kind="stable")
        at = np.empty(len(wanted), dtype=np.intp)
        at[needles] = np.searchsorted(keys, wanted[needles])
    else:
        at = np.searchsorted(keys, wanted)
    at = np.minimum(at, len(keys) - 1)
    found = keys[at] == wanted
    return np.where(found, at if order is None else order[at], -1).astype(np.int64)


def side_positions(ids: pa.ChunkedArray | pa.Array, side_ids: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """Each side effect's row among the outcomes (-1 when no outcome has its id) from the two treatment id
    columns; None when it cannot tell this way (an outcome id missing or repeated, or ids longer than 8 bytes)."""
    outcome_keys, side_keys = text_keys(ids), text_keys(side_ids)
    if outcome_keys is None or side_keys is None or outcome_keys[1] is not None:
        return None
    pos = key_positions(outcome_keys[0], side_keys[0])
    if pos is not None and side_keys[1] is not None:
        pos[side_keys[1]] = -1
    return pos


def load_order(table: pa.Table) -> np.ndarray | None:
    """Row positions that put outcomes in load order (date, then treatment id in code-point order, which
    is UTF-8 byte order); None when the table is in that order already. Dates and ids must be present."""
    if table.num_rows < 2:
        return None
    days = table.column("treatment_date").combine_chunks()
    ids = table.column("treatment_id")
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(pa.string())
    ids = ids.combine_chunks()
    day = days.cast(pa.int32()).to_numpy(zero_copy_only=False)
    later_id = pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
    if ((day[1:] > day[:-1]) | ((day[1:] == day[:-1]) & later_id)).all():
        return None
    ordered = pa.table({"day": days, "id": ids})
    return pc.sort_indices(ordered, sort_keys=[("day", "ascending"), ("id", "ascending")]).to_numpy()


#: Rows per Parquet row group.
PARQUET_ROW_GROUP = 262_144


def to_parquet(table: pa.Table, *, ordered: bool) -> bytes:
    """Canonical values as Parquet (zstd); ``ordered``: in load order (outcomes, see :func:`load_order`)."""
    order = load_order(table) if ordered else None
    if order is not None:
        table = table.take(order)
    sink = pa.BufferOutputStream()
    # Plain text columns are the ones that hardly repeat (ids): a Parquet dictionary would only be given up.
    dictionary = [f.name for f in table.schema if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    pq.write_table(table, sink, compression="zstd", row_group_size=PARQUET_ROW_GROUP, write_statistics=False,
                   use_dictionary=dictionary)
    return sink.getvalue().to_pybytes()


@cache
def frame_template(kind: Kind) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of a record frame (``schema.coerce_*``)."""
    empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in columns(kind)})
    coerce = schema.coerce_outcomes if kind == "outcomes" else schema.coerce_side_effects
    return coerce(empty)


def to_frame(table: pa.Table, kind: Kind) -> pd.DataFrame:
    """Canonical values back to a record frame: exactly the columns, dtypes and index of
    :func:`frame_template`. Text repeated in a dictionary-encoded column becomes one Python object per
    distinct value, shared by its rows (faster, and less memory than one object per row)."""
    template = frame_template(kind)
    index = pd.RangeIndex(table.num_rows)
    result = {}
    for name in template.columns:
        dtype = template[name].dtype
        values = table.column(name)
        if isinstance(dtype, pd.CategoricalDtype):
            column = pd.Series(pd.Categorical.from_codes(_category_codes(values, dtype.categories), dtype=dtype),
                               index=index)
        elif pd.api.types.is_object_dtype(dtype):
            column = pd.Series(_text_values(values), index=index, dtype=object, copy=False)
        else:
            column = pd.Series(values.to_numpy(zero_copy_only=False), index=index, copy=False).astype(dtype)
        result[name] = column
    frame = pd.DataFrame(result, index=index, copy=False)
    if list(frame.columns) != list(template.columns) or not frame.dtypes.equals(template.dtypes):
        raise TypeError("the columns do not match the record schema")
    return frame


def _dictionary_parts(values: pa.ChunkedArray,
                      convert: Callable[[np.ndarray], np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray, object]]:
    """For each chunk of a dictionary column: converted dictionary, indices (0 where null), null mask."""
    for chunk in values.chunks:
        indices = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)
        nulls = chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else None
        yield convert(chunk.dictionary.to_numpy(zero_copy_only=False)), indices, nulls


def _text_values(values: pa.ChunkedArray) -> np.ndarray:
    """Object array of str with None for missing."""
    if not pa.types.is_dictionary(values.type):
        return values.to_numpy(zero_copy_only=False)
    parts = []
    for dictionary, indices, nulls in _dictionary_parts(values, lambda d: d):
        part = (dictionary.take(indices) if len(dictionary) else np.full(len(indices), None, dtype=object))
        if nulls is not None:
            part[nulls] = None
        parts.append(part)
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


def _category_codes(values: pa.ChunkedArray, categories: pd.Index) -> np.ndarray:
    """Category codes of text values (-1 for missing or unknown values, as ``pd.Categorical`` gives)."""
    if not pa.types.is_dictionary(values.type):
        return pd.Categorical(values.to_numpy(zero_copy_only=False), categories=categories).codes
    parts = []
    for lookup, indices, nulls in _dictionary_parts(values, categories.get_indexer):
        part = lookup.take(indices) if len(lookup) else np.full(len(indices), -1, dtype=np.intp)
        if nulls is not None:
            part[nulls] = -1
        parts.append(part)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int8)
