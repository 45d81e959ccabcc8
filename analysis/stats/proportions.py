"""Statistics for comparing ablative and non-ablative laser treatments.

Pure functions (no Streamlit, no I/O). Each returns a small frozen dataclass:

* :func:`wilson_ci` -- one proportion with the Wilson score interval.
* :func:`newcombe_diff_ci` -- difference of two proportions, Newcombe's hybrid score interval.
* :func:`risk_ratio_ci` -- risk ratio with the Katz log interval.
* :func:`fisher_exact_test` -- two-sided Fisher exact test with the conditional odds ratio.
* :func:`trend_test` -- Cochran-Armitage test for a linear trend in proportions, with the slope and its interval.
* :func:`median_ci` -- sample median with the distribution-free order-statistic interval.
* :func:`mann_whitney` -- Mann-Whitney U test with the rank-biserial correlation.
* :func:`hodges_lehmann_shift` -- Hodges-Lehmann location shift with the Moses interval; handles
  200,000 values per group without forming all pairwise differences.

Conventions shared by all functions:

* an empty group (``n = 0``) gives ``estimate``, ``low`` and ``high`` (or ``statistic`` and ``p_value``)
  of ``None``, not an error;
* invalid input (negative counts, events above the total, non-finite values, ``confidence`` outside
  (0, 1)) raises :class:`ValueError` naming the bad value;
* ``confidence`` is the two-sided confidence level, 0.95 by default.

Every method is checked against published reference values in ``tests/test_stats.py``.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.stats.contingency import odds_ratio
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

Direction = Literal["increasing", "decreasing", "none"]

# --- result objects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proportion:
    """A proportion ``events / treatments`` with its confidence interval."""

    events: int
    treatments: int
    estimate: float | None
    low: float | None
    high: float | None
    confidence: float


@dataclass(frozen=True)
class Difference:
    """A difference of two proportions, ``p1 - p2``, with its confidence interval."""

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float


@dataclass(frozen=True)
class Ratio:
    """A risk ratio ``p1 / p2`` with its confidence interval.

    ``corrected`` is True when half an event was added to each group because one group had none;
    ``note`` then (or when the ratio is undefined) says why.
    """

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    corrected: bool = False
    note: str | None = None


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: its name, statistic and two-sided p-value.

    ``rank_biserial`` is filled by :func:`mann_whitney`; ``method`` says how the p-value was computed.
    """

    __test__ = False  # not a pytest test class despite the name

    test: str
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None = None
    method: str | None = None


@dataclass(frozen=True)
class TrendTest:
    """Cochran-Armitage trend test and the least-squares slope of the proportion per unit score.

    ``direction`` is the sign of the observed slope only; read ``p_value`` for whether it is real.
    ``groups`` is the number of non-empty groups used.
    """

    statistic: float | None
    p_value: float | None
    estimate: float | None
    low: float | None
    high: float | None
    direction: Direction
    confidence: float
    groups: int


@dataclass(frozen=True)
class Estimate:
    """A location estimate (median or shift) with its confidence interval.

    ``n`` is the number of values used (both groups together for a two-sample shift);
    ``method`` says how the interval was found.
    """

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    n: int
    method: str | None = None


# --- input checks ------------------------------------------------------------------------------


def _check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float, or raise ValueError unless 0 < confidence < 1."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}") from None
    if not 0.0 < value < 1.0:  # also rejects NaN
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


def _count(value: object, name: str) -> int:
    """Return a non-negative whole number, or raise ValueError naming ``value``."""
    try:
        number = operator.index(value)  # int, numpy integer
    except TypeError:
        if not isinstance(value, (float, np.floating)) or not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
        number = int(value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def _events(k: object, n: object, suffix: str = "") -> tuple[int, int]:
    """Validate one group's event count ``k`` and total ``n``."""
    events, total = _count(k, f"k{suffix}"), _count(n, f"n{suffix}")
    if events > total:
        raise ValueError(f"k{suffix} ({events}) must not exceed n{suffix} ({total})")
    return events, total


def _sample(values: object, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array, or raise ValueError if it is not numbers or not finite."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(f"{name} has {bad} missing or infinite value(s); drop them first")
    return array


def _z(confidence: float) -> float:
    """The two-sided normal critical value, e.g. 1.959964 for 0.95."""
    return float(sps.norm.isf((1.0 - confidence) / 2.0))


# --- proportions ---------------------------------------------------------------------------------


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> Proportion:
    """Proportion ``k / n`` with the Wilson score interval (Newcombe 1998a, method 3).

    Parameters
    ----------
    k, n : int
        Number of events and number of treatments (``0 <= k <= n``).
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    Proportion
        ``estimate``, ``low`` and ``high`` are None when ``n == 0``. The limits are exactly 0 for
        ``k == 0`` and exactly 1 for ``k == n``.

    Examples
    --------
    Newcombe (1998) Stat Med 17:857, Table I, 81/263:

    >>> r = wilson_ci(81, 263)
    >>> round(r.low, 4), round(r.high, 4)
    (0.2553, 0.3662)
    """
    k, n = _events(k, n)
    confidence = _check_confidence(confidence)
    if n == 0:
        return Proportion(k, n, None, None, None, confidence)
    low, high = proportion_confint(k, n, alpha=1.0 - confidence, method="wilson")
    low = 0.0 if k == 0 else max(0.0, float(low))
    high = 1.0 if k == n else min(1.0, float(high))
    return Proportion(k, n, k / n, low, high, confidence)


def newcombe_diff_ci(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Difference:
    """Difference ``k1/n1 - k2/n2`` with Newcombe's hybrid score interval (Newcombe 1998b, method 10).

    Each group's Wilson limits are combined by "square and add"; the interval lies in [-1, 1].

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Events and treatments in group 1 and group 2.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    Difference
        All None when either group is empty.

    Examples
    --------
    Newcombe (1998) Stat Med 17:873, Table II, example (a):

    >>> d = newcombe_diff_ci(56, 70, 48, 80)
    >>> round(d.estimate, 4), round(d.low, 4), round(d.high, 4)
    (0.2, 0.0524, 0.3339)
    """
    k1, n1 = _events(k1, n1, "1")
    k2, n2 = _events(k2, n2, "2")
    confidence = _check_confidence(confidence)
    if n1 == 0 or n2 == 0:
        return Difference(None, None, None, confidence)
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=1.0 - confidence)
    return Difference(k1 / n1 - k2 / n2, max(-1.0, float(low)), min(1.0, float(high)), confidence)


def _log_ratio_interval(k1: float, n1: float, k2: float, n2: float, z: float) -> tuple[float, float, float]:
    """Ratio ``(k1/n1) / (k2/n2)`` and its log-scale interval, standard error sqrt(1/k1 - 1/n1 + 1/k2 - 1/n2)."""
    ratio = (k1 / n1) / (k2 / n2)
    half_width = z * math.sqrt(1.0 / k1 - 1.0 / n1 + 1.0 / k2 - 1.0 / n2)
    return ratio, ratio * math.exp(-half_width), ratio * math.exp(half_width)


def risk_ratio_ci(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Ratio:
    """Risk ratio ``(k1/n1) / (k2/n2)`` with the Katz log interval.

    When exactly one group has no events the Katz interval does not exist; then 1/2 is added to each
    group's events and to each group's total (the "adjusted log" interval of Fagerland, Lydersen &
    Laake 2015; statsmodels' ``log-adjusted``), ``estimate`` is the adjusted ratio (it lies inside the
    interval) and ``corrected`` is True. With no events at all the ratio is undefined, and with every
    patient in both groups having the event the log interval has zero width: both give
    ``low``/``high`` of None, with ``note`` saying why.

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Events and treatments in group 1 and group 2.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    Ratio

    Examples
    --------
    Sahai & Khurshid (1996) Example 3.1, as in ``scipy.stats.contingency.relative_risk``:

    >>> r = risk_ratio_ci(27, 122, 44, 487)
    >>> round(r.estimate, 4), round(r.low, 4), round(r.high, 4)
    (2.4495, 1.5837, 3.7887)
    """
    k1, n1 = _events(k1, n1, "1")
    k2, n2 = _events(k2, n2, "2")
    confidence = _check_confidence(confidence)
    if n1 == 0 or n2 == 0:
        return Ratio(None, None, None, confidence, note="a group has no treatments")
    if k1 == 0 and k2 == 0:
        return Ratio(None, None, None, confidence, note="no events in either group; the ratio is undefined")
    if k1 == n1 and k2 == n2:
        return Ratio(1.0, None, None, confidence, note="every patient in both groups had the event; no log interval")
    if k1 == 0 or k2 == 0:
        estimate, low, high = _log_ratio_interval(k1 + 0.5, n1 + 0.5, k2 + 0.5, n2 + 0.5, _z(confidence))
        note = "a group had no events: half an event added to each group's events and total (adjusted log)"
        return Ratio(estimate, low, high, confidence, corrected=True, note=note)
    estimate, low, high = _log_ratio_interval(k1, n1, k2, n2, _z(confidence))
    return Ratio(estimate, low, high, confidence)


def fisher_exact_test(k1: int, n1: int, k2: int, n2: int) -> TestResult:
    """Two-sided Fisher exact test of ``k1/n1`` against ``k2/n2``.

    ``statistic`` is the conditional maximum-likelihood odds ratio (as R's ``fisher.test``): 0 or
    ``inf`` when a cell forces it, None when it is undefined (no events, or no non-events, at all).
    The p-value sums the tables no more likely than the observed one (R's and SciPy's rule).

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Events and treatments in group 1 and group 2.

    Returns
    -------
    TestResult
        ``statistic`` and ``p_value`` are None when either group is empty.

    Examples
    --------
    R's ``fisher.test(matrix(c(3, 1, 1, 3), 2))`` (tea tasting): p = 0.4857, odds ratio 6.408:

    >>> t = fisher_exact_test(3, 4, 1, 4)
    >>> round(t.p_value, 4), round(t.statistic, 3)
    (0.4857, 6.408)
    """
    k1, n1 = _events(k1, n1, "1")
    k2, n2 = _events(k2, n2, "2")
    if n1 == 0 or n2 == 0:
        return TestResult("Fisher exact", None, None)
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    p_value = float(sps.fisher_exact(table, alternative="two-sided").pvalue)
    odds = float(odds_ratio(table, kind="conditional").statistic)
    return TestResult("Fisher exact", None if math.isnan(odds) else odds, p_value, method="exact conditional")


# --- trend --------------------------------------------------------------------------------------


def _trend_inputs(events: Sequence[int], totals: Sequence[int],
                  scores: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the trend inputs and return events, totals and scores of the non-empty groups."""
    if len(events) != len(totals):
        raise ValueError(f"events and totals differ in length: {len(events)} and {len(totals)}")
    pairs = [_events(k, n, f"[{i}]") for i, (k, n) in enumerate(zip(events, totals, strict=True))]
    if scores is None:
        scores = range(1, len(pairs) + 1)
    score_array = _sample(list(scores), "scores")
    if score_array.size != len(pairs):
        raise ValueError(f"scores has {score_array.size} values for {len(pairs)} groups")
    k = np.array([p[0] for p in pairs], dtype=float)
    n = np.array([p[1] for p in pairs], dtype=float)
    keep = n > 0
    return k[keep], n[keep], score_array[keep]


def trend_test(events: Sequence[int], totals: Sequence[int], scores: Sequence[float] | None = None,
               confidence: float = 0.95) -> TrendTest:
    """Cochran-Armitage test for a linear trend in proportions across ordered groups.

    ``statistic`` is the Cochran-Armitage z (R's ``prop.trend.test`` reports its square as
    X-squared); ``p_value`` is two-sided. ``estimate`` is the least-squares slope b of the proportion
    per unit score, and ``low``/``high`` its Cochran-Armitage Wald interval with the per-group
    variance p_i(1 - p_i) (Fagerland, Lydersen & Laake 2017, *Statistical Analysis of Contingency
    Tables*, ch. 5 "The Ordered r x 2 Table").

    Groups with a total of 0 are dropped (keeping the other groups' scores). With fewer than two
    non-empty groups, or all groups on one score, there is no test: everything is None. With no
    events at all (or events in every patient) the slope is 0 but the test is undefined:
    ``statistic`` and ``p_value`` are None. When every group's proportion is 0 or 1 the slope's
    interval is undefined and ``low``/``high`` are None.

    Parameters
    ----------
    events, totals : sequence of int
        Events and treatments per group, in the groups' order.
    scores : sequence of float, optional
        Score per group; default 1, 2, ..., k.
    confidence : float
        Two-sided confidence level of the slope's interval.

    Returns
    -------
    TrendTest

    Examples
    --------
    R's ``prop.trend.test(c(83, 90, 129, 70), c(86, 93, 136, 82))``: X-squared = 8.2249, p = 0.004132:

    >>> t = trend_test([83, 90, 129, 70], [86, 93, 136, 82])
    >>> round(t.statistic ** 2, 4), round(t.p_value, 6), t.direction
    (8.2249, 0.004132, 'decreasing')
    """
    confidence = _check_confidence(confidence)
    k, n, a = _trend_inputs(events, totals, scores)
    groups = int(n.size)
    if groups < 2:
        return TrendTest(None, None, None, None, None, "none", confidence, groups)
    u, s_aa, centred = _trend_sums(k, n, a)
    if s_aa == 0.0:
        return TrendTest(None, None, None, None, None, "none", confidence, groups)
    slope = u / s_aa
    p_i, p_bar = k / n, float(k.sum() / n.sum())
    se = math.sqrt(float((n * centred**2 * p_i * (1.0 - p_i)).sum())) / s_aa
    low, high = (None, None) if se == 0.0 else (slope - _z(confidence) * se, slope + _z(confidence) * se)
    direction: Direction = "increasing" if slope > 0 else "decreasing" if slope < 0 else "none"
    if p_bar in (0.0, 1.0):
        return TrendTest(None, None, slope, low, high, direction, confidence, groups)
    z = u / math.sqrt(p_bar * (1.0 - p_bar) * s_aa)
    return TrendTest(z, float(2.0 * sps.norm.sf(abs(z))), slope, low, high, direction, confidence, groups)


def _trend_sums(k: np.ndarray, n: np.ndarray, a: np.ndarray) -> tuple[float, float, np.ndarray]:
    """U = sum k_i (a_i - a_bar), S_aa = sum n_i (a_i - a_bar)^2 and the centred scores.

    U and S_aa are summed exactly (as fractions) so that equal proportions give a slope of exactly 0.
    """
    rows = [(Fraction(int(ki)), Fraction(int(ni)), Fraction(float(ai))) for ki, ni, ai in zip(k, n, a, strict=True)]
    a_bar = sum(ni * ai for _, ni, ai in rows) / sum(ni for _, ni, _ in rows)
    u = sum(ki * (ai - a_bar) for ki, _, ai in rows)
    s_aa = sum(ni * (ai - a_bar) ** 2 for _, ni, ai in rows)
    return float(u), float(s_aa), a - float(a_bar)


# --- medians ------------------------------------------------------------------------------------


def median_ci(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Sample median with the distribution-free binomial order-statistic interval.

    The interval is ``[x_(r), x_(n-r+1)]`` with r the smallest rank whose Binomial(n, 1/2)
    cumulative probability reaches (1 - confidence)/2 (R's ``qbinom``, as DescTools'
    ``MedianCI(method="exact")``); its coverage is at least ``confidence`` for any continuous
    distribution, and ties only make it more conservative. When no order statistic reaches the
    requested confidence (n <= 5 at 95 %), ``low`` and ``high`` are None.

    Parameters
    ----------
    values : sequence of float
        Finite values (drop missing ones first).
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    Estimate

    Examples
    --------
    statpsych's ``ci.median(.05, c(25, 29, 35, 36, 36, 40, 41, 43, 44, 54))``: 38, 29 to 44:

    >>> e = median_ci([25, 29, 35, 36, 36, 40, 41, 43, 44, 54])
    >>> e.estimate, e.low, e.high
    (38.0, 29.0, 44.0)
    """
    confidence = _check_confidence(confidence)
    x = np.sort(_sample(values, "values"))
    n = int(x.size)
    if n == 0:
        return Estimate(None, None, None, confidence, 0)
    median = float(np.median(x))
    r = _binomial_rank(n, (1.0 - confidence) / 2.0)
    if r < 1:
        return Estimate(median, None, None, confidence, n, "binomial order statistics (not achievable)")
    return Estimate(median, float(x[r - 1]), float(x[n - r]), confidence, n, "binomial order statistics")


def _binomial_rank(n: int, tail: float) -> int:
    """Smallest r with P(Binomial(n, 1/2) <= r) >= tail (R's ``qbinom(tail, n, 0.5)``)."""
    r = int(sps.binom.ppf(tail, n, 0.5))
    while r > 0 and sps.binom.cdf(r - 1, n, 0.5) >= tail:  # guard against rounding in ppf
        r -= 1
    while sps.binom.cdf(r, n, 0.5) < tail:
        r += 1
    return r


# --- two-sample location ------------------------------------------------------------------------


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> TestResult:
    """Two-sided Mann-Whitney U test of ``x`` against ``y`` with the rank-biserial correlation.

    The p-value follows SciPy's ``method="auto"``: exact when one group has at most 8 values and there
    are no ties, otherwise the normal approximation with tie and continuity corrections (as R's
    ``wilcox.test``). The exact null distribution is built here (equal to SciPy's exact p-value)
    because SciPy's takes minutes for, say, 5 against 200,000 values; above n*m = 5,000,000 the
    normal approximation is used. ``statistic`` is U for ``x`` (R's W); ``rank_biserial`` is
    ``2 U / (n m) - 1`` = P(X > Y) - P(X < Y), positive when ``x`` tends to be larger (Kerby 2014).

    Parameters
    ----------
    x, y : sequence of float
        Finite values of the two groups.

    Returns
    -------
    TestResult
        ``statistic``, ``p_value`` and ``rank_biserial`` are None when a group is empty.

    Examples
    --------
    R's ``wilcox.test(x, y)`` on Hollander & Wolfe's permeability data gives W = 35:

    >>> t = mann_whitney([0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46],
    ...                  [1.15, 0.88, 0.90, 0.74, 1.21])
    >>> t.statistic, round(t.p_value, 4), round(t.rank_biserial, 2), t.method
    (35.0, 0.2544, 0.4, 'exact')
    """
    xs, ys = _sample(x, "x"), _sample(y, "y")
    n, m = xs.size, ys.size
    if n == 0 or m == 0:
        return TestResult("Mann-Whitney U", None, None)
    pooled = np.concatenate([xs, ys])
    tied = np.unique(pooled).size < n + m
    u = float(sps.rankdata(pooled)[:n].sum() - n * (n + 1) / 2.0)
    if min(n, m) <= 8 and not tied and n * m <= _EXACT_LIMIT:
        p_value = min(1.0, 2.0 * float(_u_cdf(n, m)[int(min(u, n * m - u))]))
        return TestResult("Mann-Whitney U", u, p_value, 2.0 * u / (n * m) - 1.0, "exact")
    result = sps.mannwhitneyu(xs, ys, alternative="two-sided", use_continuity=True, method="asymptotic")
    return TestResult("Mann-Whitney U", u, float(result.pvalue), 2.0 * u / (n * m) - 1.0, "asymptotic")


def hodges_lehmann_shift(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Hodges-Lehmann shift of ``x`` relative to ``y`` with the Moses distribution-free interval.

    The estimate is the median of all n*m differences ``x_i - y_j``; the interval is
    ``[D_(r), D_(nm-r+1)]`` of the ordered differences, r being the lower alpha/2 critical value of
    the Mann-Whitney U. r is exact (R's ``qwilcox``, as ``wilcox.test(conf.int = TRUE)``) when there
    are no ties and both groups have fewer than 50 values; otherwise
    ``r = ceil(nm/2 - 1/2 - z * sd(U))`` with the tie-corrected sd of U (as SAS PROC NPAR1WAY's
    asymptotic Moses limits). When r < 1 the confidence cannot be reached and ``low``/``high`` are
    None. The order statistics are selected from the sorted groups in O((n + m) log(nm)) time and
    O(n + m) memory, so 200,000 values per group are fine; ties (whole days) are handled exactly.

    Parameters
    ----------
    x, y : sequence of float
        Finite values of the two groups.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    Estimate
        ``n`` is ``len(x) + len(y)``; ``method`` is ``"exact"`` or ``"normal approximation"``.

    Examples
    --------
    R's ``wilcox.test(treated, untreated, conf.int = TRUE)``: -83.5, 95 % CI -807 to 198:

    >>> e = hodges_lehmann_shift([323, 421, 578, 300, 256, 640, 912, 370],
    ...                          [2388, 210, 380, 345, 1130, 260, 665, 1157])
    >>> e.estimate, e.low, e.high, e.method
    (-83.5, -807.0, 198.0, 'exact')
    """
    confidence = _check_confidence(confidence)
    xs, ys = np.sort(_sample(x, "x")), np.sort(_sample(y, "y"))
    n, m = int(xs.size), int(ys.size)
    if n == 0 or m == 0:
        return Estimate(None, None, None, confidence, n + m)
    pairs = n * m
    rank, method = _moses_rank(xs, ys, confidence)
    middle = [(pairs + 1) // 2] if pairs % 2 else [pairs // 2, pairs // 2 + 1]
    wanted = middle + ([] if rank is None else [rank, pairs - rank + 1])
    found = _pairwise_order_statistics(xs, ys, wanted)
    estimate = found[middle[0]] if len(middle) == 1 else (found[middle[0]] + found[middle[1]]) / 2.0
    if rank is None:
        return Estimate(estimate, None, None, confidence, n + m, method)
    return Estimate(estimate, found[rank], found[pairs - rank + 1], confidence, n + m, method)


def _moses_rank(xs: np.ndarray, ys: np.ndarray, confidence: float) -> tuple[int | None, str]:
    """Rank r of the lower Moses limit D_(r) and the method used; None when r < 1."""
    n, m = xs.size, ys.size
    _, ties = np.unique(np.concatenate([xs, ys]), return_counts=True)
    tail = (1.0 - confidence) / 2.0
    if ties.size == n + m and n < 50 and m < 50:
        fuzzed = tail - 10 * sys.float_info.epsilon  # as R's qwilcox (src/nmath/wilcox.c)
        rank = int(np.searchsorted(_small_u_cdf(n, m), fuzzed, side="left"))  # smallest u with P(U <= u) >= tail
        return (rank if rank >= 1 else None), "exact"
    big_n = n + m
    tie_term = float(((ties.astype(float) ** 3) - ties).sum()) / (big_n * (big_n - 1))
    variance = n * m / 12.0 * ((big_n + 1) - tie_term)
    if variance <= 0.0:  # every value equal: no spread to build an interval from
        return None, "normal approximation"
    rank = math.ceil(n * m / 2.0 - 0.5 - _z(confidence) * math.sqrt(variance))
    return (rank if rank >= 1 else None), "normal approximation"


_EXACT_LIMIT = 5_000_000  # largest n*m for which the exact null distribution of U is built (40 MB)


def _u_cdf(n: int, m: int) -> np.ndarray:
    """P(U <= u), u = 0..nm, for two untied groups of sizes n and m (read-only array).

    The counts of U are the coefficients of the Gaussian binomial prod_{i<=n} (1 - q^(m+i)) / (1 - q^i);
    built in floating point they agree with exact integer counts to about 1e-15 (relative).
    """
    n, m = min(n, m), max(n, m)
    top = n * m
    coeffs = np.zeros(top + 1)
    coeffs[0] = 1.0
    for i in range(1, n + 1):
        if m + i <= top:  # times (1 - q^(m+i))
            coeffs[m + i:] -= coeffs[: top + 1 - (m + i)].copy()
        for residue in range(i):  # divided by (1 - q^i)
            coeffs[residue::i] = np.cumsum(coeffs[residue::i])
    cdf = np.cumsum(coeffs)
    cdf /= cdf[-1]
    cdf.flags.writeable = False
    return cdf


_small_u_cdf = functools.lru_cache(maxsize=64)(_u_cdf)  # the exact Moses ranks need n, m < 50 only


# --- order statistics of pairwise differences ----------------------------------------------------

_GATHER = 1_000_000  # remaining candidate differences at or below which they are formed and partitioned
_SAMPLE = 16_384  # candidates sampled per round to place the two pivots


def _pairwise_order_statistics(xs: np.ndarray, ys: np.ndarray, ranks: Sequence[int],
                               gather: int = _GATHER) -> dict[int, float]:
    """The ``ranks``-th smallest (1-based) of all ``xs[i] - ys[j]``; ``xs`` and ``ys`` sorted ascending.

    Results equal sorting all n*m floating-point differences, without forming them when n*m > gather.
    """
    if xs.size * ys.size <= gather:
        differences = np.subtract.outer(xs, ys).ravel()
        positions = sorted({r - 1 for r in ranks})
        parted = np.partition(differences, positions)
        return {r: float(parted[r - 1]) for r in ranks}
    return {r: _kth_pairwise_difference(xs, ys, r, gather) for r in set(ranks)}


def _kth_pairwise_difference(xs: np.ndarray, ys: np.ndarray, k: int, gather: int = _GATHER) -> float:
    """k-th smallest (1-based) difference by narrowing, per x_i, the range of candidate y_j.

    Row i holds the differences ``xs[i] - ys[::-1]`` in ascending order; candidates are the
    columns ``lo[i] <= r < hi[i]``. Each round samples candidates, picks two pivots bracketing the
    target rank and counts the differences below and up to each pivot (Floyd-Rivest style
    selection on a sorted matrix), until few enough candidates remain to partition directly.
    """
    n, m = xs.size, ys.size
    lo, hi = np.zeros(n, dtype=np.int64), np.full(n, m, dtype=np.int64)
    rng = np.random.default_rng(20240531)
    while True:
        sizes = hi - lo
        active = int(sizes.sum())
        rank = k - int(lo.sum())
        if active <= gather:
            return _partition_candidates(xs, ys[::-1], lo, sizes, rank)
        low_pivot, high_pivot = _pivots(xs, ys[::-1], lo, sizes, rank, rng)
        answer = _narrow(xs, ys, k, lo, hi, low_pivot, high_pivot)
        if answer is not None:
            return answer


def _candidates(xs: np.ndarray, y_desc: np.ndarray, lo: np.ndarray, sizes: np.ndarray,
                positions: np.ndarray) -> np.ndarray:
    """Differences at ``positions`` (0-based, in row order) of the candidate set."""
    ends = np.cumsum(sizes)
    rows = np.searchsorted(ends, positions, side="right")
    columns = lo[rows] + positions - (ends[rows] - sizes[rows])
    return xs[rows] - y_desc[columns]


def _partition_candidates(xs: np.ndarray, y_desc: np.ndarray, lo: np.ndarray, sizes: np.ndarray, rank: int) -> float:
    """The rank-th smallest (1-based) of the remaining candidates, by forming them."""
    values = _candidates(xs, y_desc, lo, sizes, np.arange(int(sizes.sum())))
    return float(np.partition(values, rank - 1)[rank - 1])


def _pivots(xs: np.ndarray, y_desc: np.ndarray, lo: np.ndarray, sizes: np.ndarray, rank: int,
            rng: np.random.Generator) -> tuple[float, float]:
    """Two candidate values that probably bracket the rank-th smallest candidate."""
    active = int(sizes.sum())
    sample = np.sort(_candidates(xs, y_desc, lo, sizes, rng.integers(0, active, size=_SAMPLE)))
    fraction, spread = (rank - 0.5) / active, 1.5 / math.sqrt(_SAMPLE)
    first = int(max(0.0, fraction - spread) * _SAMPLE)
    last = min(_SAMPLE - 1, int(min(1.0, fraction + spread) * _SAMPLE))
    return float(sample[first]), float(sample[last])


def _narrow(xs: np.ndarray, ys: np.ndarray, k: int, lo: np.ndarray, hi: np.ndarray,
            a: float, b: float) -> float | None:
    """Return the answer if it is pivot ``a`` or ``b``; otherwise shrink ``lo``/``hi`` in place."""
    below_a = _count_pairs(xs, ys, a, strict=True)
    if below_a.sum() >= k:
        np.minimum(hi, below_a, out=hi)
        return None
    upto_a = _count_pairs(xs, ys, a, strict=False)
    if upto_a.sum() >= k:
        return a
    below_b = _count_pairs(xs, ys, b, strict=True)
    if below_b.sum() >= k:
        np.maximum(lo, upto_a, out=lo)
        np.minimum(hi, below_b, out=hi)
        return None
    upto_b = _count_pairs(xs, ys, b, strict=False)
    if upto_b.sum() >= k:
        return b
    np.maximum(lo, upto_b, out=lo)
    return None


def _count_pairs(xs: np.ndarray, ys: np.ndarray, t: float, strict: bool) -> np.ndarray:
    """Per x_i, how many y_j give ``x_i - y_j < t`` (strict) or ``<= t``, judged on the rounded differences.

    The y_j that qualify form a suffix of the sorted ``ys`` (rounding is monotone). A binary search on
    ``x_i - t`` finds the suffix's start up to rounding; whole blocks of equal y are then moved across
    until the floating-point differences themselves agree.
    """
    inside = np.less if strict else np.less_equal
    m = ys.size
    start = np.searchsorted(ys, xs - t, side="right" if strict else "left")
    while True:
        before = np.maximum(start - 1, 0)
        grow = (start > 0) & inside(xs - ys[before], t)
        at = np.minimum(start, m - 1)
        shrink = (start < m) & ~inside(xs - ys[at], t)
        if not (grow.any() or shrink.any()):
            return m - start
        start[grow] = np.searchsorted(ys, ys[before[grow]], side="left")
        start[shrink] = np.searchsorted(ys, ys[at[shrink]], side="right")
