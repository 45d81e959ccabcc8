"""Overview: the dataset at a glance. Run with ``streamlit run dashboard.py``."""

import streamlit as st

import ui
from analysis.findings.overview import headline

view = ui.setup_page("Overview")
ui.welcome(view)
ui.start_report("Overview", view)
ui.empty_selection(view)
facts = ui.compute(view, "overview")
ui.metrics([("Treatments", f"{facts.treatments:,}", ""),
            ("Patients", f"{facts.patients:,}" if facts.patients is not None else "not recorded", ""),
            ("Clinics", f"{facts.clinics:,}" if facts.clinics is not None else "not recorded", ""),
            ("Months of records", f"{facts.months:,}", facts.date_range)])

ui.heading("Ablative vs non-ablative")
cards = headline(ui.compute(view, "downtime_headline"), ui.compute(view, "improvement_headline"),
                 ui.compute(view, "skin_tone"))
ui.metrics([(card.label, card.value, card.detail) for pair in cards for card in pair], per_row=2, border=True)

ui.heading("What stands out")
top = ui.compute(view, "top_findings", ui.follow_up_until(view))
ui.findings(top)
st.caption("Rates show 95 % confidence intervals. ⚠ marks findings from groups too small to conclude from.")
ui.finish(view, "overview")
