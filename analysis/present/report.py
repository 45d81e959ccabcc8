"""A self-contained HTML report of a page: headings, sentences, tables and charts, readable offline.

Every piece of text is HTML-escaped (names come from uploaded files); plotly.js is embedded once,
in the first chart, so the file opens with no network.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
import plotly.graph_objects as go

from analysis.present.glossary import HOW_TO_READ
from analysis.findings import wording


_STYLE = """
body{font-family:'Source Sans Pro',Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#262730}
h1{margin-bottom:.2em} .meta{color:#555;margin-bottom:1.5em} p.finding{margin:.3em 0}
table{border-collapse:collapse;margin:1em 0;font-size:14px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f4f6} footer{margin-top:3em;color:#777;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0} .card{border:1px solid #ddd;border-radius:6px;
padding:8px 12px;min-width:200px;flex:1} .card .label{color:#555;font-size:14px} .card .value{font-size:24px}
.card .detail{color:#666;font-size:13px}
"""


@dataclass
class Report:
    """Collects a page's content in order; :meth:`to_html` renders it."""

    title: str
    dataset: str
    selection: str
    treatments: int
    parts: list[tuple[str, object]] = field(default_factory=list)

    def add_heading(self, text: str) -> None:
        self.parts.append(("heading", text))

    def add_sentences(self, sentences: list[str]) -> None:
        self.parts.append(("sentences", list(sentences)))

    def add_table(self, frame: pd.DataFrame) -> None:
        self.parts.append(("table", frame.copy()))

    def add_metrics(self, metrics: list[tuple[str, str, str]]) -> None:
        """Metric cards: (label, value, detail) each."""
        self.parts.append(("metrics", list(metrics)))

    def add_reading(self, lines: list[str]) -> None:
        """The page's "How to read this": reading notes and term definitions, one plain sentence each."""
        self.parts.append(("reading", list(lines)))

    def add_figure(self, fig: go.Figure) -> None:
        """The figure as given, not a copy (copying two figures took a third of a cached page run): a page
        draws a figure once it is complete and does not change it afterwards."""
        self.parts.append(("figure", fig))

    def to_html(self) -> str:
        """The report as one HTML document (UTF-8), plotly.js inlined once."""
        esc = html.escape
        body = [f"<h1>{esc(self.title)}</h1>",
                f"<div class='meta'>Dataset: {esc(self.dataset)} · Selection: {esc(self.selection)} · "
                f"{self.treatments:,} treatments · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</div>"]
        plotly_included = False
        for kind, content in self.parts:
            if kind == "heading":
                body.append(f"<h2>{esc(str(content))}</h2>")
            elif kind == "sentences":
                body.extend(f"<p class='finding'>{esc(s)}</p>" for s in content)  # type: ignore[union-attr]
            elif kind == "metrics":
                cards = "".join(f"<div class='card'><div class='label'>{esc(label)}</div><div class='value'>"
                                f"{esc(value)}</div><div class='detail'>{esc(detail)}</div></div>"
                                for label, value, detail in content)  # type: ignore[union-attr]
                body.append(f"<div class='cards'>{cards}</div>")
            elif kind == "reading":
                body.append(f"<h2>{HOW_TO_READ}</h2>")
                body.extend(f"<p class='reading'>{esc(s)}</p>" for s in content)  # type: ignore[union-attr]
            elif kind == "table":
                body.append(_table_html(content))  # type: ignore[arg-type]
            elif kind == "figure":
                body.append(content.to_html(full_html=False, include_plotlyjs=not plotly_included,  # type: ignore[union-attr]
                                            config={"displaylogo": False}))
                plotly_included = True
        body.append("<footer>Laser-treatment outcomes dashboard. Rates show 95 % confidence intervals; groups "
                    "with fewer than 10 treatments are flagged as too small to conclude from.</footer>")
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                f"<title>{esc(self.title)}</title><style>{_STYLE}</style></head><body>"
                + "\n".join(body) + "</body></html>")


def _table_html(frame: pd.DataFrame) -> str:
    """A table as HTML (text escaped), whole numbers with thousands separators as on the pages."""
    counts = {c: wording.count for c in frame.columns
              if pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])}
    return frame.to_html(index=False, escape=True, border=0, na_rep="–", formatters=counts)
