"""The article's claims: verdict rules, including the regressions from the statistical review."""

from __future__ import annotations

import re

import numpy as np
import pytest

from analysis.findings import claims

from test_compare import make_records, rows_of


def test_whole_day_downtime_half_a_day_longer_is_supported():
    rng = np.random.default_rng(1)
    r = rows_of("downtime_days", rng.poisson(3, 2000) + rng.binomial(1, 0.5, 2000), rng.poisson(3, 2000))
    check = claims._downtime(r)
    assert check.verdict == "supported" and check.more_needed is None


def test_downtime_shorter_after_ablative_is_not_supported_and_says_shorter():
    r = rows_of("downtime_days", [1] * 30 + [2] * 10, [5] * 30 + [6] * 10)
    check = claims._downtime(r)
    assert check.verdict == "not supported" and "shorter" in check.evidence
    assert not re.search(r"[-−]\d", check.evidence)  # no negative numbers: the words carry the direction


def test_procedure_time_positive_but_uncertain_is_not_enough_data():
    rng = np.random.default_rng(0)
    areas = ["face", "neck", "hands", "chest", "back"]
    r = make_records([{"modality": "ablative", "fitzpatrick_type": 3, "treatment_area": areas[i % 5],
                       "procedure_minutes": float(40 + 0.5 * claims.AREA_SURFACE[areas[i % 5]] + rng.normal(0, 15))}
                      for i in range(120)])
    check = claims._procedure_time(r)
    assert check.verdict == "not enough data" and "95 % CI" in check.evidence


def test_spearman_interval_matches_fisher_z_with_1_06():
    # Fieller, Hartley & Pearson (1957): var(z) = 1.06 / (n - 3). rho = 0.5, n = 28:
    # z = atanh(0.5) = 0.549306; half-width 1.959964 * sqrt(1.06 / 25) = 0.403585.
    low, high = claims.spearman_ci(0.5, 28)
    assert low == pytest.approx(np.tanh(0.549306 - 0.403585), abs=1e-5)
    assert high == pytest.approx(np.tanh(0.549306 + 0.403585), abs=1e-5)


def test_cost_with_one_undetermined_factor_is_not_enough_data():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        pr, dev, ar = ("P1" if i < 20 else "P2"), ("CO2" if i % 2 else "Er:YAG"), ("face" if (i // 2) % 2 else "neck")
        mult = (1.15 if pr == "P2" else 1) * (1.15 if dev == "CO2" else 1) * (1.15 if ar == "neck" else 1)
        rows.append({"modality": "ablative", "fitzpatrick_type": 3, "practitioner": pr, "device": dev,
                     "treatment_area": ar, "cost": float(1000 * mult * rng.lognormal(0, 0.25))})
    assert claims._cost(make_records(rows)).verdict == "not enough data"


def test_swelling_never_recorded_cannot_be_judged():
    r = make_records([{"modality": "ablative", "fitzpatrick_type": 3}] * 1000,
                     [(f"T{i}", "erythema") for i in range(0, 1000, 2)])
    check = claims._redness_swelling(r)
    assert check.verdict == "not enough data" and "swelling (edema)" in check.evidence


def test_untestable_trend_gives_the_real_reason():
    r = make_records([{"modality": m, "fitzpatrick_type": t} for m in ("ablative", "non-ablative")
                      for t in (2, 5) for _ in range(20)])
    check = claims._skin_tone(r)
    assert check.verdict == "not enough data" and "No hyperpigmentation followed" in check.evidence
