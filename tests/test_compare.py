"""The comparisons the pages show: right numbers, right flags, plain sentences, no crash on edge cases.

The building blocks are verified against published values in tests/test_stats.py; here the
wiring is checked against the same references and against independent pandas cross-tabulations.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import stats
from analysis.findings import compare, effects, monitoring, skin_tone, wording
from analysis.records import schema
from analysis.records.filters import Filters, apply_filters, with_effect_flags
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import Records
from analysis.findings.summary import summarise

from testpaths import ROOT


@pytest.fixture(scope="module")
def sample() -> Records:
    result = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                          SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    return Records(result.outcomes, result.side_effects)


def make_records(rows: list[dict], events: list[tuple[str, str]] = ()) -> Records:
    """Records from a few dicts (missing columns filled) and (treatment_id, effect) events."""
    base = {"patient_id": None, "clinic": "A", "treatment_date": "2024-01-01", "device": None,
            "treatment_area": "face", "downtime_days": np.nan, "improvement_score": np.nan,
            "satisfaction": np.nan, "procedure_minutes": np.nan, "cost": np.nan, "practitioner": None,
            "follow_up_visits": np.nan}
    frame = pd.DataFrame([{**base, "treatment_id": f"T{i}", **r} for i, r in enumerate(rows)],
                         columns=list(schema.OUTCOME_NAMES))
    side = pd.DataFrame({"treatment_id": [t for t, _ in events], "effect": [e for _, e in events]})
    return Records(schema.coerce_outcomes(frame), schema.coerce_side_effects(side))


def cohort(k1: int, n1: int, k2: int, n2: int, fitz: int = 5) -> Records:
    """n1 ablative treatments with k1 hyperpigmentation events, n2 non-ablative with k2."""
    rows = [{"modality": schema.ABLATIVE, "fitzpatrick_type": fitz}] * n1 + \
           [{"modality": schema.NON_ABLATIVE, "fitzpatrick_type": fitz}] * n2
    events = [(f"T{i}", "hyperpigmentation") for i in list(range(k1)) + list(range(n1, n1 + k2))]
    return make_records(rows, events)


# --- reference values through the comparison layer ---------------------------------------------

def test_rate_contrast_reproduces_newcombe_1998_example():
    # Newcombe RG. Interval estimation for the difference between independent proportions.
    # Stat Med 1998;17:873-90, Table II, example (a): 56/70 vs 48/80, method 10 (hybrid score):
    # difference 0.2000, 95 % CI 0.0524 to 0.3339.
    c = compare.rate_contrast("all treatments", 56, 70, 48, 80)
    assert c.difference.estimate == pytest.approx(0.2)
    assert c.difference.low == pytest.approx(0.0524, abs=5e-5)
    assert c.difference.high == pytest.approx(0.3339, abs=5e-5)
    assert not c.small


def test_rate_contrast_wilson_matches_newcombe_1998_single_proportion():
    # Newcombe RG. Two-sided confidence intervals for the single proportion. Stat Med 1998;17:857-72,
    # Table I: 81/263, Wilson score interval 0.2553 to 0.3662.
    c = compare.rate_contrast("x", 81, 263, 15, 148)
    assert (c.ablative.low, c.ablative.high) == (pytest.approx(0.2553, abs=5e-5), pytest.approx(0.3662, abs=5e-5))
    # Same table: 15/148, Wilson 0.0624 to 0.1605.
    assert (c.non_ablative.low, c.non_ablative.high) == (pytest.approx(0.0624, abs=5e-5),
                                                         pytest.approx(0.1605, abs=5e-5))


def test_chi_squared_matches_the_closed_form():
    # Pearson's X^2 for a 2x2 table without continuity correction has the closed form
    # N (ad - bc)^2 / (r1 r2 c1 c2) (Agresti, Categorical Data Analysis, 3rd ed. 2013, sec. 3.2.1), and
    # with 1 degree of freedom P(X^2 > x) = erfc(sqrt(x / 2)). Computed here independently of scipy.
    a, b, c_, d = 56, 14, 48, 32
    n = a + b + c_ + d
    x2 = Fraction(n * (a * d - b * c_) ** 2, (a + b) * (c_ + d) * (a + c_) * (b + d))
    c = compare.rate_contrast("x", 56, 70, 48, 80)
    assert c.test.test == "chi-squared"
    assert c.test.statistic == pytest.approx(float(x2), rel=1e-12)          # 7.0234...
    assert c.test.p_value == pytest.approx(math.erfc(math.sqrt(float(x2) / 2)), rel=1e-9)


def fisher_two_sided(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p by enumerating the hypergeometric distribution (sum of tables no more likely)."""
    total, events = n1 + n2, k1 + k2

    def prob(x: int) -> Fraction:
        return Fraction(math.comb(n1, x) * math.comb(n2, events - x), math.comb(total, events))

    observed = prob(k1)
    support = range(max(0, events - n2), min(n1, events) + 1)
    return float(sum(p for p in map(prob, support) if p <= observed))


def test_small_cells_switch_to_fisher_and_are_flagged():
    c = compare.rate_contrast("type VI skin", 3, 10, 1, 10)
    assert c.small
    assert c.test.test.lower().startswith("fisher")
    assert c.test.p_value == pytest.approx(fisher_two_sided(3, 10, 1, 10), rel=1e-9)   # 0.5820...
    assert "too few" in c.sentence


def test_skin_tone_counts_match_an_independent_crosstab(sample):
    tone = skin_tone.skin_tone(sample)
    flags = with_effect_flags(sample)
    table = flags.groupby(["modality", "fitzpatrick_type"], observed=True)["hyperpigmentation"].agg(["sum", "size"])
    assert len(tone.cells) == len(table)
    for cell in tone.cells:
        events, total = table.loc[(cell.modality, {v: k for k, v in schema.FITZPATRICK_ROMAN.items()}[cell.group])]
        assert (cell.proportion.events, cell.proportion.treatments) == (events, total)
        expected = stats.wilson_ci(int(events), int(total))
        assert cell.proportion == expected


def test_skin_tone_trend_is_the_cochran_armitage_of_the_table(sample):
    tone = skin_tone.skin_tone(sample)
    flags = with_effect_flags(sample)
    abl = flags[flags["modality"] == schema.ABLATIVE].groupby("fitzpatrick_type")["hyperpigmentation"].agg(["sum", "size"])
    expected = stats.trend_test(abl["sum"].tolist(), abl["size"].tolist(), scores=abl.index.tolist())
    assert tone.trend[schema.ABLATIVE].statistic == pytest.approx(expected.statistic)
    assert tone.trend[schema.ABLATIVE].direction == "increasing"


def test_sample_shows_the_literature_pattern(sample):
    """The bundled sample encodes the published pattern; the comparisons must find it."""
    tone = skin_tone.skin_tone(sample)
    dark = next(c for c in tone.by_band if "V–VI" in c.group)
    light = next(c for c in tone.by_band if "I–II" in c.group)
    assert dark.difference.low > 0 and dark.ablative.estimate > light.ablative.estimate
    down = compare.downtime(sample)
    assert down.shift.low > 0
    assert compare.improvement(sample).good_contrast.difference.low > 0


def test_one_plain_sentence_per_finding(sample):
    tone = skin_tone.skin_tone(sample)
    for finding in tone.findings:
        assert finding.sentence.endswith(".")
        assert "\n" not in finding.sentence
    band = next(f for f in tone.findings if f.sentence.startswith("In type V–VI skin"))
    assert "hyperpigmentation in 39 % (95 % CI 34–45 %) vs 11 % (9.0–13 %) for non-ablative" in band.sentence


def test_downtime_wiring_matches_building_blocks():
    # Hollander & Wolfe (1973) p. 69 data, as in R's ?wilcox.test:
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    rows = [{"modality": "ablative", "fitzpatrick_type": 2, "downtime_days": v} for v in x] + \
           [{"modality": "non-ablative", "fitzpatrick_type": 2, "downtime_days": v} for v in y]
    c = compare.downtime(make_records(rows))
    assert c.test == stats.mann_whitney(x, y)
    assert c.shift == stats.hodges_lehmann_shift(x, y)
    assert c.medians["ablative"] == stats.median_ci(x)
    # R ?wilcox.test: wilcox.test(x, y, alternative = "g") -> W = 35, p-value = 0.1272 (exact);
    # the two-sided exact p-value is twice that, 0.2544.
    assert c.test.statistic == pytest.approx(35)
    assert c.test.p_value == pytest.approx(0.2544, abs=5e-5)
    assert "too few treatments to conclude from (10 vs 5)" in c.findings[0].sentence
    assert "0.9 days (no interval with so few values)" in c.findings[0].sentence


def test_tiny_groups_are_flagged_in_words():
    rows = [{"modality": "ablative", "fitzpatrick_type": 6, "downtime_days": 7}] * 3 + \
           [{"modality": "non-ablative", "fitzpatrick_type": 6, "downtime_days": 2}] * 30
    c = compare.downtime(make_records(rows))
    assert c.small
    assert "too few treatments to conclude from (3 vs 30)" in c.findings[0].sentence


def test_single_modality_selection_does_not_crash():
    rows = [{"modality": "non-ablative", "fitzpatrick_type": t, "downtime_days": 2, "improvement_score": 2}
            for t in (1, 2, 3, 4, 5, 6) for _ in range(5)]
    records = make_records(rows, [("T0", "hyperpigmentation")])
    assert "no ablative treatments" in compare.downtime(records).findings[0].sentence
    tone = skin_tone.skin_tone(records)
    assert tone.overall.ablative.estimate is None
    assert "only non-ablative treatments" in tone.overall.sentence
    assert compare.improvement(records).good_share["ablative"].treatments == 0
    json.dumps(summarise(records), allow_nan=False)


def test_no_side_effects_recorded():
    rows = [{"modality": m, "fitzpatrick_type": 3, "downtime_days": 2} for m in ("ablative", "non-ablative")
            for _ in range(20)]
    records = make_records(rows)
    summary = effects.side_effects(records)
    assert summary.rates == ()
    tone = skin_tone.skin_tone(records)
    assert tone.overall.ablative.estimate == 0.0
    assert tone.trend["ablative"].p_value is None or tone.trend["ablative"].p_value == 1.0


def test_side_effect_durations_and_severity(sample):
    summary = effects.side_effects(sample)
    assert {c.group for c in summary.rates} >= {"hyperpigmentation", "erythema", "edema"}
    erythema = next(d for d in summary.durations if d.effect == "erythema" and d.modality == "ablative")
    assert erythema.median.estimate > 0
    assert set(summary.severity["severity"]) <= {"mild", "moderate", "severe", "not recorded"}


def test_filters_select_and_side_effects_follow(sample):
    picked = apply_filters(sample, Filters(fitzpatrick_types=(5, 6), clinics=("Eastfield Dermatology & Laser",)))
    assert set(picked.outcomes["fitzpatrick_type"]) == {5, 6}
    assert set(picked.side_effects["treatment_id"]) <= set(picked.outcomes["treatment_id"])
    assert Filters().describe() == "all records"
    assert "Fitzpatrick V, VI" in Filters(fitzpatrick_types=(6, 5)).describe()


def test_summary_json_contract(sample):
    summary = summarise(sample)
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["treatments"] == 5000
    for m in schema.MODALITIES:
        block = summary["modalities"][m]
        assert set(block) >= {"treatments", "downtime_days", "hyperpigmentation"}
        assert len(block["downtime_days"]["ci"]) == 2
        assert 0 <= block["hyperpigmentation"]["rate"] <= 1
    types = {row["fitzpatrick_type"] for row in summary["hyperpigmentation_by_skin_type"]}
    assert types == {"I", "II", "III", "IV", "V", "VI"}
    for row in summary["hyperpigmentation_by_skin_type"]:
        assert row["ci"][0] <= row["rate"] <= row["ci"][1]
    comp = summary["comparisons"]
    assert set(comp["downtime"]) >= {"test", "p_value", "shift", "ci"}
    assert set(comp["hyperpigmentation"]) >= {"risk_difference", "ci", "p_value"}
    assert set(comp["trend"]) == set(schema.MODALITIES)
    assert len(summary["claims"]) == 6
    for claim in summary["claims"]:
        assert claim["verdict"] in ("supported", "not supported", "not enough data")
        assert claim["evidence"].endswith(".")


@pytest.mark.parametrize("value,text", [
    (0.31, "31 %"), (0.094, "9.4 %"), (0.0011, "0.11 %"), (0.0, "0 %"), (1.0, "100 %"), (None, "–"),
])
def test_pct(value, text):
    assert wording.pct(value) == text


@pytest.mark.parametrize("value,low,high,rate,limits", [
    (0.4321, 0.0, 0.4287, "43.2 %", "0–42.9 %"),      # 43 % against 0–43 % would read as equal
    (0.104, 0.01, 0.0997, "10.4 %", "1.0–10.0 %"),    # 10 % against 1.0–10.0 %: same number, two spellings
    (0.0498, 0.0503, 0.2, "4.98 %", "5.03–20 %"),     # below the lower limit: 5.0 % against 5.0–20 %
    (0.57142857, 0.0, 0.56818, "57.1 %", "0–56.8 %"),
    (0.12, 0.01, 0.095, "12 %", "1.0–9.5 %"),         # already reads above: written as pct writes it
    (0.30, 0.10, 0.50, "30 %", "10–50 %"),            # within: as pct writes it
    (0.43, 0.0, 0.43, "43 %", "0–43 %"),              # on the limit is not outside it
    (None, 0.1, 0.2, "–", "10–20 %"), (0.3, None, None, "30 %", "–"),
])
def test_a_rate_outside_its_limits_never_reads_as_equal_to_them(value, low, high, rate, limits):
    assert wording.pct_against(value, low, high) == (rate, limits)


def _shown(text: str) -> float:
    return float(text.removesuffix(" %"))


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_a_rate_outside_its_limits_reads_outside_them(a, b, c):
    low, value, high = sorted((a, b, c))
    for rate, lo, hi in ((value, low, high), (high, low, value), (low, value, high)):
        shown, limits = wording.pct_against(rate, lo, hi)
        shown_low, shown_high = (_shown(x.strip() + " %") for x in limits.removesuffix(" %").split("–"))
        if rate > hi and (rate - hi) * 100 > 1e-4:       # distinguishable at 4 decimals of a percent
            assert _shown(shown) > shown_high, (rate, lo, hi, shown, limits)
        elif rate < lo and (lo - rate) * 100 > 1e-4:
            assert _shown(shown) < shown_low, (rate, lo, hi, shown, limits)
        elif lo <= rate <= hi:
            assert shown_low <= _shown(shown) <= shown_high and (shown, limits) == (wording.pct(rate),
                                                                                   wording.pct_range(lo, hi))


@pytest.mark.parametrize("p,text", [(0.0004, "p < 0.001"), (0.0042, "p = 0.004"), (0.034, "p = 0.034"), (0.0496, "p = 0.050"),
                                    (0.21, "p = 0.21"), (None, "no test"), (math.nan, "no test")])
def test_p_value_wording(p, text):
    assert wording.p_value(p) == text


def test_skin_type_wording():
    assert wording.skin_types((5, 6)) == "type V–VI"
    assert wording.skin_types((4,)) == "type IV"
    assert wording.skin_types((1, 3)) == "types I, III"


# --- properties ----------------------------------------------------------------------------------

treatment = st.fixed_dictionaries({
    "modality": st.sampled_from(schema.MODALITIES),
    "fitzpatrick_type": st.integers(1, 6),
    "downtime_days": st.one_of(st.just(np.nan), st.integers(0, 30).map(float)),
    "improvement_score": st.one_of(st.just(np.nan), st.integers(0, 4).map(float)),
    "event": st.booleans(),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(treatment, min_size=1, max_size=40))
def test_any_small_dataset_gives_sane_results(rows):
    events = [(f"T{i}", "hyperpigmentation") for i, r in enumerate(rows) if r["event"]]
    records = make_records([{k: v for k, v in r.items() if k != "event"} for r in rows], events)
    tone = skin_tone.skin_tone(records)
    for cell in tone.cells:
        p = cell.proportion
        assert 0 <= p.low <= p.estimate <= p.high <= 1
        assert cell.small == (p.treatments < compare.SMALL_N)
    for c in tone.by_type:
        if c.difference.estimate is not None:
            assert -1 <= c.difference.low <= c.difference.estimate <= c.difference.high <= 1
    compare.downtime(records)
    compare.improvement(records)
    json.dumps(summarise(records), allow_nan=False)


# --- adjusted odds ratio, how much more data, p-chart, funnels -------------------------------------

def test_adjusted_odds_ratio_is_reported_in_words(sample):
    tone = skin_tone.skin_tone(sample)
    assert tone.adjusted.fitted and tone.adjusted.odds_ratio > 1
    sentence = skin_tone.adjusted_sentence(tone.adjusted)
    assert sentence.startswith("Taking skin type and treatment area into account, ablative treatment carried")
    assert sentence in [f.sentence for f in tone.findings]


def test_adjusted_odds_ratio_explains_separation():
    records = cohort(5, 40, 0, 40)  # no hyperpigmentation after non-ablative treatment
    tone = skin_tone.skin_tone(records)
    assert not tone.adjusted.fitted and tone.adjusted.odds_ratio is None
    sentence = skin_tone.adjusted_sentence(tone.adjusted)
    # Said once (it read "could not be estimated: ..., so the odds ratio cannot be estimated."):
    assert sentence == ("There was no hyperpigmentation after non-ablative treatment in this selection, so the odds "
                        "ratio cannot be estimated.")
    assert sentence.count("estimated") == 1


def test_inconclusive_contrast_says_how_many_more_treatments_would_settle_it():
    from analysis.stats.power import further_treatments_needed

    c = compare.rate_contrast("type V–VI skin", 12, 100, 8, 100)
    assert c.test.p_value > 0.05
    assert c.more_needed == further_treatments_needed(12, 100, 8, 100,
                                                      group_label="modality in type V–VI skin").sentence
    assert c.more_needed.startswith("About ") and "more treatments per modality in type V–VI skin" in c.more_needed
    assert compare.rate_contrast("x", 56, 70, 48, 80).more_needed is None  # conclusive: nothing to add


def test_funnel_names_the_practitioner_with_doubled_risk(sample):
    # The sample generator doubles Dr P. Navarro's risk on purpose (data/generate_sample.py).
    result = monitoring.funnel(sample, "practitioner")
    navarro = next(u for u in result.funnel.units if u.name == "Dr P. Navarro")
    assert navarro.outside == "above 99.8 %" and navarro.ratio > 1.5
    assert any(f.sentence.startswith("Practitioner Dr P. Navarro:") and "more often than chance" in f.sentence
               for f in result.findings)
    total_expected = sum(u.expected for u in result.funnel.units)
    assert total_expected == pytest.approx(sum(u.observed for u in result.funnel.units))  # indirect standardisation


def test_funnel_small_units_are_too_small_to_judge():
    rows = [{"modality": "ablative", "fitzpatrick_type": 3, "clinic": "Big"} for _ in range(200)] + \
           [{"modality": "ablative", "fitzpatrick_type": 3, "clinic": "Tiny"} for _ in range(4)]
    events = [(f"T{i}", "hyperpigmentation") for i in range(10)] + [("T200", "hyperpigmentation"),
                                                                     ("T201", "hyperpigmentation")]
    result = monitoring.funnel(make_records(rows, events), "clinic")
    tiny = next(u for u in result.funnel.units if u.name == "Tiny")
    if tiny.outside:
        assert any("Tiny" in f.sentence and "too small to judge" in f.sentence for f in result.findings)


def test_p_chart_sees_a_clinic_drift(sample):
    # The sample generator ramps Harbourside's ablative PIH risk up from September 2025 on purpose.
    harbourside = apply_filters(sample, Filters(clinics=("Harbourside Skin Clinic",)))
    trend = monitoring.monthly(harbourside)
    december = next(p for p in trend.charts["ablative"].points if p.label == "2025-12")
    assert december.signal and december.rate > december.upper
    assert any(f.sentence.startswith("In 2025-12, hyperpigmentation after ablative treatment") for f in trend.findings)
    assert set(trend.volume["modality"]) == set(schema.MODALITIES)
    assert len(trend.charts["ablative"].points) == 24  # every month of the two years


def test_p_chart_on_an_empty_selection():
    empty = Records(make_records([]).outcomes, make_records([]).side_effects)
    trend = monitoring.monthly(empty)
    assert trend.charts == {} and trend.findings[0].sentence == "No treatments in this selection."


# --- regressions from the statistical review (each was a wrong number, verdict or signal) --------

def rows_of(column: str, ablative: list[float], non_ablative: list[float]) -> Records:
    return make_records([{"modality": "ablative", "fitzpatrick_type": 3, column: float(v)} for v in ablative] +
                        [{"modality": "non-ablative", "fitzpatrick_type": 3, column: float(v)} for v in non_ablative])


def test_difference_interval_keeps_its_sign_and_order():
    # 28/30 vs 38/50: chi-squared p = 0.048 but the Newcombe interval (-0.2 to +32 points) includes 0.
    c = compare.rate_contrast("x", 28, 30, 38, 50)
    assert c.difference.low < 0 < c.difference.high
    assert "−0.2 to +32 points" in c.sentence and "could be chance" in c.sentence
    assert "more often" not in c.sentence
    assert c.more_needed is not None
    fewer = compare.rate_contrast("x", 5, 100, 30, 100)
    assert "25 percentage points less often after ablative (95 % CI −35 to −15 points" in fewer.sentence


def test_a_significant_exact_test_is_reported_with_a_caveat_not_suppressed():
    # Scarring on the sample: 11/1879 vs 2/3121, Fisher p < 0.001.
    c = compare.rate_contrast("", 11, 1879, 2, 3121, effect="scarring", where="")
    assert c.test.test.lower().startswith("fisher") and c.test.p_value < 0.001
    assert "more often after ablative" in c.sentence and "with so few events" in c.sentence
    assert c.more_needed is None


def test_sparse_non_events_are_named_as_such():
    c = compare.rate_contrast("", 99, 100, 93, 100, effect="erythema", where="")
    assert "too few treatments without it" in c.sentence


def test_zero_shift_with_a_significant_test_is_not_called_chance():
    c = compare.downtime(rows_of("downtime_days", [0] * 20 + [1] * 40 + [2] * 5, [1] * 45 + [2] * 20))
    assert c.test.p_value < 0.05 and c.shift.estimate == 0
    assert "could be chance" not in c.findings[0].sentence
    assert "shorter after ablative treatment overall" in c.findings[0].sentence


def test_negative_shift_reads_shorter_with_a_positive_interval():
    c = compare.downtime(rows_of("downtime_days", [1] * 20 + [2] * 10, [3] * 20 + [4] * 10))
    assert "typically 2 days shorter for ablative (95 % CI 2–2 days" in c.findings[0].sentence
    assert not re.search(r"[-−]\d", c.findings[0].sentence)


def test_p_of_zero_ranks_as_significant(sample):
    d = compare.downtime(sample)
    assert d.test.p_value == 0.0 and d.findings[0].weight == 1.0


def test_ordinal_sentence_gives_each_measure_its_own_test():
    r = rows_of("improvement_score", [0] * 60 + [3] * 40, [2] * 100)
    sentence = compare.improvement(r).findings[0].sentence
    assert "40 percentage points apart" in sentence
    assert "on the whole 0–4 scale, improvement scores were lower after ablative treatment" in sentence
    block = summarise(r)["comparisons"]["improvement"]
    assert block["test"] == "chi-squared" and block["scale_test"]["rank_biserial"] < 0


def test_unfitted_or_unadjusted_models_say_what_was_adjusted_for():
    tone = skin_tone.skin_tone(cohort(10, 40, 3, 40))  # one skin type, one area: nothing to adjust for
    assert "nothing was adjusted for" in tone.findings[-1].sentence
    assert "Taking skin type" not in tone.findings[-1].sentence
    assert summarise(cohort(10, 40, 3, 40))["comparisons"]["adjusted_odds_ratio"]["adjusted_for"] == []


def test_open_follow_up_months_are_not_judged(sample):
    from datetime import date

    last = sample.outcomes["treatment_date"].max()
    joined = sample.side_effects.merge(sample.outcomes[["treatment_id", "treatment_date"]], on="treatment_id")
    started = (joined["treatment_date"] + pd.to_timedelta(joined["onset_day"], unit="D") <= last).to_numpy()
    truncated = Records(sample.outcomes, sample.side_effects.loc[started].reset_index(drop=True))
    trend = monitoring.monthly(truncated, follow_up_until=last.date())
    assert all(p.label < "2025-11" for c in trend.charts.values() for p in c.points)
    assert {p.label for p in trend.open_points["ablative"]} == {"2025-11", "2025-12"}
    assert not any("below the control limits" in f.sentence for f in trend.findings)
    assert any("shown but not judged" in f.sentence for f in trend.findings)
    full = monitoring.monthly(sample, follow_up_until=date(2026, 3, 31))  # the sample's real extraction date
    assert trend.open_points and not any(full.open_points.values())


def test_durations_count_unresolved_events(sample):
    """Unresolved events are in the time to resolution, censored (issue #15; they were left out of the median)."""
    summary = effects.side_effects(sample, follow_up_until=date(2026, 3, 31))
    scarring = [d for d in summary.durations if d.effect == "scarring"]
    assert sum(d.unresolved for d in scarring) > 0
    joined = sample.side_effects[sample.side_effects["effect"] == "scarring"]
    assert sum(d.curve.n for d in scarring) == len(joined)
    assert sum(d.curve.n - d.curve.n_events for d in scarring) == joined["resolved_day"].isna().sum()


def test_a_risk_ratio_with_no_events_in_a_group_is_said_in_json():
    block = summarise(cohort(6, 50, 0, 50))["comparisons"]["hyperpigmentation"]
    assert block["risk_ratio"] == "inf" and block["risk_ratio_ci"][1] == "inf"   # (valid JSON: no Infinity)
    assert block["risk_ratio_ci"][0] == pytest.approx(1.6213743427, abs=1e-9)    # R mn_ratio, tests/test_stats.py
    assert block["risk_ratio_corrected"] is False and "no events in the second group" in block["risk_ratio_note"]
    assert len(block["by_skin_type"][0]["risk_ratio_ci"]) == 2


def test_a_ratio_with_no_events_is_shown_as_observed_in_tables():
    """0 of 2 ablative vs 1 of 15 non-ablative: the ratio is 0, never a 'corrected' 2.07 above 1."""
    from analysis.present import tables

    contrast = compare.rate_contrast("type II", 0, 2, 1, 15)
    assert tables.contrasts([contrast], "x").loc[0, "Risk ratio (95 % CI)"] == "0 (0–21.77)"
    assert tables.contrasts([compare.rate_contrast("type II", 1, 15, 0, 2)], "x").loc[0, "Risk ratio (95 % CI)"] \
        == "∞ (0.05–∞)"


def test_ratio_without_interval_does_not_crash_the_table():
    from analysis.present import tables

    frame = tables.contrasts(skin_tone.skin_tone(cohort(12, 12, 12, 12)).by_type, "x")
    assert frame.loc[0, "Risk ratio (95 % CI)"].endswith("(no interval)")


def test_one_unit_is_not_compared_and_unrecorded_names_are_not_judged():
    rows = [{"modality": "ablative", "fitzpatrick_type": 3, "clinic": "Only"}] * 30
    single = monitoring.funnel(make_records(rows, [("T1", "hyperpigmentation")]), "clinic")
    assert single.findings[0].sentence.startswith("Only one clinic in this selection")
    rows = rows + [{"modality": "ablative", "fitzpatrick_type": 3, "clinic": None}] * 5 + \
        [{"modality": "ablative", "fitzpatrick_type": 3, "clinic": "Other"}] * 30
    result = monitoring.funnel(make_records(rows, [("T1", "hyperpigmentation")]), "clinic")
    assert any("have no clinic recorded" in f.sentence for f in result.findings)
    assert not any(f.sentence.startswith("Clinic (not recorded)") for f in result.findings)


def test_headline_comparisons_equal_the_full_ones_without_breakdowns(sample):
    """The Overview uses ``breakdowns=()``: everything it shows must equal the full comparison's."""
    import dataclasses

    for full, light in ((compare.downtime(sample), compare.downtime(sample, breakdowns=())),
                        (compare.improvement(sample), compare.improvement(sample, breakdowns=()))):
        assert light.breakdown == {}
        for f in dataclasses.fields(full):
            a, b = getattr(full, f.name), getattr(light, f.name)
            if isinstance(a, pd.DataFrame):
                pd.testing.assert_frame_equal(a, b)
            elif f.name != "breakdown":
                assert a == b, f.name


def test_bands_are_named_by_the_types_the_selection_holds(sample):
    """With only type IV and V selected, the sentences must not speak of "type III–IV" or "type V–VI"."""
    tone = skin_tone.skin_tone(apply_filters(sample, Filters(fitzpatrick_types=(4, 5))))
    assert [c.group for c in tone.by_band] == ["type IV skin", "type V skin"]
    assert tone.bands == ((4,), (5,))
    assert not any("III" in f.sentence or "VI" in f.sentence for f in tone.findings[1:3])
    full = skin_tone.skin_tone(sample)
    assert [c.group for c in full.by_band] == ["type I–II skin", "type III–IV skin", "type V–VI skin"]
    assert max(full.findings, key=lambda f: f.weight).sentence.startswith("In type V–VI")  # still ranked first


def test_one_skin_type_selected_says_each_thing_once(sample):
    """Found walking through as a new user: with one skin type selected the same sentence appeared twice."""
    from analysis.records.filters import Filters, apply_filters

    tone = skin_tone.skin_tone(apply_filters(sample, Filters(fitzpatrick_types=(5,))))
    sentences = [f.sentence for f in tone.findings]
    assert len(sentences) == len(set(sentences))
    assert sum(s.startswith("In type V skin") for s in sentences) == 1   # the band's sentence, not the overall too
    assert not any(s.startswith("Ablative treatments were followed by") for s in sentences)
    assert sentences.count("Only type V skin is in this selection, so no trend across skin types can be tested.") == 1


# --- families of comparisons (issue #15: Holm within a family, headline comparisons unadjusted) ------------

def test_a_family_is_judged_after_allowing_for_all_its_comparisons():
    from analysis.stats.multiplicity import holm

    groups = [("group A", (30, 100, 17, 100)), ("group B", (25, 100, 23, 100)), ("group C", (20, 100, 22, 100))]
    family = compare.family_contrasts(groups, "groups")
    alone = [compare.rate_contrast(g, *counts) for g, counts in groups]
    assert [c.test.p_value for c in family] == [c.test.p_value for c in alone]
    assert [c.adjusted_p for c in family] == pytest.approx(holm([c.test.p_value for c in alone]))
    assert all(c.family_size == 3 and c.family == "groups" for c in family)
    # group A on its own: p = 0.030 and the interval excludes zero, so it was called; in the family it is not
    assert alone[0].conclusive and "more often after ablative" in alone[0].sentence
    assert not family[0].conclusive and family[0].adjusted_p == pytest.approx(3 * alone[0].test.p_value)
    assert "could be chance (p = 0.090 after allowing for 3 groups)" in family[0].sentence
    assert "95 % CI" in family[0].sentence  # the interval stays the usual 95 % one
    assert family[0].more_needed  # an inconclusive comparison says what would settle it


def test_a_group_with_one_modality_is_not_counted_in_its_family():
    family = compare.family_contrasts([("A", (30, 100, 5, 100)), ("B", (3, 20, 0, 0))], "groups")
    assert family[0].family_size == 1 and family[0].adjusted_p is None  # a family of one is not adjusted
    assert "after allowing" not in family[0].sentence and family[0].conclusive


def test_skin_types_and_bands_are_one_family_and_the_headline_is_not_adjusted(sample):
    from analysis.stats.multiplicity import holm

    tone = skin_tone.skin_tone(sample)
    family = list(tone.by_type) + list(tone.by_band)
    assert {c.family_size for c in family} == {9} and {c.family for c in family} == {"skin-type comparisons"}
    assert [c.adjusted_p for c in family] == pytest.approx(holm([c.test.p_value for c in family]))
    # the sample shows no interaction (p = 0.24), so no type or band makes a claim of its own (deliberate change
    # when the interaction test landed: before, these sentences each said "after allowing for 9 ...")
    assert all(c.deferred and "is the best estimate for this group too" in c.sentence for c in family)
    assert tone.overall.family_size == 1 and tone.overall.adjusted_p is None
    assert "after allowing" not in tone.overall.sentence


def test_one_skin_type_is_counted_once_though_it_is_also_its_band():
    records = cohort(30, 100, 17, 100, fitz=5)
    tone = skin_tone.skin_tone(records)
    assert len(tone.by_type) == 1 and tone.by_band == tone.by_type and tone.by_type[0].family_size == 1


def test_side_effects_are_one_family(sample):
    """The other effects are one family; hyperpigmentation, stated in advance, keeps the headline's own verdict
    (second reading of issue 15: it was adjusted here as one of 9 and unadjusted on the Skin tone page, so one
    comparison had two verdicts; deliberate change from "after allowing for 9 side effects")."""
    side = effects.side_effects(sample)
    family = [c for c in side.rates if c.group != "hyperpigmentation"]
    assert len(side.rates) == 9 and len(family) == 8
    assert all(c.family_size == 8 and c.family == "side effects" and "after allowing for 8 side effects" in c.sentence
               for c in family)
    (hyper,) = [c for c in side.rates if c.group == "hyperpigmentation"]
    headline = skin_tone.skin_tone(sample).overall
    assert hyper.family_size == 1 and hyper.adjusted_p is None
    assert (hyper.test.p_value, hyper.conclusive) == (headline.test.p_value, headline.conclusive)


def test_funnel_units_are_one_family(sample):
    from analysis.stats.funnel import poisson_p_value
    from analysis.stats.multiplicity import holm

    result = monitoring.funnel(sample, "practitioner")
    units = [u for u in result.funnel.units if u.ratio is not None]
    raw = [poisson_p_value(u.observed, u.expected) for u in units]
    assert result.family_size == len(units) == 9
    assert [result.p_values[u.name][1] for u in units] == pytest.approx(holm(raw))
    said = [f.sentence for f in result.findings if "Navarro" in f.sentence]
    assert said and "after allowing for 9 practitioners" in said[0] and "plausibly explain" in said[0]


def _clinics(first: tuple[str, int, int], others: int, size: int, events: int) -> Records:
    """One clinic ``first`` = (name, treatments, events) and ``others`` clinics of ``size`` with ``events`` each, all
    ablative type III (one stratum, so expected = treatments x the overall rate)."""
    rows, flagged = [], []
    for c in range(others + 1):
        name, n, k = first if c == 0 else (f"C{c:02d}", size, events)
        for j in range(n):
            if j < k:
                flagged.append((f"T{len(rows)}", "hyperpigmentation"))
            rows.append({"modality": "ablative", "fitzpatrick_type": 3, "clinic": name})
    return make_records(rows, flagged)


def test_funnel_sentence_never_calls_chance_what_passes_holm():
    """Second reading (issue 15): North 22 of 100 against two clinics at 20 of 200 is above the 95 % limit with
    p = 0.043 after allowing for 3 clinics, yet inside the 99.8 % limit. The sentence said "worth a look, though ...
    about one in 20 falls outside the 95 % limits by chance alone" next to that p: now it says which half of the
    rule (outside 99.8 % and below 0.05 after Holm) it misses.
    R: E <- 100*62/500; p.adjust(c(poisson.test(22, E)$p.value, rep(poisson.test(20, 200*62/500)$p.value, 2)),
    "holm")[1] -> 0.0431195 (E = 12.4)."""
    result = monitoring.funnel(_clinics(("North", 100, 22), 2, 200, 20), "clinic")
    north = next(u for u in result.funnel.units if u.name == "North")
    assert north.outside == "above 95 %" and north.expected == pytest.approx(12.4)
    assert result.p_values["North"][1] == pytest.approx(0.0431195, abs=1e-7)
    said = next(f.sentence for f in result.findings if f.sentence.startswith("Clinic North:"))
    assert "p = 0.043 after allowing for 3 clinics" in said and "by chance alone" not in said
    assert said.endswith(": worth a look, not yet a clear signal (outside the 95 % limits and unlikely by chance "
                         "even after allowing for 3 clinics, but inside the 99.8 % limits).")


def test_funnel_sentence_outside_99_8_but_not_after_holm():
    """North 21 of 100 against 19 clinics at 20 of 200: above the 99.8 % limit, but 0.0516 after allowing for 20
    clinics. R: E <- 100*401/3900; pn <- poisson.test(21, E)$p.value; po <- poisson.test(20, 200*401/3900)$p.value;
    c(pn, p.adjust(c(pn, rep(po, 19)), "holm")[1]) -> 0.00258094 0.05161882."""
    result = monitoring.funnel(_clinics(("North", 100, 21), 19, 200, 20), "clinic")
    north = next(u for u in result.funnel.units if u.name == "North")
    assert north.outside == "above 99.8 %"
    assert result.p_values["North"] == pytest.approx((0.00258094, 0.05161882), abs=1e-8)
    said = next(f.sentence for f in result.findings if f.sentence.startswith("Clinic North:"))
    assert said.endswith(": worth a look, not yet a clear signal (outside even the 99.8 % limits, but with 20 "
                         "clinics compared chance could still explain it).")


def test_summary_carries_adjusted_p_values_and_family_sizes(sample):
    summary = json.loads(json.dumps(summarise(sample), allow_nan=False))
    hyper = summary["comparisons"]["hyperpigmentation"]
    for row in hyper["by_skin_type"] + hyper["by_skin_type_band"]:
        assert row["family_size"] == 9 and row["p_value_adjusted"] >= row["p_value"]
        assert isinstance(row["conclusive"], bool)
    assert "p_value_adjusted" not in hyper  # the headline comparison is not adjusted
    for row in summary["funnel"]["practitioner"]:
        assert row["family_size"] == 9 and row["p_value_adjusted"] >= row["p_value"]


# --- effect modification: subgroup sentences defer to the test of interaction -------------------

def typed_cohort(strata: dict[int, tuple[int, int, int, int]]) -> Records:
    """Per Fitzpatrick type (k1, n1, k2, n2): ablative events/treatments, then non-ablative."""
    rows, events = [], []
    for fitz, (k1, n1, k2, n2) in strata.items():
        for modality, k, n in ((schema.ABLATIVE, k1, n1), (schema.NON_ABLATIVE, k2, n2)):
            start = len(rows)
            rows += [{"modality": modality, "fitzpatrick_type": fitz}] * n
            events += [(f"T{i}", "hyperpigmentation") for i in range(start, start + k)]
    return make_records(rows, events)


def band_findings(tone: skin_tone.SkinToneComparison) -> list[str]:
    return [f.sentence for f in tone.findings if f.sentence.startswith("In type ")]


def test_skin_tone_pools_the_per_type_tables(sample):
    """The pooled odds ratio and the tests of interaction are those of the per-type 2 x 2 tables."""
    from analysis.stats.interaction import breslow_day, interaction_lrt, mantel_haenszel

    tone = skin_tone.skin_tone(sample)
    strata = [(c.ablative.events, c.ablative.treatments, c.non_ablative.events, c.non_ablative.treatments)
              for c in tone.by_type]
    assert tone.mantel_haenszel == mantel_haenszel(strata)
    assert tone.interaction == interaction_lrt(strata, scores=[1, 2, 3, 4, 5, 6])
    assert tone.interaction_trend == interaction_lrt(strata, scores=[1, 2, 3, 4, 5, 6], scale="linear")
    assert tone.breslow_day == breslow_day(strata) and tone.breslow_day.corrected
    # close to the adjusted odds ratio of the model that also takes treatment area into account
    assert tone.mantel_haenszel.odds_ratio == pytest.approx(tone.adjusted.odds_ratio, rel=0.05)


def test_without_interaction_bands_say_the_overall_estimate_applies(sample):
    """The sample's odds ratio is about the same in every type (interaction p = 0.24): no band makes a claim of
    its own; each gives its rates and points to the estimate over all types."""
    tone = skin_tone.skin_tone(sample)
    assert tone.differs_by_type is False and tone.breslow_day.p_value > 0.05
    bands = band_findings(tone)
    assert len(bands) == 3
    for sentence in bands:
        assert "more often after ablative" not in sentence and "could be chance" not in sentence
        assert sentence.endswith("for non-ablative; the figure over all skin types, 4.4 times the odds, is the best "
                                 "estimate for this group too.")
    said = tone.findings_in("modification")
    assert len(said) == 1 and said[0].sentence.startswith(
        "How ablative and non-ablative treatment compare for hyperpigmentation (the odds ratio) does not differ "
        "clearly between skin types (test of interaction p = 0.24), so the figure over all skin types is the best estimate for each type: ablative "
        "treatment carried 4.4 times the odds of hyperpigmentation of non-ablative (95 % CI 3.55–5.48).")
    assert tone.findings_in("overall")[0].sentence.startswith("Ablative treatments were followed by")
    assert tone.parts == ("overall", "band", "band", "band", "modification", "trend", "trend", "adjusted")
    # asked for in another order, they come in that order (the page puts the gap before the bands)
    assert tone.findings_in("overall", "modification", "band") == tuple(tone.findings[i] for i in (0, 4, 1, 2, 3))


def test_with_interaction_bands_keep_their_own_comparison():
    """Ablative is worse on dark skin and no different on light skin: the gap differs by skin type, so each band
    keeps its own verdict and the sentence says to read the figures per type."""
    tone = skin_tone.skin_tone(typed_cohort({1: (10, 100, 10, 100), 2: (10, 100, 11, 100),
                                             5: (40, 100, 10, 100), 6: (45, 100, 12, 100)}))
    assert tone.differs_by_type is True
    assert all("after allowing for 6 skin-type comparisons" in c.sentence for c in (*tone.by_type, *tone.by_band)
               if min(c.ablative.treatments, c.non_ablative.treatments) >= 10)
    light, dark = band_findings(tone)
    assert "could be chance" in light
    assert "more often after ablative" in dark
    said = tone.findings_in("modification")[0].sentence
    assert said.startswith("How ablative and non-ablative treatment compare for hyperpigmentation (the odds ratio) "
                           "differs between skin types (test of interaction p ")
    assert tone.findings_in("modification")[0].weight > 1.0


def test_one_skin_type_has_no_interaction_sentence():
    tone = skin_tone.skin_tone(cohort(10, 40, 3, 40))
    assert tone.findings_in("modification") == ()
    assert tone.breslow_day.p_value is None and tone.interaction.p_value is None and tone.differs_by_type is None
    assert tone.mantel_haenszel.odds_ratio == pytest.approx((10 * 37) / (30 * 3))


@pytest.mark.parametrize("strata", [
    {1: (0, 20, 0, 20), 6: (5, 20, 0, 20)},     # no event after non-ablative: no pooled odds ratio, no test
    {1: (0, 20, 0, 0), 6: (0, 0, 3, 20)},       # each modality on one type only
    {1: (0, 20, 0, 20), 6: (20, 20, 20, 20)},   # no variation within either type
])
def test_untestable_interaction_says_why_and_never_raises(strata):
    tone = skin_tone.skin_tone(typed_cohort(strata))
    assert tone.breslow_day.p_value is None and tone.differs_by_type is None
    said = tone.findings_in("modification")
    assert len(said) == 1 and said[0].small
    assert said[0].sentence.endswith("Until it can be, the comparison over all skin types is the best guide for each "
                                     "of them.")
    for sentence in band_findings(tone):
        assert "more often after ablative" not in sentence and "less often after ablative" not in sentence


def test_tiny_groups_are_tested_but_flagged_and_claim_nothing():
    tone = skin_tone.skin_tone(typed_cohort({2: (1, 3, 0, 2), 5: (2, 4, 1, 3)}))
    said = tone.findings_in("modification")
    assert len(said) == 1 and said[0].small and tone.breslow_day.p_value is not None
    assert all("too few treatments to conclude from" in s for s in band_findings(tone))


def test_summary_carries_the_pooled_odds_ratio_and_the_interaction_p_values(sample):
    tone = skin_tone.skin_tone(sample)
    block = summarise(sample)["comparisons"]
    pooled = block["mantel_haenszel_odds_ratio"]
    assert (pooled["odds_ratio"], pooled["ci"], pooled["p_value"]) == (
        tone.mantel_haenszel.odds_ratio, [tone.mantel_haenszel.low, tone.mantel_haenszel.high],
        tone.mantel_haenszel.p_value)
    modification = block["effect_modification"]
    assert modification["differs_by_skin_type"] is False and modification["governing_test"] == "breslow_day_tarone"
    assert modification["likelihood_ratio_factor"]["p_value"] == tone.interaction.p_value
    assert modification["likelihood_ratio_linear"]["p_value"] == tone.interaction_trend.p_value
    assert modification["breslow_day_tarone"]["p_value"] == tone.breslow_day.p_value
    assert modification["likelihood_ratio_factor"]["df"] == 5 and modification["breslow_day_tarone"]["df"] == 5


def test_summary_of_an_untestable_interaction_is_null_not_nan():
    block = summarise(typed_cohort({1: (0, 20, 0, 20), 6: (5, 20, 0, 20)}))["comparisons"]
    json.dumps(block, allow_nan=False)
    assert block["mantel_haenszel_odds_ratio"]["odds_ratio"] is None
    assert block["mantel_haenszel_odds_ratio"]["reason"]
    assert block["effect_modification"]["differs_by_skin_type"] is None
    assert block["effect_modification"]["breslow_day_tarone"]["reason"]


# --- second reading of issue #15: the family and the test of interaction agree ------------------------------

HETERO_LIKE = {1: (10, 100, 9, 100), 2: (12, 100, 10, 100), 3: (15, 100, 11, 100), 4: (18, 100, 11, 100),
               5: (30, 100, 12, 100), 6: (34, 100, 13, 100)}


def test_without_interaction_no_type_or_band_is_called_conclusive_anywhere():
    """Subgroups defer to the test of interaction: a type that would pass Holm on its own is not called
    conclusive in the table, the JSON summary or the sentences while the interaction test finds nothing."""
    tone = skin_tone.skin_tone(typed_cohort(HETERO_LIKE))
    assert tone.differs_by_type is False
    for c in (*tone.by_type, *tone.by_band):
        assert c.deferred and not c.conclusive and c.more_needed is None
        assert "more often after ablative" not in c.sentence and "is the best estimate for this group too" in c.sentence
    summary = summarise(typed_cohort(HETERO_LIKE))["comparisons"]["hyperpigmentation"]
    assert not any(row["conclusive"] for row in summary["by_skin_type"] + summary["by_skin_type_band"])
    assert all(row["deferred_to_interaction"] for row in summary["by_skin_type"] + summary["by_skin_type_band"])
    assert tone.overall.conclusive   # the pre-specified comparison over all skin types keeps its own verdict


def test_a_band_that_is_the_whole_selection_is_the_unadjusted_overall_comparison():
    """Second reading, finding 1: types V and VI selected; the V-VI band is the whole selection, so it is judged
    as the overall comparison (p = 0.022 unadjusted), not as one of 3 comparisons (p = 0.065)."""
    tone = skin_tone.skin_tone(typed_cohort({5: (14, 60, 7, 60), 6: (12, 50, 6, 50)}))
    (band,) = tone.by_band
    assert band.family_size == 1 and band.adjusted_p is None and not band.deferred
    assert band.test.p_value == tone.overall.test.p_value
    assert band.conclusive == tone.overall.conclusive
    assert {c.family_size for c in tone.by_type} == {2}


def test_no_interaction_sentence_without_a_comparison():
    """Second reading, finding 10: one modality only, or no event at all: nothing to say about the gap."""
    only_ablative = skin_tone.skin_tone(typed_cohort({1: (3, 20, 0, 0), 5: (6, 20, 0, 0)}))
    assert only_ablative.findings_in("modification") == ()
    no_events = skin_tone.skin_tone(typed_cohort({1: (0, 20, 0, 20), 5: (0, 20, 0, 20)}))
    assert no_events.findings_in("modification") == ()


def test_more_treatments_needed_within_a_family_is_planned_at_the_adjusted_level():
    """Second reading, finding 2: in a family of 3 the call needs Holm's p < 0.05, so the planning figure uses
    alpha = 0.05 / 3 (conservative for every rank)."""
    from analysis.stats.power import further_treatments_needed

    groups = [("group A", (15, 105, 6, 108)), ("group B", (25, 100, 23, 100)), ("group C", (20, 100, 22, 100))]
    family = compare.family_contrasts(groups, "groups")
    strict = further_treatments_needed(15, 105, 6, 108, alpha=0.05 / 3, group_label="modality in group A")
    lax = further_treatments_needed(15, 105, 6, 108, group_label="modality in group A")
    assert family[0].more_needed == strict.sentence and strict.more_per_group > lax.more_per_group


def test_the_effect_modification_table_names_only_what_the_model_took_into_account(sample):
    # third reading of #15: the row said "skin type and treatment area" even when every treatment had one area
    from analysis.present import tables

    one_area = skin_tone.skin_tone(typed_cohort({3: (20, 60, 5, 60), 4: (18, 60, 6, 60)}))
    assert skin_tone.adjusted_factors(one_area.adjusted) == ["skin type"]
    labels = tables.effect_modification(one_area)["Odds ratio or test"].tolist()
    assert labels[0] == "Odds ratio taking skin type into account"
    both = skin_tone.skin_tone(sample)
    assert skin_tone.adjusted_factors(both.adjusted) == ["skin type", "treatment area"]
    assert tables.effect_modification(both)["Odds ratio or test"].iloc[0] == (
        "Odds ratio taking skin type and treatment area into account")


def test_summary_carries_each_side_effect_with_its_family_adjusted_p(sample):
    # third reading of #15: the JSON had no adjusted p-values for the side-effect family the page adjusts for
    from analysis.findings import effects

    side = effects.side_effects(sample)
    listed = summarise(sample)["comparisons"]["side_effects"]
    json.dumps(listed, allow_nan=False)
    assert [e["effect"] for e in listed] == [c.group for c in side.rates]
    for entry, c in zip(listed, side.rates):
        assert (entry["p_value"], entry["family_size"]) == (c.test.p_value, c.family_size)
        # numbers only: no call, so the summary's subgroup claims stay those bench/false_alarms.py counts
        # (with a side-effect call here, 17 of its 200 null datasets, 8.5 %, would have carried one)
        assert "conclusive" not in entry
        if c.group == effects.HEADLINE_EFFECT:
            assert entry["headline"] and entry["p_value_adjusted"] == c.test.p_value
        else:
            assert entry["family_size"] == len(side.rates) - 1 and entry["p_value_adjusted"] == c.adjusted_p
            assert entry["p_value_adjusted"] >= entry["p_value"]
