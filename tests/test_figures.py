"""Chart and table settings that keep every label readable (issue 17), without a browser.

The browser test ``tests/browser/test_screens.py`` checks the drawn charts at 1400 and 1024 px; these
check the settings that make that hold: each part of a chart on its own side, the funnel naming only
the units outside its limits, and counts with thousands separators wherever they are shown.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis.findings import compare, effects, monitoring, skin_tone, wording
from analysis.present import figures, report, tables
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import Records
from analysis.stats.funnel import FunnelUnit
from testpaths import ROOT

THOUSANDS = re.compile(r"\b\d{4,}\b")   # a run of four or more digits: a count without its separator


@pytest.fixture(scope="module")
def sample() -> Records:
    result = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                          SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    return Records(result.outcomes, result.side_effects)


@pytest.fixture(scope="module")
def charts(sample) -> dict:
    side = effects.side_effects(sample)
    tone = skin_tone.skin_tone(sample)
    return {"rates": figures.side_effect_rates(side), "severity": figures.severity_mix(side),
            "skin tone": figures.skin_tone_rates(tone),
            "forest": figures.risk_differences(tone.by_type, "Difference", "hyperpigmentation"),
            "funnel": figures.funnel(monitoring.funnel(sample, "practitioner"), "Practitioner"),
            "volume": figures.volume(monitoring.monthly(sample).volume),
            "case mix": figures.case_mix_chart(monitoring.monthly(sample).adjusted["ablative"], "ablative",
                                               "hyperpigmentation")}


def test_every_chart_looks_as_plotly_white_with_only_the_defaults_its_traces_use(charts):
    """The template is plotly's "plotly_white" trimmed to the trace types drawn (a lighter figure, built faster:
    bench/share_link.py); every trace type a chart draws keeps plotly_white's defaults for it."""
    import plotly.io as pio

    white = pio.templates["plotly_white"]
    for name, fig in charts.items():
        template = fig.layout.template
        assert template.layout == white.layout, name
        for kind in {trace.type for trace in fig.data}:
            assert getattr(template.data, kind) == getattr(white.data, kind), (name, kind)


@pytest.mark.parametrize("n, shown", [(0, "0"), (7, "7"), (999, "999"), (1133, "1,133"), (1_000_000, "1,000,000")])
def test_counts_have_thousands_separators(n, shown):
    assert wording.count(n) == shown


def test_every_chart_keeps_title_caption_legend_and_axes_on_their_own_sides(charts):
    for name, fig in charts.items():
        layout = fig.layout
        assert layout.legend.x >= 1 and layout.legend.xanchor == "left", name           # right of the plot
        assert layout.title.yref == "container" and layout.title.yanchor == "top", name  # above the plot
        caption_lines = layout.title.subtitle.text.count("<br>") + 1 if layout.title.subtitle.text else 0
        assert layout.margin.t >= 40 + 18 * caption_lines, name                         # room for them
        assert layout.xaxis.automargin and layout.yaxis.automargin, name                 # room for tick labels
        assert not layout.annotations or all(a.yref != "paper" or 0 <= a.y <= 1 for a in layout.annotations), name
        assert layout.separators == ".,", name


def test_captions_and_axis_titles_are_broken_into_lines_that_fit_a_narrow_chart(charts):
    """About 560 px of chart at 1024 px: at 12-13 px type that is about 75 characters a line."""
    for name, fig in charts.items():
        texts = [fig.layout.title.subtitle.text or "", fig.layout.xaxis.title.text or "",
                 fig.layout.yaxis.title.text or ""]
        for line in (part for text in texts for part in text.split("<br>")):
            assert len(line) <= 75, f"{name}: {line!r}"


def test_category_charts_lie_horizontally_so_names_read_level(charts):
    for name in ("rates", "severity", "skin tone"):
        assert {trace.orientation for trace in charts[name].data} == {"h"}, name


def _unit(name: str, expected: float, outside: str | None, treatments: int = 1200) -> FunnelUnit:
    return FunnelUnit(name, treatments, round(expected), expected, 1.0, 0.1, None, None, None, None, outside)


def test_funnel_names_only_units_outside_the_limits_on_the_side_that_stays_inside():
    units = [_unit("Dr Left", 10, "above 99.8 %"), _unit("Dr Inside", 30, None), _unit("Dr Right", 80, "below 95 %"),
             _unit("Dr Middle", 40, None)]
    labelled = figures.funnel_labels(units)
    assert [(u.name, text, where) for u, text, where in labelled] == [
        ("Dr Left", "Dr Left (n = 1,200)", "middle right"), ("Dr Right", "Dr Right (n = 1,200)", "middle left")]


def test_funnel_on_the_sample_labels_outliers_and_names_the_rest_on_hover(sample):
    result = monitoring.funnel(sample, "practitioner")
    fig = figures.funnel(result, "Practitioner")
    points = next(t for t in fig.data if t.mode == "markers")
    assert not points.text and "%{customdata[0]}" in points.hovertemplate   # every unit named on hover
    outside = sorted(u.name for u in result.funnel.units if u.outside and u.ratio is not None)
    labels = [t for t in fig.data if t.mode == "markers+text"]
    named = sorted(text.split(" (n = ")[0] for t in labels for text in t.text)
    assert named == outside
    assert all(t.cliponaxis is False for t in labels)


def test_counts_in_chart_labels_and_hovers_have_separators(charts):
    for name, fig in charts.items():
        for trace in fig.data:
            texts = [str(trace.name or "")] + [str(t) for t in (trace.text or ())]
            assert not any(THOUSANDS.search(t) for t in texts), f"{name}: {texts}"
            # a count in a hover: "%{…} of", "%{…} treatments", "%{…} events", "n = %{…}", "observed %{…}"
            unformatted = re.search(r"(n = |observed )%\{[^}:]*\}|%\{[^}:]*\}( of | treatments| events)",
                                    trace.hovertemplate or "")
            assert unformatted is None, f"{name}: {trace.hovertemplate}"
        ticks = [str(t) for t in (fig.layout.yaxis.ticktext or ()) + (fig.layout.xaxis.ticktext or ())]
        assert not any(THOUSANDS.search(re.sub(r"<[^>]+>", " ", t)) for t in ticks), f"{name}: {ticks}"
    assert "1,879" in " ".join(charts["rates"].layout.yaxis.ticktext)   # the sample's ablative treatments


def test_count_axes_group_thousands(charts):
    assert charts["severity"].layout.xaxis.tickformat == ","
    assert charts["volume"].layout.yaxis.tickformat == ","


def test_contrast_tables_put_the_answer_first_and_it_fits_at_1400(sample):
    """The group and the answer columns, at the widths ``ui.table`` gives them, fit the table area at 1,400 px
    (the modality rates and n follow, reached by scrolling sideways)."""
    assert tables.contrasts([compare.rate_contrast("all", 5, 50, 3, 50)], "Group").columns[1:6].tolist() == \
        list(tables.ANSWER_COLUMNS)  # a comparison stated in advance answers with its own p
    tone, side = skin_tone.skin_tone(sample), effects.side_effects(sample)
    for rows, label in ((tone.by_type, "Fitzpatrick skin type"), (tone.by_band, "Skin types"),
                        (side.rates, "Side effect")):
        frame = tables.contrasts(rows, label)
        # a family's answer is the p after allowing for the family (issue #15); the test and its own p follow
        answer = tables.FAMILY_ANSWER_COLUMNS if any(r.family_size > 1 for r in rows) else tables.ANSWER_COLUMNS
        assert tuple(frame.columns[1:1 + len(answer)]) == answer
        assert {"Test", "p"} <= set(frame.columns)
        shown = sum(tables.text_width(frame[c], c) for c in frame.columns[:1 + len(answer)])
        assert shown <= tables.TABLE_WIDTH_AT_1400, (label, shown)
        assert pd.api.types.is_integer_dtype(frame["Ablative n"])   # numbers, shown with separators by ui.table
    side_table = tables.contrasts(side.rates, "Side effect").set_index("Side effect")
    assert side_table.loc["hyperpigmentation", "Note"] == tables.ON_ITS_OWN_NOTE   # in the table, not in the family
    note = pd.Series([tables.SPARSE_NOTE, tables.SMALL_NOTE])
    assert tables.text_width(note, "Note") >= 5.6 * len(tables.SPARSE_NOTE) + 16   # the longest note is never cut


def test_claims_summary_does_not_repeat_the_evidence():
    from analysis.findings.claims import ClaimCheck

    check = ClaimCheck("downtime", "Ablative needs more downtime.", "quote", "supported", "Long evidence.", "More.")
    assert list(tables.claims([check]).columns) == ["Claim", "Verdict"]


def test_report_tables_show_counts_with_separators():
    r = report.Report("t", "d", "all", 1)
    r.add_table(pd.DataFrame({"Group": ["a"], "n": [1133], "Rate": ["5 %"]}))
    assert "1,133" in r.to_html() and "1133" not in r.to_html().split("<footer>")[0].split("<h1>")[1]


def test_sentences_show_counts_with_separators():
    assert "(1,500 vs 9)" in compare.rate_contrast("type II", 3, 1500, 1, 9).sentence
    assert "(2,000)" in compare.rate_contrast("type II", 30, 2000, 0, 0).sentence


def test_case_mix_chart_draws_expected_rate_limits_signals_and_n(sample):
    """The twin of the p-chart: the month's expected rate and its limits drawn, signals as black diamonds, n in the
    legend, the observed / expected ratio in the hover."""
    chart = monitoring.monthly(sample).adjusted["ablative"]
    fig = figures.case_mix_chart(chart, "ablative", "hyperpigmentation")
    names = [t.name for t in fig.data]
    assert "Control limits" in names and any(n and n.startswith("expected for") for n in names)
    observed = next(t for t in fig.data if t.name and t.name.startswith("Ablative"))
    assert observed.line.color == figures.MODALITY_COLOURS["ablative"]
    assert f"n = {sum(p.treatments for p in chart.points if p.ratio is not None):,}" in observed.name
    # Signals: the sample's twin has none (its only shift was an artefact, see test_casemix), so a month of type II
    # patients at 17 % where their usual rate is 5 % (test_casemix) is drawn as a black diamond.
    from test_casemix import BUSY, busy_month_cells, records_from_cells
    cells = [c for c in busy_month_cells() if c[0] != BUSY] + [(BUSY, 2, "face", 100, 17)]
    rise = monitoring.monthly(records_from_cells(cells)).adjusted["ablative"]
    drawn = next(t for t in figures.case_mix_chart(rise, "ablative", "hyperpigmentation").data
                 if t.name and t.name.startswith("Ablative"))
    flagged = [p.label for p in rise.points if p.rule and p.ratio is not None]
    assert flagged == [BUSY]
    assert [x for x, symbol in zip(drawn.x, drawn.marker.symbol) if symbol == "diamond"] == flagged
    assert not [x for x, symbol in zip(observed.x, observed.marker.symbol) if symbol == "diamond"]
    assert "observed / expected" in observed.hovertemplate
    assert fig.layout.title.text.startswith("Hyperpigmentation against case mix · Ablative")
    assert fig.layout.yaxis.title.text == "Hyperpigmentation (% of treatments)"
    upper = next(t for t in fig.data if t.name == "Control limits")
    assert list(upper.y) == pytest.approx([p.rate_upper for p in chart.points])
    empty = figures.case_mix_chart(monitoring.monthly(sample).adjusted["ablative"].__class__(
        (), 0.998, (), "m", reason="There are no periods to chart."), "ablative", "hyperpigmentation")
    assert empty.layout.annotations[0].text == "There are no periods to chart."


def test_a_skin_type_that_defers_to_the_test_of_interaction_says_so_on_hover(sample):
    # fourth reading of #15: the hover showed "p < 0.001 after allowing for 9 skin-type comparisons" for a type that
    # makes no claim of its own (on the sample every type defers: the test of interaction finds no clear difference)
    tone = skin_tone.skin_tone(sample)
    assert all(c.deferred for c in tone.by_type if not c.small)
    fig = figures.risk_differences(tone.by_type, "Hyperpigmentation: difference by skin type", "hyperpigmentation")
    notes = [row[3] for row in fig.data[0].customdata]
    assert notes and all("No claim of its own" in n or "too few" in n for n in notes)
