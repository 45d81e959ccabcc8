"""Two plotly bar charts with error bars and nothing else: what Streamlit and plotly.js alone cost a share link
to /Skin_tone in a fresh browser (see bench/RESULTS.md, *A share link opened in a fresh browser*)."""
import plotly.graph_objects as go
import streamlit as st

st.title("Skin tone")
for i in range(2):
    fig = go.Figure()
    for name, off in (("Ablative", 0), ("Non-ablative", 1)):
        fig.add_trace(go.Bar(name=name, x=["I", "II", "III", "IV", "V", "VI"], y=[3 + off, 4, 5, 6, 7, 8],
                             error_y=dict(type="data", array=[1] * 6)))
    fig.update_layout(title=f"Chart {i}", barmode="group")
    st.plotly_chart(fig, key=f"c{i}")
