"""The comparisons the dashboard shows: ablative vs non-ablative, overall and per group.

This module holds what every comparison shares: the result objects (:class:`Finding`,
:class:`RateCell`, :class:`RateContrast`, ...), the thresholds (:data:`SMALL_N`, :data:`ALPHA`, ...)
and the rate contrast with its sentence; and the comparisons of measurements (downtime, procedure
time, cost) and of ordinal scores (improvement, satisfaction). The other comparisons build on it:

* :mod:`analysis.findings.skin_tone` - an effect's rate per Fitzpatrick type and band, the trend
  across types and the adjusted odds ratio (the core view);
* :mod:`analysis.findings.effects` - every recorded side effect: rates, severity and duration;
* :mod:`analysis.findings.monitoring` - the monthly p-chart and the clinic / practitioner funnel plots.

Each function takes :class:`~analysis.records.store.Records` (already filtered) and returns a small
frozen result object holding the numbers, the small-group flags and one plain-language sentence
per finding. The statistics themselves live in :mod:`analysis.stats` (and its :mod:`~analysis.stats.pchart`,
:mod:`~analysis.stats.funnel`, :mod:`~analysis.stats.logistic` and :mod:`~analysis.stats.power`); these
modules decide what to compare and how to say it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.stats.multiplicity import family_size, holm
from analysis.stats.power import further_treatments_needed
from analysis.records.schema import ABLATIVE, FITZPATRICK_ROMAN, MODALITIES, NON_ABLATIVE
from analysis.records.store import Records

SMALL_N = 10          # fewer treatments than this in a group: too small to conclude from
SMALL_EXPECTED = 5    # fewer expected events than this in a 2x2 cell: use an exact test, flag it
ALPHA = 0.05
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
    #: Within a family of comparisons (one per skin type, per side effect, ...): the Holm-adjusted p-value,
    #: the number of tested comparisons in the family and its plural noun ("skin types"). A lone comparison
    #: (a pre-specified headline) keeps ``adjusted_p`` None and ``family_size`` 1.
    adjusted_p: float | None = None
    family_size: int = 1
    family: str = ""
    #: A subgroup (a skin type or band) whose own claim defers to the test of interaction, which found no clear
    #: difference between the groups: it is never called conclusive (CONSORT subgroup guidance).
    deferred: bool = False

    @property
    def decision_p(self) -> float | None:
        """The p-value the conclusive call uses: the adjusted one within a family, else the test's."""
        return self.adjusted_p if self.family_size > 1 else self.test.p_value

    @property
    def conclusive(self) -> bool:
        """The call the sentence makes: both groups have at least ``SMALL_N`` treatments, the (family-adjusted)
        p is below 5 % and the 95 % Newcombe interval excludes zero."""
        return not self.deferred and min(self.ablative.treatments, self.non_ablative.treatments) >= SMALL_N and \
            is_conclusive(self.test, self.difference, self.adjusted_p)


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


# --- building blocks ----------------------------------------------------------------------------

def _modality_values(frame: pd.DataFrame, column: str, modality: str) -> np.ndarray:
    values = frame.loc[frame["modality"] == modality, column].to_numpy(dtype="float64")
    return values[~np.isnan(values)]


def rate_contrast(group: str, k1: int, n1: int, k2: int, n2: int, effect: str = "hyperpigmentation",
                  where: str | None = None, *, adjusted_p: float | None = None, family_size: int = 1,
                  family: str = "", tested: tuple[stats.TestResult, bool] | None = None) -> RateContrast:
    """Ablative (1) vs non-ablative (2): Wilson rates, Newcombe difference, risk ratio, and a test.

    The test is Fisher's exact test when any expected cell count is below 5 or a group is small,
    else Pearson's chi-squared test (without continuity correction). Within a family of comparisons
    (see :func:`family_contrasts`) ``adjusted_p``, ``family_size`` and ``family`` carry the Holm-adjusted
    p-value and the family, and the conclusive call and the sentence use them; ``tested`` is this table's
    :func:`_rate_test` when already computed.
    """
    a, b = stats.wilson_ci(k1, n1), stats.wilson_ci(k2, n2)
    diff = stats.newcombe_diff_ci(k1, n1, k2, n2)
    ratio = stats.risk_ratio_ci(k1, n1, k2, n2)
    test, small = _rate_test(k1, n1, k2, n2) if tested is None else tested
    where = group if where is None else where
    adjusted = (adjusted_p, family_size, family) if family_size > 1 else None
    sentence = _rate_sentence(where, a, b, diff, test, effect, adjusted)
    inconclusive = n1 > 0 and n2 > 0 and not is_conclusive(test, diff, adjusted_p if adjusted else None)
    more = None
    if inconclusive:
        label = f"modality in {where}" if where else "modality"
        # Within a family the call needs the adjusted p below 5 %: the size is planned at 5 % / m, which Holm's
        # method never asks less of (a conservative figure for every rank in the family).
        alpha = ALPHA / family_size if adjusted else ALPHA
        more = further_treatments_needed(k1, n1, k2, n2, alpha=alpha, group_label=label).sentence
    return RateContrast(group, a, b, diff, ratio, test, small, sentence, more, adjusted_p if adjusted else None,
                        family_size if adjusted else 1, family if adjusted else "")


def _rate_test(k1: int, n1: int, k2: int, n2: int) -> tuple[stats.TestResult, bool]:
    """The test of a 2x2 table and whether it is small (Fisher's exact test then, chi-squared otherwise)."""
    small = min(n1, n2) < SMALL_N or _min_expected(k1, n1, k2, n2) < SMALL_EXPECTED
    return (stats.fisher_exact_test(k1, n1, k2, n2) if small else _chi_squared(k1, n1, k2, n2)), small


def family_contrasts(groups: list[tuple[str, tuple[int, int, int, int]]], family: str,
                     effect: str | None = "hyperpigmentation", where: str | None = None) -> tuple[RateContrast, ...]:
    """One :func:`rate_contrast` per ``(group, (k1, n1, k2, n2))``, judged as a family.

    Every group with both modalities present is tested; Holm's method adjusts the family's p-values
    (:func:`analysis.stats.multiplicity.holm`), so that the chance of calling any group's difference
    conclusive when no group truly differs stays at most 5 %. ``family`` is the plural noun the
    sentences use ("after allowing for 9 side effects"); ``where`` as in :func:`rate_contrast`; ``effect``
    None when each group is an effect (one contrast per side effect).
    """
    tests = [_rate_test(*counts) for _, counts in groups]
    raw = [(test.p_value if counts[1] > 0 and counts[3] > 0 else None) for (_, counts), (test, _) in zip(groups, tests)]
    adjusted, m = holm(raw), family_size(raw)
    return tuple(rate_contrast(group, *counts, effect=wording.effect_words(group) if effect is None else effect,
                               where=where, adjusted_p=p, family_size=m, family=family, tested=tested)
                 for (group, counts), p, tested in zip(groups, adjusted, tests))


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


def is_conclusive(test: stats.TestResult, diff: stats.Difference, adjusted_p: float | None = None) -> bool:
    """A difference counts when the test rejects at 5 % and the Newcombe interval excludes zero.

    Within a family of comparisons pass the Holm-adjusted p-value as ``adjusted_p``: it must then be
    below 5 % too (it is never below the test's own p)."""
    p = test.p_value if adjusted_p is None else max(adjusted_p, test.p_value or 0.0)
    return (test.p_value is not None and p < ALPHA and diff.low is not None and diff.high is not None
            and (diff.low > 0 or diff.high < 0))


def _p_text(test: stats.TestResult, adjusted: tuple[float | None, int, str] | None) -> str:
    """``p = 0.21``, or within a family ``p = 0.21 after allowing for 9 side effects`` (the adjusted p)."""
    if adjusted is None or adjusted[0] is None:
        return wording.p_value(test.p_value)
    p, m, family = adjusted
    return f"{wording.p_value(p)} after allowing for {m} {family}"


def _sparse_reason(a: stats.Proportion, b: stats.Proportion) -> str:
    """Which side of the 2x2 table is thin: the events, or the treatments without the event."""
    events, total = a.events + b.events, a.treatments + b.treatments
    return "events" if events <= total - events else "treatments without it"


def _rate_sentence(group: str, a: stats.Proportion, b: stats.Proportion, diff: stats.Difference,
                   test: stats.TestResult, effect: str,
                   adjusted: tuple[float | None, int, str] | None = None) -> str:
    where = f"In {group}, " if group else ""
    if a.treatments == 0 or b.treatments == 0:
        present = "ablative" if a.treatments else "non-ablative"
        only = a if a.treatments else b
        return (f"{where}only {present} treatments are in this selection ({only.treatments:,}); "
                f"{effect} followed {pct_ci(only)}.")
    sentence = (f"{where}ablative treatments were followed by {effect} in {pct_ci(a)} vs {pct_ci(b, short=True)} "
                f"for non-ablative")
    if min(a.treatments, b.treatments) < SMALL_N:
        return sentence + f" — too few treatments to conclude from ({a.treatments:,} vs {b.treatments:,})."
    sparse = _min_expected(a.events, a.treatments, b.events, b.treatments) < SMALL_EXPECTED
    if is_conclusive(test, diff, adjusted[0] if adjusted else None):
        more = "more" if diff.estimate > 0 else "less"  # type: ignore[operator]
        text = sentence + (f": {wording.points(diff.estimate)} {more} often after ablative "
                           f"(95 % CI {wording.points_interval(diff.low, diff.high)}; "
                           f"{_p_text(test, adjusted)})")
        if sparse:
            text += f", though with so few {_sparse_reason(a, b)} the size of the difference is uncertain"
        return text + "."
    if sparse:
        return sentence + (f" — too few {_sparse_reason(a, b)} to tell whether the rates differ "
                           f"({_p_text(test, adjusted)}).")
    alone = ""
    if adjusted and diff.low is not None and diff.high is not None and (diff.low > 0 or diff.high < 0):
        alone = ", although that interval, for this group taken alone, leaves out zero"
    return sentence + (f"; the difference (95 % CI {wording.points_interval(diff.low, diff.high)}) could be chance "
                       f"({_p_text(test, adjusted)}){alone}.")


def pct_ci(p: stats.Proportion, short: bool = False) -> str:
    """``31 % (95 % CI 24–39 %)`` or, short, ``9 % (6–13 %)``."""
    if p.estimate is None:
        return "no treatments"
    ci = wording.pct_range(p.low, p.high)
    return f"{wording.pct(p.estimate)} ({ci})" if short else f"{wording.pct(p.estimate)} (95 % CI {ci})"


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
        return text + f" — too few treatments to conclude from ({nx:,} vs {ny:,})."
    if not _significant(test):
        return text + f"; the difference could be chance ({wording.p_value(test.p_value)})."
    up = (test.rank_biserial or 0) > 0
    bigger, smaller = ("longer", "shorter") if unit == "days" else ("higher", "lower")
    word = bigger if up else smaller
    if shift.estimate is None or shift.estimate == 0 or shift.low is None or shift.high is None:
        return text + (f"; values were {word} after ablative treatment overall "
                       f"({wording.p_value(test.p_value)}), though the typical difference rounds to zero.")
    # Say the interval in the same direction as the words: "2 days shorter (95 % CI 1–3 days)".
    low, high = (shift.low, shift.high) if up else (-shift.high, -shift.low)
    return text + (f"; typically {wording.number(abs(shift.estimate), unit)} {word} for ablative "
                   f"(95 % CI {wording.interval(low, high, unit)}; {wording.p_value(test.p_value)}).")


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
        return text + f" — too few treatments to conclude from ({nx:,} vs {ny:,})."
    if is_conclusive(contrast.test, contrast.difference):
        text += f" ({wording.points(contrast.difference.estimate)} apart, {wording.p_value(contrast.test.p_value)})"
    else:
        text += f" (a difference that could be chance, {wording.p_value(contrast.test.p_value)})"
    scale = f"{levels[0]}–{levels[-1]}"
    if _significant(test):
        way = "higher" if (test.rank_biserial or 0) > 0 else "lower"
        return text + f"; on the whole {scale} scale, {label} scores were {way} after ablative treatment " \
                      f"({wording.p_value(test.p_value)})."
    return text + f"; on the whole {scale} scale the difference could be chance " \
                  f"({wording.p_value(test.p_value)})."


def improvement(records: Records, breakdowns: tuple[str, ...] = BREAKDOWNS_DEFAULT) -> OrdinalComparison:
    """Investigator-rated improvement (0-4): share reaching at least 51 % improvement (score >= 3).
    ``breakdowns=()`` for the headline only."""
    return ordinal(records, "improvement_score", "improvement", (0, 1, 2, 3, 4), GOOD_IMPROVEMENT,
                   "at least 51 % improvement", breakdowns=breakdowns)


def satisfaction(records: Records) -> OrdinalComparison:
    """Patient satisfaction (1-5): share satisfied (4 or 5)."""
    return ordinal(records, "satisfaction", "satisfaction", (1, 2, 3, 4, 5), 4, "satisfaction of 4 or 5")


# --- rates per group ------------------------------------------------------------------------------

def _rate_cells(frame: pd.DataFrame, flag: str, by: str) -> tuple[RateCell, ...]:
    """The rate of ``flag`` per ``by`` x modality."""
    return rate_cells_of(frame, [flag], by)[flag]


def rate_cells_of(frame: pd.DataFrame, flags: list[str], by: str) -> dict[str, tuple[RateCell, ...]]:
    """The rate of each of ``flags`` per ``by`` x modality, from one grouping: ``{flag: cells}``."""
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


def not_recorded(effect: str) -> tuple[Finding, ...]:
    """The finding for a dataset without side-effect records: ``effect`` rates are unknown, not zero."""
    return (Finding(effect, NOT_RECORDED_TEXT.format(effect=effect), 2.0, True),)
