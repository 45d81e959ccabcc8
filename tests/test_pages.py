"""Streamlit AppTest of every page: share links, filters across pages, notices, small and empty selections, exports.

A share link to a page is served with ``dashboard.py`` as the entry script and the page as the page
run, so every page is opened here the same way: ``AppTest.from_file("dashboard.py")`` plus
``switch_page(page)`` *before* the first run, with the link's query parameters set first.

All tests share one module-scoped database holding five datasets (nothing here writes to it):

* the bundled sample (5,000 synthetic treatments), imported last so that it is the default;
* "Tiny two clinics": 8 treatments; Alpha Clinic has only ablative treatments with an Er:YAG laser,
  Beta Clinic only non-ablative ones with an Er:glass laser (so Alpha + Er:glass selects nothing);
* ``tests/corpus/formula_injection.csv``: text cells that a spreadsheet would run as formulas;
* "Markdown names": a clinic and a dataset name written in Markdown, as an uploaded file may have them;
* "Outcomes only": 40 treatments with just the required columns and no side-effect file, as a clinic
  that records nothing else would import them.

Expected numbers are counted with pandas straight from ``Store.load`` (not through the app's filters).
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import SAMPLE_NAME, SAMPLE_OUTCOMES, SAMPLE_SIDE_EFFECTS, Records, Store, new_dataset_id

from apphelpers import download_button, record_downloads
from testpaths import ROOT

ENTRY = "dashboard.py"
PAGES: dict[str, str] = {  # page file (relative to the entry script) -> its title
    ENTRY: "Overview",
    "pages/2_Downtime.py": "Downtime",
    "pages/3_Results.py": "Results",
    "pages/4_Skin_tone.py": "Skin tone & hyperpigmentation",
    "pages/5_Side_effects.py": "Side effects",
    "pages/6_Trends_and_clinics.py": "Trends & clinics",
    "pages/7_Article_check.py": "Article check",
}
OTHER_PAGES = [p for p in PAGES if p != ENTRY]

# Sidebar widget keys (ui/setup.py) and download button keys (ui/widgets.py).
K_DATASET, K_DATES, K_CLINICS = "f_dataset", "f_dates", "f_clinics"
K_DEVICES, K_AREAS, K_FITZ = "f_devices", "f_areas", "f_fitz"
KEY_SHARE = "share_view"       # ui.widgets.KEY_SHARE: the "Share this view" expander
DOWNLOADS = ("dl_treatments", "dl_side_effects", "dl_report")

ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
PATIENT_ID = re.compile(r"P\d{6}")
# How pages mark groups too small to conclude from: the ⚠ before a finding, the tables' Note column
# ("too few to conclude from"), a notice on the selection, a funnel unit "too small to judge", a verdict.
SMALL_FLAG = re.compile(r"^⚠|too few (treatments )?to conclude from|too small to judge|not enough data",
                        re.IGNORECASE)

# A share link on the sample: one clinic (its name has an '&'), types V-VI, the first half of 2025.
LINK_CLINIC = "Eastfield Dermatology & Laser"
LINK_FITZ = ["V", "VI"]
LINK_FROM, LINK_TO = date(2025, 1, 1), date(2025, 6, 30)

TINY_OUTCOMES = """\
treatment_id,patient_id,clinic,treatment_date,modality,device,treatment_area,fitzpatrick_type,downtime_days,improvement_score,satisfaction,practitioner
A1,P900001,Alpha Clinic,2024-03-05,ablative,Er:YAG 2940 nm,face,2,7,3,4,Dr One
A2,P900002,Alpha Clinic,2024-04-05,ablative,Er:YAG 2940 nm,face,3,8,4,5,Dr One
A3,P900003,Alpha Clinic,2024-05-05,ablative,Er:YAG 2940 nm,face,2,6,3,4,Dr One
A4,P900004,Alpha Clinic,2024-06-05,ablative,Er:YAG 2940 nm,face,3,9,2,3,Dr One
B1,P900005,Beta Clinic,2024-03-06,non-ablative,Er:glass 1550 nm,neck,2,2,1,3,Dr Two
B2,P900006,Beta Clinic,2024-04-06,non-ablative,Er:glass 1550 nm,neck,3,1,2,4,Dr Two
B3,P900007,Beta Clinic,2024-05-06,non-ablative,Er:glass 1550 nm,neck,2,2,1,3,Dr Two
B4,P900008,Beta Clinic,2024-06-06,non-ablative,Er:glass 1550 nm,neck,3,3,2,4,Dr Two
"""
TINY_SIDE_EFFECTS = """\
treatment_id,effect,severity,onset_day,resolved_day
A1,hyperpigmentation,mild,14,60
A2,erythema,moderate,0,10
B1,erythema,mild,0,2
"""

MD_CLINIC = "[Pay here](https://example.invalid/pay)"
MD_DATASET_NAME = "Q1 export ![pixel](https://example.invalid/p.png)"
MD_OUTCOMES = f"""\
treatment_id,clinic,treatment_date,modality,device,treatment_area,fitzpatrick_type,downtime_days
M1,{MD_CLINIC},2024-02-01,ablative,Er:YAG 2940 nm,face,3,6
M2,Plain Clinic,2024-02-02,non-ablative,Er:glass 1550 nm,face,3,2
"""

BARE_OUTCOMES = "treatment_id,treatment_date,modality,fitzpatrick_type\n" + "".join(
    f"X{i:02d},2024-{1 + i % 6:02d}-{10 + i % 9},{'ablative' if i % 2 else 'non-ablative'},{1 + i % 6}\n"
    for i in range(40))


@dataclass(frozen=True)
class AppDb:
    url: str
    sample: str    # dataset ids
    tiny: str
    formula: str
    markdown: str
    bare: str


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def db(tmp_path_factory) -> AppDb:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'app.db'}"
    store = Store(url)
    tiny = store.import_dataset(import_files(SourceFile("tiny_outcomes.csv", TINY_OUTCOMES.encode()),
                                             SourceFile("tiny_side_effects.csv", TINY_SIDE_EFFECTS.encode())),
                                "Tiny two clinics")
    corpus = ROOT / "tests" / "corpus"
    formula = store.import_dataset(import_files(SourceFile.from_path(corpus / "formula_injection.csv")),
                                   "Formula injection")
    markdown = store.import_dataset(import_files(SourceFile("markdown.csv", MD_OUTCOMES.encode())), MD_DATASET_NAME)
    bare = store.import_dataset(import_files(SourceFile("outcomes_only.csv", BARE_OUTCOMES.encode())), "Outcomes only")
    sample = store.import_dataset(import_files(SourceFile.from_path(SAMPLE_OUTCOMES),
                                               SourceFile.from_path(SAMPLE_SIDE_EFFECTS)), SAMPLE_NAME)
    store.engine.dispose()
    return AppDb(url, sample.id, tiny.id, formula.id, markdown.id, bare.id)


@pytest.fixture(autouse=True)
def app_env(db, monkeypatch) -> None:
    monkeypatch.setenv("LASERDASH_DB_URL", db.url)


@pytest.fixture(scope="module")
def sample(db) -> Records:
    store = Store(db.url)
    records = store.load(db.sample)
    store.engine.dispose()
    return records


@pytest.fixture
def downloads(monkeypatch):
    """``fetch(at, key) -> bytes``: what a click on the download button ``key`` would download."""
    return record_downloads(monkeypatch)


# --- helpers --------------------------------------------------------------------------------------

def open_page(page: str, query: dict[str, str | list[str]] | None = None) -> AppTest:
    """Open ``page`` as a fresh session would from a link carrying ``query``."""
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=120)
    if page != ENTRY:
        at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def assert_renders(at: AppTest, page: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == [PAGES[page]]


def url(at: AppTest) -> dict[str, list[str]]:
    """The address bar's query as the app left it, every parameter as a list."""
    return {k: [v] if isinstance(v, str) else list(v) for k, v in at.query_params.items()}


def widgets(at: AppTest) -> dict[str, object]:
    return {"dataset": at.selectbox(key=K_DATASET).value, "dates": tuple(at.date_input(key=K_DATES).value),
            "clinic": at.multiselect(key=K_CLINICS).value, "device": at.multiselect(key=K_DEVICES).value,
            "area": at.multiselect(key=K_AREAS).value, "fitz": at.multiselect(key=K_FITZ).value}


def exported_rows(at: AppTest) -> int:
    """Treatments in the selection the script used, from the label 'Treatments (CSV, 1,234 rows)'."""
    label = download_button(at, "dl_treatments").proto.label
    match = re.search(r"([\d,]+) rows?", label)
    assert match, label
    return int(match.group(1).replace(",", ""))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def visible_text(at: AppTest) -> list[str]:
    """Every string shown in the main area, table cells included."""
    out: list[str] = []
    for element in at.main:
        value = getattr(element, "value", None)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, pd.DataFrame):
            out.extend(str(v) for v in value.to_numpy().ravel())
    return out


def markdown_shown(at: AppTest) -> list[str]:
    """Every string the page hands to an element that renders Markdown (not st.text, not tables)."""
    out = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                                "success") for e in getattr(at, kind)]
    return out + [m.label for m in at.metric]


def small_flags(at: AppTest) -> list[str]:
    """The marks a page puts on groups too small to conclude from."""
    return [t for t in visible_text(at) if SMALL_FLAG.search(t)]


def matching(outcomes: pd.DataFrame, *, start: date | None = None, end: date | None = None,
             clinics=(), devices=(), areas=(), fitz=()) -> pd.DataFrame:
    """The treatments a selection should hold, filtered with pandas alone."""
    keep = pd.Series(True, index=outcomes.index)
    if start:
        keep &= outcomes["treatment_date"] >= pd.Timestamp(start)
    if end:
        keep &= outcomes["treatment_date"] <= pd.Timestamp(end)
    for column, values in (("clinic", clinics), ("device", devices), ("treatment_area", areas)):
        if values:
            keep &= outcomes[column].isin(list(values))
    if fitz:
        keep &= outcomes["fitzpatrick_type"].isin([ROMAN[f] for f in fitz])
    return outcomes[keep]


def link(db: AppDb) -> dict[str, str | list[str]]:
    return {"dataset": db.sample, "clinic": LINK_CLINIC, "fitz": LINK_FITZ,
            "from": LINK_FROM.isoformat(), "to": LINK_TO.isoformat()}


def link_selection(sample: Records) -> pd.DataFrame:
    return matching(sample.outcomes, start=LINK_FROM, end=LINK_TO, clinics=[LINK_CLINIC], fitz=LINK_FITZ)


def span(outcomes: pd.DataFrame) -> tuple[date, date]:
    return outcomes["treatment_date"].min().date(), outcomes["treatment_date"].max().date()


# --- 1. every page opens from a link ---------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_page_opened_directly_renders_on_the_sample(db, sample, page):
    at = open_page(page, {"dataset": db.sample})
    assert_renders(at, page)
    assert not at.warning
    assert exported_rows(at) == len(sample.outcomes)
    assert url(at) == {"dataset": [db.sample]}


def test_data_page_opened_from_a_share_link_keeps_the_view(db):
    """The Data page is a page like the others: opened from a link it renders and keeps the filters."""
    at = open_page("pages/8_Data.py", link(db))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Data"]
    assert url(at) == {k: v if isinstance(v, list) else [v] for k, v in link(db).items()}


def test_page_opened_without_any_link_shows_the_newest_dataset(db):
    at = open_page(ENTRY)
    assert_renders(at, ENTRY)
    assert widgets(at)["dataset"] == db.sample
    assert url(at) == {"dataset": [db.sample]}


# --- 2. filters set on the Overview follow to every page -------------------------------------------

@pytest.mark.parametrize("page", OTHER_PAGES)
def test_filters_set_on_the_overview_are_kept_on_another_page(db, sample, page):
    at = open_page(ENTRY)
    at.multiselect(key=K_CLINICS).set_value([LINK_CLINIC])
    at.multiselect(key=K_FITZ).set_value(LINK_FITZ)
    at.date_input(key=K_DATES).set_value((LINK_FROM, LINK_TO)).run()
    expected = len(link_selection(sample))
    assert metric(at, "Treatments") == f"{expected:,}"

    at.switch_page(page).run()
    assert_renders(at, page)
    assert widgets(at) == {"dataset": db.sample, "dates": (LINK_FROM, LINK_TO), "clinic": [LINK_CLINIC],
                           "device": [], "area": [], "fitz": LINK_FITZ}
    assert url(at) == {"dataset": [db.sample], "from": ["2025-01-01"], "to": ["2025-06-30"],
                       "clinic": [LINK_CLINIC], "fitz": LINK_FITZ}
    assert exported_rows(at) == expected   # the page's script used the filters on its first run

    at.multiselect(key=K_AREAS).set_value(["face"]).run()   # a filter added on that page...
    at.switch_page(ENTRY).run()                              # ...is kept on the way back, with the others
    narrower = matching(sample.outcomes, start=LINK_FROM, end=LINK_TO, clinics=[LINK_CLINIC], fitz=LINK_FITZ,
                        areas=["face"])
    assert metric(at, "Treatments") == f"{len(narrower):,}"
    assert url(at) == {"dataset": [db.sample], "from": ["2025-01-01"], "to": ["2025-06-30"],
                       "clinic": [LINK_CLINIC], "area": ["face"], "fitz": LINK_FITZ}


# --- 3. each filter through its widget ---------------------------------------------------------------

WIDGET_FILTERS = {
    # name: (widget kind, key, value set, expected URL parameters besides the dataset, pandas filter)
    "dates": ("date_input", K_DATES, (LINK_FROM, LINK_TO),
              {"from": ["2025-01-01"], "to": ["2025-06-30"]}, {"start": LINK_FROM, "end": LINK_TO}),
    "clinic": ("multiselect", K_CLINICS, [LINK_CLINIC], {"clinic": [LINK_CLINIC]}, {"clinics": [LINK_CLINIC]}),
    "device": ("multiselect", K_DEVICES, ["Er:YAG 2940 nm"], {"device": ["Er:YAG 2940 nm"]},
               {"devices": ["Er:YAG 2940 nm"]}),
    "area": ("multiselect", K_AREAS, ["neck"], {"area": ["neck"]}, {"areas": ["neck"]}),
    "fitz": ("multiselect", K_FITZ, ["I", "VI"], {"fitz": ["I", "VI"]}, {"fitz": ["I", "VI"]}),
}


@pytest.mark.parametrize("name", WIDGET_FILTERS)
@pytest.mark.parametrize("page", PAGES)
def test_each_filter_set_through_its_widget_reaches_the_url(db, sample, page, name):
    kind, key, value, params, pandas_filter = WIDGET_FILTERS[name]
    at = open_page(page, {"dataset": db.sample})
    getattr(at, kind)(key=key).set_value(value).run()
    assert_renders(at, page)
    assert url(at) == {"dataset": [db.sample], **params}
    assert exported_rows(at) == len(matching(sample.outcomes, **pandas_filter))


@pytest.mark.parametrize("page", PAGES)
def test_dataset_picked_through_its_widget_reaches_the_url(db, page):
    at = open_page(page, {"dataset": db.sample})
    at.selectbox(key=K_DATASET).set_value(db.tiny).run()
    assert_renders(at, page)
    assert url(at) == {"dataset": [db.tiny]}
    assert exported_rows(at) == 8


def test_half_picked_date_range_filters_from_that_date_on(db, sample):
    at = open_page(ENTRY, {"dataset": db.sample})
    at.date_input(key=K_DATES).set_value((LINK_TO,)).run()
    assert_renders(at, ENTRY)
    assert url(at) == {"dataset": [db.sample], "from": ["2025-06-30"]}
    assert metric(at, "Treatments") == f"{len(matching(sample.outcomes, start=LINK_TO)):,}"


def test_cleared_date_range_means_all_dates(db, sample):
    at = open_page(ENTRY, {"dataset": db.sample, "from": "2025-01-01"})
    at.date_input(key=K_DATES).set_value(()).run()
    assert_renders(at, ENTRY)
    assert url(at) == {"dataset": [db.sample]}
    assert metric(at, "Treatments") == f"{len(sample.outcomes):,}"
    at.switch_page("pages/2_Downtime.py").run()
    assert widgets(at)["dates"] == span(sample.outcomes)


# --- 4. a share link seeds the widgets and the numbers -------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_share_link_seeds_widgets_and_selection(db, sample, page):
    at = open_page(page, link(db))
    assert_renders(at, page)
    assert not at.warning
    assert widgets(at) == {"dataset": db.sample, "dates": (LINK_FROM, LINK_TO), "clinic": [LINK_CLINIC],
                           "device": [], "area": [], "fitz": LINK_FITZ}
    assert url(at) == {"dataset": [db.sample], "from": ["2025-01-01"], "to": ["2025-06-30"],
                       "clinic": [LINK_CLINIC], "fitz": LINK_FITZ}
    assert exported_rows(at) == len(link_selection(sample))


def test_share_link_overview_counts_match_the_stored_records(db, sample):
    at = open_page(ENTRY, link(db))
    chosen = link_selection(sample)
    assert len(chosen) > 50
    assert metric(at, "Treatments") == f"{len(chosen):,}"
    assert metric(at, "Patients") == f"{chosen['patient_id'].nunique():,}"
    assert metric(at, "Clinics") == "1"


def test_share_link_skin_tone_table_matches_the_stored_records(db, sample):
    at = open_page("pages/4_Skin_tone.py", link(db))
    tables = [df.value for df in at.dataframe if "Fitzpatrick skin type" in df.value.columns]
    assert len(tables) == 1
    table = tables[0]
    chosen = link_selection(sample)
    hyper = sample.side_effects.loc[sample.side_effects["effect"] == "hyperpigmentation", "treatment_id"]
    chosen = chosen.assign(hyper=chosen["treatment_id"].isin(hyper))
    by_cell = chosen.groupby(["fitzpatrick_type", "modality"], observed=True)["hyper"].agg(["size", "sum"])
    assert len(table) == len(LINK_FITZ)
    for row in table.to_dict("records"):
        roman = re.search(r"\b(I|II|III|IV|V|VI)\b", str(row["Fitzpatrick skin type"])).group(1)
        for modality, prefix in (("ablative", "Ablative"), ("non-ablative", "Non-ablative")):
            n, events = by_cell.loc[(ROMAN[roman], modality)]
            assert row[f"{prefix} n"] == n
            shown_percent = float(re.match(r"[\d.]+", row[f"{prefix} % (95 % CI)"]).group())
            assert shown_percent == pytest.approx(100 * events / n, abs=0.5)   # shown to 2 significant digits


def test_skin_tone_page_says_whether_the_gap_changes_with_skin_type(db, sample):
    """Issue 15: the pooled odds ratio beside the adjusted one, the tests of interaction in a table, and the
    sentence on the gap among the first findings, in plain words."""
    from analysis.findings.skin_tone import skin_tone

    at = open_page("pages/4_Skin_tone.py", {"dataset": db.sample})
    tone = skin_tone(sample)
    shown = [t.value.removeprefix("• ") for t in at.text]
    said = tone.findings_in("modification")[0].sentence
    assert said in shown and shown.index(said) < shown.index(tone.findings_in("trend")[0].sentence)
    table = next(df.value for df in at.dataframe if "Odds ratio or test" in df.value.columns)
    rows = dict(zip(table["Odds ratio or test"], table["Odds ratio, ablative vs non-ablative (95 % CI)"]))
    pooled = tone.mantel_haenszel
    assert rows["Odds ratio pooled over skin types"] == f"{pooled.odds_ratio:.2f} ({pooled.low:.2f}–{pooled.high:.2f})"
    assert rows["Odds ratio taking skin type and treatment area into account"].startswith(
        f"{tone.adjusted.odds_ratio:.2f} (")
    p_values = dict(zip(table["Odds ratio or test"], table["p"]))
    assert p_values["Does the gap differ between skin types? (decides the sentences)"] == "0.24"   # Breslow-Day
    assert p_values["The same, checked another way (shown only)"] == "0.26"                                     # factor test


def test_share_link_ignores_repeated_values(db):
    at = open_page(ENTRY, {"dataset": db.sample, "clinic": [LINK_CLINIC, LINK_CLINIC], "fitz": ["VI", "V", "VI"]})
    assert_renders(at, ENTRY)
    assert not at.warning
    assert url(at) == {"dataset": [db.sample], "clinic": [LINK_CLINIC], "fitz": ["V", "VI"]}


# --- 5. broken links open with a notice and the defaults ------------------------------------------

BAD_LINKS = {
    # name: (query parameters besides the sample's dataset id, raw text that must not be echoed)
    "unknown dataset id": ({"dataset": "dUNKNOWN_DATASET_ID_xyz"}, "dUNKNOWN_DATASET_ID_xyz"),  # well-formed
    "malformed dataset id": ({"dataset": "<script>alert('ds')</script>"}, "<script>"),
    "fitzpatrick VII": ({"fitz": "VII"}, "VII"),
    "fitzpatrick garbage": ({"fitz": ["V", "<b>7</b>"]}, "<b>"),
    "from garbage": ({"from": "garbage-date"}, "garbage-date"),
    "to garbage": ({"to": "<script>alert('to')</script>"}, "<script>"),
    "unknown clinic": ({"clinic": "Clinic That Does Not Exist"}, "Clinic That Does Not Exist"),
    "script in clinic": ({"clinic": "<script>alert('clinic')</script>"}, "<script>"),
    "script in device": ({"device": "<img src=x onerror=alert(1)>"}, "<img"),
    "unknown area": ({"area": "elbow-secret-area"}, "elbow-secret-area"),
    "to before from": ({"from": "2025-06-30", "to": "2025-01-01"}, "2025-01-01"),
}


@pytest.mark.parametrize("name", BAD_LINKS)
def test_broken_link_opens_with_a_notice_and_defaults(db, sample, name):
    bad, raw = BAD_LINKS[name]
    at = open_page(ENTRY, {"dataset": db.sample, **bad})
    assert_renders(at, ENTRY)
    notices = [w.value for w in at.warning]
    assert notices, "a notice says what was left out"
    assert not any(raw in n for n in notices), notices
    kept_fitz = ["V"] if name == "fitzpatrick garbage" else []
    assert widgets(at) == {"dataset": db.sample, "dates": span(sample.outcomes), "clinic": [], "device": [],
                           "area": [], "fitz": kept_fitz}
    assert url(at) == {"dataset": [db.sample], **({"fitz": kept_fitz} if kept_fitz else {})}
    assert raw not in str(at.query_params)


@pytest.mark.parametrize("page", PAGES)
def test_broken_link_on_every_page_keeps_the_good_values(db, sample, page):
    query = {**link(db), "clinic": [LINK_CLINIC, "<script>x</script>"], "fitz": [*LINK_FITZ, "VII"],
             "device": "Unknown laser", "area": "Secret area"}
    at = open_page(page, query)
    assert_renders(at, page)
    notices = " ".join(w.value for w in at.warning)
    assert len(at.warning) >= 4   # clinic, Fitzpatrick, device and area each get a notice
    for raw in ("<script>", "VII", "Unknown laser", "Secret area"):
        assert raw not in notices
    assert url(at) == {"dataset": [db.sample], "from": ["2025-01-01"], "to": ["2025-06-30"],
                       "clinic": [LINK_CLINIC], "fitz": LINK_FITZ}
    assert exported_rows(at) == len(link_selection(sample))


def test_notice_is_shown_once_and_not_after_the_next_change(db):
    at = open_page(ENTRY, {"dataset": db.sample, "fitz": "VII"})
    assert at.warning
    at.multiselect(key=K_AREAS).set_value(["face"]).run()
    assert not at.warning
    assert url(at) == {"dataset": [db.sample], "area": ["face"]}


def test_link_with_a_fitzpatrick_type_the_dataset_lacks_gets_a_notice(db):
    """Regression: the type used to be dropped silently (the widget discarded it) and all types were shown."""
    at = open_page(ENTRY, {"dataset": db.tiny, "fitz": ["V", "II"]})   # the tiny dataset has types II and III
    assert_renders(at, ENTRY)
    assert at.warning
    assert widgets(at)["fitz"] == ["II"]
    assert url(at) == {"dataset": [db.tiny], "fitz": ["II"]}
    assert exported_rows(at) == 4


def test_same_fitzpatrick_type_written_two_ways_gives_no_notice(db):
    """Regression: fitz=V&fitz=5 used to be told 'types other than I–VI' (distinct types vs distinct strings)."""
    at = open_page(ENTRY, {"dataset": db.sample, "fitz": ["V", "5"]})
    assert_renders(at, ENTRY)
    assert url(at) == {"dataset": [db.sample], "fitz": ["V"]}
    assert not at.warning, [w.value for w in at.warning]


@pytest.mark.parametrize("dates", [{"from": "2030-01-01"}, {"to": "2020-01-01"}],
                         ids=["from-after-last", "to-before-first"])
def test_link_with_dates_outside_the_dataset_gets_a_notice_and_a_valid_range(db, sample, dates):
    """Regression: no notice, and the date widget was seeded with a range ending before it starts."""
    at = open_page(ENTRY, {"dataset": db.sample, **dates})
    assert_renders(at, ENTRY)
    first, last = span(sample.outcomes)
    start, end = widgets(at)["dates"]
    assert first <= start <= end <= last, (start, end)
    assert at.warning


# --- 6. an empty selection ----------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_empty_selection_ends_with_an_explanation(db, page):
    at = open_page(page, {"dataset": db.tiny})
    at.multiselect(key=K_CLINICS).set_value(["Alpha Clinic"])      # only ablative, Er:YAG
    at.multiselect(key=K_DEVICES).set_value(["Er:glass 1550 nm"]).run()
    assert_renders(at, page)
    infos = [i.value for i in at.info]
    assert len(infos) == 1 and "No treatments match" in infos[0]
    shown = " ".join(visible_text(at))           # the explanation names the filters
    assert "Alpha Clinic" in shown and "Er:glass 1550 nm" in shown
    assert not at.get("plotly_chart")
    assert not at.metric and not at.dataframe
    assert url(at) == {"dataset": [db.tiny], "clinic": ["Alpha Clinic"], "device": ["Er:glass 1550 nm"]}


@pytest.mark.parametrize("page", PAGES)
def test_empty_selection_from_a_link_ends_with_an_explanation(db, page):
    at = open_page(page, {"dataset": db.tiny, "clinic": "Alpha Clinic", "device": "Er:glass 1550 nm"})
    assert_renders(at, page)
    assert any("No treatments match" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    assert widgets(at)["clinic"] == ["Alpha Clinic"] and widgets(at)["device"] == ["Er:glass 1550 nm"]


def test_names_from_the_data_are_not_rendered_as_markdown_on_the_overview(db):
    """Regression: the Overview caption showed the dataset name and the selected clinic as Markdown."""
    at = open_page(ENTRY, {"dataset": db.markdown, "clinic": MD_CLINIC})
    assert_renders(at, ENTRY)
    assert exported_rows(at) == 1
    shown = markdown_shown(at)
    assert not any(MD_CLINIC in t or MD_DATASET_NAME in t for t in shown), shown


def test_names_from_the_data_are_not_rendered_as_markdown_in_the_empty_notice(db):
    """Regression: the empty-selection st.info repeated the filters (clinic names) as Markdown."""
    at = open_page("pages/2_Downtime.py", {"dataset": db.markdown, "clinic": MD_CLINIC, "device": "Er:glass 1550 nm"})
    assert_renders(at, "pages/2_Downtime.py")
    assert any("No treatments match" in i.value for i in at.info)
    shown = markdown_shown(at)
    assert not any(MD_CLINIC in t for t in shown), shown


# --- 7. a tiny selection ------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_tiny_selection_is_flagged_as_too_small(db, page):
    """Regression for the Overview and Trends pages, which showed 4-vs-4 results with no mark at all."""
    at = open_page(page, {"dataset": db.tiny})
    assert_renders(at, page)
    assert exported_rows(at) == 8
    assert small_flags(at), visible_text(at)


@pytest.mark.parametrize("page", PAGES)
def test_tiny_selection_of_one_modality_renders(db, page):
    at = open_page(page, {"dataset": db.tiny, "clinic": "Alpha Clinic"})
    assert_renders(at, page)
    assert exported_rows(at) == 4


# --- measures or side effects that the dataset does not record --------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_measures_not_recorded_give_no_empty_chart_or_table(db, page):
    """Regression: Downtime, Results, Skin tone and Trends drew empty charts and tables for such a dataset."""
    at = open_page(page, {"dataset": db.bare})
    assert_renders(at, page)
    empty_charts = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text")
                    for c in at.get("plotly_chart") if not json.loads(c.proto.spec)["data"]]
    assert not empty_charts
    assert not [df for df in at.dataframe if df.value.empty]


@pytest.mark.parametrize("page", [ENTRY, "pages/4_Skin_tone.py"])
def test_side_effects_not_recorded_are_not_reported_as_none(db, page):
    """Regression: with no side-effect records imported, hyperpigmentation was reported as 0 %."""
    at = open_page(page, {"dataset": db.bare})
    assert_renders(at, page)
    cards = {m.label: m.value for m in at.metric}
    assert cards.get("Hyperpigmentation · ablative") != "0 %"
    claims = [t for t in visible_text(at) if re.search(r"No hyperpigmentation followed|hyperpigmentation in 0 %", t)]
    assert not claims, claims


def test_overview_says_not_recorded_for_clinics_like_for_patients(db):
    at = open_page(ENTRY, {"dataset": db.bare})
    assert_renders(at, ENTRY)
    assert metric(at, "Patients") == "not recorded"
    assert metric(at, "Clinics") == "not recorded"


# --- 8. the share link in the sidebar -----------------------------------------------------------

def share_codes(at: AppTest) -> list[str]:
    """Open "Share this view" (its link is drawn only once it is opened) and return the code blocks in it."""
    at.session_state[KEY_SHARE] = True
    at.run()
    return [c.value for c in at.sidebar.code]


@pytest.mark.parametrize("page", PAGES)
def test_share_block_holds_dataset_and_filters_and_no_patient_id(db, page):
    at = open_page(page, link(db))
    assert [c.value for c in at.sidebar.code] == []      # closed: not drawn
    codes = share_codes(at)
    assert len(codes) == 1
    share = codes[0]
    for part in (f"dataset={db.sample}", "clinic=Eastfield+Dermatology+%26+Laser", "fitz=V", "fitz=VI",
                 "from=2025-01-01", "to=2025-06-30"):
        assert part in share, share
    assert not PATIENT_ID.search(share)
    assert not PATIENT_ID.search(str(at.query_params))


def test_share_link_starts_with_the_page_address(db):
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=120)
    at.switch_page("pages/2_Downtime.py")
    at.context = {"url": "http://localhost:8501/Downtime"}
    at.query_params["dataset"] = db.sample
    at.run()
    assert share_codes(at)[0] == f"http://localhost:8501/Downtime?dataset={db.sample}"


def test_no_patient_id_reaches_the_url_after_filtering_and_switching(db):
    at = open_page(ENTRY, {"dataset": db.tiny})
    at.multiselect(key=K_CLINICS).set_value(["Beta Clinic"]).run()
    at.switch_page("pages/2_Downtime.py").run()
    assert_renders(at, "pages/2_Downtime.py")
    assert not PATIENT_ID.search(str(at.query_params))
    assert not PATIENT_ID.search(share_codes(at)[0])


# --- 9. exports ---------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_sidebar_has_the_three_downloads(db, page):
    at = open_page(page, link(db))
    labels = {b.key: b.proto.label for b in at.sidebar.get("download_button")}
    assert set(DOWNLOADS) <= set(labels), labels
    assert labels["dl_treatments"].startswith("Treatments (CSV")
    assert labels["dl_side_effects"].startswith("Side effects (CSV")
    assert "HTML" in labels["dl_report"]


def test_treatments_csv_holds_exactly_the_selection(db, sample, downloads):
    at = open_page(ENTRY, link(db))
    text = downloads(at, "dl_treatments").decode("utf-8-sig")
    assert text.startswith("treatment_id,")
    rows = text.strip().splitlines()[1:]
    chosen = link_selection(sample)
    assert len(rows) == len(chosen)
    assert {r.split(",", 1)[0] for r in rows} == set(chosen["treatment_id"])
    side = downloads(at, "dl_side_effects").decode("utf-8-sig")
    assert side.startswith("treatment_id,effect")
    expected_side = sample.side_effects["treatment_id"].isin(chosen["treatment_id"]).sum()
    assert len(side.strip().splitlines()) - 1 == expected_side


@pytest.mark.parametrize("page", PAGES)
def test_downloads_neutralise_formulas_and_escape_html(db, page, downloads):
    at = open_page(page, {"dataset": db.formula})
    assert_renders(at, page)
    treatments = downloads(at, "dl_treatments").decode("utf-8-sig")
    assert treatments.startswith("treatment_id,")
    frame = pd.read_csv(io.StringIO(treatments), dtype=str, keep_default_na=False)
    assert set(frame["clinic"]) == {"'=HYPERLINK(\"http://x\")", "<script>alert(1)</script>"}
    assert set(frame["practitioner"]) == {"'@SUM(A1)", "'-2+3"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in frame.to_numpy().ravel())
    assert downloads(at, "dl_side_effects").decode("utf-8-sig").startswith("treatment_id,effect")
    report = downloads(at, "dl_report").decode("utf-8")
    assert report.lstrip().lower().startswith("<!doctype html")
    assert "<script>alert(1)</script>" not in report


@pytest.mark.parametrize("page", PAGES)
def test_no_patient_id_in_charts_or_report(db, page, downloads):
    at = open_page(page, link(db))
    assert_renders(at, page)
    for chart in at.get("plotly_chart"):
        assert not PATIENT_ID.search(chart.proto.spec)
    report = downloads(at, "dl_report").decode("utf-8")
    assert f"<title>{html.escape(PAGES[page], quote=False)}</title>" in report
    assert not PATIENT_ID.search(report)


@pytest.mark.parametrize("page", PAGES)
def test_every_metric_finding_and_table_of_a_page_is_in_its_report(db, page, downloads):
    """Found walking through as a new user: the Overview's report had the heading of its six headline cards
    and nothing under it. Everything a page shows as a number, a finding or a table is in its report."""
    at = open_page(page, link(db))
    assert_renders(at, page)
    report = html.unescape(downloads(at, "dl_report").decode("utf-8"))
    for m in at.metric:
        assert m.label in report and m.value in report, (m.label, m.value)
    shown = [t.value[2:] for t in at.text if t.value.startswith(("• ", "⚠ "))]
    assert shown or page != ENTRY
    for sentence in shown:
        assert sentence in report, sentence
    for frame in at.dataframe:
        for column in frame.value.columns:
            assert str(column) in report, column
        first = frame.value.columns[0]
        for value in frame.value[first].astype(str).head(20):
            assert value in report, (first, value)


def test_visiting_every_page_leaves_the_shared_records_unchanged(db, downloads):
    """Pages share the cached records read-only: the export must be the same after every page has run."""
    at = open_page(ENTRY, {"dataset": db.sample})
    before = downloads(at, "dl_treatments"), downloads(at, "dl_side_effects")
    for page in [*OTHER_PAGES, ENTRY]:
        at.switch_page(page).run()
        assert_renders(at, page)
        assert (downloads(at, "dl_treatments"), downloads(at, "dl_side_effects")) == before, page


# --- 10. switching datasets ---------------------------------------------------------------------

def test_picking_another_dataset_resets_filters_and_shows_its_numbers(db, sample):
    at = open_page(ENTRY, link(db))
    assert metric(at, "Treatments") == f"{len(link_selection(sample)):,}"
    at.selectbox(key=K_DATASET).set_value(db.tiny).run()
    assert_renders(at, ENTRY)
    assert widgets(at) == {"dataset": db.tiny, "dates": (date(2024, 3, 5), date(2024, 6, 6)), "clinic": [],
                           "device": [], "area": [], "fitz": []}
    assert url(at) == {"dataset": [db.tiny]}
    assert metric(at, "Treatments") == "8"
    assert metric(at, "Clinics") == "2"
    assert at.multiselect(key=K_CLINICS).options == ["Alpha Clinic", "Beta Clinic"]

    at.selectbox(key=K_DATASET).set_value(db.sample).run()
    assert metric(at, "Treatments") == f"{len(sample.outcomes):,}"
    assert url(at) == {"dataset": [db.sample]}


def test_dataset_picked_on_a_page_is_kept_on_the_next(db):
    at = open_page("pages/5_Side_effects.py", {"dataset": db.sample, "fitz": "V"})
    at.selectbox(key=K_DATASET).set_value(db.tiny).run()
    at.switch_page(ENTRY).run()
    assert_renders(at, ENTRY)
    assert widgets(at)["dataset"] == db.tiny and widgets(at)["fitz"] == []
    assert metric(at, "Treatments") == "8"
    assert url(at) == {"dataset": [db.tiny]}


def test_dataset_deleted_meanwhile_falls_back_with_a_notice(tmp_path, monkeypatch):
    """Another manager deletes the dataset being viewed (own database: this test writes)."""
    own = f"sqlite:///{tmp_path / 'own.db'}"
    monkeypatch.setenv("LASERDASH_DB_URL", own)
    store = Store(own)
    kept = store.import_dataset(import_files(SourceFile("markdown.csv", MD_OUTCOMES.encode())), "Kept")
    doomed = store.import_dataset(import_files(SourceFile("tiny_outcomes.csv", TINY_OUTCOMES.encode())), "Doomed")
    at = open_page("pages/4_Skin_tone.py", {"dataset": doomed.id, "clinic": "Alpha Clinic"})
    assert url(at) == {"dataset": [doomed.id], "clinic": ["Alpha Clinic"]}
    store.delete(doomed.id)
    store.engine.dispose()
    at.run()
    assert_renders(at, "pages/4_Skin_tone.py")
    assert any("no longer available" in w.value for w in at.warning)
    assert widgets(at)["dataset"] == kept.id and widgets(at)["clinic"] == []
    assert url(at) == {"dataset": [kept.id]}
    assert exported_rows(at) == 2


def test_unknown_dataset_falls_back_to_the_newest(db):
    at = open_page("pages/3_Results.py", {"dataset": new_dataset_id()})
    assert_renders(at, "pages/3_Results.py")
    assert any("does not exist here" in w.value for w in at.warning)
    assert url(at) == {"dataset": [db.sample]}


# --- charts follow the house rules on every page -----------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_chart_is_titled_labelled_coloured_by_modality_with_n_and_intervals(db, page):
    """Quality bar: titled, an axis labelled (with units), the two modalities always in the same
    colour-blind-safe colours, n visible, and every per-modality rate or median drawn with its CI."""
    from analysis.present.figures import MODALITY_COLOURS, MODALITY_LABELS

    colour_of = {MODALITY_LABELS[m]: c for m, c in MODALITY_COLOURS.items()}
    at = open_page(page)
    assert_renders(at, page)
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        layout, title = spec["layout"], spec["layout"].get("title", {}).get("text")
        assert title, f"untitled chart on {page}"
        axes = [layout.get(a, {}).get("title", {}).get("text") for a in ("xaxis", "yaxis")]
        assert any(axes), f"{title!r}: no axis title"
        assert "n = " in chart.proto.spec or any("(n)" in (a or "") for a in axes), f"{title!r}: n not shown"
        for trace in spec["data"]:
            name = str(trace.get("name") or "")
            modality = next((label for label in colour_of if name.startswith(label + " ") or name == label), None)
            if modality is None or trace.get("type") == "box":  # boxes carry their median's CI in a marker trace
                continue
            colour = (trace.get("line") or {}).get("color") if "lines" in str(trace.get("mode")) else None
            assert (colour or trace["marker"]["color"]) == colour_of[modality], f"{title!r}: {name} in another colour"
            p_chart = any(t.get("name") == "Control limits" for t in spec["data"])  # limits instead of error bars
            counts = any("(n)" in (a or "") for a in axes)  # plain counts are not estimates: no interval
            # a curve's interval is a shaded band: a filled trace in the curve's legend group (time to resolution)
            band = bool(trace.get("legendgroup")) and any(
                t.get("fill") and t.get("legendgroup") == trace["legendgroup"] for t in spec["data"])
            assert p_chart or counts or band or "error_y" in trace or "error_x" in trace, \
                f"{title!r}: {name} without intervals"
