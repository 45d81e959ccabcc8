"""Laser-treatment outcomes: the importable core (no Streamlit), usable from a notebook or ``python -m analysis``.

The subpackages follow the data: :mod:`analysis.records` (schema, import, storage, selections) ->
:mod:`analysis.stats` (methods) -> :mod:`analysis.findings` (comparisons, claims, quality, wording) ->
:mod:`analysis.present` (figures, tables, reports, exports, share links). Imports only run that way.
"""
