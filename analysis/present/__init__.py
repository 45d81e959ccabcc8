"""Presentation: figures, readable tables, offline HTML reports, safe CSV exports and the view in a URL.

The last step of records -> stats -> findings -> present: it turns results into what a person sees.
"""
