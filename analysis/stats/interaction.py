"""Effect modification: does an exposure's odds ratio change across strata (here: skin types)?

Three answers for a set of 2 x 2 tables, one per stratum, each given as the events and treatments of
the exposed group and then of the unexposed group, ``(k1, n1, k2, n2)``:

* :func:`mantel_haenszel` - the common odds ratio over the strata (Mantel & Haenszel 1959) with the
  Robins-Breslow-Greenland interval (Robins, Breslow & Greenland 1986, Biometrics 42:311-323) and
  the Mantel-Haenszel chi-squared test of no association; R ``mantelhaen.test``.
* :func:`breslow_day` - the Breslow-Day test that the odds ratios are the same in every stratum
  (Breslow & Day 1980, *Statistical Methods in Cancer Research* vol. 1, IARC, section 4.4, eq. 4.30),
  with Tarone's correction (Tarone 1985, Biometrika 72:91-95); R ``DescTools::BreslowDayTest``.
* :func:`interaction_lrt` - the likelihood-ratio test of the exposure x stratum interaction in a
  logistic model, the stratum entering as a linear score or as a factor; R
  ``anova(glm(y ~ x + s, binomial), glm(y ~ x * s, binomial), test = "LRT")``.

Pure functions on counts, no Streamlit and no records. Invalid input raises ``ValueError`` naming the
bad value; when the data cannot answer (too few strata, a stratum with no variation, separation) the
result has ``None`` numbers and a plain-English ``reason``: nothing here raises for sparse data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

from analysis.stats.checks import check_confidence, check_events, check_sequence, z_critical
# the project's grouped logistic fit and its separation and rank checks (one path for every model)
from analysis.stats.logistic import _grouped_logit, _rank, _separated

__all__ = [
    "breslow_day",
    "HomogeneityTest",
    "interaction_lrt",
    "InteractionTest",
    "mantel_haenszel",
    "MantelHaenszel",
]

Stratum = tuple[int, int, int, int]  # (k1, n1, k2, n2): events and treatments, exposed then unexposed


@dataclass(frozen=True)
class MantelHaenszel:
    """The Mantel-Haenszel common odds ratio over strata, its interval and the test of no association.

    ``odds_ratio``, ``low`` and ``high`` are None (and ``reason`` says why) when the common odds ratio
    is 0, infinite or undefined; ``statistic`` (the 1-df chi-squared) and ``p_value`` are None when
    the test's variance is 0. ``strata`` counts the strata with at least 2 treatments (R's
    ``mantelhaen.test`` refuses smaller ones; they add nothing to either sum).
    """

    odds_ratio: float | None
    low: float | None
    high: float | None
    confidence: float
    statistic: float | None
    p_value: float | None
    strata: int
    corrected: bool
    reason: str | None = None
    method: str = ("Mantel-Haenszel common odds ratio, Robins-Breslow-Greenland confidence interval, "
                   "Mantel-Haenszel chi-squared test (1 df)")


@dataclass(frozen=True)
class HomogeneityTest:
    """The Breslow-Day test that every stratum has the same odds ratio.

    ``statistic`` is Tarone's corrected statistic when ``corrected`` (the default), else the
    Breslow-Day one; ``uncorrected`` is always the Breslow-Day statistic. ``df`` is the number of
    strata used minus one. A stratum in which one modality or one outcome is missing (a zero row or
    column total) says nothing about its odds ratio and is left out (``strata`` counts the others).
    """

    __test__ = False  # not a pytest test class despite the name

    statistic: float | None
    uncorrected: float | None
    df: int | None
    p_value: float | None
    odds_ratio: float | None   # the common odds ratio tested against (Mantel-Haenszel unless given)
    strata: int
    corrected: bool
    reason: str | None = None
    method: str = "Breslow-Day test for homogeneous odds ratios"


@dataclass(frozen=True)
class InteractionTest:
    """Likelihood-ratio test of the exposure x stratum interaction in a logistic model.

    ``scale`` is ``"linear"`` (the stratum's score as a number: does the log odds ratio change
    steadily along the scores?) or ``"factor"`` (one term per stratum: does it differ anywhere?).
    ``statistic`` is the drop in deviance from adding the interaction, ``df`` its degrees of freedom.
    """

    __test__ = False

    scale: str
    statistic: float | None
    df: int | None
    p_value: float | None
    strata: int
    reason: str | None = None
    method: str = "likelihood-ratio test, logistic regression (deviance of y ~ x + s minus that of y ~ x * s)"


def _strata(strata: Sequence[Sequence[int]]) -> np.ndarray:
    """The strata as an int array of rows (k1, n1, k2, n2), or ValueError naming the bad one."""
    rows = check_sequence(strata, "strata")
    out = np.zeros((len(rows), 4), dtype=np.int64)
    for i, row in enumerate(rows):
        items = check_sequence(row, f"strata[{i}]")
        if len(items) != 4:
            raise ValueError(f"strata[{i}] must be (k1, n1, k2, n2), got {row!r}")
        k1, n1 = check_events(items[0], items[1], f"1 of strata[{i}]")
        k2, n2 = check_events(items[2], items[3], f"2 of strata[{i}]")
        out[i] = (k1, n1, k2, n2)
    return out


def _cells(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 2 x 2 cells per stratum as floats: a, b (exposed with, without), c, d (unexposed with, without)."""
    k1, n1, k2, n2 = (table[:, j].astype(float) for j in range(4))
    return k1, n1 - k1, k2, n2 - k2


def mantel_haenszel(strata: Sequence[Sequence[int]], confidence: float = 0.95,
                    correct: bool = False) -> MantelHaenszel:
    """Mantel-Haenszel common odds ratio of the exposed vs the unexposed over strata, and its test.

    The odds ratio is ``Σ a·d/n / Σ b·c/n``; its interval is ``OR·exp(±z·SE)`` with the
    Robins-Breslow-Greenland standard error of log OR; the test is the Mantel-Haenszel chi-squared
    ``(|Σ a − Σ E(a)| − ½)² / Σ Var(a)`` with 1 df, without the ½ unless ``correct`` (R's
    ``mantelhaen.test`` applies it by default; ``correct=FALSE`` there matches the default here).

    Parameters
    ----------
    strata : sequence of (k1, n1, k2, n2)
        Events and treatments of the exposed, then of the unexposed group, one row per stratum.
    confidence : float, default 0.95
    correct : bool, default False
        Continuity correction of the test (not of the odds ratio or its interval).

    Examples
    --------
    SAS/STAT PROC FREQ, Example "Cochran-Mantel-Haenszel Statistics" (migraine trial, Active vs
    Placebo, Better, stratified by gender): CMH statistic 8.3052, p = 0.0040; the same numbers as R
    ``mantelhaen.test(array(c(16, 5, 11, 20, 12, 7, 16, 19), c(2, 2, 2)), correct = FALSE)``,
    whose common odds ratio is 3.313 (95 % CI 1.446-7.593).

    >>> r = mantel_haenszel([(16, 27, 5, 25), (12, 28, 7, 26)])
    >>> round(r.statistic, 4), round(r.odds_ratio, 3), round(r.low, 3), round(r.high, 3)
    (8.3052, 3.313, 1.446, 7.593)
    """
    confidence = check_confidence(confidence)
    table = _strata(strata)
    table = table[(table[:, 1] + table[:, 3]) >= 2]
    used = len(table)

    def result(reason: str | None = None, odds: tuple[float, float, float] | None = None,
               test: tuple[float, float] | None = None) -> MantelHaenszel:
        o = odds or (None, None, None)
        t = test or (None, None)
        return MantelHaenszel(o[0], o[1], o[2], confidence, t[0], t[1], used, bool(correct), reason)

    if used == 0:
        return result("No skin type has two or more treatments, so there is nothing to pool.")
    a, b, c, d = _cells(table)
    n = a + b + c + d
    # test of no association: a's hypergeometric mean and variance given the margins
    row1, col1 = a + b, a + c
    expected = row1 * col1 / n
    variance = row1 * (n - row1) * col1 * (n - col1) / (n ** 2 * (n - 1))
    test = None
    if variance.sum() > 0:
        delta = float(a.sum() - expected.sum())
        yates = 0.5 if correct and abs(delta) >= 0.5 else 0.0
        statistic = (abs(delta) - yates) ** 2 / float(variance.sum())
        test = (statistic, float(sps.chi2.sf(statistic, 1)))
    r, s = a * d / n, b * c / n
    sum_r, sum_s = float(r.sum()), float(s.sum())
    if sum_r == 0 or sum_s == 0:
        reason = ("In every skin type one of the four counts (with or without the effect, after either treatment) "
                  "is zero in a way that makes the pooled odds ratio 0 or infinite, so it cannot be estimated.")
        return result(reason, test=test)
    estimate = sum_r / sum_s
    p, q = (a + d) / n, (b + c) / n  # Robins, Breslow & Greenland (1986), eq. 13
    var_log = (float((p * r).sum()) / (2 * sum_r ** 2) + float((p * s + q * r).sum()) / (2 * sum_r * sum_s)
               + float((q * s).sum()) / (2 * sum_s ** 2))
    half = z_critical(confidence) * math.sqrt(var_log)
    return result(odds=(estimate, estimate * math.exp(-half), estimate * math.exp(half)), test=test)


def _fitted_a(odds_ratio: float, row1: float, col1: float, total: float) -> float:
    """The exposed-with-effect count ``ã`` that gives a stratum with these margins the odds ratio
    ``odds_ratio``: the root of ``ã·d̃ = OR·b̃·c̃`` between its bounds (Breslow & Day 1980, eq. 4.29).

    ``ã·d̃ − OR·b̃·c̃`` rises from ≤ 0 at the lower bound to ≥ 0 at the upper one, so one root lies
    between; it is found by bracketing (no cancellation in the quadratic formula when OR is near 1).
    """
    low, high = max(0.0, row1 + col1 - total), min(row1, col1)

    def gap(x: float) -> float:
        return x * (total - row1 - col1 + x) - odds_ratio * (row1 - x) * (col1 - x)

    return float(optimize.brentq(gap, low, high, xtol=1e-13, rtol=4 * np.finfo(float).eps))


def breslow_day(strata: Sequence[Sequence[int]], odds_ratio: float | None = None,
                correct: bool = True) -> HomogeneityTest:
    """Breslow-Day test that the exposure odds ratio is the same in every stratum.

    ``X² = Σ (a − ã)² / Var(a)``, where ``ã`` is the count the stratum would have with its margins and
    the common odds ratio (Mantel-Haenszel unless ``odds_ratio`` is given) and
    ``Var(a) = (1/ã + 1/b̃ + 1/c̃ + 1/d̃)⁻¹`` (Breslow & Day 1980, section 4.4). Tarone's correction
    subtracts ``(Σ a − Σ ã)² / Σ Var(a)`` (Tarone 1985), which makes the statistic chi-squared with
    ``strata − 1`` df when the Mantel-Haenszel estimate is used. It is the default, as in SAS.

    Strata with a zero row or column total carry no information on their odds ratio and are left out.
    No test (everything None, ``reason`` set) with fewer than 2 strata left or a common odds ratio of
    0 or infinity.

    Examples
    --------
    R, the tetracycline and tooth-discoloration data (two age strata; exposed = tetracycline,
    outcome = discoloured): ``DescTools::BreslowDayTest(x)`` gives X-squared = 0.57493, p = 0.4483.

    >>> t = breslow_day([(30, 55, 12, 29), (4, 10, 68, 162)], correct=False)
    >>> round(t.statistic, 5), round(t.p_value, 4)
    (0.57493, 0.4483)
    """
    table = _strata(strata)
    a, b, c, d = _cells(table)
    informative = (a + b > 0) & (c + d > 0) & (a + c > 0) & (b + d > 0)
    used = int(informative.sum())

    def none(reason: str, common: float | None = None) -> HomogeneityTest:
        return HomogeneityTest(None, None, None, None, common, used, bool(correct), reason)

    if odds_ratio is None:
        pooled = mantel_haenszel(strata)
        if pooled.odds_ratio is None:
            return none("The odds ratio over all skin types cannot be worked out, so whether it differs between "
                        "skin types cannot be tested.")
        common = pooled.odds_ratio
    else:
        common = float(odds_ratio)
        if not (math.isfinite(common) and common > 0):
            raise ValueError(f"odds_ratio must be a positive finite number, got {odds_ratio!r}")
    if used < 2:
        return none("Fewer than two skin types have both treatments and both outcomes (with and without the "
                    "effect), so whether the difference between the treatments changes with skin type cannot be "
                    "tested.", common)
    a, b, c, d = a[informative], b[informative], c[informative], d[informative]
    row1, col1, total = a + b, a + c, a + b + c + d
    fitted = np.array([_fitted_a(common, *m) for m in zip(row1, col1, total)])
    variance = 1.0 / (1.0 / fitted + 1.0 / (row1 - fitted) + 1.0 / (col1 - fitted)
                      + 1.0 / (total - row1 - col1 + fitted))
    plain = float(((a - fitted) ** 2 / variance).sum())
    tarone = plain - float((a.sum() - fitted.sum()) ** 2 / variance.sum())
    statistic = tarone if correct else plain
    df = used - 1
    method = HomogeneityTest.method + (" with Tarone's correction" if correct else "")
    return HomogeneityTest(statistic, plain, df, float(sps.chi2.sf(statistic, df)), common, used, bool(correct),
                           None, method)


def _deviance(design: np.ndarray, events: np.ndarray, counts: np.ndarray) -> float | None:
    """Residual deviance of the grouped logistic fit, or None when it cannot be trusted (separation,
    no convergence)."""
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    if _separated(design, events, counts):
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = _grouped_logit(design, events, counts)
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
            return None
    names = {w.category.__name__ for w in caught}
    if names & {"PerfectSeparationWarning", "ConvergenceWarning", "HessianInversionWarning"}:
        return None
    if not fit.mle_retvals.get("converged", False) or not np.all(np.isfinite(fit.params)):
        return None
    return float(fit.deviance)


def interaction_lrt(strata: Sequence[Sequence[int]], scores: Sequence[float] | None = None,
                    scale: str = "factor") -> InteractionTest:
    """Likelihood-ratio test of the exposure x stratum interaction in a logistic model.

    Compares ``logit P(y) = b0 + b1·x + stratum terms`` with the same model plus the interaction:
    with ``scale="linear"`` the stratum enters as its score ``s`` (terms ``s`` and ``x·s``, 1 df);
    with ``scale="factor"`` as one indicator per stratum (``strata − 1`` df). The statistic is the
    drop in residual deviance, as R
    ``anova(glm(y ~ x + s, binomial), glm(y ~ x * s, binomial), test = "LRT")``.

    With the factor, the interaction model has one parameter per cell (it is saturated), and a stratum
    with one treatment group only, or in which every treatment or none had the outcome, fits
    perfectly in both models (its own term runs to ± infinity): it adds nothing to the statistic and is
    left out, as R's fit does in the limit. No test (``reason`` set) with fewer than 2 strata, or
    scores with no spread, or when a model shows separation or does not converge.

    Parameters
    ----------
    strata : sequence of (k1, n1, k2, n2)
    scores : sequence of float, optional
        One score per stratum (default 1, 2, ...); used with ``scale="linear"``.
    scale : {"factor", "linear"}
    """
    if scale not in ("factor", "linear"):
        raise ValueError(f"scale must be 'factor' or 'linear', got {scale!r}")
    table = _strata(strata)
    if scores is None:
        values = np.arange(1.0, len(table) + 1.0)
    else:
        values = np.asarray(check_sequence(scores, "scores"), dtype=float)
        if values.shape != (len(table),) or not np.all(np.isfinite(values)):
            raise ValueError(f"scores must hold one finite number per stratum ({len(table)}), got {scores!r}")
    k1, n1, k2, n2 = (table[:, j] for j in range(4))
    if scale == "factor":
        keep = (n1 > 0) & (n2 > 0) & (k1 + k2 > 0) & (k1 + k2 < n1 + n2)
    else:
        keep = (n1 + n2) > 0
    used = int(keep.sum())

    def none(reason: str) -> InteractionTest:
        return InteractionTest(scale, None, None, None, used, reason)

    if used < 2 or (scale == "linear" and np.ptp(values[keep]) == 0):
        return none("Fewer than two skin types can be compared, so whether the difference between the treatments "
                    "changes with skin type cannot be tested.")
    table, values = table[keep], values[keep]
    # one row per (stratum, group) with treatments: exposed first, then unexposed
    exposed = np.repeat([[1.0, 0.0]], used, axis=0).ravel()
    stratum = np.repeat(np.arange(used), 2)
    events = table[:, [0, 2]].ravel()
    counts = table[:, [1, 3]].ravel()
    present = counts > 0
    exposed, stratum, events, counts = exposed[present], stratum[present], events[present], counts[present]
    if scale == "linear":
        s = values[stratum]
        reduced = np.column_stack([np.ones(len(s)), exposed, s])
        full = np.column_stack([reduced, exposed * s])
    else:
        dummies = (stratum[:, None] == np.arange(1, used)[None, :]).astype(float)
        reduced = np.column_stack([np.ones(len(stratum)), exposed, dummies])
        full = np.column_stack([reduced, exposed[:, None] * dummies])
    total = int(counts.sum())
    rank_reduced, rank_full = _rank(reduced, counts, total), _rank(full, counts, total)
    if rank_reduced < reduced.shape[1] or rank_full < full.shape[1]:
        return none("Each treatment was used in different skin types, so the difference between the treatments "
                    "and its change with skin type cannot be told apart.")
    dev_reduced = _deviance(reduced, events, counts)
    # the factor interaction model is saturated: it fits every cell exactly, deviance 0
    dev_full = 0.0 if scale == "factor" else _deviance(full, events, counts)
    if dev_reduced is None or dev_full is None:
        return none("In this selection the effect is perfectly predicted by treatment and skin type, so whether "
                    "the difference between the treatments changes with skin type cannot be tested reliably.")
    statistic = max(dev_reduced - dev_full, 0.0)
    df = rank_full - rank_reduced
    return InteractionTest(scale, statistic, df, float(sps.chi2.sf(statistic, df)), used)
