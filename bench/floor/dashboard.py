"""The floor for `bench/share_link.py --compare bench/floor`: a bare Streamlit app (no data, no filters)."""
import streamlit as st

st.title("floor")
