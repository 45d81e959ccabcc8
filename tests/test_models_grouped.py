"""The adjusted odds ratio fitted on counts per covariate pattern equals the fit on one row per treatment.

With categorical terms only, :func:`analysis.stats.logistic.adjusted_odds_ratio` groups the treatments
by (exposure, covariate levels) and fits the binomial model to the events per group: the same
likelihood as per-treatment logistic regression, so the same estimates, standard errors,
separation and rank verdicts, notes and sentences. These tests hold it to the per-treatment path
(``logistic._GROUPED = False``, the code used for numeric covariates) and to statsmodels ``Logit``
fitted directly on one row per treatment.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.records import schema
from analysis.stats import logistic
from analysis.findings.skin_tone import adjusted_odds
from analysis.records.filters import with_effect_flags
from analysis.records.ingest import SourceFile, import_files
from analysis.stats.logistic import NOT_RECORDED, adjusted_odds_ratio
from analysis.records.store import Records

from testpaths import ROOT

FLOATS = ("odds_ratio", "ci_low", "ci_high", "p_value", "events_per_parameter")


@pytest.fixture(scope="module")
def sample_frame() -> pd.DataFrame:
    result = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                          SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    return with_effect_flags(Records(result.outcomes, result.side_effects))


def per_treatment(function, *args, **kwargs):
    """Call ``function`` with the grouped fit switched off (one design row per treatment)."""
    saved = logistic._GROUPED
    logistic._GROUPED = False
    try:
        return function(*args, **kwargs)
    finally:
        logistic._GROUPED = saved


def assert_same(grouped, rows, rel=1e-9):
    """Every field equal; the estimates to ``rel`` (they come from a different sum order)."""
    for field in dataclasses.fields(grouped):
        a, b = getattr(grouped, field.name), getattr(rows, field.name)
        if field.name in FLOATS and a is not None and b is not None:
            assert a == pytest.approx(b, rel=rel, abs=1e-300), field.name
        else:
            assert a == b, field.name


def logit_reference(frame: pd.DataFrame, outcome: str, covariates: tuple[str, ...]) -> tuple[float, float]:
    """log OR and its SE from statsmodels Logit on one row per treatment (reference = most common level)."""
    columns = [pd.Series(1.0, index=frame.index, name="const"),
               (frame["modality"] == schema.ABLATIVE).astype(float).rename("ablative")]
    for column in covariates:
        values = frame[column].astype(object).where(frame[column].notna(), NOT_RECORDED)
        counts = values.value_counts()
        reference = sorted(counts.index, key=lambda v: (-counts[v], str(v)))[0]
        dummies = pd.get_dummies(values, prefix=column, dtype=float)
        columns.append(dummies.drop(columns=f"{column}_{reference}"))
    design = pd.concat(columns, axis=1)
    fit = sm.Logit(frame[outcome].astype(float), design).fit(method="newton", disp=False)
    return float(fit.params["ablative"]), float(fit.bse["ablative"])


# --------------------------------------------------------------------------------------------
# the bundled sample (5,000 treatments)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("effect", schema.EFFECTS)
def test_sample_grouped_fit_equals_per_treatment_fit(sample_frame, effect):
    grouped = adjusted_odds(sample_frame, effect)
    rows = per_treatment(adjusted_odds, sample_frame, effect)
    assert_same(grouped, rows)
    assert grouped.n <= len(sample_frame)


def test_sample_grouped_fit_equals_statsmodels_logit_on_rows(sample_frame):
    result = adjusted_odds(sample_frame, "hyperpigmentation")
    assert result.fitted and result.terms[0] == "modality=ablative"
    assert {t.split("=")[0] for t in result.terms[1:]} == {"fitzpatrick_type", "treatment_area"}
    beta, se = logit_reference(sample_frame, "hyperpigmentation", ("fitzpatrick_type", "treatment_area"))
    z = stats.norm.ppf(0.975)
    assert math.log(result.odds_ratio) == pytest.approx(beta, rel=1e-9)
    assert result.ci_low == pytest.approx(math.exp(beta - z * se), rel=1e-9)
    assert result.ci_high == pytest.approx(math.exp(beta + z * se), rel=1e-9)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(beta / se)), rel=1e-7)
    assert (result.n, result.events) == (len(sample_frame), int(sample_frame["hyperpigmentation"].sum()))


@pytest.mark.parametrize("covariates", [(), ("fitzpatrick_type",), ("treatment_area",),
                                        ("fitzpatrick_type", "treatment_area")])
def test_sample_subsets_agree_with_the_per_treatment_fit(sample_frame, covariates):
    for fitz in [(1, 2), (3, 4), (5, 6)]:
        part = sample_frame[sample_frame["fitzpatrick_type"].isin(fitz)]
        kwargs = dict(outcome="hyperpigmentation", covariates=covariates, categorical=covariates)
        assert_same(adjusted_odds_ratio(part, **kwargs), per_treatment(adjusted_odds_ratio, part, **kwargs))


# --------------------------------------------------------------------------------------------
# separation, collinearity, dropped levels, missing values
# --------------------------------------------------------------------------------------------


def quasi_separated(extra_event: bool = False) -> pd.DataFrame:
    # Every (ablative, face) treatment had the event and no (non-ablative, neck) one did; the other
    # two cells are mixed: separated by b = (-1, 1, 1), seen only by the joint (LP) check.
    cells = ([("ablative", "face", True)] * 30 + [("non-ablative", "neck", False)] * 30
             + [("ablative", "neck", True)] * 5 + [("ablative", "neck", False)] * 25
             + [("non-ablative", "face", True)] * 5 + [("non-ablative", "face", False)] * 25)
    if extra_event:  # one (non-ablative, neck) treatment with the event: no longer separated
        cells[30] = ("non-ablative", "neck", True)
    return pd.DataFrame(cells, columns=["modality", "treatment_area", "hyperpigmentation"])


def test_quasi_separation_gets_the_same_verdict_grouped_and_per_treatment():
    frame = quasi_separated()
    grouped = adjusted_odds_ratio(frame, covariates=("treatment_area",))
    rows = per_treatment(adjusted_odds_ratio, frame, covariates=("treatment_area",))
    assert not grouped.fitted and "perfectly predicted" in grouped.reason
    assert grouped == rows
    # The grouped programme has one constraint per (pattern, outcome) - 6 here, not 120 - and the
    # same optimum, compared with the same tolerance (1e-7 x treatments).
    design = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [1, 0, 0]], dtype=float)
    events, counts = np.array([30, 0, 5, 5]), np.array([30, 30, 30, 30])
    assert logistic._separated(design, events, counts)
    assert logistic._separated(np.repeat(design, counts, axis=0), np.concatenate(
        [np.r_[np.ones(e), np.zeros(c - e)] for e, c in zip(events, counts)]))


def test_nearly_separated_data_are_fitted_identically():
    frame = quasi_separated(extra_event=True)
    grouped = adjusted_odds_ratio(frame, covariates=("treatment_area",))
    rows = per_treatment(adjusted_odds_ratio, frame, covariates=("treatment_area",))
    assert grouped.fitted and grouped.reason is None
    assert_same(grouped, rows, rel=1e-8)
    exposure = (frame["modality"] == "ablative").astype(float)
    design = sm.add_constant(np.column_stack([exposure, (frame["treatment_area"] == "neck").astype(float)]))
    fit = sm.Logit(frame["hyperpigmentation"].astype(float), design).fit(method="newton", disp=False)
    assert math.log(grouped.odds_ratio) == pytest.approx(np.asarray(fit.params)[1], rel=1e-8)


def test_collinear_terms_get_the_same_verdict():
    # treatment area is face exactly when the treatment is ablative: the area term duplicates the exposure.
    rng = np.random.default_rng(3)
    modality = rng.choice(["ablative", "non-ablative"], 400)
    frame = pd.DataFrame({"modality": modality, "treatment_area": np.where(modality == "ablative", "face", "neck"),
                          "fitzpatrick_type": rng.integers(1, 4, 400), "hyperpigmentation": rng.random(400) < 0.3})
    kwargs = dict(covariates=("fitzpatrick_type", "treatment_area"))
    grouped = adjusted_odds_ratio(frame, **kwargs)
    assert not grouped.fitted and "duplicate each other" in grouped.reason
    assert grouped == per_treatment(adjusted_odds_ratio, frame, **kwargs)


def test_rank_of_grouped_rows_is_the_rank_of_the_per_treatment_matrix():
    rng = np.random.default_rng(5)
    for _ in range(50):
        cells, columns = int(rng.integers(2, 12)), int(rng.integers(1, 6))
        design = rng.integers(0, 2, (cells, columns)).astype(float)
        design[:, 0] = 1.0
        counts = rng.integers(1, 400, cells)
        expanded = np.repeat(design, counts, axis=0)
        assert logistic._rank(design, counts, int(counts.sum())) == np.linalg.matrix_rank(expanded)
        ones = np.ones(cells, dtype=np.int64)
        assert logistic._rank(design, ones, cells) == np.linalg.matrix_rank(design)


def test_separation_check_on_counts_equals_the_check_on_rows():
    rng = np.random.default_rng(8)
    verdicts = set()
    for _ in range(60):
        cells = int(rng.integers(2, 8))
        design = np.column_stack([np.ones(cells), rng.integers(0, 2, (cells, 2))]).astype(float)
        counts = rng.integers(1, 6, cells)
        events = np.array([rng.choice([0, c, int(rng.integers(0, c + 1))]) for c in counts])
        y = np.concatenate([np.r_[np.ones(e), np.zeros(c - e)] for e, c in zip(events, counts)])
        on_rows = logistic._separated(np.repeat(design, counts, axis=0), y)
        assert logistic._separated(design, events, counts) == on_rows
        verdicts.add(on_rows)
    assert verdicts == {True, False}


def test_levels_without_variation_are_dropped_the_same_way():
    rng = np.random.default_rng(21)
    n = 3000
    frame = pd.DataFrame({
        "modality": pd.Categorical(rng.choice(["ablative", "non-ablative"], n), categories=["ablative", "non-ablative"]),
        "fitzpatrick_type": rng.integers(1, 7, n).astype("int8"),
        "treatment_area": rng.choice(np.array(["face", "neck", "chest", None], dtype=object), n,
                                     p=[0.5, 0.2, 0.1, 0.2]),
        "hyperpigmentation": rng.random(n) < 0.2,
    })
    frame.loc[frame["fitzpatrick_type"] == 1, "hyperpigmentation"] = False
    frame.loc[frame["treatment_area"] == "chest", "hyperpigmentation"] = True
    kwargs = dict(covariates=("fitzpatrick_type", "treatment_area"))
    grouped = adjusted_odds_ratio(frame, **kwargs)
    assert grouped.fitted
    assert any(note.startswith("fitzpatrick type 1:") and "none with" in note for note in grouped.notes)
    assert any(note.startswith("treatment area chest:") and "all with" in note for note in grouped.notes)
    assert "treatment_area=(not recorded)" in grouped.terms
    assert_same(grouped, per_treatment(adjusted_odds_ratio, frame, **kwargs))


def test_missing_values_and_a_recorded_not_recorded_level():
    rng = np.random.default_rng(4)
    n = 600
    area = rng.choice(np.array(["face", "neck", None, NOT_RECORDED], dtype=object), n, p=[0.5, 0.3, 0.1, 0.1])
    outcome = pd.Series(rng.random(n) < 0.3, dtype=object)
    outcome[[3, 9, 27]] = [None, np.nan, pd.NA]
    modality = pd.Series(rng.choice(["ablative", "non-ablative"], n), dtype=object)
    modality[[5, 9]] = None
    frame = pd.DataFrame({"modality": modality, "treatment_area": area, "hyperpigmentation": outcome,
                          "fitzpatrick_type": rng.integers(1, 7, n).astype(float)})
    frame.loc[[1, 2], "fitzpatrick_type"] = np.nan
    frame.loc[[1, 2], "hyperpigmentation"] = False
    kwargs = dict(covariates=("fitzpatrick_type", "treatment_area"))
    grouped = adjusted_odds_ratio(frame, **kwargs)
    assert grouped.notes[:2] == ("3 treatment(s) with no recorded hyperpigmentation left out.",
                                 "1 treatment(s) with no recorded modality left out.")
    # Two treatments without a type are a level of their own, "(not recorded)", without variation.
    assert grouped.notes[2].startswith("fitzpatrick type (not recorded): 2 treatment(s), none with")
    assert grouped.n == n - 4 - 2
    # A missing area and a recorded "(not recorded)" are one level.
    assert grouped.terms.count("treatment_area=(not recorded)") == 1
    assert "treatment area: reference level face (the most common)." in grouped.notes
    assert_same(grouped, per_treatment(adjusted_odds_ratio, frame, **kwargs))


@pytest.mark.parametrize("dtype", [bool, "boolean", "int64", "float64", object])
def test_outcome_dtypes_give_the_same_fit(dtype):
    rng = np.random.default_rng(9)
    n = 800
    frame = pd.DataFrame({"modality": rng.choice(["ablative", "non-ablative"], n),
                          "fitzpatrick_type": rng.integers(1, 7, n),
                          "hyperpigmentation": rng.random(n) < 0.25})
    reference = adjusted_odds_ratio(frame)
    converted = adjusted_odds_ratio(frame.astype({"hyperpigmentation": dtype}))
    assert converted == reference
    assert_same(reference, per_treatment(adjusted_odds_ratio, frame))


@pytest.mark.parametrize(("values", "message"), [
    ([0, 1, 2, 1], "got 2 (row 2)"),
    ([0.0, 1.0, 0.5, 1.0], "got 0.5 (row 2)"),
    ([True, False, "yes", True], "got 'yes' (row 2)"),
])
def test_bad_outcome_values_are_named_with_their_row(values, message):
    frame = pd.DataFrame({"modality": ["ablative", "non-ablative"] * 2, "fitzpatrick_type": [1, 2, 1, 2],
                          "hyperpigmentation": values})
    with pytest.raises(ValueError, match=f"True/False or 1/0, {message}".replace("(", r"\(").replace(")", r"\)")):
        adjusted_odds_ratio(frame)


# --------------------------------------------------------------------------------------------
# random app-shaped data
# --------------------------------------------------------------------------------------------


@st.composite
def small_frames(draw):
    n = draw(st.integers(4, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    fitz = rng.integers(1, draw(st.integers(2, 7)), n)
    share = draw(st.floats(0.05, 0.95))
    modality = rng.choice(["ablative", "non-ablative"], n, p=[share, 1 - share])
    area = rng.choice(np.array(["face", "neck", None], dtype=object), n)
    b = rng.normal(0, 2.5, 3)
    logit = draw(st.floats(-3, 1)) + b[0] * (modality == "ablative") + b[1] * (fitz - 3) + b[2] * (area == "neck")
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"modality": modality, "fitzpatrick_type": fitz, "treatment_area": area,
                         "hyperpigmentation": y})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_frames(), st.sampled_from([(), ("fitzpatrick_type",), ("treatment_area",),
                                        ("fitzpatrick_type", "treatment_area")]))
def test_grouped_and_per_treatment_results_agree_on_random_data(frame, covariates):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grouped = adjusted_odds_ratio(frame, covariates=covariates)
        rows = per_treatment(adjusted_odds_ratio, frame, covariates=covariates)
    assert_same(grouped, rows, rel=1e-7)
