"""Data-quality checks (analysis/quality.py) on small hand-built datasets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.findings import quality
from analysis.records import schema
from analysis.records.ingest import SourceFile, import_files
from analysis.findings.quality import quality_summary
from analysis.records.store import Records

from testpaths import ROOT


def make_records(rows: list[dict], events: list[dict] = ()) -> Records:
    """Records from a few dicts (missing outcome columns filled) and side-effect dicts."""
    base = {"patient_id": None, "clinic": "A", "treatment_date": "2024-01-01", "modality": schema.ABLATIVE,
            "device": "CO2", "treatment_area": "face", "fitzpatrick_type": 2, "downtime_days": np.nan,
            "improvement_score": np.nan, "satisfaction": np.nan, "procedure_minutes": np.nan, "cost": np.nan,
            "practitioner": None, "follow_up_visits": np.nan}
    frame = pd.DataFrame([{**base, "treatment_id": f"T{i}", **r} for i, r in enumerate(rows)],
                         columns=list(schema.OUTCOME_NAMES))
    side = pd.DataFrame([{"effect": "erythema", "severity": "mild", "onset_day": 0.0, "resolved_day": 3.0, **e}
                         for e in events],
                        columns=["treatment_id", "effect", "effect_detail", "severity", "onset_day", "resolved_day"])
    return Records(schema.coerce_outcomes(frame), schema.coerce_side_effects(side))


def check(summary: quality.QualitySummary, key: str) -> quality.QualityCheck:
    return next(c for c in summary.checks() if c.key == key)


# --- missing values ----------------------------------------------------------------------------

def test_missing_values_count_and_percent_per_column():
    records = make_records([{"cost": 100.0}, {"cost": np.nan}, {"cost": 80.0}, {"cost": 90.0}],
                           [{"treatment_id": "T0", "severity": None}, {"treatment_id": "T1"}])
    missing = quality_summary(records).missing.set_index(["records", "column"])
    assert missing.loc[("treatments", "cost"), "missing"] == 1
    assert missing.loc[("treatments", "cost"), "percent"] == pytest.approx(25.0)   # 1 of 4
    assert missing.loc[("treatments", "patient_id"), "percent"] == pytest.approx(100.0)
    assert missing.loc[("treatments", "treatment_id"), "missing"] == 0
    assert missing.loc[("side effects", "severity"), "missing"] == 1
    assert missing.loc[("side effects", "severity"), "percent"] == pytest.approx(50.0)  # 1 of 2
    assert ("side effects", "effect_detail") not in missing.index   # blank unless the effect is 'other'
    assert list(missing.index.get_level_values("column")[:len(schema.OUTCOME_NAMES)]) == list(schema.OUTCOME_NAMES)


def test_missing_percent_is_nan_without_side_effects_and_the_sentence_names_the_worst_column():
    summary = quality_summary(make_records([{"patient_id": "P1", "satisfaction": 4.0, "cost": 10.0,
                                             "procedure_minutes": 30.0, "downtime_days": 1.0,
                                             "improvement_score": 2.0, "practitioner": "X",
                                             "follow_up_visits": 1.0},
                                            {"patient_id": "P2", "satisfaction": np.nan, "cost": 10.0,
                                             "procedure_minutes": 30.0, "downtime_days": 1.0,
                                             "improvement_score": 2.0, "practitioner": "X",
                                             "follow_up_visits": 1.0}]))
    side = summary.missing[summary.missing["records"] == "side effects"]
    assert side["percent"].isna().all() and (side["missing"] == 0).all()
    missing_check = check(summary, "missing")
    assert missing_check.count == 1
    assert missing_check.sentence.startswith(
        "1 column has missing values; the most is Satisfaction (1–5), blank in 50.0 % of the treatments (1).")


def test_nothing_missing_says_so():
    full = {"patient_id": "P", "device": "CO2", "downtime_days": 1.0, "improvement_score": 2.0,
            "satisfaction": 4.0, "procedure_minutes": 30.0, "cost": 10.0, "practitioner": "X",
            "follow_up_visits": 0.0}
    summary = quality_summary(make_records([full]))
    assert check(summary, "missing").count == 0
    assert check(summary, "missing").sentence == "No value is missing in any column."


# --- values worth a second look ----------------------------------------------------------------

def test_long_downtime_and_procedures_are_strictly_above_the_limits():
    records = make_records([{"downtime_days": 30.0, "procedure_minutes": 240.0},
                            {"downtime_days": 31.0, "procedure_minutes": 241.0},
                            {"downtime_days": 90.0, "procedure_minutes": np.nan},
                            {"downtime_days": np.nan, "procedure_minutes": 600.0}])
    summary = quality_summary(records)
    assert list(summary.long_downtime["treatment_id"]) == ["T2", "T1"]       # longest first
    assert list(summary.long_procedures["treatment_id"]) == ["T3", "T1"]
    assert "downtime_days" in summary.long_downtime.columns
    assert check(summary, "downtime").sentence.startswith("2 treatments (50.0 %) have a downtime of more than 30 days")
    assert check(summary, "procedures").count == 2


def test_cost_outliers_use_tukey_fences_within_each_device():
    # R: quantile(c(100, 110, 120, 130, 140, 150, 160, 170, 180, 1000), c(.25, .75)) -> 122.5, 167.5
    # (type 7, R's and pandas' default); IQR 45, fences 122.5 - 67.5 = 55 and 167.5 + 67.5 = 235.
    costs = [100, 110, 120, 130, 140, 150, 160, 170, 180, 1000]
    rows = [{"device": "CO2", "cost": float(c)} for c in costs]
    # A second device with the same prices x 10 is judged on its own (its 1000 is ordinary there).
    rows += [{"device": "IPL", "cost": float(c * 10)} for c in costs[:-1]] + [{"device": "IPL", "cost": 1000.0}]
    summary = quality_summary(make_records(rows))
    fences = summary.cost_fences.set_index("device")
    assert fences.loc["CO2", ["q1", "q3"]].tolist() == [pytest.approx(122.5), pytest.approx(167.5)]
    assert fences.loc["CO2", "lower fence"] == pytest.approx(55.0)
    assert fences.loc["CO2", "upper fence"] == pytest.approx(235.0)
    assert summary.cost_outliers["cost"].tolist() == [1000.0]
    assert summary.cost_outliers["device"].tolist() == ["CO2"]
    assert fences.loc["IPL", "outside"] == 0


def test_a_cost_on_the_fence_is_not_flagged_and_small_devices_are_not_judged():
    # 0..9 then 9: Q1 = 2.5, Q3 = 7.5 (type 7 on 11 values: positions 2.5 and 7.5), IQR 5, fences -5 and 15.
    rows = [{"device": "A", "cost": float(c)} for c in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15]]
    rows += [{"device": None, "cost": 5000.0}] * 3 + [{"device": "B", "cost": 1.0}] * 9 + [{"device": "B", "cost": 1e6}]
    summary = quality_summary(make_records(rows))
    fences = summary.cost_fences.set_index("device")
    assert fences.loc["A", "q1"] == pytest.approx(2.5) and fences.loc["A", "q3"] == pytest.approx(7.5)
    assert fences.loc["A", "upper fence"] == pytest.approx(15.0)
    assert fences.loc["A", "outside"] == 0              # 15 sits exactly on the fence
    assert quality.NOT_RECORDED not in fences.index     # 3 costs: too few to judge
    assert fences.loc["B", "outside"] == 1              # IQR 0: anything different is outside
    assert summary.cost_outliers["cost"].tolist() == [1e6]


def test_no_costs_to_judge_says_why():
    summary = quality_summary(make_records([{"cost": 10.0}] * 3))
    assert summary.cost_fences.empty and summary.cost_outliers.empty
    assert "not checked" in check(summary, "costs").sentence


def test_side_effects_without_a_resolution_day():
    records = make_records([{}, {}], [{"treatment_id": "T0", "resolved_day": np.nan},
                                      {"treatment_id": "T1", "resolved_day": 5.0},
                                      {"treatment_id": "T1", "effect": "edema", "resolved_day": np.nan}])
    summary = quality_summary(records)
    assert summary.unresolved_events[["treatment_id", "effect"]].values.tolist() == [["T0", "erythema"],
                                                                                    ["T1", "edema"]]
    assert check(summary, "unresolved").sentence.startswith(
        "2 side-effect records of 3 (66.7 %) have no resolution day")


# --- duplicates --------------------------------------------------------------------------------

def test_repeated_visits_need_the_same_patient_date_device_and_area():
    rows = [{"patient_id": "P1"}, {"patient_id": "P1"},                            # repeated
            {"patient_id": "P1", "treatment_area": "neck"},                         # other area
            {"patient_id": "P2", "device": None}, {"patient_id": "P2", "device": None},  # both blank: repeated
            {"patient_id": None}, {"patient_id": None},                             # no patient code
            {"patient_id": "P3", "treatment_date": "2024-01-02"}, {"patient_id": "P3"}]  # other date
    visits = quality_summary(make_records(rows)).repeated_visits
    assert visits["patient_id"].tolist() == ["P1", "P2"]
    assert visits["treatments"].tolist() == [2, 2]
    assert visits["treatment_ids"].tolist() == ["T0, T1", "T3, T4"]


def test_without_patient_codes_repeated_visits_cannot_be_checked():
    summary = quality_summary(make_records([{}, {}]))
    assert summary.repeated_visits.empty and not summary.patient_ids_recorded
    assert "cannot be told apart" in check(summary, "visits").sentence


def test_side_effect_rows_repeated_exactly():
    same = {"treatment_id": "T0", "effect": "hyperpigmentation", "severity": "moderate", "onset_day": 14.0,
            "resolved_day": np.nan}
    records = make_records([{}], [same, same, same, {**same, "severity": "mild"}])
    summary = quality_summary(records)
    repeats = summary.repeated_side_effects
    assert len(repeats) == 1 and repeats["copies"].tolist() == [3]
    assert repeats["severity"].tolist() == ["moderate"]
    assert check(summary, "side_effect_repeats").sentence.startswith(
        "1 side-effect record is repeated exactly (2 extra copies)")


# --- group sizes and the import's rejected rows ------------------------------------------------

def test_group_sizes_flag_groups_under_ten():
    rows = ([{"clinic": "North", "modality": schema.ABLATIVE}] * 7
            + [{"clinic": "North", "modality": schema.NON_ABLATIVE}] * 3
            + [{"clinic": "South"}] * 9 + [{"clinic": None}])
    groups = quality_summary(make_records(rows)).groups
    clinics = groups[groups["grouped by"] == "clinic"].set_index("group")
    assert clinics.loc["North", ["treatments", "ablative", "non-ablative"]].tolist() == [10, 7, 3]
    assert not clinics.loc["North", "small"]
    assert clinics.loc["South", "small"] and clinics.loc["South", "treatments"] == 9
    assert clinics.loc[quality.NOT_RECORDED, "treatments"] == 1
    assert set(groups["grouped by"]) == {"clinic", "device", "treatment area"}
    assert groups.loc[groups["grouped by"] == "device", "treatments"].tolist() == [20]


@pytest.mark.parametrize(("rejected", "expected"), [
    (None, "not known"), (0, "rejected no row"), (1, "rejected 1 row, which is not"), (12, "rejected 12 rows")])
def test_rejected_rows_sentence(rejected, expected):
    summary = quality_summary(make_records([{}]), rows_rejected=rejected)
    assert summary.rows_rejected == rejected
    assert expected in check(summary, "rejected").sentence


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_rejected_rows_must_be_a_count(bad):
    with pytest.raises(ValueError, match="rows_rejected"):
        quality_summary(make_records([{}]), rows_rejected=bad)


# --- whole summaries ---------------------------------------------------------------------------

def test_empty_dataset_gives_sentences_not_errors():
    summary = quality_summary(make_records([]))
    assert summary.treatments == 0 and summary.side_effects == 0
    for c in summary.checks():
        assert c.sentence and c.count == 0
    assert summary.missing["percent"].isna().all()


def test_checks_come_in_reading_order_with_plain_sentences():
    result = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                          SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    summary = quality_summary(Records(result.outcomes, result.side_effects), rows_rejected=0)
    keys = [c.key for c in summary.checks()]
    assert keys == ["missing", "downtime", "procedures", "costs", "unresolved", "visits", "side_effect_repeats",
                    "groups", "rejected"]
    assert summary.treatments == len(result.outcomes)
    for c in summary.checks():
        assert c.sentence.endswith(".") and "\n" not in c.sentence
        if c.key not in ("missing", "groups", "rejected"):
            assert c.count == len(c.table)
    # The sample's blanks are deliberate: satisfaction 4 %, cost 3 %, procedure time 3.5 % (data/generate_sample.py).
    worst = summary.missing.sort_values("percent", ascending=False).iloc[0]
    assert worst["column"] == "satisfaction" and math.isclose(worst["percent"], 3.6, abs_tol=0.6)


def test_a_column_absent_from_the_file_is_not_recorded_rather_than_blank_in_100_percent():
    """Found walking through as a new user: a column the file never had was 'blank in 100.0 %'."""
    summary = quality_summary(make_records([{"patient_id": "P1", "satisfaction": 4.0},
                                            {"patient_id": "P2", "satisfaction": np.nan}]))
    missing_check = check(summary, "missing")
    assert "100.0 %" not in missing_check.sentence
    assert missing_check.sentence.startswith(
        "1 column has missing values; the most is Satisfaction (1–5), blank in 50.0 %")
    assert "Not recorded in this dataset at all: " in missing_check.sentence and "Cost" in missing_check.sentence
    assert missing_check.count == 1


def test_the_tables_shown_name_columns_as_people_read_them_and_dates_as_dates():
    """What the Data page shows (analysis.present.tables.readable): 'Treatment date', not treatment_date, in the
    headers and in the missing-values table's rows; dates without '00:00:00'."""
    from analysis.present import tables

    costs = [100, 110, 120, 130, 140, 150, 160, 170, 180, 1000]
    summary = quality_summary(make_records([{"device": "CO2", "cost": float(c)} for c in costs]))
    outliers = tables.readable(check(summary, "costs").table)
    assert list(outliers.columns[:3]) == ["Treatment id", "Treatment date", "Clinic"]
    assert outliers["Treatment date"].tolist() == ["2024-01-01"]
    missing = tables.readable(check(summary, "missing").table)
    assert "Fitzpatrick skin type" in missing["column"].tolist()
    assert not any("_" in str(c) for c in missing["column"])
    assert summary.missing["column"].str.contains("_").any()   # the summary itself keeps the data's own names
