"""Streamlit AppTest of the Data page: import (with its mapping, date and duplicate steps), datasets, quality."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.present import tables
from analysis.records.store import Store
from ui.datasets import SHORT_NAME, short_files

from apphelpers import app_database, download_button, record_downloads
from testpaths import ROOT

PAGE = str(ROOT / "pages" / "8_Data.py")
CORPUS = ROOT / "tests" / "corpus"
# Elements that render Markdown: user-supplied text must never reach them.
MARKDOWN_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader")


@pytest.fixture
def app_db(tmp_path_factory, tmp_path, monkeypatch) -> str:
    """A copy of a database holding the bundled sample (made once: the import takes a while)."""
    return app_database(tmp_path_factory, tmp_path, monkeypatch)


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


def corpus_file(name: str, as_name: str | None = None) -> tuple[str, bytes, str]:
    return (as_name or name, (CORPUS / name).read_bytes(), "text/csv")


def upload(at: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    at.file_uploader(key="upload_files").set_value(list(files))
    at.run()
    assert not at.exception
    return at


def press_import(at: AppTest) -> AppTest:
    at.button(key="upload_import").click()
    at.run()
    assert not at.exception
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a '{column}' column")


def texts(at: AppTest) -> str:
    return "\n".join(t.value for t in at.text)


def names(url: str) -> list[str]:
    store = Store(url)
    try:
        return [d.name for d in store.datasets()]
    finally:
        store.engine.dispose()


def mapping_boxes(at: AppTest) -> dict[str, object]:
    """The column-mapping selectboxes by schema column."""
    boxes = {}
    for box in at.selectbox:
        key = box.key or ""
        if key.startswith("upload_map_outcomes_"):
            column = key[len("upload_map_outcomes_"):].rsplit("_", 1)[0]
            boxes[column] = box
    return boxes


def markdown_text(at: AppTest) -> str:
    parts = []
    for kind in MARKDOWN_ELEMENTS:
        parts.extend(str(e.value) for e in at.get(kind))
    return "\n".join(parts)


# --- the page --------------------------------------------------------------------------------

def test_page_renders_on_the_sample_with_every_section(app_db):
    at = open_page()
    assert [h.value for h in at.header] == ["Import records", "Datasets", "Data quality"]
    headings = [h.value for h in at.subheader]
    assert at.file_uploader(key="upload_files").accept_multiple_files
    datasets = frame_with(at, "side-effect records")
    assert datasets["name"].tolist() == ["Sample clinics (synthetic)"]
    assert datasets["viewing"].tolist() == ["✓"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Treatments"] == f"{5000:,}" and metrics["Rows rejected at import"] == "0"
    assert "Missing values" in headings and "Unusual costs" in headings
    assert "the most is Satisfaction (1–5), blank in" in texts(at)   # the missing-values sentence


def test_the_missing_values_sentence_names_columns_as_the_table_under_it_does(app_db):
    """Found walking through as a new user (issue 17): the sentence said "the most is satisfaction" while the
    table below it said "Satisfaction (1–5)"."""
    at = open_page()
    sentence = next(t.value for t in at.text if "missing values; the most is" in t.value)
    table = frame_with(at, "missing")
    worst = table.sort_values(["percent", "missing"], ascending=False).iloc[0]
    assert f"the most is {worst['column']}, blank in {worst['percent']:.1f} %" in sentence
    internal = {"satisfaction", "cost", "procedure_minutes", "downtime_days", "fitzpatrick_type", "treatment_area",
                "improvement_score", "follow_up_visits", "patient_id", "treatment_date", "onset_day", "resolved_day"}
    assert not internal & set(sentence.replace(",", " ").replace(".", " ").split())
    assert [b.label for b in at.get("download_button")][-1] == "This page as a report (HTML)"


def test_the_templates_are_offered_in_the_import_section(app_db, monkeypatch):
    fetch = record_downloads(monkeypatch)
    at = open_page()
    assert download_button(at, "upload_template_xlsx").label == "Template workbook (.xlsx)"
    assert download_button(at, "upload_template_csv").label == "Template (CSV)"
    assert fetch(at, "upload_template_xlsx") == (ROOT / "data" / "template.xlsx").read_bytes()
    assert fetch(at, "upload_template_csv") == (ROOT / "data" / "template.csv").read_bytes()
    # Still there once files are uploaded, beside the uploader.
    at = upload(at, corpus_file("orphans_outcomes.csv"))
    assert {"upload_template_xlsx", "upload_template_csv"} <= {b.key for b in at.get("download_button")}


def test_importing_an_outcome_and_side_effect_pair(app_db):
    at = upload(open_page(), corpus_file("orphans_outcomes.csv"), corpus_file("side_effect_synonyms.csv"))
    recognised = frame_with(at, "recognised as")
    assert recognised["recognised as"].tolist() == ["outcome records", "side-effect records"]
    assert at.text_input(key="upload_name").value == "orphans_outcomes"
    at.text_input(key="upload_name").set_value("March export")
    press_import(at)
    assert [s.value for s in at.success][0].startswith("Imported.")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Treatments imported"] == "2"            # O3 has Fitzpatrick 9
    assert metrics["Side-effect records imported"] == "5"   # 'extreme' severity and resolved before onset: out
    assert metrics["Rows rejected"] == "3"
    assert metrics["Warnings"] == "1"                       # 'itching', kept as 'other'
    assert "March export" in names(app_db)
    new = next(d for d in Store(app_db).datasets() if d.name == "March export")
    assert new.treatments == 2
    # The app switched to the new dataset (sidebar and share link).
    assert at.sidebar.selectbox[0].value == new.id
    assert at.query_params["dataset"] == new.id
    assert frame_with(at, "viewing").set_index("name").loc["March export", "viewing"] == "✓"


def test_bad_rows_show_the_problems_and_a_rejected_rows_download(app_db):
    at = press_import(upload(open_page(), corpus_file("bad_numbers.csv")))
    problems = frame_with(at, "reason")
    assert list(problems.columns) == ["file", "row", "column", "value", "reason", "severity"]
    assert problems["row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert (problems["severity"] == "rejected").all()
    labels = {b.key: b.label for b in at.get("download_button")}
    assert labels["upload_rejected_0"] == "Rejected rows of this import (CSV, 6 rows)"
    assert "upload_problems_csv" in labels
    assert "Rejected rows of bad_numbers.csv" in texts(at)
    assert {m.label: m.value for m in at.metric}["Rows rejected"] == "6"


def test_unrecognised_headers_are_mapped_and_the_mapping_is_remembered(app_db):
    at = press_import(upload(open_page(), corpus_file("unrecognised_headers.csv")))
    assert any("not recognised" in w.value for w in at.warning)
    boxes = mapping_boxes(at)
    labels = [b.label for b in boxes.values()]
    # required ones first, marked, in the words people read (not the schema's internal names)
    assert labels[:4] == ["Treatment id (required)", "Treatment date (required)",
                          "Laser type (ablative or non-ablative) (required)", "Fitzpatrick skin type (required)"]
    assert boxes["treatment_id"].options == ["— not in this file —", "Ref", "When", "Kind", "Tone", "Days off"]
    assert boxes["treatment_id"].value == "— not in this file —"
    for column, header in {"treatment_id": "Ref", "treatment_date": "When", "modality": "Kind",
                           "fitzpatrick_type": "Tone", "downtime_days": "Days off"}.items():
        boxes[column].set_value(header)
    press_import(at)
    assert not mapping_boxes(at)
    store = Store(app_db)
    new = next(d for d in store.datasets() if d.name == "unrecognised_headers")
    records = store.load(new.id).outcomes
    assert records["treatment_id"].tolist() == ["R1", "R2"]
    assert records["downtime_days"].tolist() == [6.0, 1.0]
    assert store.column_map(["Ref", "When", "Kind", "Tone", "Days off"], "outcomes")["Tone"] == "fitzpatrick_type"

    # The next export with the same headers is mapped automatically: no mapping step.
    again = b"Ref,When,Kind,Tone,Days off\nR7,2024-03-01,ablative,5,9\n"
    upload(at, ("april.csv", again, "text/csv"))
    assert any("saved earlier" in i.value for i in at.info)
    press_import(at)
    assert not mapping_boxes(at)
    assert not at.error
    april = next(d for d in Store(app_db).datasets() if d.name == "april")
    assert Store(app_db).load(april.id).outcomes["downtime_days"].tolist() == [9.0]


def test_one_file_column_cannot_fill_two_fields(app_db):
    at = press_import(upload(open_page(), corpus_file("unrecognised_headers.csv")))
    boxes = mapping_boxes(at)
    boxes["treatment_id"].set_value("Ref")
    boxes["patient_id"].set_value("Ref")
    press_import(at)
    assert any("chosen for two fields" in e.value for e in at.error)
    assert "unrecognised_headers" not in names(app_db)


def test_ambiguous_dates_ask_for_the_order_then_import(app_db):
    at = press_import(upload(open_page(), corpus_file("ambiguous_dates.csv")))
    radio = at.radio(key="upload_date_order")
    assert radio.value is None
    assert "For example: 03/04/2024" in texts(at)
    press_import(at)                                   # no choice yet: asked again, nothing saved
    assert any("Choose how the dates are written" in e.value for e in at.error)
    assert "ambiguous_dates" not in names(app_db)
    at.radio(key="upload_date_order").set_value("dayfirst")
    press_import(at)
    store = Store(app_db)
    new = next(d for d in store.datasets() if d.name == "ambiguous_dates")
    dates = store.load(new.id).outcomes.set_index("treatment_id")["treatment_date"]
    assert dates["A1"] == pd.Timestamp("2024-04-03")   # 03/04/2024, day first


@pytest.mark.parametrize("name", ["empty.csv", "binary.csv", "renamed_xlsx.csv", "header_only.csv"])
def test_unreadable_files_give_a_clear_message(app_db, name):
    at = upload(open_page(), corpus_file(name))
    assert any("cannot be read" in e.value for e in at.error)
    assert name in texts(at)                           # the reason, naming the file, as plain text
    assert "upload_import" not in [b.key for b in at.button]
    assert names(app_db) == ["Sample clinics (synthetic)"]


def test_a_file_with_no_valid_row_is_refused_without_a_traceback(app_db):
    at = press_import(upload(open_page(), corpus_file("no_valid_rows.csv")))
    assert [e.value for e in at.error] == ["The import was refused and nothing was saved:"]
    assert "no row could be imported" in texts(at)
    assert names(app_db) == ["Sample clinics (synthetic)"]


def test_only_side_effect_records_are_refused(app_db):
    at = upload(open_page(), corpus_file("side_effect_synonyms.csv"))
    assert any("Every file looks like side-effect records" in e.value for e in at.error)


def test_a_blank_dataset_name_is_refused(app_db):
    at = upload(open_page(), corpus_file("mixed_fitzpatrick.csv"))
    at.text_input(key="upload_name").set_value("   ")
    press_import(at)
    assert [e.value for e in at.error] == ["Check the dataset name:"]
    assert "needs a name" in texts(at)


def test_a_file_imported_before_is_named_and_can_be_imported_again(app_db):
    at = press_import(upload(open_page(), corpus_file("mixed_fitzpatrick.csv")))
    press_import(at)                                   # the same file again
    assert any("imported before" in w.value for w in at.warning)
    assert "Already in dataset: mixed_fitzpatrick" in texts(at)
    assert names(app_db).count("mixed_fitzpatrick") == 1
    at.checkbox(key="upload_allow_duplicate").check()
    press_import(at)
    assert names(app_db).count("mixed_fitzpatrick") == 2


def test_user_text_is_never_rendered_as_markdown(app_db):
    evil = "**x** <img src=x onerror=alert(1)> [a](http://e).csv"
    at = press_import(upload(open_page(), corpus_file("formula_injection.csv", as_name=evil)))
    assert not at.exception
    shown = markdown_text(at)
    for fragment in ("<img", "**x**", "<script>", "HYPERLINK"):
        assert fragment not in shown
    assert evil in texts(at) or any(evil in df.value.to_string() for df in at.dataframe)


# --- datasets --------------------------------------------------------------------------------

def test_rename_and_delete(app_db):
    at = open_page()
    sample_id = Store(app_db).datasets()[0].id
    at.text_input(key="data_rename_name").set_value("   ")
    at.button(key="data_rename_go").click().run()
    assert [e.value for e in at.error] == ["The dataset was not renamed."]
    at.text_input(key="data_rename_name").set_value("Clinic records 2024")
    at.button(key="data_rename_go").click().run()
    assert not at.exception
    assert names(app_db) == ["Clinic records 2024"]
    assert at.sidebar.selectbox[0].format_func(sample_id) == "Clinic records 2024"

    # The only dataset cannot be deleted (the dashboard needs one to show).
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete_go").click().run()
    assert any("only dataset" in e.value for e in at.error)
    assert names(app_db) == ["Clinic records 2024"]
    assert not at.checkbox(key="data_delete_confirm").value   # each deletion needs its own confirmation

    # Import a second dataset (the app switches to it), then delete it while viewing it.
    press_import(upload(at, corpus_file("mixed_fitzpatrick.csv")))
    new_id = next(d.id for d in Store(app_db).datasets() if d.name == "mixed_fitzpatrick")
    assert at.sidebar.selectbox[0].value == new_id
    at.selectbox(key="data_delete_pick").set_value(new_id)
    assert at.button(key="data_delete_go").disabled        # not before the confirmation
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete_go").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Dataset deleted."]
    assert names(app_db) == ["Clinic records 2024"]
    assert at.sidebar.selectbox[0].value == sample_id       # fell back to the remaining dataset
    assert not at.warning                                   # cleanly: no "no longer available" notice
    assert not at.checkbox(key="data_delete_confirm").value

    # Deleting a dataset that is not being viewed leaves the view alone.
    press_import(upload(at, corpus_file("month_first_dates.csv")))
    viewed = at.sidebar.selectbox[0].value
    at.selectbox(key="data_delete_pick").set_value(sample_id)
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete_go").click().run()
    assert not at.exception
    assert names(app_db) == ["month_first_dates"]
    assert at.sidebar.selectbox[0].value == viewed
    assert at.sidebar.selectbox[0].options == ["month_first_dates"]


ALL_PAGES = ["dashboard.py", "pages/2_Downtime.py", "pages/3_Results.py", "pages/4_Skin_tone.py",
             "pages/5_Side_effects.py", "pages/6_Trends_and_clinics.py", "pages/7_Article_check.py"]


def _import_via_the_app(files: list[tuple[str, bytes, str]], mapping: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.switch_page("pages/8_Data.py")
    at.run()
    assert not at.exception
    press_import(upload(at, *files))
    if mapping:
        boxes = mapping_boxes(at)
        for column, header in mapping.items():
            boxes[column].set_value(header)
        press_import(at)
    assert not at.exception and not at.error
    return at


@pytest.mark.parametrize("files,mapping,name", [
    ([("clinic_a.csv", (ROOT / "data" / "sample_outcomes.csv").read_bytes().replace(b"\nT", b"\nA"), "text/csv")],
     None, "clinic_a"),
    ([corpus_file("bad_numbers.csv")], None, "bad_numbers"),
    ([corpus_file("unrecognised_headers.csv")],
     {"treatment_id": "Ref", "treatment_date": "When", "modality": "Kind", "fitzpatrick_type": "Tone"},
     "unrecognised_headers"),
], ids=["valid file", "file with bad rows", "unrecognised headers"])
def test_every_page_renders_on_the_dataset_just_uploaded(app_db, files, mapping, name):
    at = _import_via_the_app(files, mapping)
    for page in ALL_PAGES:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        assert any(t.value.startswith(f"Dataset: {name} ·") for t in at.text), page


def test_a_workbook_with_outcome_and_side_effect_sheets_imports(app_db):
    """A workbook's record sheets are listed as what they are, and any can be left out."""
    from test_sheets import xlsx

    outcomes = [["Treatment ID", "Date", "Modality", "Skin type"], ["W1", dt.date(2024, 1, 2), "ablative", "V"],
                ["W2", dt.date(2024, 1, 3), "non-ablative", "II"]]
    older = [outcomes[0], ["W0", dt.date(2023, 1, 2), "ablative", "I"]]
    side = [["treatment_id", "effect"], ["W1", "erythema"], ["W2", "PIH"]]
    data = xlsx({"Outcomes": outcomes, "Side effects": side, "Last year": older, "Notes": [["read me"]]})
    at = upload(open_page(), ("clinic.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    recognised = frame_with(at, "recognised as")
    assert recognised["file"].tolist() == ["clinic.xlsx, sheet 'Outcomes'", "clinic.xlsx, sheet 'Side effects'",
                                           "clinic.xlsx, sheet 'Last year'"]
    assert recognised["recognised as"].tolist() == ["outcome records", "side-effect records", "outcome records"]
    at.multiselect(key="upload_sheets").set_value(["Outcomes", "Side effects"])
    at.text_input(key="upload_name").set_value("Workbook")
    press_import(at)
    assert [s.value for s in at.success][0].startswith("Imported.")
    new = next(d for d in Store(app_db).datasets() if d.name == "Workbook")
    assert (new.treatments, new.side_effects) == (2, 2)


def test_records_are_added_to_the_dataset_being_viewed_then_rolled_back(app_db):
    """A second month goes into the same dataset (same id, new version); its history shows it; undo."""
    store = Store(app_db)
    sample = store.datasets()[0]
    month = ("treatment_id,treatment_date,modality,fitzpatrick_type\n"
             "NEW1,2024-06-03,ablative,3\nNEW2,2024-06-04,non-ablative,5\n")
    at = upload(open_page(), ("june.csv", month.encode(), "text/csv"))
    at.radio(key="upload_target").set_value("append")
    at.run()
    assert at.selectbox(key="upload_into").value == sample.id      # the dataset being viewed
    at.text_input(key="upload_clinic").set_value("Harbourside")
    press_import(at)
    assert [s.value for s in at.success][0].startswith("Imported into the dataset.")
    assert "2 new, 0 updated, 0 unchanged and 0 rejected row(s)" in texts(at)
    after = store.get(sample.id)
    assert (after.version, after.treatments) == (sample.version + 1, sample.treatments + 2)
    assert names(app_db) == ["Sample clinics (synthetic)"]           # no new dataset
    history = frame_with(at, "treatments after")
    assert history["what"].tolist()[:2] == ["records added", "created"]
    assert history["files"].tolist()[0] == "june.csv"
    assert history["rows"].tolist()[:2] == ["2 new · 0 updated · 0 unchanged · 0 rejected", "5,000 new · 0 rejected"]
    at.checkbox(key="data_rollback_confirm").check()
    at.run()
    at.button(key="data_rollback_go").click()
    at.run()
    assert not at.exception
    assert "Rolled back." in [s.value for s in at.success]
    back = store.get(sample.id)
    assert (back.version, back.treatments) == (sample.version + 2, sample.treatments)
    assert frame_with(at, "treatments after")["what"].tolist()[:2] == ["rolled back", "records added (undone)"]


def test_the_history_answers_first_and_names_long_files_in_full_under_it(app_db):
    """Issue 17: an import of long-named files made the history table scroll sideways before its counts. The
    counts come first and fit the page at 1,400 px; the names are shortened in the table and written in full
    (with who imported them) under it."""
    store = Store(app_db)
    sample = store.datasets()[0]
    long_name = "Clinic_Nordstadt_EMR_export_treatments_2025-01-01_to_2025-03-31_final_v2_corrected.csv"
    month = ("treatment_id,treatment_date,modality,fitzpatrick_type\n"
             "NEW1,2024-06-03,ablative,3\nNEW2,2024-06-04,non-ablative,5\n")
    at = upload(open_page(), (long_name, month.encode(), "text/csv"))
    at.radio(key="upload_target").set_value("append")
    at.run()
    assert at.selectbox(key="upload_into").value == sample.id
    at.text_input(key="upload_clinic").set_value("Harbourside")
    press_import(at)
    history = frame_with(at, "treatments after")
    answer = ["version", "when (UTC)", "what", "rows", "problems", "treatments after", "side effects after"]
    assert history.columns.tolist() == [*answer, "files"]      # no one signed in: no "by" column
    # at the widths ui.widgets.table_config gives them (numbers: their longest text or header, as the grid does)
    shown = sum(tables.text_width(history[c].map(lambda v: f"{v:,}" if isinstance(v, int) else v), c)
                for c in answer)
    assert shown <= tables.TABLE_WIDTH_AT_1400, shown
    short = history["files"].tolist()[0]
    assert len(short) <= SHORT_NAME and short.startswith("Clinic_Nordstadt") and short.endswith(".csv")
    details = next(t.value for t in at.text if t.value.startswith(f"Version {sample.version + 1}, records added"))
    assert f"  {long_name}" in details.splitlines()
    assert "sample_outcomes.csv" in texts(at)       # every import's files, the first one's too


@pytest.mark.parametrize("names, shown", [
    (["a.csv"], "a.csv"),
    (["outcomes.csv", "side_effects.csv"], "outcomes.csv, side_effects.csv"),
    (["a.csv", "b.csv", "c.csv", "d.csv"], "a.csv, b.csv + 2 more"),
    (["x" * 40 + ".csv"], "x" * 17 + "…" + "x" * 6 + ".csv"),
    (["y" * 40], "y" * 15 + "…" + "y" * 12),
])
def test_file_names_are_shortened_in_the_middle_keeping_their_start_and_extension(names, shown):
    assert short_files(names) == shown


def test_the_date_order_answered_once_is_remembered_for_the_same_headers(app_db):
    """Found walking through as a new user: re-uploading a file asked about the date order again."""
    at = press_import(upload(open_page(), corpus_file("ambiguous_dates.csv")))
    at.radio(key="upload_date_order").set_value("dayfirst")
    press_import(at)
    text = (CORPUS / "ambiguous_dates.csv").read_text().replace("A", "B")   # next month: same headers, new ids
    again = upload(open_page(), ("next_month.csv", text.encode(), "text/csv"))
    assert any("Dates are read as day first" in i.value for i in again.info)
    press_import(again)
    assert "upload_date_order" not in [r.key for r in again.radio], "not asked again"
    store = Store(app_db)
    new = next(d for d in store.datasets() if d.name == "next_month")
    dates = store.load(new.id).outcomes.set_index("treatment_id")["treatment_date"]
    assert dates["B1"] == pd.Timestamp("2024-04-03")   # 03/04/2024, day first as answered before


def test_the_data_dictionary_is_on_the_page(app_db):
    """Found walking through as a new user: the page named 'the data dictionary' with no link to it."""
    at = open_page()
    shown = "\n".join(m.value for m in at.markdown)
    assert "## Outcome records: one row per treatment session" in shown
    assert "Adding each month's records to a dataset" in shown


def test_rejected_rows_and_problems_stay_downloadable_after_the_session_ends(app_db, monkeypatch):
    """Issue #17: they vanished when the page reloaded. Now each import keeps them: a fresh session offers, under
    the dataset's history, the rejected rows in the file's own dialect (';', decimal commas, Windows-1252) and
    the problem list (CSV, formula-like text neutralised)."""
    from analysis.present.export import in_dialect
    from analysis.records.ingest import SourceFile, import_files

    fetch = record_downloads(monkeypatch)
    export = ("treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic\r\n"
              "E1;2024-01-02;ablative;2;2,5;Clínica Sol\r\nE2;2024-01-03;ablative;=HYPERLINK(\"x\");3,5;Clínica Sol\r\n"
              "E3;2024-01-04;ablative;3;-1,5;Clínica Sol\r\n").encode("cp1252")
    press_import(upload(open_page(), ("Clínica export.csv", export, "text/csv")))
    new = next(d for d in Store(app_db).datasets() if d.name == "Clínica export")

    fresh = AppTest.from_file(PAGE, default_timeout=120)
    fresh.query_params["dataset"] = new.id
    fresh.run()
    assert not fresh.exception
    history = frame_with(fresh, "treatments after")
    assert history["problems"].tolist() == [2]
    labels = {b.key: b.label for b in fresh.get("download_button")}
    assert labels["data_rejected_1_0"] == "Rejected rows (CSV, 2 rows)"
    assert labels["data_problems_1"] == "Problem list (CSV)"
    assert "Version 1, created" in texts(fresh) and "Clínica export.csv: 2 row(s) rejected, 2 problem(s)." in texts(fresh)
    assert "Clínica" not in markdown_text(fresh)          # the file's name is user text: plain text only
    rejected = fetch(fresh, "data_rejected_1_0")
    report = import_files(SourceFile("Clínica export.csv", export)).report
    assert rejected == in_dialect(report.rejected_rows["Clínica export.csv"], ";", "Windows-1252")
    lines = rejected.decode("cp1252").splitlines()
    assert lines[0] == "row;treatment_id;treatment_date;modality;fitzpatrick_type;downtime_days;clinic;problems"
    assert lines[2].startswith("4;E3;2024-01-04;ablative;3;-1,5;Clínica Sol;")
    problems = pd.read_csv(io.BytesIO(fetch(fresh, "data_problems_1")), encoding="utf-8-sig")
    assert problems["row"].tolist() == [3, 4]
    assert problems.loc[0, "value"] == "'=HYPERLINK(\"x\")"      # neutralised (OWASP CSV injection)
    # The sample's own history (no problems) offers no such button.
    sample = AppTest.from_file(PAGE, default_timeout=120)
    sample.query_params["dataset"] = next(d for d in Store(app_db).datasets() if d.name != new.name).id
    sample.run()
    assert not [b for b in sample.get("download_button") if (b.key or "").startswith(("data_rejected", "data_problems"))]


def test_a_deleted_dataset_waits_in_the_bin_and_is_restored_with_its_id(app_db):
    at = open_page()
    press_import(upload(at, corpus_file("mixed_fitzpatrick.csv")))
    new_id = next(d.id for d in Store(app_db).datasets() if d.name == "mixed_fitzpatrick")
    assert "restore it from the bin below for 30 days" in at.checkbox(key="data_delete_confirm").label
    at.selectbox(key="data_delete_pick").set_value(new_id)
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="data_delete_go").click().run()
    assert not at.exception
    assert new_id not in [d.id for d in Store(app_db).datasets()]
    assert at.selectbox(key="data_restore_pick").value == new_id
    at.button(key="data_restore_go").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Dataset restored."]
    assert at.sidebar.selectbox[0].value == new_id            # the app opens it again, same id
    changes = [df.value for df in at.dataframe if "what" in df.value.columns and "name then" in df.value.columns]
    assert len(changes) == 1 and list(changes[0]["what"]) == ["restore", "delete", "import"]
