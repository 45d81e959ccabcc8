"""Statistics for comparing ablative and non-ablative laser treatments: proportions.

Pure functions (no Streamlit, no I/O). Each returns a small frozen dataclass:

* :func:`wilson_ci` -- one proportion with the Wilson score interval.
* :func:`newcombe_diff_ci` -- difference of two proportions, Newcombe's hybrid score interval.
* :func:`risk_ratio_ci` -- risk ratio with the Katz log interval.
* :func:`fisher_exact_test` -- two-sided Fisher exact test with the conditional odds ratio.
* :func:`trend_test` -- Cochran-Armitage test for a linear trend in proportions, with the slope and its interval.

Medians and two-sample location shifts (rank methods) are in :mod:`analysis.stats.ranks`; the
input checks both use are in :mod:`analysis.stats.checks`.

Conventions shared by all functions:

* an empty group (``n = 0``) gives ``estimate``, ``low`` and ``high`` (or ``statistic`` and ``p_value``)
  of ``None``, not an error;
* invalid input (negative counts, events above the total, non-finite values, ``confidence`` outside
  (0, 1)) raises :class:`ValueError` naming the bad value;
* ``confidence`` is the two-sided confidence level, 0.95 by default.

Every method is checked against published reference values in ``tests/test_stats.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from scipy import optimize
from scipy import stats as sps
from scipy.stats.contingency import odds_ratio
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.stats.checks import check_confidence, check_events, check_sample, z_critical
from analysis.stats.results import TestResult

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

    With no events in one group the estimate is 0 or infinite and the interval the score interval,
    which ``note`` says (it also says why a ratio is undefined). ``corrected`` is always False: it
    was True when half an event was added to each group, which is no longer done, and stays so that
    code reading it (and the JSON summary's ``risk_ratio_corrected``) keeps working.
    """

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    corrected: bool = False
    note: str | None = None


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
    k, n = check_events(k, n)
    confidence = check_confidence(confidence)
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
    k1, n1 = check_events(k1, n1, "1")
    k2, n2 = check_events(k2, n2, "2")
    confidence = check_confidence(confidence)
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

    When exactly one group has no events the Katz interval does not exist. The estimate is then the
    observed ratio, 0 (no events in group 1) or infinite (none in group 2), never a "corrected" value
    that could lie on the other side of 1 from the data, and the interval is the Miettinen-Nurminen
    score interval (Miettinen & Nurminen 1985; :func:`_score_ratio_interval`, checked against R), which
    exists at zero: from exactly 0, or up to infinity.
    ``note`` says so. With no events at all the ratio is undefined, and with every patient in both
    groups having the event the log interval has zero width: both give ``low``/``high`` of None, with
    ``note`` saying why.

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
    k1, n1 = check_events(k1, n1, "1")
    k2, n2 = check_events(k2, n2, "2")
    confidence = check_confidence(confidence)
    if n1 == 0 or n2 == 0:
        return Ratio(None, None, None, confidence, note="a group has no treatments")
    if k1 == 0 and k2 == 0:
        return Ratio(None, None, None, confidence, note="no events in either group; the ratio is undefined")
    if k1 == n1 and k2 == n2:
        return Ratio(1.0, None, None, confidence, note="every patient in both groups had the event; no log interval")
    if k1 == 0 or k2 == 0:
        low, high = _score_ratio_interval(k1, n1, k2, n2, confidence)
        if k1 == 0:
            estimate, note = 0.0, "no events in the first group: the ratio is 0; score interval"
        else:
            estimate, note = math.inf, "no events in the second group: the ratio is infinite; score interval"
        return Ratio(estimate, low, high, confidence, note=note)
    estimate, low, high = _log_ratio_interval(k1, n1, k2, n2, z_critical(confidence))
    return Ratio(estimate, low, high, confidence)


def _score_ratio_interval(k1: int, n1: int, k2: int, n2: int, confidence: float) -> tuple[float, float]:
    """The Miettinen-Nurminen score interval for ``p1 / p2`` (Miettinen & Nurminen 1985, Stat Med 4:213-226):
    the ratios theta whose score statistic, with the restricted MLE of Farrington & Manning (1990) and the
    variance factor N/(N-1), stays within the chi-squared(1) quantile. From 0 when ``k1 == 0``, up to
    infinity when ``k2 == 0``. (statsmodels' ``method="score"`` for the ratio gives wrong limits when the
    other group had the event in every patient, e.g. 0/7 vs 7/7: 0.875 where the score interval ends at
    0.8145; ``tests/test_stats.py`` holds this one to R.)"""
    n = n1 + n2
    p1, p2 = k1 / n1, k2 / n2
    limit = float(sps.chi2.ppf(confidence, 1))

    def excess(theta: float) -> float:
        a, b, c = n * theta, -(n1 * theta + k1 + n2 + k2 * theta), k1 + k2
        p2r = (-b - math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
        p1r = theta * p2r
        variance = (p1r * (1 - p1r) / n1 + theta ** 2 * p2r * (1 - p2r) / n2) * n / (n - 1)
        return math.inf if variance <= 0 else (p1 - theta * p2) ** 2 / variance - limit

    estimate = p1 / p2 if k2 else math.inf
    low = 0.0 if k1 == 0 else optimize.brentq(excess, 1e-10, min(estimate, 1e10), xtol=1e-14, rtol=1e-15)
    high = math.inf if k2 == 0 else optimize.brentq(excess, max(estimate, 1e-10), 1e10, xtol=1e-14, rtol=1e-15)
    return float(low), float(high)


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
    k1, n1 = check_events(k1, n1, "1")
    k2, n2 = check_events(k2, n2, "2")
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
    pairs = [check_events(k, n, f"[{i}]") for i, (k, n) in enumerate(zip(events, totals, strict=True))]
    if scores is None:
        scores = range(1, len(pairs) + 1)
    score_array = check_sample(list(scores), "scores")
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
    confidence = check_confidence(confidence)
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
    low, high = (None, None) if se == 0.0 else (slope - z_critical(confidence) * se, slope + z_critical(confidence) * se)
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
