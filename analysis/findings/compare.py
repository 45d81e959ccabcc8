"""The comparisons the dashboard shows: ablative vs non-ablative, overall and per Fitzpatrick type.

Each function takes :class:`~analysis.records.store.Records` (already filtered) and returns a small
frozen result object holding the numbers, the small-group flags and one plain-language sentence
per finding. The statistics themselves live in :mod:`analysis.stats`, :mod:`analysis.stats.pchart`,
:mod:`analysis.stats.funnel`, :mod:`analysis.stats.logistic` and :mod:`analysis.stats.power`; this module
decides what to compare and how to say it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

import numpy as np
import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.records.filters import side_effects_with, with_effect_flags
from analysis.stats.logistic import AdjustedOddsRatio, adjusted_odds_ratio
from analysis.stats.power import further_treatments_needed
from analysis.records.schema import ABLATIVE, EFFECTS, FITZPATRICK_ROMAN, MODALITIES, NON_ABLATIVE
from analysis.stats.funnel import NOT_RECORDED, Funnel, expected_counts, funnel_plot
from analysis.stats.pchart import PChart, PChartPoint, p_chart
from analysis.records.store import Records

SMALL_N = 10          # fewer treatments than this in a group: too small to conclude from
SMALL_EXPECTED = 5    # fewer expected events than this in a 2x2 cell: use an exact test, flag it
ALPHA = 0.05
BANDS: tuple[tuple[int, ...], ...] = ((1, 2), (3, 4), (5, 6))  # Fitzpatrick types pooled for sentences
NOT_RECORDED_TEXT = ("Side effects are not recorded in this dataset (it was imported without a side-effect file or "
                     "side-effect columns), so {effect} rates are unknown, not zero. Import the side-effect records "
                     "to see them.")
GOOD_IMPROVEMENT = 3  # quartile score 3 = 51-75 % improvement: "at least 51 % improvement"
# Breakdowns the pages show: (column, column label, phrase inside a sentence).
BREAKDOWNS: tuple[tuple[str, str, str], ...] = (
    ("fitzpatrick_type", "Fitzpatrick skin type", "Fitzpatrick skin type"),
    ("device", "Device", "device"),
    ("treatment_area", "Treatment area", "treatment area"),
)


@dataclass(frozen=True)
class Finding:
    """One thing the data says, in a sentence. ``weight`` ranks findings for the Overview."""

    topic: str
    sentence: str
    weight: float = 0.0
    small: bool = False


@dataclass(frozen=True)
class GroupMedian:
    """Median of a measurement in one group (modality x breakdown value)."""

    modality: str
    group: str
    median: stats.Estimate
    small: bool


@dataclass(frozen=True)
class ContinuousComparison:
    """A measurement (downtime, satisfaction, ...) compared between the modalities."""

    measure: str
    unit: str
    medians: dict[str, stats.Estimate]
    test: stats.TestResult
    shift: stats.Estimate            # Hodges-Lehmann: ablative minus non-ablative
    breakdown: dict[str, tuple[GroupMedian, ...]]
    findings: tuple[Finding, ...]

    @property
    def small(self) -> bool:
        return any(m.n < SMALL_N for m in self.medians.values())

    @property
    def recorded(self) -> bool:
        """False when no treatment in the selection has this measure recorded."""
        return any(m.n > 0 for m in self.medians.values())


@dataclass(frozen=True)
class RateCell:
    """A rate in one group (e.g. hyperpigmentation, ablative, type V)."""

    modality: str
    group: str
    proportion: stats.Proportion
    small: bool


@dataclass(frozen=True)
class RateContrast:
    """Ablative vs non-ablative rate within one group: difference, ratio and a test."""

    group: str
    ablative: stats.Proportion
    non_ablative: stats.Proportion
    difference: stats.Difference
    ratio: stats.Ratio
    test: stats.TestResult
    small: bool
    sentence: str
    more_needed: str | None = None   # for an inconclusive contrast: how many more treatments would settle it


@dataclass(frozen=True)
class OrdinalComparison:
    """An ordinal score (improvement 0-4, satisfaction 1-5) compared between the modalities."""

    measure: str
    levels: tuple[int, ...]
    distribution: pd.DataFrame        # modality, level, count, share
    medians: dict[str, stats.Estimate]
    test: stats.TestResult
    good_share: dict[str, stats.Proportion]
    good_label: str
    good_contrast: RateContrast
    breakdown: dict[str, tuple[RateCell, ...]]
    findings: tuple[Finding, ...]

    @property
    def recorded(self) -> bool:
        """False when no treatment in the selection has this score recorded."""
        return any(m.n > 0 for m in self.medians.values())


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


# --- building blocks ----------------------------------------------------------------------------

def _modality_values(frame: pd.DataFrame, column: str, modality: str) -> np.ndarray:
    values = frame.loc[frame["modality"] == modality, column].to_numpy(dtype="float64")
    return values[~np.isnan(values)]


def rate_contrast(group: str, k1: int, n1: int, k2: int, n2: int, effect: str = "hyperpigmentation",
                  where: str | None = None) -> RateContrast:
    """Ablative (1) vs non-ablative (2): Wilson rates, Newcombe difference, risk ratio, and a test.

    The test is Fisher's exact test when any expected cell count is below 5 or a group is small,
    else Pearson's chi-squared test (without continuity correction).
    """
    a, b = stats.wilson_ci(k1, n1), stats.wilson_ci(k2, n2)
    diff = stats.newcombe_diff_ci(k1, n1, k2, n2)
    ratio = stats.risk_ratio_ci(k1, n1, k2, n2)
    small = min(n1, n2) < SMALL_N or _min_expected(k1, n1, k2, n2) < SMALL_EXPECTED
    test = stats.fisher_exact_test(k1, n1, k2, n2) if small else _chi_squared(k1, n1, k2, n2)
    where = group if where is None else where
    sentence = _rate_sentence(where, a, b, diff, test, effect)
    inconclusive = n1 > 0 and n2 > 0 and not is_conclusive(test, diff)
    more = None
    if inconclusive:
        label = f"modality in {where}" if where else "modality"
        more = further_treatments_needed(k1, n1, k2, n2, group_label=label).sentence
    return RateContrast(group, a, b, diff, ratio, test, small, sentence, more)


def _significant(test: stats.TestResult) -> bool:
    return test.p_value is not None and test.p_value < ALPHA


def _min_expected(k1: int, n1: int, k2: int, n2: int) -> float:
    n = n1 + n2
    if n1 == 0 or n2 == 0:
        return 0.0
    events = k1 + k2
    return min(n1 * events / n, n2 * events / n, n1 * (n - events) / n, n2 * (n - events) / n)


def _chi_squared(k1: int, n1: int, k2: int, n2: int) -> stats.TestResult:
    from scipy.stats import chi2_contingency

    table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
    if (table.sum(axis=0) == 0).any():
        return stats.TestResult("chi-squared", None, None, method="no events or no non-events: no test")
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    return stats.TestResult("chi-squared", float(chi2), float(p), method="Pearson, no continuity correction")


def is_conclusive(test: stats.TestResult, diff: stats.Difference) -> bool:
    """A difference counts when the test rejects at 5 % and the Newcombe interval excludes zero."""
    return (test.p_value is not None and test.p_value < ALPHA and diff.low is not None and diff.high is not None
            and (diff.low > 0 or diff.high < 0))


def _sparse_reason(a: stats.Proportion, b: stats.Proportion) -> str:
    """Which side of the 2x2 table is thin: the events, or the treatments without the event."""
    events, total = a.events + b.events, a.treatments + b.treatments
    return "events" if events <= total - events else "treatments without it"


def _rate_sentence(group: str, a: stats.Proportion, b: stats.Proportion, diff: stats.Difference,
                   test: stats.TestResult, effect: str) -> str:
    where = f"In {group}, " if group else ""
    if a.treatments == 0 or b.treatments == 0:
        present = "ablative" if a.treatments else "non-ablative"
        only = a if a.treatments else b
        return (f"{where}only {present} treatments are in this selection ({only.treatments}); "
                f"{effect} followed {pct_ci(only)}.")
    sentence = (f"{where}ablative treatments were followed by {effect} in {pct_ci(a)} vs {pct_ci(b, short=True)} "
                f"for non-ablative")
    if min(a.treatments, b.treatments) < SMALL_N:
        return sentence + f" — too few treatments to conclude from ({a.treatments} vs {b.treatments})."
    sparse = _min_expected(a.events, a.treatments, b.events, b.treatments) < SMALL_EXPECTED
    if is_conclusive(test, diff):
        more = "more" if diff.estimate > 0 else "less"  # type: ignore[operator]
        text = sentence + (f": {wording.points(diff.estimate)} {more} often after ablative "
                           f"(95 % CI {wording.points_interval(diff.low, diff.high)}; {test.test} "
                           f"{wording.p_value(test.p_value)})")
        if sparse:
            text += f", though with so few {_sparse_reason(a, b)} the size of the difference is uncertain"
        return text + "."
    if sparse:
        return sentence + (f" — too few {_sparse_reason(a, b)} to tell whether the rates differ "
                           f"({test.test} {wording.p_value(test.p_value)}).")
    return sentence + (f"; the difference (95 % CI {wording.points_interval(diff.low, diff.high)}) could be chance "
                       f"({wording.p_value(test.p_value)}).")


def pct_ci(p: stats.Proportion, short: bool = False) -> str:
    """``31 % (95 % CI 24–39 %)`` or, short, ``9 % (6–13 %)``."""
    if p.estimate is None:
        return "no treatments"
    ci = wording.pct_range(p.low, p.high)
    return f"{wording.pct(p.estimate)} ({ci})" if short else f"{wording.pct(p.estimate)} (95 % CI {ci})"


def band_label(types: tuple[int, ...]) -> str:
    """``type V–VI skin``."""
    return f"{wording.skin_types(types)} skin"


# --- downtime and other measurements ----------------------------------------------------------

def compare_measure(records: Records, column: str, label: str, unit: str,
                    breakdowns: tuple[str, ...] = ("fitzpatrick_type", "device", "treatment_area")) -> ContinuousComparison:
    """Medians with CIs per modality, Mann-Whitney U, Hodges-Lehmann shift (ablative − non-ablative)."""
    out = records.outcomes
    x = _modality_values(out, column, ABLATIVE)
    y = _modality_values(out, column, NON_ABLATIVE)
    medians = {ABLATIVE: stats.median_ci(x), NON_ABLATIVE: stats.median_ci(y)}
    enough = len(x) > 0 and len(y) > 0
    test = stats.mann_whitney(x, y) if enough else stats.TestResult("Mann-Whitney U", None, None)
    shift = stats.hodges_lehmann_shift(x, y) if enough else stats.Estimate(None, None, None, 0.95, 0)
    breakdown = {b: _group_medians(out, column, b) for b in breakdowns}
    sentence = _measure_sentence(label, unit, medians, test, shift, len(x), len(y))
    weight = 1.0 if _significant(test) else 0.2
    return ContinuousComparison(label, unit, medians, test, shift, breakdown,
                                (Finding(label, sentence, weight, min(len(x), len(y)) < SMALL_N),))


def _group_medians(out: pd.DataFrame, column: str, by: str) -> tuple[GroupMedian, ...]:
    rows = []
    valid = out[[by, "modality", column]].dropna()
    for (group, modality), values in valid.groupby([by, "modality"], observed=True, sort=True)[column]:
        est = stats.median_ci(values.to_numpy(dtype="float64"))
        rows.append(GroupMedian(str(modality), _group_name(by, group), est, est.n < SMALL_N))
    return tuple(rows)


def _group_name(by: str, value: object) -> str:
    if by == "fitzpatrick_type":
        return FITZPATRICK_ROMAN[int(value)]
    return str(value)


def _measure_sentence(label: str, unit: str, medians: dict[str, stats.Estimate], test: stats.TestResult,
                      shift: stats.Estimate, nx: int, ny: int) -> str:
    a, b = medians[ABLATIVE], medians[NON_ABLATIVE]
    if nx == 0 and ny == 0:
        return f"No {label} is recorded for the treatments in this selection."
    if nx == 0 or ny == 0:
        return f"{label.capitalize()} cannot be compared: this selection has no " \
               f"{'ablative' if nx == 0 else 'non-ablative'} treatments with {label} recorded."
    text = (f"Median {label} was {wording.number(a.estimate, unit)} after ablative treatment "
            f"(95 % CI {wording.interval(a.low, a.high)}) vs {wording.number(b.estimate, unit)} "
            f"({wording.interval(b.low, b.high)}) after non-ablative")
    if min(nx, ny) < SMALL_N:
        return text + f" — too few treatments to conclude from ({nx} vs {ny})."
    if not _significant(test):
        return text + f"; the difference could be chance (Mann–Whitney {wording.p_value(test.p_value)})."
    up = (test.rank_biserial or 0) > 0
    bigger, smaller = ("longer", "shorter") if unit == "days" else ("higher", "lower")
    word = bigger if up else smaller
    if shift.estimate is None or shift.estimate == 0 or shift.low is None or shift.high is None:
        return text + (f"; values were {word} after ablative treatment overall (Mann–Whitney "
                       f"{wording.p_value(test.p_value)}), though the typical difference rounds to zero.")
    # Say the interval in the same direction as the words: "2 days shorter (95 % CI 1–3 days)".
    low, high = (shift.low, shift.high) if up else (-shift.high, -shift.low)
    return text + (f"; typically {wording.number(abs(shift.estimate), unit)} {word} for ablative "
                   f"(95 % CI {wording.interval(low, high, unit)}; Mann–Whitney {wording.p_value(test.p_value)}).")


BREAKDOWNS_DEFAULT: tuple[str, ...] = ("fitzpatrick_type", "device", "treatment_area")


def downtime(records: Records, breakdowns: tuple[str, ...] = BREAKDOWNS_DEFAULT) -> ContinuousComparison:
    """Downtime days: ablative vs non-ablative (``breakdowns=()`` for the headline only: same medians,
    test, shift and finding, no per-group medians)."""
    return compare_measure(records, "downtime_days", "downtime", "days", breakdowns=breakdowns)


# --- results (ordinal scores) ------------------------------------------------------------------

def ordinal(records: Records, column: str, label: str, levels: tuple[int, ...], good_from: int,
            good_label: str, breakdowns: tuple[str, ...] = ("fitzpatrick_type", "device", "treatment_area"),
            ) -> OrdinalComparison:
    """Distribution, medians, Mann-Whitney (an ordinal test, with ties) and the share scoring >= ``good_from``."""
    out = records.outcomes[["modality", column, *breakdowns]].dropna(subset=[column])
    counts = (out.groupby(["modality", column], observed=False).size().rename("count").reset_index()
              .rename(columns={column: "level"}))
    full = pd.MultiIndex.from_product([list(MODALITIES), list(levels)], names=["modality", "level"])
    dist = counts.set_index(["modality", "level"]).reindex(full, fill_value=0).reset_index()
    totals = dist.groupby("modality", observed=True)["count"].transform("sum")
    dist["share"] = np.where(totals > 0, dist["count"] / totals.where(totals > 0, 1), np.nan)
    x = _modality_values(out, column, ABLATIVE)
    y = _modality_values(out, column, NON_ABLATIVE)
    medians = {ABLATIVE: stats.median_ci(x), NON_ABLATIVE: stats.median_ci(y)}
    test = stats.mann_whitney(x, y) if len(x) and len(y) else stats.TestResult("Mann-Whitney U", None, None)
    good = {m: stats.wilson_ci(int((v >= good_from).sum()), len(v)) for m, v in ((ABLATIVE, x), (NON_ABLATIVE, y))}
    contrast = rate_contrast("all treatments", good[ABLATIVE].events, good[ABLATIVE].treatments,
                             good[NON_ABLATIVE].events, good[NON_ABLATIVE].treatments, good_label, where="")
    good_flag = out[column] >= good_from
    breakdown = {b: _rate_cells(out.assign(_good=good_flag), "_good", b) for b in breakdowns}
    sentence = _ordinal_sentence(label, good_label, contrast, test, len(x), len(y), levels)
    weight = 0.9 if contrast.test.p_value is not None and is_conclusive(contrast.test, contrast.difference) else 0.2
    return OrdinalComparison(label, levels, dist, medians, test, good, good_label, contrast, breakdown,
                             (Finding(label, sentence, weight, min(len(x), len(y)) < SMALL_N),))


def _ordinal_sentence(label: str, good_label: str, contrast: RateContrast, test: stats.TestResult,
                      nx: int, ny: int, levels: tuple[int, ...]) -> str:
    """The share reaching the threshold (with its own test), then the whole-scale Mann-Whitney result."""
    a, b = contrast.ablative, contrast.non_ablative
    if nx == 0 and ny == 0:
        return f"No {label} score is recorded for the treatments in this selection."
    if nx == 0 or ny == 0:
        return f"{label.capitalize()} cannot be compared: no {'ablative' if nx == 0 else 'non-ablative'} " \
               f"treatments with a {label} recorded in this selection."
    text = f"{pct_ci(a)} of ablative treatments reached {good_label} vs {pct_ci(b, short=True)} of non-ablative"
    if min(nx, ny) < SMALL_N:
        return text + f" — too few treatments to conclude from ({nx} vs {ny})."
    if is_conclusive(contrast.test, contrast.difference):
        text += f" ({wording.points(contrast.difference.estimate)} apart, {wording.p_value(contrast.test.p_value)})"
    else:
        text += f" (a difference that could be chance, {wording.p_value(contrast.test.p_value)})"
    scale = f"{levels[0]}–{levels[-1]}"
    if _significant(test):
        way = "higher" if (test.rank_biserial or 0) > 0 else "lower"
        return text + f"; on the whole {scale} scale, {label} scores were {way} after ablative treatment " \
                      f"(Mann–Whitney {wording.p_value(test.p_value)})."
    return text + f"; on the whole {scale} scale the difference could be chance (Mann–Whitney " \
                  f"{wording.p_value(test.p_value)})."


def improvement(records: Records, breakdowns: tuple[str, ...] = BREAKDOWNS_DEFAULT) -> OrdinalComparison:
    """Investigator-rated improvement (0-4): share reaching at least 51 % improvement (score >= 3).
    ``breakdowns=()`` for the headline only."""
    return ordinal(records, "improvement_score", "improvement", (0, 1, 2, 3, 4), GOOD_IMPROVEMENT,
                   "at least 51 % improvement", breakdowns=breakdowns)


def satisfaction(records: Records) -> OrdinalComparison:
    """Patient satisfaction (1-5): share satisfied (4 or 5)."""
    return ordinal(records, "satisfaction", "satisfaction", (1, 2, 3, 4, 5), 4, "satisfaction of 4 or 5")


# --- hyperpigmentation across skin tones --------------------------------------------------------

def _rate_cells(frame: pd.DataFrame, flag: str, by: str) -> tuple[RateCell, ...]:
    """The rate of ``flag`` per ``by`` x modality."""
    return _rate_cells_of(frame, [flag], by)[flag]


def _rate_cells_of(frame: pd.DataFrame, flags: list[str], by: str) -> dict[str, tuple[RateCell, ...]]:
    """:func:`_rate_cells` for several flags from one grouping."""
    grouped = frame.groupby([by, "modality"], observed=True, sort=True)
    sums, sizes = grouped[flags].sum(), grouped.size()
    cells: dict[str, tuple[RateCell, ...]] = {}
    for flag in flags:
        row_cells = []
        for (group, modality), events, n in zip(sizes.index, sums[flag], sizes):
            p = stats.wilson_ci(int(events), int(n))
            row_cells.append(RateCell(str(modality), _group_name(by, group), p, p.treatments < SMALL_N))
        cells[flag] = tuple(row_cells)
    return cells


def _counts(frame: pd.DataFrame, flag: str, mask: np.ndarray | pd.Series | None = None) -> tuple[int, int, int, int]:
    """Events and treatments of ``flag`` for ablative, then non-ablative (rows in ``mask`` only)."""
    is_a = (frame["modality"] == ABLATIVE).to_numpy(dtype=bool)
    is_b = (frame["modality"] == NON_ABLATIVE).to_numpy(dtype=bool)
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        is_a &= keep
        is_b &= keep
    values = frame[flag]
    return int(values[is_a].sum()), int(is_a.sum()), int(values[is_b].sum()), int(is_b.sum())


def _type_table(frame: pd.DataFrame, flag: str) -> dict[tuple[int, str], tuple[int, int]]:
    """(Fitzpatrick type, modality) -> (events, treatments): every skin-tone statistic comes from this."""
    grouped = frame.groupby(["fitzpatrick_type", "modality"], observed=True, sort=True)[flag].agg(["sum", "size"])
    return {(int(t), str(m)): (int(k), int(n)) for (t, m), k, n in zip(grouped.index, grouped["sum"], grouped["size"])}


def _table_counts(table: dict[tuple[int, str], tuple[int, int]],
                  types: Iterable[int] | None = None) -> tuple[int, int, int, int]:
    """Like :func:`_counts`, summed from a :func:`_type_table` over ``types`` (all when None)."""
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
        return SkinToneComparison(effect, (), (), (), unknown, {}, None, _not_recorded(effect), recorded=False)
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type", "treatment_area"])
    table = _type_table(frame, effect)
    cells = tuple(RateCell(modality, FITZPATRICK_ROMAN[t], p, p.treatments < SMALL_N)
                  for (t, modality), p in ((key, stats.wilson_ci(*counts)) for key, counts in table.items()))
    types = sorted({t for t, _ in table})
    by_type = tuple(rate_contrast(f"type {FITZPATRICK_ROMAN[t]} skin", *_table_counts(table, (t,)), effect=effect)
                    for t in types)
    # a band is named by the types it holds in this selection: "type IV skin", not "type III–IV skin"
    bands = tuple(present for present in (tuple(t for t in band if t in types) for band in BANDS) if present)
    by_band = tuple(rate_contrast(band_label(band), *_table_counts(table, band), effect=effect) for band in bands)
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


def _not_recorded(effect: str) -> tuple[Finding, ...]:
    return (Finding(effect, NOT_RECORDED_TEXT.format(effect=effect), 2.0, True),)


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
        reason = (result.reason or "the model did not converge").rstrip(".")
        return f"The odds ratio for ablative vs non-ablative treatment could not be estimated: " \
               f"{reason[:1].lower() + reason[1:]}."
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
    findings: list[Finding] = [Finding(effect, wording.capital(overall.sentence), 0.8, overall.small)]
    for contrast, band in zip(by_band, bands):
        significant = contrast.test.p_value is not None and contrast.test.p_value < ALPHA
        darkest = set(band) <= {5, 6}  # the group the article warns about comes first
        weight = 1.5 if darkest and not contrast.small else (1.0 if significant else 0.3)
        sentence = wording.capital(contrast.sentence)
        if contrast.more_needed:
            sentence += " " + contrast.more_needed
        findings.append(Finding(effect, sentence, weight, contrast.small))
    for modality, t in trend.items():
        findings.append(Finding(effect, trend_sentence(effect, modality, t, cells), 0.7, t.groups < 2))
    small = [c for c in cells if c.small]
    if small:
        names = ", ".join(f"{c.modality} type {c.group} ({c.proportion.treatments})" for c in small)
        findings.append(Finding(effect, f"Too few treatments to conclude from in: {names}.", 0.1, True))
    return tuple(findings)


def trend_sentence(effect: str, modality: str, t: stats.TrendTest, cells: tuple[RateCell, ...]) -> str:
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


# --- other side effects -------------------------------------------------------------------------

@dataclass(frozen=True)
class EffectDuration:
    """How long an effect lasted (resolved_day - onset_day), per modality."""

    effect: str
    modality: str
    median: stats.Estimate   # among events with both onset and resolution recorded
    unresolved: int = 0      # events with an onset but no resolution yet (the long ones: not in the median)


@dataclass(frozen=True)
class SideEffectSummary:
    """Every effect's rate by modality, severity mix, and duration."""

    rates: tuple[RateContrast, ...]          # one per effect: ablative vs non-ablative
    by_skin_type: tuple[RateCell, ...]       # effect rate per modality x type (group = 'effect · type')
    severity: pd.DataFrame                   # effect, modality, severity, count
    durations: tuple[EffectDuration, ...]
    findings: tuple[Finding, ...]
    recorded: bool = True


def side_effects(records: Records) -> SideEffectSummary:
    """Rates of each recorded effect (treatments with at least one event), severity and duration."""
    if not records.side_effects_recorded:
        empty = pd.DataFrame(columns=["effect", "modality", "severity", "count"])
        return SideEffectSummary((), (), empty, (), _not_recorded("side-effect"), recorded=False)
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type"])
    side = records.side_effects
    present = set(side["effect"].dropna().unique().tolist())
    effects = [e for e in EFFECTS if e in present]
    rates = tuple(rate_contrast(e, *_counts(frame, e), effect=e, where="") for e in effects)
    by_type = []
    per_effect = _rate_cells_of(frame, effects, "fitzpatrick_type") if effects else {}
    for e in effects:
        for cell in per_effect[e]:
            by_type.append(RateCell(cell.modality, f"{e} · {cell.group}", cell.proportion, cell.small))
    joined = side_effects_with(records, ["modality"])
    severity = (joined.assign(severity=joined["severity"].fillna("not recorded"))
                .groupby(["effect", "modality", "severity"], observed=True).size().rename("count").reset_index())
    durations = []
    lasted = joined.assign(days=joined["resolved_day"] - joined["onset_day"])
    for (e, m), values in lasted.groupby(["effect", "modality"], observed=True)["days"]:
        unresolved = int(values.isna().sum())
        if values.notna().any() or unresolved:
            durations.append(EffectDuration(str(e), str(m), stats.median_ci(values.dropna().to_numpy(dtype="float64")),
                                            unresolved))
    findings = tuple(Finding(c.group, wording.capital(c.sentence), 0.5 if not c.small else 0.1, c.small) for c in rates)
    return SideEffectSummary(rates, tuple(by_type), severity, tuple(durations), findings)


# --- time: monthly p-chart ----------------------------------------------------------------------

FOLLOW_UP_DAYS = 60  # post-inflammatory hyperpigmentation typically appears 2-6 weeks after treatment
                     # (Chan et al., Lasers Surg Med 2007;39:381; see data/generate_sample.py)


@dataclass(frozen=True)
class MonthlyTrend:
    """Monthly rate of an effect per modality as p-charts, and treatment volume per month.

    ``open_points`` are the latest months whose follow-up is not complete: shown, never judged.
    """

    effect: str
    charts: dict[str, PChart]
    volume: pd.DataFrame                 # month, modality, treatments
    findings: tuple[Finding, ...]
    open_points: dict[str, tuple[PChartPoint, ...]] = field(default_factory=dict)
    follow_up_until: date | None = None
    recorded: bool = True


def monthly(records: Records, effect: str = "hyperpigmentation", follow_up_until: date | None = None) -> MonthlyTrend:
    """p-chart of the monthly ``effect`` rate for each modality (3-sigma limits, NHS run rules).

    Every calendar month between the first and last treatment is a point (a month with no
    treatments has no rate). ``follow_up_until`` is the date the side-effect records are complete
    to (for an import, when it was exported): months ending less than ``FOLLOW_UP_DAYS`` before
    it may still be missing late events, so they are shown but left out of the centre line, the
    limits, the run rules and the findings.
    """
    frame = with_effect_flags(records, ["treatment_date", "modality", "clinic"])
    if frame.empty:
        empty = pd.DataFrame(columns=["month", "modality", "treatments"])
        return MonthlyTrend(effect, {}, empty, (Finding(effect, "No treatments in this selection.", 0, True),))
    if not records.side_effects_recorded:
        month = frame["treatment_date"].dt.to_period("M").astype(str)
        volume = (frame.assign(month=month).groupby(["month", "modality"], observed=True).size()
                  .rename("treatments").reset_index())
        return MonthlyTrend(effect, {}, volume, _not_recorded(effect), recorded=False)
    month = frame["treatment_date"].dt.to_period("M")
    months = pd.period_range(month.min(), month.max(), freq="M")
    cutoff = None if follow_up_until is None else pd.Timestamp(follow_up_until) - pd.Timedelta(days=FOLLOW_UP_DAYS)
    judged = [m for m in months if cutoff is None or m.end_time <= cutoff]
    grouped = frame.assign(month=month).groupby(["modality", "month"], observed=True)[effect].agg(["sum", "size"])
    charts: dict[str, PChart] = {}
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
                        labels=[str(m) for m in judged])
        charts[modality] = chart
        open_points[modality] = tuple(
            PChartPoint(str(m), int(mine.loc[m, "sum"]), int(mine.loc[m, "size"]),
                        float(mine.loc[m, "sum"] / mine.loc[m, "size"]) if mine.loc[m, "size"] else None,
                        None, None, False, "follow-up open") for m in months if m not in judged)
        findings.extend(_signal_findings(effect, modality, chart))
    pooled = frame["clinic"].nunique() > 1
    if not any(f.weight > 0.5 for f in findings):
        where = " (all clinics pooled: choose one clinic to check it on its own)" if pooled else ""
        per_month = [p.total for c in charts.values() for p in c.points if p.total]
        thin = not per_month or float(np.median(per_month)) < SMALL_N
        text = (f"No month's {effect} rate fell outside its control limits, and no shift or trend rule fired: the "
                f"process looks stable{where}.")
        if thin:
            text += f" With fewer than {SMALL_N} treatments in a typical month, only very large changes would show."
        findings.append(Finding(effect, text, 0.3, thin))
    still_open = len(months) - len(judged)
    if still_open:
        findings.append(Finding(effect, f"The last {still_open} month(s) are shown but not judged: {effect} can appear "
                                        f"up to {FOLLOW_UP_DAYS} days after treatment, and the records are complete only "
                                        f"to {follow_up_until:%Y-%m-%d}.", 0.2))
    return MonthlyTrend(effect, charts, pd.DataFrame(rows), tuple(findings), open_points, follow_up_until)


def _signal_findings(effect: str, modality: str, chart: PChart) -> list[Finding]:
    out = []
    outside = [p for p in chart.points if p.signal]
    for p in outside[-3:]:
        side = "above" if p.rate is not None and p.upper is not None and p.rate > p.upper else "below"
        out.append(Finding(effect, f"In {p.label}, {effect} after {modality} treatment was {wording.pct(p.rate)} "
                                   f"({p.events} of {p.total}), {side} the control limits "
                                   f"({wording.pct_range(p.lower, p.upper)}; average {wording.pct(chart.centre)}).",
                           1.2 if side == "above" else 0.6))
    runs = [p for p in chart.points if p.rule in ("shift", "trend")]
    if runs:
        rule = runs[-1].rule
        span = [p.label for p in chart.points if p.rule == rule]
        what = "sat on one side of the average" if rule == "shift" else "kept rising or falling"
        out.append(Finding(effect, f"After {modality} treatment, the monthly {effect} rate {what} for 7 or more "
                                   f"months in a row (up to {span[-1]}): a {rule} worth looking into.", 0.9))
    return out


# --- clinics and practitioners: funnel plots --------------------------------------------------------

@dataclass(frozen=True)
class FunnelComparison:
    """Each clinic's or practitioner's case-mix-adjusted rate (observed / expected) against its size."""

    unit: str
    effect: str
    funnel: Funnel
    findings: tuple[Finding, ...]
    side_effects_recorded: bool = True

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
        return FunnelComparison(unit, effect, empty, _not_recorded(effect), side_effects_recorded=False)
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
    for u in named if len(named) >= 2 else []:
        if u.outside is None or u.ratio is None:
            continue
        judged = u.expected >= SMALL_EXPECTED and u.treatments >= SMALL_N
        direction = "more" if u.ratio > 1 else "less"
        text = (f"{label.capitalize()} {u.name}: {u.observed} {effect} events where {u.expected:.1f} were expected "
                f"for its mix of modalities and skin types ({wording.times(u.ratio)} the expected; {u.outside} limit)")
        if not judged:
            findings.append(Finding(effect, text + ", but with so few expected events this is too small to judge.",
                                    0.2, True))
        elif "99.8" in u.outside:
            findings.append(Finding(effect, text + f": {direction} often than chance would plausibly explain.",
                                    1.3 if u.ratio > 1 else 0.7))
        else:
            findings.append(Finding(effect, text + f": worth a look, though with {len(named)} {label}s about one in "
                                    "20 falls outside the 95 % limits by chance alone.", 0.6 if u.ratio > 1 else 0.4))
    if len(named) >= 2 and not findings:
        thin = sum(u.expected for u in named) < SMALL_EXPECTED * len(named)
        text = (f"Every {label} lies within the 95 % limits for {effect}, after allowing for its mix of modalities "
                "and skin types.")
        if thin:
            text += f" With fewer than {SMALL_EXPECTED} expected events per {label}, this is too few to conclude from."
        findings.append(Finding(effect, text, 0.4, thin))
    missing = next((u for u in result.units if u.name == NOT_RECORDED), None)
    if missing is not None:
        findings.append(Finding(effect, f"{missing.treatments} treatment(s) have no {label} recorded; they count in the "
                                        f"expected rates but are not judged as a {label}.", 0.1))
    return FunnelComparison(unit, effect, result, tuple(findings))
