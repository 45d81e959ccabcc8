"""An effect's rate across skin tones, ablative vs non-ablative: the dashboard's core view.

Hyperpigmentation (or another effect) per modality x Fitzpatrick type, ablative vs non-ablative
within each type and each band (I-II, III-IV, V-VI), a trend test across the types per modality,
the odds ratio adjusted for skin type (and treatment area) by logistic regression, the Mantel-Haenszel
odds ratio stratified by skin type, and tests of whether the gap between the modalities changes with
skin type (effect modification). The result objects, thresholds and the rate contrast it builds on are
in :mod:`analysis.findings.compare`.

Subgroup sentences defer to one test of interaction (as the CONSORT 2010 guidance asks of subgroup
claims, item 18; Wang et al. 2007, N Engl J Med 357:2189-2194): the Breslow-Day test with Tarone's
correction that the odds ratio is the same in every skin type (no pattern assumed). Without evidence of
interaction (p >= 0.05, or no test possible) a band's sentence gives its rates and says that the
odds ratio over all skin types is the best estimate for it; with evidence, it keeps its own comparison.
The likelihood-ratio tests of modality x skin type (skin type as a factor, and as a linear score for a
steady change from I to VI) are reported beside it and decide nothing: deciding on whichever of three
tests is smallest would raise the false-alarm rate above 5 %.

Why Breslow-Day governs rather than the likelihood-ratio test with the factor (the same question): on
data with no interaction the factor test is too quick to find one when skin types have few treatments.
Measured by ``bench/interaction_null.py`` on 1,000 simulated datasets per size (rates 2-30 % rising
with type, identical in both modalities), the share of datasets with p < 0.05 was, for the factor test /
linear test / Breslow-Day-Tarone: 11.7 / 6.1 / 5.8 % with 8-20 treatments per type and modality,
6.7 / 4.0 / 3.8 % with 20-60, 5.8 / 4.5 / 4.5 % with 40-120 and 7.4 / 4.5 / 6.4 % with 200-580 (Monte
Carlo standard error about 0.7 points; a second run in that module's notes agrees).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.findings.compare import (ALPHA, NOT_RECORDED_TEXT, SMALL_N, Finding, RateCell, RateContrast,
                                       family_contrasts, not_recorded, pct_ci, rate_contrast)
from analysis.records.filters import with_effect_flags
from analysis.stats.interaction import (HomogeneityTest, InteractionTest, MantelHaenszel, breslow_day,
                                        interaction_lrt, mantel_haenszel)
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
    mantel_haenszel: MantelHaenszel | None = None     # odds ratio pooled over skin types
    interaction: InteractionTest | None = None        # modality x type, type as a factor (reported)
    interaction_trend: InteractionTest | None = None  # modality x type, type as a linear score 1-6 (reported)
    breslow_day: HomogeneityTest | None = None        # same odds ratio in every type, Tarone: governs the sentences
    #: what each of ``findings`` is about (same order): "overall", "band", "modification" (does the gap change
    #: with skin type), "trend", "small" (groups too small), "adjusted"
    parts: tuple[str, ...] = ()

    @property
    def differs_by_type(self) -> bool | None:
        """True when the governing test of interaction finds the gap differs by skin type (p < 0.05), False
        when it does not, None when it could not be done."""
        if self.breslow_day is None or self.breslow_day.p_value is None:
            return None
        return self.breslow_day.p_value < ALPHA

    def findings_in(self, *parts: str) -> tuple[Finding, ...]:
        """The findings about ``parts`` (see :attr:`parts`), part by part in the order asked for."""
        return tuple(f for wanted in parts for f, part in zip(self.findings, self.parts) if part == wanted)


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
        said = not_recorded(effect)
        return SkinToneComparison(effect, (), (), (), unknown, {}, None, said, recorded=False,
                                  parts=("overall",) * len(said))
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type", "treatment_area"])
    table = _type_table(frame, effect)
    cells = tuple(RateCell(modality, FITZPATRICK_ROMAN[t], p, p.treatments < SMALL_N)
                  for (t, modality), p in ((key, stats.wilson_ci(*counts)) for key, counts in table.items()))
    types = sorted({t for t, _ in table})
    # a band is named by the types it holds in this selection: "type IV skin", not "type III–IV skin"
    bands = tuple(present for present in (tuple(t for t in band if t in types) for band in BANDS) if present)
    # The types and the bands are one family: on data with no real difference the page calls any of them
    # different at most 1 time in 20 (Holm). A band holding one type is that type's comparison, counted once;
    # a band that holds the whole selection is the overall comparison under its name, not adjusted.
    whole = _table_counts(table)
    pooled = [band for band in bands if len(band) > 1 and _table_counts(table, band) != whole]
    family = family_contrasts([(f"type {FITZPATRICK_ROMAN[t]} skin", _table_counts(table, (t,))) for t in types]
                              + [(band_label(band), _table_counts(table, band)) for band in pooled],
                              "skin-type comparisons", effect=effect)
    by_type = family[:len(types)]
    of_band = dict(zip(pooled, family[len(types):]))
    of_band |= {band: rate_contrast(band_label(band), *whole, effect=effect)
                for band in bands if len(band) > 1 and band not in of_band}
    by_band = tuple(of_band[band] if len(band) > 1 else by_type[types.index(band[0])] for band in bands)
    overall = rate_contrast("all treatments", *whole, effect=effect, where="")
    trend = {}
    for modality in MODALITIES:
        per_type = [table.get((t, modality), (0, 0)) for t in range(1, 7)]
        trend[modality] = stats.trend_test([k for k, _ in per_type], [n for _, n in per_type],
                                           scores=list(range(1, 7)))
    adjusted = adjusted_odds(frame, effect)
    strata = [_table_counts(table, (t,)) for t in types]
    pooled = mantel_haenszel(strata)
    homogeneity = breslow_day(strata)
    modification = Modification(pooled, homogeneity, len(types))
    if len(types) > 1 and not modification.differs:
        # Subgroup claims defer to the test of interaction: without evidence that the gap differs between skin
        # types, no type or band (short of the whole selection) is called different on its own.
        by_type = tuple(_deferred(c, effect, modification) for c in by_type)
        by_band = tuple(c if _counts_of(c) == whole else _deferred(c, effect, modification) for c in by_band)
    found, parts = _skin_tone_findings(effect, by_band, bands, overall, trend, cells, modification)
    found += (Finding(effect, adjusted_sentence(adjusted), 0.9 if adjusted.fitted else 0.1, not adjusted.fitted),)
    return SkinToneComparison(effect, cells, by_type, by_band, overall, trend, adjusted, found, bands=bands,
                              mantel_haenszel=pooled,
                              interaction=interaction_lrt(strata, scores=types, scale="factor"),
                              interaction_trend=interaction_lrt(strata, scores=types, scale="linear"),
                              breslow_day=homogeneity, parts=parts + ("adjusted",))


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


@dataclass(frozen=True)
class Modification:
    """What the subgroup sentences need to know about effect modification by skin type."""

    pooled: MantelHaenszel
    interaction: HomogeneityTest     # the governing test of interaction
    types: int                       # skin types in the selection

    @property
    def differs(self) -> bool:
        p = self.interaction.p_value
        return p is not None and p < ALPHA


def modification_sentence(effect: str, m: Modification, overall: RateContrast | None = None) -> str | None:
    """Whether the gap between the modalities changes with skin type, in words; None with one skin type, or
    when ``overall`` shows there is no comparison at all (one modality only, or no event in either)."""
    if m.types < 2:
        return None
    if overall is not None and (min(overall.ablative.treatments, overall.non_ablative.treatments) == 0
                                or overall.ablative.events + overall.non_ablative.events == 0):
        return None
    t = m.interaction
    if t.p_value is None:
        return f"{t.reason} Until it can be, the comparison over all skin types is the best guide for each of them."
    test = f"test of interaction {wording.p_value(t.p_value)}"
    if m.differs:
        return (f"How ablative and non-ablative treatment compare for {effect} (the odds ratio) differs between skin "
                f"types ({test}): read the figures for each skin type rather than one overall figure.")
    text = (f"How ablative and non-ablative treatment compare for {effect} (the odds ratio) does not differ clearly "
            f"between skin types ({test})")
    p = m.pooled
    if p.odds_ratio is None:
        return text + ", so the comparison over all skin types is the best guide for each type."
    return (text + f", so the figure over all skin types is the best estimate for each type: ablative treatment carried "
                   f"{wording.times(p.odds_ratio)} the odds of {effect} of non-ablative (95 % CI "
                   f"{p.low:.2f}–{p.high:.2f}). The same odds mean a larger gap in percentage points where {effect} "
                   f"is commoner.")


def _deferred(contrast: RateContrast, effect: str, m: Modification) -> RateContrast:
    """A type's or band's comparison when the test of interaction found no clear difference between skin types:
    never conclusive, its sentence the one :func:`band_sentence` gives, and no "more treatments needed"."""
    return replace(contrast, deferred=True, more_needed=None, sentence=band_sentence(effect, contrast, m))


def band_sentence(effect: str, contrast: RateContrast, m: Modification) -> str:
    """A band's sentence: its own comparison when the gap differs by skin type (or the band is too small to
    say anything), else its rates and a pointer to the estimate over all types (no subgroup claim of its own)."""
    if contrast.deferred:   # already said (see _deferred)
        return contrast.sentence
    own = wording.capital(contrast.sentence) + (f" {contrast.more_needed}" if contrast.more_needed else "")
    a, b = contrast.ablative, contrast.non_ablative
    if m.differs or min(a.treatments, b.treatments) < SMALL_N:
        return own
    rates = (f"In {contrast.group}, ablative treatments were followed by {effect} in {pct_ci(a)} vs "
             f"{pct_ci(b, short=True)} for non-ablative; ")
    if m.pooled.odds_ratio is None:
        return rates + "the comparison over all skin types is the best guide for this group too."
    return rates + (f"the figure over all skin types, {wording.times(m.pooled.odds_ratio)} the odds, is the best "
                    f"estimate for this group too.")


def _skin_tone_findings(effect: str, by_band: tuple[RateContrast, ...], bands: tuple[tuple[int, ...], ...],
                        overall: RateContrast, trend: dict[str, stats.TrendTest],
                        cells: tuple[RateCell, ...], m: Modification
                        ) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
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
        sentence = band_sentence(effect, contrast, m) if not covered or contrast.deferred else \
            wording.capital(contrast.sentence)
        if covered and not contrast.deferred and contrast.more_needed:
            sentence += " " + contrast.more_needed
        findings.append(Finding(effect, sentence, weight, contrast.small))
    parts = ["band"] * len(findings)
    if not covered:
        parts[0] = "overall"
    said = modification_sentence(effect, m, overall)
    if said is not None:
        thin = m.interaction.p_value is None or any(c.small for c in by_band)
        findings.append(Finding(effect, said, 1.2 if m.differs else 0.75, thin))
        parts.append("modification")
    typed = {c.group for c in cells if c.proportion.treatments > 0}
    if len(typed) == 1:  # one skin type in the whole selection: said once, not once per modality
        findings.append(Finding(effect, f"Only type {next(iter(typed))} skin is in this selection, so no trend "
                                        "across skin types can be tested.", 0.7, True))
        parts.append("trend")
    else:
        for modality, t in trend.items():
            findings.append(Finding(effect, trend_sentence(effect, modality, t, cells), 0.7, t.groups < 2))
            parts.append("trend")
    small = [c for c in cells if c.small]
    if small:
        names = ", ".join(f"{c.modality} type {c.group} ({c.proportion.treatments:,})" for c in small)
        findings.append(Finding(effect, f"Too few treatments to conclude from in: {names}.", 0.1, True))
        parts.append("small")
    return tuple(findings), tuple(parts)


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
