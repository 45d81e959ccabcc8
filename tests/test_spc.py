"""analysis.stats.pchart and analysis.stats.funnel against published reference values.

Sources
-------
* R package qcc (Scrucca), vignette "A quick tour of qcc" (docs/articles/qcc.html in
  github.com/luca-scr/qcc), p charts on the ``orangejuice`` / ``orangejuice2`` data (Montgomery,
  Introduction to Statistical Quality Control, orange-juice can example); data files
  data/orangejuice.txt and data/orangejuice2.txt of the same repository.
* NHSRplotthedots (NHS-R Community), R/ptd_calculate_point_type.R: ``ptd_seven_point_one_side_mean``
  and ``ptd_seven_point_trend`` - the Making Data Count shift and trend rules, 7 points each
  (issue #202: "uses a 7 point rule (both for trend and consistently above/below mean)").
* Spiegelhalter DJ (2005) Stat Med 24:1185-1202, appendix A.1.1, as coded in SAS/IML by
  R. Wicklin, "Funnel plots for proportions", The DO Loop, 23 Nov 2011:
  ``r = quantile("Binomial", p, theta, n); alpha = (cdf(r) - p)/(cdf(r) - cdf(r-1));
  limit = (r - alpha)/n``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.stats.funnel import expected_counts, funnel_limits, funnel_plot, ratio_funnel_limits
from analysis.stats.pchart import SHIFT_RUN, TREND_RUN, Run, p_chart, runs

# qcc data/orangejuice.txt, samples 1-30 (trial = TRUE), 50 cans each.
ORANGEJUICE_TRIAL = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                     8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
# qcc data/orangejuice2.txt, samples 31-54 (trial = TRUE), 50 cans each.
ORANGEJUICE2_TRIAL = [9, 6, 12, 5, 6, 4, 6, 3, 7, 6, 2, 4, 3, 6, 5, 4, 8, 5, 6, 7, 5, 6, 3, 5]

FAST = settings(max_examples=60, deadline=None)


# ------------------------------------------------------------------------------------------
# p-chart limits: qcc documented output
# ------------------------------------------------------------------------------------------


def test_p_chart_matches_qcc_orangejuice():
    chart = p_chart(ORANGEJUICE_TRIAL, [50] * 30)
    # R: with(orangejuice, qcc(D[trial], sizes = size[trial], type = "p"))
    #    Center of group statistics = 0.2313333 ; LCL 0.05242755 ; UCL 0.4102391
    assert chart.centre == pytest.approx(0.2313333, abs=5e-8)
    assert chart.centre == pytest.approx(347 / 1500, rel=1e-15)
    for point in chart.points:
        assert point.lower == pytest.approx(0.05242755, abs=5e-9)
        assert point.upper == pytest.approx(0.4102391, abs=5e-8)
    # qcc vignette: samples 15 and 23 are out of control (removed in its next step, "see
    # help(orangejuice) for the reasons").
    assert [p.label for p in chart.points if p.signal] == ["15", "23"]
    assert [p.rule for p in chart.points if p.signal] == ["outside limits", "outside limits"]


def test_p_chart_matches_qcc_orangejuice_revised_limits():
    keep = [d for i, d in enumerate(ORANGEJUICE_TRIAL, start=1) if i not in (15, 23)]
    chart = p_chart(keep, [50] * 28)
    # R: inc <- setdiff(which(orangejuice$trial), c(15,23))
    #    qcc(D[inc], sizes = size[inc], type = "p", ...)  -> Center 0.215 ; LCL 0.04070284 ; UCL 0.3892972
    assert chart.centre == pytest.approx(0.215, abs=5e-12)
    assert chart.points[0].lower == pytest.approx(0.04070284, abs=5e-9)
    assert chart.points[0].upper == pytest.approx(0.3892972, abs=5e-8)


def test_p_chart_lower_limit_clipped_at_zero_as_qcc_orangejuice2():
    chart = p_chart(ORANGEJUICE2_TRIAL, [50] * 24)
    # R: with(orangejuice2, qcc(D[trial], sizes = size[trial], type = "p", ...))
    #    Center 0.1108333 ; LCL 0 ; UCL 0.2440207
    assert chart.centre == pytest.approx(0.1108333, abs=5e-8)
    assert all(p.lower == 0.0 for p in chart.points)
    assert chart.points[0].upper == pytest.approx(0.2440207, abs=5e-8)


def test_p_chart_limits_vary_with_each_months_total():
    events, totals = [3, 10, 0], [40, 160, 25]
    chart = p_chart(events, totals, labels=["2024-01", "2024-02", "2024-03"])
    centre = 13 / 225  # Σevents / Σtotals
    assert chart.centre == pytest.approx(centre, rel=1e-15)
    for point, n in zip(chart.points, totals):
        half = 3 * math.sqrt(centre * (1 - centre) / n)
        assert point.upper == pytest.approx(centre + half, rel=1e-13)
        assert point.lower == pytest.approx(max(0.0, centre - half), abs=1e-15)
    assert [p.label for p in chart.points] == ["2024-01", "2024-02", "2024-03"]
    assert chart.points[2].rate == 0.0 and chart.points[2].lower == 0.0
    assert chart.points[2].signal is False  # a rate on a clipped limit is not outside it


def test_p_chart_sigma_changes_width():
    two = p_chart(ORANGEJUICE_TRIAL, [50] * 30, sigma=2.0)
    p = 347 / 1500
    assert two.points[0].upper == pytest.approx(p + 2 * math.sqrt(p * (1 - p) / 50), rel=1e-14)
    assert two.sigma == 2.0


def test_month_with_no_treatments_is_kept_without_a_rate():
    chart = p_chart([2, 0, 3], [20, 0, 30])
    gap = chart.points[1]
    assert (gap.rate, gap.lower, gap.upper, gap.signal, gap.rule) == (None, None, None, False, None)
    assert chart.centre == pytest.approx(5 / 50)


def test_empty_and_all_zero_inputs_give_reasons_not_errors():
    empty = p_chart([], [])
    assert empty.centre is None and empty.points == () and empty.reason
    zero = p_chart([0, 0], [0, 0])
    assert zero.centre is None and len(zero.points) == 2 and zero.reason
    assert all(p.rate is None for p in zero.points)


@pytest.mark.parametrize(
    ("events", "totals", "labels", "sigma", "message"),
    [
        ([3], [2], None, 3.0, "events\\[0\\] = 3 is more than totals\\[0\\] = 2"),
        ([-1], [2], None, 3.0, "events\\[0\\]"),
        ([1.5], [2], None, 3.0, "events\\[0\\]"),
        ([1], [float("nan")], None, 3.0, "totals\\[0\\]"),
        ([True], [2], None, 3.0, "events\\[0\\]"),
        ([1, 2], [3], None, 3.0, "same length"),
        ([1], [3], ["a", "b"], 3.0, "labels"),
        ([1], [3], None, 0.0, "sigma"),
        ([1], [3], None, float("inf"), "sigma"),
        ("12", [3], None, 3.0, "events"),
    ],
)
def test_p_chart_rejects_bad_input(events, totals, labels, sigma, message):
    with pytest.raises(ValueError, match=message):
        p_chart(events, totals, labels=labels, sigma=sigma)


# ------------------------------------------------------------------------------------------
# run rules: NHSRplotthedots (Making Data Count)
# ------------------------------------------------------------------------------------------


def _chart_from_rates(rates: list[float], n: int = 100) -> list:
    """p-chart points for the given rates, each a count out of ``n``."""
    return list(p_chart([round(r * n) for r in rates], [n] * len(rates)).points)


def test_run_lengths_are_the_making_data_count_seven():
    assert SHIFT_RUN == 7 and TREND_RUN == 7  # NHSRplotthedots ptd_seven_point_* (issue #202)


def test_seven_points_above_the_centre_is_a_shift_six_is_not():
    # 6 low points, 7 high points, 6 low points: centre is between; only the 7 are a shift.
    # Values alternate within each block so they are not a trend.
    low = [0.10, 0.11] * 3
    high = [0.20, 0.21, 0.20, 0.21, 0.20, 0.21, 0.20]
    points = _chart_from_rates(low + high + low)
    rules = [p.rule for p in points]
    assert rules[6:13] == ["shift"] * 7
    assert rules[:6] == [None] * 6 and rules[13:] == [None] * 6  # runs of 6 below: not a shift
    assert not any(p.signal for p in points)  # shift points are not outside the limits


def test_a_point_on_the_centre_line_ends_a_run():
    # 6 points above, one exactly on the centre line, 6 above, then 12 below; the centre is
    # exactly (12·3 + 2 + 12·1)/250 = 0.2 (counts out of 10). Only the 12 below form a shift.
    rates = [0.3] * 6 + [0.2] + [0.3] * 6 + [0.1] * 12
    chart = p_chart([round(r * 10) for r in rates], [10] * len(rates))
    assert chart.centre == 0.2 and chart.points[6].rate == 0.2
    assert [p.rule for p in chart.points[:13]] == [None] * 13
    assert [p.rule for p in chart.points[13:]] == ["shift"] * 12


def test_seven_rising_points_are_a_trend_six_are_not():
    rising7 = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]
    rising6 = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]
    pts7 = _chart_from_rates(rising7)
    pts6 = _chart_from_rates(rising6)
    assert [p.rule for p in pts7] == ["trend"] * 7
    assert [p.rule for p in pts6] == [None] * 6
    falling = _chart_from_rates(list(reversed(rising7)))
    assert [p.rule for p in falling] == ["trend"] * 7  # NHSRplotthedots issue #167: falling too


def test_a_repeated_value_ends_a_trend():
    pts = _chart_from_rates([0.10, 0.11, 0.12, 0.12, 0.13, 0.14, 0.15, 0.16])
    assert [p.rule for p in pts] == [None] * 8  # 3 rising then 5 rising: neither reaches 7


def test_months_without_treatments_are_skipped_by_run_rules():
    rates = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]
    events = [round(r * 1000) for r in rates]
    events.insert(3, 0)
    totals = [1000] * 7
    totals.insert(3, 0)
    points = p_chart(events, totals).points
    assert [p.rule for p in points] == ["trend", "trend", "trend", None, "trend", "trend", "trend", "trend"]


def test_runs_name_each_run_by_its_first_and_last_point():
    # 6 above, on the centre, 6 above, 12 below (as above): one shift, below, from point 14 to 25.
    rates = [0.3] * 6 + [0.2] + [0.3] * 6 + [0.1] * 12
    chart = p_chart([round(r * 10) for r in rates], [10] * len(rates))
    assert runs(chart) == (Run("shift", "14", "25", -1),)
    # rising 7 then falling 7 (sharing the turning point): two trends, each found whole.
    up = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16]
    chart = p_chart([round(r * 100) for r in up + up[-2::-1]], [100] * 13)
    assert [r for r in runs(chart) if r.rule == "trend"] == [Run("trend", "1", "7", 1), Run("trend", "7", "13", -1)]
    # the same run keeps its first label when a later month extends it
    longer = p_chart([round(r * 100) for r in up + up[-2::-1] + [0.09]], [100] * 14)
    assert [r for r in runs(longer) if r.rule == "trend"][-1] == Run("trend", "7", "14", -1)
    assert runs(p_chart([], [])) == ()


@given(st.lists(st.integers(0, 12), min_size=0, max_size=40))
@settings(max_examples=200, deadline=None)
def test_runs_hold_exactly_the_points_the_run_rules_mark(events):
    """Every point labelled shift or trend lies in a run of that kind; every run is 7 charted points or more,
    each marked by some rule."""
    chart = p_chart(events, [12] * len(events))
    found = runs(chart)
    labels = [p.label for p in chart.points]
    for rule in ("shift", "trend"):
        spans = [(labels.index(r.first), labels.index(r.last)) for r in found if r.rule == rule]
        for a, b in spans:
            inside = [chart.points[i] for i in range(a, b + 1) if chart.points[i].rate is not None]
            assert len(inside) >= 7 and all(q.rule is not None for q in inside)
        for i, point in enumerate(chart.points):
            if point.rule == rule:
                assert any(a <= i <= b for a, b in spans)


def test_outside_limits_takes_precedence_over_shift():
    rates = [0.05] * 10 + [0.06, 0.07, 0.06, 0.07, 0.06, 0.07, 0.30]
    points = _chart_from_rates(rates, n=200)
    assert points[-1].rule == "outside limits" and points[-1].signal
    assert {p.rule for p in points[:10]} == {"shift"}


@FAST
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=1, max_size=30),
       st.floats(0.5, 4.0))
def test_p_chart_limits_stay_within_zero_one(pairs, sigma):
    events = [min(k, n) for k, n in pairs]
    totals = [n for _, n in pairs]
    chart = p_chart(events, totals, sigma=sigma)
    for point in chart.points:
        if point.total == 0:
            assert point.rate is None and point.lower is None and point.upper is None
            continue
        assert chart.centre is not None
        assert 0.0 <= point.lower <= chart.centre <= point.upper <= 1.0
        assert point.signal == (point.rate > point.upper or point.rate < point.lower)
        assert (point.rule == "outside limits") == point.signal


# ------------------------------------------------------------------------------------------
# funnel limits: Spiegelhalter (2005) appendix A.1.1
# ------------------------------------------------------------------------------------------


def _binomial_cdf(k: int, n: int, theta: Fraction) -> Fraction:
    return sum((Fraction(math.comb(n, j)) * theta**j * (1 - theta) ** (n - j) for j in range(k + 1)),
               Fraction(0))


def _spiegelhalter_binomial(p: Fraction, n: int, theta: Fraction) -> float:
    """Appendix A.1.1 in exact rational arithmetic, independent of scipy."""
    r = next(k for k in range(n + 1) if _binomial_cdf(k, n, theta) >= p)
    f_r = _binomial_cdf(r, n, theta)
    f_r1 = _binomial_cdf(r - 1, n, theta) if r > 0 else Fraction(0)
    alpha = (f_r - p) / (f_r - f_r1)
    return float((r - alpha) / n)


def test_binomial_limit_worked_by_hand_n10_half():
    # n = 10, θ = 1/2: P(R<=7) = 968/1024, P(R<=8) = 1013/1024 -> r = 8 at p = 0.975,
    # α = (1013/1024 - 0.975)/(45/1024) = 14.6/45, upper = (8 - 14.6/45)/10.
    # P(R<=1) = 11/1024, P(R<=2) = 56/1024 -> r = 2 at p = 0.025,
    # α = (56/1024 - 0.025)/(45/1024) = 30.4/45, lower = (2 - 30.4/45)/10.
    curve = funnel_limits(0.5, [10], confidences=(0.95,)).curves[0]
    assert curve.upper[0] == pytest.approx((8 - 14.6 / 45) / 10, rel=1e-12)
    assert curve.lower[0] == pytest.approx((2 - 30.4 / 45) / 10, rel=1e-12)
    # The interpolation is not symmetric about θ: it sits 1/(2n) below the normal-style
    # midpoint on both sides (here 1 - upper - lower = 1/n).
    assert 1 - curve.upper[0] - curve.lower[0] == pytest.approx(0.1, abs=1e-12)


@pytest.mark.parametrize("n", [1, 7, 20, 60])
@pytest.mark.parametrize("theta", [Fraction(1, 20), Fraction(1, 10), Fraction(3, 10), Fraction(1, 2)])
@pytest.mark.parametrize("confidence", [Fraction(95, 100), Fraction(998, 1000)])
def test_binomial_limits_match_exact_rational_appendix_formula(n, theta, confidence):
    tail = (1 - confidence) / 2
    curve = funnel_limits(float(theta), [n], confidences=(float(confidence),)).curves[0]
    lower = min(max(_spiegelhalter_binomial(tail, n, theta), 0.0), float(theta))
    upper = max(min(_spiegelhalter_binomial(1 - tail, n, theta), 1.0), float(theta))
    assert curve.lower[0] == pytest.approx(lower, rel=1e-12, abs=1e-15)
    assert curve.upper[0] == pytest.approx(upper, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("theta", [0.02, 0.1, 0.3, 0.5])
def test_binomial_limits_agree_with_normal_approximation_for_large_n(theta):
    # Spiegelhalter (2005) §2: for large n the limits are θ ± z·sqrt(θ(1-θ)/n). The exact
    # interpolated limits differ by O(1/n) (the 1/(2n) offset plus skewness).
    n = 1_000_000
    limits = funnel_limits(theta, [n])
    for curve in limits.curves:
        z = stats.norm.ppf(0.5 + curve.confidence / 2)
        half = z * math.sqrt(theta * (1 - theta) / n)
        assert curve.lower[0] == pytest.approx(theta - half, abs=3.0 / n)
        assert curve.upper[0] == pytest.approx(theta + half, abs=3.0 / n)
        assert abs(curve.upper[0] - (theta + half)) < 0.01 * half


def test_poisson_ratio_limit_worked_by_hand():
    # E = 2: P(O<=4) = 7e^-2, P(O<=5) = (7 + 32/120)e^-2 -> r = 5 at p = 0.975,
    # α = (P(O<=5) - 0.975)/(P(O<=5) - P(O<=4)); upper ratio = (5 - α)/2.
    f4, f5 = 7 * math.exp(-2), (7 + 32 / 120) * math.exp(-2)
    expected_upper = (5 - (f5 - 0.975) / (f5 - f4)) / 2
    # p = 0.025: P(O<=0) = e^-2 = 0.135 >= 0.025 -> r = 0, α = (e^-2 - 0.025)/e^-2, limit < 0 -> 0.
    curve = ratio_funnel_limits([2.0], (0.95,)).curves[0]
    assert curve.upper[0] == pytest.approx(expected_upper, rel=1e-12)
    assert curve.lower[0] == 0.0


def test_empty_sizes_give_a_reason():
    assert funnel_limits(0.1, []).reason and funnel_limits(0.1, []).curves[0].size == ()
    assert ratio_funnel_limits([]).reason and funnel_limits(0.1, [5]).reason is None


def test_limits_at_zero_size_are_none():
    curve = funnel_limits(0.2, [0, 10]).curves[0]
    assert curve.lower[0] is None and curve.upper[0] is None and curve.lower[1] is not None
    ratio = ratio_funnel_limits([0.0, 3.0]).curves[1]
    assert ratio.lower[0] is None and ratio.upper[1] is not None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: funnel_limits(1.2, [10]), "target"),
        (lambda: funnel_limits(0.2, [10.5]), "totals\\[0\\]"),
        (lambda: funnel_limits(0.2, [-3]), "totals\\[0\\]"),
        (lambda: funnel_limits(0.2, [10], confidences=(1.0,)), "confidence"),
        (lambda: funnel_limits(0.2, [10], confidences=()), "confidences"),
        (lambda: ratio_funnel_limits([-1.0]), "expected\\[0\\]"),
        (lambda: ratio_funnel_limits([float("nan")]), "expected\\[0\\]"),
    ],
)
def test_funnel_limits_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@FAST
@given(st.floats(0.0, 1.0), st.integers(1, 3000))
def test_binomial_limits_contain_the_target(theta, n):
    for curve in funnel_limits(theta, [n]).curves:
        assert 0.0 <= curve.lower[0] <= theta <= curve.upper[0] <= 1.0
    c95, c998 = funnel_limits(theta, [n]).curves
    assert c998.lower[0] <= c95.lower[0] and c95.upper[0] <= c998.upper[0]


@FAST
@given(st.floats(0.001, 0.999), st.integers(1, 3000))
def test_binomial_limits_narrow_as_n_grows(theta, n):
    # Discreteness makes single steps of n saw-tooth slightly; doubling n always narrows once
    # n·θ(1−θ) >= 1 (checked exhaustively for θ on a 300-point grid and n <= 1500).
    assume(n * theta * (1 - theta) >= 1)
    small, large = (funnel_limits(theta, [n, 2 * n]).curves[i] for i in (0, 1))
    for curve in (small, large):
        assert curve.upper[1] - curve.lower[1] <= curve.upper[0] - curve.lower[0] + 1e-12


@FAST
@given(st.floats(0.5, 5000.0))
def test_ratio_limits_contain_one_and_narrow(expected):
    limits = ratio_funnel_limits([expected, 2 * expected])
    for curve in limits.curves:
        assert 0.0 <= curve.lower[0] <= 1.0 <= curve.upper[0]
        assert curve.upper[1] - curve.lower[1] <= curve.upper[0] - curve.lower[0] + 1e-12


@FAST
@given(st.floats(0.01, 0.99), st.integers(1, 400), st.data())
def test_binomial_outside_calls_are_exact_tail_statements(theta, n, data):
    # What the interpolated limits mean for a count y (consequence of appendix A.1.1):
    #   below  <=>  P(R <= y) < tail            (an exact one-sided test)
    #   above  <=>  P(R <= y) > 1 - tail and y/n > θ, i.e. P(R > y) < tail
    y = data.draw(st.integers(0, n))
    curve = funnel_limits(theta, [n], confidences=(0.95,)).curves[0]
    cdf = stats.binom.cdf(y, n, theta)
    assume(abs(cdf - 0.025) > 1e-9 and abs(cdf - 0.975) > 1e-9)
    assert (y / n < curve.lower[0]) == (cdf < 0.025 and y / n < theta)
    assert (y / n > curve.upper[0]) == (cdf > 0.975 and y / n > theta)


# ------------------------------------------------------------------------------------------
# indirect standardisation and the funnel plot
# ------------------------------------------------------------------------------------------


def test_expected_counts_by_hand():
    frame = pd.DataFrame({
        "clinic": ["North", "North", "North", "North", "South", "South", "South", "South", "South"],
        "modality": ["ablative", "ablative", "non-ablative", "non-ablative",
                     "ablative", "ablative", "ablative", "non-ablative", "non-ablative"],
        "fitzpatrick_type": [5, 2, 2, 2, 5, 5, 2, 2, 5],
        "hyperpigmentation": [True, False, False, False, True, False, True, False, True],
    })
    out = expected_counts(frame, "clinic", ["modality", "fitzpatrick_type"], "hyperpigmentation")
    # Stratum rates over the whole frame: ablative V 2/3, ablative II 1/2, non-ablative II 0/3,
    # non-ablative V 1/1. North: 2/3 + 1/2 + 0 + 0 = 7/6. South: 2·(2/3) + 1/2 + 0 + 1 = 17/6.
    assert out["name"].tolist() == ["North", "South"]
    assert out["treatments"].tolist() == [4, 5]
    assert out["observed"].tolist() == [1, 3]
    assert out["expected"].tolist() == pytest.approx([7 / 6, 17 / 6], rel=1e-14)
    assert list(out.columns) == ["name", "treatments", "observed", "expected"]


def test_expected_counts_without_strata_is_the_crude_overall_rate():
    frame = pd.DataFrame({"u": list("AAB"), "e": [1, 0, 1]})
    out = expected_counts(frame, "u", [], "e")
    assert out["expected"].tolist() == pytest.approx([2 * 2 / 3, 2 / 3])


def test_expected_counts_missing_labels_form_their_own_level():
    frame = pd.DataFrame({"u": ["A", None, "A"], "area": ["face", "face", None], "e": [True, False, False]})
    out = expected_counts(frame, "u", ["area"], "e")
    assert out["name"].tolist() == ["(not recorded)", "A"]
    assert out["expected"].tolist() == pytest.approx([0.5, 0.5 + 0.0])


def test_expected_counts_empty_and_errors():
    empty = expected_counts(pd.DataFrame(columns=["u", "s", "e"]), "u", ["s"], "e")
    assert empty.empty and list(empty.columns) == ["name", "treatments", "observed", "expected"]
    with pytest.raises(ValueError, match="'clinic'"):
        expected_counts(pd.DataFrame({"u": [1], "e": [True]}), "clinic", [], "e")
    with pytest.raises(ValueError, match="missing value"):
        expected_counts(pd.DataFrame({"u": ["A"], "e": [None]}), "u", [], "e")
    with pytest.raises(ValueError, match="True/False or 1/0"):
        expected_counts(pd.DataFrame({"u": ["A"], "e": [2]}), "u", [], "e")


@FAST
@given(st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(["abl", "non"]),
                          st.integers(1, 6), st.booleans()), min_size=1, max_size=60))
def test_expected_counts_total_equals_observed_total(rows):
    frame = pd.DataFrame(rows, columns=["clinic", "modality", "fitz", "pih"])
    out = expected_counts(frame, "clinic", ["modality", "fitz"], "pih")
    assert out["expected"].sum() == pytest.approx(out["observed"].sum(), abs=1e-9)
    assert out["treatments"].sum() == len(frame)


def test_funnel_plot_classifies_units():
    groups = pd.DataFrame({"name": ["A", "B", "C", "D"], "observed": [9, 1, 5, 0],
                           "expected": [2.0, 8.0, 5.0, 0.0], "treatments": [40, 160, 100, 30]})
    funnel = funnel_plot(groups)
    units = {u.name: u for u in funnel.units}
    assert funnel.target == 1.0
    assert units["A"].outside == "above 99.8 %" and units["A"].ratio == pytest.approx(4.5)
    assert units["B"].outside == "below 95 %"
    assert units["C"].outside is None and units["C"].ratio == pytest.approx(1.0)
    assert units["C"].rate == pytest.approx(0.05)
    assert units["D"].ratio is None and units["D"].low95 is None and units["D"].reason
    assert funnel.overall_rate == pytest.approx(15 / 330)
    # Unit limits equal the ratio funnel limits at the unit's E.
    c95, c998 = ratio_funnel_limits([8.0]).curves
    assert (units["B"].low95, units["B"].high95) == (c95.lower[0], c95.upper[0])
    assert (units["B"].low998, units["B"].high998) == (c998.lower[0], c998.upper[0])
    assert [c.confidence for c in funnel.curves] == [0.95, 0.998]
    assert len(funnel.curves[0].size) == 100
    assert funnel.curves[0].size[0] == pytest.approx(1.0) and funnel.curves[0].size[-1] == pytest.approx(8.8)


def test_funnel_plot_units_without_treatments_or_expected_are_reported_not_errors():
    groups = pd.DataFrame({"name": ["A", "B"], "observed": [0, 0], "expected": [0.0, 0.0],
                           "treatments": [0, 12]})
    funnel = funnel_plot(groups)
    assert [u.reason is not None for u in funnel.units] == [True, True]
    assert funnel.units[1].rate == 0.0 and funnel.units[1].ratio is None
    assert funnel.curves == () and funnel.reason
    empty = funnel_plot(pd.DataFrame(columns=["name", "observed", "expected", "treatments"]))
    assert empty.units == () and empty.reason and empty.overall_rate is None


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (pd.DataFrame({"name": ["A"], "observed": [1], "expected": [1.0]}), "treatments"),
        (pd.DataFrame({"name": ["A", "A"], "observed": [1, 1], "expected": [1.0, 1.0],
                       "treatments": [5, 5]}), "duplicate"),
        (pd.DataFrame({"name": ["A"], "observed": [6], "expected": [1.0], "treatments": [5]}),
         "observed = 6 is more than treatments = 5"),
        (pd.DataFrame({"name": ["A"], "observed": [1], "expected": [-1.0], "treatments": [5]}), "expected"),
        (pd.DataFrame({"name": ["A"], "observed": [1.5], "expected": [1.0], "treatments": [5]}), "observed"),
    ],
)
def test_funnel_plot_rejects_bad_input(groups, message):
    with pytest.raises(ValueError, match=message):
        funnel_plot(groups)


@FAST
@given(st.floats(0.05, 200.0), st.data())
def test_ratio_outside_calls_are_exact_poisson_tail_statements(expected, data):
    observed = data.draw(st.integers(0, int(4 * expected + 10)))
    groups = pd.DataFrame({"name": ["u"], "observed": [observed], "expected": [expected],
                           "treatments": [observed + 1000]})
    unit = funnel_plot(groups).units[0]
    cdf = stats.poisson.cdf(observed, expected)
    for tail in (0.001, 0.025):
        assume(abs(cdf - tail) > 1e-9 and abs(cdf - (1 - tail)) > 1e-9)
    above = cdf > 0.999 and observed > expected
    above95 = cdf > 0.975 and observed > expected
    below = cdf < 0.001
    below95 = cdf < 0.025
    want = ("above 99.8 %" if above else "above 95 %" if above95 else
            "below 99.8 %" if below else "below 95 %" if below95 else None)
    assert unit.outside == want


def test_funnel_pipeline_on_app_shaped_frame():
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({
        "clinic": rng.choice(["Harbourside", "Northgate", "Eastfield"], n),
        "modality": pd.Categorical(rng.choice(["ablative", "non-ablative"], n)),
        "fitzpatrick_type": rng.integers(1, 7, n),
    })
    risk = np.where(frame["modality"] == "ablative", 0.05, 0.02) * (1 + frame["fitzpatrick_type"] / 2)
    frame["hyperpigmentation"] = rng.random(n) < risk
    groups = expected_counts(frame, "clinic", ["modality", "fitzpatrick_type"], "hyperpigmentation")
    funnel = funnel_plot(groups)
    assert sum(u.observed for u in funnel.units) == int(frame["hyperpigmentation"].sum())
    assert sum(u.expected for u in funnel.units) == pytest.approx(frame["hyperpigmentation"].sum())
    assert all(u.low998 <= u.low95 <= 1.0 <= u.high95 <= u.high998 for u in funnel.units)


# ------------------------------------------------------------------------------------------
# expected_counts without a Python step per treatment: the same table as the definition
# ------------------------------------------------------------------------------------------


def expected_by_definition(frame: pd.DataFrame, unit: str, strata: list[str], event: str) -> pd.DataFrame:
    """Indirect standardisation one treatment at a time (the documented definition, plain Python)."""
    def label(value):
        return "(not recorded)" if pd.isna(value) else value

    units, keys, events = [], [], []
    for _, row in frame.iterrows():
        units.append(label(row[unit]))
        keys.append(tuple(str(label(row[c])) for c in strata))
        events.append(int(row[event]))
    totals: dict = {}
    for key, e in zip(keys, events):
        k, n = totals.get(key, (0, 0))
        totals[key] = (k + e, n + 1)
    table: dict = {}
    for name, key, e in zip(units, keys, events):
        k, n = totals[key]
        rows, observed, expected = table.get(name, (0, 0, 0.0))
        table[name] = (rows + 1, observed + e, expected + k / n)
    names = sorted(table, key=str)
    return pd.DataFrame({"name": names, "treatments": [table[u][0] for u in names],
                         "observed": [table[u][1] for u in names], "expected": [table[u][2] for u in names]})


UNIT_POOLS = [
    np.array(["Harbourside", "Northgate", None, "Eastfield"], dtype=object),
    np.array(["A", "(not recorded)", None], dtype=object),  # a recorded "(not recorded)" and missing are one unit
    np.array([3, 12, 7], dtype=object),
]


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(1, 150), st.sampled_from(range(len(UNIT_POOLS))),
       st.sampled_from(["bool", "int", "object", "boolean"]), st.booleans(),
       st.sampled_from([[], ["modality"], ["modality", "fitzpatrick_type"], ["area", "level"]]))
def test_expected_counts_match_the_definition(seed, n, pool, event_dtype, categorical_unit, strata):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "unit": rng.choice(UNIT_POOLS[pool], n),
        "modality": pd.Categorical(rng.choice(["ablative", "non-ablative"], n)),
        "fitzpatrick_type": rng.integers(1, 7, n).astype("int8"),
        "area": rng.choice(np.array(["face", None, "neck"], dtype=object), n),
        "level": rng.choice(np.array([2, "2", 3.5, None], dtype=object), n),  # 2 and "2" are one stratum
        "event": rng.random(n) < rng.random(),
    })
    frame["event"] = frame["event"].astype({"bool": bool, "int": "int64", "object": object,
                                            "boolean": "boolean"}[event_dtype])
    if categorical_unit:
        frame["unit"] = pd.Categorical(frame["unit"])
    out = expected_counts(frame, "unit", strata, "event")
    want = expected_by_definition(frame, "unit", strata, "event")
    assert out["name"].tolist() == want["name"].tolist()
    assert [type(v) for v in out["name"]] == [type(v) for v in want["name"]]
    assert out["treatments"].tolist() == want["treatments"].tolist()
    assert out["observed"].tolist() == want["observed"].tolist()
    assert out["expected"].tolist() == pytest.approx(want["expected"].tolist(), rel=1e-12, abs=1e-12)
    assert list(out.dtypes.astype(str))[1:] == ["int64", "int64", "float64"]


def test_expected_counts_keep_whole_number_unit_names_and_order_them_as_text():
    frame = pd.DataFrame({"practitioner": [12, 3, 12, 7], "e": [True, False, False, True]})
    out = expected_counts(frame, "practitioner", [], "e")
    assert out["name"].tolist() == [12, 3, 7] and out["name"].dtype == "int64"
    assert out["treatments"].tolist() == [2, 1, 1]


@pytest.mark.parametrize(("values", "message"), [
    ([True, None, False], "missing value (row 1)"),
    ([1.0, 0.0, np.nan], "missing value (row 2)"),
    ([0, 2, 1], "True/False or 1/0, got 2 (row 1)"),
    ([True, "yes", False], "True/False or 1/0, got 'yes' (row 1)"),
    ([0.0, 0.5, 1.0], "True/False or 1/0, got 0.5 (row 1)"),
])
def test_expected_counts_name_the_first_bad_event_value(values, message):
    frame = pd.DataFrame({"u": ["A", "B", "A"], "e": values})
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expected_counts(frame, "u", [], "e")


def test_months_with_no_event_where_none_is_typical_make_no_shift():
    # 24 months of 12 treatments at an average of 7/288 = 2.4 %: a month of 12 has no event 74 % of the time
    # (0.976^12), so ten such months in a row are ordinary. Read by rate against the average they were "below
    # average" ten times running, a shift; read by count against the median count of Binomial(12, 0.024), which
    # is 0, they sit on the line and no run forms (the module's *Method*).
    from scipy.stats import binom

    events = [0] * 10 + [1, 0] * 7
    chart = p_chart(events, [12] * len(events))
    assert chart.centre == pytest.approx(7 / 288)
    assert binom.ppf(0.5, 12, chart.centre) == 0
    assert [p.rule for p in chart.points] == [None] * len(events)
    assert runs(chart) == ()


def test_a_real_shift_is_still_found_with_counts():
    # 10 months of 5 in 50, then 8 months of 15 in 50: the average is 170/900 = 18.9 %, the median count of a
    # month of 50 at that rate 9 (binom.ppf(0.5, 50, 0.189)); 5 < 9 ten times, then 15 > 9 eight times
    chart = p_chart([5] * 10 + [15] * 8, [50] * 18)
    assert runs(chart) == (Run("shift", "1", "10", -1), Run("shift", "11", "18", 1))


def test_exact_reading_keeps_a_month_with_few_expected_cases_from_crying_wolf():
    # 48 months of 6 treatments at 10 %: the upper limit is 0.1 + 3·sqrt(0.09/6) = 46.7 %, so 3 events (50 %) cross
    # it, which happens by chance in binom.sf(2, 6, 0.1) = 1.59 % of months, not 0.135 %. (scipy; R 4.2.2:
    # pbinom(2, 6, 0.1, lower.tail = FALSE) [1] 0.01585)
    from scipy.stats import binom

    events = [3] + [0, 1, 0, 1, 0, 1] * 7 + [0, 1, 0, 1, 0]
    assert binom.sf(2, 6, 0.1) == pytest.approx(0.01585)
    plain = p_chart(events, [6] * len(events))
    exact = p_chart(events, [6] * len(events), exact=True)
    assert plain.centre == exact.centre and plain.points[0].upper == exact.points[0].upper  # the same limits drawn
    assert plain.points[0].signal and not exact.points[0].signal
    # a month as unlikely as the limits promise is still a signal: 14 of 40 at an average near 8 %
    spike = p_chart([14] + [3] * 23, [40] * 24, exact=True)
    assert binom.sf(13, 40, spike.centre) < 0.00135
    assert spike.points[0].signal and spike.points[0].rule == "outside limits"


def test_exact_reading_agrees_with_the_limits_when_many_cases_are_expected():
    # Montgomery's orange-juice samples (n = 50, about 11.6 expected): the same two months out of control
    d = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    assert [p.label for p in p_chart(d, [50] * 30, exact=True).points if p.signal] == ["15", "23"]
