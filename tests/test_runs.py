"""How the Trends & clinics page and ``watch`` word the p-chart's shift and trend runs.

Each run the rules find (:func:`analysis.stats.pchart.runs`) gets its own sentence, with its direction and its
true first and last month, written by one function (:func:`analysis.findings.monitoring.run_sentence`) for the
page and the alerts alike. Second reading of issue 15: the page built the sentences from point labels, where a
point keeps only its first rule (outside limits > shift > trend), so two shifts merged into one sentence with no
direction, a run ending in a month outside the limits was said to end a month early, and a trend whose months
were all labelled "shift" or "outside limits" was never named.

Sources
-------
* Run rules: NHS England "Making Data Count" as in NHSRplotthedots (7 points on one side of the centre line,
  7 points each higher or lower than the one before); a month's side is its count against the median of
  Binomial(n, p̄) (see :mod:`analysis.stats.pchart`). The medians and limits below were computed in R 4.x
  (stats package), each call written beside its number.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from analysis.findings import monitoring, signals
from analysis.records import schema
from analysis.records.store import Records
from analysis.stats.pchart import runs
from test_casemix import records_from_cells

DONE = date(2026, 1, 1)  # follow-up complete for every month below


def months_from(year: int, month: int, count: int) -> list[str]:
    return [str(p) for p in pd.period_range(f"{year}-{month:02d}", periods=count, freq="M")]


def records(months: list[str], totals: list[int], events: list[int]) -> Records:
    """Ablative treatments of one skin type and area, ``totals[i]`` in ``months[i]``, ``events[i]`` of them with
    hyperpigmentation."""
    return records_from_cells([(month, 3, "face", n, k) for month, n, k in zip(months, totals, events)])


def run_findings(trend: monitoring.MonthlyTrend) -> list[str]:
    return [f.sentence for f in trend.findings if "worth looking into" in f.sentence]


def shift_then_shift_ending_outside() -> Records:
    """100 treatments a month, 2024-01..2025-04: 10 events in each of 9 months, 14 in each of 6, then 30.
    p̄ = 204/1600 = 0.1275; R: qbinom(0.5, 100, 204/1600) -> 13, so the first 9 months sit below and the last 7
    above; R: p <- 204/1600; p + 3*sqrt(p*(1 - p)/100) -> 0.2275597, so 2025-04 (30 %) is above the limits."""
    return records(months_from(2024, 1, 16), [100] * 16, [10] * 9 + [14] * 6 + [30])


def rise_labelled_shift_and_outside() -> Records:
    """200 treatments a month, 2024-01..2025-06: 16 events in each of 11 months, then 26, 28, ..., 38.
    p̄ = 400/3600; R: qbinom(0.5, 200, 400/3600) -> 22: below to 2024-11, above from 2024-12;
    R: p <- 400/3600; p + 3*sqrt(p*(1 - p)/200) -> 0.1777778, so 2025-05 (18 %) and 2025-06 (19 %) are outside.
    The rise 2024-11 (16) .. 2025-06 (38) is 8 months each higher than the one before: a trend, though every one
    of its months is labelled "shift" or "outside limits"."""
    return records(months_from(2024, 1, 18), [200] * 18, [16] * 11 + [26, 28, 30, 32, 34, 36, 38])


def four_shifts() -> Records:
    """100 treatments a month, 2023-01..2025-04: 7 months at 8 events, 7 at 16, 7 at 8, 7 at 16. p̄ = 0.12;
    R: qbinom(0.5, 100, 0.12) -> 12, so each block of 7 is a shift; R: 0.12 + c(-3, 3)*sqrt(0.12*0.88/100)
    -> 0.02251047 0.21748953, so no month is outside the limits."""
    return records(months_from(2023, 1, 28), [100] * 28, ([8] * 7 + [16] * 7) * 2)


# --- 1(a): one sentence per run, with its direction ------------------------------------------------

def test_two_shifts_get_two_sentences_each_with_its_direction():
    trend = monitoring.monthly(shift_then_shift_ending_outside(), follow_up_until=DONE)
    assert run_findings(trend) == [
        "After ablative treatment, the monthly hyperpigmentation rate stayed below the average from 2024-01 to "
        "2024-09 (9 months in a row): a shift worth looking into.",
        "After ablative treatment, the monthly hyperpigmentation rate stayed above the average from 2024-10 to "
        "2025-04 (7 months in a row): a shift worth looking into.",
    ]


# --- 1(b): a run ending in a month outside the limits ends in that month ----------------------------

def test_a_run_ends_in_its_last_month_even_when_that_month_is_outside_the_limits():
    trend = monitoring.monthly(shift_then_shift_ending_outside(), follow_up_until=DONE)
    last = trend.charts[schema.ABLATIVE].points[-1]
    assert (last.label, last.rule) == ("2025-04", "outside limits")
    assert not any("2025-03" in s for s in run_findings(trend))
    assert any("to 2025-04 (7 months in a row): a shift" in s for s in run_findings(trend))


# --- 1(c): a trend whose months are labelled with other rules is still named --------------------------

def test_a_trend_of_months_labelled_shift_or_outside_is_named():
    trend = monitoring.monthly(rise_labelled_shift_and_outside(), follow_up_until=DONE)
    chart = trend.charts[schema.ABLATIVE]
    assert not any(p.rule == "trend" for p in chart.points)   # every point keeps its first rule
    assert ("After ablative treatment, the monthly hyperpigmentation rate kept rising from 2024-11 to 2025-06 "
            "(8 months in a row): a trend worth looking into.") in run_findings(trend)
    assert len(run_findings(trend)) == 3   # with the shift below to 2024-11 and the shift above from 2024-12


def test_the_page_names_the_latest_three_runs_in_time_order():
    trend = monitoring.monthly(four_shifts(), follow_up_until=DONE)
    spans = [re.search(r"from (\S+) to (\S+) ", s).groups() for s in run_findings(trend)]
    assert spans == [("2023-08", "2024-02"), ("2024-03", "2024-09"), ("2024-10", "2025-04")]


def test_months_without_treatments_inside_a_run_are_said():
    """A month with no treatments neither counts in a run nor breaks it (NHSRplotthedots skips it): 2024-04 is
    empty, so the shift below runs 2024-01..2024-08 over 7 months with treatments. p̄ = 154/1400 = 0.11;
    R: qbinom(0.5, 100, 0.11) -> 11."""
    months = months_from(2024, 1, 15)
    totals = [100, 100, 100, 0] + [100] * 11
    events = [8, 8, 8, 0, 8, 8, 8, 8] + [14] * 7
    trend = monitoring.monthly(records(months, totals, events), follow_up_until=DONE)
    assert ("After ablative treatment, the monthly hyperpigmentation rate stayed below the average from 2024-01 to "
            "2024-08 (7 months in a row, not counting 1 month without treatments): a shift worth looking into."
            ) in run_findings(trend)


# --- 2: an alert says exactly what the page says ------------------------------------------------------

@pytest.mark.parametrize("make", [shift_then_shift_ending_outside, rise_labelled_shift_and_outside, four_shifts])
def test_every_run_alert_uses_the_run_sentence_and_the_page_shows_the_latest(make):
    data = make()
    trend = monitoring.monthly(data, follow_up_until=DONE)
    chart = trend.charts[schema.ABLATIVE]
    alerts = {(s.rule, s.month): s for s in signals.signals(data, follow_up_until=DONE) if s.rule in ("shift", "trend")}
    found = runs(chart)
    assert set(alerts) == {(r.rule, r.first) for r in found}
    for run in found:
        assert alerts[run.rule, run.first].sentence == monitoring.run_sentence("hyperpigmentation", schema.ABLATIVE,
                                                                               chart, run)
    shown = run_findings(trend)
    assert len(shown) == min(3, len(found))
    assert all(sentence in {s.sentence for s in alerts.values()} for sentence in shown)


def test_the_alerts_of_two_shifts_are_the_pages_sentences():
    data = shift_then_shift_ending_outside()
    page = set(run_findings(monitoring.monthly(data, follow_up_until=DONE)))
    alerts = [s for s in signals.signals(data, follow_up_until=DONE) if s.rule == "shift"]
    assert [(s.direction, s.month) for s in alerts] == [("below", "2024-01"), ("above", "2024-10")]
    assert all(s.sentence in page for s in alerts)
