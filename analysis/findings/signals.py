"""The statistical signals of a dataset that ``python -m analysis watch`` reports: what the Trends page flags.

* **Control charts**: a month outside its control limits, or a shift or trend run, in the monthly p-chart of
  each modality (:func:`analysis.findings.monitoring.monthly`), over all clinics and for each clinic alone (as
  the Trends page shows it when one clinic is chosen).
* **Funnel plots**: a clinic or practitioner above the 99.8 % limit of its case-mix-adjusted funnel plot
  (:func:`analysis.findings.monitoring.funnel`), large enough to be judged, and unlikely by chance after allowing
  for every unit compared (Holm): the page's clear signals, not its "worth a look".

Each :class:`Signal` has an ``identity`` that stays the same when the dataset is recomputed (kind, effect,
clinic, modality or unit, month and rule; never a rate or a count), so that a signal seen once is recognised
again, and the sentence the Trends page shows for it: the page's own finding about that month, run or unit.
A run's sentence is :func:`analysis.findings.monitoring.run_sentence`, the page's own, for every run (the page
names the latest three of each chart; an older one, reported by a first run of ``watch``, has the same words).
The page names only the latest three months outside the limits; an older one gets the page's wording without
its qualifications.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from analysis.findings import monitoring, wording
from analysis.findings.compare import ALPHA, SMALL_EXPECTED, SMALL_N, Finding
from analysis.records.filters import Filters, apply_filters
from analysis.records.store import Records
from analysis.stats.pchart import RULE_OUTSIDE, PChart, PChartPoint, runs

#: The effects watched: those the Trends page charts.
EFFECTS: tuple[str, ...] = ("hyperpigmentation",)
#: The units compared on funnel plots: those the Trends page shows.
UNITS: tuple[str, ...] = ("clinic", "practitioner")
#: The funnel limit a unit must lie above to be a signal.
FUNNEL_LIMIT = "above 99.8 %"


@dataclass(frozen=True)
class Signal:
    """One signal. ``clinic`` is the one clinic the page must show to see it (None: all clinics).

    ``kind`` is "control chart" or "funnel"; ``subject`` the modality (control chart) or the unit's name
    (funnel); ``unit`` "clinic" or "practitioner" for a funnel; ``month`` the month outside its limits or the
    first month of a run; ``rule`` "outside limits", "shift", "trend" or "above 99.8 %"; ``direction`` "above"
    or "below" (the limits, or the average for a shift), "rising" or "falling" (a trend).
    """

    kind: str
    effect: str
    subject: str
    rule: str
    direction: str
    sentence: str
    clinic: str | None = None
    unit: str | None = None
    month: str | None = None

    @property
    def identity(self) -> dict[str, str]:
        """What makes this signal itself (stable across runs): no rate, count or sentence."""
        fields = {"kind": self.kind, "effect": self.effect, "clinic": self.clinic, "unit": self.unit,
                  "subject": self.subject, "month": self.month, "rule": self.rule, "direction": self.direction}
        return {k: v for k, v in fields.items() if v is not None}

    @property
    def key(self) -> str:
        """The SHA-256 (hex) of :attr:`identity` as canonical JSON."""
        text = json.dumps(self.identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def where(self) -> str:
        """Where it was seen, in words: "all clinics", "clinic Northgate"."""
        if self.kind == "funnel":
            return f"{self.unit}s compared"
        return f"clinic {self.clinic}" if self.clinic is not None else "all clinics"

    @property
    def filters(self) -> Filters:
        """The filters under which the Trends page shows it."""
        return Filters(clinics=(self.clinic,)) if self.clinic is not None else Filters()


def signals(records: Records, follow_up_until: date | None = None) -> list[Signal]:
    """Every signal in the records (a dataset's, unfiltered), in a stable order: control charts over all
    clinics, then per clinic, then funnel plots. ``follow_up_until``: as for
    :func:`analysis.findings.monitoring.monthly` (the date the dataset was imported)."""
    out: list[Signal] = []
    clinics = sorted(records.outcomes["clinic"].dropna().astype(str).unique()) if len(records.outcomes) else []
    for effect in EFFECTS:
        out.extend(_chart_signals(records, effect, follow_up_until, None))
        if len(clinics) > 1:  # one clinic: its chart is the one over all clinics
            for clinic in clinics:
                mine = apply_filters(records, Filters(clinics=(clinic,)))
                out.extend(_chart_signals(mine, effect, follow_up_until, clinic))
        for unit in UNITS:
            out.extend(_funnel_signals(records, effect, unit))
    return out


def _chart_signals(records: Records, effect: str, follow_up_until: date | None, clinic: str | None) -> list[Signal]:
    trend = monitoring.monthly(records, effect, follow_up_until=follow_up_until)
    out = []
    for modality, chart in trend.charts.items():
        for point in chart.points:
            if point.rule == RULE_OUTSIDE:
                above = point.rate is not None and point.upper is not None and point.rate > point.upper
                out.append(Signal("control chart", effect, modality, RULE_OUTSIDE, "above" if above else "below",
                                  _month_sentence(trend.findings, effect, modality, chart, point, above), clinic,
                                  month=point.label))
        for run in runs(chart):
            direction = ("above" if run.direction > 0 else "below") if run.rule == "shift" else \
                ("rising" if run.direction > 0 else "falling")
            out.append(Signal("control chart", effect, modality, run.rule, direction,
                              monitoring.run_sentence(effect, modality, chart, run), clinic,
                              month=run.first))
    return out


def _month_sentence(findings: tuple[Finding, ...], effect: str, modality: str, chart: PChart, point: PChartPoint,
                    above: bool) -> str:
    """The page's finding about a month outside its limits (its wording, when the page names it no more)."""
    start = f"In {point.label}, {effect} after {modality} treatment was "
    shown = next((f.sentence for f in findings if f.sentence.startswith(start)), None)
    rate, limits = wording.pct_against(point.rate, point.lower, point.upper)
    return shown or (start + f"{rate} ({point.events:,} of {point.total:,}), "
                     f"{'above' if above else 'below'} the control limits "
                     f"({limits}; average {wording.pct(chart.centre)}).")


def _funnel_signals(records: Records, effect: str, unit: str) -> list[Signal]:
    if unit not in records.outcomes.columns:
        return []
    result = monitoring.funnel(records, unit, effect)
    named = [u for u in result.funnel.units if u.name != monitoring.NOT_RECORDED]
    if not result.recorded or len(named) < 2:
        return []
    out = []
    for u in named:
        # as the page judges a clear signal: above the 99.8 % limit, large enough to judge, and below 5 % after
        # allowing for every unit compared (Holm); "worth a look, not yet a clear signal" is not sent
        adjusted = result.p_values.get(u.name, (None, None))[1]
        if u.outside == FUNNEL_LIMIT and u.expected >= SMALL_EXPECTED and u.treatments >= SMALL_N \
                and adjusted is not None and adjusted < ALPHA:
            start = f"{unit.replace('_', ' ').capitalize()} {u.name}: "
            sentence = next((f.sentence for f in result.findings if f.sentence.startswith(start)), None)
            out.append(Signal("funnel", effect, u.name, FUNNEL_LIMIT, "above", sentence or start.strip(), unit=unit))
    return out
