"""How to read the pages: the glossary in the sidebar of every page and each page's "How to read this".

The words are data in :mod:`analysis.present.glossary` (constant text written there, so it is shown as
Markdown); this module only draws them.
"""

from __future__ import annotations

import streamlit as st

from analysis.present import glossary

KEY_GLOSSARY = "glossary"
KEY_HOW_TO_READ = "how_to_read"


def sidebar_glossary() -> None:
    """A "Glossary" button in the sidebar opening every term in plain words (drawn by ``setup_page``)."""
    with st.sidebar.popover("Glossary: the words used here", icon=":material/menu_book:", key=KEY_GLOSSARY,
                            width="stretch", help="Confidence interval, p-value, funnel plot… in plain words."):
        st.markdown(glossary.glossary_markdown())


def how_to_read(slug: str, notes: tuple[str, ...] = ()) -> glossary.Reading:
    """The page's "How to read this" at its foot: its notes, its families of comparisons (which groups are
    judged together, and how) and the terms it uses; returns what was shown.

    ``notes`` are the page's own sentences for this view (shown as Markdown: never put user data in them)."""
    reading = glossary.reading(slug, notes)
    with st.expander(glossary.HOW_TO_READ, icon=":material/menu_book:", key=KEY_HOW_TO_READ):
        for note in reading.notes:
            st.markdown(note)
        families = glossary.families_text(reading)
        if families:
            st.markdown(f"**{glossary.FAMILIES}** {reading.families}")
        for name in reading.terms:
            t = glossary.term(name)
            st.markdown(f"**{t.name}.** {t.plain}" + (f"  \n*Statisticians' name:* {t.technical}"
                                                       if t.technical else ""))
        st.caption("Every term is in the glossary in the sidebar.")
    return reading
