"""A self-contained HTML report of a page: headings, sentences, tables and charts, readable offline.

Every piece of text is HTML-escaped (names come from uploaded files); plotly.js is embedded once,
in the first chart, so the file opens with no network. Patient identifiers never reach a report: tables
lose their patient-code column (:data:`IDENTIFIER_COLUMNS`).

:func:`document` joins several pages' reports into one document (``python -m analysis report --page all``);
``for_print`` lays it out for paper (fixed-width static charts, page breaks, page numbers in the margin), as
:mod:`analysis.present.pdf` prints it.
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
.cards{display:grid;gap:12px;margin:1em 0} .card{box-sizing:border-box;min-width:0;border:1px solid #ddd;border-radius:6px;
padding:8px 12px} .card .label{color:#555;font-size:14px} .card .value{font-size:24px}
.card .detail{color:#666;font-size:13px} p.caption{color:#666;font-size:14px} .link{word-break:break-all}
"""

#: For paper: A4 with the page number at the foot of every page (CSS margin boxes, Chromium >= 131), charts
#: and table rows kept whole, each page of the dashboard on a new sheet.
_PRINT_STYLE = """
@page{size:A4;margin:14mm 12mm 16mm 12mm;@bottom-center{content:"Page " counter(page) " of " counter(pages);
font-family:Arial,sans-serif;font-size:9pt;color:#555}}
body{max-width:none;margin:0;padding:0;font-size:11pt} h1{font-size:20pt} h2{font-size:14pt;break-after:avoid}
section.page+section.page{break-before:page} .chart,tr,.card{break-inside:avoid} table{font-size:9pt}
.cards{gap:8px} .card .value{font-size:18pt} thead{display:table-header-group}
"""

#: Columns that identify a patient: dropped from every table of a report (the pages count patients, never name them).
IDENTIFIER_COLUMNS = ("patient_id", "Patient code")
#: Charts on paper: the width of an A4 page inside its margins (CSS pixels) and a height that keeps two per sheet.
PRINT_WIDTH, PRINT_HEIGHT = 700, 420


@dataclass
class Report:
    """Collects a page's content in order; :meth:`to_html` renders it."""

    title: str
    dataset: str
    selection: str
    treatments: int
    #: The share link that opens this view on the dashboard ("" when not known).
    link: str = ""
    parts: list[tuple[str, object]] = field(default_factory=list)

    def add_heading(self, text: str) -> None:
        self.parts.append(("heading", text))

    def add_sentences(self, sentences: list[str]) -> None:
        self.parts.append(("sentences", list(sentences)))

    def add_table(self, frame: pd.DataFrame) -> None:
        """A table, without any column that identifies a patient."""
        self.parts.append(("table", frame.drop(columns=[c for c in IDENTIFIER_COLUMNS if c in frame.columns])))

    def add_caption(self, text: str) -> None:
        self.parts.append(("caption", text))

    def add_metrics(self, metrics: list[tuple[str, str, str]], per_row: int = 4) -> None:
        """Metric cards: (label, value, detail) each, ``per_row`` to a row as on the page."""
        self.parts.append(("metrics", (list(metrics), per_row)))

    def add_reading(self, lines: list[str]) -> None:
        """The page's "How to read this": reading notes and term definitions, one plain sentence each."""
        self.parts.append(("reading", list(lines)))

    def add_figure(self, fig: go.Figure) -> None:
        """The figure as given, not a copy (copying two figures took a third of a cached page run): a page
        draws a figure once it is complete and does not change it afterwards."""
        self.parts.append(("figure", fig))

    def to_html(self, for_print: bool = False) -> str:
        """The report as one HTML document (UTF-8), plotly.js inlined once."""
        return document([self], for_print=for_print)

    def _body(self, include_plotlyjs: bool, for_print: bool, generated: datetime) -> list[str]:
        esc = html.escape
        body = [f"<h1>{esc(self.title)}</h1>",
                f"<div class='meta'>Dataset: {esc(self.dataset)} · Filters: {esc(self.selection)} · "
                f"{self.treatments:,} treatments · generated {generated:%Y-%m-%d %H:%M} UTC"
                + (f"<br>Share link: <a class='link' href='{esc(self.link)}'>{esc(self.link)}</a>" if self.link else "")
                + "</div>"]
        for kind, content in self.parts:
            if kind == "heading":
                body.append(f"<h2>{esc(str(content))}</h2>")
            elif kind == "sentences":
                body.extend(f"<p class='finding'>{esc(s)}</p>" for s in content)  # type: ignore[union-attr]
            elif kind == "caption":
                body.append(f"<p class='caption'>{esc(str(content))}</p>")
            elif kind == "metrics":
                cards, per_row = content  # type: ignore[misc]
                drawn = "".join(f"<div class='card'><div class='label'>{esc(label)}</div><div class='value'>"
                                f"{esc(value)}</div><div class='detail'>{esc(detail)}</div></div>"
                                for label, value, detail in cards)
                style = f"grid-template-columns:repeat({int(per_row)},1fr)"
                body.append(f"<div class='cards' style='{style}'>{drawn}</div>")
            elif kind == "reading":
                body.append(f"<h2>{HOW_TO_READ}</h2>")
                body.extend(f"<p class='reading'>{esc(s)}</p>" for s in content)  # type: ignore[union-attr]
            elif kind == "table":
                body.append(_table_html(content))  # type: ignore[arg-type]
            elif kind == "figure":
                body.append(_figure_html(content, include_plotlyjs, for_print))  # type: ignore[arg-type]
                include_plotlyjs = False
        return body


def document(reports: list[Report], for_print: bool = False) -> str:
    """One HTML document holding ``reports`` in order, each a section (a new sheet on paper)."""
    esc = html.escape
    generated = datetime.now(timezone.utc)
    sections, include = [], True
    for r in reports:
        body = r._body(include, for_print, generated)
        include = include and not any(kind == "figure" for kind, _ in r.parts)
        sections.append("<section class='page'>" + "\n".join(body) + "</section>")
    footer = ("<footer>Laser-treatment outcomes dashboard. Rates show 95 % confidence intervals; groups "
              "with fewer than 10 treatments are flagged as too small to conclude from.</footer>")
    title = reports[0].title if len(reports) == 1 else f"{reports[0].dataset}: every page"
    style = _STYLE + (_PRINT_STYLE if for_print else "")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{esc(title)}</title><style>{style}</style></head><body>"
            + "\n".join(sections) + footer + "</body></html>")


def _figure_html(fig: go.Figure, include_plotlyjs: bool, for_print: bool) -> str:
    """A chart: interactive on screen; on paper a static chart of a fixed size (drawn as SVG, so the PDF keeps
    it as vector graphics)."""
    if not for_print:
        return fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs, config={"displaylogo": False})
    width = PRINT_WIDTH if fig.layout.width is None else min(fig.layout.width, PRINT_WIDTH)
    height = fig.layout.height or PRINT_HEIGHT
    return ("<div class='chart'>" + fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs,
                                                config={"staticPlot": True, "displayModeBar": False},
                                                default_width=f"{width}px", default_height=f"{height}px")
            + "</div>")


def _table_html(frame: pd.DataFrame) -> str:
    """A table as HTML (text escaped), whole numbers with thousands separators as on the pages."""
    counts = {c: wording.count for c in frame.columns
              if pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])}
    return frame.to_html(index=False, escape=True, border=0, na_rep="–", formatters=counts)
