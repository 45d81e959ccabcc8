"""The comparisons the dashboard shows: ablative vs non-ablative, overall and per Fitzpatrick type.

Each function takes :class:`~analysis.store.Records` (already filtered) and returns a small
frozen result object holding the numbers, the small-group flags and one plain-language sentence
per finding. The statistics themselves live in :mod:`analysis.stats`, :mod:`analysis.spc` and
:mod:`analysis.models`; this module decides what to compare and how to say it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import stats, wording
from analysis.filters import with_effect_flags
from analysis.models import AdjustedOddsRatio, adjusted_odds_ratio, further_treatments_needed
from analysis.schema import ABLATIVE, EFFECTS, FITZPATRICK_ROMAN, MODALITIES, NON_ABLATIVE
from analysis.spc import Funnel, PChart, expected_counts, funnel_plot, p_chart
from analysis.store import Records

SMALL_N = 10          # fewer treatments than this in a group: too small to conclude from
SMALL_EXPECTED = 5    # fewer expected events than this in a 2x2 cell: use an exact test, flag it
ALPHA = 0.05
BANDS: tuple[tuple[int, ...], ...] = ((1, 2), (3, 4), (5, 6))  # Fitzpatrick types pooled for sentences
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


@dataclass(frozen=True)
class SkinToneComparison:
    """Hyperpigmentation by modality x Fitzpatrick type: the core view."""

    effect: str
    cells: tuple[RateCell, ...]                  # one per modality x type present
    by_type: tuple[RateContrast, ...]            # ablative vs non-ablative within each type
    by_band: tuple[RateContrast, ...]            # within I-II, III-IV, V-VI
    overall: RateContrast
    trend: dict[str, stats.TrendTest]            # per modality, across types I -> VI
    adjusted: AdjustedOddsRatio                  # logistic regression: modality + type (+ area)
    findings: tuple[Finding, ...]


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
    inconclusive = n1 > 0 and n2 > 0 and (small or test.p_value is None or test.p_value >= ALPHA)
    more = None
    if inconclusive:
        label = f"modality in {where}" if where else "modality"
        more = further_treatments_needed(k1, n1, k2, n2, group_label=label).sentence
    return RateContrast(group, a, b, diff, ratio, test, small, sentence, more)


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
    if _min_expected(a.events, a.treatments, b.events, b.treatments) < SMALL_EXPECTED:
        return sentence + (f" — too few events to conclude from ({a.events + b.events} in all; "
                           f"at least {SMALL_EXPECTED} expected per group are needed).")
    if test.p_value is not None and test.p_value < ALPHA and diff.estimate is not None:
        more = "more" if diff.estimate > 0 else "less"
        return sentence + (f": {wording.points(diff.estimate)} {more} often after ablative "
                           f"(95 % CI {wording.points(diff.low).split(' ')[0]}–"
                           f"{wording.points(diff.high)}; {wording.p_value(test.p_value)}).").replace(
                               "CI -", "CI −")
    return sentence + f"; the difference could be chance ({wording.p_value(test.p_value)})."


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
    weight = 1.0 if (test.p_value or 1) < ALPHA else 0.2
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
    if nx == 0 or ny == 0:
        return f"{label.capitalize()} cannot be compared: this selection has no " \
               f"{'ablative' if nx == 0 else 'non-ablative'} treatments with {label} recorded."
    text = (f"Median {label} was {wording.number(a.estimate, unit)} after ablative treatment "
            f"(95 % CI {wording.interval(a.low, a.high)}) vs {wording.number(b.estimate, unit)} "
            f"({wording.interval(b.low, b.high)}) after non-ablative")
    if min(nx, ny) < SMALL_N:
        return text + f" — too few treatments to conclude from ({nx} vs {ny})."
    if test.p_value is not None and test.p_value < ALPHA and shift.estimate is not None and shift.estimate != 0:
        direction = "longer" if shift.estimate > 0 else "shorter"
        if unit != "days":
            direction = "higher" if shift.estimate > 0 else "lower"
        return text + (f"; typically {wording.number(abs(shift.estimate), unit)} {direction} for ablative "
                       f"(95 % CI {wording.interval(shift.low, shift.high, unit)}; {wording.p_value(test.p_value)}).")
    return text + f"; the difference could be chance ({wording.p_value(test.p_value)})."


def downtime(records: Records) -> ContinuousComparison:
    """Downtime days: ablative vs non-ablative."""
    return compare_measure(records, "downtime_days", "downtime", "days")


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
    sentence = _ordinal_sentence(label, good_label, good, test, len(x), len(y))
    weight = 0.9 if (test.p_value or 1) < ALPHA else 0.2
    return OrdinalComparison(label, levels, dist, medians, test, good, good_label, contrast, breakdown,
                             (Finding(label, sentence, weight, min(len(x), len(y)) < SMALL_N),))


def _ordinal_sentence(label: str, good_label: str, good: dict[str, stats.Proportion], test: stats.TestResult,
                      nx: int, ny: int) -> str:
    a, b = good[ABLATIVE], good[NON_ABLATIVE]
    if nx == 0 or ny == 0:
        return f"{label.capitalize()} cannot be compared: no {'ablative' if nx == 0 else 'non-ablative'} " \
               f"treatments with a {label} recorded in this selection."
    text = f"{pct_ci(a)} of ablative treatments reached {good_label} vs {pct_ci(b, short=True)} of non-ablative"
    if min(nx, ny) < SMALL_N:
        return text + f" — too few treatments to conclude from ({nx} vs {ny})."
    if test.p_value is not None and test.p_value < ALPHA:
        better = "higher" if test.rank_biserial is not None and test.rank_biserial > 0 else "lower"
        return text + f"; {label} scores were {better} after ablative treatment ({wording.p_value(test.p_value)})."
    return text + f"; the difference in {label} could be chance ({wording.p_value(test.p_value)})."


def improvement(records: Records) -> OrdinalComparison:
    """Investigator-rated improvement (0-4): share reaching at least 51 % improvement (score >= 3)."""
    return ordinal(records, "improvement_score", "improvement", (0, 1, 2, 3, 4), GOOD_IMPROVEMENT,
                   "at least 51 % improvement")


def satisfaction(records: Records) -> OrdinalComparison:
    """Patient satisfaction (1-5): share satisfied (4 or 5)."""
    return ordinal(records, "satisfaction", "satisfaction", (1, 2, 3, 4, 5), 4, "satisfaction of 4 or 5")


# --- hyperpigmentation across skin tones --------------------------------------------------------

def _rate_cells(frame: pd.DataFrame, flag: str, by: str) -> tuple[RateCell, ...]:
    grouped = frame.groupby([by, "modality"], observed=True, sort=True)[flag].agg(["sum", "size"])
    cells = []
    for (group, modality), row in grouped.iterrows():
        p = stats.wilson_ci(int(row["sum"]), int(row["size"]))
        cells.append(RateCell(str(modality), _group_name(by, group), p, p.treatments < SMALL_N))
    return tuple(cells)


def _counts(frame: pd.DataFrame, flag: str, mask: np.ndarray | pd.Series | None = None) -> tuple[int, int, int, int]:
    sub = frame if mask is None else frame.loc[mask]
    a = sub.loc[sub["modality"] == ABLATIVE, flag]
    b = sub.loc[sub["modality"] == NON_ABLATIVE, flag]
    return int(a.sum()), len(a), int(b.sum()), len(b)


def skin_tone(records: Records, effect: str = "hyperpigmentation") -> SkinToneComparison:
    """Rate of ``effect`` per modality x Fitzpatrick type, contrasts per type and band, trend per modality."""
    frame = with_effect_flags(records)
    cells = _rate_cells(frame, effect, "fitzpatrick_type")
    types = sorted(int(t) for t in frame["fitzpatrick_type"].unique())
    by_type = tuple(rate_contrast(f"type {FITZPATRICK_ROMAN[t]} skin",
                                  *_counts(frame, effect, frame["fitzpatrick_type"] == t), effect=effect)
                    for t in types)
    by_band = tuple(rate_contrast(band_label(band), *_counts(frame, effect, frame["fitzpatrick_type"].isin(band)),
                                  effect=effect)
                    for band in BANDS if frame["fitzpatrick_type"].isin(band).any())
    overall = rate_contrast("all treatments", *_counts(frame, effect), effect=effect, where="")
    trend = {}
    for modality in MODALITIES:
        sub = frame.loc[frame["modality"] == modality]
        grouped = sub.groupby("fitzpatrick_type")[effect].agg(["sum", "size"]).reindex(range(1, 7), fill_value=0)
        trend[modality] = stats.trend_test(grouped["sum"].astype(int).tolist(), grouped["size"].astype(int).tolist(),
                                           scores=list(range(1, 7)))
    adjusted = adjusted_odds(frame, effect)
    findings = _skin_tone_findings(effect, by_band, overall, trend, cells) + (
        Finding(effect, adjusted_sentence(adjusted), 0.9 if adjusted.fitted else 0.1, not adjusted.fitted),)
    return SkinToneComparison(effect, cells, by_type, by_band, overall, trend, adjusted, findings)


def adjusted_odds(frame: pd.DataFrame, effect: str = "hyperpigmentation") -> AdjustedOddsRatio:
    """Odds ratio for ablative vs non-ablative adjusted for Fitzpatrick type (and treatment area when recorded)."""
    covariates: tuple[str, ...] = ("fitzpatrick_type",)
    if frame["treatment_area"].notna().any() and frame["treatment_area"].nunique() > 1:
        covariates += ("treatment_area",)
    return adjusted_odds_ratio(frame, outcome=effect, exposure="modality", exposure_level=ABLATIVE,
                               covariates=covariates, categorical=covariates)


def adjusted_sentence(result: AdjustedOddsRatio) -> str:
    """The adjusted odds ratio in words, or why it could not be estimated."""
    names = [("fitzpatrick", "skin type"), ("treatment_area", "treatment area")]
    adjusted_for = " and ".join(word for key, word in names if any(key in t for t in result.terms)) or "skin type"
    if not result.fitted or result.odds_ratio is None:
        return f"The odds ratio adjusted for {adjusted_for} could not be estimated: {result.reason}"
    text = (f"Taking {adjusted_for} into account, ablative treatment carried {wording.times(result.odds_ratio)} "
            f"the odds of {result.outcome} of non-ablative treatment (95 % CI "
            f"{result.ci_low:.2f}–{result.ci_high:.2f}; {wording.p_value(result.p_value)}).")
    if result.warning:
        text += f" Caution: {result.warning}"
    return text


def _skin_tone_findings(effect: str, by_band: tuple[RateContrast, ...], overall: RateContrast,
                        trend: dict[str, stats.TrendTest], cells: tuple[RateCell, ...]) -> tuple[Finding, ...]:
    findings: list[Finding] = [Finding(effect, wording.capital(overall.sentence), 0.8, overall.small)]
    for contrast in by_band:
        significant = contrast.test.p_value is not None and contrast.test.p_value < ALPHA
        weight = 1.5 if "V–VI" in contrast.group and not contrast.small else (1.0 if significant else 0.3)
        sentence = wording.capital(contrast.sentence)
        if contrast.more_needed:
            sentence += " " + contrast.more_needed
        findings.append(Finding(effect, sentence, weight, contrast.small))
    for modality, t in trend.items():
        findings.append(Finding(effect, _trend_sentence(effect, modality, t, cells), 0.7, t.groups < 2))
    small = [c for c in cells if c.small]
    if small:
        names = ", ".join(f"{c.modality} type {c.group} ({c.proportion.treatments})" for c in small)
        findings.append(Finding(effect, f"Too few treatments to conclude from in: {names}.", 0.1, True))
    return tuple(findings)


def _trend_sentence(effect: str, modality: str, t: stats.TrendTest, cells: tuple[RateCell, ...]) -> str:
    mine = [c for c in cells if c.modality == modality and c.proportion.treatments > 0]
    if t.groups < 2 or t.p_value is None:
        return f"After {modality} treatment there are too few skin types in this selection to test a trend in {effect}."
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
    median: stats.Estimate


@dataclass(frozen=True)
class SideEffectSummary:
    """Every effect's rate by modality, severity mix, and duration."""

    rates: tuple[RateContrast, ...]          # one per effect: ablative vs non-ablative
    by_skin_type: tuple[RateCell, ...]       # effect rate per modality x type (group = 'effect · type')
    severity: pd.DataFrame                   # effect, modality, severity, count
    durations: tuple[EffectDuration, ...]
    findings: tuple[Finding, ...]


def side_effects(records: Records) -> SideEffectSummary:
    """Rates of each recorded effect (treatments with at least one event), severity and duration."""
    frame = with_effect_flags(records)
    side = records.side_effects
    present = set(side["effect"].dropna().unique().tolist())
    effects = [e for e in EFFECTS if e in present]
    rates = tuple(rate_contrast(e, *_counts(frame, e), effect=e, where="") for e in effects)
    by_type = []
    for e in effects:
        for cell in _rate_cells(frame, e, "fitzpatrick_type"):
            by_type.append(RateCell(cell.modality, f"{e} · {cell.group}", cell.proportion, cell.small))
    joined = side.merge(records.outcomes[["treatment_id", "modality"]], on="treatment_id", how="inner")
    severity = (joined.assign(severity=joined["severity"].fillna("not recorded"))
                .groupby(["effect", "modality", "severity"], observed=True).size().rename("count").reset_index())
    durations = []
    lasted = joined.assign(days=joined["resolved_day"] - joined["onset_day"]).dropna(subset=["days"])
    for (e, m), values in lasted.groupby(["effect", "modality"], observed=True)["days"]:
        durations.append(EffectDuration(str(e), str(m), stats.median_ci(values.to_numpy(dtype="float64"))))
    findings = tuple(Finding(c.group, wording.capital(c.sentence), 0.5 if not c.small else 0.1, c.small) for c in rates)
    return SideEffectSummary(rates, tuple(by_type), severity, tuple(durations), findings)


# --- time: monthly p-chart ----------------------------------------------------------------------

@dataclass(frozen=True)
class MonthlyTrend:
    """Monthly rate of an effect per modality as p-charts, and treatment volume per month."""

    effect: str
    charts: dict[str, PChart]
    volume: pd.DataFrame                 # month, modality, treatments
    findings: tuple[Finding, ...]


def monthly(records: Records, effect: str = "hyperpigmentation") -> MonthlyTrend:
    """p-chart of the monthly ``effect`` rate for each modality (3-sigma limits, NHS run rules).

    Every calendar month between the first and last treatment is a point (a month with no
    treatments has no rate). Recent months may still be missing late-onset events.
    """
    frame = with_effect_flags(records)
    if frame.empty:
        empty = pd.DataFrame(columns=["month", "modality", "treatments"])
        return MonthlyTrend(effect, {}, empty, (Finding(effect, "No treatments in this selection.", 0, True),))
    month = frame["treatment_date"].dt.to_period("M")
    months = pd.period_range(month.min(), month.max(), freq="M")
    grouped = frame.assign(month=month).groupby(["modality", "month"], observed=True)[effect].agg(["sum", "size"])
    charts: dict[str, PChart] = {}
    rows = []
    findings: list[Finding] = []
    for modality in MODALITIES:
        if modality not in grouped.index.get_level_values(0):
            continue
        mine = grouped.loc[modality].reindex(months, fill_value=0)
        labels = [str(m) for m in months]
        chart = p_chart(mine["sum"].astype(int).tolist(), mine["size"].astype(int).tolist(), labels=labels)
        charts[modality] = chart
        rows.extend({"month": lab, "modality": modality, "treatments": int(n)} for lab, n in zip(labels, mine["size"]))
        findings.extend(_signal_findings(effect, modality, chart))
    if not any(f.weight > 0.5 for f in findings):
        findings.append(Finding(effect, f"No month's {effect} rate fell outside its control limits, and no shift or "
                                        "trend rule fired: the process looks stable.", 0.3))
    return MonthlyTrend(effect, charts, pd.DataFrame(rows), tuple(findings))


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


def funnel(records: Records, unit: str = "clinic", effect: str = "hyperpigmentation") -> FunnelComparison:
    """Funnel plot (Spiegelhalter 2005) of O/E per ``unit``, expected counts by modality x Fitzpatrick type.

    A unit outside the limits with fewer than 5 expected events is reported as too small to judge:
    the published interpolated limits flag small units too easily.
    """
    frame = with_effect_flags(records)
    label = unit.replace("_", " ")
    if frame.empty or frame[unit].isna().all():
        empty = funnel_plot(pd.DataFrame(columns=["name", "treatments", "observed", "expected"]))
        return FunnelComparison(unit, effect, empty, (Finding(effect, f"No {label} is recorded in this selection.",
                                                              0, True),))
    groups = expected_counts(frame, unit, ["modality", "fitzpatrick_type"], effect)
    result = funnel_plot(groups)
    findings = []
    for u in result.units:
        if u.outside is None or u.ratio is None:
            continue
        judged = u.expected >= SMALL_EXPECTED and u.treatments >= SMALL_N
        direction = "more" if u.ratio > 1 else "less"
        text = (f"{label.capitalize()} {u.name}: {u.observed} {effect} events where {u.expected:.1f} were expected "
                f"for its mix of modalities and skin types ({wording.times(u.ratio)} the expected; {u.outside} limit)")
        if judged:
            findings.append(Finding(effect, text + f": {direction} often than chance would explain.",
                                    1.3 if u.ratio > 1 else 0.7))
        else:
            findings.append(Finding(effect, text + ", but with so few expected events this is too small to judge.",
                                    0.2, True))
    if not findings:
        findings.append(Finding(effect, f"Every {label} lies within the 95 % limits for {effect}, after allowing for "
                                        "its mix of modalities and skin types.", 0.4))
    return FunnelComparison(unit, effect, result, tuple(findings))
