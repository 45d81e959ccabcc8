"""How to read the pages: a glossary in plain words and each page's reading notes, as data.

The pages' main text uses plain words; the statistical names (the test behind a p-value, the kind
of interval) are here, shown in the sidebar glossary, in tooltips on the findings and in the
"How to read this" section at the foot of each page and in its HTML report.

* :data:`TERMS` -- every term: its plain definition and, apart, the name statisticians use.
  A definition uses plain words or other terms of the glossary, never an undefined technical name
  (``tests/test_glossary.py`` checks that against :data:`JARGON`).
* :data:`PAGES` -- per page (by the slug the page passes to ``ui.finish``): notes on how to read it
  (which comparisons it makes, with which method), its families of comparisons (which groups are
  judged together and how their p-values allow for it) and the terms it uses.

Pure data and string functions: no Streamlit import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The title of each page's reading notes, on the page and in its report.
HOW_TO_READ = "How to read this"
#: The lead-in of each page's paragraph on its families of comparisons.
FAMILIES = "Comparisons judged together."


@dataclass(frozen=True)
class Term:
    """One glossary entry: ``plain`` is for everyone; ``technical`` names the method, for the curious."""

    name: str
    plain: str
    technical: str = ""
    #: What marks the term in a sentence (lower-case regular expressions), for the findings' tooltips.
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """How to read one page: notes in order, then the glossary terms the page uses."""

    notes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    #: The page's families of comparisons and how a difference within one is judged (one short paragraph).
    families: str = ""


TERMS: tuple[Term, ...] = (
    Term("Rate",
         "The share of treatments followed by something, such as hyperpigmentation: 12 of 100 treatments is a "
         "rate of 12 %."),
    Term("Median",
         "The middle value: half the treatments had less, half had more. Unlike the average, a few very long "
         "or very short values do not pull it.", cues=(r"\bmedian\b",)),
    Term("Confidence interval",
         "The range the true value probably lies in, given how many treatments there are: a 95 % confidence "
         "interval misses the true value only 1 time in 20. Few treatments give a wide range; many give a "
         "narrow one. Shown as “95 % CI 24–39 %” or as error bars on a chart.",
         "For a rate: the Wilson score interval. For a difference of rates: Newcombe's hybrid score interval. "
         "For a median: the interval from the order statistics.", cues=(r"\bci\b", r"confidence interval")),
    Term("Wilson interval",
         "The kind of confidence interval used here for a rate. It stays sensible for small groups and for "
         "rates near 0 % or 100 %, where simpler formulas give impossible ranges below 0 %.",
         "Wilson score interval (Wilson 1927)."),
    Term("p-value",
         "How surprising a difference would be if the two treatments were really alike. A small p-value "
         "(below 0.05, that is 1 in 20) means a difference this large would be unusual by chance alone; a larger "
         "one means chance could explain it. It says nothing about how large or how important a difference is: "
         "read the confidence interval for that.",
         "Two-sided. Rates: Pearson's chi-squared test, or Fisher's exact test when a group or the number of "
         "events is small. Measurements and scores (downtime, improvement, satisfaction): the Mann–Whitney test "
         "(Wilcoxon rank-sum). Cost by laser, area or practitioner: the Kruskal–Wallis test. Procedure time and "
         "area size: Spearman's rank correlation.", cues=(r"\bp [=<]",)),
    Term("Could be chance",
         "The difference seen could well have arisen by chance with this many treatments (a p-value of 0.05 or "
         "more, or a confidence interval that includes no difference). It does not show that there is no "
         "difference: more treatments may settle it.", cues=(r"could be chance",)),
    Term("Typical difference (shift)",
         "How much longer (or shorter) one group's values typically are than the other's: the middle of all "
         "the differences between a treatment of one kind and a treatment of the other, with its confidence "
         "interval.",
         "Hodges–Lehmann estimate of the shift between the two groups.", cues=(r"\btypically\b",)),
    Term("Small group",
         "A group with fewer than 10 treatments of either kind (or, for a rate, too few events to judge). Its "
         "numbers are shown but marked ⚠ or “too few to conclude from”: do not act on them.",
         cues=(r"too few", r"too small")),
    Term("Risk difference",
         "One rate minus the other, in percentage points: 15 % after ablative and 9 % after non-ablative is a "
         "difference of 6 percentage points. A positive difference means more often after ablative treatment.",
         cues=(r"percentage point", r"\bpoints\b")),
    Term("Risk ratio",
         "One rate divided by the other: 15 % after ablative and 10 % after non-ablative is a risk ratio of "
         "1.5, that is 1.5 times as often. 1 means no difference."),
    Term("Odds ratio",
         "Like the risk ratio, but comparing odds (treatments with the side effect per treatment without it) "
         "instead of rates. For a rare side effect the two are close. 1 means no difference.",
         cues=(r"\bodds\b",)),
    Term("Adjusted odds ratio",
         "The odds ratio of ablative to non-ablative treatment after taking skin type (and treatment area) into "
         "account, so that a difference is not just one modality being used more often on darker skin.",
         "Logistic regression of the side effect on modality, Fitzpatrick type and treatment area. It is "
         "reliable when there are at least 10 events per model parameter (per number estimated); with fewer it "
         "is marked as a rough guide.", cues=(r"taking .* into account", r"the model estimates")),
    Term("Allowing for several comparisons",
         "When a page compares the two treatments in many groups at once (every skin type, every side effect, every "
         "clinic), some group will show a difference by chance alone now and then. So within such a family the "
         "p-value is raised to allow for the number of groups, and a difference counts only if it stays below "
         "0.05: on data with no real difference, any group in the family is called different at most 1 time "
         "in 20. Confidence intervals stay the usual 95 % ones.",
         "Holm's step-down method (Holm 1979), which keeps the family-wise error rate at 5 %.",
         cues=(r"after allowing for \d+",)),
    Term("Pooled odds ratio",
         "The odds ratio of ablative to non-ablative treatment worked out within each skin type and then "
         "combined, so that skin type cannot blur it. It should be close to the adjusted odds ratio, which gets "
         "there another way; shown as “the figure over all skin types”.",
         "Mantel–Haenszel odds ratio stratified by Fitzpatrick type, with the Robins–Breslow–Greenland "
         "confidence interval and the Mantel–Haenszel chi-squared test.",
         cues=(r"over all (skin )?types", r"pooled over")),
    Term("Test of interaction",
         "Whether the gap between ablative and non-ablative treatment differs between skin types by more than "
         "chance would explain. Looked at one by one, single skin types always differ a little by chance; so "
         "unless this test finds a difference (p below 0.05), the figure over all skin types is the better guide "
         "for each type than the type's own figures.",
         "Breslow–Day test of equal odds ratios across skin types with Tarone's correction (Breslow & Day 1980; "
         "Tarone 1985), which decides the sentences; beside it, likelihood-ratio tests of modality × skin type "
         "in a logistic regression, skin type as a factor and as a linear score 1–6. The approach follows the "
         "CONSORT guidance on subgroup analyses.",
         cues=(r"test of interaction", r"differ clearly between skin types", r"differs between skin types")),
    Term("Trend test",
         "Whether a rate steadily rises or falls across skin types I to VI, rather than just differing between "
         "two of them. Its p-value says how surprising such a steady rise or fall would be by chance.",
         "Cochran–Armitage test for trend, with skin types scored 1 to 6.", cues=(r"trend test",)),
    Term("Treatments needed",
         "About how many more treatments would be needed to tell whether a difference of the size seen is "
         "real, with an 80 % chance of detecting it if it is.",
         "Sample size for 80 % power at the 5 % level (two-sided).", cues=(r"would be needed", r"\bpower\b")),
    Term("Control limits",
         "On a month-by-month chart: how far a month's rate can stray from the average by chance alone. A month "
         "with fewer treatments gets wider limits. A month past them is flagged only if so many (or so few) "
         "cases would happen by chance no more often than the limits promise; a month expecting only a few cases "
         "can sit just past a line without that.",
         "p-chart limits: the average ± 3 standard errors for each month's number of treatments; a month beyond "
         "them is a signal when a count that far out has a binomial chance below 1.35 in 1,000.",
         cues=(r"control limits",)),
    Term("p-chart",
         "A month-by-month chart of a rate with its average and control limits, used to tell real changes from "
         "month-to-month chance.", "Shewhart p-chart (NHS “Making Data Count”)."),
    Term("Special-cause signal",
         "A sign that something changed, worth looking into: a month outside the control limits, 7 months in a "
         "row on one side of the average (a shift), or 7 months in a row rising or falling (a trend), named "
         "by direction, first and last month. Black diamonds on the chart. A month is above or below the "
         "average by its number of cases against the number most typical for its size: a month of few "
         "treatments often has none, which is ordinary, not “below average”.",
         "NHS “Making Data Count” rules for special-cause variation; for the shift, a month's side of the line is "
         "its count against the median of Binomial(n, average), so neither side is likelier than 1 in 2.",
         cues=(r"\bsignal", r"worth looking into")),
    Term("Case-mix adjustment",
         "Judging a month against what its own patients predict instead of one average. Darker skin types get "
         "hyperpigmentation more often, so a month that treats more of them is expected to see more. Each "
         "treatment counts with the rate for its skin type and treatment area in the other months; their sum is "
         "the number expected that month. A month outside the control limits around it differs by more than its "
         "mix of patients explains.",
         "Indirect standardisation: expected = Σ treatments × the rate of their skin type and area in the other "
         "judged months (leave one out; the other months' pooled rate when they hold fewer of that group than the "
         "month), observed / expected judged with exact Poisson 99.8 % limits around 1 (Spiegelhalter 2005, Stat "
         "Med 24:1185-1202; Breslow & Day 1987, IARC Sci Publ 82, ch. 2; Ohlssen, Sharples & Spiegelhalter 2007, "
         "JRSS A 170:865-890): a risk-adjusted control chart (Mohammed et al. 2001, Lancet 357:463-467) that "
         "judges single months only, with no run rules.",
         cues=(r"mix of skin types and treatment areas", r"against case mix")),
    Term("Funnel plot",
         "A chart comparing clinics (or practitioners) fairly: each is placed by how many cases were expected "
         "for its mix of modalities and skin types, and the lines narrow like a funnel as the numbers grow, "
         "because bigger units vary less by chance. Outside the outer (99.8 %) lines, and unlikely by chance "
         "even allowing for how many units are compared: a clear difference. Outside only the inner (95 %) "
         "lines: worth a look, not yet a clear signal (about 1 unit in 20 lands there by chance).",
         "Funnel plot of the observed/expected ratio with exact Poisson limits (Spiegelhalter 2005).",
         cues=(r"\b95 % limits", r"99\.8 %", r"were expected")),
    Term("Unusual cost",
         "A cost far from the other sessions on the same device. Line up the device's costs from lowest to "
         "highest: the middle half lies between the cheapest quarter and the dearest quarter. A cost is unusual "
         "when it lies below or above that middle half by more than 1.5 times the middle half's width.",
         "Tukey's fences: below Q1 − 1.5×IQR or above Q3 + 1.5×IQR.", cues=(r"far from the other",)),
    Term("Kaplan–Meier curve",
         "How long side effects lasted, drawn as the share of cases not yet resolved on each day after treatment. "
         "It starts at 100 % and steps down as cases resolve. Cases still unresolved count for as long as they "
         "were followed (see Censored), so the long-lasting ones are not dropped. Where the curve crosses 50 % "
         "is the median: the day by which half the cases had resolved.",
         "Kaplan–Meier estimate of time from treatment to resolution (statsmodels SurvfuncRight). The median's "
         "95 % CI is where the pointwise log-transformed confidence band (Greenwood) crosses 50 %, as R's "
         "survfit(conf.type = \"log\") prints it.",
         cues=(r"had resolved by", r"not yet resolved", r"share not yet resolved")),
    Term("Censored",
         "A case whose end is not known yet: the side effect had not resolved when the records were last "
         "updated. It counts as unresolved up to that day and no further, instead of being left out (which would "
         "make side effects look shorter than they are) or counted as lasting for ever.",
         "Right-censored at the last follow-up, in days after the treatment: the date the records are complete "
         "to (a clinic's export: the day it was imported; the bundled sample: its export date, 2026-03-31; or a "
         "stated date).", cues=(r"censored", r"still unresolved")),
    Term("Correlation",
         "How closely two things rise together, from −1 (one always falls as the other rises) through 0 (no "
         "relation) to 1 (always rise together).", "Spearman's rank correlation.", cues=(r"correlation",)),
)

#: Statistical names a clinic manager should not meet in a page's main text (only in the glossary, the
#: "How to read this" notes and tooltips), and which no plain definition may use unless it is itself the
#: name of a glossary term ("Wilson interval").
JARGON: tuple[str, ...] = (
    "Mann–Whitney", "Mann-Whitney", "Hodges–Lehmann", "Hodges-Lehmann", "Newcombe", "Kruskal–Wallis",
    "Kruskal-Wallis", "Spearman", "Wilcoxon", "IQR", "interquartile", "Q1 ", "Q3 ", "events per model "
    "parameter", "standard error", "± 3", "chi-squared", "Fisher", "Cochran", "Armitage", "logistic",
    "regression", "Poisson", "binomial", "null hypothesis", "variance", "standard deviation", "covariate",
    "order statistic", "Tukey", "Shewhart", "Wilson", "Holm", "family-wise", "Mantel", "Haenszel", "Breslow",
    "Tarone", "likelihood", "Kaplan", "Greenwood",
)

_COMMON = ("Confidence interval", "p-value", "Small group")

PAGES: dict[str, Reading] = {
    "overview": Reading(
        ("The cards compare ablative with non-ablative treatment on the whole selection; the findings are the "
         "three the other pages rank highest.",
         "Each finding's wording says whether the difference could be chance; hover over a finding for the "
         "words it uses."),
        ("Rate", "Median", *_COMMON, "Could be chance"),
        families=("The cards and the comparisons behind them are the three stated in advance: downtime, results and"
                  " hyperpigmentation over all treatments. Each is judged on its own at 5 %. A finding taken from "
                  "another page keeps that page's allowance for its families of comparisons.")),
    "downtime": Reading(
        ("Downtime is compared by its median: half the patients needed less time, half more.",
         "The typical difference is how much longer ablative downtime typically is, with its 95 % confidence "
         "interval; the p-value comes from a test that compares the whole spread of downtimes of the two groups "
         "(the Mann–Whitney test), and the typical difference is the Hodges–Lehmann estimate."),
        ("Median", *_COMMON, "Typical difference (shift)", "Could be chance"),
        families=("One comparison is judged: downtime over all treatments, stated in advance and judged on its own "
                  "at 5 %. The medians by skin type, device and treatment area are shown with their 95 % confidence"
                  " intervals but not tested against each other, so no group is called different.")),
    "results": Reading(
        ("The share reaching at least 51 % improvement is compared as a rate (its p-value from a chi-squared or "
         "Fisher's exact test); the whole 0–4 improvement and 1–5 satisfaction scales are compared with a test "
         "on the order of the scores (the Mann–Whitney test).",),
        ("Rate", *_COMMON, "Wilson interval", "Risk difference", "Risk ratio", "Could be chance"),
        families=("The share reaching at least 51 % improvement and the whole improvement scale are the comparisons"
                  " stated in advance, each judged on its own at 5 %. The satisfaction scale and the share "
                  "satisfied are compared the same way, also each on its own at 5 %. The rates by skin type, device "
                  "and treatment area are shown but not tested, so no group is called different.")),
    "skin-tone": Reading(
        ("Hyperpigmentation is compared within each skin type and each band of types, so that skin type does not "
         "blur the comparison; differences between rates are in percentage points.",
         "The trend test asks whether the rate steadily rises with darker skin; the adjusted odds ratio compares "
         "the modalities after taking skin type (and treatment area) into account.",
         "Behind the numbers: rates with the Wilson interval, differences with Newcombe's interval, p-values from "
         "a chi-squared test (Fisher's exact test when events are few), the Cochran–Armitage trend test, and "
         "logistic regression for the adjusted odds ratio.",
         "Whether the gap between the modalities changes with skin type is decided by one test of interaction: "
         "the Breslow–Day test with Tarone's correction that the odds ratio is the same in every skin type. "
         "Unless it finds a difference (p below 0.05), the sentences for each band of skin types make no claim "
         "of their own and point to the figure over all skin types (the Mantel–Haenszel odds ratio pooled over "
         "skin types). Likelihood-ratio tests of modality × skin type, with skin type as a factor and as a score "
         "from 1 to 6, are shown beside it in the table but decide nothing; the factor test finds interaction "
         "too often when skin types have few treatments."),
        ("Rate", *_COMMON, "Wilson interval", "Risk difference", "Risk ratio", "Trend test", "Odds ratio",
         "Adjusted odds ratio", "Pooled odds ratio", "Test of interaction", "Treatments needed"),
        families=("The comparisons within each skin type (up to 6) and within each group of skin types (I–II, "
                  "III–IV, V–VI) are one family of up to 9. A difference in one counts only if its p-value stays "
                  "below 0.05 after allowing for all of them (Holm's method), and only if the test of interaction "
                  "first finds that the gap differs between skin types; the sentences say so (“after allowing"
                  " for 9 skin-type comparisons”) and show that allowed-for p-value, and the table shows both "
                  "p-values. Hyperpigmentation over all treatments was stated in advance and is judged on its own. "
                  "Intervals are the usual 95 % ones.")),
    "side-effects": Reading(
        ("Each side effect's rate is compared between the modalities.",
         "How long effects lasted is counted in days from the treatment to resolution. Cases not yet resolved "
         "count as unresolved up to the records' last follow-up (censored) rather than being left out, so the "
         "day by which half had resolved is not biased short; its 95 % confidence interval may have no upper "
         "limit when too few cases were followed long enough.",
         "Behind the numbers: rates with the Wilson interval, differences with Newcombe's interval, p-values from "
         "a chi-squared test (Fisher's exact test when events are few); time to resolution with the Kaplan–Meier "
         "estimate, its median's interval as R's survfit prints it (log-transformed band)."),
        ("Rate", "Median", *_COMMON, "Wilson interval", "Risk difference", "Risk ratio", "Could be chance",
         "Kaplan–Meier curve", "Censored"),
        families=("The side effects other than hyperpigmentation are one family (up to 8): a difference in one "
                  "counts only if its p-value stays below 0.05 after allowing for all the effects compared (Holm's "
                  "method), as the sentences say (“after allowing for 8 side effects”). Hyperpigmentation was "
                  "stated in advance and is judged on its own, as on the Overview and Skin tone pages. The rates by "
                  "skin type are shown for each effect but not tested, so no skin type is called different. "
                  "Intervals are the usual 95 % ones.")),
    "trends": Reading(
        ("The monthly charts (p-charts) show whether the hyperpigmentation rate is stable; the funnel plots "
         "compare clinics and practitioners with what their mix of modalities and skin types predicts.",
         "Each p-chart has a twin that judges every month against its own patients: the rate expected from that "
         "month's mix of skin types and treatment areas, as seen in the other months, with limits around it. A "
         "month that treats many type V–VI patients is expected to see more hyperpigmentation, so it is not "
         "flagged for that alone. A month flagged on the p-chart but within its twin's limits is explained by its "
         "patients when it would be flagged even by limits of the twin's kind drawn around the plain average; "
         "otherwise the two charts differ only in how wide their limits are, and the finding calls it a "
         "borderline month rather than a clear signal. A month flagged on both, or expecting fewer than 5 cases "
         "(too few for the twin to judge), stays a signal. A month flagged only on the twin has more (or fewer) "
         "cases than its patients explain. The twin judges single months only: runs of 7 months (shifts and "
         "trends) are judged on the p-chart alone.",
         "Behind the charts: control limits are the average ± 3 standard errors (a Shewhart p-chart with the NHS "
         "“Making Data Count” rules); the funnel's 95 % and 99.8 % limits are exact Poisson limits "
         "(Spiegelhalter 2005).",
         "Behind the case-mix chart: a month's expected count is the sum, over its treatments, of the "
         "hyperpigmentation rate of their skin type and treatment area in the other judged months of that "
         "modality, or the rate of all the other months when they hold fewer of that skin type and area than the "
         "month itself, so that patients seen mostly in one month never explain that month's own cases "
         "(indirect standardisation, Breslow & Day 1987, Statistical Methods in Cancer Research II, ch. 2, with "
         "each month left out of its own reference as in Ohlssen, Sharples & Spiegelhalter 2007, JRSS A "
         "170:865-890). Observed / expected is judged against exact Poisson 99.8 % limits around 1 "
         "(Spiegelhalter 2005, “Funnel plots for comparing institutional performance”, Stat Med 24:1185-1202, "
         "Table I and appendix A.1.1), drawn on the rate scale as the expected rate times those limits. Its one "
         "rule is a month outside the limits with at least 5 cases expected; it has no run rules. Judging each "
         "period against its own risk is the risk-adjusted control chart of Mohammed et al. (2001, “Bristol, "
         "Shipman, and clinical governance: Shewhart's forgotten lessons”, Lancet 357:463-467). Months whose "
         "follow-up is still open are left off it."),
        ("Rate", "p-chart", "Control limits", "Special-cause signal", "Case-mix adjustment", "Funnel plot",
         "Small group"),
        families=("The clinics are one family and the practitioners another. A clinic or practitioner is said to "
                  "differ only when it lies outside the 99.8 % limits and its p-value (observed against expected "
                  "events, an exact Poisson test) stays below 0.05 after allowing for the number of clinics or "
                  "practitioners compared (Holm's method); one outside only the 95 % limits, or whose p-value does "
                  "not stay below 0.05, is worth a look but not a clear signal. The monthly charts guard against "
                  "false alarms with their own rules: their limits (3 standard errors on the p-chart, exact Poisson "
                  "99.8 % on its twin) and runs of 7 (on the p-chart only).")),
    "article-check": Reading(
        ("Each claim gets a verdict: supported, not supported, or not enough data (with how many more treatments "
         "would settle it).",
         "Behind the p-values: downtime, the Mann–Whitney test with the Hodges–Lehmann typical difference; darker "
         "skin, the Cochran–Armitage trend test; bigger areas, Spearman's rank correlation; cost, the "
         "Kruskal–Wallis test across lasers, areas and practitioners. “Common” means at least 1 treatment in 100 "
         "(CIOMS)."),
        ("Median", *_COMMON, "Typical difference (shift)", "Trend test", "Treatments needed", "Correlation",
         "Could be chance"),
        families=("Each claim is judged on its own, as the article states it. The cost claim tests laser, area and "
                  "practitioner separately and counts as supported only when all three vary, which needs no "
                  "allowance for several comparisons.")),
    "data": Reading(
        ("The checks list records that look wrong or incomplete, so they can be corrected at the source and "
         "imported again.",
         "Unusual costs are found per device with Tukey's fences: below Q1 − 1.5×IQR or above Q3 + 1.5×IQR."),
        ("Unusual cost", "Small group")),
}

_BY_NAME = {t.name: t for t in TERMS}
_CUES = [(t, re.compile("|".join(t.cues)) if t.cues else None) for t in TERMS]

#: Table column headers (as :mod:`analysis.present.tables` writes them) -> the glossary term behind them,
#: shown as the header's tooltip. A header ending in "(95 % CI)" gets the confidence interval's.
COLUMN_TERMS: dict[str, str] = {
    "95 % CI": "Confidence interval",
    "p": "p-value",
    "p allowing for all": "Allowing for several comparisons",
    "Test": "p-value",
    "Difference, points (95 % CI)": "Risk difference",
    "Risk ratio (95 % CI)": "Risk ratio",
    "Observed / expected": "Funnel plot",
    "Against the limits": "Funnel plot",
    "Note": "Small group",
    "Half resolved by (days after treatment)": "Kaplan–Meier curve",
    "Still unresolved (censored)": "Censored",
}


def term(name: str) -> Term:
    """The glossary entry called ``name`` (KeyError when there is none)."""
    return _BY_NAME[name]


def reading(slug: str, extra_notes: tuple[str, ...] = ()) -> Reading:
    """How to read the page ``slug``, with any notes the page adds for this view appended."""
    base = PAGES.get(slug, Reading())
    return Reading(base.notes + tuple(extra_notes), base.terms, base.families)


def families_text(r: Reading) -> str | None:
    """The page's paragraph on its families of comparisons, with its lead-in (None when it has none)."""
    return f"{FAMILIES} {r.families}" if r.families else None


def definition(t: Term) -> str:
    """The entry as one line of plain text: plain definition, then the technical name if any."""
    return f"{t.name}: {t.plain}" + (f" (Statisticians' name: {t.technical})" if t.technical else "")


def reading_lines(r: Reading) -> list[str]:
    """A page's "How to read this" as plain sentences, for the HTML report and other plain-text outputs."""
    families = families_text(r)
    return [*r.notes, *([families] if families else []), *(definition(term(name)) for name in r.terms)]


def glossary_markdown() -> str:
    """The whole glossary as Markdown (constant text written here, never user data)."""
    return "\n\n".join(f"**{t.name}.** {t.plain}" + (f"  \n*Statisticians' name:* {t.technical}" if t.technical
                                                      else "") for t in TERMS)


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (all of it when it has one)."""
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def column_help(columns: list[str]) -> dict[str, str]:
    """Tooltips for the table headers that stand for a glossary term: ``{header: first sentence}``; the "Test"
    column also names the tests it lists."""
    out = {}
    for column in columns:
        name = COLUMN_TERMS.get(column) or ("Confidence interval" if column.endswith("(95 % CI)") else None)
        if name is None:
            continue
        t = term(name)
        out[column] = f"{t.name}: {first_sentence(t.plain)}"
        if column == "Test":
            out[column] = ("The test behind the p-value: chi-squared for rates with enough events, Fisher exact when "
                           "a group or the number of events is small. " + out[column])
    return out


def tooltip(sentence: str) -> str | None:
    """The glossary terms a sentence uses (by their cues), each with the first sentence of its definition."""
    low = sentence.lower()
    used = [t for t, cue in _CUES if cue is not None and cue.search(low)]
    if not used:
        return None
    return "\n\n".join([*(f"**{t.name}**: {first_sentence(t.plain)}" for t in used),
                          f"More under “{HOW_TO_READ}” at the foot of the page and in the glossary."])
