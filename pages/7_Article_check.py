"""Article check: the source article's claims, tested on this clinic's own records."""

import streamlit as st

import ui
from analysis.present import tables

view = ui.setup_page("Article check")
ui.start_report("Article check", view)
ui.empty_selection(view)
checks = ui.compute(view, "claims")
st.caption("Claims from a consumer article on laser skin tightening, each checked against the selected records.")
ui.table(tables.claims(checks), key="claims_table")
for check in checks:
    ui.heading(check.claim)
    ui.verdict(check.verdict)
    ui.sentence(check.evidence)
    if check.more_needed:
        ui.sentence(check.more_needed)
    st.caption(f"The article: “{check.quote}”")
ui.finish(view, "article-check")
