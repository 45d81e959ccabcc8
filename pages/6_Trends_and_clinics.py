"""Trends & clinics: monthly p-chart of hyperpigmentation beside the same months against their case mix, volume, and
funnel plots of clinics and practitioners."""

import ui
from analysis.present import figures, tables

view = ui.setup_page("Trends & clinics")
ui.start_report("Trends & clinics", view)
ui.empty_selection(view)
trend = ui.compute(view, "monthly", ui.follow_up_until(view))

ui.heading("Hyperpigmentation month by month")
if len(view.filters.clinics) != 1:
    ui.sentence("These charts pool every clinic in the selection. Choose one clinic in the sidebar to see whether "
                "that clinic is drifting.")
ui.findings(trend.findings if trend.recorded else trend.findings[:1])
for modality, chart in trend.charts.items():
    ui.chart(figures.p_chart(chart, modality, trend.effect, trend.open_points.get(modality, ())),
             key=f"p_chart_{modality}")
    ui.chart(figures.case_mix_chart(trend.adjusted[modality], modality, trend.effect), key=f"case_mix_{modality}")
if trend.recorded:
    ui.sentence("Control limits show how far a month's rate can stray from the average by chance alone; months with "
                "fewer treatments get wider limits. A point outside them, or 7 months in a row on one side of the "
                "average (or rising or falling), is a signal worth looking into. The most recent months may still be "
                "missing late side effects.",
                help="p-chart limits: the average ± 3 standard errors for each month's number of treatments.")
    ui.sentence("Each monthly chart has a twin below it that judges every month against its own patients: the rate "
                "expected from that month's mix of skin types and treatment areas. A month treating many type V–VI "
                "patients is expected to see more hyperpigmentation, so the twin flags it only if it saw more than "
                "its patients explain.",
                help="Expected events: the sum of each treatment's rate for its skin type and area (indirect "
                     "standardisation); limits: exact Poisson 99.8 % limits of observed / expected (Spiegelhalter "
                     "2005), drawn around the expected rate.")
ui.chart(figures.volume(trend.volume), key="volume")

for unit, label in (("clinic", "Clinic"), ("practitioner", "Practitioner")):
    result = ui.compute(view, "funnel", unit)
    ui.heading(f"{label}s compared (funnel plot)")
    ui.findings(result.findings)
    if not result.recorded:
        continue
    ui.chart(figures.funnel(result, label), key=f"funnel_{unit}")
    ui.table(tables.funnel_units(result.funnel, label), key=f"funnel_{unit}_table")
ui.finish(view, "trends")
