"""Statistical process control for side-effect rates: the p-chart.

Pure functions, no Streamlit. Every result is a small frozen dataclass; invalid input raises
``ValueError`` naming the bad value; empty input gives a result with ``None`` fields and a
``reason`` instead of raising.

Method
------
* :func:`p_chart` - Shewhart p-chart (Montgomery, *Introduction to Statistical Quality Control*,
  p-chart for fraction nonconforming; the same limits as R ``qcc::qcc(type="p")``) with the run
  rules of the NHS England "Making Data Count" SPC tools: a *shift* is 7 or more consecutive
  points on one side of the centre line and a *trend* is 7 or more consecutive points each
  higher (or each lower) than the one before, as implemented in the NHS-R ``NHSRplotthedots``
  package (``ptd_seven_point_one_side_mean`` and ``ptd_seven_point_trend`` in
  ``R/ptd_calculate_point_type.R``; its issue #202 confirms the 7-point rule for both, the
  Excel tool also offering 6).

  Which side of the centre line a month sits on is judged by its **count against the median count** of a
  month of its size at the average rate (the median of Binomial(n, p̄)), not by its rate against p̄.
  The run rules count on each point being as likely above the line as below it when nothing changes;
  with few events per month that fails (a month of 12 treatments at an average of 10 % has no event
  28 % of the time, and then sits "below average"; at 5 % it does so 54 % of the time), so runs of
  "below average" months appear in most stable clinics. By the definition of the median neither side is
  then more likely than 1 in 2, and with many events per month the two readings agree (they differ only
  for a count within one of n·p̄). On 60 datasets with no change at all (bench/false_alarms.py's null
  records, 300 treatments), the plain reading found a "shift worth looking into" in 30; this one in none.

Funnel plots, which compare units rather than periods, are in :mod:`analysis.stats.funnel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import cast

import numpy as np
from scipy.stats import binom, norm

from analysis.stats.checks import check_count, check_sequence

__all__ = [
    "Run",
    "runs",
    "SHIFT_RUN",
    "TREND_RUN",
    "PChartPoint",
    "PChart",
    "p_chart",
    "special_causes",
]

#: Consecutive points on one side of the centre line that make a shift (NHSRplotthedots).
SHIFT_RUN = 7
#: Consecutive points each above (or each below) the previous one that make a trend.
TREND_RUN = 7

RULE_OUTSIDE = "outside limits"
RULE_SHIFT = "shift"
RULE_TREND = "trend"


# --------------------------------------------------------------------------------------------
# p-chart
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PChartPoint:
    """One period (e.g. a month) of a p-chart.

    ``rate``, ``lower`` and ``upper`` are ``None`` for a period with no treatments.
    ``signal`` is True only when the rate lies outside the control limits; ``rule`` names the
    first special-cause rule the point meets, in the order "outside limits", "shift", "trend".
    """

    label: str
    events: int
    total: int
    rate: float | None
    lower: float | None
    upper: float | None
    signal: bool
    rule: str | None


@dataclass(frozen=True)
class PChart:
    """A p-chart: centre line ``centre`` (p-bar) and its points; ``reason`` when it is empty."""

    centre: float | None
    points: tuple[PChartPoint, ...]
    sigma: float
    reason: str | None = None


def p_chart(
    events: Sequence[int],
    totals: Sequence[int],
    labels: Sequence[str] | None = None,
    sigma: float = 3.0,
    exact: bool = False,
) -> PChart:
    """Shewhart p-chart for a rate per period, with the NHS "Making Data Count" run rules.

    The centre line is ``p̄ = Σevents / Σtotals``; each period ``i`` has limits
    ``p̄ ± sigma·sqrt(p̄(1−p̄)/n_i)`` clipped to ``[0, 1]``. A rate strictly above the upper or
    strictly below the lower limit is a signal (as ``qcc``'s rule 1). Periods with
    ``total == 0`` are kept, with ``rate``, ``lower`` and ``upper`` set to ``None``; they are
    skipped (neither counted nor breaking a run) by the run rules.

    Run rules (NHSRplotthedots, the R implementation of the NHS England Making Data Count
    tools): every point of a run of at least :data:`SHIFT_RUN` (7) consecutive points strictly
    on the same side of the centre line is marked "shift" (a point exactly on the centre line
    ends a run); every point of a run of at least :data:`TREND_RUN` (7) consecutive points each
    strictly higher (or each strictly lower) than the one before is marked "trend" (a repeated
    value ends a trend).

    Parameters
    ----------
    events : sequence of int
        Number of treatments with the side effect in each period.
    totals : sequence of int
        Number of treatments in each period; ``events[i] <= totals[i]``.
    labels : sequence of str, optional
        One label per period (e.g. ``"2024-03"``); defaults to ``"1"``, ``"2"``, ...
    sigma : float, default 3.0
        Width of the limits in standard errors.
    exact : bool, default False
        Also require, for a signal, that a count as far out (at least as many events above the upper limit, at
        most as few below the lower) has a chance under Binomial(n_i, p̄) below the normal tail the limits
        promise (``norm.sf(sigma)``: 1.35 in 1,000 at 3 standard errors). With a handful of expected events
        the count is so skewed that the normal-theory limits are crossed far more often than that when nothing
        changes: months of 6 treatments at 10 % cross the upper limit (3 events) 1.6 % of the time, so over 48
        months half of all charts would show a false signal. The limits drawn stay qcc's; with many expected
        events the two readings differ only just past the line (at 50 expected, 71 events of 1,000 at 5 % are
        past the upper limit of 70.7, yet happen with a chance of 0.0023: R ``pbinom(70, 1000, 0.05,
        lower.tail = FALSE)``). :mod:`analysis.findings.monitoring` uses it.

    Returns
    -------
    PChart

    Examples
    --------
    The first 30 samples of Montgomery's orange-juice can data (R ``qcc`` dataset
    ``orangejuice``): ``qcc(D[trial], sizes=size[trial], type="p")`` documents centre
    0.2313333, LCL 0.05242755 and UCL 0.4102391; samples 15 and 23 are out of control.

    >>> d = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
    ...      8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    >>> chart = p_chart(d, [50] * 30)
    >>> round(chart.centre, 7), round(chart.points[0].upper, 7)
    (0.2313333, 0.4102391)
    >>> [p.label for p in chart.points if p.signal]
    ['15', '23']
    """
    event_list = check_sequence(events, "events")
    total_list = check_sequence(totals, "totals")
    if len(event_list) != len(total_list):
        raise ValueError(f"events and totals must have the same length, got {len(event_list)} and {len(total_list)}")
    if labels is None:
        label_list = [str(i + 1) for i in range(len(event_list))]
    else:
        label_list = [str(label) for label in check_sequence(labels, "labels")]
        if len(label_list) != len(event_list):
            raise ValueError(f"labels must have one entry per period, "
                             f"got {len(label_list)} for {len(event_list)} periods")
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not math.isfinite(float(sigma)) or float(sigma) <= 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    sigma = float(sigma)

    counts: list[tuple[int, int]] = []
    for i, (k, n) in enumerate(zip(event_list, total_list)):
        k_i = check_count(k, f"events[{i}]")
        n_i = check_count(n, f"totals[{i}]")
        if k_i > n_i:
            raise ValueError(f"events[{i}] = {k_i} is more than totals[{i}] = {n_i}")
        counts.append((k_i, n_i))

    if not counts:
        return PChart(centre=None, points=(), sigma=sigma, reason="There are no periods to chart.")
    grand_total = sum(n for _, n in counts)
    if grand_total == 0:
        points = tuple(PChartPoint(lab, k, n, None, None, None, False, None)
                       for lab, (k, n) in zip(label_list, counts))
        return PChart(centre=None, points=points, sigma=sigma,
                      reason="There are no treatments in any period, so there is no rate to chart.")

    centre = sum(k for k, _ in counts) / grand_total
    rates: list[float | None] = []
    limits: list[tuple[float | None, float | None]] = []
    outside: list[bool] = []
    for k, n in counts:
        if n == 0:
            rates.append(None)
            limits.append((None, None))
            outside.append(False)
            continue
        rate = k / n
        half = sigma * math.sqrt(centre * (1.0 - centre) / n)
        lower = max(0.0, centre - half)
        upper = min(1.0, centre + half)
        rates.append(rate)
        limits.append((lower, upper))
        beyond = rate > upper or rate < lower
        if beyond and exact:
            chance = binom.sf(k - 1, n, centre) if rate > upper else binom.cdf(k, n, centre)
            beyond = bool(chance < norm.sf(sigma))
        outside.append(beyond)

    rules = special_causes(rates, centre, outside, sides=_sides(counts, centre))
    points = []
    for i, (lab, (k, n)) in enumerate(zip(label_list, counts)):
        points.append(PChartPoint(lab, k, n, rates[i], limits[i][0], limits[i][1], outside[i], rules[i]))
    return PChart(centre=centre, points=tuple(points), sigma=sigma)


def _sides(counts: Sequence[tuple[int, int]], centre: float) -> list[int]:
    """Each period's side of the centre line for the shift rule: +1 when its count is above the median count
    of Binomial(n, centre), -1 below, 0 on it (or no treatments); see the module's *Method*."""
    if not counts:
        return []
    events = np.array([k for k, _ in counts], dtype=float)
    totals = np.array([n for _, n in counts], dtype=float)
    median = binom.ppf(0.5, totals, centre)  # the smallest m with P(X <= m) >= 1/2, all months in one call
    return [0 if n == 0 else int(np.sign(k - m)) for k, n, m in zip(events, totals, median)]


def special_causes(values: Sequence[float | None], centre: float, outside: Sequence[bool],
                   sides: Sequence[int] | None = None) -> list[str | None]:
    """The first special-cause rule each point meets: "outside limits", "shift", "trend" or ``None``.

    ``values`` are the charted values (``None`` for a period with nothing to chart: skipped by the run
    rules, neither counted nor breaking a run), ``centre`` the centre line and ``outside[i]`` whether
    point ``i`` lies outside its limits. The run rules are those of :func:`p_chart` (NHSRplotthedots):
    :data:`SHIFT_RUN` points strictly on one side of ``centre`` (or, given ``sides``, on the side each
    point's entry names: +1, -1, or 0 on the line), :data:`TREND_RUN` points each strictly higher (or
    lower) than the one before. Any chart of one value per period with a centre line can use
    them, e.g. the case-mix-adjusted chart of :mod:`analysis.stats.casemix` (centre 1).

    >>> special_causes([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.5], 2.5, [False] * 7 + [True])
    ['trend', 'trend', 'trend', 'trend', 'trend', 'trend', 'trend', 'outside limits']
    """
    rates = list(values)
    if len(outside) != len(rates):
        raise ValueError(f"outside must have one entry per value, got {len(outside)} for {len(rates)}")
    shift = _shift_points(rates, centre, sides)
    trend = _trend_points(rates)
    return [RULE_OUTSIDE if outside[i] else RULE_SHIFT if shift[i] else RULE_TREND if trend[i] else None
            for i in range(len(rates))]


def _shift_points(rates: list[float | None], centre: float, sides: Sequence[int] | None = None) -> list[bool]:
    """Points belonging to a run of >= SHIFT_RUN consecutive points on one side of the centre (``sides``: each
    point's side, when not its value against ``centre``)."""
    flags = [False] * len(rates)
    observed = [i for i, r in enumerate(rates) if r is not None]
    run: list[int] = []
    run_side = 0
    for i in observed:
        side = sides[i] if sides is not None else _sign(rates[i], centre)
        if side != 0 and side == run_side:
            run.append(i)
        else:
            _flag_run(flags, run, SHIFT_RUN)
            run = [i] if side != 0 else []
            run_side = side
    _flag_run(flags, run, SHIFT_RUN)
    return flags


def _trend_points(rates: list[float | None]) -> list[bool]:
    """Points belonging to a run of >= TREND_RUN consecutive strictly rising (or falling) points."""
    flags = [False] * len(rates)
    observed = [i for i, r in enumerate(rates) if r is not None]
    run: list[int] = observed[:1]
    direction = 0
    for prev, i in zip(observed, observed[1:]):
        a, b = cast(float, rates[prev]), cast(float, rates[i])
        step = (b > a) - (b < a)
        if step != 0 and step == direction:
            run.append(i)
        else:
            _flag_run(flags, run, TREND_RUN)
            run = [prev, i] if step != 0 else [i]
            direction = step
    _flag_run(flags, run, TREND_RUN)
    return flags


def _flag_run(flags: list[bool], run: list[int], length: int) -> None:
    if len(run) >= length:
        for i in run:
            flags[i] = True


# --------------------------------------------------------------------------------------------
# runs, one by one
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run that meets a run rule: ``rule`` ("shift" or "trend"), the labels of its ``first`` and
    ``last`` points, and its ``direction`` (+1 above the centre line or rising, -1 below or falling)."""

    rule: str
    first: str
    last: str
    direction: int


def runs(chart: PChart) -> tuple[Run, ...]:
    """Every shift and trend run of ``chart``, one by one: shifts first, each kind in time order.

    The runs are made of the points the run rules of :func:`p_chart` mark, whatever rule a point is
    labelled with (a point outside the limits can belong to a run too). Two trends that touch (a rise
    then a fall) share their turning point, as in the rules. A run keeps its ``first`` label when later
    periods extend it, so it can be recognised again.
    """
    if chart.centre is None:
        return ()
    rates = [p.rate for p in chart.points]
    observed = [i for i, r in enumerate(rates) if r is not None]
    found: list[Run] = []
    sides = _sides([(p.events, p.total) for p in chart.points], chart.centre)
    shift = _shift_points(rates, chart.centre, sides)
    current: list[int] = []
    side = 0
    for i in observed:  # a shift: consecutive marked points on one side (a run on the other side is another)
        here = sides[i]
        if shift[i] and current and here == side:
            current.append(i)
        else:
            _keep(found, RULE_SHIFT, chart, current, side)
            current, side = ([i], here) if shift[i] else ([], 0)
    _keep(found, RULE_SHIFT, chart, current, side)
    trend = _trend_points(rates)
    current, direction = [], 0
    for prev, i in zip(observed, observed[1:]):  # a trend: consecutive marked steps in one direction
        step = _sign(rates[i], rates[prev])
        marked = trend[prev] and trend[i] and step != 0
        if marked and step == direction:
            current.append(i)
        else:
            _keep(found, RULE_TREND, chart, current, direction)
            current, direction = ([prev, i], step) if marked else ([], 0)
    _keep(found, RULE_TREND, chart, current, direction)
    return tuple(found)


def _sign(value: float | None, reference: float | None) -> int:
    a, b = cast(float, value), cast(float, reference)
    return (a > b) - (a < b)


def _keep(found: list[Run], rule: str, chart: PChart, indices: list[int], direction: int) -> None:
    if len(indices) >= (SHIFT_RUN if rule == RULE_SHIFT else TREND_RUN):
        found.append(Run(rule, chart.points[indices[0]].label, chart.points[indices[-1]].label, direction))
