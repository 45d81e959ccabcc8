"""Funnel plots for side-effect rates: exact limits and indirect standardisation.

Pure functions, no Streamlit. Every result is a small frozen dataclass; invalid input raises
``ValueError`` naming the bad value; empty input gives a result with ``None`` fields and a
``reason`` instead of raising.

Methods
-------
* :func:`funnel_limits` - exact binomial funnel limits for a proportion with the interpolation of
  Spiegelhalter DJ (2005) "Funnel plots for comparing institutional performance", Stat Med
  24:1185-1202, appendix A.1.1.
* :func:`ratio_funnel_limits`, :func:`funnel_plot` and :func:`expected_counts` - indirectly
  standardised observed/expected ratios plotted against the expected count E with exact Poisson
  limits (Spiegelhalter 2005, Table I, "standardised ratio": target 1, precision E, Poisson) and
  the same interpolation.

The p-chart, which follows one rate over time, is in :mod:`analysis.stats.pchart`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.checks import NOT_RECORDED as NOT_RECORDED  # re-exported: the name of a unit with no name
from analysis.stats.checks import binary_values, check_count, check_level, check_sequence, level_codes

__all__ = [
    "FunnelCurve",
    "FunnelLimits",
    "funnel_limits",
    "ratio_funnel_limits",
    "FunnelUnit",
    "Funnel",
    "funnel_plot",
    "expected_counts",
    "event_flags",
    "stratum_codes",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _confidences(confidences: Any) -> tuple[float, ...]:
    levels = tuple(check_level(c, "confidence") for c in check_sequence(confidences, "confidences"))
    if not levels:
        raise ValueError("confidences must name at least one level, got ()")
    return levels


# --------------------------------------------------------------------------------------------
# funnel limits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelCurve:
    """Limits at one confidence level across a range of sizes, for drawing a funnel.

    ``size`` is the number of treatments (proportion funnels) or the expected count E (ratio
    funnels); ``lower[i]`` and ``upper[i]`` are the limits at ``size[i]`` (``None`` at size 0).
    """

    confidence: float
    size: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]


@dataclass(frozen=True)
class FunnelLimits:
    """Funnel limits around ``target`` at each requested confidence level.

    ``reason`` is set (and every curve empty) when no sizes were given.
    """

    target: float
    method: str
    curves: tuple[FunnelCurve, ...]
    reason: str | None = None


_BINOMIAL_METHOD = ("exact binomial limits with the interpolation of Spiegelhalter (2005) appendix A.1.1, "
                    "held on the target's side of the target")
_POISSON_METHOD = ("indirectly standardised ratio O/E with exact Poisson(E) limits, interpolated as in "
                   "Spiegelhalter (2005) appendix A.1.1 (Table I: target 1, precision E), held on the "
                   "target's side of the target")


def _interpolated_quantile(dist: Any, p: float) -> np.ndarray:
    """Spiegelhalter (2005) appendix A.1.1: ``r_p − α`` for a discrete distribution.

    ``r_p`` is the smallest count with ``P(R <= r_p) >= p`` and
    ``α = (P(R <= r_p) − p) / (P(R <= r_p) − P(R <= r_p − 1))``.
    """
    r = np.asarray(dist.ppf(p), dtype=float)
    upper_cdf = np.asarray(dist.cdf(r), dtype=float)
    lower_cdf = np.asarray(dist.cdf(r - 1), dtype=float)
    step = upper_cdf - lower_cdf
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(step > 0, (upper_cdf - p) / np.where(step > 0, step, 1.0), 0.0)
    return r - alpha


def _binomial_limits(target: float, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2.0
    dist = stats.binom(n, target)
    lower = _interpolated_quantile(dist, tail) / n
    upper = _interpolated_quantile(dist, 1.0 - tail) / n
    # The interpolation can put a limit on the wrong side of the target when n·target is tiny
    # (or the target is near 1); holding it at the target only removes "outside" calls for
    # rates that are not on the outside side of the target at all.
    return np.clip(lower, 0.0, target), np.clip(upper, target, 1.0)


def _poisson_ratio_limits(expected: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2.0
    dist = stats.poisson(expected)
    lower = _interpolated_quantile(dist, tail) / expected
    upper = _interpolated_quantile(dist, 1.0 - tail) / expected
    return np.clip(lower, 0.0, 1.0), np.maximum(upper, 1.0)


def funnel_limits(
    target: float,
    totals: Sequence[int],
    confidences: Sequence[float] = (0.95, 0.998),
) -> FunnelLimits:
    """Exact binomial funnel limits for a proportion (Spiegelhalter 2005, appendix A.1.1).

    For ``n`` treatments and target proportion ``θ`` the ``p``-limit is ``(r_p − α)/n`` where
    ``r_p`` is the smallest count with ``P(R <= r_p) >= p`` for ``R ~ Binomial(n, θ)`` and
    ``α = (P(R <= r_p) − p) / (P(R <= r_p) − P(R <= r_p − 1))`` (the interpolation that makes
    the funnel smooth). ``p = (1 − confidence)/2`` gives the lower and ``1 − p`` the upper limit.
    Limits are clipped to ``[0, θ]`` (lower) and ``[θ, 1]`` (upper): the interpolation otherwise
    puts the upper limit below the target when ``n·θ`` is tiny or ``θ`` is close to 1. For large
    ``n`` the limits approach the normal approximation ``θ ± z·sqrt(θ(1−θ)/n)``.

    Note the interpolated upper limit sits just below the count ``r_p``, so a unit with exactly
    ``r_p`` events is "above"; for small units the chance of that is somewhat more than the
    nominal ``(1 − confidence)/2`` (a known property of the interpolation: Manktelow & Seaton
    2012, PLoS ONE 7:e45723). The lower limit errs the other way.

    Parameters
    ----------
    target : float
        Target proportion θ in ``[0, 1]`` (usually the overall rate).
    totals : sequence of int
        Numbers of treatments at which to compute limits; a total of 0 gives ``None`` limits.
    confidences : sequence of float, default (0.95, 0.998)
        Two-sided levels, each strictly between 0 and 1.

    Returns
    -------
    FunnelLimits
        One :class:`FunnelCurve` per confidence, in the order given.

    Examples
    --------
    Ten treatments, target 0.5, 95 %: ``P(R <= 8) = 1013/1024`` and ``P(R <= 7) = 968/1024``,
    so ``r = 8``, ``α = (1013/1024 − 0.975)/(45/1024) = 0.3244…`` and the upper limit is
    ``(8 − α)/10``.

    >>> limits = funnel_limits(0.5, [10], confidences=(0.95,))
    >>> round(limits.curves[0].upper[0], 6)
    0.767556
    """
    if isinstance(target, bool) or not isinstance(target, Real) or not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"target must be a proportion between 0 and 1, got {target!r}")
    target = float(target)
    sizes = [check_count(n, f"totals[{i}]") for i, n in enumerate(check_sequence(totals, "totals"))]
    levels = _confidences(confidences)
    curves = _curves([float(x) for x in sizes], levels, lambda n, c: _binomial_limits(target, n, c))
    return FunnelLimits(target=target, method=_BINOMIAL_METHOD, curves=curves,
                        reason=None if sizes else "No sizes were given, so there are no limits to draw.")


def _curves(sizes: list[float], levels: tuple[float, ...],
            limits: Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]) -> tuple[FunnelCurve, ...]:
    """One curve per confidence level from ``limits(positive sizes, confidence)``; a size of 0 gets None."""
    size = np.asarray(sizes, dtype=float)
    positive = size > 0
    curves = []
    for confidence in levels:
        lower = np.full(size.shape, np.nan)
        upper = np.full(size.shape, np.nan)
        if positive.any():
            lower[positive], upper[positive] = limits(size[positive], confidence)
        curves.append(FunnelCurve(
            confidence=confidence,
            size=tuple(sizes),
            lower=tuple(None if not ok else float(v) for ok, v in zip(positive, lower)),
            upper=tuple(None if not ok else float(v) for ok, v in zip(positive, upper)),
        ))
    return tuple(curves)


def ratio_funnel_limits(
    expected: Sequence[float],
    confidences: Sequence[float] = (0.95, 0.998),
) -> FunnelLimits:
    """Exact Poisson funnel limits for an indirectly standardised ratio O/E (target 1).

    With ``O ~ Poisson(E)`` under the target, the ``p``-limit on the ratio scale is
    ``(r_p − α)/E`` with ``r_p`` and ``α`` as in :func:`funnel_limits` (Spiegelhalter 2005,
    Table I "standardised ratio" and appendix A.1.1). Lower limits are clipped to ``[0, 1]``
    and upper limits held at or above 1.

    Parameters
    ----------
    expected : sequence of float
        Expected counts E >= 0; an E of 0 gives ``None`` limits.
    confidences : sequence of float, default (0.95, 0.998)

    Returns
    -------
    FunnelLimits

    Examples
    --------
    E = 2, 95 %: ``P(O <= 4) = 7·e⁻²`` and ``P(O <= 5) = (109/15)·e⁻²``, so ``r = 5`` and the
    upper ratio limit is ``(5 − α)/2``:

    >>> round(ratio_funnel_limits([2.0], (0.95,)).curves[0].upper[0], 6)
    2.383118
    """
    values = []
    for i, e in enumerate(check_sequence(expected, "expected")):
        if isinstance(e, bool) or not isinstance(e, Real) or not math.isfinite(float(e)) or float(e) < 0:
            raise ValueError(f"expected[{i}] must be a number >= 0, got {e!r}")
        values.append(float(e))
    levels = _confidences(confidences)
    curves = _curves(values, levels, _poisson_ratio_limits)
    return FunnelLimits(target=1.0, method=_POISSON_METHOD, curves=curves,
                        reason=None if values else "No expected counts were given, so there are no limits to draw.")


# --------------------------------------------------------------------------------------------
# indirect standardisation and the funnel plot
# --------------------------------------------------------------------------------------------


def event_flags(series: pd.Series, column: str) -> np.ndarray:
    """0/1 integers from a boolean-like column; ValueError naming a bad or missing value."""
    fast = binary_values(series)
    if fast is not None:
        return fast.astype(np.int64)
    values = series.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            raise ValueError(f"{column} has a missing value (row {series.index[i]!r}); "
                             "every treatment must say whether the event happened")
        if isinstance(value, (bool, np.bool_)):
            out[i] = int(bool(value))
        elif isinstance(value, (Integral, Real)) and float(value) in (0.0, 1.0):
            out[i] = int(float(value))
        else:
            raise ValueError(f"{column} must hold True/False or 1/0, got {value!r} (row {series.index[i]!r})")
    return out


def _labels(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Group labels with missing values shown as "(not recorded)", as integer codes into a label series.

    ``labels.iloc[codes]`` equals ``series.astype(object).where(series.notna(), "(not recorded)")``:
    the labels are the distinct values converted as ``astype(object)`` converts them, numbered in
    order of first appearance (as ``groupby(sort=False)`` orders groups); a missing value shares the
    code of a recorded "(not recorded)", if any.
    """
    codes, labels = level_codes(series)
    if series.isna().any():  # missing values joined NOT_RECORDED: back to order of first appearance
        codes, order = pd.factorize(codes)
        labels = [labels[k] for k in order]
    return np.asarray(codes, dtype=np.intp), pd.Series(labels, dtype=object)


def stratum_codes(frame: pd.DataFrame, stratum_columns: Sequence[str]) -> np.ndarray:
    """Each row's stratum as a code 0, 1, ...: a combination of the columns' labels as text (so 2 and "2" are
    one level; a missing value is the level "(not recorded)"); every row is stratum 0 with no columns."""
    stratum = np.zeros(len(frame), dtype=np.int64)
    for column in stratum_columns:
        codes, labels = _labels(frame[column])
        text_codes = pd.factorize(labels.astype(str).to_numpy(dtype=object))[0]
        stratum = stratum * (int(text_codes.max()) + 1) + text_codes[codes]
        stratum = pd.factorize(stratum)[0].astype(np.int64)
    return stratum


def expected_counts(
    frame: pd.DataFrame,
    unit_column: str,
    stratum_columns: Sequence[str],
    event_column: str,
) -> pd.DataFrame:
    """Observed and expected event counts per unit by indirect standardisation.

    The reference (standard) rate of each stratum is the rate over the whole ``frame``:
    ``rate_s = events_s / treatments_s``. A unit's expected count is the sum over its
    treatments of the rate of the treatment's stratum, ``E_u = Σ_s n_{u,s}·rate_s``, so that
    ``Σ_u E_u = Σ_u O_u`` (Spiegelhalter 2005, §3; Spiegelhalter et al. 2012, JRSS A 175:1-47).
    Missing unit or stratum values form their own level "(not recorded)".

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per treatment.
    unit_column : str
        The unit compared (e.g. ``"clinic"`` or ``"practitioner"``).
    stratum_columns : sequence of str
        Case-mix columns whose combinations are the strata (e.g.
        ``("modality", "fitzpatrick_type")``); may be empty (crude comparison).
    event_column : str
        Boolean (or 0/1) column saying whether the event happened.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``treatments``, ``observed``, ``expected``; one row per unit,
        sorted by name; empty (with those columns) when ``frame`` has no rows.

    Examples
    --------
    Stratum "a" has 1 event in 4 treatments (rate 1/4), stratum "b" 2 in 2 (rate 1). Unit X has
    3 "a" treatments and 1 "b": E = 3/4 + 1 = 1.75.

    >>> df = pd.DataFrame({"unit": ["X", "X", "X", "X", "Y", "Y"],
    ...                    "s": ["a", "a", "a", "b", "a", "b"],
    ...                    "event": [False, False, True, True, False, True]})
    >>> expected_counts(df, "unit", ["s"], "event")["expected"].tolist()
    [1.75, 1.25]
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    strata = [stratum_columns] if isinstance(stratum_columns, str) else list(stratum_columns)
    for column in (unit_column, event_column, *strata):
        if column not in frame.columns:
            raise ValueError(f"frame has no column {column!r}")
    columns = ["name", "treatments", "observed", "expected"]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(columns, (object, "int64", "int64", "float64"))})

    unit, names = _labels(frame[unit_column])
    event = event_flags(frame[event_column], event_column)
    stratum = stratum_codes(frame, strata)
    # Rate of each stratum over the whole frame, then each treatment's expected count is its
    # stratum's rate; a unit's expected count is their sum in row order (as a group sum always was).
    size = int(stratum.max()) + 1
    stratum_events = np.bincount(stratum, weights=event, minlength=size)
    stratum_rate = stratum_events / np.bincount(stratum, minlength=size)
    expected = pd.Series(stratum_rate[stratum]).groupby(unit, sort=True).sum()
    present = expected.index.to_numpy()
    treatments = np.bincount(unit, minlength=len(names))[present]
    observed = np.bincount(unit, weights=event, minlength=len(names))[present]
    # The unit index as grouping a frame by its "name" column makes it (its dtype is inferred
    # from the labels: int64 for whole-number names, text for text ones).
    name_index = pd.DataFrame({"name": names.iloc[present].to_numpy(dtype=object)}).groupby(
        "name", sort=False).size().index
    out = pd.DataFrame({
        "treatments": treatments.astype("int64"),
        "observed": np.rint(observed).astype("int64"),
        "expected": expected.to_numpy(dtype=float),
    }, index=name_index)
    out.index.name = "name"
    out = out.reset_index()
    # Units by name (as text); codes number them in order of first appearance, which breaks ties.
    text = [str(name) for name in out["name"].tolist()]
    order = sorted(range(len(out)), key=lambda i: text[i])
    return out.iloc[order].reset_index(drop=True)[columns]


@dataclass(frozen=True)
class FunnelUnit:
    """One unit on a standardised-ratio funnel plot.

    ``ratio`` = observed/expected (``None`` when expected is 0); ``rate`` = observed/treatments
    (``None`` with no treatments); ``low95``…``high998`` are the limits for ``ratio`` at the
    unit's expected count; ``outside`` is "above 99.8 %", "above 95 %", "below 95 %",
    "below 99.8 %" or ``None``; ``reason`` explains any ``None``.
    """

    name: str
    treatments: int
    observed: int
    expected: float
    ratio: float | None
    rate: float | None
    low95: float | None
    high95: float | None
    low998: float | None
    high998: float | None
    outside: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Funnel:
    """A standardised-ratio funnel plot: units and limit curves (against expected count E)."""

    target: float
    units: tuple[FunnelUnit, ...]
    curves: tuple[FunnelCurve, ...]
    overall_rate: float | None
    method: str
    reason: str | None = None


def funnel_plot(groups: pd.DataFrame, *, points: int = 100) -> Funnel:
    """Funnel plot of indirectly standardised ratios O/E against the expected count E.

    Implements Spiegelhalter (2005) Table I, "standardised ratio": indicator ``O/E``, target 1,
    precision ``E``, ``O ~ Poisson(E)`` under the target, with exact limits interpolated as in
    the appendix (see :func:`ratio_funnel_limits`). The x-axis of :attr:`Funnel.curves` is E.
    The Poisson model ignores the cap ``O <= treatments``; when rates are high it makes the
    limits a little wider (fewer units called outside) than a binomial model would. No
    adjustment is made for over-dispersion (Spiegelhalter 2005, §5).

    Parameters
    ----------
    groups : pandas.DataFrame
        Columns ``name``, ``observed``, ``expected``, ``treatments`` (e.g. the output of
        :func:`expected_counts`). Units with 0 treatments or 0 expected are kept with ``None``
        ratio and limits and a ``reason``.
    points : int, default 100
        Number of expected-count values in each limit curve.

    Returns
    -------
    Funnel

    Examples
    --------
    >>> groups = pd.DataFrame({"name": ["A", "B"], "observed": [9, 1],
    ...                        "expected": [2.0, 8.0], "treatments": [40, 160]})
    >>> [u.outside for u in funnel_plot(groups).units]
    ['above 99.8 %', 'below 95 %']
    """
    if not isinstance(groups, pd.DataFrame):
        raise ValueError(f"groups must be a pandas DataFrame, got {type(groups).__name__}")
    missing = [c for c in ("name", "observed", "expected", "treatments") if c not in groups.columns]
    if missing:
        raise ValueError(f"groups is missing column(s) {missing}")
    if isinstance(points, bool) or not isinstance(points, Integral) or points < 2:
        raise ValueError(f"points must be a whole number >= 2, got {points!r}")

    names = [str(n) for n in groups["name"].tolist()]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"groups has duplicate unit names {duplicated}")
    rows = []
    for i, (name, o, e, n) in enumerate(zip(names, groups["observed"], groups["expected"], groups["treatments"])):
        observed = check_count(o, f"observed for {name!r}")
        treatments = check_count(n, f"treatments for {name!r}")
        if observed > treatments:
            raise ValueError(f"observed = {observed} is more than treatments = {treatments} for {name!r}")
        if isinstance(e, bool) or not isinstance(e, Real) or not math.isfinite(float(e)) or float(e) < 0:
            raise ValueError(f"expected for {name!r} must be a number >= 0, got {e!r}")
        rows.append((name, observed, float(e), treatments))

    total_treatments = sum(r[3] for r in rows)
    overall = sum(r[1] for r in rows) / total_treatments if total_treatments else None
    positive = [r[2] for r in rows if r[2] > 0 and r[3] > 0]
    unit_limits = ratio_funnel_limits(positive, (0.95, 0.998)) if positive else None

    units = []
    k = 0
    for name, observed, expected, treatments in rows:
        if treatments == 0:
            units.append(FunnelUnit(name, 0, observed, expected, None, None, None, None, None, None, None,
                                    "no treatments in this selection"))
            continue
        rate = observed / treatments
        if expected == 0:
            units.append(FunnelUnit(name, treatments, observed, expected, None, rate, None, None, None, None,
                                    None, "no events expected (the reference rate is zero for all of this "
                                          "unit's treatments), so there is no ratio to compare"))
            continue
        c95, c998 = cast(FunnelLimits, unit_limits).curves
        low95, high95 = cast(float, c95.lower[k]), cast(float, c95.upper[k])
        low998, high998 = cast(float, c998.lower[k]), cast(float, c998.upper[k])
        k += 1
        ratio = observed / expected
        if ratio > high998:
            outside = "above 99.8 %"
        elif ratio > high95:
            outside = "above 95 %"
        elif ratio < low998:
            outside = "below 99.8 %"
        elif ratio < low95:
            outside = "below 95 %"
        else:
            outside = None
        units.append(FunnelUnit(name, treatments, observed, expected, ratio, rate,
                                low95, high95, low998, high998, outside))

    if positive:
        lo, hi = min(positive) / 2.0, max(positive) * 1.1
        grid = np.geomspace(lo, hi, int(points)).tolist()
        curves = ratio_funnel_limits(grid, (0.95, 0.998)).curves
        reason = None
    else:
        curves = ()
        reason = ("There are no units to compare." if not rows else
                  "No unit has both treatments and expected events, so there is nothing to plot.")
    return Funnel(target=1.0, units=tuple(units), curves=curves, overall_rate=overall,
                  method=_POISSON_METHOD, reason=reason)


def poisson_p_value(observed: int, expected: float) -> float | None:
    """Two-sided exact p-value for ``observed`` events where ``expected`` were expected (O ~ Poisson(E)).

    The same test as R's ``poisson.test(observed, expected)``: the probability of every count no
    more likely than the one observed (with R's relative tolerance 1e-7). None when nothing was expected.

    >>> round(poisson_p_value(9, 2.0), 6)
    0.000237
    """
    from scipy.stats import poisson

    if expected <= 0:
        return None
    d = poisson.pmf(observed, expected) * (1 + 1e-7)
    if observed == expected:
        return 1.0
    if observed < expected:
        n = math.ceil(2 * expected - observed)
        while poisson.pmf(n, expected) > d:
            n *= 2
        i = np.arange(math.ceil(expected), n + 1)
        y = int((poisson.pmf(i, expected) <= d).sum())
        p = poisson.cdf(observed, expected) + poisson.sf(n - y, expected)
    else:
        i = np.arange(0, math.floor(expected) + 1)
        y = int((poisson.pmf(i, expected) <= d).sum())
        p = poisson.cdf(y - 1, expected) + poisson.sf(observed - 1, expected)
    return float(min(1.0, p))
