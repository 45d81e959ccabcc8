"""Tests for data/generate_sample.py and the bundled sample CSVs it writes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SCRIPT = DATA / "generate_sample.py"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analysis.records.schema import (EFFECTS, MODALITIES, OUTCOME_NAMES, SEVERITIES,  # noqa: E402
                             SIDE_EFFECT_NAMES, device_modality)


@pytest.fixture(scope="module")
def gen():
    """The generator module, loaded by file path (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_sample_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def raw():
    """The bundled CSVs read as text, exactly as a user would get them."""
    opts = dict(dtype=str, keep_default_na=False)
    return (pd.read_csv(DATA / "sample_outcomes.csv", **opts),
            pd.read_csv(DATA / "sample_side_effects.csv", **opts))


@pytest.fixture(scope="module")
def sample(gen):
    """The default generation (same data as the bundled files) with a PIH flag per treatment."""
    outcomes, side_effects = gen.generate()
    pih_ids = set(side_effects.loc[side_effects["effect"] == "hyperpigmentation", "treatment_id"])
    outcomes = outcomes.assign(pih=outcomes["treatment_id"].isin(pih_ids))
    return outcomes, side_effects


# --- determinism and the bundled files --------------------------------------------------------

def test_the_sample_is_complete_to_the_export_date_the_app_gives_it(gen, raw):
    """The app takes the bundled sample's side effects as followed up to its export date
    (analysis.records.versions.SAMPLE_EXPORTED), not the day it is imported: that date must be the generator's,
    and no onset or resolution in the files may fall after it (an export cannot know a later day)."""
    from analysis.records.versions import SAMPLE_EXPORTED

    assert np.datetime64(SAMPLE_EXPORTED, "D") == gen.EXTRACTION_DATE
    outcomes, side = raw
    treated = pd.to_datetime(side["treatment_id"].map(outcomes.set_index("treatment_id")["treatment_date"]))
    onset = treated + pd.to_timedelta(side["onset_day"].astype(int), unit="D")
    done = side["resolved_day"] != ""
    resolved = treated[done] + pd.to_timedelta(side.loc[done, "resolved_day"].astype(int), unit="D")
    assert onset.max() <= pd.Timestamp(SAMPLE_EXPORTED) and resolved.max() <= pd.Timestamp(SAMPLE_EXPORTED)
    # and the export is recent enough that its last weeks hold resolutions (it is not an older cut-off)
    assert resolved.max() >= pd.Timestamp(SAMPLE_EXPORTED) - pd.Timedelta(days=7)


def test_same_seed_gives_identical_frames(gen):
    a_out, a_se = gen.generate(1500, seed=7)
    b_out, b_se = gen.generate(1500, seed=7)
    pd.testing.assert_frame_equal(a_out, b_out)
    pd.testing.assert_frame_equal(a_se, b_se)


def test_different_seed_gives_different_frames(gen):
    a_out, a_se = gen.generate(1500, seed=7)
    b_out, b_se = gen.generate(1500, seed=8)
    assert not a_out.equals(b_out)
    assert not a_se.equals(b_se)


def test_bundled_csvs_are_a_fresh_default_run(gen, tmp_path):
    outcomes_path, side_effects_path = gen.write_sample(tmp_path)
    assert outcomes_path.name == "sample_outcomes.csv"
    assert side_effects_path.name == "sample_side_effects.csv"
    assert outcomes_path.read_bytes() == (DATA / "sample_outcomes.csv").read_bytes(), (
        "data/sample_outcomes.csv differs from a fresh run: regenerate it with "
        "`python data/generate_sample.py`, do not edit it by hand")
    assert side_effects_path.read_bytes() == (DATA / "sample_side_effects.csv").read_bytes(), (
        "data/sample_side_effects.csv differs from a fresh run: regenerate it")


def test_defaults(gen):
    assert gen.DEFAULT_TREATMENTS == 5000
    assert gen.DEFAULT_SEED == 20240101


# --- canonical layout and values -------------------------------------------------------------

def test_headers_are_canonical(raw):
    outcomes, side_effects = raw
    assert tuple(outcomes.columns) == OUTCOME_NAMES
    assert tuple(side_effects.columns) == SIDE_EFFECT_NAMES
    first_line = (DATA / "sample_outcomes.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line == ",".join(OUTCOME_NAMES)
    assert b"\r" not in (DATA / "sample_outcomes.csv").read_bytes()


def test_outcome_values_are_canonical(raw):
    o, _ = raw
    assert len(o) == 5000
    for col in ("treatment_id", "treatment_date", "fitzpatrick_type", "modality", "device",
                "patient_id", "clinic", "treatment_area", "practitioner", "downtime_days",
                "improvement_score", "follow_up_visits"):
        assert (o[col] != "").all(), f"{col} has blanks"
    assert o["treatment_id"].str.fullmatch(r"T\d{7}").all()
    assert o["treatment_id"].is_unique
    assert o["patient_id"].str.fullmatch(r"P\d{6}").all()
    assert set(o["modality"]) == set(MODALITIES)
    assert (o["device"].map(device_modality) == o["modality"]).all()
    assert set(o["device"]) == {"Fractional CO2 10600 nm", "Er:YAG 2940 nm", "Er:glass 1550 nm",
                                "Thulium 1927 nm", "Nd:YAG 1064 nm", "Radiofrequency"}
    assert set(o["treatment_area"]) == {"face", "neck", "chest", "hands", "abdomen"}
    assert o["treatment_area"].value_counts().idxmax() == "face"
    assert set(o["fitzpatrick_type"]) == {"1", "2", "3", "4", "5", "6"}
    assert o["treatment_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    dates = pd.to_datetime(o["treatment_date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2024-01-01") and dates.max() <= pd.Timestamp("2025-12-31")
    assert (dates.dt.day_of_week != 6).all()  # closed on Sundays
    assert o["clinic"].nunique() == 3
    assert 8 <= o["practitioner"].nunique() <= 10


def test_outcome_numbers_are_in_range(raw):
    o, _ = raw
    integer = r"\d+"
    ranges = {"downtime_days": (0, 90), "improvement_score": (0, 4), "satisfaction": (1, 5),
              "procedure_minutes": (1, 600), "follow_up_visits": (0, 4)}
    for col, (lo, hi) in ranges.items():
        filled = o.loc[o[col] != "", col]
        assert filled.str.fullmatch(integer).all(), col
        values = filled.astype(int)
        assert values.between(lo, hi).all(), col
    cost = o.loc[o["cost"] != "", "cost"]
    assert cost.str.fullmatch(r"\d+\.\d{2}").all()  # '.' decimals, no thousands separator
    assert cost.astype(float).between(100, 5000).all()


def test_optional_fields_have_a_few_blanks(raw):
    o, _ = raw
    for col in ("satisfaction", "cost", "procedure_minutes"):
        share = (o[col] == "").mean()
        assert 0.01 <= share <= 0.08, (col, share)


def test_side_effect_values_are_canonical(raw):
    o, se = raw
    assert (se["treatment_id"] != "").all() and (se["effect"] != "").all()
    assert set(se["effect"]) <= set(EFFECTS)
    assert set(se["severity"]) <= set(SEVERITIES)
    assert set(se["treatment_id"]) <= set(o["treatment_id"])
    assert se["onset_day"].str.fullmatch(r"\d+").all()
    resolved = se.loc[se["resolved_day"] != ""]
    assert resolved["resolved_day"].str.fullmatch(r"\d+").all()
    assert (resolved["resolved_day"].astype(int) >= resolved["onset_day"].astype(int)).all()
    assert 0 < (se["resolved_day"] == "").mean() < 0.05  # a few unresolved events
    assert not se.duplicated(["treatment_id", "effect"]).any()


def test_patients(raw):
    o, _ = raw
    per_patient = o.groupby("patient_id")
    assert (per_patient["fitzpatrick_type"].nunique() == 1).all()
    assert 1.4 <= len(o) / o["patient_id"].nunique() <= 1.8
    assert (per_patient.size() > 1).mean() > 0.25  # plenty of repeat visits


# --- intended rates ---------------------------------------------------------------------------

def test_fitzpatrick_mix(sample):
    o, _ = sample
    counts = o["fitzpatrick_type"].value_counts()
    assert set(counts.index) == {1, 2, 3, 4, 5, 6}
    assert (counts >= 100).all()
    assert counts[[5, 6]].sum() >= 300
    assert counts[[2, 3, 4]].sum() > counts[[1, 5, 6]].sum()
    dark_share = o.assign(dark=o["fitzpatrick_type"] >= 5).groupby("clinic")["dark"].mean()
    assert dark_share.max() > 2 * dark_share.drop(dark_share.idxmax()).max()  # one darker clinic


def test_modality_mix(sample):
    o, _ = sample
    ablative = o["modality"] == "ablative"
    assert 0.33 <= ablative.mean() <= 0.42
    by_type = ablative.groupby(o["fitzpatrick_type"]).mean()
    assert by_type[[5, 6]].mean() < by_type[[1, 2]].mean() - 0.15  # darker skin: less ablative
    assert (o.loc[ablative, "fitzpatrick_type"] >= 5).sum() >= 50  # ...but still present


def test_downtime_and_results(sample):
    o, _ = sample
    by_mod = o.groupby("modality")
    median_downtime = by_mod["downtime_days"].median()
    assert 5 <= median_downtime["ablative"] <= 10
    assert 1 <= median_downtime["non-ablative"] <= 3
    assert median_downtime["ablative"] > median_downtime["non-ablative"]
    by_device = o.groupby("device")["downtime_days"].median()
    assert by_device["Er:YAG 2940 nm"] < by_device["Fractional CO2 10600 nm"]
    assert o["downtime_days"].mean() > o["downtime_days"].median()  # right-skewed
    improvement = by_mod["improvement_score"].mean()
    assert 2.7 <= improvement["ablative"] <= 3.1
    assert 1.7 <= improvement["non-ablative"] <= 2.1
    assert o["improvement_score"].corr(o["satisfaction"].astype(float)) > 0.4
    minutes = o.groupby("treatment_area")["procedure_minutes"].median()
    assert 30 <= minutes["face"] <= 60
    assert minutes["hands"] < minutes["face"] < minutes["abdomen"]
    assert minutes["neck"] < minutes["face"] < minutes["chest"]
    cost = by_mod["cost"].mean()
    assert cost["ablative"] > cost["non-ablative"]


def test_pih_rates(sample):
    o, _ = sample
    light = o["fitzpatrick_type"] <= 2
    dark = o["fitzpatrick_type"] >= 5
    ablative = o["modality"] == "ablative"
    pih_light = o.loc[light, "pih"].mean()
    pih_dark_abl = o.loc[dark & ablative, "pih"].mean()
    pih_dark_non = o.loc[dark & ~ablative, "pih"].mean()
    assert pih_dark_abl > pih_dark_non > pih_light
    assert 0.005 <= pih_light <= 0.06
    assert 0.25 <= pih_dark_abl <= 0.50
    assert 0.07 <= pih_dark_non <= 0.18
    rate = o.groupby("fitzpatrick_type")["pih"].mean()
    assert rate[6] > rate[4] > rate[2]


def test_other_side_effect_rates(sample):
    o, se = sample
    treated = o.set_index("treatment_id")["modality"]
    se = se.assign(modality=se["treatment_id"].map(treated))
    n_mod = o["modality"].value_counts()
    rate = se.groupby(["modality", "effect"])["treatment_id"].nunique().unstack(fill_value=0)
    rate = rate.div(n_mod, axis=0)
    assert rate.loc["ablative", "erythema"] > 0.8 and rate.loc["ablative", "edema"] > 0.6
    assert 0.3 < rate.loc["non-ablative", "erythema"] < rate.loc["ablative", "erythema"]
    assert rate.loc["ablative", "infection"] < 0.03
    assert rate.loc["ablative", "acneiform eruption"] < 0.08
    for effect in ("scarring", "blistering", "hypopigmentation"):
        if effect in rate.columns:
            assert (rate[effect] < 0.01).all(), effect
    onset = se.groupby("effect")["onset_day"].median()
    assert onset["erythema"] <= 1 and 14 <= onset["hyperpigmentation"] <= 42
    if "hypopigmentation" in onset.index:
        assert onset["hypopigmentation"] >= 60
    duration = (se["resolved_day"] - se["onset_day"]).groupby(se["effect"]).median()
    assert duration["erythema"] <= 21 and duration["hyperpigmentation"] >= 30
    follow = o.groupby("modality")["follow_up_visits"].mean()
    assert follow["ablative"] > follow["non-ablative"]


def test_deliberate_signals(gen, sample):
    o, _ = sample
    # Practitioner outlier: observed / expected PIH (expected from modality x skin type rates).
    expected = o.groupby(["modality", "fitzpatrick_type"])["pih"].transform("mean")
    oe = o.assign(e=expected).groupby("practitioner")[["pih", "e"]].sum()
    ratio = oe["pih"] / oe["e"]
    assert ratio.idxmax() == "Dr P. Navarro" and ratio.max() > 1.4
    # Clinic drift: ablative PIH at Harbourside in the last four months vs before.
    h = o[(o["clinic"] == gen.CLINICS[gen.DRIFT_CLINIC]) & (o["modality"] == "ablative")]
    late = h["treatment_date"] >= pd.Timestamp("2025-09-01")
    assert h.loc[late, "pih"].mean() > 1.5 * h.loc[~late, "pih"].mean()


# --- scale and command line -------------------------------------------------------------------

def test_twenty_thousand_rows(gen):
    outcomes, side_effects = gen.generate(20_000, seed=3)
    assert len(outcomes) == 20_000 and outcomes["treatment_id"].is_unique
    assert tuple(outcomes.columns) == OUTCOME_NAMES
    assert side_effects["treatment_id"].isin(outcomes["treatment_id"]).all()
    dates = outcomes["treatment_date"]
    assert dates.is_monotonic_increasing
    assert dates.min() >= pd.Timestamp("2024-01-01") and dates.max() <= pd.Timestamp("2025-12-31")
    assert outcomes.groupby("patient_id")["fitzpatrick_type"].nunique().max() == 1
    done = side_effects.dropna(subset=["resolved_day"])
    assert (done["resolved_day"] >= done["onset_day"]).all()


@pytest.mark.parametrize("n", [1, 2, 17])
def test_tiny_generations(gen, n):
    outcomes, side_effects = gen.generate(n, seed=11)
    assert len(outcomes) == n
    assert side_effects["treatment_id"].isin(outcomes["treatment_id"]).all()


def test_rejects_zero(gen):
    with pytest.raises(ValueError):
        gen.generate(0)


def test_command_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--treatments", "300", "--seed", "5", "--out", str(tmp_path),
         "--prefix", "demo"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcomes = pd.read_csv(tmp_path / "demo_outcomes.csv")
    side_effects = pd.read_csv(tmp_path / "demo_side_effects.csv")
    assert len(outcomes) == 300 and tuple(outcomes.columns) == OUTCOME_NAMES
    assert tuple(side_effects.columns) == SIDE_EFFECT_NAMES
    assert re.search(r"300 treatments", result.stdout)
    assert np.issubdtype(outcomes["fitzpatrick_type"].dtype, np.integer)
