"""Side effects: every effect's rate by modality and skin type, severity and how long it lasted (time to resolution)."""

import ui
from analysis.present import figures, tables

view = ui.setup_page("Side effects")
ui.start_report("Side effects", view)
ui.empty_selection(view)
result = ui.compute(view, "side_effects", ui.follow_up_until(view))
ui.stop_unless_recorded(view, result, "side-effects")
if not result.rates:
    ui.sentence("No side effects are recorded for the treatments in this selection.")
else:
    ui.chart(figures.side_effect_rates(result), key="side_effect_rates")
    ui.table(tables.contrasts(result.rates, "Side effect"), key="side_effect_table")
    ui.heading("Findings")
    ui.findings(result.findings)
    ui.heading("Severity")
    if result.severity.empty:
        ui.sentence("No severity is recorded for these side effects.")
    else:
        ui.chart(figures.severity_mix(result), key="severity")
    ui.heading("How long they lasted")
    if result.duration_findings:
        ui.chart(figures.time_to_resolution(result.durations), key="time_to_resolution")
        ui.findings(result.duration_findings)
        ui.table(tables.durations(result), key="durations")
    else:
        ui.sentence("No onset or resolution days are recorded for these side effects.")
    ui.heading("By skin type")
    ui.table(tables.rate_cells(result.by_skin_type, "Side effect · skin type"), key="side_effect_types")
ui.finish(view, "side-effects")
