"""The glossary and each page's "How to read this": plain definitions, on every page, out of the main text.

Issue #17: a first-time manager reads plain words in the page itself; the statistical names (the
test behind a p-value, the kind of interval) live in the glossary, the "How to read this" section
and tooltips only.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from analysis.present import glossary
from analysis.present.report import Report

from apphelpers import app_database, record_downloads
from testpaths import ROOT

ENTRY = "dashboard.py"
PAGES = (ENTRY, "pages/2_Downtime.py", "pages/3_Results.py", "pages/4_Skin_tone.py", "pages/5_Side_effects.py",
         "pages/6_Trends_and_clinics.py", "pages/7_Article_check.py", "pages/8_Data.py")
# Words a plain definition may use only when a glossary term of that name explains them.
DEFINED_ONLY = ("p-value", "confidence interval", "odds", "median", "control limit", "funnel", "trend test",
                "risk ratio", "risk difference", "significan", "power", "estimate", "correlation",
                "p-chart", "signal", "interval")
MAIN_TEXT_KINDS = ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                   "success")


# --- the glossary as data ---------------------------------------------------------------------------

def test_every_page_file_has_reading_notes():
    slugs = set()
    for page in PAGES:
        found = re.findall(r'ui\.finish\(view, "([\w-]+)"', (ROOT / page).read_text(encoding="utf-8"))
        assert found, f"{page} does not end with ui.finish(view, slug)"
        slugs.update(found)
    assert slugs <= set(glossary.PAGES), slugs - set(glossary.PAGES)
    for slug in slugs:
        reading = glossary.reading(slug)
        assert reading.notes and reading.terms, slug


def test_every_term_a_page_names_is_in_the_glossary():
    names = {t.name for t in glossary.TERMS}
    assert len(names) == len(glossary.TERMS), "a term is defined twice"
    for slug, reading in glossary.PAGES.items():
        assert set(reading.terms) <= names, (slug, set(reading.terms) - names)


@pytest.mark.parametrize("term", glossary.TERMS, ids=lambda t: t.name)
def test_definitions_use_plain_words(term):
    """No definition leans on a technical name, or on a statistical word the glossary does not define."""
    text = term.plain.lower()
    for name in sorted((t.name.lower() for t in glossary.TERMS), key=len, reverse=True):
        text = text.replace(name, " ")  # another term of the glossary may be used: it is defined there
    assert not [j for j in glossary.JARGON if j.lower() in text], term.plain
    undefined = [w for w in DEFINED_ONLY if w in text and not any(w in t.name.lower() for t in glossary.TERMS)]
    assert not undefined, (term.name, undefined)
    assert len(term.plain) < 500, f"{term.name}: keep a definition short"


def test_every_page_with_findings_names_its_families_of_comparisons():
    """Issue #15: each page's "How to read this" names its families and the method in plain words."""
    for slug in ("skin-tone", "side-effects", "trends"):
        families = glossary.PAGES[slug].families
        assert "family" in families and "Holm" in families and "after allowing for" in families, slug
    for slug in ("overview", "downtime", "results", "article-check"):
        assert glossary.PAGES[slug].families, slug
    assert "9 skin-type comparisons" in glossary.PAGES["skin-tone"].families
    assert "8 side effects" in glossary.PAGES["side-effects"].families   # (hyperpigmentation is judged on its own)
    lines = glossary.reading_lines(glossary.reading("skin-tone"))
    assert f"{glossary.FAMILIES} {glossary.PAGES['skin-tone'].families}" in lines


def test_trends_reading_says_what_the_monthly_and_funnel_findings_do():
    """Second reading (issue 15): "How to read this" said a month flagged on the p-chart but not on its twin "is
    explained by its patients", while the finding calls some such months "a borderline month rather than a clear
    signal"; and the twin no longer has run rules. Each verdict the findings give is named, in their words."""
    from datetime import date

    from analysis.findings import monitoring
    from test_casemix import busy_month_cells, records_from_cells

    explained = monitoring.monthly(records_from_cells(busy_month_cells())).findings
    borderline = monitoring.monthly(records_from_cells(
        [(f"2024-{m:02d}", 2, "face", 20, 14 if m == 12 else 6) for m in range(1, 13)]),  # as in test_casemix
        follow_up_until=date(2026, 1, 1)).findings
    assert any("the month's mix of patients can explain it" in f.sentence for f in explained)
    assert any("a borderline month rather than a clear signal" in f.sentence for f in borderline)
    text = " ".join(glossary.PAGES["trends"].notes)
    assert "explained by its patients when it would be flagged even by limits of the twin's kind" in text
    assert "borderline month rather than a clear signal" in text
    assert "is explained by its patients, and" not in text            # the old unconditional claim
    assert "runs of 7 months (shifts and trends) are judged on the p-chart alone" in text
    assert "in the other judged months" in text
    families = glossary.PAGES["trends"].families
    assert "one outside only the 95 % limits, or whose p-value does not stay below 0.05, is worth a look but not a " \
           "clear signal" in families and "runs of 7 (on the p-chart only)" in families
    funnel_term = next(t for t in glossary.TERMS if t.name == "Funnel plot").plain
    assert "worth a look, not yet a clear signal" in funnel_term


def test_the_terms_the_issue_asks_for_are_defined():
    names = {t.name.lower() for t in glossary.TERMS}
    for wanted in ("confidence interval", "p-value", "funnel plot", "control limits", "small group",
                   "risk difference", "risk ratio", "odds ratio", "median", "wilson interval", "trend test",
                   "adjusted odds ratio", "p-chart", "special-cause signal", "treatments needed",
                   "allowing for several comparisons"):
        assert wanted in names, wanted


@pytest.mark.parametrize("sentence,term", [
    ("Median downtime was 7 days after ablative treatment (95 % CI 6–8) vs 3 days (3–4) after non-ablative; "
     "typically 4 days longer for ablative (95 % CI 3–5 days; p < 0.001).", "p-value"),
    ("After ablative treatment, hyperpigmentation rises with darker skin type: from 3.6 % in type I to 40 % in "
     "type VI (trend test p < 0.001).", "Trend test"),
    ("In 2025-03, hyperpigmentation after ablative treatment was 30 % (9 of 30), above the control limits "
     "(2.0–25 %; average 13 %).", "Control limits"),
    ("In type II skin, ablative treatments were followed by hyperpigmentation in 4.0 % (95 % CI 2.7–5.9 %) vs "
     "0.86 % (0.37–2.0 %) for non-ablative: 3.1 percentage points more often after ablative (95 % CI +1.4 to +5.1 "
     "points; p = 0.001 after allowing for 9 skin-type comparisons).", "Allowing for several comparisons"),
])
def test_a_findings_tooltip_defines_the_terms_it_uses(sentence, term):
    tip = glossary.tooltip(sentence)
    assert tip and f"**{term}**" in tip
    assert not [j for j in glossary.JARGON if j.lower() in tip.lower()], "a tooltip on a finding is plain too"


def test_a_sentence_without_terms_has_no_tooltip():
    assert glossary.tooltip("No treatments in this selection.") is None


def test_the_report_has_the_pages_how_to_read_section():
    r = Report("Downtime", "Sample", "all records", 10)
    r.add_sentences(["A finding."])
    r.add_reading(glossary.reading_lines(glossary.reading("downtime", ("A note for <this> view.",))))
    out = r.to_html()
    assert f"<h2>{glossary.HOW_TO_READ}</h2>" in out
    assert "A note for &lt;this&gt; view." in out  # escaped like every other text
    assert "Hodges–Lehmann" in out and "Median: The middle value" in out


# --- every page -------------------------------------------------------------------------------------

@pytest.fixture
def app_db(tmp_path_factory, tmp_path, monkeypatch) -> str:
    return app_database(tmp_path_factory, tmp_path, monkeypatch)


def _walk(node, skip):
    for child in node.children.values():
        if isinstance(child, Block):
            if not skip(child):
                yield from _walk(child, skip)
        else:
            yield child


def _is_reading(block: Block) -> bool:
    return (block.type == "expander" and getattr(block, "label", "") == glossary.HOW_TO_READ) \
        or block.type == "popover"


def main_text(at: AppTest) -> list[str]:
    """What a user reads on the page, outside the glossary, "How to read this" and tooltips: headings,
    Markdown, captions, plain text, notices, metric cards and the charts' titles, axes and notes."""
    out: list[str] = []
    for area in (at.main, at.sidebar):
        for element in _walk(area, _is_reading):
            if element.type in MAIN_TEXT_KINDS or element.type == "alert":
                out.append(str(element.value))
            elif element.type == "metric":
                out.extend([element.label, str(element.value)])
            elif element.type == "plotly_chart":
                spec = element.proto.spec
                out.extend(json.loads(f'"{s}"') for s in re.findall(r'"text":\s*"((?:[^"\\]|\\.)*)"', spec))
    return out


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_how_to_read_this_in_plain_words(app_db, monkeypatch, page):
    fetch = record_downloads(monkeypatch)
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=180)
    if page != ENTRY:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # the page's own reading notes, at its foot
    readings = [e for e in at.main.expander if e.label == glossary.HOW_TO_READ]
    assert len(readings) == 1
    shown = [m.value for m in readings[0].markdown]
    slug = re.search(r'ui\.finish\(view, "([\w-]+)"', (ROOT / page).read_text(encoding="utf-8")).group(1)
    reading = glossary.reading(slug)
    assert shown[:len(reading.notes)] == list(reading.notes)
    families = [f"**{glossary.FAMILIES}** {reading.families}"] if reading.families else []
    assert shown[len(reading.notes):len(reading.notes) + len(families)] == families
    assert len(shown) == len(reading.notes) + len(families) + len(reading.terms)
    # the whole glossary, one click away in the sidebar
    popovers = [b for b in _walk_blocks(at.sidebar) if b.type == "popover"]
    assert len(popovers) == 1
    assert all(f"**{t.name}.**" in popovers[0].markdown[0].value for t in glossary.TERMS)
    # the main text speaks plainly: the statistical names are in the glossary and tooltips only
    text = main_text(at)
    assert text, "nothing read from the page"
    found = sorted({j for j in glossary.JARGON for t in text if j.lower() in t.lower()})
    assert not found, (found, [t for t in text if any(j.lower() in t.lower() for j in found)][:5])
    # and the page's report carries the same section
    report = fetch(at, "dl_report").decode("utf-8")
    assert f"<h2>{glossary.HOW_TO_READ}</h2>" in report
    assert all(_escaped(note) in report for note in reading.notes)


def _walk_blocks(node):
    for child in node.children.values():
        if isinstance(child, Block):
            yield child
            yield from _walk_blocks(child)


def _escaped(text: str) -> str:
    return html.escape(text)


def test_findings_carry_a_tooltip_naming_their_terms(app_db):
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=180)
    at.switch_page("pages/2_Downtime.py")
    at.run()
    assert not at.exception
    with_p = [t for t in at.main.text if re.search(r"\bp [=<]", t.value)]
    assert with_p, "the Downtime findings give a p-value"
    for t in with_p:
        assert "**p-value**" in t.proto.help
    # the method's name is in the tooltip of the sentence explaining the typical difference
    method = [t for t in at.main.text if t.value.startswith("“Typically")]
    assert method and "Hodges–Lehmann" in method[0].proto.help and "Mann-Whitney" in method[0].proto.help


def test_table_headers_standing_for_a_term_explain_it():
    helps = glossary.column_help(["Fitzpatrick skin type", "Ablative % (95 % CI)", "Risk ratio (95 % CI)", "Test",
                                  "p", "Note"])
    assert set(helps) == {"Ablative % (95 % CI)", "Risk ratio (95 % CI)", "Test", "p", "Note"}
    assert helps["Risk ratio (95 % CI)"].startswith("Risk ratio: One rate divided by the other")
    assert helps["Ablative % (95 % CI)"].startswith("Confidence interval:")
    assert "Fisher exact" in helps["Test"] and "p-value" in helps["Test"]


@pytest.mark.parametrize("k1,n1,k2,n2", [(30, 100, 10, 100), (12, 100, 10, 100), (3, 40, 0, 40), (1, 5, 0, 5)],
                         ids=["clear difference", "could be chance", "few events", "small groups"])
def test_findings_name_no_method_whatever_the_data(k1, n1, k2, n2):
    """Each branch of the rate and measurement sentences (the sample on the pages shows only some)."""
    from analysis.findings import compare, skin_tone
    from test_compare import cohort, make_records
    rows = [{"modality": "ablative", "fitzpatrick_type": 2 + i % 4, "downtime_days": 5 + i % 3 + (k1 > 20),
             "improvement_score": 2 + i % 3} for i in range(n1)] + \
           [{"modality": "non-ablative", "fitzpatrick_type": 2 + i % 4, "downtime_days": 5 + i % 3,
             "improvement_score": 2 + i % 2} for i in range(n2)]
    sentences = [f.sentence for f in skin_tone.skin_tone(cohort(k1, n1, k2, n2)).findings]
    measured = make_records(rows)
    sentences += [f.sentence for f in compare.downtime(measured).findings]
    sentences += [f.sentence for f in compare.improvement(measured).findings]
    assert sentences
    for s in sentences:
        assert not [j for j in glossary.JARGON if j.lower() in s.lower()], s
