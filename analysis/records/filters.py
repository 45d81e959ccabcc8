"""Selections of records (date range, clinic, device, area, skin type) and the per-treatment effect table."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.records import columnar, schema
from analysis.records.store import Records


@dataclass(frozen=True)
class Filters:
    """A selection. Empty tuples mean 'all'; dates are inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    clinics: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    fitzpatrick_types: tuple[int, ...] = ()
    modalities: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def describe(self) -> str:
        """The selection in words, for page captions and reports."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"dates {self.date_from or '…'} to {self.date_to or '…'}")
        for label, values in (("clinic", self.clinics), ("device", self.devices), ("area", self.areas),
                              ("modality", self.modalities)):
            if values:
                parts.append(f"{label} {', '.join(values)}")
        if self.fitzpatrick_types:
            parts.append("Fitzpatrick " + ", ".join(schema.FITZPATRICK_ROMAN[t] for t in sorted(self.fitzpatrick_types)))
        return "; ".join(parts) if parts else "all records"


#: Text columns with few distinct values that selections and statistics group by: stored as categoricals
#: once prepared (selecting copies small integer codes instead of object references).
GROUPING_TEXT: tuple[str, ...] = ("clinic", "device", "treatment_area", "practitioner")


def prepare(records: Records) -> Records:
    """``records`` with per-treatment effect flags and each side effect's outcome row computed.

    Done once per dataset version (the app caches the result): selections then follow side effects by
    row position and statistics read the flags, instead of joining on text ids every time. Records
    whose treatment ids are not unique are returned unchanged (every function still works, slower).
    """
    if records.flags is not None and records.side_pos is not None:
        return records
    out, side = records.outcomes, records.side_effects
    pos = records.side_pos  # Store.load gives it when it could match the ids from its columnar copy
    if pos is None:
        pos = side_positions(out["treatment_id"].to_numpy(dtype=object), side["treatment_id"].to_numpy(dtype=object))
    if pos is None:
        return records
    codes = pd.Index(schema.EFFECTS).get_indexer(side["effect"]).astype(np.int64)
    flags = np.zeros((len(out), len(schema.EFFECTS)), dtype=bool)
    hit = (pos >= 0) & (codes >= 0)
    flags[pos[hit], codes[hit]] = True
    frame = pd.DataFrame(flags, columns=list(schema.EFFECTS), index=out.index)
    grouped = {c: _categorical(out[c]) for c in GROUPING_TEXT if c in out and out[c].dtype == object}
    patients = records.patient_keys
    if patients is None and "patient_id" in out:
        patients = patient_keys(out["patient_id"].to_numpy(dtype=object))
    return replace(records, outcomes=out.assign(**grouped), flags=frame, side_pos=pos, patient_keys=patients)


def patient_keys(ids: np.ndarray) -> np.ndarray | None:
    """Patient ids (an object array) as integer keys (:func:`analysis.records.columnar.id_keys`), or None when
    they are not all text of 8 bytes or fewer (then patients are counted from the ids themselves)."""
    if pd.api.types.infer_dtype(ids, skipna=True) not in ("string", "empty"):
        return None
    try:
        return columnar.id_keys(pa.array(ids, type=pa.string(), from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # (not reached for str values)
        return None


def distinct_patients(records: Records) -> int | None:
    """How many distinct patient ids the outcomes hold (``patient_id.nunique()``); None when none is recorded."""
    keys = records.patient_keys
    if keys is None or len(keys) != len(records.outcomes):
        ids = records.outcomes["patient_id"]
        return int(ids.nunique()) if ids.notna().any() else None
    present = keys[keys != columnar.MISSING_KEY]
    return int(len(pd.unique(present))) if len(present) else None


def side_positions(ids: np.ndarray, side_ids: np.ndarray) -> np.ndarray | None:
    """Each side effect's row among the outcomes (-1 when no outcome has its id), from the two treatment id
    columns as object arrays; None when an outcome id is missing or repeated.

    Short text ids (8 bytes or fewer, what clinics export) are matched as integers by
    :func:`analysis.records.columnar.side_positions` (sorting, several times faster than a hash pass over
    Python strings at a million treatments); any other ids by that hash pass (:func:`hashed_positions`, the
    definition the fast path is tested against)."""
    if (pd.api.types.infer_dtype(ids, skipna=False) == "string"
            and pd.api.types.infer_dtype(side_ids, skipna=True) in ("string", "empty")):
        try:
            fast = columnar.side_positions(pa.array(ids, type=pa.string()),
                                           pa.array(side_ids, type=pa.string(), from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # (not reached for str values; the hash pass decides)
            fast = None
        if fast is not None:
            return fast
    return hashed_positions(ids, side_ids)


def hashed_positions(ids: np.ndarray, side_ids: np.ndarray) -> np.ndarray | None:
    """:func:`side_positions` by one hash pass over both id columns (unique outcome ids get codes 0..n-1 in
    row order); None when an outcome id is missing or repeated."""
    n = len(ids)
    codes, _ = pd.factorize(np.concatenate([ids, side_ids]))
    if not np.array_equal(codes[:n], np.arange(n)):
        return None
    pos = codes[n:].astype(np.int64)
    pos[pos >= n] = -1
    return pos


def _categorical(column: pd.Series) -> pd.Series:
    """``column.astype("category")`` (categories sorted), from one hash pass over its values: a loaded column
    shares one string object per distinct value, whose hash Python keeps, where ``astype`` converts every value
    to a string array first (a third of a second per column at a million treatments)."""
    codes, uniques = pd.factorize(column.to_numpy(dtype=object), sort=True)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques)), index=column.index,
                     name=column.name)


def apply_filters(records: Records, filters: Filters) -> Records:
    """The records matching ``filters`` (side effects follow their treatments)."""
    if filters.is_empty:
        return records
    out = records.outcomes
    mask = np.ones(len(out), dtype=bool)
    if filters.date_from:
        mask &= (out["treatment_date"] >= pd.Timestamp(filters.date_from)).to_numpy()
    if filters.date_to:
        mask &= (out["treatment_date"] <= pd.Timestamp(filters.date_to)).to_numpy()
    for column, values in (("clinic", filters.clinics), ("device", filters.devices),
                           ("treatment_area", filters.areas), ("modality", filters.modalities),
                           ("fitzpatrick_type", filters.fitzpatrick_types)):
        if values:
            mask &= _member(out[column], values)
    rows = np.flatnonzero(mask)
    kept = out.take(rows).reset_index(drop=True)
    side = records.side_effects
    patients = None if records.patient_keys is None else records.patient_keys[rows]
    if records.side_pos is None or records.flags is None:
        side = side.loc[side["treatment_id"].isin(kept["treatment_id"])].reset_index(drop=True)
        return Records(kept, side, records.side_effects_recorded, patient_keys=patients)
    pos = records.side_pos
    keep = np.zeros(len(side), dtype=bool)
    linked = pos >= 0
    keep[linked] = mask[pos[linked]]
    new_row = np.cumsum(mask) - 1
    return Records(kept, side.take(np.flatnonzero(keep)).reset_index(drop=True), records.side_effects_recorded,
                   flags=records.flags.take(rows).reset_index(drop=True), side_pos=new_row[pos[keep]],
                   patient_keys=patients)


def _member(column: pd.Series, values: Sequence[object]) -> np.ndarray:
    """``column.isin(values)`` as a numpy mask; a categorical column (clinic, device, area, modality as
    :func:`prepare` stores them) is looked up by its codes, and small integers (Fitzpatrick type) by value."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        lookup = np.append(column.cat.categories.isin(list(values)), False)  # code -1 (missing): not a member
        return lookup[column.cat.codes.to_numpy()]
    if column.dtype == np.int8 and all(isinstance(v, (int, np.integer)) and -128 <= v < 128 for v in values):
        lookup = np.zeros(256, dtype=bool)
        lookup[np.asarray(list(values), dtype=np.int16) + 128] = True
        return lookup[column.to_numpy().astype(np.int16) + 128]
    return column.isin(values).to_numpy()


def with_effect_flags(records: Records, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Outcomes plus one boolean column per effect: did the treatment have at least one such event.

    ``columns``: the outcome columns a statistic needs (default all); fewer columns, less copying.
    """
    prepared = prepare(records)
    if prepared.flags is None:
        out = records.outcomes.copy()
        side = records.side_effects
        for effect in schema.EFFECTS:
            out[effect] = out["treatment_id"].isin(side.loc[side["effect"] == effect, "treatment_id"])
        return out if columns is None else out[[*columns, *schema.EFFECTS]]
    outcomes = prepared.outcomes if columns is None else prepared.outcomes[list(columns)]
    return pd.concat([outcomes, prepared.flags], axis=1)


def side_effects_with(records: Records, columns: list[str]) -> pd.DataFrame:
    """Side effects with their treatments' ``columns`` added (an inner join on ``treatment_id``:
    side effects of treatments not in ``records`` are left out)."""
    side = records.side_effects
    if records.side_pos is None:
        return side.merge(records.outcomes[["treatment_id", *columns]], on="treatment_id", how="inner")
    pos = records.side_pos
    linked = pos >= 0
    joined = side.loc[linked].reset_index(drop=True) if not linked.all() else side.copy()
    for column in columns:
        joined[column] = records.outcomes[column].take(pos[linked]).reset_index(drop=True)
    return joined


def options(records: Records) -> dict[str, list]:
    """The values a selection can take in these records (for filter widgets)."""
    out = records.outcomes
    return {
        "clinics": sorted(out["clinic"].dropna().unique().tolist()),
        "devices": sorted(out["device"].dropna().unique().tolist()),
        "areas": sorted(out["treatment_area"].dropna().unique().tolist()),
        "fitzpatrick_types": sorted(int(t) for t in out["fitzpatrick_type"].unique()),
        "first_date": out["treatment_date"].min().date() if len(out) else None,
        "last_date": out["treatment_date"].max().date() if len(out) else None,
    }


__all__ = ["Filters", "apply_filters", "prepare", "with_effect_flags", "side_effects_with", "options", "replace"]
