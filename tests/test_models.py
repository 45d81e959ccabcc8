"""analysis.stats.logistic and analysis.stats.power against published reference values.

Sources
-------
* Hosmer DW, Lemeshow S. *Applied Logistic Regression* (Wiley), low-birth-weight study
  (Baystate Medical Center, 1986; 189 births, 59 low). Reference coefficients and standard
  errors for ``glm(low ~ age + lwt + race_black + race_other + smoke + ptl + ht + ui,
  family = binomial)`` as stored (R/Stata results, ``aic_R`` and ``aic_Stata`` alongside) in
  statsmodels' test suite: statsmodels/genmod/tests/results/results_glm.py, class ``Lbw``
  (data stata_lbw_glm.csv, from https://www.stata-press.com/data/r9/lbw.dta; the same model
  is written out as an R call in statsmodels/genmod/tests/test_glm.py,
  ``TestGlmBernoulli.test_score_r``).
* Hosmer & Lemeshow, Table 3.3 (p. 43), CHD by age >= 55 (chdage data), as reproduced by UCLA
  IDRE "Stata Textbook Examples: Applied Logistic Regression, chapter 3": ``logit chd aged``
  gives coefficient 2.093546, SE .5285335, 95 % CI 1.057639 to 3.129453.
* R package pwr, vignette "Getting started with the pwr package" (C. Ford): per-group n for
  ``pwr.2p.test(h = ES.h(p1 = 0.55, p2 = 0.50), sig.level = 0.05, power = .80)`` is 1,565 and
  for ``ES.h(p1 = 0.10, p2 = 0.05)`` 424; Cross Validated question 83700:
  ``pwr::pwr.2p.test(h = ES.h(0.50, 0.75), power = .90, sig.level = 0.05)`` gives n = 76.65.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.stats.logistic import adjusted_odds_ratio
from analysis.stats.power import further_treatments_needed, sample_size_two_proportions

# Hosmer & Lemeshow low-birth-weight data, 189 rows (row order of stata_lbw_glm.csv).
# Each entry: five digits low, smoke, ht, ui, ptl; then age, lwt, race (w/b/o).
LBW = """
00010,19,182,b 00000,33,155,o 01000,20,105,w 01010,21,108,w 01010,18,107,w 00000,21,124,o
00000,22,118,w 00000,17,103,o 01000,29,123,w 01000,26,113,w 00000,19,95,o 00000,19,150,o
00100,22,95,o 00011,30,107,o 01000,18,100,w 01000,18,100,w 00000,15,98,b 01000,25,118,w
00010,20,120,o 01000,28,120,w 00000,32,121,o 00010,31,100,w 00000,36,202,w 00000,28,120,o
00010,25,120,o 00000,28,167,w 01000,17,122,w 00000,29,150,w 01000,26,168,b 00000,17,113,b
00000,17,113,b 01001,24,90,w 01001,35,121,b 00000,25,155,w 00000,25,125,b 01000,29,140,w
01000,19,138,w 01000,27,124,w 01000,31,215,w 01000,33,109,w 01000,21,185,b 00000,19,189,w
00000,23,130,b 00000,21,160,w 01010,18,90,w 01010,18,90,w 00000,32,132,w 00000,19,132,o
00000,24,115,w 01000,22,85,o 00100,22,120,w 00000,23,128,o 01000,22,130,w 01000,30,95,w
00000,19,115,o 00000,16,110,o 01010,21,110,o 00000,30,153,o 00000,20,103,o 00000,17,119,o
00000,17,119,o 00000,23,119,o 00000,24,110,o 00000,28,140,w 01002,26,133,o 00011,20,169,o
00000,24,115,o 01000,28,250,o 00012,20,141,w 00001,22,158,b 01002,22,112,w 01000,31,150,o
01000,23,115,o 00000,16,112,b 01000,16,135,w 00000,18,229,b 00000,25,140,w 01001,32,134,w
01000,20,121,b 00000,23,190,w 00000,22,131,w 00000,32,170,w 00000,30,110,o 00000,20,127,o
00000,23,123,o 01000,17,120,o 00000,19,105,o 00000,23,130,w 00000,36,175,w 00000,22,125,w
00000,24,133,w 00000,21,134,o 01100,19,235,w 01013,25,95,w 01000,16,135,w 00000,29,135,w
00000,29,154,w 01000,19,147,w 01000,19,147,w 00000,30,137,w 00000,24,110,w 01100,19,184,w
00001,24,110,o 00000,23,110,w 00000,20,120,o 00100,25,241,b 00000,30,112,w 00000,22,169,w
01000,18,120,w 00000,16,170,b 00000,32,186,w 00000,18,120,o 01000,29,130,w 00010,33,117,w
01000,20,170,w 00000,28,134,o 00000,14,135,w 00000,28,130,o 00000,25,120,w 00000,16,95,o
00000,20,158,w 00000,26,160,o 00000,21,115,w 00000,22,129,w 00000,25,130,w 00000,31,120,w
00001,35,170,w 01000,19,120,w 00000,24,116,w 00000,45,123,w 11011,28,120,o 10010,29,130,w
11100,34,187,b 10101,25,105,o 10010,25,85,o 10000,27,150,o 10010,23,97,o 10001,24,128,b
10100,24,132,o 11100,21,165,w 11000,32,105,w 11012,19,91,w 10000,25,115,o 10000,16,130,o
11000,25,92,w 11000,20,150,w 10010,21,200,b 11001,24,155,w 10000,21,103,o 10010,20,125,o
10002,25,89,o 10000,19,102,w 11010,19,112,w 11001,26,117,w 10000,24,138,w 11011,17,130,o
11000,20,120,b 11011,22,130,w 10010,27,130,b 11010,20,80,o 11000,17,110,w 10001,25,105,o
10000,20,109,o 10000,18,148,o 11001,18,110,b 11011,20,121,w 10001,21,100,o 10000,26,96,o
11001,31,102,w 10000,15,110,w 11000,23,187,b 11000,20,122,b 11000,24,105,b 10010,15,115,o
10000,23,120,o 11001,30,142,w 11000,22,130,w 11000,17,120,w 11001,23,110,w 10000,17,120,b
10101,26,154,o 10000,20,106,o 11000,26,190,w 11001,14,101,o 11000,28,95,w 10000,14,100,o
11000,23,94,o 10100,17,142,b 11100,21,130,w
"""


def lbw() -> pd.DataFrame:
    rows = []
    for item in LBW.split():
        code, age, lwt, race = item.split(",")
        rows.append({"low": int(code[0]), "smoke": int(code[1]), "ht": int(code[2]), "ui": int(code[3]),
                     "ptl": int(code[4]), "age": int(age), "lwt": int(lwt),
                     "race": {"w": "white", "b": "black", "o": "other"}[race]})
    return pd.DataFrame(rows)


# R: glm(low ~ age + lwt + race_black + race_other + smoke + ptl + ht + ui, family = binomial)
#    (statsmodels results_glm.Lbw: params and bse)
LBW_R = {
    "age": (-0.02710031, 0.036449917),
    "lwt": (-0.01515082, 0.006925765),
    "race_black": (1.26264728, 0.526405169),
    "race_other": (0.86207916, 0.439146744),
    "smoke": (0.92334482, 0.400820976),
    "ptl": (0.54183656, 0.346246857),
    "ht": (1.83251780, 0.691623875),
    "ui": (0.75851348, 0.459373871),
}
Z95 = stats.norm.ppf(0.975)


def test_lbw_data_is_the_published_one():
    data = lbw()
    assert len(data) == 189 and data["low"].sum() == 59  # Hosmer & Lemeshow: 189 women, 59 low
    assert data["race"].value_counts().to_dict() == {"white": 96, "other": 67, "black": 26}
    assert pd.crosstab(data["smoke"], data["low"]).to_numpy().tolist() == [[86, 29], [44, 30]]


@pytest.mark.parametrize("exposure", ["smoke", "ht", "ui"])
def test_adjusted_odds_ratio_matches_r_glm_on_lbw(exposure):
    binary = ["smoke", "ht", "ui"]
    covariates = ["age", "lwt", "race", "ptl"] + [b for b in binary if b != exposure]
    result = adjusted_odds_ratio(lbw(), outcome="low", exposure=exposure, exposure_level=1,
                                 covariates=covariates, categorical=("race",))
    beta, se = LBW_R[exposure]
    assert result.fitted and result.reason is None
    assert math.log(result.odds_ratio) == pytest.approx(beta, rel=1e-6)
    # The stored SEs are 0.6-1.4e-5 (relative) below the SEs at the exact maximum (statsmodels
    # Logit and GLM both give e.g. 0.4008266 for smoke, not 0.400820976) - the reference run
    # stopped its iterations slightly early; statsmodels' own test checks them to 1e-4
    # absolute. Hence rel=5e-5 on anything involving the SE.
    fitted_se = math.log(result.ci_high / result.ci_low) / (2 * Z95)
    assert fitted_se == pytest.approx(se, rel=5e-5)
    assert result.ci_low == pytest.approx(math.exp(beta - Z95 * se), rel=5e-5)
    assert result.ci_high == pytest.approx(math.exp(beta + Z95 * se), rel=5e-5)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(beta / se)), rel=5e-4)
    assert (result.n, result.events) == (189, 59)
    # race enters as dummies against white, the most common level (96 of 189), as in R.
    assert "race=black" in result.terms and "race=other" in result.terms
    assert any("reference level white" in note for note in result.notes)


def test_lbw_smoking_odds_ratio_values():
    result = adjusted_odds_ratio(lbw(), outcome="low", exposure="smoke", exposure_level=1,
                                 covariates=("age", "lwt", "race", "ptl", "ht", "ui"), categorical=("race",))
    # exp of the reference coefficient: OR 2.517698; Wald limits exp(b ± 1.959964·SE) with the
    # stored SE: 1.147689 to 5.523101 (with the SE at the exact maximum: 1.147676 to 5.523162).
    assert result.odds_ratio == pytest.approx(math.exp(0.92334482), rel=1e-6)
    assert result.odds_ratio == pytest.approx(2.517698, abs=5e-7)
    assert result.ci_low == pytest.approx(math.exp(0.92334482 - Z95 * 0.400820976), rel=2e-5)
    assert result.ci_high == pytest.approx(math.exp(0.92334482 + Z95 * 0.400820976), rel=2e-5)
    # 59 low births, 130 normal: 59 events / 8 parameters = 7.4 < 10 -> fitted, with a warning.
    assert result.events_per_parameter == pytest.approx(59 / 8)
    assert result.warning and "7.4 events for each quantity the model estimates" in result.warning


def _chdage() -> pd.DataFrame:
    # Hosmer & Lemeshow Table 3.2: chd by aged (age >= 55): 51/6 without CHD, 22/21 with.
    rows = [(0, 0)] * 51 + [(0, 1)] * 6 + [(1, 0)] * 22 + [(1, 1)] * 21
    return pd.DataFrame(rows, columns=["chd", "aged"])


def test_unadjusted_odds_ratio_matches_hosmer_lemeshow_table_3_3():
    result = adjusted_odds_ratio(_chdage(), outcome="chd", exposure="aged", exposure_level=1, covariates=())
    # Stata: logit chd aged -> aged 2.093546 (SE .5285335), 95 % CI 1.057639 to 3.129453
    assert result.odds_ratio == pytest.approx(math.exp(2.093546), rel=1e-6)
    assert result.ci_low == pytest.approx(math.exp(1.057639), rel=1e-6)
    assert result.ci_high == pytest.approx(math.exp(3.129453), rel=1e-6)
    # A single binary exposure: the ML odds ratio is the cross-product ratio ad/bc and the Wald
    # SE of its log is Woolf's sqrt(1/a + 1/b + 1/c + 1/d).
    assert result.odds_ratio == pytest.approx(21 * 51 / (22 * 6), rel=1e-9)
    se = math.sqrt(1 / 51 + 1 / 6 + 1 / 22 + 1 / 21)
    assert math.log(result.ci_high / result.ci_low) / (2 * Z95) == pytest.approx(se, rel=1e-8)
    assert result.terms == ("aged=1",) and result.warning is None  # 43 events / 1 parameter


def test_confidence_level_is_used():
    r90 = adjusted_odds_ratio(_chdage(), outcome="chd", exposure="aged", exposure_level=1, covariates=(),
                              confidence=0.90)
    se = math.sqrt(1 / 51 + 1 / 6 + 1 / 22 + 1 / 21)
    z = stats.norm.ppf(0.95)
    assert r90.ci_low == pytest.approx(21 * 51 / (22 * 6) * math.exp(-z * se), rel=1e-8)
    assert r90.confidence == 0.90


# ------------------------------------------------------------------------------------------
# app-shaped data
# ------------------------------------------------------------------------------------------


def clinic_frame(n: int = 2000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fitz = rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.1, 0.3, 0.25, 0.15, 0.12, 0.08])
    modality = rng.choice(["ablative", "non-ablative"], n)
    area = rng.choice(np.array(["face", "neck", "chest", None], dtype=object), n, p=[0.6, 0.2, 0.1, 0.1])
    logit = -3.2 + 0.9 * (modality == "ablative") + 0.35 * (fitz - 1)
    pih = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"modality": pd.Categorical(modality, categories=["ablative", "non-ablative"]),
                         "fitzpatrick_type": fitz, "treatment_area": area, "hyperpigmentation": pih})


def test_default_call_matches_statsmodels_formula_on_clinic_data():
    frame = clinic_frame()
    result = adjusted_odds_ratio(frame)
    reference = frame["fitzpatrick_type"].value_counts().idxmax()
    fit = smf.logit(f"y ~ C(modality, Treatment('non-ablative')) + C(fitzpatrick_type, Treatment({reference}))",
                    data=frame.assign(y=frame["hyperpigmentation"].astype(int))).fit(disp=False)
    beta = fit.params["C(modality, Treatment('non-ablative'))[T.ablative]"]
    low, high = fit.conf_int().loc["C(modality, Treatment('non-ablative'))[T.ablative]"]
    assert result.odds_ratio == pytest.approx(math.exp(beta), rel=1e-8)
    assert (result.ci_low, result.ci_high) == pytest.approx((math.exp(low), math.exp(high)), rel=1e-8)
    assert result.terms[0] == "modality=ablative"
    assert {f"fitzpatrick_type={k}" for k in range(1, 7) if k != reference} == set(result.terms[1:])
    assert result.n == 2000 and result.events == int(frame["hyperpigmentation"].sum())


def test_missing_treatment_area_is_its_own_level():
    frame = clinic_frame()
    result = adjusted_odds_ratio(frame, covariates=("fitzpatrick_type", "treatment_area"))
    assert result.fitted and "treatment_area=(not recorded)" in result.terms
    assert any("treatment area: reference level face" in note for note in result.notes)


def test_rows_with_missing_outcome_are_left_out_and_noted():
    frame = clinic_frame().astype({"hyperpigmentation": object})
    frame.loc[:4, "hyperpigmentation"] = None
    result = adjusted_odds_ratio(frame)
    assert result.n == 1995
    assert "5 treatment(s) with no recorded hyperpigmentation left out." in result.notes


def test_level_without_events_is_left_out_and_equals_the_limiting_mle():
    frame = clinic_frame()
    frame.loc[frame["fitzpatrick_type"] == 1, "hyperpigmentation"] = False
    n_type1 = int((frame["fitzpatrick_type"] == 1).sum())
    result = adjusted_odds_ratio(frame)
    assert any(note.startswith(f"fitzpatrick type 1: {n_type1} treatment(s), none with hyperpigmentation")
               for note in result.notes)
    assert "fitzpatrick_type=1" not in result.terms and result.n == 2000 - n_type1
    # Same as fitting without those rows ...
    reduced = frame[frame["fitzpatrick_type"] != 1]
    ref = reduced["fitzpatrick_type"].value_counts().idxmax()
    fit = smf.logit(f"y ~ C(modality, Treatment('non-ablative')) + C(fitzpatrick_type, Treatment({ref}))",
                    data=reduced.assign(y=reduced["hyperpigmentation"].astype(int))).fit(disp=False)
    assert math.log(result.odds_ratio) == pytest.approx(
        fit.params["C(modality, Treatment('non-ablative'))[T.ablative]"], rel=1e-8)
    # ... which is the limit of the full-data likelihood as the type-I coefficient goes to -inf:
    # fix it at -40 through an offset and refit on all rows.
    exog = pd.get_dummies(frame["fitzpatrick_type"], prefix="f", dtype=float).drop(columns=["f_1", f"f_{ref}"])
    exog.insert(0, "ablative", (frame["modality"] == "ablative").astype(float))
    offset = np.where(frame["fitzpatrick_type"] == 1, -40.0, 0.0)
    full = sm.Logit(frame["hyperpigmentation"].astype(float), sm.add_constant(exog), offset=offset).fit(disp=False)
    assert math.log(result.odds_ratio) == pytest.approx(full.params["ablative"], rel=1e-8)


def test_level_where_every_treatment_had_the_event_is_left_out():
    frame = clinic_frame()
    frame.loc[frame["fitzpatrick_type"] == 6, "hyperpigmentation"] = True
    result = adjusted_odds_ratio(frame)
    assert any("fitzpatrick type 6:" in note and "all with hyperpigmentation" in note for note in result.notes)
    assert result.fitted


def test_no_events_after_non_ablative_gives_the_plain_english_reason():
    frame = clinic_frame()
    frame.loc[frame["modality"] == "non-ablative", "hyperpigmentation"] = False
    result = adjusted_odds_ratio(frame)
    assert not result.fitted and result.odds_ratio is None and result.ci_low is None and result.p_value is None
    assert result.reason == ("There was no hyperpigmentation after non-ablative treatment in this selection, "
                             "so the odds ratio cannot be estimated.")


def test_every_ablative_treatment_with_the_event_is_not_estimated():
    frame = clinic_frame()
    frame.loc[frame["modality"] == "ablative", "hyperpigmentation"] = True
    result = adjusted_odds_ratio(frame)
    assert not result.fitted and "Every ablative treatment" in result.reason


def test_single_exposure_level_and_too_few_events():
    frame = clinic_frame()
    only = adjusted_odds_ratio(frame[frame["modality"] == "ablative"])
    assert not only.fitted and "Every treatment in this selection is ablative" in only.reason
    none = adjusted_odds_ratio(frame[frame["modality"] == "non-ablative"])
    assert not none.fitted and "no ablative treatments" in none.reason
    few = frame.assign(hyperpigmentation=False)
    few.loc[few.index[0], "hyperpigmentation"] = True
    one = adjusted_odds_ratio(few)
    assert not one.fitted and "Fewer than 2 treatments" in one.reason and one.events == 1


def test_empty_selection_gives_a_reason():
    result = adjusted_odds_ratio(clinic_frame().iloc[0:0])
    assert not result.fitted and result.n == 0 and result.events == 0 and result.reason
    assert result.odds_ratio is None and result.notes == ()


def test_quasi_complete_separation_by_a_combination_is_detected():
    # Every (ablative, face) treatment had the event and no (non-ablative, neck) one did; the
    # other two cells are mixed. Each margin varies, so only the joint check can see that
    # b = (-1, 1, 1) separates the data (Albert & Anderson 1984 quasi-complete separation).
    cells = ([("ablative", "face", True)] * 30 + [("non-ablative", "neck", False)] * 30
             + [("ablative", "neck", True)] * 5 + [("ablative", "neck", False)] * 25
             + [("non-ablative", "face", True)] * 5 + [("non-ablative", "face", False)] * 25)
    frame = pd.DataFrame(cells, columns=["modality", "treatment_area", "hyperpigmentation"])
    result = adjusted_odds_ratio(frame, covariates=("treatment_area",))
    assert not result.fitted and "perfectly predicted" in result.reason
    # statsmodels alone "fits" this without a PerfectSeparationWarning; the result is not usable.
    design = sm.add_constant(np.column_stack([(frame["modality"] == "ablative").astype(float),
                                              (frame["treatment_area"] == "neck").astype(float)]))
    with pytest.warns(Warning):
        fit = sm.Logit(frame["hyperpigmentation"].astype(float), design).fit(disp=False)
    assert not fit.mle_retvals["converged"] or np.max(np.abs(fit.params)) > 10


def test_separation_by_a_numeric_covariate_is_detected():
    frame = clinic_frame(400)
    frame["dose"] = np.where(frame["hyperpigmentation"], 10.0, 1.0)
    result = adjusted_odds_ratio(frame, covariates=("fitzpatrick_type", "dose"))
    assert not result.fitted and "perfectly predicted" in result.reason


def test_enough_events_gives_no_warning():
    frame = clinic_frame(6000)
    result = adjusted_odds_ratio(frame)
    assert result.fitted and result.warning is None and result.events_per_parameter >= 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "scarring"}, "'scarring'"),
        ({"covariates": ("fitzpatrick_type", "clinic")}, "'clinic'"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": 0}, "confidence"),
        ({"covariates": ("modality",)}, "different columns"),
        ({"covariates": ("treatment_area",), "categorical": ()}, "not numeric"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adjusted_odds_ratio(clinic_frame(50), **kwargs)


def test_outcome_that_is_not_boolean_raises():
    frame = clinic_frame(50).astype({"hyperpigmentation": object})
    frame.loc[3, "hyperpigmentation"] = "yes"
    with pytest.raises(ValueError, match="True/False or 1/0, got 'yes'"):
        adjusted_odds_ratio(frame)
    with pytest.raises(ValueError, match="DataFrame"):
        adjusted_odds_ratio([1, 2, 3])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_swapping_exposure_level_or_outcome_inverts_the_odds_ratio(seed):
    frame = clinic_frame(800, seed=seed)
    base = adjusted_odds_ratio(frame)
    swapped = adjusted_odds_ratio(frame, exposure_level="non-ablative")
    flipped = adjusted_odds_ratio(frame.assign(no_pih=~frame["hyperpigmentation"]), outcome="no_pih")
    assert base.fitted and swapped.fitted and flipped.fitted
    for other in (swapped, flipped):
        assert other.odds_ratio == pytest.approx(1 / base.odds_ratio, rel=1e-7)
        assert other.ci_low == pytest.approx(1 / base.ci_high, rel=1e-7)
        assert other.p_value == pytest.approx(base.p_value, rel=1e-6, abs=1e-12)


# ------------------------------------------------------------------------------------------
# sample size
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p1", "p2", "per_group"),
    [
        # R: pwr.2p.test(h = ES.h(p1 = 0.55, p2 = 0.50), sig.level = 0.05, power = .80) -> 1,565 per group
        (0.55, 0.50, 1565),
        # R: pwr.2p.test(h = ES.h(p1 = 0.10, p2 = 0.05), sig.level = 0.05, power = .80) -> 424 per group
        (0.10, 0.05, 424),
    ],
)
def test_sample_size_matches_pwr_vignette(p1, p2, per_group):
    size = sample_size_two_proportions(p1, p2)
    assert size.per_group == per_group and size.second_group == per_group
    assert "Cohen's h" in size.method and (size.power, size.alpha) == (0.8, 0.05)


def test_sample_size_matches_pwr_documented_output():
    # R: pwr::pwr.2p.test(h = ES.h(0.50, 0.75), power = .90, sig.level = 0.05) -> n = 76.65
    size = sample_size_two_proportions(0.50, 0.75, power=0.90)
    assert size.exact == pytest.approx(76.65, abs=0.005)
    assert size.per_group == 77
    # ES.h(0.50, 0.75) = 2·asin(sqrt(.5)) − 2·asin(sqrt(.75)) = π/2 − 2π/3 = −π/6
    assert size.effect_size == pytest.approx(-math.pi / 6, rel=1e-12)


def test_unequal_groups_follow_the_pwr_2p2n_power_equation():
    size = sample_size_two_proportions(0.10, 0.05, ratio=0.5)
    n1, n2 = size.exact, size.exact * 0.5
    h = abs(size.effect_size)
    z = stats.norm.ppf(0.975)
    # R pwr.2p2n.test power (two-sided): pnorm(qnorm(a/2, lower=F) - h*sqrt(n1*n2/(n1+n2)), lower=F)
    #                                    + pnorm(qnorm(a/2) - h*sqrt(n1*n2/(n1+n2)))
    k = h * math.sqrt(n1 * n2 / (n1 + n2))
    assert stats.norm.sf(z - k) + stats.norm.cdf(-z - k) == pytest.approx(0.8, abs=1e-6)
    assert size.second_group == math.ceil(n2)


def test_equal_proportions_give_no_sample_size():
    size = sample_size_two_proportions(0.2, 0.2)
    assert size.per_group is None and size.second_group is None and size.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p1": 1.2, "p2": 0.1}, "p1"),
        ({"p1": 0.1, "p2": float("nan")}, "p2"),
        ({"p1": 0.1, "p2": 0.2, "power": 1.0}, "power"),
        ({"p1": 0.1, "p2": 0.2, "alpha": 0.0}, "alpha"),
        ({"p1": 0.1, "p2": 0.2, "power": 0.04}, "larger than alpha"),
        ({"p1": 0.1, "p2": 0.2, "ratio": 0}, "ratio"),
    ],
)
def test_sample_size_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size_two_proportions(**kwargs)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_sample_size_is_symmetric_and_grows_with_power(p1, p2):
    if abs(p1 - p2) < 1e-3:
        return
    a = sample_size_two_proportions(p1, p2)
    b = sample_size_two_proportions(p2, p1)
    c = sample_size_two_proportions(p1, p2, power=0.9)
    assert a.per_group == b.per_group
    assert c.per_group >= a.per_group


def test_further_treatments_needed():
    more = further_treatments_needed(10, 100, 5, 100)
    # 10 % vs 5 %: 424 per group needed (pwr vignette), 100 each so far -> 324 more.
    assert (more.required_per_group, more.current_smaller, more.more_per_group) == (424, 100, 324)
    assert more.sentence == ("About 324 more treatments per modality would be needed to tell whether "
                             "this difference is real (80 % power).")
    uneven = further_treatments_needed(10, 100, 10, 200)
    assert uneven.current_smaller == 100 and uneven.more_per_group == 324
    big = further_treatments_needed(100, 1000, 50, 1000)
    assert big.more_per_group == 0 and "already enough" in big.sentence
    thousands = further_treatments_needed(55, 100, 50, 100)
    assert thousands.more_per_group == 1465 and "About 1,465 more" in thousands.sentence


def test_further_treatments_needed_with_no_difference_or_no_data():
    same = further_treatments_needed(5, 100, 10, 200)
    assert same.more_per_group is None and same.required_per_group is None
    assert "exactly the same here, so there is no difference for more treatments to confirm" in same.sentence
    empty = further_treatments_needed(0, 0, 3, 40)
    assert empty.more_per_group is None and empty.reason and empty.p1 is None


@pytest.mark.parametrize(
    ("args", "message"),
    [((5, 4, 1, 10), "k1 = 5 is more than n1 = 4"), ((1, 10, 11, 10), "k2"), ((-1, 10, 1, 10), "k1"),
     ((1.5, 10, 1, 10), "k1")],
)
def test_further_treatments_needed_rejects_bad_counts(args, message):
    with pytest.raises(ValueError, match=message):
        further_treatments_needed(*args)


def test_sample_size_for_the_largest_possible_effect_is_found():
    # 0 % vs 100 % (Cohen's h = pi): about 1.6 per group suffice, below the bracket statsmodels'
    # solve_power searches. Closed form for equal groups: n = 2 ((z_{1-a/2} + z_{power}) / h)^2
    # (Cohen 1988, ch. 6), the other tail being negligible here.
    from scipy.stats import norm

    closed = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / math.pi) ** 2
    result = sample_size_two_proportions(0.0, 1.0)
    assert result.exact == pytest.approx(closed, rel=1e-4)
    assert result.per_group == 2
    assert further_treatments_needed(0, 10, 10, 10).more_per_group == 0
