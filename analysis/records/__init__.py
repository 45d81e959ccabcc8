"""Records: the schema, reading and checking clinics' files, the canonical Arrow values, storage and selections.

The data enter here and flow on to :mod:`analysis.stats`, :mod:`analysis.findings` and :mod:`analysis.present`;
nothing in this package imports those.
"""
