"""Downtime: how long patients needed before normal activities, ablative vs non-ablative."""

import ui
from analysis.present import figures, tables
from analysis.findings.compare import BREAKDOWNS

view = ui.setup_page("Downtime")
ui.start_report("Downtime", view)
ui.empty_selection(view)
result = ui.compute(view, "downtime")
ui.stop_unless_recorded(view, result, "downtime")

ui.findings(result.findings)
ui.chart(figures.measure_distribution(view.selection.outcomes, result, "downtime_days",
                                      "Downtime after treatment", "Downtime (days)"), key="downtime_box")
ui.table(tables.medians(result), key="downtime_medians")
ui.sentence("“Typically … longer” (or shorter) in the finding above is the typical difference between the downtime "
            "of an ablative and a non-ablative treatment, with its 95 % confidence interval.",
            help=f"The typical difference is the Hodges–Lehmann estimate; the p-value is from the {result.test.test} "
                 f"test ({result.test.method or 'two-sided'}).")

for column, label, phrase in BREAKDOWNS:
    ui.heading(f"By {phrase}")
    groups = result.breakdown[column]
    if not groups:
        ui.sentence(f"No {phrase} is recorded for these treatments.")
        continue
    order = figures.TYPE_ORDER if column == "fitzpatrick_type" else None
    ui.chart(figures.medians_by_group(groups, f"Median downtime by {phrase}", label, "Downtime (days)", order=order),
             key=f"downtime_{column}")
    ui.table(tables.group_medians(groups, label, "days"), key=f"downtime_{column}_table")
ui.finish(view, "downtime")
