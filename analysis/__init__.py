"""Laser-treatment outcomes: schema, import, storage and statistics (no Streamlit)."""
