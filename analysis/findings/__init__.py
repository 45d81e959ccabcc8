"""Findings: what the dashboard compares and concludes from a selection of records, in plain words.

Built on :mod:`analysis.records` (the records) and :mod:`analysis.stats` (the methods); presented by
:mod:`analysis.present`, which this package never imports.
"""
