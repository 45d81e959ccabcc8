"""Overview: the dataset at a glance. Run with ``streamlit run dashboard.py``."""

import streamlit as st

import ui
from analysis.findings.overview import headline

view = ui.setup_page("Overview")
ui.start_report("Overview", view)
ui.empty_selection(view)
facts = ui.compute(view, "overview")
cols = st.columns(4)
cols[0].metric("Treatments", f"{facts.treatments:,}")
cols[1].metric("Patients", f"{facts.patients:,}" if facts.patients is not None else "not recorded")
cols[2].metric("Clinics", f"{facts.clinics:,}" if facts.clinics is not None else "not recorded")
cols[3].metric("Dates", facts.date_range)

ui.heading("Ablative vs non-ablative")
cards = headline(ui.compute(view, "downtime_headline"), ui.compute(view, "improvement_headline"),
                 ui.compute(view, "skin_tone"))
for pair in cards:
    cols = st.columns(2)
    for col, card in zip(cols, pair):
        col.metric(card.label, card.value, border=True)
        col.caption(card.detail)

ui.heading("What stands out")
top = ui.compute(view, "top_findings", ui.follow_up_until(view))
ui.findings(top)
st.caption("Rates show 95 % confidence intervals. ⚠ marks findings from groups too small to conclude from.")
ui.finish(view, "overview")
