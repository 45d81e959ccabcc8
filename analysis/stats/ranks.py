"""Statistics for comparing ablative and non-ablative laser treatments: medians and location (rank methods).

Pure functions (no Streamlit, no I/O). Each returns a small frozen dataclass:

* :func:`median_ci` -- sample median with the distribution-free order-statistic interval.
* :func:`mann_whitney` -- Mann-Whitney U test with the rank-biserial correlation.
* :func:`hodges_lehmann_shift` -- Hodges-Lehmann location shift with the Moses interval; handles
  200,000 values per group without forming all pairwise differences.

Proportions (intervals, Fisher's test, the trend test) are in :mod:`analysis.stats.proportions`;
the input checks both use are in :mod:`analysis.stats.checks`.

Conventions shared by all functions (the same as in :mod:`analysis.stats.proportions`):

* an empty group gives ``estimate``, ``low`` and ``high`` (or ``statistic`` and ``p_value``) of
  ``None``, not an error;
* invalid input (non-finite values, ``confidence`` outside (0, 1)) raises :class:`ValueError`
  naming the bad value;
* ``confidence`` is the two-sided confidence level, 0.95 by default.

Every method is checked against published reference values in ``tests/test_stats.py``.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from analysis.stats.checks import check_confidence, check_sample, z_critical
from analysis.stats.results import TestResult

# --- result objects ---------------------------------------------------------------------------


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
    confidence = check_confidence(confidence)
    x = np.sort(check_sample(values, "values"))
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
    xs, ys = check_sample(x, "x"), check_sample(y, "y")
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
    confidence = check_confidence(confidence)
    xs, ys = np.sort(check_sample(x, "x")), np.sort(check_sample(y, "y"))
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
    rank = math.ceil(n * m / 2.0 - 0.5 - z_critical(confidence) * math.sqrt(variance))
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
