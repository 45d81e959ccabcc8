"""Case-mix-adjusted control chart: each period's events against the number expected from its own case mix.

Pure functions, no Streamlit. Results are small frozen dataclasses; invalid input raises ``ValueError``
naming the bad value; empty input gives a result with a ``reason`` instead of raising.

Method
------
A crude p-chart (:mod:`analysis.stats.pchart`) judges every period against one average rate. When the
mix of patients changes from period to period (say one month treats many Fitzpatrick type V-VI
patients, whose hyperpigmentation rate is higher) the crude rate moves with the mix, and the chart
signals a change in the patients, not in the care. The chart here judges each period against what its
own mix predicts:

* **Expected count, by indirect standardisation against the other periods.** Each stratum ``s`` (a
  combination of case-mix columns, e.g. skin type x treatment area) has a reference rate, and period ``t``'s
  expected count is ``E_t = Σ_s n_{t,s}·rate_s^(-t)``: the standardised morbidity ratio of Breslow NE, Day NE
  (1987) *Statistical Methods in Cancer Research, Vol. II*, IARC Scientific Publications 82, chapter 2. The
  reference rate leaves the judged period out: ``rate_s^(-t) = (events_s - events_{t,s}) / (n_s - n_{t,s})``,
  the rate of stratum ``s`` in all the *other* judged periods. A rate that included the period itself would let
  a stratum treated mostly in that period explain its own events (treated in one month only, its "expected"
  equals its observed). When the other periods hold fewer of the stratum's treatments than the period itself
  (``n_s - n_{t,s} < n_{t,s}``, none at all included), its treatments count with the pooled rate of all the other
  periods instead, so a period's case mix is credited only through strata established elsewhere. A period
  with no other periods to compare with has no expected count. Comparing each unit with a reference made
  without it is the cross-validatory ("leave one out") comparison of Ohlssen DI, Sharples LD, Spiegelhalter DJ
  (2007) "A hierarchical modelling framework for identifying unusual performance in health care providers",
  JRSS A 170:865-890. ``Σ_t E_t`` is no longer exactly ``Σ_t O_t``; the target of ``O_t/E_t`` is 1 all the
  same: the period is as its mix predicts from the others.
* **Limits.** Under "no change but the case mix" ``O_t ~ Poisson(E_t)``; the limits for ``O_t/E_t`` are
  the exact Poisson limits with the interpolation of Spiegelhalter DJ (2005) "Funnel plots for comparing
  institutional performance", Stat Med 24:1185-1202 (Table I "standardised ratio", appendix A.1.1), at
  99.8 % by default, the level Spiegelhalter uses as the counterpart of 3-sigma limits
  (:func:`analysis.stats.funnel.ratio_funnel_limits`). On the rate scale they are the month's expected
  rate ``E_t/n_t`` times the ratio limits, so a month of high-risk patients gets a higher expected rate
  and higher limits. Poisson ignores the cap ``O_t <= n_t``; with high rates the limits are slightly wider
  than a binomial model's (fewer signals, never more).
* **One rule: a period outside its limits.** The chart raises no run rules (shift, trend) of its own. The
  leave-one-out references are not one common centre (each period has its own), and a spell of high periods
  lowers every other period's ratio, so runs of 7 about 1 would signal far more often than the p-chart's; the
  p-chart's run rules judge runs. This chart judges single periods and says whether a p-chart signal is
  explained by the period's case mix.

Control charts that judge each period against its own risk-adjusted expectation, instead of one
average, are the risk-adjusted charts argued for by Mohammed MA, Cheng KK, Rouse A, Marshall T (2001)
"Bristol, Shipman, and clinical governance: Shewhart's forgotten lessons", Lancet 357:463-467, and used
for monthly hospital outcomes by Cook DA et al. (2003) Crit Care Med 31:1676-1682.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from numbers import Real

import numpy as np
import pandas as pd

from analysis.stats.checks import check_count, check_level, check_sequence, level_codes
from analysis.stats.funnel import event_flags, ratio_funnel_limits, stratum_codes
from analysis.stats.pchart import RULE_OUTSIDE

__all__ = ["CASEMIX_CONFIDENCE", "outside_ratio_limits", "CaseMixPoint", "CaseMixChart", "case_mix_chart", "case_mix_chart_from_rows",
           "case_mix_charts_by"]

#: Two-sided level of the limits: Spiegelhalter's (2005) counterpart of 3-sigma limits.
CASEMIX_CONFIDENCE = 0.998

_METHOD = ("observed / expected per period, expected by indirect standardisation with each stratum's rate in the "
           "other judged periods (the pooled rate of the other periods when they hold fewer of the stratum than the "
           "period); exact Poisson(E) limits interpolated as in Spiegelhalter (2005) appendix A.1.1; one rule, a "
           "period outside its limits (no run rules)")


@dataclass(frozen=True)
class CaseMixPoint:
    """One period: ``observed`` events where ``expected`` were expected from its case mix.

    ``ratio`` = observed / expected and ``lower``/``upper`` its limits; ``rate`` = observed / treatments,
    ``expected_rate`` = expected / treatments and ``rate_lower``/``rate_upper`` the limits on the rate
    scale (``expected_rate`` x the ratio limits). All are ``None`` for a period with no treatments or
    nothing expected (``reason`` says which). ``signal`` is True only outside the limits, and ``rule`` is then
    "outside limits" (else ``None``): the chart has no run rules.
    """

    label: str
    treatments: int
    observed: int
    expected: float
    ratio: float | None
    lower: float | None
    upper: float | None
    rate: float | None
    expected_rate: float | None
    rate_lower: float | None
    rate_upper: float | None
    signal: bool
    rule: str | None
    reason: str | None = None


@dataclass(frozen=True)
class CaseMixChart:
    """A case-mix-adjusted control chart: points around the centre line ``centre`` (always 1)."""

    points: tuple[CaseMixPoint, ...]
    confidence: float
    strata: tuple[str, ...]
    method: str
    centre: float = 1.0
    reason: str | None = None


def case_mix_chart(
    observed: Sequence[int],
    expected: Sequence[float],
    totals: Sequence[int],
    labels: Sequence[str] | None = None,
    confidence: float = CASEMIX_CONFIDENCE,
    strata: Sequence[str] = (),
    min_expected: float = 0.0,
) -> CaseMixChart:
    """Control chart of observed / expected per period with exact Poisson limits around 1; the only rule is a
    period outside its limits.

    Parameters
    ----------
    observed, expected, totals : sequences, one entry per period
        Events, expected events (>= 0) and treatments in each period; ``observed <= totals``.
    labels : sequence of str, optional
        One label per period; defaults to ``"1"``, ``"2"``, ...
    confidence : float, default 0.998
        Two-sided level of the limits.
    strata : sequence of str
        The case-mix columns the expected counts allow for (recorded on the result).
    min_expected : float, default 0
        A period expecting fewer events is charted but never outside the limits: with a handful expected, the
        interpolated Poisson limits flag far more often than their level says (3 events against 0.41
        expected lies above the 99.8 % limit, although its tail probability is 0.0085). The dashboard uses 5,
        as its funnel plots do.

    Returns
    -------
    CaseMixChart

    Examples
    --------
    Two expected: the 99.8 % upper limit of O/E at E = 2 is 3.556280 (R: ``r <- qpois(0.999, 2)`` = 8,
    ``a <- (ppois(r, 2) - 0.999)/(ppois(r, 2) - ppois(r - 1, 2))`` = 0.8874408, ``(r - a)/2``), so five
    observed (2.5) is inside it and nine (4.5) outside.

    >>> chart = case_mix_chart([5, 9], [2.0, 2.0], [20, 20], ["a", "b"])
    >>> [(p.ratio, p.rule) for p in chart.points]
    [(2.5, None), (4.5, 'outside limits')]
    """
    obs = check_sequence(observed, "observed")
    exp = check_sequence(expected, "expected")
    tot = check_sequence(totals, "totals")
    if not len(obs) == len(exp) == len(tot):
        raise ValueError(f"observed, expected and totals must have the same length, got {len(obs)}, {len(exp)} "
                         f"and {len(tot)}")
    names = [str(i + 1) for i in range(len(obs))] if labels is None else [str(x) for x in check_sequence(labels, "labels")]
    if len(names) != len(obs):
        raise ValueError(f"labels must have one entry per period, got {len(names)} for {len(obs)} periods")
    level = check_level(confidence, "confidence")
    rows = []
    for i, (o, e, n) in enumerate(zip(obs, exp, tot)):
        o_i, n_i = check_count(o, f"observed[{i}]"), check_count(n, f"totals[{i}]")
        if o_i > n_i:
            raise ValueError(f"observed[{i}] = {o_i} is more than totals[{i}] = {n_i}")
        if isinstance(e, bool) or not isinstance(e, Real) or not math.isfinite(float(e)) or float(e) < 0:
            raise ValueError(f"expected[{i}] must be a number >= 0, got {e!r}")
        rows.append((o_i, float(e), n_i))
    strata = tuple(str(s) for s in strata)
    if not rows:
        return CaseMixChart((), level, strata, _METHOD, reason="There are no periods to chart.")

    judged = [i for i, (_, e, n) in enumerate(rows) if n > 0 and e > 0]
    curve = ratio_funnel_limits([rows[i][1] for i in judged], (level,)).curves[0]
    limits = {i: (curve.lower[k], curve.upper[k]) for k, i in enumerate(judged)}
    ratios: list[float | None] = [rows[i][0] / rows[i][1] if i in limits else None for i in range(len(rows))]
    outside = [r is not None and rows[i][1] >= min_expected and (r > limits[i][1] or r < limits[i][0])
               for i, r in enumerate(ratios)]
    rules = [RULE_OUTSIDE if flag else None for flag in outside]
    points = []
    for i, (label, (o, e, n)) in enumerate(zip(names, rows)):
        if i not in limits:
            why = "no treatments in this period" if n == 0 else \
                "no events expected (the reference rate is zero for every treatment in this period)"
            points.append(CaseMixPoint(label, n, o, e, None, None, None, o / n if n else None, None, None, None,
                                       False, None, why))
            continue
        low, high = limits[i]
        scale = e / n
        # On the rate scale a limit above 100 % means nothing (a month cannot have more events than treatments);
        # the signal is judged on the ratio, so capping what is shown changes no signal.
        points.append(CaseMixPoint(label, n, o, e, ratios[i], low, high, o / n, scale,
                                   None if low is None else min(1.0, low * scale),
                                   None if high is None else min(1.0, high * scale),
                                   outside[i], rules[i]))
    reason = None if judged else "No period has both treatments and expected events, so there is nothing to chart."
    return CaseMixChart(tuple(points), level, strata, _METHOD, reason=reason)


def case_mix_chart_from_rows(
    frame: pd.DataFrame,
    period_column: str,
    stratum_columns: Sequence[str],
    event_column: str,
    periods: Sequence[str] | None = None,
    confidence: float = CASEMIX_CONFIDENCE,
    min_expected: float = 0.0,
) -> CaseMixChart:
    """:func:`case_mix_chart` from one row per treatment: each period's expected count from the rates of its
    strata in the other periods (see the module docstring).

    ``frame`` holds the judged periods only (their events make the reference rates). ``periods``
    lists every period to chart, in order (as text); one with no rows gets a point with no ratio.
    By default the periods present, sorted as text.

    Examples
    --------
    Month 1 has 3 "a" (1 event) and 1 "b" (1 event), month 2 one of each (the "b" with an event). Month 1
    holds most of the "a" treatments, so they count with month 2's pooled rate, 1/2; its "b" with month 2's
    "b" rate, 1: E = 3/2 + 1 = 2.5. Month 2: its "a" with month 1's "a" rate 1/3, its "b" with 1: E = 4/3.

    >>> df = pd.DataFrame({"month": ["1", "1", "1", "1", "2", "2"], "s": ["a", "a", "a", "b", "a", "b"],
    ...                    "event": [False, False, True, True, False, True]})
    >>> [round(p.expected, 4) for p in case_mix_chart_from_rows(df, "month", ["s"], "event").points]
    [2.5, 1.3333]
    """
    charts = _charts(frame, np.zeros(len(frame), dtype=np.intp), ["all"], period_column, stratum_columns,
                     event_column, periods, confidence, min_expected=min_expected)
    return charts["all"]


def case_mix_charts_by(
    frame: pd.DataFrame,
    by_column: str,
    period_column: str,
    stratum_columns: Sequence[str],
    event_column: str,
    periods: Sequence[str] | None = None,
    confidence: float = CASEMIX_CONFIDENCE,
    min_expected: float = 0.0,
) -> dict[str, CaseMixChart]:
    """One :func:`case_mix_chart_from_rows` per level of ``by_column`` (e.g. modality), in one pass.

    Each level has its own reference rates: the strata are ``by_column`` x ``stratum_columns``, so a
    level's expected counts use only its own treatments' rates (in its other periods), exactly as calling
    :func:`case_mix_chart_from_rows` on that level's rows. Below, "y" month 1's only stratum has no event in
    month 2 (E = 0), and month 2's has one in month 1 (E = 1). Keys are the levels as text (missing values
    "(not recorded)"), in order of first appearance.

    >>> df = pd.DataFrame({"m": ["x"] * 4 + ["y"] * 2, "month": ["1", "1", "2", "2", "1", "2"],
    ...                    "s": ["a", "b", "a", "b", "a", "a"], "event": [True, False, False, True, True, False]})
    >>> {k: [p.expected for p in c.points] for k, c in case_mix_charts_by(df, "m", "month", ["s"], "event").items()}
    {'x': [1.0, 1.0], 'y': [0.0, 1.0]}
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if by_column not in frame.columns:
        raise ValueError(f"frame has no column {by_column!r}")
    codes, levels = level_codes(frame[by_column])
    return _charts(frame, codes, [str(v) for v in levels], period_column, [by_column, *_strata(stratum_columns)],
                   event_column, periods, confidence, shown_strata=_strata(stratum_columns), min_expected=min_expected)


def _strata(stratum_columns: Sequence[str] | str) -> list[str]:
    return [stratum_columns] if isinstance(stratum_columns, str) else [str(c) for c in stratum_columns]


def _charts(frame: pd.DataFrame, by_codes: np.ndarray, by_levels: list[str], period_column: str,
            stratum_columns: Sequence[str] | str, event_column: str, periods: Sequence[str] | None,
            confidence: float, shown_strata: Sequence[str] | None = None,
            min_expected: float = 0.0) -> dict[str, CaseMixChart]:
    """Charts per ``by`` level, from one pass over the rows whose units are (level, period) pairs."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if period_column not in frame.columns:
        raise ValueError(f"frame has no column {period_column!r}")
    strata = _strata(stratum_columns)
    period_codes, period_levels = level_codes(frame[period_column])
    period_text = [str(v) for v in period_levels]
    labels = sorted(set(period_text)) if periods is None else [str(p) for p in check_sequence(periods, "periods")]
    extra = sorted(set(period_text) - set(labels))
    if extra:
        raise ValueError(f"frame has periods {extra} that are not in periods")
    position = np.array([labels.index(t) for t in period_text], dtype=np.int64)
    unit = np.asarray(by_codes, dtype=np.int64) * max(len(labels), 1) + position[period_codes]
    for column in (*strata, event_column):
        if column not in frame.columns:
            raise ValueError(f"frame has no column {column!r}")
    levels, periods_n = len(by_levels), max(len(labels), 1)
    observed, expected, treatments, unjudged = _leave_one_out(
        unit, stratum_codes(frame, strata), event_flags(frame[event_column], event_column), levels * periods_n,
        periods_n)
    shown = tuple(strata if shown_strata is None else shown_strata)
    charts = {}
    for k in range(levels):
        mine = slice(k * periods_n, k * periods_n + len(labels))
        chart = case_mix_chart(observed[mine].tolist(), expected[mine].tolist(), treatments[mine].tolist(), labels,
                               confidence, shown, min_expected)
        alone = [replace(p, reason="no other judged period to compare it with") if none and p.treatments else p
                 for p, none in zip(chart.points, unjudged[mine])]
        charts[by_levels[k]] = replace(chart, points=tuple(alone))
    return charts


def _leave_one_out(unit: np.ndarray, stratum: np.ndarray, event: np.ndarray, units: int,
                   per_pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected, treatments per unit (0 .. ``units`` - 1) and whether it has no reference at all.

    Expected: each treatment counts with its stratum's rate in the other units of its pool (pool = unit //
    ``per_pool``, e.g. the modality; strata never span pools), or with the pool's rate in the other units
    when they hold fewer of the stratum's treatments than the unit does. See the module docstring."""
    strata = int(stratum.max()) + 1 if len(stratum) else 1
    cell = unit.astype(np.int64) * strata + stratum
    cell_n = np.bincount(cell, minlength=units * strata).reshape(units, strata).astype(float)
    cell_e = np.bincount(cell, weights=event, minlength=units * strata).reshape(units, strata)
    other_n, other_e = cell_n.sum(axis=0) - cell_n, cell_e.sum(axis=0) - cell_e
    n, o = cell_n.sum(axis=1), cell_e.sum(axis=1)
    pool = np.arange(units) // per_pool
    pool_n = np.bincount(pool, weights=n)[pool] - n
    pool_e = np.bincount(pool, weights=o)[pool] - o
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(pool_n > 0, pool_e / pool_n, np.nan)
        rate = np.where((other_n >= cell_n) & (other_n > 0), other_e / other_n, pooled[:, None])
    used = cell_n > 0
    unjudged = (used & np.isnan(rate)).any(axis=1)
    expected = np.where(used, cell_n * np.nan_to_num(rate), 0.0).sum(axis=1)
    expected[unjudged] = 0.0
    return np.rint(o).astype(int), expected, n.astype(int), unjudged


def outside_ratio_limits(observed: int, expected: float, confidence: float = CASEMIX_CONFIDENCE) -> bool | None:
    """Whether ``observed`` events lie outside the exact Poisson limits of the ratio O/E around 1 (the limits of
    the case-mix chart), e.g. a month's events against its treatments times the average rate; None when
    nothing is expected.

    >>> outside_ratio_limits(13, 20 * 0.33), outside_ratio_limits(20, 4.0)
    (False, True)
    """
    if expected <= 0:
        return None
    curve = ratio_funnel_limits([expected], (confidence,)).curves[0]
    ratio = observed / expected
    return bool(ratio > curve.upper[0] or ratio < curve.lower[0])
