"""Readable tables of comparison results for the pages and reports (numbers already formatted)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analysis import stats
from analysis.findings import compare, skin_tone, wording
from analysis.findings.claims import ClaimCheck
from analysis.findings.effects import EffectDuration, SideEffectSummary
from analysis.records import schema
from analysis.findings.skin_tone import SkinToneComparison
from analysis.records.schema import MODALITIES
from analysis.stats.funnel import Funnel

# The table area of a page at 1,400 px with the sidebar open (measured in Chromium): the columns that carry
# the answer must fit in it, so they are read without scrolling sideways.
TABLE_WIDTH_AT_1400 = 938
ANSWER_COLUMNS = ("Difference, points (95 % CI)", "Risk ratio (95 % CI)", "Test", "p", "Note")

SMALL_NOTE = "too few to conclude from"
SPARSE_NOTE = "few events: exact test used, size uncertain"
DEFERRED_NOTE = "no claim of its own: see all types"
ON_ITS_OWN_NOTE = "stated in advance: judged on its own"


def _rate(p: stats.Proportion) -> str:
    return compare.pct_ci(p, short=True) if p.treatments else "–"


def _ratio(r: stats.Ratio) -> str:
    """A risk ratio and its interval; with no events in a group, the observed 0 or ∞ and the score interval."""
    if r.estimate is None:
        return "–"
    if r.low is None or r.high is None:
        return f"{_number(r.estimate)} (no interval)"
    return f"{_number(r.estimate)} ({_number(r.low)}–{_number(r.high)})"


def _number(value: float) -> str:
    return "∞" if math.isinf(value) else "0" if value == 0 else f"{value:.2f}"


def contrasts(rows: Sequence[compare.RateContrast], group_label: str) -> pd.DataFrame:
    """Ablative vs non-ablative per group: difference, ratio, test, p and flag first (the answer, in view at
    1,400 px without scrolling sideways), then each modality's rate with its CI and n. Rows judged as a family
    (one per skin type, per side effect) answer with the p-value after allowing for the family (Holm) instead;
    the test and its own p follow the note (:data:`FAMILY_ANSWER_COLUMNS`)."""
    family = any(c.family_size > 1 for c in rows)
    out = pd.DataFrame([{
        group_label: c.group,
        "Difference, points (95 % CI)": (f"{wording.signed_points(c.difference.estimate)} "
                                         f"({wording.points_interval(c.difference.low, c.difference.high)})"
                                         if c.difference.estimate is not None else "–"),
        "Risk ratio (95 % CI)": _ratio(c.ratio),
        **({FAMILY_P: _p(c.adjusted_p if c.family_size > 1 else c.test.p_value)} if family else {}),
        "Test": c.test.test, "p": _p(c.test.p_value),
        "Note": _contrast_note(c) or (ON_ITS_OWN_NOTE if family and c.family_size == 1 and c.test.p_value is not None
                                      else ""),
        "Ablative % (95 % CI)": _rate(c.ablative), "Ablative n": c.ablative.treatments,
        "Non-ablative % (95 % CI)": _rate(c.non_ablative), "Non-ablative n": c.non_ablative.treatments,
    } for c in rows])
    if not family:
        return out
    order = [group_label, *FAMILY_ANSWER_COLUMNS]
    return out[order + [c for c in out.columns if c not in order]]


#: The column of a family's Holm-adjusted p-values (its tooltip is the glossary's "Allowing for several comparisons").
FAMILY_P = "p allowing for all"
#: A family's answer columns: the allowed-for p replaces the test and its own p (which follow).
FAMILY_ANSWER_COLUMNS = ("Difference, points (95 % CI)", "Risk ratio (95 % CI)", FAMILY_P, "Note")


def _p(p: float | None) -> str:
    return wording.p_value(p).removeprefix("p = ").removeprefix("p ")


def _contrast_note(c: compare.RateContrast) -> str:
    if min(c.ablative.treatments, c.non_ablative.treatments) < compare.SMALL_N:
        return SMALL_NOTE
    if c.deferred:
        return DEFERRED_NOTE
    return SPARSE_NOTE if c.small else ""


def medians(comparison: compare.ContinuousComparison) -> pd.DataFrame:
    """Median with CI and n per modality."""
    rows = []
    for m in MODALITIES:
        e = comparison.medians[m]
        rows.append({"Modality": m, f"Median {comparison.measure} ({comparison.unit})": wording.number(e.estimate),
                     "95 % CI": wording.interval(e.low, e.high), "n": e.n,
                     "Note": SMALL_NOTE if e.n < compare.SMALL_N else ""})
    return pd.DataFrame(rows)


def group_medians(groups: Sequence[compare.GroupMedian], group_label: str, unit: str) -> pd.DataFrame:
    """Medians per breakdown value and modality."""
    return pd.DataFrame([{group_label: g.group, "Modality": g.modality,
                          f"Median ({unit})": wording.number(g.median.estimate),
                          "95 % CI": wording.interval(g.median.low, g.median.high), "n": g.median.n,
                          "Note": SMALL_NOTE if g.small else ""} for g in groups])


def rate_cells(cells: Sequence[compare.RateCell], group_label: str) -> pd.DataFrame:
    """A rate per group and modality, with n and the small-group flag."""
    return pd.DataFrame([{group_label: c.group, "Modality": c.modality, "% (95 % CI)": _rate(c.proportion),
                          "Events": c.proportion.events, "n": c.proportion.treatments,
                          "Note": SMALL_NOTE if c.small else ""} for c in cells])


def durations(summary: SideEffectSummary) -> pd.DataFrame:
    """When half of each effect's events had resolved (days after treatment, Kaplan-Meier), per modality."""
    return pd.DataFrame([{"Side effect": d.effect, "Modality": d.modality,
                          "Half resolved by (days after treatment)": _half_by(d),
                          "95 % CI": _ci_days(d), "Events": d.curve.n, "Resolved": d.curve.n_events,
                          "Still unresolved (censored)": d.unresolved, "No days recorded": d.untimed,
                          "Note": SMALL_NOTE if d.small else ""}
                         for d in summary.durations])


def _half_by(d: EffectDuration) -> str:
    return "not yet reached" if d.median.estimate is None else wording.number(d.median.estimate)


def _ci_days(d: EffectDuration) -> str:
    m = d.median
    if m.low is None:
        return "–"
    if m.high is None:
        return f"from {wording.number(m.low)} (no upper limit)"
    return wording.interval(m.low, m.high)


def funnel_units(f: Funnel, unit_label: str) -> pd.DataFrame:
    """Each unit's observed and expected events, ratio and where it lies against the limits."""
    rows = []
    for u in sorted(f.units, key=lambda x: -(x.ratio or 0)):
        judged = u.expected >= compare.SMALL_EXPECTED and u.treatments >= compare.SMALL_N
        where = u.outside or "within limits"
        if u.outside and not judged:
            where += " (too small to judge)"
        rows.append({unit_label: u.name, "Treatments": u.treatments, "Observed": u.observed,
                     "Expected": round(u.expected, 1), "Observed / expected": None if u.ratio is None else round(u.ratio, 2),
                     "Against the limits": where if u.ratio is not None else (u.reason or "–")})
    return pd.DataFrame(rows)


def claims(checks: Sequence[ClaimCheck]) -> pd.DataFrame:
    """The article's claims and their verdicts at a glance (the evidence is under each claim's heading)."""
    return pd.DataFrame([{"Claim": c.claim, "Verdict": c.verdict} for c in checks])


def text_width(values: pd.Series, header: object) -> int:
    """Pixels a table column needs for its longest text or its header (5.8 px a character in the
    grid's 14 px type, measured in Chromium, plus the cell's padding), at most 420."""
    longest = max([len(str(header))] + [len(str(v)) for v in values.head(500)])
    return min(420, int(5.8 * longest) + 24)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of records (or about columns) as a person reads it: columns named as on the mapping screen
    ("Treatment date", not ``treatment_date``), a "column" column's values named the same way, and dates
    written as dates (not "2024-03-01 00:00:00")."""
    out = frame.copy()
    if "column" in out:
        out["column"] = out["column"].map(lambda c: schema.label(c) if isinstance(c, str) else c)
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d").astype(object).where(out[column].notna(), "")
    named = {c: schema.LABELS[c] for c in out.columns if c in schema.LABELS}
    return out.rename(columns=named)


def effect_modification(result: SkinToneComparison) -> pd.DataFrame:
    """The odds ratio two ways (taking skin type and area into account; pooled over skin types) and the tests of
    whether the gap between the modalities changes with skin type, in plain questions. The methods' names are
    in the glossary ("Pooled odds ratio", "Test of interaction")."""
    rows = []
    adjusted, pooled = result.adjusted, result.mantel_haenszel
    if adjusted is not None:
        factors = skin_tone.adjusted_factors(adjusted)
        label = (f"Odds ratio taking {' and '.join(factors)} into account" if factors  # what the model used
                 else "Odds ratio, nothing adjusted for" if adjusted.fitted else "Odds ratio taking skin type into account")
        rows.append((label,
                     _odds(adjusted.odds_ratio, adjusted.ci_low, adjusted.ci_high), adjusted.p_value,
                     adjusted.reason or adjusted.warning or ""))
    if pooled is not None:
        rows.append(("Odds ratio pooled over skin types", _odds(pooled.odds_ratio, pooled.low, pooled.high),
                     pooled.p_value, pooled.reason or ""))
    tests = (("Does the gap differ between skin types? (decides the sentences)", result.breslow_day),
             ("The same, checked another way (shown only)", result.interaction),
             ("Steady change from type I to VI? (shown only)", result.interaction_trend))
    for question, t in tests:
        if t is not None:
            rows.append((question, "–", t.p_value, t.reason or ""))
    return pd.DataFrame([{"Odds ratio or test": q, "Odds ratio, ablative vs non-ablative (95 % CI)": o,
                          "p": wording.p_value(p).removeprefix("p = ").removeprefix("p "),
                          "Note": note} for q, o, p, note in rows])


def _odds(estimate: float | None, low: float | None, high: float | None) -> str:
    if estimate is None or low is None or high is None:
        return "–"
    return f"{estimate:.2f} ({low:.2f}–{high:.2f})"
