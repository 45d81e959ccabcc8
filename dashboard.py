"""Overview: the dataset at a glance. Run with ``streamlit run dashboard.py``."""

import streamlit as st

import ui
from analysis.overview import dataset_overview

view = ui.setup_page("Overview")
facts = dataset_overview(view.records)
st.caption(f"Dataset: {view.dataset.name}")
cols = st.columns(4)
cols[0].metric("Treatments", f"{facts.treatments:,}")
cols[1].metric("Patients", f"{facts.patients:,}" if facts.patients is not None else "not recorded")
cols[2].metric("Clinics", f"{facts.clinics:,}")
cols[3].metric("Dates", facts.date_range)
cols = st.columns(len(facts.by_modality))
for col, (modality, count) in zip(cols, facts.by_modality.items()):
    col.metric(f"{modality.capitalize()} treatments", f"{count:,}")
