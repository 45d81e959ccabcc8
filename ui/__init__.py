"""The shared Streamlit layer: page set-up, dataset choice, cached loading. Pages compose this and ``analysis``."""

from ui.setup import View, setup_page

__all__ = ["View", "setup_page"]
