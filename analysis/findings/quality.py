"""Data-quality checks of a dataset: what is missing, what is worth a second look, what repeats.

Pure functions, no Streamlit. Every check is of values the import *accepted*: they are valid,
but a clinic manager may want to confirm them (a 45-day downtime, a session entered twice, a
cost far from the other sessions on the same device). :func:`quality_summary` returns one
:class:`QualitySummary`; :meth:`QualitySummary.checks` lists the checks in the order a manager
reads them, each with one plain sentence and the rows behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.records import schema
from analysis.stats.checks import NOT_RECORDED
from analysis.findings.compare import SMALL_N
from analysis.records.store import Records

LONG_DOWNTIME_DAYS = 30        # valid up to 90, but more than a month is unusual enough to confirm
LONG_PROCEDURE_MINUTES = 240   # valid up to 600, but over four hours is unusual for one session
IQR_FACTOR = 1.5               # Tukey's fences: below Q1 - 1.5 IQR or above Q3 + 1.5 IQR
MIN_COSTS_FOR_FENCES = SMALL_N  # quartiles of fewer costs than this are too unstable to judge by
SMALL_GROUP = SMALL_N          # groups with fewer treatments are flagged on every page

# Columns the missing-value table covers. Side effects: effect_detail only holds the original
# text of effects stored as 'other', so a blank there is normal and not counted.
_SIDE_EFFECT_CHECKED = ("treatment_id", "effect", "severity", "onset_day", "resolved_day")
_GROUPINGS = (("clinic", "clinic"), ("device", "device"), ("treatment_area", "treatment area"))
_VISIT_KEYS = ["patient_id", "treatment_date", "device", "treatment_area"]
_SHOWN = ["treatment_id", "treatment_date", "clinic", "device", "treatment_area", "modality"]


@dataclass(frozen=True)
class QualityCheck:
    """One check as the Data page shows it: a heading, one sentence and the rows to look at."""

    key: str                # stable name: missing, downtime, procedures, costs, unresolved, visits,
                            # side_effect_repeats, groups, rejected
    title: str
    sentence: str
    count: int              # rows (or groups) worth a look; 0 when there is nothing to check
    table: pd.DataFrame


@dataclass(frozen=True)
class QualitySummary:
    """Everything the data-quality section shows about one dataset.

    Frames are empty (with their columns) when there is nothing to report. ``rows_rejected`` is
    the import's count of rejected rows (``None`` when not known); ``cost_fences`` holds the
    Tukey fences per device for the groups with enough costs to judge by.
    """

    treatments: int
    side_effects: int
    rows_rejected: int | None
    missing: pd.DataFrame              # records, column, missing, percent
    long_downtime: pd.DataFrame        # treatments with downtime_days > LONG_DOWNTIME_DAYS
    long_procedures: pd.DataFrame      # treatments with procedure_minutes > LONG_PROCEDURE_MINUTES
    cost_outliers: pd.DataFrame        # treatments outside their device's Tukey fences
    cost_fences: pd.DataFrame          # device, costs, q1, q3, lower fence, upper fence, outside
    unresolved_events: pd.DataFrame    # side effects with no resolved_day
    repeated_visits: pd.DataFrame      # patient + date + device + area seen more than once
    repeated_side_effects: pd.DataFrame  # side-effect rows repeated exactly, with their copies
    groups: pd.DataFrame               # treatments per clinic / device / area, small ones flagged
    patient_ids_recorded: bool

    def checks(self) -> tuple[QualityCheck, ...]:
        """The checks in reading order, each with one plain sentence (numbers only, no names)."""
        long_downtime = _count_sentence(
            len(self.long_downtime), self.treatments, f"a downtime of more than {LONG_DOWNTIME_DAYS} days",
            "valid, but worth confirming it is days and not hours or a typing slip")
        long_procedures = _count_sentence(
            len(self.long_procedures), self.treatments,
            f"a procedure time of more than {LONG_PROCEDURE_MINUTES} minutes",
            "valid, but worth confirming it is minutes and not seconds or a whole-day booking")
        return (
            QualityCheck("missing", "Missing values", _missing_sentence(self.missing),
                         int(((self.missing["missing"] > 0) & (self.missing["percent"] < 100)).sum()), self.missing),
            QualityCheck("downtime", f"Downtime over {LONG_DOWNTIME_DAYS} days", long_downtime,
                         len(self.long_downtime), self.long_downtime),
            QualityCheck("procedures", f"Procedures over {LONG_PROCEDURE_MINUTES} minutes", long_procedures,
                         len(self.long_procedures), self.long_procedures),
            QualityCheck("costs", "Unusual costs", _cost_sentence(self.cost_outliers, self.cost_fences),
                         len(self.cost_outliers), self.cost_outliers),
            QualityCheck("unresolved", "Side effects with no resolution day",
                         _unresolved_sentence(len(self.unresolved_events), self.side_effects),
                         len(self.unresolved_events), self.unresolved_events),
            QualityCheck("visits", "Visits that may have been entered twice",
                         _visits_sentence(self.repeated_visits, self.patient_ids_recorded),
                         len(self.repeated_visits), self.repeated_visits),
            QualityCheck("side_effect_repeats", "Side-effect records repeated exactly",
                         _repeats_sentence(self.repeated_side_effects), len(self.repeated_side_effects),
                         self.repeated_side_effects),
            QualityCheck("groups", "Treatments per clinic, device and area", _groups_sentence(self.groups),
                         int(self.groups["small"].sum()), self.groups),
            QualityCheck("rejected", "Rows rejected at import", _rejected_sentence(self.rows_rejected),
                         self.rows_rejected or 0, pd.DataFrame()),
        )


def quality_summary(records: Records, rows_rejected: int | None = None) -> QualitySummary:
    """Run every data-quality check on a dataset's records.

    Parameters
    ----------
    records : Records
        The whole dataset (typed frames as :func:`analysis.records.schema.coerce_outcomes` makes them).
    rows_rejected : int or None
        How many rows the import rejected (``DatasetInfo.rows_rejected``); ``None`` if unknown.

    Examples
    --------
    >>> from analysis.records.ingest import SourceFile, import_files
    >>> r = import_files(SourceFile("o.csv", b"treatment_id,treatment_date,modality,fitzpatrick_type,"
    ...                                      b"downtime_days\\nT1,2024-01-01,ablative,2,45\\n"))
    >>> q = quality_summary(Records(r.outcomes, r.side_effects))
    >>> list(q.long_downtime["treatment_id"])
    ['T1']
    """
    out, side = records.outcomes, records.side_effects
    if rows_rejected is not None and (isinstance(rows_rejected, bool) or int(rows_rejected) != rows_rejected
                                      or rows_rejected < 0):
        raise ValueError(f"rows_rejected must be a whole number >= 0 or None, got {rows_rejected!r}")
    fences, outliers = cost_outliers(out)
    return QualitySummary(
        treatments=len(out),
        side_effects=len(side),
        rows_rejected=None if rows_rejected is None else int(rows_rejected),
        missing=missing_values(records),
        long_downtime=_above(out, "downtime_days", LONG_DOWNTIME_DAYS),
        long_procedures=_above(out, "procedure_minutes", LONG_PROCEDURE_MINUTES),
        cost_outliers=outliers,
        cost_fences=fences,
        unresolved_events=unresolved_events(side),
        repeated_visits=repeated_visits(out),
        repeated_side_effects=repeated_side_effects(side),
        groups=group_sizes(out),
        patient_ids_recorded=bool(out["patient_id"].notna().any()),
    )


# --- the checks ------------------------------------------------------------------------------

def missing_values(records: Records) -> pd.DataFrame:
    """Missing values per column: records ('treatments' / 'side effects'), column, missing, percent.

    ``percent`` is of that kind of record, rounded to 0.1; NaN when there are no such records.
    """
    rows = []
    for label, frame, columns in (("treatments", records.outcomes, schema.OUTCOME_NAMES),
                                  ("side effects", records.side_effects, _SIDE_EFFECT_CHECKED)):
        n = len(frame)
        for column in columns:
            missing = int(frame[column].isna().sum())
            rows.append({"records": label, "column": column, "missing": missing,
                         "percent": round(100.0 * missing / n, 1) if n else np.nan})
    return pd.DataFrame(rows, columns=["records", "column", "missing", "percent"])


def _above(out: pd.DataFrame, column: str, limit: float) -> pd.DataFrame:
    rows = out.loc[out[column] > limit, [*_SHOWN, column]]
    return rows.sort_values([column, "treatment_id"], ascending=[False, True]).reset_index(drop=True)


def cost_outliers(out: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Costs outside Tukey's fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR) of the sessions on the same device.

    Prices differ by device, so each device is judged against its own sessions; a missing device
    is its own group. Quartiles are pandas' default (linear interpolation, R's type 7). Groups
    with fewer than ``MIN_COSTS_FOR_FENCES`` costs are not judged.

    Returns ``(fences, outliers)``: one row per judged device (device, costs, q1, q3,
    lower fence, upper fence, outside) and the treatments outside their device's fences.
    """
    costs = out.loc[out["cost"].notna(), [*_SHOWN, "cost"]].copy()
    costs["_group"] = costs["device"].astype(object).fillna(NOT_RECORDED)
    fence_rows, flagged = [], []
    for device, group in costs.groupby("_group", sort=True):
        values = group["cost"]
        if len(values) < MIN_COSTS_FOR_FENCES:
            continue
        q1, q3 = (float(v) for v in values.quantile([0.25, 0.75]))
        low, high = q1 - IQR_FACTOR * (q3 - q1), q3 + IQR_FACTOR * (q3 - q1)
        outside = group[(values < low) | (values > high)]
        fence_rows.append({"device": device, "costs": len(values), "q1": q1, "q3": q3, "lower fence": low,
                           "upper fence": high, "outside": len(outside)})
        if len(outside):
            flagged.append(outside.assign(**{"lower fence": low, "upper fence": high}))
    fences = pd.DataFrame(fence_rows, columns=["device", "costs", "q1", "q3", "lower fence", "upper fence",
                                               "outside"])
    columns = [*_SHOWN, "cost", "lower fence", "upper fence"]
    outliers = (pd.concat(flagged, ignore_index=True)[columns] if flagged else
                pd.DataFrame({c: pd.Series(dtype=out[c].dtype if c in out else "float64") for c in columns}))
    return fences, outliers.sort_values(["device", "cost", "treatment_id"]).reset_index(drop=True)


def unresolved_events(side: pd.DataFrame) -> pd.DataFrame:
    """Side-effect records with no resolved_day (still ongoing, or not recorded)."""
    rows = side.loc[side["resolved_day"].isna(), ["treatment_id", "effect", "severity", "onset_day"]]
    return rows.reset_index(drop=True)


def repeated_visits(out: pd.DataFrame) -> pd.DataFrame:
    """Patient + date + device + area combinations with more than one treatment.

    Only treatments with a patient code count (without one a repeat cannot be told from two
    patients); a missing device or area matches another missing one. Columns: patient_id,
    treatment_date, device, treatment_area, treatments, treatment_ids (comma-separated).
    """
    columns = [*_VISIT_KEYS, "treatments", "treatment_ids"]
    known = out[out["patient_id"].notna()]
    repeated = known[known.duplicated(_VISIT_KEYS, keep=False)]
    if repeated.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "treatments" else object) for c in columns})
    grouped = (repeated.sort_values("treatment_id")
               .groupby(_VISIT_KEYS, dropna=False, sort=True)["treatment_id"]
               .agg(treatments="size", treatment_ids=", ".join).reset_index())
    return grouped[columns].reset_index(drop=True)


def repeated_side_effects(side: pd.DataFrame) -> pd.DataFrame:
    """Side-effect rows that appear more than once with every field equal, with how many copies."""
    columns = list(schema.SIDE_EFFECT_FRAME_COLUMNS)
    repeated = side[side.duplicated(columns, keep=False)]
    if repeated.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "copies" else object) for c in [*columns, "copies"]})
    counted = repeated.groupby(columns, dropna=False, sort=True).size().rename("copies").reset_index()
    return counted.reset_index(drop=True)


def group_sizes(out: pd.DataFrame) -> pd.DataFrame:
    """Treatments per clinic, device and treatment area, with the modalities; groups under 10 flagged.

    Columns: grouped by, group, treatments, ablative, non-ablative, small (True when fewer than
    ``SMALL_GROUP`` treatments). A missing value is its own group, "(not recorded)".
    """
    parts = []
    for column, label in _GROUPINGS:
        values = out[column].astype(object).fillna(NOT_RECORDED)
        counts = pd.crosstab(values, out["modality"].astype(object)) if len(out) else pd.DataFrame()
        counts = counts.reindex(columns=list(schema.MODALITIES), fill_value=0)
        frame = pd.DataFrame({"grouped by": label, "group": counts.index.astype(str),
                              "treatments": counts.sum(axis=1).to_numpy(dtype="int64"),
                              schema.ABLATIVE: counts[schema.ABLATIVE].to_numpy(dtype="int64"),
                              schema.NON_ABLATIVE: counts[schema.NON_ABLATIVE].to_numpy(dtype="int64")})
        parts.append(frame.sort_values(["treatments", "group"], ascending=[False, True]))
    groups = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    groups["small"] = groups["treatments"] < SMALL_GROUP
    return groups.reset_index(drop=True)


# --- sentences -------------------------------------------------------------------------------

def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _share(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f} %" if total else "–"


def _missing_sentence(missing: pd.DataFrame) -> str:
    """Columns with some values missing, the worst named; columns with none at all (not in the file, or
    empty) are said to be not recorded rather than "blank in 100 %". Columns are named by their labels, as the
    table under the sentence names them ("Satisfaction (1–5)", not ``satisfaction``)."""
    gaps = missing[(missing["missing"] > 0) & (missing["percent"] < 100)]
    absent = missing[missing["percent"] == 100]
    if gaps.empty:
        text = "No value is missing in any recorded column." if len(absent) else "No value is missing in any column."
    else:
        worst = gaps.sort_values(["percent", "missing"], ascending=False).iloc[0]
        verb, name = "has" if len(gaps) == 1 else "have", schema.label(worst["column"])
        text = (f"{_plural(len(gaps), 'column')} {verb} missing values; the most is {name}, blank in "
                f"{worst['percent']:.1f} % of the {worst['records']} ({worst['missing']:,}). Statistics of a column "
                "leave its missing values out.")
    if len(absent):
        names = ", ".join(schema.label(c) for c in absent["column"])
        text += f" Not recorded in this dataset at all: {names}."
    return text


def _count_sentence(n: int, total: int, what: str, advice: str) -> str:
    if n == 0:
        return f"No treatment has {what}."
    return f"{_plural(n, 'treatment')} ({_share(n, total)}) {'has' if n == 1 else 'have'} {what}: {advice}."


def _cost_sentence(outliers: pd.DataFrame, fences: pd.DataFrame) -> str:
    if fences.empty:
        return (f"Costs are not checked: no device has the {MIN_COSTS_FOR_FENCES} or more recorded costs "
                "needed to judge what is unusual.")
    n = len(outliers)
    judged = int(fences["costs"].sum())
    if n == 0:
        return f"No cost is far from the other sessions on the same device ({judged:,} costs checked)."
    return (f"{_plural(n, 'cost')} of {judged:,} checked {'is' if n == 1 else 'are'} far from the other "
            f"sessions on the same device (more than {IQR_FACTOR:g} times the spread of the middle half of that device's "
            f"costs below or above that middle half): "
            "check for a missing or extra digit, a package price or a discount.")


def _unresolved_sentence(n: int, total: int) -> str:
    if total == 0:
        return "There are no side-effect records."
    if n == 0:
        return "Every side-effect record has a resolution day."
    return (f"{_plural(n, 'side-effect record')} of {total:,} ({_share(n, total)}) {'has' if n == 1 else 'have'} "
            "no resolution day: still ongoing, or not recorded (records made from yes/no flag columns never "
            "have one). Those with an onset day count as unresolved up to the last import in how long side effects "
            "lasted; those without one are left out of it.")


def _visits_sentence(visits: pd.DataFrame, recorded: bool) -> str:
    if not recorded:
        return "Patient codes were not recorded, so visits entered twice cannot be told apart from two patients."
    if visits.empty:
        return "No patient has two treatments on the same date with the same device and area."
    rows = int(visits["treatments"].sum())
    return (f"{_plural(len(visits), 'visit')} (same patient, date, device and area) "
            f"{'appears' if len(visits) == 1 else 'appear'} more than once, in {rows:,} treatments: check they "
            "are separate sessions and not one session entered twice.")


def _repeats_sentence(repeats: pd.DataFrame) -> str:
    if repeats.empty:
        return "No side-effect record is repeated exactly."
    extra = int(repeats["copies"].sum()) - len(repeats)
    return (f"{_plural(len(repeats), 'side-effect record')} {'is' if len(repeats) == 1 else 'are'} repeated "
            f"exactly ({extra:,} extra {'copy' if extra == 1 else 'copies'}): each copy counts as another "
            "event, so check they are not the same event entered twice.")


def _groups_sentence(groups: pd.DataFrame) -> str:
    if groups.empty:
        return "There are no treatments."
    small = int(groups["small"].sum())
    if small == 0:
        return f"Every clinic, device and treatment area has at least {SMALL_GROUP} treatments."
    return (f"{_plural(small, 'group')} of {len(groups):,} (clinics, devices and treatment areas) "
            f"{'has' if small == 1 else 'have'} fewer than {SMALL_GROUP} treatments: comparisons within "
            "them are flagged as too small to conclude from.")


def _rejected_sentence(rows_rejected: int | None) -> str:
    if rows_rejected is None:
        return "How many rows the import rejected is not known for this dataset."
    if rows_rejected == 0:
        return "The import rejected no row: every row of the files is in this dataset."
    return (f"The import rejected {_plural(rows_rejected, 'row')}, which {'is' if rows_rejected == 1 else 'are'} "
            "not in this dataset; the import report listed each with its reason.")
