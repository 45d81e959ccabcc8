"""The view in the address bar: dataset id and filters <-> URL query parameters.

A share link carries only plain values: the dataset's opaque id, ISO dates, and the clinic,
device, area and Fitzpatrick values chosen. Parsing never raises: anything unknown or malformed
is dropped and reported in a notice, so a broken link opens with sensible defaults.
No patient data can reach a URL: the only free-text values accepted are those already offered
as filter options (clinic, device, area names), and patient ids are never a filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from analysis.records.filters import Filters
from analysis.records.schema import FITZPATRICK_ROMAN, parse_fitzpatrick
from analysis.records.store import is_valid_dataset_id

PARAM_DATASET = "dataset"
PARAM_FROM = "from"
PARAM_TO = "to"
LIST_PARAMS: dict[str, str] = {"clinic": "clinics", "device": "devices", "area": "areas"}
PARAM_FITZ = "fitz"
MAX_VALUES_PER_PARAM = 200


@dataclass(frozen=True)
class FilterChoices:
    """What the current dataset allows: the values offered by each filter and its date span."""

    clinics: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    fitzpatrick_types: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    first_date: date | None = None
    last_date: date | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> "FilterChoices":
        """Build from :func:`analysis.records.filters.options`."""
        return cls(tuple(options["clinics"]), tuple(options["devices"]), tuple(options["areas"]),  # type: ignore[arg-type]
                   tuple(options["fitzpatrick_types"]), options["first_date"], options["last_date"])  # type: ignore[arg-type]


def _values(params: Mapping[str, Sequence[str] | str], key: str) -> list[str]:
    raw = params.get(key)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    return [v for v in items if isinstance(v, str)][:MAX_VALUES_PER_PARAM]


def parse_dataset(params: Mapping[str, Sequence[str] | str], known_ids: Sequence[str]) -> tuple[str | None, list[str]]:
    """The dataset id in the link if it names a dataset here, else None with a notice (never echoing the value)."""
    values = _values(params, PARAM_DATASET)
    if not values:
        return None, []
    wanted = values[-1]
    if is_valid_dataset_id(wanted) and wanted in known_ids:
        return wanted, []
    return None, [DATASET_NOT_FOUND]


#: The notice for a link to a dataset that is not here: the same words whatever the reason, so that it says
#: nothing about the dataset (and the link's filters, made for that dataset, are not applied to another one).
DATASET_NOT_FOUND = ("The dataset in this link was not found: it does not exist here (it may have been deleted, or "
                     "the link is incomplete). Showing the newest dataset instead, without the link's filters.")


def parse_filters(params: Mapping[str, Sequence[str] | str], choices: FilterChoices) -> tuple[Filters, list[str]]:
    """Filters from a link, keeping only values this dataset offers; notices say what was dropped."""
    notes: list[str] = []
    picked: dict[str, tuple] = {}
    for param, field_name in LIST_PARAMS.items():
        offered = getattr(choices, field_name)
        values = _values(params, param)
        kept = tuple(dict.fromkeys(v for v in values if v in offered))
        dropped = len(set(values)) - len(kept)
        if dropped:
            kind = {"clinic": "clinic", "device": "device", "area": "treatment area"}[param]
            notes.append(f"The link asked for {dropped} {kind} value(s) this dataset does not have; "
                         f"{'they were' if dropped > 1 else 'it was'} left out.")
        picked[field_name] = kept
    fitz_raw = _values(params, PARAM_FITZ)
    parsed = [parse_fitzpatrick(v) for v in fitz_raw]
    unreadable = sum(t is None for t in parsed)
    if unreadable:
        notes.append(f"The link had {unreadable} Fitzpatrick skin type value(s) other than I–VI; "
                     f"{'they were' if unreadable > 1 else 'it was'} left out.")
    valid = {t for t in parsed if t is not None}
    absent = sorted(valid - set(choices.fitzpatrick_types))
    if absent:
        notes.append("The link asked for Fitzpatrick type(s) " + ", ".join(FITZPATRICK_ROMAN[t] for t in absent)
                     + " that this dataset does not have; they were left out.")
    fitz = tuple(sorted(valid & set(choices.fitzpatrick_types)))
    dates: dict[str, date | None] = {}
    for param in (PARAM_FROM, PARAM_TO):
        values = _values(params, param)
        dates[param] = None
        if values:
            try:
                dates[param] = date.fromisoformat(values[-1])
            except ValueError:
                notes.append(f"The link's '{param}' date is not a date (YYYY-MM-DD); it was left out.")
    start, end = dates[PARAM_FROM], dates[PARAM_TO]
    if start and end and start > end:
        notes.append("The link's date range ends before it starts; showing all dates.")
        start = end = None
    if (start and choices.last_date and start > choices.last_date) or \
            (end and choices.first_date and end < choices.first_date):
        notes.append("The link's dates lie outside this dataset's treatments; showing all dates.")
        start = end = None
    if start and choices.first_date and start <= choices.first_date:
        start = None
    if end and choices.last_date and end >= choices.last_date:
        end = None
    return Filters(date_from=start, date_to=end, clinics=picked["clinics"], devices=picked["devices"],
                   areas=picked["areas"], fitzpatrick_types=fitz), notes


def to_params(dataset_id: str | None, filters: Filters) -> dict[str, str | list[str]]:
    """Query parameters for a view: only what differs from the defaults; lists as repeated keys."""
    out: dict[str, str | list[str]] = {}
    if dataset_id:
        out[PARAM_DATASET] = dataset_id
    if filters.date_from:
        out[PARAM_FROM] = filters.date_from.isoformat()
    if filters.date_to:
        out[PARAM_TO] = filters.date_to.isoformat()
    for param, field_name in LIST_PARAMS.items():
        values = getattr(filters, field_name)
        if values:
            out[param] = list(values)
    if filters.fitzpatrick_types:
        out[PARAM_FITZ] = [FITZPATRICK_ROMAN[t] for t in sorted(filters.fitzpatrick_types)]
    return out
