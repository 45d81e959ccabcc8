"""Display helpers shared by the pages: charts, findings, tables, notices and exports.

Text that can contain user-supplied values (clinic, device, area, practitioner names) is shown
with ``st.text`` or in dataframes, never as Markdown or HTML. Everything a page shows through
these helpers is also collected for the page's downloadable HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.present import content, pdf, report, tables
from analysis.findings.compare import SMALL_N, Finding
from analysis.records.schema import MODALITIES
from analysis.present.export import records_csv, safe_csv
from analysis.records.store import StoreError
from analysis.present.glossary import column_help, reading_lines, tooltip
from ui.reading import how_to_read
from ui.compute import compute, follow_up_until
from ui.setup import View, get_store, share_link

_REPORT = "_report_parts"
_PDF = "_report_pdf"        # (what it shows, PDF bytes): the PDF made on demand for the view on screen
KEY_SHARE = "share_view"
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2},
                 "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def start_report(title: str, view: View) -> "PageSink":
    """Begin collecting this page's content for its HTML and PDF report (none without a dataset); returns where
    the page's builder (:mod:`analysis.present.content`) writes its content."""
    if view.dataset is None:   # the Data page of a user with no dataset yet: no report
        st.session_state.pop(_REPORT, None)
        return PageSink()
    st.session_state[_REPORT] = report.Report(title, view.dataset.name, view.filters.describe(),
                                              len(view.selection.outcomes), link=share_link(view))
    return PageSink()


def page_input(view: View) -> content.PageInput:
    """What a page's builder reads: the view's selection and filters, and its cached statistics."""
    return content.PageInput(view.selection, view.filters, follow_up_until(view),
                             lambda name, *extra: compute(view, name, *extra))


def _report() -> report.Report | None:
    return st.session_state.get(_REPORT)


def heading(text: str) -> None:
    """A section heading (constant text written by the page)."""
    st.subheader(text)
    if (r := _report()) is not None:
        r.add_heading(text)


def welcome(view: View) -> None:
    """What the dashboard is for and what to do next, while only the bundled sample is here; one line after."""
    try:
        sample, count = get_store(view.store_url).sample_id(), len(view.access.datasets())
    except StoreError:
        return
    if sample is not None and count == 1 and view.dataset.id == sample:
        st.info("**Welcome.** This dashboard compares ablative and non-ablative laser skin treatments on a clinic's "
                "own records: downtime, results and side effects — above all hyperpigmentation across skin types "
                "I–VI.\n\n**These are sample records**, made up so that you can try every page before importing "
                "anything.\n\n**Next:** 1. on the **Data** page, download the template (Excel or CSV) to see the "
                "columns; 2. import your clinic's records there (CSV files or Excel workbooks); 3. explore the pages "
                "in the sidebar and narrow the selection with its filters; 4. share a link: the address bar always "
                "opens the same view for a colleague.", icon=":material/waving_hand:")
    elif view.dataset.id == sample:
        st.caption("You are viewing the bundled sample records; choose one of your datasets in the sidebar.")
    else:
        st.caption("Ablative vs non-ablative treatment on your clinic's records; the address bar is always a link "
                   "to this view.")


def metrics(cards: Sequence[tuple[str, str, str]], per_row: int = 4, border: bool = False) -> None:
    """Metric cards, ``per_row`` to a row: (label, value, detail) each; the detail (may be empty) below the card."""
    for start in range(0, len(cards), per_row):
        row = cards[start:start + per_row]
        for col, (label, value, detail) in zip(st.columns(per_row), row):
            col.metric(label, value, border=border)
            if detail:
                col.caption(detail)
    if (r := _report()) is not None:
        r.add_metrics(list(cards), per_row)


def chart(fig: go.Figure, key: str) -> None:
    """A plotly chart with the PNG export button in its toolbar."""
    st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, width="stretch")
    if (r := _report()) is not None:
        r.add_figure(fig)


def caption(text: str) -> None:
    """A small note written by the page (Markdown: never user data)."""
    st.caption(text)
    if (r := _report()) is not None:
        r.add_caption(text)


def findings(items: Sequence[Finding], limit: int | None = None) -> None:
    """Findings as plain sentences; small-group ones marked; a tooltip defines the glossary terms each uses."""
    for f in list(items)[:limit]:
        icon = "⚠ " if f.small else "• "
        st.text(icon + f.sentence, width="stretch", help=tooltip(f.sentence))
    if (r := _report()) is not None:
        r.add_sentences([f.sentence for f in list(items)[:limit]])


_VERDICTS = {"supported": ("Supported", ":material/check_circle:", "green"),
             "not supported": ("Not supported", ":material/cancel:", "red"),
             "not enough data": ("Not enough data", ":material/help:", "gray")}


def verdict(value: str) -> None:
    """A claim's verdict as a coloured badge."""
    label, icon, colour = _VERDICTS[value]
    st.badge(label, icon=icon, color=colour)
    if (r := _report()) is not None:
        r.add_sentences([f"Verdict: {label}."])


def sentence(text: str, help: str | None = None) -> None:
    """One plain sentence (no Markdown: it may contain user-supplied names); ``help``, a tooltip written by the
    page (Markdown, never user data), may name the method behind it."""
    st.text(text, width="stretch", help=help)
    if (r := _report()) is not None:
        r.add_sentences([text])


def table(frame: pd.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A read-only table (values shown as text, never rendered as HTML); headers that stand for a glossary term
    explain it in a tooltip.

    Numbers show thousands separators; the first column (what each row is about) stays in view when the
    table is scrolled sideways — the columns that carry the answer come right after it (see ``tables``).
    """
    st.dataframe(frame, key=key, hide_index=True, width="stretch",
                 column_config=table_config(frame) | (column_config or {}))
    if (r := _report()) is not None:
        r.add_table(frame)


def table_config(frame: pd.DataFrame) -> dict:
    """How every table shows its columns: numbers with thousands separators, text as wide as its longest value,
    the first column pinned, and a tooltip on headers that stand for a glossary term."""
    helps = column_help(list(frame.columns))
    config: dict = {}
    for i, column in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        if numeric:
            config[column] = st.column_config.NumberColumn(format="localized", pinned=i == 0 or None,
                                                           help=helps.get(column))
        else:  # wide enough for its longest text (the grid sizes columns from the first rows only)
            config[column] = st.column_config.Column(pinned=i == 0 or None, help=helps.get(column),
                                                     width=tables.text_width(frame[column], column))
    return config


def empty_selection(view: View, minimum: int = 1) -> None:
    """Stop the page with an explanation when the selection has fewer than ``minimum`` treatments, and warn
    when either modality has fewer than ``SMALL_N`` (names from the data are shown as plain text only)."""
    out = view.selection.outcomes
    n = len(out)
    if n < minimum:
        if n == 0:
            st.info("No treatments match the filters. Widen the selection in the sidebar.")
        else:
            st.info(f"Only {n:,} treatment(s) match the filters: too few to show this page. "
                    "Widen the selection in the sidebar.")
        st.text(f"Filters: {view.filters.describe()}")
        st.stop()
    counts = {m: int((out["modality"] == m).sum()) for m in MODALITIES}
    present = [m for m in MODALITIES if counts[m]]
    if len(present) == 1:
        only = present[0]
        st.info(f"This selection holds only {only} treatments ({counts[only]:,}), so there is nothing to compare "
                f"them with: the numbers below describe {only} treatments alone. Widen the selection in the sidebar "
                "to compare ablative with non-ablative treatment.", icon="ℹ️")
    elif min(counts.values()) < SMALL_N:
        st.warning(f"Too few treatments to conclude from: {counts[MODALITIES[0]]:,} ablative and "
                   f"{counts[MODALITIES[1]]:,} non-ablative in this selection (at least {SMALL_N} of each are needed "
                   "for a comparison). The numbers below are shown, but do not act on them.", icon="⚠️")


class PageSink:
    """Where a page's builder (:mod:`analysis.present.content`) writes: each piece is drawn and added to the
    page's report."""

    heading = staticmethod(heading)
    findings = staticmethod(findings)
    chart = staticmethod(chart)
    table = staticmethod(table)
    sentence = staticmethod(sentence)
    caption = staticmethod(caption)
    metrics = staticmethod(metrics)
    verdict = staticmethod(verdict)


CSV_DIALECTS = {"comma": "Comma-separated (standard)", "semicolon": "Semicolons, decimal comma (European Excel)"}


def finish(view: View, slug: str, notes: tuple[str, ...] = ()) -> None:
    """End of every page: "How to read this" (the page's reading notes, plus ``notes`` for this view, written by
    the page and never holding user data, and the terms it uses) at its foot and in its report, then the share
    link and exports in the sidebar."""
    reading = how_to_read(slug, notes)
    if (r := _report()) is not None:
        r.add_reading(reading_lines(reading))
    if view.dataset is None:   # the Data page of a user with no dataset yet: nothing to share or download
        return
    sb = st.sidebar
    sb.divider()
    # Drawn only once opened: the code block's copy button loads a 1.5 MB script, which a page's first
    # drawing need not wait for (bench/share_link.py).
    share = sb.expander("Share this view", expanded=False, key=KEY_SHARE, on_change="rerun")
    if share.open:
        with share:
            st.caption("This link opens the same page, dataset and filters for a colleague.")
            st.code(share_link(view), language=None, wrap_lines=True)
    sb.markdown("**Download**")
    dialect = sb.radio("CSV for", list(CSV_DIALECTS), format_func=CSV_DIALECTS.get, key="dl_dialect",
                       persist_state="session",
                       help="Excel in most of Europe expects semicolons between columns and a decimal comma.")
    out = view.selection.outcomes
    sb.download_button(f"Treatments (CSV, {len(out):,} rows)", data=lambda: records_csv(out, dialect),
                       file_name=f"{slug}-treatments.csv", mime="text/csv", key="dl_treatments",
                       on_click="ignore", width="stretch")
    side = view.selection.side_effects
    sb.download_button(f"Side effects (CSV, {len(side):,} rows)", data=lambda: records_csv(side, dialect),
                       file_name=f"{slug}-side-effects.csv", mime="text/csv", key="dl_side_effects",
                       on_click="ignore", width="stretch")
    if (r := _report()) is not None:
        sb.download_button("This page as a report (HTML)", data=lambda: r.to_html().encode("utf-8"),
                           file_name=f"{slug}-report.html", mime="text/html", key="dl_report",
                           on_click="ignore", width="stretch",
                           help="A self-contained page with the charts and findings; works offline.")
        _pdf_download(r, slug, view)


def _pdf_download(r: report.Report, slug: str, view: View) -> None:
    """The page as a PDF, printed on demand (it takes a few seconds), then offered for download."""
    sb = st.sidebar
    if pdf.chromium() is None:
        sb.caption(pdf.MISSING)
        return
    shows = (slug, view.cache_key, r.link)
    if sb.button("Make a PDF of this page", key="pdf_make", icon=":material/picture_as_pdf:", width="stretch",
                 help="Printed with the findings, charts, tables and page numbers; the first page names the dataset, "
                      "the filters, the date and the share link."):
        with sb.spinner("Printing the PDF…"):
            try:
                st.session_state[_PDF] = (shows, pdf.reports_pdf([r]))
            except pdf.PdfUnavailable as exc:
                st.session_state.pop(_PDF, None)
                sb.error(str(exc))
    made = st.session_state.get(_PDF)
    if made is not None and made[0] == shows:
        sb.download_button("Download the PDF", data=made[1], file_name=f"{slug}-report.pdf", mime="application/pdf",
                           key="dl_pdf", on_click="ignore", width="stretch", icon=":material/download:")
