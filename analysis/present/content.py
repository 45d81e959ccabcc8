"""What each page shows, in order: one builder per page, used by the page itself and by its reports.

A builder writes a page's content (headings, findings, charts, tables, sentences) to a :class:`Sink`. On the
dashboard the sink draws each piece with Streamlit and adds it to the page's report (``ui.widgets.PageSink``);
for ``python -m analysis report`` and the PDF, :class:`ReportSink` only adds it to a
:class:`~analysis.present.report.Report`. So the page, its HTML/PDF download and the command line show
the same content from one place. Builders read top to bottom in the order the page shows things.

The statistics come from ``compute(name, *extra)`` (``FUNCTIONS`` or ``COMPOSITES``): cached per dataset
version and filters on the dashboard, computed once per report by :class:`Results` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Protocol, Sequence

import pandas as pd
import plotly.graph_objects as go

from analysis.findings import claims as claims_module, compare, effects, monitoring, skin_tone
from analysis.findings.compare import BREAKDOWNS, Finding
from analysis.findings.overview import dataset_overview, headline
from analysis.findings.quality import QualitySummary
from analysis.findings.summary import top_findings
from analysis.present import figures, tables
from analysis.present.report import Report
from analysis.records.filters import Filters
from analysis.records.store import Records

#: The statistics a page can ask for, each a function of the selection (and extra arguments).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "overview": dataset_overview,
    "downtime": compare.downtime,
    "improvement": compare.improvement,
    # the same without per-group breakdowns: what the Overview, its findings and the article check use
    "downtime_headline": lambda r: compare.downtime(r, breakdowns=()),
    "improvement_headline": lambda r: compare.improvement(r, breakdowns=()),
    "satisfaction": compare.satisfaction,
    "skin_tone": skin_tone.skin_tone,
    "side_effects": effects.side_effects,
    "monthly": lambda r, until: monitoring.monthly(r, follow_up_until=until),
    "funnel": monitoring.funnel,
    "claims": claims_module.check_claims,
    "procedure_time": lambda r: compare.compare_measure(r, "procedure_minutes", "procedure time", "minutes",
                                                        breakdowns=("treatment_area",)),
    "cost": lambda r: compare.compare_measure(r, "cost", "cost per session", "",
                                              breakdowns=("device", "treatment_area", "practitioner")),
}

#: ``get(name, *extra, parts=None)`` runs ``FUNCTIONS[name](records, *extra, **parts)`` (cached by the caller).
Getter = Callable[..., Any]


def _claims(get: Getter) -> Any:
    parts = {"downtime": get("downtime_headline"), "improvement": get("improvement_headline"),
             "skin_tone": get("skin_tone")}
    return get("claims", parts=parts)


def _top_findings(get: Getter, until: Any) -> Any:
    """The Overview's three findings, from the comparisons the other pages show."""
    return top_findings(get("skin_tone"), get("downtime_headline"), get("improvement_headline"),
                        get("monthly", until), get("funnel", "clinic"), get("funnel", "practitioner"))


#: Results built from other results (not cached themselves: they are cheap once the parts are).
COMPOSITES: dict[str, Callable[..., Any]] = {"claims": _claims, "top_findings": _top_findings}


class Results:
    """The statistics of one selection, each computed once: ``compute`` for a report made outside the app."""

    def __init__(self, records: Records) -> None:
        self._records = records
        self._done: dict[tuple, Any] = {}

    def _get(self, name: str, *extra: Any, parts: dict[str, Any] | None = None) -> Any:
        key = (name, extra)
        if key not in self._done:
            self._done[key] = FUNCTIONS[name](self._records, *extra, **(parts or {}))
        return self._done[key]

    def __call__(self, name: str, *extra: Any) -> Any:
        if name in COMPOSITES:
            return COMPOSITES[name](self._get, *extra)
        return self._get(name, *extra)


class Sink(Protocol):
    """Where a builder writes a page's content (``ui.widgets.PageSink`` on the dashboard, else ReportSink)."""

    def heading(self, text: str) -> None: ...
    def findings(self, items: Sequence[Finding], limit: int | None = None) -> None: ...
    def chart(self, fig: go.Figure, key: str) -> None: ...
    def table(self, frame: pd.DataFrame, key: str) -> None: ...
    def sentence(self, text: str, help: str | None = None) -> None: ...
    def caption(self, text: str) -> None: ...
    def metrics(self, cards: Sequence[tuple[str, str, str]], per_row: int = 4, border: bool = False) -> None: ...
    def verdict(self, value: str) -> None: ...


VERDICT_LABELS = {"supported": "Supported", "not supported": "Not supported", "not enough data": "Not enough data"}


class ReportSink:
    """A :class:`Sink` that only collects the content into ``report``."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def heading(self, text: str) -> None:
        self.report.add_heading(text)

    def findings(self, items: Sequence[Finding], limit: int | None = None) -> None:
        self.report.add_sentences([f.sentence for f in list(items)[:limit]])

    def chart(self, fig: go.Figure, key: str) -> None:
        self.report.add_figure(fig)

    def table(self, frame: pd.DataFrame, key: str) -> None:
        self.report.add_table(frame)

    def sentence(self, text: str, help: str | None = None) -> None:
        self.report.add_sentences([text])

    def caption(self, text: str) -> None:
        self.report.add_caption(text)

    def metrics(self, cards: Sequence[tuple[str, str, str]], per_row: int = 4, border: bool = False) -> None:
        self.report.add_metrics(list(cards), per_row)

    def verdict(self, value: str) -> None:
        self.report.add_sentences([f"Verdict: {VERDICT_LABELS[value]}."])


@dataclass(frozen=True)
class PageInput:
    """What a builder reads: the selection, its filters, when follow-up ends, and the statistics."""

    selection: Records
    filters: Filters
    follow_up_until: date | None
    compute: Callable[..., Any]
    #: The data-quality checks of the whole dataset (only the Data page reads them).
    quality: Callable[[], QualitySummary] | None = None


def overview(out: Sink, page: PageInput) -> None:
    facts = page.compute("overview")
    out.metrics([("Treatments", f"{facts.treatments:,}", ""),
                 ("Patients", f"{facts.patients:,}" if facts.patients is not None else "not recorded", ""),
                 ("Clinics", f"{facts.clinics:,}" if facts.clinics is not None else "not recorded", ""),
                 ("Months of records", f"{facts.months:,}", facts.date_range)])
    out.heading("Ablative vs non-ablative")
    cards = headline(page.compute("downtime_headline"), page.compute("improvement_headline"),
                     page.compute("skin_tone"))
    out.metrics([(card.label, card.value, card.detail) for pair in cards for card in pair], per_row=2, border=True)
    out.heading("What stands out")
    out.findings(page.compute("top_findings", page.follow_up_until))
    out.caption("Rates show 95 % confidence intervals. ⚠ marks findings from groups too small to conclude from.")


def downtime(out: Sink, page: PageInput) -> None:
    result = page.compute("downtime")
    out.findings(result.findings)
    if not result.recorded:
        return
    out.chart(figures.measure_distribution(page.selection.outcomes, result, "downtime_days",
                                           "Downtime after treatment", "Downtime (days)"), key="downtime_box")
    out.table(tables.medians(result), key="downtime_medians")
    out.sentence("“Typically … longer” (or shorter) in the finding above is the typical difference between the "
                 "downtime of an ablative and a non-ablative treatment, with its 95 % confidence interval.",
                 help=f"The typical difference is the Hodges–Lehmann estimate; the p-value is from the "
                      f"{result.test.test} test ({result.test.method or 'two-sided'}).")
    for column, label, phrase in BREAKDOWNS:
        out.heading(f"By {phrase}")
        groups = result.breakdown[column]
        if not groups:
            out.sentence(f"No {phrase} is recorded for these treatments.")
            continue
        order = figures.TYPE_ORDER if column == "fitzpatrick_type" else None
        out.chart(figures.medians_by_group(groups, f"Median downtime by {phrase}", label, "Downtime (days)",
                                           order=order), key=f"downtime_{column}")
        out.table(tables.group_medians(groups, label, "days"), key=f"downtime_{column}_table")


def results(out: Sink, page: PageInput) -> None:
    improvement = page.compute("improvement")
    satisfaction = page.compute("satisfaction")
    out.heading("Improvement (investigator-rated)")
    out.findings(improvement.findings)
    if improvement.recorded:
        out.chart(figures.ordinal_stack(improvement, "Improvement score by modality", figures.IMPROVEMENT_LEVELS),
                  key="improvement_stack")
        out.table(tables.contrasts([improvement.good_contrast], "Reached at least 51 % improvement"),
                  key="improvement_table")
    out.heading("Patient satisfaction")
    out.findings(satisfaction.findings)
    if satisfaction.recorded:
        out.chart(figures.ordinal_stack(satisfaction, "Patient satisfaction by modality",
                                        figures.SATISFACTION_LEVELS), key="satisfaction_stack")
    for column, label, phrase in BREAKDOWNS if improvement.recorded else ():
        out.heading(f"At least 51 % improvement by {phrase}")
        cells = improvement.breakdown[column]
        if not cells:
            out.sentence(f"No {phrase} is recorded for these treatments.")
            continue
        order = figures.TYPE_ORDER if column == "fitzpatrick_type" else None
        out.chart(figures.rate_by_group(cells, f"At least 51 % improvement by {phrase}", label,
                                        "At least 51 % improvement", order=order), key=f"improvement_{column}")


def skin_tone_page(out: Sink, page: PageInput) -> None:
    result = page.compute("skin_tone")
    if not result.recorded:
        out.findings(result.findings)
        return
    out.findings(result.findings_in("overall", "modification", "band"))
    out.chart(figures.skin_tone_rates(result), key="skin_tone_rates")
    out.heading("Ablative vs non-ablative within each skin type")
    if any(c.difference.estimate is not None for c in result.by_type):
        out.chart(figures.risk_differences(result.by_type, "Difference in hyperpigmentation rate by skin type",
                                           "hyperpigmentation"), key="skin_tone_forest")
    else:
        out.sentence("Both modalities are needed within a skin type to compare them; this selection has only one.")
    out.table(tables.contrasts(result.by_type, "Fitzpatrick skin type"), key="skin_tone_table")
    out.table(tables.contrasts(result.by_band, "Skin types"), key="skin_tone_bands")
    out.heading("Trend across skin types and the odds ratios")
    out.findings(result.findings_in("trend", "small", "adjusted"))
    out.table(tables.effect_modification(result), key="skin_tone_modification")


def side_effects(out: Sink, page: PageInput) -> None:
    result = page.compute("side_effects", page.follow_up_until)
    if not result.recorded:
        out.findings(result.findings)
        return
    if not result.rates:
        out.sentence("No side effects are recorded for the treatments in this selection.")
        return
    out.chart(figures.side_effect_rates(result), key="side_effect_rates")
    out.table(tables.contrasts(result.rates, "Side effect"), key="side_effect_table")
    out.heading("Findings")
    out.findings(result.findings)
    out.heading("Severity")
    if result.severity.empty:
        out.sentence("No severity is recorded for these side effects.")
    else:
        out.chart(figures.severity_mix(result), key="severity")
    out.heading("How long they lasted")
    if result.duration_findings:
        out.chart(figures.time_to_resolution(result.durations), key="time_to_resolution")
        out.findings(result.duration_findings)
        out.table(tables.durations(result), key="durations")
    else:
        out.sentence("No onset or resolution days are recorded for these side effects.")
    out.heading("By skin type")
    out.table(tables.rate_cells(result.by_skin_type, "Side effect · skin type"), key="side_effect_types")


def trends(out: Sink, page: PageInput) -> None:
    """Monthly p-charts of hyperpigmentation, each beside the same months judged against their case mix; volume;
    funnel plots of clinics and practitioners."""
    trend = page.compute("monthly", page.follow_up_until)
    out.heading("Hyperpigmentation month by month")
    if len(page.filters.clinics) != 1:
        out.sentence("These charts pool every clinic in the selection. Choose one clinic in the sidebar to see "
                     "whether that clinic is drifting.")
    out.findings(trend.findings if trend.recorded else trend.findings[:1])
    for modality, chart in trend.charts.items():
        out.chart(figures.p_chart(chart, modality, trend.effect, trend.open_points.get(modality, ())),
                  key=f"p_chart_{modality}")
        out.chart(figures.case_mix_chart(trend.adjusted[modality], modality, trend.effect), key=f"case_mix_{modality}")
    if trend.recorded:
        out.sentence("Control limits show how far a month's rate can stray from the average by chance alone; months "
                     "with fewer treatments get wider limits. A point outside them, or 7 months in a row on one side "
                     "of the average (or rising or falling), is a signal worth looking into (a black diamond); a "
                     "month expecting only a few cases can sit just past a line without being one. The most recent "
                     "months may still be missing late side effects.",
                     help="p-chart limits: the average ± 3 standard errors for each month's number of treatments; a "
                          "month beyond them is a signal when a count that far out has a binomial chance below 1.35 "
                          "in 1,000.")
        out.sentence("Each monthly chart has a twin below it that judges every month against its own patients: the "
                     "rate expected from that month's mix of skin types and treatment areas, as seen in the other "
                     "months. A month treating many type V–VI patients is expected to see more hyperpigmentation, so "
                     "the twin flags it only if it saw more than its patients explain. The twin judges single months; "
                     "runs of 7 months are read on the chart above it.",
                     help="Expected events: the sum of each treatment's rate for its skin type and area in the other "
                          "judged months (indirect standardisation, leaving the month out); limits: exact Poisson "
                          "99.8 % limits of observed / expected (Spiegelhalter 2005), drawn around the expected rate.")
    out.chart(figures.volume(trend.volume), key="volume")
    for unit, label in (("clinic", "Clinic"), ("practitioner", "Practitioner")):
        result = page.compute("funnel", unit)
        out.heading(f"{label}s compared (funnel plot)")
        out.findings(result.findings)
        if not result.recorded:
            continue
        out.chart(figures.funnel(result, label), key=f"funnel_{unit}")
        out.table(tables.funnel_units(result.funnel, label), key=f"funnel_{unit}_table")


def article_check(out: Sink, page: PageInput) -> None:
    checks = page.compute("claims")
    out.caption("Claims from a consumer article on laser skin tightening, each checked against the selected records.")
    out.table(tables.claims(checks), key="claims_table")
    for check in checks:
        out.heading(check.claim)
        out.verdict(check.verdict)
        out.sentence(check.evidence)
        if check.more_needed:
            out.sentence(check.more_needed)
        out.caption(f"The article: “{check.quote}”")


MAX_QUALITY_ROWS = 1_000


def data_quality(out: Sink, page: PageInput) -> None:
    """The Data page's data-quality checks of the whole dataset being viewed, one sentence and one table each."""
    if page.quality is None:
        raise ValueError("the Data page's report needs the data-quality checks (PageInput.quality)")
    summary = page.quality()
    out.sentence(f"These checks cover the whole dataset ({summary.treatments:,} treatments, "
                 f"{summary.side_effects:,} side-effect records), whatever the filters in the sidebar. "
                 "Values here were accepted by the import; the checks point at the ones worth confirming.")
    out.metrics([("Treatments", f"{summary.treatments:,}", ""),
                 ("Side-effect records", f"{summary.side_effects:,}", ""),
                 ("Rows rejected at import", "not known" if summary.rows_rejected is None
                  else f"{summary.rows_rejected:,}", "")], per_row=3)
    for check in summary.checks():
        out.heading(check.title)
        out.sentence(check.sentence)
        if not check.table.empty:
            table = check.table.head(MAX_QUALITY_ROWS)
            if len(table) < len(check.table):
                out.sentence(f"Showing the first {len(table):,} of {len(check.table):,} rows.")
            out.table(tables.readable(table), key=f"quality_{check.key}")
        if check.key == "costs" and not summary.cost_fences.empty:
            out.sentence("What counts as unusual on each device (costs outside the fences):")
            out.table(tables.readable(summary.cost_fences), key="quality_cost_fences")


@dataclass(frozen=True)
class PageSpec:
    """One page: its slug (``ui.finish``, the glossary, file names), title, address path and builder."""

    slug: str
    title: str
    path: str                      # the page's URL path on the dashboard ("" for the Overview)
    build: Callable[[Sink, PageInput], None]
    #: Fewest treatments the page needs (``ui.empty_selection``); 0: it shows the whole dataset.
    minimum: int = 1


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "Overview", "", overview),
    PageSpec("downtime", "Downtime", "Downtime", downtime),
    PageSpec("results", "Results", "Results", results),
    PageSpec("skin-tone", "Skin tone & hyperpigmentation", "Skin_tone", skin_tone_page),
    PageSpec("side-effects", "Side effects", "Side_effects", side_effects),
    PageSpec("trends", "Trends & clinics", "Trends_and_clinics", trends),
    PageSpec("article-check", "Article check", "Article_check", article_check),
    PageSpec("data", "Data quality", "Data", data_quality, minimum=0),
)


def page_spec(name: str) -> PageSpec | None:
    """The page called ``name``: its slug or its address path, in any case, '_' or '-' alike."""
    wanted = name.strip().strip("/").lower().replace("_", "-")
    for spec in PAGES:
        if wanted in (spec.slug, spec.path.lower().replace("_", "-")) or (wanted == "" and spec.path == ""):
            return spec
    return None
