"""The dashboard's numbers as plain JSON-ready data (``python -m analysis summary``).

Conventions: every ``ci`` is ``[low, high]``; rates are fractions in [0, 1]; Fitzpatrick types are
written ``I``-``VI``; modalities ``ablative`` / ``non-ablative``; a missing value is ``null``; an
infinite risk ratio or upper limit (no events in the second group) is the string ``"inf"``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from analysis import stats
from analysis.findings import claims, compare, effects, monitoring, skin_tone
from analysis.records.filters import prepare
from analysis.records.schema import FITZPATRICK_ROMAN, MODALITIES
from analysis.records.store import Records


def _ci(low: float | None, high: float | None) -> list[float | None]:
    return [low, high]


def _ratio(r: stats.Ratio) -> dict[str, Any]:
    """A risk ratio; with no events in a group it is 0 or "inf" with the score interval, and the note says so
    (``risk_ratio_corrected`` is always false: no half events are added any more)."""
    return {"risk_ratio": _finite(r.estimate), "risk_ratio_ci": _ci(_finite(r.low), _finite(r.high)),
            "risk_ratio_corrected": r.corrected, "risk_ratio_note": r.note}


def _finite(value: float | None) -> float | str | None:
    return "inf" if value is not None and value == float("inf") else value


def _rate(p: stats.Proportion) -> dict[str, Any]:
    return {"events": p.events, "treatments": p.treatments, "rate": p.estimate, "ci": _ci(p.low, p.high)}


def summarise(records: Records, follow_up_until: date | None = None) -> dict[str, Any]:
    """Headline numbers, per-skin-type hyperpigmentation, the main comparisons and the article's claims.

    ``follow_up_until``: the date the side-effect records are complete to (see :func:`monitoring.monthly`).
    """
    records = prepare(records)
    out = records.outcomes
    down = compare.downtime(records)
    tone = skin_tone.skin_tone(records)
    result = compare.improvement(records)
    trend = monitoring.monthly(records, follow_up_until=follow_up_until)
    funnels = {u: monitoring.funnel(records, u) for u in ("clinic", "practitioner")}
    side = effects.side_effects(records, follow_up_until)
    per_modality = {}
    for m in MODALITIES:
        median = down.medians[m]
        hyper = tone.overall.ablative if m == MODALITIES[0] else tone.overall.non_ablative
        per_modality[m] = {
            "treatments": int((out["modality"] == m).sum()),
            "downtime_days": {"median": median.estimate, "ci": _ci(median.low, median.high), "n": median.n},
            "improvement_51_percent_or_more": _rate(result.good_share[m]),
            "hyperpigmentation": _rate(hyper) if tone.recorded else None,
        }
    return {
        "treatments": len(out),
        "side_effects_recorded": records.side_effects_recorded,
        "modalities": per_modality,
        "hyperpigmentation_by_skin_type": [
            {"modality": c.modality, "fitzpatrick_type": c.group, **_rate(c.proportion), "small": c.small}
            for c in sorted(tone.cells, key=lambda c: (MODALITIES.index(c.modality), _type_order(c.group)))
        ],
        "time_to_resolution": _time_to_resolution(side, follow_up_until),
        "comparisons": {
            "downtime": {"test": down.test.test, "p_value": down.test.p_value, "shift": down.shift.estimate,
                         "ci": _ci(down.shift.low, down.shift.high)},
            "improvement": {
                "measure": "share reaching at least 51 % improvement (score >= 3)",
                "test": result.good_contrast.test.test, "p_value": result.good_contrast.test.p_value,
                "risk_difference": result.good_contrast.difference.estimate,
                "ci": _ci(result.good_contrast.difference.low, result.good_contrast.difference.high),
                "scale_test": {"test": result.test.test, "p_value": result.test.p_value,
                               "rank_biserial": result.test.rank_biserial}},
            "hyperpigmentation": {
                "test": tone.overall.test.test,
                "risk_difference": tone.overall.difference.estimate,
                "ci": _ci(tone.overall.difference.low, tone.overall.difference.high),
                **_ratio(tone.overall.ratio),
                "p_value": tone.overall.test.p_value,
                "by_skin_type": [
                    {"fitzpatrick_type": c.group.removeprefix("type ").removesuffix(" skin"),
                     "risk_difference": c.difference.estimate, "ci": _ci(c.difference.low, c.difference.high),
                     **_ratio(c.ratio), "test": c.test.test, "p_value": c.test.p_value, "small": c.small}
                    for c in tone.by_type],
            },
            "trend": {m: {"test": "Cochran-Armitage", "p_value": t.p_value, "slope_per_type": t.estimate,
                          "ci": _ci(t.low, t.high)} for m, t in tone.trend.items()},
            "adjusted_odds_ratio": None if tone.adjusted is None else {
                "odds_ratio": tone.adjusted.odds_ratio, "ci": _ci(tone.adjusted.ci_low, tone.adjusted.ci_high),
                "p_value": tone.adjusted.p_value, "adjusted_for": skin_tone.adjusted_factors(tone.adjusted),
                "fitted": tone.adjusted.fitted, "reason": tone.adjusted.reason},
        },
        "monthly_signals": [
            {"modality": m, "month": p.label, "rate": p.rate, "limits": _ci(p.lower, p.upper), "rule": p.rule}
            for m, chart in trend.charts.items() for p in chart.points if p.rule],
        "funnel": {u: [{"name": x.name, "treatments": x.treatments, "observed": x.observed,
                        "expected": x.expected, "ratio": x.ratio, "outside": x.outside}
                       for x in f.funnel.units] for u, f in funnels.items()},
        "findings": [f.sentence for f in top_findings(tone, down, result, trend, *funnels.values())],
        "claims": [{"claim": c.claim, "verdict": c.verdict, "evidence": c.evidence, "more_needed": c.more_needed}
                   for c in claims.check_claims(records, downtime=down, improvement=result, skin_tone=tone)],
    }


def _time_to_resolution(side: effects.SideEffectSummary, follow_up_until: date | None) -> dict[str, Any] | None:
    """Kaplan-Meier medians per effect and modality (None when side effects were not recorded)."""
    if not side.recorded:
        return None
    return {
        "method": "Kaplan-Meier, days from treatment to resolution; events not resolved are censored at the last "
                  "follow-up; median and 95 % CI as R survfit(conf.type = 'log') prints them (null: not reached)",
        "follow_up_until": None if follow_up_until is None else follow_up_until.isoformat(),
        "effects": [{"effect": d.effect, "modality": d.modality, "events": d.curve.n, "resolved": d.curve.n_events,
                     "unresolved": d.unresolved, "no_days_recorded": d.untimed, "median_days": d.median.estimate,
                     "ci": _ci(d.median.low, d.median.high), "small": d.small} for d in side.durations],
    }


def _type_order(roman: str) -> int:
    return {v: k for k, v in FITZPATRICK_ROMAN.items()}[roman]


def top_findings(*results: Any, count: int = 3) -> list[compare.Finding]:
    """The most important findings of some comparison results: by weight, small groups last."""
    found = [f for r in results for f in r.findings]
    ranked = sorted(found, key=lambda f: (f.small, -f.weight))
    return ranked[:count]
