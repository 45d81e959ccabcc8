"""Plotly figures for every page: one colour per modality everywhere, titled, units on axes, CIs as error bars.

Colours are from the Okabe-Ito palette (Okabe M, Ito K. Color Universal Design, 2008), which stays
distinguishable with the common colour-vision deficiencies. Every figure shows its counts (n).
Figures are built from the result objects of :mod:`analysis.findings.compare` and the comparisons beside
it (:mod:`~analysis.findings.skin_tone`, :mod:`~analysis.findings.effects`,
:mod:`~analysis.findings.monitoring`), already aggregated, so they stay light at a million records.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from analysis.findings import compare, wording
from analysis.findings.effects import EffectDuration, SideEffectSummary
from analysis.findings.monitoring import FunnelComparison
from analysis.findings.skin_tone import SkinToneComparison
from analysis.records.schema import ABLATIVE, FITZPATRICK_ROMAN, MODALITIES, NON_ABLATIVE
from analysis.stats.casemix import CaseMixChart
from analysis.stats.pchart import PChart, PChartPoint

MODALITY_COLOURS: dict[str, str] = {ABLATIVE: "#D55E00", NON_ABLATIVE: "#0072B2"}  # vermillion, blue
MODALITY_LABELS: dict[str, str] = {ABLATIVE: "Ablative", NON_ABLATIVE: "Non-ablative"}
SMALL_COLOUR = "#999999"
LEVEL_COLOURS = ("#E8E8E8", "#C6DBEF", "#6BAED6", "#2171B5", "#08306B")  # sequential, for ordinal levels
TYPE_ORDER = [FITZPATRICK_ROMAN[t] for t in range(1, 7)]
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)
LEGEND = dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top")  # right of the plot, top-aligned
#: plotly's "plotly_white" look, with the trace defaults of only the trace types drawn here (bar, scatter, box):
#: the full template carries defaults for 24 trace types, 75 % of a chart's JSON, and setting it by name builds
#: and checks all of them for every figure (bench/share_link.py: the server builds a chart page's figures
#: before the browser can ask for plotly.js). Built once; plotly copies it into each figure.
_TEMPLATE = go.layout.Template(
    layout=pio.templates["plotly_white"].layout,
    data={kind: traces for kind, traces in pio.templates["plotly_white"].data.to_plotly_json().items()
          if kind in ("bar", "scatter", "box")})


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 420, caption: str = "") -> go.Figure:
    """Title (and the caption as its subtitle) above the plot, legend at its right, axis labels below and left.

    Each part has its own side: the top margin is set to the title's and caption's lines (``<br>`` in the caption
    starts a line; captions are broken so each line fits a chart about 560 px wide), and plotly widens the other
    margins to fit what is there (``automargin``), so slanted tick labels only push the bottom margin, a long
    legend the right one, and no label runs into another at any width.
    """
    top = 44 + (18 * (caption.count("<br>") + 1) if caption else 0)  # the title's line, the caption's lines
    fig.update_layout(title=dict(text=title, x=0, xanchor="left", xref="container", y=1, yanchor="top",
                                 yref="container", pad=dict(t=10, l=4),
                                 subtitle=dict(text=caption, font=dict(size=12, color="#555"))),
                      xaxis_title=x, yaxis_title=y, height=height, font=FONT, template=_TEMPLATE,
                      separators=".,", legend=LEGEND, margin=dict(l=10, r=10, t=top, b=10),
                      hoverlabel=dict(font_size=13))
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _pct_axis(fig: go.Figure, axis: str = "y", upper: float | None = None) -> None:
    update = dict(tickformat=".0%", rangemode="tozero")
    if upper is not None:
        update["range"] = [0, upper]
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(**update)


def _errors(est: Sequence[float | None], low: Sequence[float | None], high: Sequence[float | None]) -> dict:
    e = np.array([np.nan if v is None else v for v in est], dtype=float)
    lo = np.array([np.nan if v is None else v for v in low], dtype=float)
    hi = np.array([np.nan if v is None else v for v in high], dtype=float)
    return dict(type="data", symmetric=False, array=np.nan_to_num(hi - e), arrayminus=np.nan_to_num(e - lo),
                thickness=1.5, width=5)


def empty_figure(message: str, title: str) -> go.Figure:
    """A titled placeholder that says why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=15))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, "", "", height=260)


# --- rates with Wilson intervals ---------------------------------------------------------------

def rate_by_group(cells: Sequence[compare.RateCell], title: str, group_label: str, what: str,
                  order: Sequence[str] | None = None) -> go.Figure:
    """Bars of a rate per group for each modality, side by side, Wilson CI error bars, n under each group's name.

    The bars lie horizontally, a group per row, so the group names and counts read level at any width.
    Bars from groups with fewer than ``compare.SMALL_N`` treatments are drawn hatched and say so on hover.
    """
    if not cells:
        return empty_figure("No treatments in this selection.", title)
    groups = list(order) if order else sorted({c.group for c in cells})
    groups = [g for g in groups if any(c.group == g for c in cells)]
    shown = {g: safe_label(g) for g in groups}
    fig = go.Figure()
    for modality in MODALITIES:
        mine = {c.group: c for c in cells if c.modality == modality}
        if not mine:
            continue
        rows = [mine.get(g) for g in groups]
        est = [r.proportion.estimate if r else None for r in rows]
        fig.add_bar(
            name=MODALITY_LABELS[modality], y=[shown[g] for g in groups], x=[e if e is not None else 0 for e in est],
            orientation="h",
            marker=dict(color=MODALITY_COLOURS[modality],
                        pattern=dict(shape=["/" if r and r.small else "" for r in rows], fgcolor="white")),
            error_x=_errors(est, [r.proportion.low if r else None for r in rows],
                            [r.proportion.high if r else None for r in rows]),
            customdata=[[r.proportion.events, r.proportion.treatments, wording.pct_range(r.proportion.low, r.proportion.high),
                         " — too few to conclude from" if r.small else ""] if r else [0, 0, "–", ""] for r in rows],
            hovertemplate=(f"<b>%{{y}}</b> · {MODALITY_LABELS[modality]}<br>{what}: %{{x:.1%}} "
                           "(95 % CI %{customdata[2]})<br>%{customdata[0]:,} of %{customdata[1]:,} treatments"
                           "%{customdata[3]}<extra></extra>"),
        )
    ticks = []
    for g in groups:
        counts = " / ".join(wording.count(next((c.proportion.treatments for c in cells if c.group == g and c.modality == m), 0))
                            for m in MODALITIES)
        ticks.append(f"{shown[g]}<br><span style='font-size:11px'>n = {counts}</span>")
    fig.update_yaxes(tickmode="array", tickvals=[shown[g] for g in groups], ticktext=ticks, type="category",
                     categoryorder="array", categoryarray=[shown[g] for g in groups], autorange="reversed")
    upper = max((c.proportion.high or 0) for c in cells)
    _pct_axis(fig, axis="x", upper=min(1.0, upper * 1.15 + 0.02))
    fig.update_layout(barmode="group", bargap=0.25)
    note = "Error bars: 95 % confidence intervals.<br>n = ablative / non-ablative treatments. " \
           "Hatched: fewer than 10 treatments."
    return _layout(fig, title, f"{what} (% of treatments)", group_label, height=170 + 56 * len(groups),
                   caption=note)


def skin_tone_rates(result: SkinToneComparison) -> go.Figure:
    """The core chart: rate per Fitzpatrick type I-VI for each modality."""
    return rate_by_group(result.cells, f"{result.effect.capitalize()} by Fitzpatrick skin type",
                         "Fitzpatrick skin type", result.effect.capitalize(), order=TYPE_ORDER)


def risk_differences(contrasts: Sequence[compare.RateContrast], title: str, effect: str) -> go.Figure:
    """Forest plot of ablative − non-ablative differences (Newcombe CIs) per group; zero line marked."""
    rows = [c for c in contrasts if c.difference.estimate is not None]
    if not rows:
        return empty_figure("Both modalities are needed in a group to compare them.", title)
    labels = [f"{safe_label(c.group)} (n = {wording.count(c.ablative.treatments)} / "
              f"{wording.count(c.non_ablative.treatments)})" for c in rows]
    est = [100 * c.difference.estimate for c in rows]  # percentage points
    fig = go.Figure(go.Scatter(
        x=est, y=labels, mode="markers",
        marker=dict(size=11, color=[SMALL_COLOUR if c.small else MODALITY_COLOURS[ABLATIVE] for c in rows],
                    symbol="diamond"),
        error_x=_errors(est, [100 * c.difference.low for c in rows], [100 * c.difference.high for c in rows]),
        customdata=[[wording.pct_range(c.difference.low, c.difference.high).replace("%", "points"),
                     wording.p_value(c.test.p_value) + (f"; {wording.p_value(c.adjusted_p)} after allowing for "
                                                        f"{c.family_size} {c.family}" if c.family_size > 1 else ""),
                     c.test.test, " — too few to conclude from" if c.small else
                     "<br>No claim of its own: the gap does not differ clearly between skin types" if c.deferred
                     else ""]
                    for c in rows],
        hovertemplate="<b>%{y}</b><br>Difference %{x:+.1f} percentage points (95 % CI %{customdata[0]})<br>"
                      "%{customdata[2]}: %{customdata[1]}%{customdata[3]}<extra></extra>",
        showlegend=False))
    fig.add_vline(x=0, line=dict(color="#444", dash="dash"))
    fig.update_xaxes(tickformat="+.0f", zeroline=False)
    fig.update_yaxes(autorange="reversed")
    caption = ("Bars: 95 % confidence intervals.<br>Right of the dashed line: more often after ablative."
               "<br>Grey: too few treatments or events to conclude from.")
    return _layout(fig, title, f"Difference in {effect} rate,<br>ablative − non-ablative (percentage points)", "",
                   height=220 + 50 * len(rows), caption=caption)


# --- measurements --------------------------------------------------------------------------------

def measure_distribution(records_outcomes: pd.DataFrame, result: compare.ContinuousComparison, column: str,
                         title: str, axis: str) -> go.Figure:
    """Box per modality from precomputed quartiles (light at any size), with the median's CI as a marker."""
    fig = go.Figure()
    for modality in MODALITIES:
        values = records_outcomes.loc[records_outcomes["modality"] == modality, column].dropna().to_numpy(float)
        if values.size == 0:
            continue
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        iqr = q3 - q1
        low_fence = values[values >= q1 - 1.5 * iqr].min()
        high_fence = values[values <= q3 + 1.5 * iqr].max()
        name = f"{MODALITY_LABELS[modality]} (n = {values.size:,})"
        fig.add_trace(go.Box(name=name, q1=[q1], median=[med], q3=[q3], lowerfence=[low_fence],
                             upperfence=[high_fence], x=[name], marker_color=MODALITY_COLOURS[modality],
                             boxpoints=False, hoverinfo="y"))
        m = result.medians[modality]
        if m.low is not None:
            fig.add_trace(go.Scatter(x=[name], y=[m.estimate], mode="markers", showlegend=False,
                                     marker=dict(color="black", size=8, symbol="line-ew-open"),
                                     error_y=_errors([m.estimate], [m.low], [m.high]),
                                     hovertemplate=f"Median %{{y}} (95 % CI {wording.interval(m.low, m.high)})"
                                                   "<extra></extra>"))
    if not fig.data:
        return empty_figure(f"No {result.measure} recorded in this selection.", title)
    fig.update_layout(showlegend=False)
    return _layout(fig, title, "", axis)


def medians_by_group(groups: Sequence[compare.GroupMedian], title: str, group_label: str, axis: str,
                     order: Sequence[str] | None = None) -> go.Figure:
    """Median with CI per group and modality (dot-and-whisker), n in the hover and the tick labels."""
    if not groups:
        return empty_figure("Nothing recorded for this breakdown.", title)
    names = list(order) if order else sorted({g.group for g in groups})
    names = [safe_label(n) for n in names if any(g.group == n for g in groups)]
    fig = go.Figure()
    for i, modality in enumerate(MODALITIES):
        mine = [g for g in groups if g.modality == modality]
        if not mine:
            continue
        est = [g.median.estimate for g in mine]
        fig.add_trace(go.Scatter(
            x=[safe_label(g.group) for g in mine], y=est, mode="markers", name=MODALITY_LABELS[modality],
            marker=dict(size=10, color=MODALITY_COLOURS[modality], symbol=["circle-open" if g.small else "circle"
                                                                            for g in mine]),
            error_y=_errors(est, [g.median.low for g in mine], [g.median.high for g in mine]),
            offsetgroup=modality, customdata=[[g.median.n, " — too few to conclude from" if g.small else ""]
                                              for g in mine],
            hovertemplate=f"<b>%{{x}}</b> · {MODALITY_LABELS[modality]}<br>Median %{{y}}<br>n = %{{customdata[0]:,}}"
                          "%{customdata[1]}<extra></extra>"))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=names)
    fig.update_layout(scattermode="group")
    return _layout(fig, title, group_label, axis)


def ordinal_stack(result: compare.OrdinalComparison, title: str, level_names: dict[int, str]) -> go.Figure:
    """100 % stacked bars of each score level per modality, n in the bar label."""
    dist = result.distribution
    fig = go.Figure()
    totals = dist.groupby("modality", observed=True)["count"].sum()
    y = [f"{MODALITY_LABELS[m]} (n = {int(totals.get(m, 0)):,})" for m in MODALITIES]
    for level, colour in zip(result.levels, LEVEL_COLOURS):
        rows = dist[dist["level"] == level].set_index("modality").reindex(list(MODALITIES))
        fig.add_bar(name=level_names.get(level, str(level)), y=y, x=rows["share"].fillna(0), orientation="h",
                    marker_color=colour, customdata=rows["count"].fillna(0).astype(int),
                    hovertemplate=f"{level_names.get(level, level)}: %{{x:.1%}} (%{{customdata:,}} treatments)"
                                  "<extra></extra>")
    fig.update_layout(barmode="stack")
    _pct_axis(fig, axis="x", upper=1.0)
    return _layout(fig, title, "Share of treatments (%)", "", height=300)


# --- side effects ---------------------------------------------------------------------------------

def side_effect_rates(summary: SideEffectSummary) -> go.Figure:
    """Every effect's rate by modality with Wilson CIs."""
    cells = []
    for c in summary.rates:
        cells.append(compare.RateCell(ABLATIVE, c.group, c.ablative, c.ablative.treatments < compare.SMALL_N))
        cells.append(compare.RateCell(NON_ABLATIVE, c.group, c.non_ablative,
                                      c.non_ablative.treatments < compare.SMALL_N))
    return rate_by_group(cells, "Side effects by modality", "Side effect", "Rate", order=[c.group for c in summary.rates])


def severity_mix(summary: SideEffectSummary) -> go.Figure:
    """Severity of each effect's events, per modality (counts), a row per effect and modality."""
    sev = summary.severity
    if sev.empty:
        return empty_figure("No side effects recorded in this selection.", "Severity of side effects")
    colours = {"mild": "#F0E442", "moderate": "#E69F00", "severe": "#882255", "not recorded": "#DDDDDD"}
    rows_shown = list(dict.fromkeys(f"{safe_label(e)} · {MODALITY_LABELS[m]}"
                                    for e, m in zip(sev["effect"], sev["modality"])))
    fig = go.Figure()
    for level in ("mild", "moderate", "severe", "not recorded"):
        rows = sev[sev["severity"] == level]
        if rows.empty:
            continue
        fig.add_bar(name=level.capitalize(), y=[f"{safe_label(e)} · {MODALITY_LABELS[m]}"
                                                for e, m in zip(rows["effect"], rows["modality"])],
                    x=rows["count"], orientation="h", marker_color=colours[level],
                    hovertemplate="%{y}: %{x:,} events<extra>" + level + "</extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=sorted(rows_shown), autorange="reversed")
    fig.update_xaxes(tickformat=",")
    return _layout(fig, "Severity of side effects", "Events (n)", "Side effect and modality",
                   height=150 + 22 * len(rows_shown))


def _faint(modality: str, alpha: float = 0.15) -> str:
    """The modality's colour, see-through (for a confidence band)."""
    colour = MODALITY_COLOURS[modality].lstrip("#")
    red, green, blue = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def time_to_resolution(durations: Sequence[EffectDuration]) -> go.Figure:
    """Kaplan-Meier curves, one small chart per effect: the share of events not yet resolved against days after
    treatment, a line per modality, ``+`` where an event was last seen unresolved (censored), n in each title."""
    title = "How long side effects lasted: share not yet resolved"
    shown = [d for d in durations if d.curve.n]
    if not shown:
        return empty_figure("No onset or resolution days are recorded for these side effects.", title)
    effects = list(dict.fromkeys(d.effect for d in shown))
    cols = 2 if len(effects) in (2, 4) else min(3, len(effects))
    rows = -(-len(effects) // cols)
    names = []
    for e in effects:
        counts = " / ".join(wording.count(next((d.curve.n for d in shown if d.effect == e and d.modality == m), 0))
                            for m in MODALITIES)
        names.append(f"{safe_label(e).capitalize()}<br><span style='font-size:11px'>n = {counts}</span>")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.1,
                        vertical_spacing=0.36 / rows if rows > 1 else 0.1)
    # Three small charts side by side in a 1024 px window leave ~160 px a title: "Hyperpigmentation" beside
    # "Hypopigmentation" at the default 16 px overlapped (tests/browser/test_screens.py).
    fig.update_annotations(font_size=12)
    legend_done: set[str] = set()
    for i, e in enumerate(effects):
        row, col = i // cols + 1, i % cols + 1
        for d in (d for d in shown if d.effect == e):
            c = d.curve
            last = float(max(c.times.max() if c.times.size else 0, c.censored.max() if c.censored.size else 0))
            x = [0.0, *c.times.tolist(), last]
            y = [1.0, *c.survival.tolist(), float(c.survival[-1]) if c.survival.size else 1.0]
            label = MODALITY_LABELS[d.modality]
            low, high = c.confidence_band()
            for edge, values in (("upper", high), ("lower", low)):   # the 95 % band, shaded between its edges
                fig.add_scatter(x=x, y=[1.0, *values.tolist(), float(values[-1]) if values.size else 1.0],
                                mode="lines", line=dict(shape="hv", width=0, color=MODALITY_COLOURS[d.modality]),
                                fill="tonexty" if edge == "lower" else None, fillcolor=_faint(d.modality),
                                name=f"{label}: 95 % confidence band", legendgroup=d.modality, showlegend=False,
                                hoverinfo="skip", row=row, col=col)
            fig.add_scatter(x=x, y=y, mode="lines", line=dict(shape="hv", color=MODALITY_COLOURS[d.modality], width=2),
                            name=label, legendgroup=d.modality, showlegend=d.modality not in legend_done,
                            row=row, col=col,
                            hovertemplate=(f"<b>{safe_label(e)}</b> · {label}<br>day %{{x:,}}: %{{y:.0%}} not yet "
                                           "resolved<extra></extra>"))
            legend_done.add(d.modality)
            if c.censored.size:
                times, counts = np.unique(c.censored, return_counts=True)
                fig.add_scatter(x=times, y=c.evaluate(times), mode="markers", customdata=counts, row=row, col=col,
                                marker=dict(symbol="cross-thin-open", size=8, color=MODALITY_COLOURS[d.modality],
                                            line=dict(width=1.5, color=MODALITY_COLOURS[d.modality])),
                                name=f"{label}: still unresolved", legendgroup=d.modality, showlegend=False,
                                hovertemplate=(f"<b>{safe_label(e)}</b> · {label}<br>%{{customdata:,}} still unresolved "
                                               "when last followed, day %{x:,}<extra></extra>"))
    note = ("Each step down is events resolving; + an event still unresolved at its last follow-up.<br>"
            "Shaded: 95 % confidence band; dotted: half resolved. n = ablative / non-ablative events.")
    _layout(fig, title, "", "", height=150 + 250 * rows, caption=note)
    fig.update_layout(margin_t=fig.layout.margin.t + 40)   # room for the small charts' titles under the caption
    fig.update_yaxes(range=[0, 1.04], tickformat=".0%")
    fig.update_xaxes(rangemode="tozero", tickformat=",")
    for i in range(len(effects)):   # where the curves cross it: the day by which half had resolved
        fig.add_hline(y=0.5, line=dict(color="#777", width=1, dash="dot"), row=i // cols + 1, col=i % cols + 1)
    for col in range(1, cols + 1):
        bottom = max(i // cols + 1 for i in range(len(effects)) if i % cols == col - 1)
        fig.update_xaxes(title_text="Days after treatment", row=bottom, col=col)
    for i in range(len(effects), rows * cols):   # the empty cells of the last row
        fig.update_xaxes(visible=False, row=rows, col=i % cols + 1)
        fig.update_yaxes(visible=False, row=rows, col=i % cols + 1)
    fig.update_yaxes(title_text="Not yet resolved (% of events)", col=1)
    return fig


IMPROVEMENT_LEVELS: dict[int, str] = {0: "0 · none", 1: "1 · < 25 %", 2: "2 · 25–50 %", 3: "3 · 51–75 %", 4: "4 · > 75 %"}
SATISFACTION_LEVELS: dict[int, str] = {1: "1 · very unsatisfied", 2: "2", 3: "3", 4: "4", 5: "5 · very satisfied"}


# --- time and units -----------------------------------------------------------------------------

def _signal_markers(points, colour: str) -> dict:
    """A monthly chart's markers: a black diamond where a special-cause rule fires, else a dot in the modality's
    colour (the p-chart and its case-mix twin alike)."""
    return dict(size=[12 if p.rule else 7 for p in points], color=["#000000" if p.rule else colour for p in points],
                symbol=["diamond" if p.rule else "circle" for p in points])


def p_chart(chart: PChart, modality: str, effect: str, open_points: Sequence[PChartPoint] = ()) -> go.Figure:
    """Monthly rate with the centre line and 3-sigma limits; signals marked; months still in follow-up hollow."""
    title = f"Monthly {effect} rate · {MODALITY_LABELS[modality]}"
    points = [p for p in chart.points]
    if chart.centre is None or not points:
        return empty_figure(chart.reason or "No months with complete follow-up to chart.", title)
    labels = [p.label for p in points]
    colour = MODALITY_COLOURS[modality]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=labels, y=[p.upper for p in points], mode="lines", name="Control limits",
                             line=dict(color="#888", dash="dot", shape="hvh"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=labels, y=[p.lower for p in points], mode="lines", showlegend=False,
                             line=dict(color="#888", dash="dot", shape="hvh"), hoverinfo="skip"))
    all_labels = labels + [p.label for p in open_points]
    # the average in the legend, not written on the plot where the monthly points run through it
    fig.add_trace(go.Scatter(x=[all_labels[0], all_labels[-1]], y=[chart.centre] * 2, mode="lines",
                             name=f"average {wording.pct(chart.centre)}", line=dict(color="#444"),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=labels, y=[p.rate for p in points], mode="lines+markers",
        name=f"{MODALITY_LABELS[modality]}<br>(n = {wording.count(sum(p.total for p in points))} treatments<br>"
             "in judged months)",
        line=dict(color=colour),
        marker=_signal_markers(points, colour),
        # the rate and its limits as the sentences write them (a rate outside never reads as equal to a limit)
        customdata=[[p.events, p.total, p.rule or "none", *reversed(wording.pct_against(p.rate, p.lower, p.upper))]
                    for p in points],
        hovertemplate="<b>%{x}</b><br>%{customdata[4]} (%{customdata[0]:,} of %{customdata[1]:,})<br>limits "
                      "%{customdata[3]}<br>signal: %{customdata[2]}<extra></extra>"))
    if open_points:
        fig.add_trace(go.Scatter(
            x=[p.label for p in open_points], y=[p.rate for p in open_points], mode="markers",
            name=f"Follow-up still open,<br>not judged (n = {wording.count(sum(p.total for p in open_points))})",
            marker=dict(size=8, color="white", line=dict(color=SMALL_COLOUR, width=2)),
            customdata=[[p.events, p.total] for p in open_points],
            hovertemplate="<b>%{x}</b><br>%{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,}) so far: late side effects "
                          "may still be missing<extra></extra>"))
    _pct_axis(fig)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels + [p.label for p in open_points])
    return _layout(fig, title + " (black diamonds: signals)", "Month", f"{effect.capitalize()} (% of treatments)",
                   height=460)


def case_mix_chart(chart: CaseMixChart, modality: str, effect: str) -> go.Figure:
    """Monthly rate against the rate each month's own case mix predicts, with limits around that expectation.

    The twin of :func:`p_chart` on the same rate scale: the flat average becomes a line that moves with the mix of
    patients (expected rate = expected events / treatments), and the limits follow it (the month's expected rate
    times the exact Poisson limits of observed / expected). Signals are black diamonds; the observed / expected
    ratio is in the hover.
    """
    title = f"{effect.capitalize()} against case mix · {MODALITY_LABELS[modality]}"
    points = [p for p in chart.points if p.ratio is not None]
    if chart.reason is not None or not points:
        return empty_figure(chart.reason or "No months with complete follow-up to chart.", title)
    labels = [p.label for p in chart.points]
    colour = MODALITY_COLOURS[modality]
    level = f"{chart.confidence:.1%}".replace(".0%", "%").replace("%", " %")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=labels, y=[p.rate_upper for p in chart.points], mode="lines", name="Control limits",
                             line=dict(color="#888", dash="dot", shape="hvh"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=labels, y=[p.rate_lower for p in chart.points], mode="lines", showlegend=False,
                             line=dict(color="#888", dash="dot", shape="hvh"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=labels, y=[p.expected_rate for p in chart.points], mode="lines",
                             name="expected for<br>the month's mix", line=dict(color="#444", shape="hvh"),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[p.label for p in points], y=[p.rate for p in points], mode="lines+markers",
        name=f"{MODALITY_LABELS[modality]}<br>(n = {wording.count(sum(p.treatments for p in points))} treatments<br>"
             "in judged months)",
        line=dict(color=colour),
        marker=_signal_markers(points, colour),
        customdata=[[p.observed, p.treatments, wording.pct(p.expected_rate), p.expected, f"{p.ratio:.2f}",
                     *reversed(wording.pct_against(p.rate, p.rate_lower, p.rate_upper)), p.rule or "none"]
                    for p in points],
        hovertemplate="<b>%{x}</b><br>%{customdata[6]} (%{customdata[0]:,} of %{customdata[1]:,})<br>"
                      "expected %{customdata[2]} "
                      "(%{customdata[3]:,.1f} events) for this mix<br>observed / expected %{customdata[4]}<br>"
                      "limits %{customdata[5]}<br>signal: %{customdata[7]}<extra></extra>"))
    _pct_axis(fig)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    caption = (f"Dark line: the rate expected from each month's mix of skin types<br>and treatment areas. "
               f"Dotted: {level} control limits around it.")
    return _layout(fig, title + " (black diamonds: signals)", "Month", f"{effect.capitalize()} (% of treatments)",
                   height=480, caption=caption)


def volume(frame: pd.DataFrame) -> go.Figure:
    """Treatments per month and modality."""
    if frame.empty:
        return empty_figure("No treatments in this selection.", "Treatments per month")
    fig = go.Figure()
    for modality in MODALITIES:
        rows = frame[frame["modality"] == modality]
        if len(rows):
            fig.add_bar(name=MODALITY_LABELS[modality], x=rows["month"], y=rows["treatments"],
                        marker_color=MODALITY_COLOURS[modality],
                        hovertemplate="%{x}: %{y:,} treatments<extra>" + MODALITY_LABELS[modality] + "</extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=",")
    return _layout(fig, "Treatments per month", "Month", "Treatments (n)")


def funnel(result: FunnelComparison, unit_label: str) -> go.Figure:
    """Observed / expected per unit against expected events, with 95 % and 99.8 % limits."""
    f = result.funnel
    title = f"{unit_label}s: {result.effect} compared with what their case mix predicts"
    units = [u for u in f.units if u.ratio is not None]
    if not units:
        return empty_figure(f.reason or f"No {unit_label.lower()} to compare.", title)
    fig = go.Figure()
    styles = {0.95: dict(color="#E69F00", dash="dash"), 0.998: dict(color="#CC79A7", dash="dot")}
    for curve in f.curves:
        style = styles.get(round(curve.confidence, 3), dict(color="#999"))
        name = f"{curve.confidence:.1%} limits".replace(".0%", "%")
        fig.add_trace(go.Scatter(x=list(curve.size), y=list(curve.upper), mode="lines", name=name, line=style,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=list(curve.size), y=list(curve.lower), mode="lines", showlegend=False,
                                 line=style, hoverinfo="skip"))
    fig.add_hline(y=1, line=dict(color="#444"))
    fig.add_trace(go.Scatter(
        x=[u.expected for u in units], y=[u.ratio for u in units], mode="markers",
        name=f"{unit_label}s<br>(n = {wording.count(sum(u.treatments for u in units))} treatments)",
        marker=dict(size=11, color=["#000000" if u.outside else "#56B4E9" for u in units],
                    line=dict(color="white", width=1)),
        customdata=[[safe_label(u.name), u.observed, u.treatments, u.outside or "within limits"] for u in units],
        hovertemplate="<b>%{customdata[0]}</b><br>observed %{customdata[1]:,}, expected %{x:,.1f}<br>"
                      "ratio %{y:.2f} · %{customdata[2]:,} treatments<br>%{customdata[3]}<extra></extra>"))
    labelled = funnel_labels(units)
    if labelled:
        fig.add_trace(go.Scatter(
            x=[u.expected for u, _, _ in labelled], y=[u.ratio for u, _, _ in labelled], mode="markers+text",
            marker=dict(size=14, opacity=0),  # an invisible marker keeps the label clear of the point
            text=[text for _, text, _ in labelled], textposition=[where for _, _, where in labelled],
            showlegend=False, hoverinfo="skip", cliponaxis=False))
    fig.update_xaxes(rangemode="tozero", tickformat=",")
    caption = f"Named: {unit_label.lower()}s outside the limits;<br>point at the others for their names."
    return _layout(fig, title, f"Expected {result.effect} events<br>(from modality and skin-type mix)",
                   "Observed / expected (1 = as expected)", height=480, caption=caption)


def funnel_labels(units: Sequence) -> list[tuple[object, str, str]]:
    """The units a funnel plot names on the chart — only those outside the limits (the rest are named on
    hover, so names never pile up) — each with its label and a side that keeps the label inside the chart:
    units in the right half are labelled on their left."""
    right = max((u.expected for u in units), default=0) / 2
    return [(u, f"{safe_label(u.name)} (n = {wording.count(u.treatments)})",
             "middle left" if u.expected > right else "middle right")
            for u in units if u.outside and u.ratio is not None]


def safe_label(text: object) -> str:
    """A user-supplied name made safe for plotly text, which would otherwise render some HTML tags."""
    return html.escape(str(text), quote=False)
