"""An effect's rate across skin tones, ablative vs non-ablative: the dashboard's core view.

Hyperpigmentation (or another effect) per modality x Fitzpatrick type, ablative vs non-ablative
within each type and each band (I-II, III-IV, V-VI), a trend test across the types per modality,
and the odds ratio adjusted for skin type (and treatment area) by logistic regression. The result
objects, thresholds and the rate contrast it builds on are in :mod:`analysis.findings.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.findings.compare import (ALPHA, NOT_RECORDED_TEXT, SMALL_N, Finding, RateCell, RateContrast,
                                       family_contrasts, not_recorded, rate_contrast)
from analysis.records.filters import with_effect_flags
from analysis.stats.logistic import AdjustedOddsRatio, adjusted_odds_ratio
from analysis.records.schema import ABLATIVE, FITZPATRICK_ROMAN, MODALITIES, NON_ABLATIVE
from analysis.records.store import Records

BANDS: tuple[tuple[int, ...], ...] = ((1, 2), (3, 4), (5, 6))  # Fitzpatrick types pooled for sentences


@dataclass(frozen=True)
class SkinToneComparison:
    """Hyperpigmentation by modality x Fitzpatrick type: the core view."""

    effect: str
    cells: tuple[RateCell, ...]                  # one per modality x type present
    by_type: tuple[RateContrast, ...]            # ablative vs non-ablative within each type
    by_band: tuple[RateContrast, ...]            # within I-II, III-IV, V-VI
    overall: RateContrast
    trend: dict[str, stats.TrendTest]            # per modality, across types I -> VI
    adjusted: AdjustedOddsRatio | None           # logistic regression: modality + type (+ area)
    findings: tuple[Finding, ...]
    recorded: bool = True                        # False: side effects were never recorded, rates unknown
    bands: tuple[tuple[int, ...], ...] = ()      # the types present in each of ``by_band`` (same order)


def band_label(types: tuple[int, ...]) -> str:
    """``type V–VI skin``."""
    return f"{wording.skin_types(types)} skin"


def _type_table(frame: pd.DataFrame, flag: str) -> dict[tuple[int, str], tuple[int, int]]:
    """(Fitzpatrick type, modality) -> (events, treatments): every skin-tone statistic comes from this."""
    grouped = frame.groupby(["fitzpatrick_type", "modality"], observed=True, sort=True)[flag].agg(["sum", "size"])
    return {(int(t), str(m)): (int(k), int(n)) for (t, m), k, n in zip(grouped.index, grouped["sum"], grouped["size"])}


def _table_counts(table: dict[tuple[int, str], tuple[int, int]],
                  types: Iterable[int] | None = None) -> tuple[int, int, int, int]:
    """Events and treatments for ablative, then non-ablative, summed from a :func:`_type_table` over ``types``
    (all when None)."""
    wanted = None if types is None else set(types)
    totals = {ABLATIVE: [0, 0], NON_ABLATIVE: [0, 0]}
    for (t, modality), (events, n) in table.items():
        if (wanted is None or t in wanted) and modality in totals:
            totals[modality][0] += events
            totals[modality][1] += n
    return (*totals[ABLATIVE], *totals[NON_ABLATIVE])  # type: ignore[return-value]


def skin_tone(records: Records, effect: str = "hyperpigmentation") -> SkinToneComparison:
    """Rate of ``effect`` per modality x Fitzpatrick type, contrasts per type and band, trend per modality."""
    if not records.side_effects_recorded:
        unknown = _unknown_contrast(records)
        return SkinToneComparison(effect, (), (), (), unknown, {}, None, not_recorded(effect), recorded=False)
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type", "treatment_area"])
    table = _type_table(frame, effect)
    cells = tuple(RateCell(modality, FITZPATRICK_ROMAN[t], p, p.treatments < SMALL_N)
                  for (t, modality), p in ((key, stats.wilson_ci(*counts)) for key, counts in table.items()))
    types = sorted({t for t, _ in table})
    # a band is named by the types it holds in this selection: "type IV skin", not "type III–IV skin"
    bands = tuple(present for present in (tuple(t for t in band if t in types) for band in BANDS) if present)
    # The types and the bands are one family: on data with no real difference the page calls any of them
    # different at most 1 time in 20 (Holm). A band holding one type is that type's comparison, counted once.
    pooled = [band for band in bands if len(band) > 1]
    family = family_contrasts([(f"type {FITZPATRICK_ROMAN[t]} skin", _table_counts(table, (t,))) for t in types]
                              + [(band_label(band), _table_counts(table, band)) for band in pooled],
                              "skin-type comparisons", effect=effect)
    by_type = family[:len(types)]
    of_band = dict(zip(pooled, family[len(types):]))
    by_band = tuple(of_band[band] if len(band) > 1 else by_type[types.index(band[0])] for band in bands)
    overall = rate_contrast("all treatments", *_table_counts(table), effect=effect, where="")
    trend = {}
    for modality in MODALITIES:
        per_type = [table.get((t, modality), (0, 0)) for t in range(1, 7)]
        trend[modality] = stats.trend_test([k for k, _ in per_type], [n for _, n in per_type],
                                           scores=list(range(1, 7)))
    adjusted = adjusted_odds(frame, effect)
    findings = _skin_tone_findings(effect, by_band, bands, overall, trend, cells) + (
        Finding(effect, adjusted_sentence(adjusted), 0.9 if adjusted.fitted else 0.1, not adjusted.fitted),)
    return SkinToneComparison(effect, cells, by_type, by_band, overall, trend, adjusted, findings, bands=bands)


def _unknown_contrast(records: Records) -> RateContrast:
    """A contrast whose rates are unknown (side effects not recorded): counts only."""
    out = records.outcomes
    n1, n2 = (int((out["modality"] == m).sum()) for m in (ABLATIVE, NON_ABLATIVE))
    unknown = [stats.Proportion(0, n, None, None, None, 0.95) for n in (n1, n2)]
    none = stats.Difference(None, None, None, 0.95)
    return RateContrast("all treatments", unknown[0], unknown[1], none, stats.Ratio(None, None, None, 0.95),
                        stats.TestResult("none", None, None), True, NOT_RECORDED_TEXT.format(effect="side-effect"))


def adjusted_odds(frame: pd.DataFrame, effect: str = "hyperpigmentation") -> AdjustedOddsRatio:
    """Odds ratio for ablative vs non-ablative adjusted for Fitzpatrick type (and treatment area when recorded)."""
    covariates: tuple[str, ...] = ("fitzpatrick_type",)
    if frame["treatment_area"].notna().any() and frame["treatment_area"].nunique() > 1:
        covariates += ("treatment_area",)
    return adjusted_odds_ratio(frame, outcome=effect, exposure="modality", exposure_level=ABLATIVE,
                               covariates=covariates, categorical=covariates)


def adjusted_factors(result: AdjustedOddsRatio) -> list[str]:
    """The covariates the model actually used, in words (a factor with one level in the selection is not)."""
    names = [("fitzpatrick", "skin type"), ("treatment_area", "treatment area")]
    return [word for key, word in names if any(key in t for t in result.terms)]


def adjusted_sentence(result: AdjustedOddsRatio) -> str:
    """The adjusted odds ratio in words, or why it could not be estimated."""
    factors = adjusted_factors(result)
    if not result.fitted or result.odds_ratio is None:
        if result.reason:  # the model's reason is a whole sentence that already says the ratio cannot be estimated
            return result.reason
        return "The odds ratio for ablative vs non-ablative treatment could not be estimated: the model could not be fitted."
    ratio = (f"ablative treatment carried {wording.times(result.odds_ratio)} the odds of {result.outcome} of "
             f"non-ablative treatment (95 % CI {result.ci_low:.2f}–{result.ci_high:.2f}; "
             f"{wording.p_value(result.p_value)})")
    if factors:
        text = f"Taking {' and '.join(factors)} into account, {ratio}."
    else:
        text = f"{wording.capital(ratio)}; nothing else varied in this selection, so nothing was adjusted for."
    if result.warning:
        text += f" Caution: {result.warning}"
    return text


def _skin_tone_findings(effect: str, by_band: tuple[RateContrast, ...], bands: tuple[tuple[int, ...], ...],
                        overall: RateContrast, trend: dict[str, stats.TrendTest],
                        cells: tuple[RateCell, ...]) -> tuple[Finding, ...]:
    whole = _counts_of(overall)
    # When one band is the whole selection, its sentence (which names the skin types) says it all: the
    # overall one would repeat it.
    covered = any(_counts_of(c) == whole for c in by_band)
    findings: list[Finding] = [] if covered else [Finding(effect, wording.capital(overall.sentence), 0.8,
                                                          overall.small)]
    for contrast, band in zip(by_band, bands):
        significant = contrast.conclusive  # after allowing for the other bands
        darkest = set(band) <= {5, 6}  # the group the article warns about comes first
        weight = 1.5 if darkest and not contrast.small else (1.0 if significant else 0.3)
        sentence = wording.capital(contrast.sentence)
        if contrast.more_needed:
            sentence += " " + contrast.more_needed
        findings.append(Finding(effect, sentence, weight, contrast.small))
    typed = {c.group for c in cells if c.proportion.treatments > 0}
    if len(typed) == 1:  # one skin type in the whole selection: said once, not once per modality
        findings.append(Finding(effect, f"Only type {next(iter(typed))} skin is in this selection, so no trend "
                                        "across skin types can be tested.", 0.7, True))
    else:
        for modality, t in trend.items():
            findings.append(Finding(effect, trend_sentence(effect, modality, t, cells), 0.7, t.groups < 2))
    small = [c for c in cells if c.small]
    if small:
        names = ", ".join(f"{c.modality} type {c.group} ({c.proportion.treatments:,})" for c in small)
        findings.append(Finding(effect, f"Too few treatments to conclude from in: {names}.", 0.1, True))
    return tuple(findings)


def _counts_of(contrast: RateContrast) -> tuple[int, int, int, int]:
    return (contrast.ablative.events, contrast.ablative.treatments, contrast.non_ablative.events,
            contrast.non_ablative.treatments)


def trend_sentence(effect: str, modality: str, t: stats.TrendTest, cells: tuple[RateCell, ...]) -> str:
    """The trend test ``t`` of ``effect`` across skin types after ``modality`` treatment, in words."""
    mine = [c for c in cells if c.modality == modality and c.proportion.treatments > 0]
    if not mine:
        return f"There are no {modality} treatments in this selection, so no trend in {effect} can be tested."
    if t.groups < 2:
        return f"After {modality} treatment only one skin type is in this selection, so no trend across skin " \
               f"types can be tested."
    if t.p_value is None:
        return f"No {effect} followed any {modality} treatment in this selection, so there is no trend to test."
    first, last = mine[0], mine[-1]
    span = (f"from {wording.pct(first.proportion.estimate)} in type {first.group} to "
            f"{wording.pct(last.proportion.estimate)} in type {last.group}")
    if t.p_value < ALPHA:
        way = "rises" if t.direction == "increasing" else "falls"
        return f"After {modality} treatment, {effect} {way} with darker skin type: {span} " \
               f"(trend test {wording.p_value(t.p_value)})."
    return f"After {modality} treatment, no clear trend in {effect} across skin types ({span}; " \
           f"trend test {wording.p_value(t.p_value)})."
