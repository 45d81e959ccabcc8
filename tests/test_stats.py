"""Tests for ``analysis.stats``.

Expected numbers come from papers, textbooks or reference software, cited next to each; values
printed to d decimals are compared with ``pytest.approx(..., abs=half a unit in the d-th decimal)``.
Property tests (hypothesis) and brute-force comparisons cover what no table does.
"""

from __future__ import annotations

import doctest
import functools
import itertools
import math
from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize, signal
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep

from analysis.stats import checks
from analysis.stats import proportions as stats
from analysis.stats import multiplicity
from analysis.stats.multiplicity import family_size, holm
from analysis.stats import ranks as rank_methods  # ``ranks`` is a local name in some tests
from analysis.stats import (
    fisher_exact_test,
    hodges_lehmann_shift,
    mann_whitney,
    median_ci,
    newcombe_diff_ci,
    risk_ratio_ci,
    trend_test,
    wilson_ci,
)

FOUR_DP = 5e-5  # half a unit in the 4th decimal
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def events_and_total(draw: st.DrawFn, max_n: int = 10_000, min_n: int = 0) -> tuple[int, int]:
    n = draw(st.integers(min_n, max_n))
    return draw(st.integers(0, n)), n


def test_docstring_examples_run() -> None:
    runs = [doctest.testmod(module, optionflags=doctest.ELLIPSIS) for module in (stats, rank_methods, multiplicity)]
    result = doctest.TestResults(sum(r.failed for r in runs), sum(r.attempted for r in runs))
    assert result.failed == 0 and result.attempted >= 8


# --- wilson_ci --------------------------------------------------------------------------------

# Newcombe RG (1998) "Two-sided confidence intervals for the single proportion: comparison of seven
# methods", Stat Med 17:857-872, Table I, method 3 (score interval without continuity correction).
NEWCOMBE_TABLE_I = [
    (81, 263, 0.2553, 0.3662),  # Table I, example (a)
    (15, 148, 0.0624, 0.1605),  # Table I, example (b)
    (0, 20, 0.0000, 0.1611),  # Table I, example (c)
    (1, 29, 0.0061, 0.1718),  # Table I, example (d)
]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE_TABLE_I)
def test_wilson_matches_newcombe_1998_table_i(k: int, n: int, low: float, high: float) -> None:
    result = wilson_ci(k, n)
    assert result.estimate == k / n
    assert result.low == pytest.approx(low, abs=FOUR_DP)
    assert result.high == pytest.approx(high, abs=FOUR_DP)
    assert (result.events, result.treatments, result.confidence) == (k, n, 0.95)


def test_wilson_limits_are_exactly_0_and_1_at_the_edges() -> None:
    assert wilson_ci(0, 20).low == 0.0
    assert wilson_ci(20, 20).high == 1.0  # statsmodels alone gives 0.9999999999999999
    # 20/20 mirrors 0/20: Newcombe 1998, Table I, example (c), upper limit 0.1611.
    assert wilson_ci(20, 20).low == pytest.approx(1 - 0.1611, abs=FOUR_DP)
    assert wilson_ci(0, 1).estimate == 0.0 and wilson_ci(1, 1).high == 1.0


def test_wilson_empty_group_gives_none() -> None:
    assert wilson_ci(0, 0) == stats.Proportion(0, 0, None, None, None, 0.95)


@pytest.mark.parametrize(
    ("args", "bad"),
    [((-1, 5), "-1"), ((6, 5), "6"), ((1, -2), "-2"), ((2.5, 5), "2.5"), ((1, 5, 0.0), "0.0"),
     ((1, 5, 1.0), "1.0"), ((1, 5, 95), "95"), ((1, 5, float("nan")), "nan"), ((1, 5, "high"), "high")],
)
def test_wilson_rejects_invalid_input_naming_the_value(args: tuple, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        wilson_ci(*args)


def test_whole_number_floats_and_numpy_integers_are_accepted() -> None:
    assert wilson_ci(np.int64(81), 263.0) == wilson_ci(81, 263)


@PROPERTY
@given(events_and_total(max_n=10**6), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_is_inside_0_1_and_contains_the_estimate(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    result = wilson_ci(k, n, confidence)
    if n == 0:
        assert result.estimate is None
        return
    assert 0.0 <= result.low <= result.estimate <= result.high <= 1.0


@PROPERTY
@given(events_and_total(max_n=5_000, min_n=1), st.integers(2, 20))
def test_wilson_interval_shrinks_as_n_grows_at_a_fixed_proportion(kn: tuple[int, int], factor: int) -> None:
    k, n = kn
    small, large = wilson_ci(k, n), wilson_ci(k * factor, n * factor)
    assert large.high - large.low < small.high - small.low


# --- newcombe_diff_ci ---------------------------------------------------------------------------

# Newcombe RG (1998) "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Stat Med 17:873-890, Table II, method 10 (hybrid score, no CC).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),  # Table II, example (a)
    ((9, 10, 3, 10), (0.1705, 0.8090)),  # Table II, example (b)
    ((6, 7, 2, 7), (0.0582, 0.8062)),  # Table II, example (c)
    ((5, 56, 0, 29), (-0.0381, 0.1926)),  # Table II, example (d); also ratesci tests/test3.R
    ((0, 10, 0, 20), (-0.1611, 0.2775)),  # Table II, example (e)
    ((0, 10, 0, 10), (-0.2775, 0.2775)),  # Table II, example (f)
    ((10, 10, 0, 20), (0.6791, 1.0000)),  # Table II, example (g)
    ((10, 10, 0, 10), (0.6075, 1.0000)),  # Table II, example (h)
]


@pytest.mark.parametrize(("counts", "interval"), NEWCOMBE_TABLE_II)
def test_newcombe_matches_newcombe_1998_table_ii(counts: tuple[int, int, int, int],
                                                 interval: tuple[float, float]) -> None:
    k1, n1, k2, n2 = counts
    result = newcombe_diff_ci(*counts)
    assert result.estimate == pytest.approx(k1 / n1 - k2 / n2, abs=1e-15)
    assert result.low == pytest.approx(interval[0], abs=FOUR_DP)
    assert result.high == pytest.approx(interval[1], abs=FOUR_DP)


def test_newcombe_matches_fagerland_2015_to_printed_precision() -> None:
    # Fagerland MW, Lydersen S, Laake P (2015) Stat Methods Med Res 24:224, 7/34 vs 1/34:
    # Newcombe hybrid score 0.019 to 0.34 (as quoted in statsmodels' test_proportion.py).
    result = newcombe_diff_ci(7, 34, 1, 34)
    assert result.low == pytest.approx(0.019, abs=5e-4)
    assert result.high == pytest.approx(0.34, abs=5e-3)


def test_newcombe_empty_group_gives_none() -> None:
    assert newcombe_diff_ci(0, 0, 3, 10) == stats.Difference(None, None, None, 0.95)
    assert newcombe_diff_ci(3, 10, 0, 0, confidence=0.9) == stats.Difference(None, None, None, 0.9)


@pytest.mark.parametrize(("args", "bad"), [((-1, 5, 1, 5), "-1"), ((1, 5, 7, 6), "7"), ((1, 5, 1, 5, 1.2), "1.2")])
def test_newcombe_rejects_invalid_input(args: tuple, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        newcombe_diff_ci(*args)


@PROPERTY
@given(events_and_total(min_n=1), events_and_total(min_n=1), st.sampled_from([0.9, 0.95, 0.99]))
def test_newcombe_interval_within_minus_1_1_contains_estimate_and_is_antisymmetric(
        a: tuple[int, int], b: tuple[int, int], confidence: float) -> None:
    forward = newcombe_diff_ci(*a, *b, confidence=confidence)
    backward = newcombe_diff_ci(*b, *a, confidence=confidence)
    assert -1.0 <= forward.low <= forward.estimate <= forward.high <= 1.0
    assert backward.low == pytest.approx(-forward.high, abs=1e-12)
    assert backward.high == pytest.approx(-forward.low, abs=1e-12)


# --- risk_ratio_ci ------------------------------------------------------------------------------


def test_risk_ratio_matches_scipy_relative_risk_example() -> None:
    # Sahai & Khurshid (1996) Statistics in Epidemiology, Example 3.1 (CHD by catecholamine);
    # scipy.stats.contingency.relative_risk(27, 122, 44, 487) docstring:
    # relative_risk 2.4495156482861398, 95 % CI (1.5836990926700116, 3.7886786315466354).
    result = risk_ratio_ci(27, 122, 44, 487)
    assert result.estimate == pytest.approx(2.4495156482861398, rel=1e-12)
    assert result.low == pytest.approx(1.5836990926700116, rel=1e-12)
    assert result.high == pytest.approx(3.7886786315466354, rel=1e-12)
    assert not result.corrected and result.note is None


def test_risk_ratio_matches_fagerland_katz_log_interval() -> None:
    # Fagerland, Lydersen & Laake (2017) Statistical Analysis of Contingency Tables, ch. 4, Perondi et al.
    # (2004) 7/34 vs 1/34; R: contingencytables::Katz_log_CI_2x2(perondi_2004) -> 7.0000 (0.9096 to 53.8695).
    result = risk_ratio_ci(7, 34, 1, 34)
    assert result.estimate == pytest.approx(7.0, rel=1e-15)
    assert result.low == pytest.approx(0.9096, abs=FOUR_DP)
    assert result.high == pytest.approx(53.8695, abs=FOUR_DP)


def test_adjusted_log_interval_matches_fagerland() -> None:
    # The zero-event correction adds 1/2 to events and totals. R:
    # contingencytables::Adjusted_log_CI_2x2(perondi_2004) -> 95 % CI 0.9241 to 27.0523.
    _, low, high = stats._log_ratio_interval(7.5, 34.5, 1.5, 34.5, checks.z_critical(0.95))
    assert low == pytest.approx(0.9241, abs=FOUR_DP)
    assert high == pytest.approx(27.0523, abs=FOUR_DP)


# The Miettinen-Nurminen score interval for the ratio, written in R from Miettinen & Nurminen (1985), Stat Med
# 4:213-226, with the restricted MLE of Farrington & Manning (1990) and the variance factor N/(N-1):
#   mn_ratio <- function(x1, n1, x2, n2, level = 0.95) {
#     N <- n1 + n2; p1 <- x1 / n1; p2 <- x2 / n2; q <- qchisq(level, 1)
#     stat <- function(theta) {
#       A <- N * theta; B <- -(n1 * theta + x1 + n2 + x2 * theta); C <- x1 + x2
#       p2r <- (-B - sqrt(B^2 - 4 * A * C)) / (2 * A); p1r <- theta * p2r
#       v <- (p1r * (1 - p1r) / n1 + theta^2 * p2r * (1 - p2r) / n2) * N / (N - 1)
#       (p1 - theta * p2)^2 / v - q }
#     est <- p1 / p2
#     lower <- if (x1 == 0) 0 else uniroot(stat, c(1e-10, min(est, 1e10)), tol = 1e-14)$root
#     upper <- if (x2 == 0) Inf else uniroot(stat, c(max(est, 1e-10), 1e10), tol = 1e-14)$root
#     c(lower, upper) }
# R 4.2.2 output:
#   mn_ratio(0, 2, 1, 15)   -> 0.0000000000 21.7732462934
#   mn_ratio(1, 15, 0, 2)   -> 0.0459279240 Inf
#   mn_ratio(0, 16, 15, 72) -> 0.0000000000 0.9714507325   (Ritland et al. 2007, Fagerland et al. 2017 ch. 4)
#   mn_ratio(6, 50, 0, 50)  -> 1.6213743427 Inf
#   mn_ratio(0, 1, 1, 1)    -> 0.0000000000 3.8414588207
#   mn_ratio(0, 1, 7, 7)    -> 0.0000000000 0.8144794573   (statsmodels' score method gives 0.875 here)
#   mn_ratio(3, 3, 0, 4)    -> 1.5619066298 Inf            (statsmodels: 2.3333)
#   mn_ratio(0, 5, 5, 5)    -> 0.0000000000 0.4605260187   (statsmodels: 0.5000)
#   mn_ratio(0, 30, 1, 1)   -> 0.0000000000 0.1280486274
@pytest.mark.parametrize(("counts", "estimate", "low", "high"), [
    ((0, 2, 1, 15), 0.0, 0.0, 21.7732462934),
    ((1, 15, 0, 2), math.inf, 0.0459279240, math.inf),
    ((0, 16, 15, 72), 0.0, 0.0, 0.9714507325),
    ((6, 50, 0, 50), math.inf, 1.6213743427, math.inf),
    ((0, 1, 1, 1), 0.0, 0.0, 3.8414588207),
    ((0, 1, 7, 7), 0.0, 0.0, 0.8144794573),
    ((3, 3, 0, 4), math.inf, 1.5619066298, math.inf),
    ((0, 5, 5, 5), 0.0, 0.0, 0.4605260187),
    ((0, 30, 1, 1), 0.0, 0.0, 0.1280486274),
])
def test_risk_ratio_with_a_zero_group_is_the_observed_ratio_with_the_score_interval(counts, estimate, low, high):
    """Found walking through as a new user: 0 of 2 ablative vs 1 of 15 showed a "corrected" ratio of 2.07, on the
    other side of 1 from the data. Now the observed 0 (or infinity) with an interval that exists there."""
    result = risk_ratio_ci(*counts)
    assert result.estimate == estimate and not result.corrected
    assert result.low == pytest.approx(low, abs=1e-9) and result.high == pytest.approx(high, abs=1e-9)
    assert "score interval" in result.note
    assert result.low <= result.estimate <= result.high


def test_risk_ratio_undefined_cases_give_none_with_a_reason() -> None:
    none_events = risk_ratio_ci(0, 10, 0, 20)
    assert (none_events.estimate, none_events.low, none_events.high) == (None, None, None)
    assert "no events" in none_events.note
    everyone = risk_ratio_ci(10, 10, 5, 5)
    assert (everyone.estimate, everyone.low, everyone.high) == (1.0, None, None)
    empty = risk_ratio_ci(3, 10, 0, 0)
    assert (empty.estimate, empty.low, empty.high) == (None, None, None)


@pytest.mark.parametrize(("args", "bad"), [((-3, 10, 1, 5), "-3"), ((1, 10, 6, 5), "6"), ((1, 10, 1, 5, 0), "0")])
def test_risk_ratio_rejects_invalid_input(args: tuple, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        risk_ratio_ci(*args)


@PROPERTY
@given(events_and_total(min_n=1), events_and_total(min_n=1))
def test_risk_ratio_interval_is_positive_and_contains_estimate(a: tuple[int, int], b: tuple[int, int]) -> None:
    result = risk_ratio_ci(*a, *b)
    if result.low is None:
        return
    assert result.low <= result.estimate <= result.high
    if a[0] == 0:      # no events in group 1: the observed 0, the interval from 0
        assert result.estimate == result.low == 0.0 and result.high < math.inf
    elif b[0] == 0:    # none in group 2: the observed infinity, the interval up to it
        assert result.estimate == result.high == math.inf and result.low > 0.0
    else:
        assert 0.0 < result.low and result.high < math.inf


# --- fisher_exact_test --------------------------------------------------------------------------


def _noncentral_hypergeometric_mle(row1: int, row2: int, col1: int, observed: int) -> float:
    """Conditional MLE of the odds ratio, solved here independently to 1e-13."""
    support = np.arange(max(0, col1 - row2), min(row1, col1) + 1)
    log_base = np.array([math.log(comb(row1, x) * comb(row2, col1 - x)) for x in support])

    def mean_minus_observed(log_psi: float) -> float:
        weights = np.exp(log_base + support * log_psi - (log_base + support * log_psi).max())
        return float((support * weights).sum() / weights.sum()) - observed

    return math.exp(optimize.brentq(mean_minus_observed, -30, 30, xtol=1e-13))


def test_fisher_matches_r_tea_tasting() -> None:
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2)) -> p-value = 0.4857 (= 17/35), odds ratio 6.408309.
    # R solves for the odds ratio with uniroot (tolerance ~1e-4), so it agrees to about 6 digits;
    # the independent solution below pins it to 1e-9.
    result = fisher_exact_test(3, 4, 1, 4)
    assert result.test == "Fisher exact"
    assert result.p_value == pytest.approx(17 / 35, rel=1e-12)
    assert result.statistic == pytest.approx(6.408309, rel=1e-5)
    assert result.statistic == pytest.approx(_noncentral_hypergeometric_mle(4, 4, 4, 3), rel=1e-9)


def test_fisher_matches_r_convictions() -> None:
    # R ?fisher.test: Convictions <- matrix(c(2, 10, 15, 3), 2); fisher.test(Convictions)
    # -> p-value = 0.0005367 (0.0005367241), odds ratio 0.04693661.
    result = fisher_exact_test(2, 17, 10, 13)
    assert result.p_value == pytest.approx(0.0005367241, abs=5e-11)
    assert result.statistic == pytest.approx(0.04693661, rel=1e-5)
    assert result.statistic == pytest.approx(_noncentral_hypergeometric_mle(17, 13, 12, 2), rel=1e-9)


def test_fisher_matches_fagerland_ritland() -> None:
    # R: contingencytables::Fisher_exact_test_2x2(ritland_2007), 0/16 vs 15/72 -> P = 0.06287.
    result = fisher_exact_test(0, 16, 15, 72)
    assert result.p_value == pytest.approx(0.06287, abs=5e-6)
    assert result.statistic == 0.0


def test_fisher_degenerate_and_empty_tables() -> None:
    no_events = fisher_exact_test(0, 10, 0, 20)
    assert no_events.statistic is None and no_events.p_value == 1.0
    assert fisher_exact_test(3, 3, 0, 4).statistic == math.inf
    empty = fisher_exact_test(0, 0, 2, 5)
    assert (empty.statistic, empty.p_value) == (None, None)
    with pytest.raises(ValueError, match="12"):
        fisher_exact_test(12, 10, 1, 5)


# --- trend_test ---------------------------------------------------------------------------------


def test_trend_matches_r_prop_trend_test() -> None:
    # R ?prop.trend.test: smokers <- c(83, 90, 129, 70); patients <- c(86, 93, 136, 82)
    # prop.trend.test(smokers, patients) -> X-squared = 8.2249, df = 1, p-value = 0.004132.
    result = trend_test([83, 90, 129, 70], [86, 93, 136, 82])
    assert result.statistic**2 == pytest.approx(8.2249, abs=FOUR_DP)
    assert result.p_value == pytest.approx(0.004132, abs=5e-7)
    assert result.statistic < 0 and result.direction == "decreasing" and result.groups == 4


def test_trend_slope_interval_matches_fagerland_cochran_armitage_ci() -> None:
    # Fagerland, Lydersen & Laake (2017) ch. 5, Indredavik et al. (2008), scores 1..5. R:
    # contingencytables::CochranArmitage_CI_rx2(indredavik_2008, 1:5) -> betahat = -0.0194 (95% CI -0.0395 to 0.0007);
    # CochranArmitage_MH_tests_rx2(indredavik_2008, 1:5) -> Mantel-Haenszel T = -1.790, P = 0.07351,
    # where T_MH = sqrt(N / (N - 1)) * Z_CA.
    events, totals = [8, 10, 11, 22, 6], [61, 58, 111, 124, 135]
    result = trend_test(events, totals)
    assert result.estimate == pytest.approx(-0.0194, abs=FOUR_DP)
    assert result.low == pytest.approx(-0.0395, abs=FOUR_DP)
    assert result.high == pytest.approx(0.0007, abs=FOUR_DP)
    big_n = sum(totals)
    mantel_haenszel = result.statistic * math.sqrt(big_n / (big_n - 1))
    assert mantel_haenszel == pytest.approx(-1.790, abs=5e-4)
    assert 2 * sps.norm.sf(abs(mantel_haenszel)) == pytest.approx(0.07351, abs=5e-6)


def test_trend_statistic_matches_fagerland_rx2_table() -> None:
    # R: contingencytables test-ch5.R, the_rx2_table(rbind(c(48, 1706), c(38, 1446), c(5, 78), c(1, 12)))
    # -> "Cochran-Armitage 0.817 0.41391" (scores 1..4).
    result = trend_test([48, 38, 5, 1], [1754, 1484, 83, 13])
    assert result.statistic == pytest.approx(0.817, abs=5e-4)
    assert result.p_value == pytest.approx(0.41391, abs=5e-6)
    assert result.direction == "increasing"


def test_trend_with_two_groups_is_the_wald_difference_and_pearson_test() -> None:
    # With scores 0 and 1 the slope is p2 - p1 and its interval the simple asymptotic (Wald) one:
    # Newcombe 1998 Stat Med 17:873, Table II, method 1, example (a) 56/70 - 48/80: 0.0575 to 0.3425.
    result = trend_test([48, 56], [80, 70], scores=[0, 1])
    assert result.estimate == pytest.approx(0.2, abs=1e-15)
    assert result.low == pytest.approx(0.0575, abs=FOUR_DP)
    assert result.high == pytest.approx(0.3425, abs=FOUR_DP)
    # and z^2 is Pearson's chi-squared without continuity correction (scipy reference software).
    pearson = sps.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert result.statistic**2 == pytest.approx(pearson.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(pearson.pvalue, rel=1e-9)


def test_trend_drops_empty_groups_keeping_scores() -> None:
    full = trend_test([83, 90, 129, 70], [86, 93, 136, 82], scores=[1, 2, 3, 4])
    gapped = trend_test([83, 90, 0, 129, 70], [86, 93, 0, 136, 82], scores=[1, 2, 2.5, 3, 4])
    assert gapped == full


def test_trend_without_a_test() -> None:
    one_group = trend_test([3, 0], [10, 0])
    assert (one_group.statistic, one_group.p_value, one_group.estimate, one_group.groups) == (None, None, None, 1)
    assert trend_test([], []).groups == 0
    same_score = trend_test([1, 5], [10, 10], scores=[2, 2])
    assert same_score.statistic is None and same_score.estimate is None
    no_events = trend_test([0, 0, 0], [10, 20, 30])
    assert (no_events.statistic, no_events.p_value, no_events.low, no_events.high) == (None, None, None, None)
    assert no_events.estimate == 0.0 and no_events.direction == "none"
    all_events = trend_test([10, 20], [10, 20])
    assert all_events.p_value is None and all_events.estimate == 0.0


@pytest.mark.parametrize(
    ("args", "bad"),
    [(([1, 2], [5]), "2 and 1"), (([1, -2], [5, 5]), "-2"), (([6, 2], [5, 5]), "6"),
     (([1, 2], [5, 5], [1]), "1 values"), (([1, 2], [5, 5], [1, float("nan")]), "scores")],
)
def test_trend_rejects_invalid_input(args: tuple, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        trend_test(*args)


@PROPERTY
@given(st.lists(events_and_total(max_n=200), min_size=2, max_size=6))
def test_trend_direction_agrees_with_the_statistic(groups: list[tuple[int, int]]) -> None:
    result = trend_test([k for k, _ in groups], [n for _, n in groups])
    if result.statistic is None:
        return
    assert 0.0 <= result.p_value <= 1.0
    assert np.sign(result.statistic) == np.sign(result.estimate)
    assert result.direction == {1: "increasing", -1: "decreasing", 0: "none"}[int(np.sign(result.estimate))]
    if result.low is not None:
        assert result.low <= result.estimate <= result.high


# --- median_ci ----------------------------------------------------------------------------------


def test_median_matches_statpsych_examples() -> None:
    # R: statpsych::ci.median(.05, c(25, 29, 35, 36, 36, 40, 41, 43, 44, 54)) -> Estimate 38, LL 29, UL 44.
    ten = median_ci([25, 29, 35, 36, 36, 40, 41, 43, 44, 54])
    assert (ten.estimate, ten.low, ten.high, ten.n) == (38.0, 29.0, 44.0, 10)
    # R: statpsych::ci.median(.05, y), documented y of 19 scores -> Estimate 20.7, LL 10.8, UL 30.9.
    y = [30.2, 20.4, 15.1, 10.2, 10.5, 60.8, 20.8, 25.0, 20.7, 30.9, 10.8, 5.1, 50.9, 40.0, 20.9, 10.8, 0, 20.5, 50.8]
    nineteen = median_ci(y)
    assert (nineteen.estimate, nineteen.low, nineteen.high) == pytest.approx((20.7, 10.8, 30.9), abs=1e-12)


def test_median_ranks_match_the_binomial_table() -> None:
    # Binomial order-statistic table for the median, "Table A.7: Confidence Intervals for the Population
    # Median" (textbook appendix reproduced at coursehero.com/file/5646626): n = 20 -> [x(6), x(15)] at
    # 95.9 %; n = 13 -> [x(3), x(11)] at 97.8 %; n = 6 -> [x(1), x(6)] at 96.9 %.
    for n, (low, high) in {20: (6, 15), 13: (3, 11), 6: (1, 6)}.items():
        result = median_ci(list(range(1, n + 1)))
        assert (result.low, result.high) == (low, high)
    assert 1 - 2 * sps.binom.cdf(5, 20, 0.5) == pytest.approx(0.959, abs=5e-4)


def test_median_interval_unreachable_or_empty() -> None:
    five = median_ci([5, 1, 4, 2, 3])  # the widest interval [x(1), x(5)] covers only 93.8 %
    assert (five.estimate, five.low, five.high, five.n) == (3.0, None, None, 5)
    assert median_ci([]) == rank_methods.Estimate(None, None, None, 0.95, 0)
    with pytest.raises(ValueError, match="1 missing"):
        median_ci([1.0, float("nan"), 3.0])


@PROPERTY
@given(st.lists(st.integers(0, 30), min_size=0, max_size=200), st.sampled_from([0.9, 0.95, 0.99]))
def test_median_interval_contains_the_median(values: list[int], confidence: float) -> None:
    result = median_ci(values, confidence)
    if result.low is None:
        return
    assert min(values) <= result.low <= result.estimate <= result.high <= max(values)


# --- mann_whitney -------------------------------------------------------------------------------

# R ?wilcox.test, Hollander & Wolfe (1973) p. 69: permeability constants at term (x) and at 12-26 weeks (y).
HW_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
HW_Y = [1.15, 0.88, 0.90, 0.74, 1.21]
# Cross Validated, "None of the values in my data are within the confidence interval" (R output quoted there).
TREATED = [323, 421, 578, 300, 256, 640, 912, 370]
UNTREATED = [2388, 210, 380, 345, 1130, 260, 665, 1157]


def test_mann_whitney_matches_r_hollander_wolfe() -> None:
    # R: wilcox.test(x, y, alternative = "g") -> W = 35, p-value = 0.1272 (exact); two-sided is twice that.
    result = mann_whitney(HW_X, HW_Y)
    assert result.statistic == 35.0 and result.method == "exact"
    assert result.p_value == pytest.approx(2 * 0.1272, abs=2 * 5e-5)
    assert result.rank_biserial == pytest.approx(2 * 35 / 50 - 1, abs=1e-15)


def test_mann_whitney_matches_r_cross_validated_example() -> None:
    # R: wilcox.test(treated, untreated, conf.int = TRUE) -> W = 25, p-value = 0.5054.
    result = mann_whitney(TREATED, UNTREATED)
    assert result.statistic == 25.0
    assert result.p_value == pytest.approx(0.5054, abs=FOUR_DP)


def test_mann_whitney_matches_r_with_ties() -> None:
    # endmemo.com/r/wilcoxon.php, R output: wilcox.test(x, y) -> W = 51.5, p-value = 0.5966 (ties: normal approx.)
    x = [1, 5, 9, 24, 56, 21, 3, 7, 21, 4]
    result = mann_whitney(x, [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5])
    assert result.statistic == 51.5 and result.method == "asymptotic"
    assert result.p_value == pytest.approx(0.5966, abs=FOUR_DP)
    # same page: y <- c(1233, 4356, 987, 39999, 1111, 200000) -> W = 0, p-value = 0.001364.
    result = mann_whitney(x, [1233, 4356, 987, 39999, 1111, 200000])
    assert result.statistic == 0.0 and result.rank_biserial == -1.0
    assert result.p_value == pytest.approx(0.001364, abs=5e-7)
    # R: wilcox.test(extra ~ group, data = sleep) -> W = 25.5, p-value = 0.06933.
    sleep1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    sleep2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    result = mann_whitney(sleep1, sleep2)
    assert result.statistic == 25.5
    assert result.p_value == pytest.approx(0.06933, abs=5e-6)


def test_mann_whitney_empty_and_invalid() -> None:
    empty = mann_whitney([], [1.0, 2.0])
    assert (empty.statistic, empty.p_value, empty.rank_biserial) == (None, None, None)
    with pytest.raises(ValueError, match="y has 1 missing"):
        mann_whitney([1.0], [float("inf"), 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        mann_whitney([[1.0, 2.0]], [1.0])


@PROPERTY
@given(st.lists(st.integers(0, 20), min_size=1, max_size=40), st.lists(st.integers(0, 20), min_size=1, max_size=40))
def test_mann_whitney_is_symmetric(x: list[int], y: list[int]) -> None:
    forward, backward = mann_whitney(x, y), mann_whitney(y, x)
    assert -1.0 <= forward.rank_biserial <= 1.0
    assert backward.rank_biserial == pytest.approx(-forward.rank_biserial, abs=1e-12)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=8, unique=True),
       st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=60, unique=True))
def test_mann_whitney_exact_p_equals_scipy_exact(x: list[float], y: list[float]) -> None:
    if set(x) & set(y):
        return  # ties between the groups: the normal approximation is used instead
    result = mann_whitney(x, y)
    reference = sps.mannwhitneyu(x, y, alternative="two-sided", method="exact")
    assert result.method == "exact" and result.statistic == reference.statistic
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-12, abs=1e-15)


def test_mann_whitney_small_group_against_a_huge_one_stays_exact_and_fast() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.5, 1.0, 8), rng.normal(0.0, 1.0, 2_000)
    reference = sps.mannwhitneyu(x, y, method="exact")  # still quick at this size
    assert mann_whitney(x, y).p_value == pytest.approx(reference.pvalue, rel=1e-12)
    big = mann_whitney(rng.normal(size=5), rng.normal(size=200_000))  # SciPy's exact takes minutes here
    assert big.method == "exact" and 0.0 < big.p_value <= 1.0


# --- hodges_lehmann_shift -----------------------------------------------------------------------


def test_hodges_lehmann_matches_r_cross_validated_example() -> None:
    # R: wilcox.test(treated, untreated, conf.int = TRUE) -> 95 percent confidence interval: -807 198;
    # difference in location -83.5 (exact: no ties, fewer than 50 per group).
    result = hodges_lehmann_shift(TREATED, UNTREATED)
    assert (result.estimate, result.low, result.high) == (-83.5, -807.0, 198.0)
    assert (result.n, result.method, result.confidence) == (16, "exact", 0.95)


def test_hodges_lehmann_matches_sas_npar1way_moses_limits_with_ties() -> None:
    # SAS/STAT PROC NPAR1WAY, Example "Hodges-Lehmann Estimation" (data set React, alpha = .02):
    # location shift 0.3500, asymptotic (Moses) 98% confidence limits 0.0000 and 0.8200.
    # SAS takes the larger class (Stim 1) as reference, i.e. shift = Stim 2 - Stim 1.
    stim1 = [1.94, 1.94, 2.92, 2.92, 2.92, 2.92, 3.27, 3.27, 3.27, 3.27, 3.70, 3.70, 3.74]
    stim2 = [3.27, 3.27, 3.27, 3.70, 3.70, 3.74]
    result = hodges_lehmann_shift(stim2, stim1, confidence=0.98)
    assert result.method == "normal approximation"
    assert result.estimate == pytest.approx(0.35, abs=FOUR_DP)
    assert result.low == pytest.approx(0.0, abs=FOUR_DP)
    assert result.high == pytest.approx(0.82, abs=FOUR_DP)


def _u_distribution_by_enumeration(n: int, m: int) -> np.ndarray:
    """P(U = u), u = 0..nm, by listing every arrangement of n x's among n + m ranks."""
    counts = np.zeros(n * m + 1)
    for x_ranks in itertools.combinations(range(n + m), n):
        counts[sum(r - i for i, r in enumerate(x_ranks))] += 1  # y's below each x
    return counts / comb(n + m, n)


def test_exact_u_distribution_matches_r_and_enumeration() -> None:
    # R: wilcox.test(x, y, alternative = "g") on Hollander & Wolfe's data -> W = 35, p-value = 0.1272.
    assert 1 - rank_methods._u_cdf(10, 5)[34] == pytest.approx(0.1272, abs=FOUR_DP)
    for n, m in [(1, 1), (2, 5), (3, 3), (4, 7), (6, 6), (7, 5)]:
        expected = np.cumsum(_u_distribution_by_enumeration(n, m))
        np.testing.assert_allclose(rank_methods._u_cdf(n, m), expected, rtol=1e-13, atol=0)


@functools.cache
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """Counts of U = 0..nm by the recursion on which of the two groups holds the largest value."""
    if n == 0 or m == 0:
        return (1,)
    with_x_on_top = (0,) * m + _u_counts(n - 1, m)  # the largest value is an x: m more pairs x > y
    with_y_on_top = _u_counts(n, m - 1) + (0,) * n
    return tuple(a + b for a, b in zip(with_x_on_top, with_y_on_top, strict=True))


def _r_qwilcox(p: float, n: int, m: int) -> int:
    """Port of R's qwilcox (src/nmath/wilcox.c, lower tail, p <= 0.5): float scan with 10*DBL_EPSILON fuzz."""
    counts, total = _u_counts(n, m), comb(n + m, n)
    target, cumulative = p - 10 * np.finfo(float).eps, 0.0
    for q, count in enumerate(counts):
        cumulative += count / total
        if cumulative >= target:
            return q
    raise AssertionError("unreachable")


@pytest.mark.parametrize(("n", "m"), [(2, 3), (3, 4), (5, 10), (8, 8), (10, 12), (15, 20), (20, 20), (12, 40)])
@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_exact_moses_rank_is_r_qwilcox(n: int, m: int, confidence: float) -> None:
    # R: wilcox.test(x, y, conf.int = TRUE) uses qu <- qwilcox(alpha/2, n.x, n.y), alpha <- 1 - conf.level.
    qu = _r_qwilcox((1 - confidence) / 2, n, m)
    rank, method = rank_methods._moses_rank(np.arange(n) + 0.5, np.arange(m, dtype=float), confidence)
    assert method == "exact"
    assert rank == (qu if qu >= 1 else None)


def test_binomial_rank_is_r_qbinom() -> None:
    # R: qbinom(p, n, 0.5) = smallest r with pbinom(r, n, 0.5) >= p.
    for n in range(1, 120):
        for tail in (0.005, 0.025, 0.05, 0.1):
            expected = next(r for r in range(n + 1) if sps.binom.cdf(r, n, 0.5) >= tail)
            assert rank_methods._binomial_rank(n, tail) == expected


def test_hodges_lehmann_hollander_wolfe_follows_r_algorithm() -> None:
    # No printed R output found for conf.int on this data; R's rule is
    # qu <- qwilcox(0.025, 10, 5), interval sort(outer(x, y, "-"))[c(qu, 50 - qu + 1)], estimate median.
    # By enumeration P(U <= 8) = 0.01998 < 0.025 <= P(U <= 9) = 0.02764, so qu = 9.
    cdf = np.cumsum(_u_distribution_by_enumeration(10, 5))
    assert cdf[8] < 0.025 <= cdf[9]
    differences = np.sort(np.subtract.outer(HW_X, HW_Y).ravel())
    result = hodges_lehmann_shift(HW_X, HW_Y)
    assert (result.estimate, result.low, result.high) == (np.median(differences), differences[8], differences[41])
    assert (result.low, result.high) == pytest.approx((-0.15, 0.76), abs=1e-12)


def test_hodges_lehmann_unreachable_degenerate_and_empty() -> None:
    tiny = hodges_lehmann_shift([1.0, 2.0], [4.0])  # 3 equally likely arrangements cannot give 95 %
    assert (tiny.estimate, tiny.low, tiny.high, tiny.method) == (-2.5, None, None, "exact")
    flat = hodges_lehmann_shift([3, 3, 3], [3, 3])
    assert (flat.estimate, flat.low, flat.high) == (0.0, None, None)
    empty = hodges_lehmann_shift([], [1.0])
    assert (empty.estimate, empty.low, empty.high, empty.n) == (None, None, None, 1)
    with pytest.raises(ValueError, match="x has 1 missing"):
        hodges_lehmann_shift([1.0, float("nan")], [1.0])
    with pytest.raises(ValueError, match="1.5"):
        hodges_lehmann_shift([1.0], [2.0], confidence=1.5)


values = st.one_of(
    st.lists(st.integers(0, 12).map(float), min_size=1, max_size=40),  # whole days, many ties
    st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(values, values, st.data())
def test_pairwise_selection_equals_brute_force(x: list[float], y: list[float], data: st.DataObject) -> None:
    xs, ys = np.sort(np.array(x)), np.sort(np.array(y))
    brute = np.sort(np.subtract.outer(xs, ys).ravel())
    ranks = data.draw(st.lists(st.integers(1, brute.size), min_size=1, max_size=5))
    found = rank_methods._pairwise_order_statistics(xs, ys, ranks, gather=1)  # force the selection path
    assert [found[r] for r in ranks] == [brute[r - 1] for r in ranks]


@PROPERTY
@given(values, values, st.sampled_from([0.9, 0.95]))
def test_hodges_lehmann_is_the_median_difference_and_brackets_it(x: list[float], y: list[float],
                                                                  confidence: float) -> None:
    result = hodges_lehmann_shift(x, y, confidence)
    assert result.estimate == np.median(np.subtract.outer(np.sort(x), np.sort(y)).ravel())
    if result.low is not None:
        assert result.low <= result.estimate <= result.high


@PROPERTY
@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.lists(st.integers(0, 30), min_size=1, max_size=60),
       st.integers(-20, 20))
def test_hodges_lehmann_moves_with_a_shift(x: list[int], y: list[int], shift: int) -> None:
    # Only the estimate is exactly equivariant: shifting x changes which x and y values tie, and with
    # it the tie-corrected variance behind the interval's rank.
    base, moved = hodges_lehmann_shift(x, y), hodges_lehmann_shift([v + shift for v in x], y)
    assert moved.estimate == base.estimate + shift
    rank, _ = rank_methods._moses_rank(np.sort(np.array(x, float) + shift), np.sort(np.array(y, float)), 0.95)
    differences = np.sort(np.subtract.outer(np.array(x) + shift, np.array(y)).ravel())
    if rank is not None:
        assert (moved.low, moved.high) == (differences[rank - 1], differences[differences.size - rank])


def test_selection_on_a_mid_sized_sample_equals_partition() -> None:
    rng = np.random.default_rng(11)
    xs, ys = np.sort(rng.normal(0.0, 1.0, 2_000) * 1e3), np.sort(rng.standard_t(3, 2_500))
    ranks = [1, 17, 2_500_000, 2_500_001, 4_999_999, 5_000_000]
    brute = np.partition(np.subtract.outer(xs, ys).ravel(), [r - 1 for r in ranks])
    found = rank_methods._pairwise_order_statistics(xs, ys, ranks, gather=10_000)
    assert [found[r] for r in ranks] == [brute[r - 1] for r in ranks]


def _order_statistics_by_convolution(x: np.ndarray, y: np.ndarray, scale: int, ranks: list[int]) -> list[float]:
    """Exact order statistics of x_i - y_j for values on a 1/scale grid, from the counts of each difference."""
    xi, yi = np.rint(x * scale).astype(np.int64), np.rint(y * scale).astype(np.int64)
    x_counts = np.bincount(xi - xi.min())
    y_counts = np.bincount(yi.max() - yi)  # reversed, so the convolution counts differences
    counts = np.rint(signal.fftconvolve(x_counts, y_counts)).astype(np.int64)
    cumulative = np.cumsum(counts)
    offset = xi.min() - yi.max()
    return [(offset + int(np.searchsorted(cumulative, r))) / scale for r in ranks]


@pytest.mark.parametrize("scale", [1, 8])
def test_hodges_lehmann_on_200000_values_per_group_is_exact(scale: int) -> None:
    rng = np.random.default_rng(scale)
    x = rng.integers(0, 30 * scale, 200_000) / scale  # downtime in days (scale 1) or eighths of a day
    y = rng.integers(0, 25 * scale, 200_000) / scale
    result = hodges_lehmann_shift(x, y)
    assert result.method == "normal approximation" and result.n == 400_000
    pairs = 200_000 * 200_000
    _, ties = np.unique(np.concatenate([x, y]), return_counts=True)
    rank = rank_methods._moses_rank(np.sort(x), np.sort(y), 0.95)[0]
    wanted = [pairs // 2, pairs // 2 + 1, rank, pairs - rank + 1]
    middle_low, middle_high, low, high = _order_statistics_by_convolution(x, y, scale, wanted)
    assert result.estimate == (middle_low + middle_high) / 2
    assert (result.low, result.high) == (low, high)
    # the rank itself: ceil(nm/2 - 1/2 - z sd(U)) with the tie-corrected variance of U
    big_n = 400_000
    variance = pairs / 12 * ((big_n + 1) - float((ties.astype(float) ** 3 - ties).sum()) / (big_n * (big_n - 1)))
    assert rank == math.ceil(pairs / 2 - 0.5 - sps.norm.isf(0.025) * math.sqrt(variance))


def test_hodges_lehmann_on_200000_continuous_values_per_group() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(1.0, 2.0, 200_000), rng.normal(0.0, 2.0, 200_000)
    result = hodges_lehmann_shift(x, y)
    assert result.low < result.estimate < result.high
    assert result.estimate == pytest.approx(1.0, abs=0.05)
    assert result.high - result.low == pytest.approx(2 * 1.96 * 2.0 * math.sqrt(math.pi / 3 / 100_000), rel=0.1)


@PROPERTY
@given(st.integers(1, 300), st.integers(1, 300), st.data())
def test_zero_group_score_interval_agrees_with_statsmodels_where_that_is_right(n1, n2, data) -> None:
    """statsmodels' score method for the ratio is right unless the other group had the event in every patient
    (see the R values above); elsewhere the two implementations agree."""
    k2 = data.draw(st.integers(1, n2 - 1)) if n2 > 1 else None
    if k2 is None:
        return
    result = risk_ratio_ci(0, n1, k2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        _, high = confint_proportions_2indep(0, n1, k2, n2, compare="ratio", method="score")
    assert result.high == pytest.approx(float(np.real(high)), rel=1e-6)


# --- Holm's step-down adjustment ------------------------------------------------------------------

# Every expected vector is R 4.x output, printed with the call next to it:
#   Rscript -e 'p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.5, NA), "holm")'
#   [1] 0.040 0.090 0.090 0.025 0.500    NA
#   Rscript -e 'p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm")'
#   [1] 0.05 0.08 0.09 0.09 0.09
#   Rscript -e 'p.adjust(c(0.2, 0.001, 0.04, 0.04, 0.3, 0.012), "holm")'
#   [1] 0.400 0.006 0.160 0.160 0.400 0.060
#   Rscript -e 'p.adjust(c(0.6, 0.9), "holm")'
#   [1] 1 1
#   Rscript -e 'print(p.adjust(c(0.0004, 0.0123, 0.0087, 0.0301, 0.4410, 0.0490, 0.2100, 0.0150, 0.7000),
#                               "holm"), digits=15)'
#   [1] 0.0036 0.0861 0.0696 0.1505 0.8820 0.1960 0.6300 0.0900 0.8820
HOLM_R = [
    ([0.01, 0.04, 0.03, 0.005, 0.5, None], [0.040, 0.090, 0.090, 0.025, 0.500, None]),
    ([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09]),
    ([0.2, 0.001, 0.04, 0.04, 0.3, 0.012], [0.400, 0.006, 0.160, 0.160, 0.400, 0.060]),
    ([0.6, 0.9], [1.0, 1.0]),
    ([0.0004, 0.0123, 0.0087, 0.0301, 0.4410, 0.0490, 0.2100, 0.0150, 0.7000],
     [0.0036, 0.0861, 0.0696, 0.1505, 0.8820, 0.1960, 0.6300, 0.0900, 0.8820]),
]


@pytest.mark.parametrize("raw, expected", HOLM_R)
def test_holm_matches_r_p_adjust(raw, expected) -> None:
    got = holm(raw)
    assert [g is None for g in got] == [e is None for e in expected]
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e is not None], abs=1e-12)
    assert family_size(raw) == sum(p is not None for p in raw)


def test_holm_edge_cases() -> None:
    assert holm([]) == [] and holm([None, None]) == [None, None]
    assert holm([0.03]) == [0.03]  # a family of one is not adjusted
    with pytest.raises(ValueError, match="p-values"):
        holm([0.2, float("nan")])
    with pytest.raises(ValueError, match="p-values"):
        holm([1.2])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=12))
def test_holm_properties(raw) -> None:
    """Never below the raw p, never above 1 or Bonferroni, and monotone in the raw order."""
    got = holm(raw)
    m = family_size(raw)
    pairs = [(p, a) for p, a in zip(raw, got) if p is not None]
    for p, a in pairs:
        assert p <= a <= min(1.0, m * p) + 1e-15
    for (p1, a1), (p2, a2) in itertools.product(pairs, pairs):
        if p1 < p2:
            assert a1 <= a2


# R: for (x in list(c(9,2), c(1,8), c(5,5), c(12,7.3), c(0,2.5), c(3,3.2), c(20,11.0)))
#        cat(x[1], x[2], format(poisson.test(x[1], x[2])$p.value, digits=12), "\n")
# 9 2 0.000237447328261 / 1 8 0.00673718493241 / 5 5 1 / 12 7.3 0.0916878646827 / 0 2.5 0.19090697971 /
# 3 3.2 1 / 20 11 0.014205325234
@pytest.mark.parametrize("observed, expected, p", [
    (9, 2.0, 0.000237447328261), (1, 8.0, 0.00673718493241), (5, 5.0, 1.0), (12, 7.3, 0.0916878646827),
    (0, 2.5, 0.19090697971), (3, 3.2, 1.0), (20, 11.0, 0.014205325234)])
def test_funnel_unit_p_value_matches_r_poisson_test(observed, expected, p) -> None:
    from analysis.stats.funnel import poisson_p_value

    assert poisson_p_value(observed, expected) == pytest.approx(p, rel=1e-9)
    assert poisson_p_value(3, 0.0) is None
