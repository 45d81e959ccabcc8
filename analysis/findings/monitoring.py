"""Monitoring over time and across units: the monthly p-chart of an effect's rate per modality beside
the same months judged against their own case mix, and funnel plots of each clinic's or practitioner's
case-mix-adjusted rate.

The control limits and run rules are :mod:`analysis.stats.pchart`, the case-mix-adjusted monthly chart
:mod:`analysis.stats.casemix` (indirect standardisation with exact Poisson limits, Spiegelhalter 2005, Stat
Med 24:1185; risk-adjusted control charts as in Mohammed et al. 2001, Lancet 357:463), the funnel limits
:mod:`analysis.stats.funnel`; the result objects and thresholds are in :mod:`analysis.findings.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from analysis.findings import wording
from analysis.findings.compare import ALPHA, SMALL_EXPECTED, SMALL_N, Finding, not_recorded
from analysis.records.filters import with_effect_flags
from analysis.records.schema import MODALITIES
from analysis.stats.casemix import CaseMixChart, case_mix_chart_from_rows, case_mix_charts_by, outside_ratio_limits
from analysis.stats.funnel import NOT_RECORDED, Funnel, expected_counts, funnel_plot, poisson_p_value
from analysis.stats.multiplicity import family_size, holm
from analysis.stats.pchart import RULE_SHIFT, PChart, PChartPoint, Run, p_chart, runs
from analysis.records.store import Records


# --- time: monthly p-chart ----------------------------------------------------------------------

FOLLOW_UP_DAYS = 60  # post-inflammatory hyperpigmentation typically appears 2-6 weeks after treatment
                     # (Chan et al., Lasers Surg Med 2007;39:381; see data/generate_sample.py)
#: What a month's expected rate allows for: its mix of skin types and treatment areas (within a modality).
CASE_MIX = ("fitzpatrick_type", "treatment_area")


@dataclass(frozen=True)
class MonthlyTrend:
    """Monthly rate of an effect per modality as p-charts, and treatment volume per month.

    ``open_points`` are the latest months whose follow-up is not complete: shown, never judged.
    ``adjusted`` holds, per modality, the same judged months against what each month's own mix of
    :data:`CASE_MIX` predicts (:mod:`analysis.stats.casemix`); ``adjusted_for`` names those columns.
    """

    effect: str
    charts: dict[str, PChart]
    volume: pd.DataFrame                 # month, modality, treatments
    findings: tuple[Finding, ...]
    open_points: dict[str, tuple[PChartPoint, ...]] = field(default_factory=dict)
    follow_up_until: date | None = None
    recorded: bool = True
    adjusted: dict[str, CaseMixChart] = field(default_factory=dict)
    adjusted_for: tuple[str, ...] = CASE_MIX


def monthly(records: Records, effect: str = "hyperpigmentation", follow_up_until: date | None = None) -> MonthlyTrend:
    """p-chart of the monthly ``effect`` rate for each modality (3-sigma limits, NHS run rules).

    Every calendar month between the first and last treatment is a point (a month with no
    treatments has no rate). ``follow_up_until`` is the date the side-effect records are complete
    to (for an import, when it was exported): months ending less than ``FOLLOW_UP_DAYS`` before
    it may still be missing late events, so they are shown but left out of the centre line, the
    limits, the run rules and the findings.

    Beside each p-chart, :attr:`MonthlyTrend.adjusted` judges the same months against their own case
    mix: a month's expected count is the sum of its treatments' rates for their skin type and treatment
    area (their rates in the other judged months of that modality), with exact Poisson 99.8 % limits; it judges
    single months only (no run rules). A month outside the p-chart's limits but within its twin's is explained by
    its mix when the month is also outside the twin's kind of limits placed around the average, and called a
    borderline month otherwise; the p-chart's shifts and trends are reported as they are.
    """
    frame = with_effect_flags(records, ["treatment_date", "modality", "clinic", *CASE_MIX])
    if frame.empty:
        empty = pd.DataFrame(columns=["month", "modality", "treatments"])
        return MonthlyTrend(effect, {}, empty, (Finding(effect, "No treatments in this selection.", 0, True),))
    if not records.side_effects_recorded:
        month = frame["treatment_date"].dt.to_period("M").astype(str)
        volume = (frame.assign(month=month).groupby(["month", "modality"], observed=True).size()
                  .rename("treatments").reset_index())
        return MonthlyTrend(effect, {}, volume, not_recorded(effect), recorded=False)
    month = frame["treatment_date"].dt.to_period("M")
    months = pd.period_range(month.min(), month.max(), freq="M")
    cutoff = None if follow_up_until is None else pd.Timestamp(follow_up_until) - pd.Timedelta(days=FOLLOW_UP_DAYS)
    judged = [m for m in months if cutoff is None or m.end_time <= cutoff]
    grouped = frame.assign(month=month).groupby(["modality", "month"], observed=True)[effect].agg(["sum", "size"])
    charts: dict[str, PChart] = {}
    codes, seen = pd.factorize(month)  # month as text, through its few distinct values (astype(str) is slow)
    done_rows = frame.assign(month=pd.Categorical.from_codes(codes, [str(m) for m in seen]))[month.isin(judged)]
    judged_labels = [str(m) for m in judged]
    adjusted = case_mix_charts_by(done_rows, "modality", "month", CASE_MIX, effect, periods=judged_labels,
                                  min_expected=SMALL_EXPECTED)   # (as the funnel plots: too few expected to judge)
    open_points: dict[str, tuple[PChartPoint, ...]] = {}
    rows = []
    findings: list[Finding] = []
    for modality in MODALITIES:
        if modality not in grouped.index.get_level_values(0):
            continue
        mine = grouped.loc[modality].reindex(months, fill_value=0)
        rows.extend({"month": str(m), "modality": modality, "treatments": int(n)} for m, n in zip(months, mine["size"]))
        done = mine.loc[judged]
        chart = p_chart(done["sum"].astype(int).tolist(), done["size"].astype(int).tolist(),
                        labels=[str(m) for m in judged], exact=True)  # few expected cases: see p_chart
        charts[modality] = chart
        open_points[modality] = tuple(
            PChartPoint(str(m), int(mine.loc[m, "sum"]), int(mine.loc[m, "size"]),
                        float(mine.loc[m, "sum"] / mine.loc[m, "size"]) if mine.loc[m, "size"] else None,
                        None, None, False, "follow-up open") for m in months if m not in judged)
        if modality not in adjusted:  # every treatment of this modality is in a month still open
            adjusted[modality] = case_mix_chart_from_rows(done_rows.iloc[:0], "month", CASE_MIX, effect,
                                                          periods=judged_labels)
        findings.extend(_signal_findings(effect, modality, chart, adjusted[modality]))
    pooled = frame["clinic"].nunique() > 1
    signalled = any(p.rule for c in (*charts.values(), *adjusted.values()) for p in c.points)
    if not signalled:
        where = " (all clinics pooled: choose one clinic to check it on its own)" if pooled else ""
        per_month = [p.total for c in charts.values() for p in c.points if p.total]
        thin = not per_month or float(np.median(per_month)) < SMALL_N
        text = (f"No month's {effect} rate was further from the average than chance explains, whether judged "
                f"against the average or against what its mix of skin types and treatment areas predicted, and no "
                f"shift or trend rule fired: the process looks stable{where}.")
        past = [p for c in charts.values() for p in c.points if p.rate is not None and p.upper is not None
                and (p.rate > p.upper or p.rate < p.lower) and not p.signal]
        if past:
            text += (f" {_months(len(past))} past the drawn limits expected so few cases that a count like that "
                     f"happens by chance more often than the limits allow: not a signal.")
        if thin:
            text += f" With fewer than {SMALL_N} treatments in a typical month, only very large changes would show."
        findings.append(Finding(effect, text, 0.3, thin))
    still_open = len(months) - len(judged)
    if still_open:
        findings.append(Finding(effect, f"The last {still_open} month(s) are shown but not judged: {effect} can appear "
                                        f"up to {FOLLOW_UP_DAYS} days after treatment, and the records are complete only "
                                        f"to {follow_up_until:%Y-%m-%d}.", 0.2))
    return MonthlyTrend(effect, charts, pd.DataFrame(rows), tuple(findings), open_points, follow_up_until,
                        adjusted={m: adjusted[m] for m in charts})


def _months(n: int) -> str:
    return "One month" if n == 1 else f"{n} months"


def _signal_findings(effect: str, modality: str, chart: PChart, adjusted: CaseMixChart) -> list[Finding]:
    """The p-chart's signals, each said to be explained by the month's case mix when the adjusted chart does not
    share it, then the adjusted chart's own signals the p-chart missed."""
    out = []
    mix = "mix of skin types and treatment areas"
    by_label = {q.label: q for q in adjusted.points}
    outside = [p for p in chart.points if p.signal]
    for p in outside[-3:]:
        side = "above" if p.rate is not None and p.upper is not None and p.rate > p.upper else "below"
        rate, limits = wording.pct_against(p.rate, p.lower, p.upper)
        text = (f"In {p.label}, {effect} after {modality} treatment was {rate} "
                f"({p.events:,} of {p.total:,}), {side} the control limits "
                f"({limits}; average {wording.pct(chart.centre)})")
        q = by_label.get(p.label)
        if q is not None and q.ratio is not None and not q.signal and q.expected >= SMALL_EXPECTED:
            # The case mix is credited only when the month is outside the adjusted chart's kind of limits placed
            # around the average rate: else the two charts differ by their limits (3 standard errors vs exact
            # Poisson 99.8 %), not by the month's patients.
            by_mix = outside_ratio_limits(p.events, p.total * chart.centre) if chart.centre else None
            within = (f"; but that month's {mix} predicted {wording.pct(q.expected_rate)}, and its rate is within "
                      f"the limits for that mix ({wording.pct_against(q.rate, q.rate_lower, q.rate_upper)[1]})")
            if by_mix:
                out.append(Finding(effect, text + within + ": the month's mix of patients can explain it.", 0.45))
            else:
                out.append(Finding(effect, text + within + ", which are wider: a borderline month rather than a clear "
                                                           "signal.", 0.45))
        else:
            out.append(Finding(effect, text + ".", 1.2 if side == "above" else 0.6))
    crude = {p.label for p in outside}
    extra = [q for q in adjusted.points if q.signal and q.label not in crude]
    for q in extra[-3:]:
        side = "above" if q.ratio is not None and q.upper is not None and q.ratio > q.upper else "below"
        rate, limits = wording.pct_against(q.rate, q.rate_lower, q.rate_upper)
        out.append(Finding(effect, f"In {q.label}, {effect} after {modality} treatment was {rate} "
                                   f"({q.observed:,} of {q.treatments:,}) where that month's {mix} predicted "
                                   f"{wording.pct(q.expected_rate)} ({wording.times(q.ratio)} the expected): {side} the "
                                   f"limits for that mix ({limits}).",
                           1.2 if side == "above" else 0.6))
    # Runs are the p-chart's alone: the case-mix chart judges single months (see analysis.stats.casemix).
    out.extend(Finding(effect, run_sentence(effect, modality, chart, run), 0.9) for run in shown_runs(chart))
    return out


#: How many runs a chart's findings name (the latest; ``watch`` reports older ones with the same words).
RUNS_SHOWN = 3


def shown_runs(chart: PChart) -> tuple[Run, ...]:
    """The runs of ``chart`` its findings name: the latest :data:`RUNS_SHOWN` by their last (then first) month,
    in time order."""
    where = {p.label: i for i, p in enumerate(chart.points)}
    ordered = sorted(runs(chart), key=lambda run: (where[run.last], where[run.first]))
    return tuple(ordered[-RUNS_SHOWN:])


def run_sentence(effect: str, modality: str, chart: PChart, run: Run) -> str:
    """The sentence for one shift or trend ``run`` of ``chart``: its direction and its first and last month.

    The Trends page and ``python -m analysis watch`` both use it, so an alert says what the page says. A month
    with no treatments inside the run neither counts nor breaks it (the run rules skip it); the sentence says so.
    """
    where = {p.label: i for i, p in enumerate(chart.points)}
    span = chart.points[where[run.first]:where[run.last] + 1]
    counted = sum(p.rate is not None for p in span)
    empty = len(span) - counted
    if run.rule == RULE_SHIFT:
        what = f"stayed {'above' if run.direction > 0 else 'below'} the average"
    else:
        what = f"kept {'rising' if run.direction > 0 else 'falling'}"
    months = f"{counted} months in a row"
    if empty:
        months += f", not counting {empty} month{'s' if empty > 1 else ''} without treatments"
    return (f"After {modality} treatment, the monthly {effect} rate {what} from {run.first} to {run.last} "
            f"({months}): a {run.rule} worth looking into.")


# --- clinics and practitioners: funnel plots --------------------------------------------------------

@dataclass(frozen=True)
class FunnelComparison:
    """Each clinic's or practitioner's case-mix-adjusted rate (observed / expected) against its size."""

    unit: str
    effect: str
    funnel: Funnel
    findings: tuple[Finding, ...]
    side_effects_recorded: bool = True
    #: Each named unit's exact Poisson p-value (observed vs expected) and its Holm-adjusted value over all
    #: the named units (the family): ``{name: (p, adjusted p)}``; ``family_size`` units were tested.
    p_values: dict[str, tuple[float, float]] = field(default_factory=dict)
    family_size: int = 0

    @property
    def recorded(self) -> bool:
        """False when side effects or the unit's names were never recorded."""
        return self.side_effects_recorded and any(u.name != NOT_RECORDED for u in self.funnel.units)


def funnel(records: Records, unit: str = "clinic", effect: str = "hyperpigmentation") -> FunnelComparison:
    """Funnel plot (Spiegelhalter 2005) of O/E per ``unit``, expected counts by modality x Fitzpatrick type.

    A unit outside the limits with fewer than 5 expected events is reported as too small to judge:
    the published interpolated limits flag small units too easily.
    """
    frame = with_effect_flags(records, [unit, "modality", "fitzpatrick_type"])
    label = unit.replace("_", " ")
    if not records.side_effects_recorded:
        empty = funnel_plot(pd.DataFrame(columns=["name", "treatments", "observed", "expected"]))
        return FunnelComparison(unit, effect, empty, not_recorded(effect), side_effects_recorded=False)
    if frame.empty or frame[unit].isna().all():
        empty = funnel_plot(pd.DataFrame(columns=["name", "treatments", "observed", "expected"]))
        return FunnelComparison(unit, effect, empty, (Finding(effect, f"No {label} is recorded in this selection.",
                                                              0, True),))
    groups = expected_counts(frame, unit, ["modality", "fitzpatrick_type"], effect)
    result = funnel_plot(groups)
    named = [u for u in result.units if u.name != NOT_RECORDED]
    findings = []
    if len(named) < 2:
        findings.append(Finding(effect, f"Only one {label} in this selection, so there is nothing to compare it with.",
                                0.1, True))
    # The units are one family: a unit is called different only when it lies outside the 99.8 % limits and
    # its p-value stays below 5 % after allowing for every unit compared (Holm).
    tested = [u for u in named if u.ratio is not None] if len(named) >= 2 else []
    raw = [poisson_p_value(u.observed, u.expected) for u in tested]
    adjusted, m = holm(raw), family_size(raw)
    p_values = {u.name: (p, a) for u, p, a in zip(tested, raw, adjusted) if p is not None and a is not None}
    for u in tested:
        if u.outside is None:
            continue
        judged = u.expected >= SMALL_EXPECTED and u.treatments >= SMALL_N
        direction = "more" if u.ratio > 1 else "less"
        p, adj = p_values.get(u.name, (None, None))
        allowing = f"; {wording.p_value(adj)} after allowing for {m} {label}s" if adj is not None and m > 1 else ""
        text = (f"{label.capitalize()} {u.name}: {u.observed:,} {effect} events where {u.expected:,.1f} were expected "
                f"for {'their' if unit == 'practitioner' else 'its'} mix of modalities and skin types "
                f"({wording.times(u.ratio)} the expected; {u.outside} limit{allowing})")
        if not judged:
            findings.append(Finding(effect, text + ", but with so few expected events this is too small to judge.",
                                    0.2, True))
        elif "99.8" in u.outside and adj is not None and adj < ALPHA:
            findings.append(Finding(effect, text + f": {direction} often than chance would plausibly explain.",
                                    1.3 if u.ratio > 1 else 0.7))
        else:  # worth a look, not a clear signal: the sentence says which half of the rule it misses
            unlikely = adj is not None and adj < ALPHA
            if "99.8" in u.outside:
                why = f"outside even the 99.8 % limits, but with {m} {label}s compared chance could still explain it"
            elif unlikely:
                why = (f"outside the 95 % limits and unlikely by chance even after allowing for {m} {label}s, but "
                       "inside the 99.8 % limits")
            else:
                why = f"about one {label} in 20 falls outside the 95 % limits by chance alone"
            findings.append(Finding(effect, text + f": worth a look, not yet a clear signal ({why}).",
                                    0.6 if u.ratio > 1 else 0.4))
    if len(named) >= 2 and not findings:
        thin = sum(u.expected for u in named) < SMALL_EXPECTED * len(named)
        text = (f"Every {label} lies within the 95 % limits for {effect}, after allowing for its mix of modalities "
                "and skin types.")
        if thin:
            text += f" With fewer than {SMALL_EXPECTED} expected events per {label}, this is too few to conclude from."
        findings.append(Finding(effect, text, 0.4, thin))
    missing = next((u for u in result.units if u.name == NOT_RECORDED), None)
    if missing is not None:
        findings.append(Finding(effect, f"{missing.treatments:,} treatment(s) have no {label} recorded; they count in the "
                                        f"expected rates but are not judged as a {label}.", 0.1))
    return FunnelComparison(unit, effect, result, tuple(findings), p_values=p_values, family_size=m)
