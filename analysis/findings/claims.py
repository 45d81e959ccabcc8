"""The source article's claims, checked against a clinic's own records.

The article is ``shared/seeds/000_7856dde1f03bdd74.txt`` (a consumer article on laser skin
tightening). For each claim the records can test, :func:`check_claims` gives a verdict:

* **supported** — the confidence interval lies wholly on the claimed side;
* **not supported** — the interval rules out an effect of the claimed size (or shows the opposite);
* **not enough data** — neither, or a group is too small; then, where a power calculation applies,
  how many more treatments would settle it.

Thresholds for "an effect worth the name" are stated next to each rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis import stats
from analysis.findings import compare, wording
from analysis.findings.compare import SMALL_N
from analysis.findings.skin_tone import SkinToneComparison, skin_tone, trend_sentence
from analysis.records.filters import with_effect_flags
from analysis.stats.power import further_treatments_needed
from analysis.records.schema import ABLATIVE, NON_ABLATIVE
from analysis.records.store import Records

Verdict = Literal["supported", "not supported", "not enough data"]

MIN_DOWNTIME_DAYS = 1.0        # ablative must mean at least a day more downtime to matter
MIN_RESULT_POINTS = 0.05       # 5 percentage points more treatments reaching >= 51 % improvement
MIN_TREND_PER_TYPE = 0.005     # half a percentage point more hyperpigmentation per skin type
COMMON = 0.01                  # CIOMS frequency convention: "common" is at least 1 in 100
MIN_CORRELATION = 0.1          # a rank correlation below 0.1 is negligible (Cohen 1988, ch. 3)

# Body surface of each area, % of the adult total (Lund & Browder chart, Surg Gynecol Obstet
# 1944;79:352-8): face about half of the head's 7 %, chest and abdomen each half the front of the
# trunk's 13 %, both hands 2 x 2.5 %. Used only to order areas by size.
AREA_SURFACE: dict[str, float] = {
    "neck": 2.0, "face": 3.5, "hands": 5.0, "hand": 2.5, "chest": 6.5, "decolletage": 6.5, "abdomen": 6.5,
    "back": 13.0, "arms": 14.0, "arm": 7.0, "forearms": 6.0, "legs": 33.0, "thighs": 19.0, "buttocks": 5.0,
    "scalp": 3.5, "full face": 3.5, "face and neck": 5.5, "eyes": 0.5, "periorbital": 0.5, "perioral": 0.5,
}


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of the article with this dataset's verdict and the evidence in one sentence."""

    key: str
    claim: str
    quote: str
    verdict: Verdict
    evidence: str
    more_needed: str | None = None


CLAIMS: dict[str, tuple[str, str]] = {
    "downtime": ("Ablative treatments need more downtime than non-ablative ones.",
                 "ablative treatments are more invasive and require more downtime"),
    "results": ("Ablative treatments give more dramatic results.",
                "ablative treatments ... can provide more dramatic results"),
    "skin_tone": ("Darker skin carries a higher risk of hyperpigmentation.",
                  "Those with darker skin tones may be at a higher risk of hyperpigmentation"),
    "redness_swelling": ("Redness and swelling are common side effects.",
                         "These may include redness, swelling, or hyperpigmentation of the skin."),
    "procedure_time": ("Larger treatment areas take longer.",
                       "typically takes between 30 minutes to an hour, depending on the size of the treatment area"),
    "cost": ("Cost varies with the laser, the area treated and the practitioner.",
             "the type of laser used, the size of the treatment area, and the experience of the technician"),
}


def check_claims(records: Records, *, downtime: compare.ContinuousComparison | None = None,
                 improvement: compare.OrdinalComparison | None = None,
                 skin_tone: SkinToneComparison | None = None) -> tuple[ClaimCheck, ...]:
    """Every testable claim of the article, checked on these records.

    ``downtime``, ``improvement`` and ``skin_tone``: the same records' comparisons when already
    computed (the app passes its cached ones), so they are not computed again.
    """
    return (
        _downtime(records, downtime), _results(records, improvement), _skin_tone(records, skin_tone),
        _redness_swelling(records), _procedure_time(records), _cost(records),
    )


def _check(key: str, verdict: Verdict, evidence: str, more: str | None = None) -> ClaimCheck:
    claim, quote = CLAIMS[key]
    return ClaimCheck(key, claim, quote, verdict, evidence, more)


def _more_sentence(k1: int, n1: int, k2: int, n2: int, group_label: str) -> str:
    """How many more treatments per group would settle a comparison of two rates (80 % power)."""
    return further_treatments_needed(k1, n1, k2, n2, group_label=group_label).sentence


def _downtime(records: Records, c: compare.ContinuousComparison | None = None) -> ClaimCheck:
    """Supported when Mann-Whitney rejects in the ablative-longer direction and the shift's CI is not below 0.

    Downtime is in whole days, so the Hodges-Lehmann interval has whole-day ends: a real half-day
    difference gives ``low == 0``, which is why the test, not ``low > 0``, decides.
    """
    if c is None:
        c = compare.downtime(records)
    a, b = c.medians[ABLATIVE], c.medians[NON_ABLATIVE]
    if min(a.n, b.n) < SMALL_N or c.shift.low is None or c.shift.high is None:
        return _check("downtime", "not enough data",
                      f"Downtime is recorded for {a.n:,} ablative and {b.n:,} non-ablative treatments; "
                      f"at least {SMALL_N} of each are needed.")
    shift = c.shift
    if shift.estimate is not None and shift.estimate < 0:
        typical = (f"typically {wording.number(-shift.estimate, 'days')} shorter (95 % CI "
                   f"{wording.interval(-shift.high, -shift.low, 'days')})")
    else:
        typical = (f"typically {wording.number(shift.estimate, 'days')} longer (95 % CI "
                   f"{wording.interval(shift.low, shift.high, 'days')})")
    evidence = (f"Median downtime {wording.number(a.estimate, 'days')} after ablative vs "
                f"{wording.number(b.estimate, 'days')} after non-ablative; ablative {typical} "
                f"({wording.p_value(c.test.p_value)}).")
    significant = c.test.p_value is not None and c.test.p_value < compare.ALPHA
    longer = (c.test.rank_biserial or 0) > 0
    if significant and longer and shift.low >= 0:
        return _check("downtime", "supported", evidence)
    if (significant and not longer) or shift.high < MIN_DOWNTIME_DAYS:
        return _check("downtime", "not supported", evidence + " That rules out ablative meaning a day or more "
                      "extra downtime.")
    return _check("downtime", "not enough data", evidence, _downtime_more(records))


def _downtime_more(records: Records) -> str | None:
    """Per-group size for a t-test to detect one day at the pooled within-modality SD, inflated for Mann-Whitney.

    The asymptotic relative efficiency of Mann-Whitney to the t-test is 3/pi under normality
    (Noether, J Am Stat Assoc 1987;82:645-7), so the t-test size is divided by 0.955.
    """
    from statsmodels.stats.power import TTestIndPower

    out = records.outcomes.dropna(subset=["downtime_days"])
    groups = [out.loc[out["modality"] == m, "downtime_days"] for m in (ABLATIVE, NON_ABLATIVE)]
    if min(len(g) for g in groups) < 2:
        return None
    dof = sum(len(g) - 1 for g in groups)
    sd = float(np.sqrt(sum((len(g) - 1) * g.var() for g in groups) / dof))
    if not np.isfinite(sd) or sd == 0:
        return None
    n = TTestIndPower().solve_power(effect_size=MIN_DOWNTIME_DAYS / sd, alpha=0.05, power=0.8) / (3 / np.pi)
    more = max(0, int(np.ceil(n)) - min(len(g) for g in groups))
    if more == 0:
        return None
    return f"About {more:,} more treatments per modality would show whether ablative means a day or more extra downtime."


def _results(records: Records, c: compare.OrdinalComparison | None = None) -> ClaimCheck:
    if c is None:
        c = compare.improvement(records)
    a, b = c.good_share[ABLATIVE], c.good_share[NON_ABLATIVE]
    d = c.good_contrast.difference
    if min(a.treatments, b.treatments) < SMALL_N or d.low is None:
        return _check("results", "not enough data",
                      f"Improvement is scored for {a.treatments:,} ablative and {b.treatments:,} non-ablative "
                      f"treatments; at least {SMALL_N} of each are needed.")
    evidence = (f"{compare.pct_ci(a)} of ablative treatments reached at least 51 % improvement vs "
                f"{compare.pct_ci(b, short=True)} of non-ablative (difference {wording.signed_points(d.estimate)} "
                f"points, 95 % CI {wording.points_interval(d.low, d.high)}).")
    if d.low > 0:
        return _check("results", "supported", evidence)
    if d.high < MIN_RESULT_POINTS:
        return _check("results", "not supported", evidence)
    return _check("results", "not enough data", evidence,
                  _more_sentence(a.events, a.treatments, b.events, b.treatments, "modality"))


def _skin_tone(records: Records, c: SkinToneComparison | None = None) -> ClaimCheck:
    if not records.side_effects_recorded:
        return _check("skin_tone", "not enough data", "Side effects are not recorded in this dataset.")
    if c is None:
        c = skin_tone(records)
    trends = {m: t for m, t in c.trend.items() if t.groups >= 2 and t.p_value is not None}
    if not trends:
        reasons = " ".join(trend_sentence("hyperpigmentation", m, t, c.cells) for m, t in c.trend.items())
        return _check("skin_tone", "not enough data", reasons)
    parts = []
    for m, t in trends.items():
        way = "rises" if (t.estimate or 0) >= 0 else "falls"
        parts.append(f"after {m} treatment hyperpigmentation {way} by {wording.points(t.estimate)} per skin "
                     f"type, I to VI (trend test {wording.p_value(t.p_value)})")
    evidence = wording.capital("; ".join(parts)) + "."
    rising = [t for t in trends.values() if t.p_value < compare.ALPHA and t.direction == "increasing"]
    falling = [t for t in trends.values() if t.p_value < compare.ALPHA and t.direction == "decreasing"]
    flat = all(t.high is not None and t.high < MIN_TREND_PER_TYPE for t in trends.values())
    if rising and not falling:
        return _check("skin_tone", "supported", evidence)
    if falling and not rising or flat:
        return _check("skin_tone", "not supported", evidence)
    light = next((x for x, band in zip(c.by_band, c.bands) if set(band) <= {1, 2}), None)
    dark = next((x for x, band in zip(c.by_band, c.bands) if set(band) <= {5, 6}), None)
    more = None
    if light and dark:
        k1 = dark.ablative.events + dark.non_ablative.events
        n1 = dark.ablative.treatments + dark.non_ablative.treatments
        k2 = light.ablative.events + light.non_ablative.events
        n2 = light.ablative.treatments + light.non_ablative.treatments
        more = _more_sentence(k1, n1, k2, n2, "skin-type group (I–II and V–VI)")
    return _check("skin_tone", "not enough data", evidence, more)


def _redness_swelling(records: Records) -> ClaimCheck:
    """Common (CIOMS: at least 1 in 100) when both rates' lower limits reach 1 %; an effect never recorded can't be judged."""
    if not records.side_effects_recorded:
        return _check("redness_swelling", "not enough data", "Side effects are not recorded in this dataset.")
    frame = with_effect_flags(records, [])
    n = len(frame)
    if n < SMALL_N:
        return _check("redness_swelling", "not enough data", f"Only {n:,} treatments in this selection.")
    red, swell = stats.wilson_ci(int(frame["erythema"].sum()), n), stats.wilson_ci(int(frame["edema"].sum()), n)
    unrecorded = [name for name, p in (("redness (erythema)", red), ("swelling (edema)", swell)) if p.events == 0]
    if unrecorded:
        return _check("redness_swelling", "not enough data",
                      f"No {' or '.join(unrecorded)} is recorded in this selection; if your clinic does not record "
                      "it, this claim cannot be checked.")
    evidence = (f"Redness (erythema) followed {compare.pct_ci(red)} of treatments and swelling (edema) "
                f"{compare.pct_ci(swell, short=True)}; 'common' means at least 1 in 100 (CIOMS).")
    if red.low >= COMMON and swell.low >= COMMON:
        return _check("redness_swelling", "supported", evidence)
    if red.high < COMMON or swell.high < COMMON:
        return _check("redness_swelling", "not supported", evidence)
    return _check("redness_swelling", "not enough data", evidence)


def spearman_ci(rho: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """CI for Spearman's rho by Fisher's z with variance 1.06 / (n - 3).

    Fieller EC, Hartley HO, Pearson ES. Tests for rank correlation coefficients. I.
    Biometrika 1957;44:470-81.
    """
    z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    half = sps.norm.ppf(0.5 + confidence / 2) * np.sqrt(1.06 / (n - 3))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def _procedure_time(records: Records) -> ClaimCheck:
    """Supported when the CI of Spearman's rho (area size vs minutes) is above 0; not supported when it
    rules out even a small positive correlation (rho < 0.1, Cohen 1988)."""
    out = records.outcomes[["treatment_area", "procedure_minutes"]].dropna()
    size = out["treatment_area"].map(AREA_SURFACE)
    known = out.assign(size=size).dropna(subset=["size"])
    unknown = sorted(set(out["treatment_area"]) - set(AREA_SURFACE))
    note = f" Areas of unknown size left out: {', '.join(unknown)}." if unknown else ""
    if len(known) < 3 * SMALL_N or known["size"].nunique() < 2:
        return _check("procedure_time", "not enough data",
                      f"Procedure time is recorded for {len(known):,} treatments of known area size, over "
                      f"{known['size'].nunique()} area size(s).{note}")
    rho, p = sps.spearmanr(known["size"], known["procedure_minutes"])
    low, high = spearman_ci(float(rho), len(known))
    medians = known.groupby("treatment_area")["procedure_minutes"].median().sort_values()
    evidence = (f"Median procedure time ranged from {wording.number(medians.iloc[0], 'minutes')} ({medians.index[0]}) "
                f"to {wording.number(medians.iloc[-1], 'minutes')} ({medians.index[-1]}); correlation with "
                f"area size {rho:.2f} (95 % CI {low:.2f} to {high:.2f}, {wording.p_value(p)}).{note}")
    if low > 0:
        return _check("procedure_time", "supported", evidence)
    if high < MIN_CORRELATION:
        return _check("procedure_time", "not supported", evidence)
    return _check("procedure_time", "not enough data", evidence)


def _cost(records: Records) -> ClaimCheck:
    """Each factor (laser, area, practitioner) gets its own verdict from a Kruskal-Wallis test over groups
    with at least 10 priced treatments: varies (p < 0.05); does not vary detectably (p >= 0.05 with at
    least 100 treatments in every group); or undetermined. The claim needs all three to vary."""
    out = records.outcomes
    parts, verdicts = [], []
    for column, label in (("device", "laser"), ("treatment_area", "area"), ("practitioner", "practitioner")):
        valid = out[[column, "cost"]].dropna()
        by_group = {g: x.to_numpy() for g, x in valid.groupby(column, sort=True)["cost"] if len(x) >= SMALL_N}
        groups = list(by_group)
        if len(groups) < 2:
            parts.append(f"by {label}: fewer than two {label}s with {SMALL_N}+ priced treatments")
            verdicts.append("not enough data")
            continue
        samples = list(by_group.values())
        _, p = sps.kruskal(*samples)
        medians = pd.Series({g: float(np.median(x)) for g, x in zip(groups, samples)}).sort_values()
        parts.append(f"by {label} {wording.number(medians.iloc[0])} ({medians.index[0]}) to "
                     f"{wording.number(medians.iloc[-1])} ({medians.index[-1]}), {wording.p_value(p)}")
        if p < compare.ALPHA:
            verdicts.append("supported")
        elif min(len(x) for x in samples) >= 100:
            verdicts.append("not supported")
        else:
            verdicts.append("not enough data")
    evidence = "Median cost per session " + "; ".join(parts) + "."
    if all(v == "supported" for v in verdicts):
        return _check("cost", "supported", evidence)
    if "not supported" in verdicts:
        return _check("cost", "not supported", evidence)
    return _check("cost", "not enough data", evidence)
