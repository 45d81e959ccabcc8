"""Results: investigator-rated improvement and patient satisfaction, ablative vs non-ablative."""

import ui
from analysis.present import figures, tables
from analysis.findings.compare import BREAKDOWNS

view = ui.setup_page("Results")
ui.start_report("Results", view)
ui.empty_selection(view)
improvement = ui.compute(view, "improvement")
satisfaction = ui.compute(view, "satisfaction")

ui.heading("Improvement (investigator-rated)")
if ui.recorded(improvement):
    ui.findings(improvement.findings)
    ui.chart(figures.ordinal_stack(improvement, "Improvement score by modality", figures.IMPROVEMENT_LEVELS),
             key="improvement_stack")
    ui.table(tables.contrasts([improvement.good_contrast], "Reached at least 51 % improvement"),
             key="improvement_table")

ui.heading("Patient satisfaction")
if ui.recorded(satisfaction):
    ui.findings(satisfaction.findings)
    ui.chart(figures.ordinal_stack(satisfaction, "Patient satisfaction by modality", figures.SATISFACTION_LEVELS),
             key="satisfaction_stack")

for column, label, phrase in BREAKDOWNS if improvement.recorded else ():
    ui.heading(f"At least 51 % improvement by {phrase}")
    cells = improvement.breakdown[column]
    if not cells:
        ui.sentence(f"No {phrase} is recorded for these treatments.")
        continue
    order = figures.TYPE_ORDER if column == "fitzpatrick_type" else None
    ui.chart(figures.rate_by_group(cells, f"At least 51 % improvement by {phrase}", label,
                                   "At least 51 % improvement", order=order), key=f"improvement_{column}")
ui.finish(view, "results")
