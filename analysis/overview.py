"""Dataset-at-a-glance facts for the Overview page."""

from __future__ import annotations

from dataclasses import dataclass

from analysis import schema
from analysis.store import Records


@dataclass(frozen=True)
class Overview:
    """Counts and date range of a set of records."""

    treatments: int
    patients: int | None   # None when no patient codes were recorded
    clinics: int
    first_date: str | None
    last_date: str | None
    by_modality: dict[str, int]

    @property
    def date_range(self) -> str:
        if self.first_date is None:
            return "no dates"
        return self.first_date if self.first_date == self.last_date else f"{self.first_date} – {self.last_date}"


def dataset_overview(records: Records) -> Overview:
    """Treatments, distinct patients and clinics, date range and treatments per modality."""
    out = records.outcomes
    patients = int(out["patient_id"].nunique()) if out["patient_id"].notna().any() else None
    dates = out["treatment_date"]
    counts = out["modality"].value_counts()
    return Overview(
        treatments=len(out),
        patients=patients,
        clinics=int(out["clinic"].nunique()),
        first_date=None if dates.empty else f"{dates.min():%Y-%m-%d}",
        last_date=None if dates.empty else f"{dates.max():%Y-%m-%d}",
        by_modality={m: int(counts.get(m, 0)) for m in schema.MODALITIES},
    )
