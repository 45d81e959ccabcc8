"""Reports outside the dashboard: ``python -m analysis report`` (HTML and PDF) and each page's PDF download.

The PDFs are read back with poppler (``pdftotext`` for the words and numbers, ``pdftoppm`` for the pixels).
Printing needs Debian's Chromium: those tests skip (or fail under CI) only when it is absent.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.cli import main
from analysis.findings.quality import quality_summary
from analysis.present import content, document, pdf, report
from analysis.records import access
from analysis.records.filters import Filters, apply_filters, prepare
from analysis.records.ingest import import_files
from analysis.records.read import SourceFile
from analysis.records.store import Store

from apphelpers import record_downloads
from system import apt_install, unavailable
from testpaths import ROOT

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"printing a PDF needs Chromium ({CHROMIUM} "
                                    "is absent; Debian: apt-get install chromium)")
NAME = "Small clinic sample"
#: The patient code of the treatment entered twice (the Data page's "Visits that may have been entered twice").
REPEATED_PATIENT = "P000001"


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> tuple[str, str]:
    """A SQLite database with one small dataset (400 treatments of the bundled sample, one visit entered twice);
    returns (URL, dataset id)."""
    out = pd.read_csv(ROOT / "data" / "sample_outcomes.csv", dtype=str).head(400)
    twice = out.iloc[[0]].assign(treatment_id="T9999999")
    assert twice["patient_id"].item() == REPEATED_PATIENT
    out = pd.concat([out, twice], ignore_index=True)
    side = pd.read_csv(ROOT / "data" / "sample_side_effects.csv", dtype=str)
    side = side[side["treatment_id"].isin(out["treatment_id"])]
    result = import_files(SourceFile("outcomes.csv", out.to_csv(index=False).encode()),
                          [SourceFile("side_effects.csv", side.to_csv(index=False).encode())])
    url = f"sqlite:///{tmp_path_factory.mktemp('pdf') / 'small.db'}"
    info = access.Access(Store(url), access.COMMAND_LINE).import_dataset(result, NAME)
    return url, info.id


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def link(dataset_id: str, path: str = "Skin_tone", **params) -> str:
    return f"http://localhost:8501/{path}?" + urlencode({"dataset": dataset_id, **params}, doseq=True)


@pytest.fixture(scope="module")
def poppler() -> None:
    if shutil.which("pdftotext") is None:
        reason = apt_install("poppler-utils", "LASERDASH_NO_APT", "apt-get install poppler-utils")
        if reason:
            unavailable(f"pdftotext is missing: {reason}.", "the PDF tests")


def pdf_text(path: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    done = subprocess.run(["pdftotext", *pages, str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())   # words as one line: a sentence may wrap anywhere


def ink(path: Path, page: int) -> tuple[float, set[tuple[int, int, int]]]:
    """The share of non-white pixels of ``page`` rendered at 50 dpi, and its colours (rounded to 1/8)."""
    done = subprocess.run(["pdftoppm", "-r", "50", "-f", str(page), "-l", str(page), str(path)], capture_output=True,
                          check=True)   # PPM (P6) on stdout
    data = io.BytesIO(done.stdout)
    fields: list[bytes] = []
    while len(fields) < 4:
        line = data.readline()
        fields += line.split() if not line.startswith(b"#") else []
    width, height = int(fields[1]), int(fields[2])
    pixels = data.read(width * height * 3)
    triples = [tuple(pixels[i:i + 3]) for i in range(0, len(pixels), 3)]
    inked = sum(1 for t in triples if min(t) < 235)
    return inked / len(triples), {(r >> 5, g >> 5, b >> 5) for r, g, b in triples}


def hex_colour(value: str) -> tuple[int, int, int]:
    r, g, b = (int(value[i:i + 2], 16) for i in (1, 3, 5))
    return r >> 5, g >> 5, b >> 5


def numbers(sentence: str) -> list[str]:
    """The numbers of a finding as printed ("14 %", "95 % CI 13–16 %", "+6.5")."""
    return re.findall(r"\d[\d,.]*(?:–\d[\d,.]*)? ?%?", sentence)


# --- the content: one builder per page, shared by the page and the command line -------------------------

def test_every_page_file_calls_its_builder():
    for spec in content.PAGES:
        path = ROOT / ("dashboard.py" if spec.slug == "overview" else next(
            str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py") if f'"{spec.slug}"' in p.read_text()))
        text = (ROOT / path).read_text(encoding="utf-8")
        assert f'ui.finish(view, "{spec.slug}")' in text, path
        if spec.slug != "data":
            assert f"content.{spec.build.__name__}(page, ui.page_input(view))" in text, path


def test_the_page_report_and_the_command_line_report_hold_the_same_content(small_db, monkeypatch, tmp_path):
    url, dataset_id = small_db
    fetch = record_downloads(monkeypatch)
    monkeypatch.setenv("LASERDASH_DB_URL", url)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    at.switch_page("pages/4_Skin_tone.py")
    at.query_params["dataset"] = dataset_id
    at.query_params["fitz"] = ["IV", "V", "VI"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    on_page = fetch(at, "dl_report").decode("utf-8")
    out = tmp_path / "skin.html"
    done = run_cli("--db", url, "report", link(dataset_id, fitz=["IV", "V", "VI"]), "--out", str(out))
    assert done.returncode == 0, done.stderr
    from_cli = out.read_text(encoding="utf-8")

    def body(html: str) -> list[str]:   # the sentences, headings, tables and charts' titles, not the time made
        text = re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", html)
        return re.findall(r"<(?:p|h1|h2|td|th)[^>]*>([^<]*)<", text) + re.findall(r'"title":\{"text":"([^"]*)"', text)

    assert body(on_page) == body(from_cli)
    assert "Fitzpatrick IV, V, VI" in from_cli and "Difference in hyperpigmentation rate by skin type" in from_cli


def test_reports_never_hold_patient_codes(small_db):
    url, dataset_id = small_db
    store = Store(url)
    html = document.report_html(store, dataset_id, "all")
    assert "Visits that may have been entered twice" in html and "T9999999" in html   # the repeat is listed
    assert REPEATED_PATIENT not in html and not re.search(r"P\d{6}", html)
    records = prepare(store.load(dataset_id))
    assert REPEATED_PATIENT in quality_summary(records).repeated_visits["patient_id"].tolist()  # it was there


def test_a_report_table_drops_identifier_columns():
    r = report.Report("t", "d", "all records", 1)
    r.add_table(pd.DataFrame({"patient_id": ["P1"], "Patient code": ["P2"], "treatments": [2]}))
    assert "P1" not in r.to_html() and "P2" not in r.to_html() and "<th>treatments</th>" in r.to_html()


# --- targets: a dataset id or a share link; bad ones get a clear message and exit 2 ---------------------

def test_a_share_link_gives_its_dataset_filters_and_page(small_db):
    url, dataset_id = small_db
    clinic = "Harbourside Skin Clinic"
    target, records = document.parse_target(Store(url), link(dataset_id, "Trends_and_clinics", clinic=clinic,
                                                             fitz=["V", "VI"], **{"from": "2024-02-01"}))
    assert target.dataset.id == dataset_id and target.page.slug == "trends"
    assert target.filters.clinics == (clinic,) and target.filters.fitzpatrick_types == (5, 6)
    reports, _ = document.page_reports(Store(url), link(dataset_id, "Trends_and_clinics", clinic=clinic))
    assert [r.title for r in reports] == ["Trends & clinics"]
    assert reports[0].link == link(dataset_id, "Trends_and_clinics", clinic=clinic)
    selected = apply_filters(records, Filters(clinics=(clinic,)))
    assert reports[0].treatments == len(selected.outcomes) < len(records.outcomes)


@pytest.mark.parametrize("target, page, message", [
    ("http://elsewhere.example:8501/Downtime?dataset={id}", None, "not at this dashboard"),
    ("{id}", "nope", "There is no page 'nope'. The pages are: overview, downtime"),
    ("http://localhost:8501/Nowhere?dataset={id}", None, "'Nowhere' is not a page of this dashboard"),
    ("http://localhost:8501/Downtime", None, "The link names no dataset"),
    ("AAAAAAAAAAAAAAAAAAAAAA", None, "was not found: it does not exist or it was deleted"),
    ("not an id", None, "neither a dataset id"),
    ("ftp://localhost/Downtime?dataset={id}", None, "starts with http:// or https://"),
])
def test_bad_targets_exit_2_with_a_message(small_db, tmp_path, capsys, target, page, message):
    url, dataset_id = small_db
    out = tmp_path / "r.html"
    code = main(["--db", url, "report", target.format(id=dataset_id), *(["--page", page] if page else []),
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 2, printed.err
    assert message in printed.err and printed.err.startswith("error: ") and printed.out == ""
    assert not out.exists()


def test_links_to_another_server_are_refused_once_the_address_is_configured(small_db, monkeypatch):
    url, dataset_id = small_db
    monkeypatch.setenv(document.PUBLIC_URL_ENV, "https://dash.clinic.example/laser")
    good = f"https://dash.clinic.example/laser/Downtime?dataset={dataset_id}"
    assert document.parse_target(Store(url), good)[0].page.slug == "downtime"
    for bad in (f"https://other.example/laser/Downtime?dataset={dataset_id}",
                f"http://dash.clinic.example/laser/Downtime?dataset={dataset_id}",
                f"https://dash.clinic.example/other/Downtime?dataset={dataset_id}"):
        with pytest.raises(document.TargetError, match="another server"):
            document.parse_target(Store(url), bad)
    assert document.page_reports(Store(url), dataset_id, "results")[0][0].link == \
        f"https://dash.clinic.example/laser/Results?dataset={dataset_id}"


def test_deleted_or_unshared_datasets_are_not_found(small_db, tmp_path, corpus):
    url, dataset_id = small_db
    stranger = access.User.signed_in("someone@else.example")
    with pytest.raises(document.TargetError, match="not shared with someone@else.example"):
        document.parse_target(Store(url), dataset_id, stranger)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    admin = access.Access(Store(other), access.COMMAND_LINE)
    deleted = admin.import_dataset(import_files(SourceFile.from_path(corpus / "orphans_outcomes.csv")), "Gone").id
    admin.delete(deleted)
    done = run_cli("--db", other, "report", link(deleted), "--out", str(tmp_path / "r.pdf"))
    assert done.returncode == 2 and "it does not exist or it was deleted" in done.stderr


def test_out_must_be_pdf_or_html(small_db, tmp_path, capsys):
    url, dataset_id = small_db
    assert main(["--db", url, "report", dataset_id, "--out", str(tmp_path / "r.docx")]) == 2
    assert "--out must end in .pdf or .html" in capsys.readouterr().err


def test_without_chromium_the_page_says_so_and_the_rest_works(small_db, monkeypatch, tmp_path):
    url, dataset_id = small_db
    monkeypatch.setenv(pdf.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    monkeypatch.setenv("LASERDASH_DB_URL", url)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    at.run()
    assert not at.exception
    assert pdf.MISSING in [c.value for c in at.sidebar.caption]
    assert not [b for b in at.sidebar.button if b.key == "pdf_make"]
    assert "dl_report" in [b.key for b in at.get("download_button")]
    done = run_cli("--db", url, "report", dataset_id, "--out", str(tmp_path / "r.pdf"))
    assert done.returncode == 1 and "PDF needs Chromium" in done.stderr and "Traceback" not in done.stderr


# --- the PDF, read back ---------------------------------------------------------------------------------

@needs_chromium
def test_the_pdf_has_the_view_the_findings_the_charts_and_page_numbers(small_db, poppler, tmp_path):
    url, dataset_id = small_db
    shared = link(dataset_id, fitz=["III", "IV", "V", "VI"])
    out = tmp_path / "skin.pdf"
    done = run_cli("--db", url, "report", shared, "--out", str(out))
    assert done.returncode == 0, done.stderr
    first = pdf_text(out, 1)
    assert "Skin tone & hyperpigmentation" in first and f"Dataset: {NAME}" in first
    assert "Filters: Fitzpatrick III, IV, V, VI" in first and re.search(r"generated \d{4}-\d\d-\d\d", first)
    assert shared in first.replace(" ", "")                        # the share link, whole
    # the findings with their key numbers, as the page computes them
    records = prepare(Store(url).load(dataset_id))
    result = content.Results(apply_filters(records, Filters(fitzpatrick_types=(3, 4, 5, 6))))("skin_tone")
    whole = pdf_text(out)
    for finding in result.findings[:4]:
        assert numbers(finding.sentence) and all(n.strip() in whole for n in numbers(finding.sentence)), finding
    # the charts are vector graphics: their titles and axis labels are text in the PDF
    pages = int(re.search(r"Page 1 of (\d+)", first).group(1))
    assert pages >= 2 and f"Page {pages} of {pages}" in pdf_text(out, pages)
    chart_page = next(p for p in range(1, pages + 1)
                      if "Difference in hyperpigmentation rate by skin type" in pdf_text(out, p))
    # the tables
    assert "Fitzpatrick skin type" in whole and "Ablative n" in whole
    # page 1 and the chart page are drawn, in the modalities' colours
    for page in (1, chart_page):
        share, colours = ink(out, page)
        assert share > 0.03, (page, share)
    assert hex_colour("#D55E00") in ink(out, 1)[1] and hex_colour("#0072B2") in ink(out, 1)[1]


@needs_chromium
def test_all_pages_in_one_pdf(small_db, poppler, tmp_path):
    url, dataset_id = small_db
    out = tmp_path / "all.pdf"
    done = run_cli("--db", url, "report", dataset_id, "--page", "all", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    whole = pdf_text(out)
    positions = [whole.find(spec.title) for spec in content.PAGES]
    assert -1 not in positions and positions == sorted(positions)
    facts = content.Results(prepare(Store(url).load(dataset_id)))("overview")
    first = pdf_text(out, 1)   # the Overview's cards: labels, then values
    assert (f"Treatments Patients Clinics Months of records {facts.treatments:,} {facts.patients:,} {facts.clinics:,} "
            f"{facts.months:,}") in first, first
    assert REPEATED_PATIENT not in whole


@needs_chromium
def test_every_page_offers_a_pdf_made_on_demand(small_db, monkeypatch, poppler, tmp_path):
    url, dataset_id = small_db
    fetch = record_downloads(monkeypatch)
    monkeypatch.setenv("LASERDASH_DB_URL", url)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    at.switch_page("pages/2_Downtime.py")
    at.run()
    assert not [b for b in at.get("download_button") if b.key == "dl_pdf"]   # nothing printed until asked
    next(b for b in at.sidebar.button if b.key == "pdf_make").click().run()
    assert not at.exception, [e.value for e in at.exception]
    button = next(b for b in at.get("download_button") if b.key == "dl_pdf")
    assert button.proto.label == "Download the PDF"
    out = tmp_path / "downtime.pdf"
    out.write_bytes(fetch(at, "dl_pdf"))
    first = pdf_text(out, 1)
    assert first.startswith("Downtime Dataset: " + NAME) and "Filters: all records" in first
    assert "Median downtime by Fitzpatrick skin type" in pdf_text(out)
