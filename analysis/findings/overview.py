"""Dataset-at-a-glance facts for the Overview page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from analysis.records import schema
from analysis.records.filters import distinct_patients
from analysis.records.store import Records

if TYPE_CHECKING:
    from analysis.findings import compare
    from analysis.findings.skin_tone import SkinToneComparison


@dataclass(frozen=True)
class Overview:
    """Counts and date range of a set of records."""

    treatments: int
    patients: int | None   # None when no patient codes were recorded
    clinics: int | None    # None when no clinic was recorded
    first_date: str | None
    last_date: str | None
    by_modality: dict[str, int]

    @property
    def months(self) -> int:
        """How many calendar months the treatments span (short enough for a card; 0 without dates)."""
        if self.first_date is None:
            return 0
        first, last = date.fromisoformat(self.first_date), date.fromisoformat(self.last_date)  # type: ignore[arg-type]
        return (last.year - first.year) * 12 + last.month - first.month + 1

    @property
    def date_range(self) -> str:
        if self.first_date is None:
            return "no dates"
        first, last = (date.fromisoformat(d).strftime("%b %Y") for d in (self.first_date, self.last_date))  # type: ignore[arg-type]
        return first if first == last else f"{first} – {last}"


def dataset_overview(records: Records) -> Overview:
    """Treatments, distinct patients and clinics, date range and treatments per modality."""
    out = records.outcomes
    patients = distinct_patients(records)
    dates = out["treatment_date"]
    counts = out["modality"].value_counts()
    return Overview(
        treatments=len(out),
        patients=patients,
        clinics=int(out["clinic"].nunique()) if out["clinic"].notna().any() else None,
        first_date=None if dates.empty else f"{dates.min():%Y-%m-%d}",
        last_date=None if dates.empty else f"{dates.max():%Y-%m-%d}",
        by_modality={m: int(counts.get(m, 0)) for m in schema.MODALITIES},
    )


@dataclass(frozen=True)
class Metric:
    """A headline number for a metric card: label, value and the interval and n beneath it."""

    label: str
    value: str
    detail: str


def _small(n: int) -> str:
    from analysis.findings.compare import SMALL_N

    return f" · ⚠ too few to conclude from (fewer than {SMALL_N})" if n < SMALL_N else ""


def headline(downtime: "compare.ContinuousComparison", improvement: "compare.OrdinalComparison",
             skin_tone: "SkinToneComparison") -> list[tuple[Metric, Metric]]:
    """Ablative vs non-ablative cards: median downtime, share with >= 51 % improvement, hyperpigmentation."""
    from analysis.findings import wording

    rows = []
    cards = []
    for m in schema.MODALITIES:
        e = downtime.medians[m]
        cards.append(Metric(f"Median downtime · {m}", wording.number(e.estimate, "days"),
                            f"95 % CI {wording.interval(e.low, e.high)} · n = {e.n:,}" + _small(e.n)))
    rows.append(tuple(cards))
    cards = []
    for m in schema.MODALITIES:
        p = improvement.good_share[m]
        cards.append(Metric(f"≥ 51 % improvement · {m}", wording.pct(p.estimate),
                            f"95 % CI {wording.pct_range(p.low, p.high)} · n = {p.treatments:,}" + _small(p.treatments)))
    rows.append(tuple(cards))
    cards = []
    for m, p in ((schema.ABLATIVE, skin_tone.overall.ablative), (schema.NON_ABLATIVE, skin_tone.overall.non_ablative)):
        if not skin_tone.recorded:
            cards.append(Metric(f"Hyperpigmentation · {m}", "not recorded",
                                "no side-effect records were imported for this dataset"))
            continue
        cards.append(Metric(f"Hyperpigmentation · {m}", wording.pct(p.estimate),
                            f"95 % CI {wording.pct_range(p.low, p.high)} · {p.events:,} of {p.treatments:,}"
                            + _small(p.treatments)))
    rows.append(tuple(cards))
    return rows  # type: ignore[return-value]
