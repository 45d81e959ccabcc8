"""Skin tone & hyperpigmentation: the rate per Fitzpatrick type for each modality — the core view."""

import ui
from analysis.present import figures, tables

view = ui.setup_page("Skin tone & hyperpigmentation")
ui.start_report("Skin tone & hyperpigmentation", view)
ui.empty_selection(view)
result = ui.compute(view, "skin_tone")
ui.stop_unless_recorded(view, result, "skin-tone")

ui.findings(result.findings_in("overall", "modification", "band"))
ui.chart(figures.skin_tone_rates(result), key="skin_tone_rates")
ui.heading("Ablative vs non-ablative within each skin type")
if any(c.difference.estimate is not None for c in result.by_type):
    ui.chart(figures.risk_differences(result.by_type, "Difference in hyperpigmentation rate by skin type",
                                      "hyperpigmentation"), key="skin_tone_forest")
else:
    ui.sentence("Both modalities are needed within a skin type to compare them; this selection has only one.")
ui.table(tables.contrasts(result.by_type, "Fitzpatrick skin type"), key="skin_tone_table")
ui.table(tables.contrasts(result.by_band, "Skin types"), key="skin_tone_bands")
ui.heading("Trend across skin types and the odds ratios")
ui.findings(result.findings_in("trend", "small", "adjusted"))
ui.table(tables.effect_modification(result), key="skin_tone_modification")
ui.finish(view, "skin-tone")
