"""The dashboard's numbers as plain JSON-ready data (``python -m analysis summary``).

Comparisons judged within a family (per skin type and band of skin types, one family; the side effects
other than hyperpigmentation, one family; per clinic or practitioner on the funnel) carry ``p_value`` (the test's own), ``p_value_adjusted`` (Holm over the family),
``family_size`` (how many comparisons were tested) and, for rates, ``conclusive`` (the call the pages
make: adjusted p < 0.05 and the 95 % interval excluding zero). The three comparisons stated in advance
(downtime, improvement, hyperpigmentation overall) are not adjusted.

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


def _family(c: compare.RateContrast) -> dict[str, Any]:
    """A comparison judged within a family: its Holm-adjusted p-value, the family and the call made;
    ``deferred_to_interaction``: a skin type or band that makes no claim of its own because the test of
    interaction found no difference between skin types (then never conclusive, whatever its p)."""
    return {**_adjusted(c), "conclusive": c.conclusive, "deferred_to_interaction": c.deferred}


def _adjusted(c: compare.RateContrast) -> dict[str, Any]:
    """A comparison's Holm-adjusted p-value within its family (its own p when judged alone) and the family."""
    return {"p_value_adjusted": c.decision_p, "family_size": c.family_size, "family": c.family or None}


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
                     **_ratio(c.ratio), "test": c.test.test, "p_value": c.test.p_value, **_family(c),
                     "small": c.small}
                    for c in tone.by_type],
                "by_skin_type_band": [
                    {"fitzpatrick_types": [FITZPATRICK_ROMAN[t] for t in band],
                     "risk_difference": c.difference.estimate, "ci": _ci(c.difference.low, c.difference.high),
                     **_ratio(c.ratio), "test": c.test.test, "p_value": c.test.p_value, **_family(c),
                     "small": c.small}
                    for c, band in zip(tone.by_band, tone.bands)],
            },
            "trend": {m: {"test": "Cochran-Armitage", "p_value": t.p_value, "slope_per_type": t.estimate,
                          "ci": _ci(t.low, t.high)} for m, t in tone.trend.items()},
            "mantel_haenszel_odds_ratio": _pooled(tone),
            "effect_modification": _modification(tone),
            "adjusted_odds_ratio": None if tone.adjusted is None else {
                "odds_ratio": tone.adjusted.odds_ratio, "ci": _ci(tone.adjusted.ci_low, tone.adjusted.ci_high),
                "p_value": tone.adjusted.p_value, "adjusted_for": skin_tone.adjusted_factors(tone.adjusted),
                "fitted": tone.adjusted.fitted, "reason": tone.adjusted.reason},
            # every recorded effect, ablative vs non-ablative, as numbers: all but hyperpigmentation (the headline,
            # judged on its own) are one family on the Side effects page, whose Holm-adjusted p is given. No call is
            # made here: the summary's claims stay within its own families (bench/false_alarms.py counts them).
            "side_effects": None if not side.recorded else [
                {"effect": c.group, "headline": c.group == effects.HEADLINE_EFFECT,
                 "ablative": _rate(c.ablative), "non_ablative": _rate(c.non_ablative),
                 "risk_difference": c.difference.estimate, "ci": _ci(c.difference.low, c.difference.high),
                 **_ratio(c.ratio), "test": c.test.test, "p_value": c.test.p_value, **_adjusted(c), "small": c.small}
                for c in side.rates],
        },
        "monthly_signals": [
            {"modality": m, "month": p.label, "rate": p.rate, "limits": _ci(p.lower, p.upper), "rule": p.rule}
            for m, chart in trend.charts.items() for p in chart.points if p.rule],
        # the same months against their own case mix (analysis.stats.casemix): limits are on observed / expected
        "monthly_signals_case_mix_adjusted": {
            "adjusted_for": list(trend.adjusted_for),
            "confidence": next((c.confidence for c in trend.adjusted.values()), None),
            "signals": [
                {"modality": m, "month": p.label, "observed": p.observed, "expected": p.expected,
                 "treatments": p.treatments, "ratio": p.ratio, "limits": _ci(p.lower, p.upper), "rule": p.rule}
                for m, chart in trend.adjusted.items() for p in chart.points if p.rule]},
        "funnel": {u: [{"name": x.name, "treatments": x.treatments, "observed": x.observed,
                        "expected": x.expected, "ratio": x.ratio, "outside": x.outside,
                        "p_value": f.p_values.get(x.name, (None, None))[0],
                        "p_value_adjusted": f.p_values.get(x.name, (None, None))[1],
                        "family_size": f.family_size}
                       for x in f.funnel.units] for u, f in funnels.items()},
        "findings": [f.sentence for f in top_findings(tone, down, result, trend, *funnels.values())],
        "claims": [{"claim": c.claim, "verdict": c.verdict, "evidence": c.evidence, "more_needed": c.more_needed}
                   for c in claims.check_claims(records, downtime=down, improvement=result, skin_tone=tone)],
    }


def _pooled(tone: skin_tone.SkinToneComparison) -> dict[str, Any] | None:
    """The odds ratio of hyperpigmentation, ablative vs non-ablative, pooled over skin types (Mantel-Haenszel)."""
    m = tone.mantel_haenszel
    if m is None:
        return None
    return {"odds_ratio": m.odds_ratio, "ci": _ci(m.low, m.high), "test": "Mantel-Haenszel chi-squared",
            "statistic": m.statistic, "p_value": m.p_value, "skin_types": m.strata, "reason": m.reason}


def _modification(tone: skin_tone.SkinToneComparison) -> dict[str, Any] | None:
    """Does the gap between the modalities change with skin type: the three tests; ``differs_by_skin_type``
    follows the governing one (Breslow-Day with Tarone's correction), null when it could not be done."""
    if tone.interaction is None:
        return None
    tests: dict[str, Any] = {}
    for name, t in (("likelihood_ratio_factor", tone.interaction), ("likelihood_ratio_linear", tone.interaction_trend)):
        tests[name] = None if t is None else {"statistic": t.statistic, "df": t.df, "p_value": t.p_value,
                                              "skin_types": t.strata, "reason": t.reason}
    bd = tone.breslow_day
    tests["breslow_day_tarone"] = None if bd is None else {
        "statistic": bd.statistic, "df": bd.df, "p_value": bd.p_value, "skin_types": bd.strata, "reason": bd.reason}
    return {"governing_test": "breslow_day_tarone", "differs_by_skin_type": tone.differs_by_type, **tests}


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
