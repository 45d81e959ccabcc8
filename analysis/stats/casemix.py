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

* **Expected count, by indirect standardisation.** Each stratum ``s`` (a combination of case-mix
  columns, e.g. skin type x treatment area) has its reference rate over all judged periods,
  ``rate_s = events_s / treatments_s``; period ``t``'s expected count is ``E_t = Σ_s n_{t,s}·rate_s``
  (:func:`analysis.stats.funnel.expected_counts`, the same code as the funnel plots). Over the judged
  periods ``Σ_t E_t = Σ_t O_t``, so the centre line of the ratio ``O_t/E_t`` is 1, as ``p̄`` is the
  centre of a p-chart. This is the standardised mortality (morbidity) ratio of Breslow NE, Day NE (1987)
  *Statistical Methods in Cancer Research, Vol. II*, IARC Scientific Publications 82, chapter 2.
* **Limits.** Under "no change but the case mix" ``O_t ~ Poisson(E_t)``; the limits for ``O_t/E_t`` are
  the exact Poisson limits with the interpolation of Spiegelhalter DJ (2005) "Funnel plots for comparing
  institutional performance", Stat Med 24:1185-1202 (Table I "standardised ratio", appendix A.1.1), at
  99.8 % by default, the level Spiegelhalter uses as the counterpart of 3-sigma limits
  (:func:`analysis.stats.funnel.ratio_funnel_limits`). On the rate scale they are the month's expected
  rate ``E_t/n_t`` times the ratio limits, so a month of high-risk patients gets a higher expected rate
  and higher limits. Poisson ignores the cap ``O_t <= n_t``; with high rates the limits are slightly wider
  than a binomial model's (fewer signals, never more).
* **Rules.** The p-chart's special-cause rules (:func:`analysis.stats.pchart.special_causes`, NHS "Making
  Data Count"): a ratio outside its limits; 7 periods in a row above 1 (or below) - a shift, that is
  observed above (or below) expected 7 times running; 7 ratios in a row each higher (or lower) than the
  one before - a trend in the adjusted rate. All three carry over: the ratio is a rate adjusted for case
  mix with centre 1.

Control charts that judge each period against its own risk-adjusted expectation, instead of one
average, are the risk-adjusted charts argued for by Mohammed MA, Cheng KK, Rouse A, Marshall T (2001)
"Bristol, Shipman, and clinical governance: Shewhart's forgotten lessons", Lancet 357:463-467, and used
for monthly hospital outcomes by Cook DA et al. (2003) Crit Care Med 31:1676-1682.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import pandas as pd

from analysis.stats.checks import check_count, check_level, check_sequence
from analysis.stats.funnel import expected_counts, ratio_funnel_limits
from analysis.stats.pchart import special_causes

__all__ = ["CASEMIX_CONFIDENCE", "CaseMixPoint", "CaseMixChart", "case_mix_chart", "case_mix_chart_from_rows"]

#: Two-sided level of the limits: Spiegelhalter's (2005) counterpart of 3-sigma limits.
CASEMIX_CONFIDENCE = 0.998

_METHOD = ("observed / expected per period, expected by indirect standardisation over the judged periods; exact "
           "Poisson(E) limits interpolated as in Spiegelhalter (2005) appendix A.1.1; NHS Making Data Count rules "
           "(outside limits, 7-point shift about 1, 7-point trend)")


@dataclass(frozen=True)
class CaseMixPoint:
    """One period: ``observed`` events where ``expected`` were expected from its case mix.

    ``ratio`` = observed / expected and ``lower``/``upper`` its limits; ``rate`` = observed / treatments,
    ``expected_rate`` = expected / treatments and ``rate_lower``/``rate_upper`` the limits on the rate
    scale (``expected_rate`` x the ratio limits). All are ``None`` for a period with no treatments or
    nothing expected (``reason`` says which). ``signal`` is True only outside the limits; ``rule`` is the
    first special-cause rule the point meets ("outside limits", "shift", "trend").
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
) -> CaseMixChart:
    """Control chart of observed / expected per period with exact Poisson limits around 1.

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
    outside = [r is not None and (r > limits[i][1] or r < limits[i][0]) for i, r in enumerate(ratios)]
    # Rounded for the run rules only: a month whose events equal its expected count sits on the centre line
    # (ending a run), not 1e-15 above or below it because E is a sum of many rates.
    rules = special_causes([None if r is None else round(r, 9) for r in ratios], 1.0, outside)
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
        points.append(CaseMixPoint(label, n, o, e, ratios[i], low, high, o / n, scale,
                                   None if low is None else low * scale, None if high is None else high * scale,
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
) -> CaseMixChart:
    """:func:`case_mix_chart` from one row per treatment: expected counts by
    :func:`analysis.stats.funnel.expected_counts` with each period as a unit.

    ``frame`` holds the judged periods only (their events make the reference rates). ``periods``
    lists every period to chart, in order (as text); one with no rows gets a point with no ratio.
    By default the periods present, sorted as text.

    Examples
    --------
    Stratum "a" has rate 1/4 and "b" rate 1 over both months; month 1 has 3 "a" and 1 "b" (E = 1.75).

    >>> df = pd.DataFrame({"month": ["1", "1", "1", "1", "2", "2"], "s": ["a", "a", "a", "b", "a", "b"],
    ...                    "event": [False, False, True, True, False, True]})
    >>> [p.expected for p in case_mix_chart_from_rows(df, "month", ["s"], "event").points]
    [1.75, 1.25]
    """
    groups = expected_counts(frame, period_column, stratum_columns, event_column)
    groups = groups.assign(name=groups["name"].astype(str)).set_index("name")
    labels = sorted(groups.index) if periods is None else [str(p) for p in check_sequence(periods, "periods")]
    extra = sorted(set(groups.index) - set(labels))
    if extra:
        raise ValueError(f"frame has periods {extra} that are not in periods")
    groups = groups.reindex(labels).fillna({"treatments": 0, "observed": 0, "expected": 0.0})
    return case_mix_chart(groups["observed"].astype(int).tolist(), groups["expected"].astype(float).tolist(),
                          groups["treatments"].astype(int).tolist(), labels, confidence,
                          [stratum_columns] if isinstance(stratum_columns, str) else list(stratum_columns))
