"""Write the templates a clinic fills in: ``data/template.xlsx`` and ``data/template.csv``.

Both are made from the record schema (``analysis/records/schema.py``), so they always hold the columns
the import knows, under their canonical names, and import as they are.

* ``template.xlsx`` has three sheets. "Outcomes" (one row per treatment) and "Side effects" (one row
  per event) have the column headers in row 1 (required ones in bold, every header with a note saying
  what the column holds), five synthetic example treatments and side effects that refer to them, date
  cells shown as yyyy-mm-dd, and drop-down lists / range checks where a column has fixed values. "Read
  me" explains every column in plain words; the import skips it (its headers are not record headers).
* ``template.csv`` is the Outcomes sheet as CSV: the headers and the same example rows.

The examples are invented: treatment codes T0001.., patient codes P0001.., staff codes S01.., and the
invented clinics of the bundled sample. The workbook's creation date is fixed, so a run makes the same
bytes as the last one (for the same XlsxWriter), and an unchanged template gives no diff.

Run ``.venv/bin/python data/make_template.py`` after changing the schema and commit both files;
``tests/test_template.py`` checks that the committed files are what this script makes.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

_REPO_ROOT = Path(__file__).resolve().parents[1]
try:  # run as a script or loaded by file path: make ``analysis`` importable
    from analysis.records import schema
except ImportError:  # pragma: no cover - depends on how we were started
    sys.path.insert(0, str(_REPO_ROOT))
    from analysis.records import schema

DATA_DIR = Path(__file__).resolve().parent
XLSX_NAME = "template.xlsx"
CSV_NAME = "template.csv"

OUTCOMES_SHEET = "Outcomes"
SIDE_EFFECTS_SHEET = "Side effects"
README_SHEET = "Read me"
README_HEADERS = ("sheet", "column", "required?", "what it holds", "accepted values / range",
                  "other header names accepted")
CREATED = dt.datetime(2025, 1, 1)       #: the workbook's (fixed) creation date: same input, same bytes
LAST_ROW = 5000                         #: drop-down lists and range checks reach this row
COMMENTS_AUTHOR = "Laser outcomes dashboard"
SYNONYMS_SHOWN = 3                      #: other header names listed per column on the Read me sheet

# --- the examples (synthetic) ------------------------------------------------------------------

EXAMPLE_OUTCOMES: tuple[dict[str, object], ...] = (
    {"treatment_id": "T0001", "patient_id": "P0001", "clinic": "Harbourside",
     "treatment_date": dt.date(2025, 3, 3), "modality": schema.ABLATIVE, "device": "Fractional CO2 10600 nm",
     "treatment_area": "face", "fitzpatrick_type": 2, "downtime_days": 7, "improvement_score": 3,
     "satisfaction": 5, "procedure_minutes": 50, "cost": 1200, "practitioner": "S01", "follow_up_visits": 2},
    {"treatment_id": "T0002", "patient_id": "P0002", "clinic": "Harbourside",
     "treatment_date": dt.date(2025, 3, 4), "modality": schema.NON_ABLATIVE, "device": "Er:glass 1550 nm",
     "treatment_area": "face", "fitzpatrick_type": 4, "downtime_days": 2, "improvement_score": 2,
     "satisfaction": 4, "procedure_minutes": 35, "cost": 450, "practitioner": "S02", "follow_up_visits": 0},
    {"treatment_id": "T0003", "patient_id": "P0003", "clinic": "Northgate",
     "treatment_date": dt.date(2025, 3, 10), "modality": schema.ABLATIVE, "device": "Er:YAG 2940 nm",
     "treatment_area": "neck", "fitzpatrick_type": 3, "downtime_days": 5.5, "improvement_score": 3,
     "satisfaction": 4, "procedure_minutes": 25, "cost": 800, "practitioner": "S03", "follow_up_visits": 1},
    {"treatment_id": "T0004", "patient_id": "P0002", "clinic": "Harbourside",
     "treatment_date": dt.date(2025, 4, 1), "modality": schema.NON_ABLATIVE, "device": "Er:glass 1550 nm",
     "treatment_area": "face", "fitzpatrick_type": 4, "downtime_days": 1.5, "improvement_score": 2,
     "satisfaction": None, "procedure_minutes": 35, "cost": 405, "practitioner": "S02", "follow_up_visits": 0},
    {"treatment_id": "T0005", "patient_id": "P0004", "clinic": "Eastfield",
     "treatment_date": dt.date(2025, 4, 7), "modality": schema.NON_ABLATIVE, "device": "Thulium 1927 nm",
     "treatment_area": "chest", "fitzpatrick_type": 6, "downtime_days": 3, "improvement_score": 1,
     "satisfaction": 3, "procedure_minutes": 55, "cost": 650, "practitioner": "S04", "follow_up_visits": 1},
)

EXAMPLE_SIDE_EFFECTS: tuple[dict[str, object], ...] = (
    {"treatment_id": "T0001", "effect": "erythema", "severity": "moderate", "onset_day": 0, "resolved_day": 14},
    {"treatment_id": "T0001", "effect": "edema", "severity": "mild", "onset_day": 0, "resolved_day": 4},
    {"treatment_id": "T0002", "effect": "erythema", "severity": "mild", "onset_day": 0, "resolved_day": 3},
    {"treatment_id": "T0005", "effect": "hyperpigmentation", "severity": "moderate", "onset_day": 21,
     "resolved_day": None},
)

# --- what each column holds, in plain words ----------------------------------------------------
# The schema's descriptions are written for the code; these are for the person filling in the sheet.

PLAIN: dict[tuple[str, str], str] = {
    ("outcomes", "treatment_id"): "A code for the treatment session, e.g. T0001. Side effects refer to the "
                                  "treatment by this code.",
    ("outcomes", "patient_id"): "A code for the patient, the same on each of their visits, e.g. P0001. Never "
                                "the patient's name, e-mail address or phone number.",
    ("outcomes", "clinic"): "The clinic or location where the treatment was done.",
    ("outcomes", "treatment_date"): "The day of the treatment.",
    ("outcomes", "modality"): "Whether the laser removes the top layer of the skin (ablative) or not "
                              "(non-ablative).",
    ("outcomes", "device"): "The laser or other device used, with its wavelength if known, e.g. "
                            "Fractional CO2 10600 nm.",
    ("outcomes", "treatment_area"): "The part of the body treated, e.g. face, neck, chest, hands.",
    ("outcomes", "fitzpatrick_type"): "The patient's skin type on the Fitzpatrick scale, from I (very fair "
                                      "skin that always burns) to VI (very dark skin that never burns).",
    ("outcomes", "downtime_days"): "How many days it took the patient to get back to their normal activities.",
    ("outcomes", "improvement_score"): "How much the treated skin improved, as judged by the practitioner: "
                                       "0 no change, 1 less than 25 %, 2 25 to 50 %, 3 51 to 75 %, "
                                       "4 more than 75 %.",
    ("outcomes", "satisfaction"): "How satisfied the patient was, from 1 (not at all) to 5 (very).",
    ("outcomes", "procedure_minutes"): "How long the treatment took, in minutes.",
    ("outcomes", "cost"): "The price of the session, in your clinic's currency.",
    ("outcomes", "practitioner"): "Who gave the treatment. A staff code is best, e.g. S01.",
    ("outcomes", "follow_up_visits"): "How many follow-up visits the patient had after this treatment.",
    ("side_effects", "treatment_id"): "The code of the treatment the side effect followed. It must be on the "
                                      "Outcomes sheet too.",
    ("side_effects", "effect"): "What kind of side effect it was.",
    ("side_effects", "severity"): "How bad the side effect was.",
    ("side_effects", "onset_day"): "How many days after the treatment the side effect began (0 is the day "
                                   "of the treatment).",
    ("side_effects", "resolved_day"): "How many days after the treatment the side effect was gone. Leave it "
                                      "blank while it has not gone.",
}

#: Plain words for the effects (the drop-down list offers the names the dashboard uses).
EFFECT_WORDS: dict[str, str] = {
    "hyperpigmentation": "darker patches", "hypopigmentation": "lighter patches", "erythema": "redness",
    "edema": "swelling", "acneiform eruption": "acne-like spots", "infection": "e.g. cold sores",
    "scarring": "", "blistering": "blisters or burns", "other": "anything else",
}

REQUIRED_WORDS: dict[tuple[str, str], str] = {
    ("outcomes", "modality"): "yes, unless the device column names the laser",
}

ACCEPTED_TEXT: dict[tuple[str, str], str] = {
    ("outcomes", "treatment_id"): "Any text or code; each code only once.",
    ("outcomes", "patient_id"): "Any code.",
    ("outcomes", "practitioner"): "Any text or code.",
    ("side_effects", "treatment_id"): "A treatment code from the Outcomes sheet.",
}

EXTRA_RULES: dict[tuple[str, str], str] = {
    ("outcomes", "cost"): "A currency sign is fine.",
    ("side_effects", "resolved_day"): "Not before the day it began.",
}

_UPPER = {"id": "ID", "fst": "FST", "gais": "GAIS", "co2": "CO2"}


# --- from the schema -------------------------------------------------------------------------

def _kinds() -> tuple[tuple[str, str, tuple[schema.Column, ...], tuple[dict[str, object], ...]], ...]:
    return (("outcomes", OUTCOMES_SHEET, schema.OUTCOME_COLUMNS, EXAMPLE_OUTCOMES),
            ("side_effects", SIDE_EFFECTS_SHEET, schema.SIDE_EFFECT_COLUMNS, EXAMPLE_SIDE_EFFECTS))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def accepted(kind: str, col: schema.Column) -> str:
    """What a cell of the column may hold, in plain words (from the column's type and range)."""
    if (kind, col.name) in ACCEPTED_TEXT:
        text = ACCEPTED_TEXT[(kind, col.name)]
    elif col.type == "text":
        text = "Any text."
    elif col.type == "date":
        text = ("A date from 1980 up to today, e.g. 2025-03-14: a date cell, or written as 14/03/2025 "
                "(or 03/14/2025 if your dates are month first).")
    elif col.type == "modality":
        text = " or ".join(schema.MODALITIES) + " (choose from the list)."
    elif col.type == "fitzpatrick":
        romans = list(schema.FITZPATRICK_ROMAN.values())
        text = f"{', '.join(romans[:-1])} or {romans[-1]} (choose from the list); 1 to 6 is fine too."
    elif col.type == "effect":
        named = [f"{e} ({EFFECT_WORDS[e]})" if EFFECT_WORDS.get(e) else e for e in schema.EFFECTS]
        text = "Choose one from the list: " + ", ".join(named) + "."
    elif col.type == "severity":
        text = f"{', '.join(schema.SEVERITIES[:-1])} or {schema.SEVERITIES[-1]} (choose from the list)."
    else:
        what = "A whole number" if col.type == "integer" else "A number"
        if col.minimum is not None and col.maximum is not None:
            text = f"{what} from {_number(col.minimum)} to {_number(col.maximum)}."
        elif col.minimum is not None:
            text = f"{what}, {_number(col.minimum)} or more."
        else:
            text = f"{what}."
    extra = EXTRA_RULES.get((kind, col.name))
    return f"{text} {extra}" if extra else text


def required_words(kind: str, col: schema.Column) -> str:
    return REQUIRED_WORDS.get((kind, col.name), "yes" if col.required else "no")


def marked_required(kind: str, col: schema.Column) -> bool:
    """Whether the header is bold: the column must be filled in (modality: unless the device tells)."""
    return col.required or (kind, col.name) in REQUIRED_WORDS


def other_names(col: schema.Column, count: int = SYNONYMS_SHOWN) -> str:
    """A few of the other header names the import recognises for the column, as a person would write them."""
    seen = {schema.normalise_header(col.name).replace(" ", "")}
    shown: list[str] = []
    for synonym in col.synonyms:
        words = schema.normalise_header(synonym).split()
        if "".join(words) in seen or any(len(w) == 1 or w.isdigit() for w in words):
            continue  # the column's own name, one already shown, or a folded form such as 'satisfaction 1 5'
        seen.add("".join(words))
        label = " ".join(_UPPER.get(w, w) for w in words)
        shown.append(label[:1].upper() + label[1:])
        if len(shown) == count:
            break
    return ", ".join(shown)


def plain(kind: str, col: schema.Column) -> str:
    try:
        return PLAIN[(kind, col.name)]
    except KeyError:
        raise KeyError(f"data/make_template.py: no plain description of the {kind} column {col.name!r}; "
                       "add one to PLAIN") from None


def readme_rows() -> list[tuple[str, str, str, str, str, str]]:
    """The Read me table: one row per column of both sheets."""
    return [(sheet, col.name, required_words(kind, col), plain(kind, col), accepted(kind, col), other_names(col))
            for kind, sheet, columns, _ in _kinds() for col in columns]


README_INTRO: tuple[str, ...] = (
    "How to fill in this template",
    "1. On the Outcomes sheet, put one row per treatment. If you record side effects, put one row per side "
    "effect on the Side effects sheet.",
    "2. Replace the example rows (treatments T0001 to T0005 and their side effects) with your own, and keep "
    "the header row as it is. Columns with a bold header must be filled in; the others may be left blank.",
    "3. Save the workbook and upload it on the Data page of the dashboard. A CSV file with the columns of the "
    "Outcomes sheet imports too (the CSV template is that sheet).",
    "Never put a patient's name, e-mail address, phone number or date of birth in the file: use a code such as "
    "P0001.",
    "Point at a header cell to see what its column holds. The table below describes every column.",
    "Headers you already use are fine too: the last column below lists some that are recognised, and capitals, "
    "spaces and punctuation do not matter.",
)


# --- the workbook ------------------------------------------------------------------------------

def _validation(kind: str, col: schema.Column) -> dict[str, object] | None:
    """A drop-down list or range check for the column, or None. Each only warns: the import also takes
    other spellings (e.g. '4' for skin type IV), so a value outside the list may still be right."""
    common: dict[str, object] = {"error_type": "warning", "error_title": col.name}
    if col.type in ("modality", "fitzpatrick", "effect", "severity"):
        source = {"modality": list(schema.MODALITIES), "fitzpatrick": list(schema.FITZPATRICK_ROMAN.values()),
                  "effect": list(schema.EFFECTS), "severity": list(schema.SEVERITIES)}[col.type]
        return {**common, "validate": "list", "source": source,
                "error_message": "Choose a value from the list (see the Read me sheet)."}
    if col.type in ("number", "integer") and col.minimum is not None:
        rule: dict[str, object] = {"validate": "integer" if col.type == "integer" else "decimal"}
        if col.maximum is not None:
            rule.update(criteria="between", minimum=col.minimum, maximum=col.maximum)
        else:
            rule.update(criteria=">=", value=col.minimum)
        return {**common, **rule, "error_message": accepted(kind, col)}
    if col.type == "date":
        return {**common, "validate": "date", "criteria": ">=", "value": dt.date(1980, 1, 1),
                "error_message": "Enter a date from 1980 up to today, e.g. 2025-03-14."}
    return None


def _record_sheet(book: xlsxwriter.Workbook, kind: str, name: str, columns: Sequence[schema.Column],
                  examples: Sequence[dict[str, object]], fmt: dict[str, object]) -> None:
    sheet = book.add_worksheet(name)
    sheet.set_comments_author(COMMENTS_AUTHOR)
    for c, col in enumerate(columns):
        sheet.write_string(0, c, col.name, fmt["required"] if marked_required(kind, col) else fmt["header"])
        note = f"{'Required. ' if marked_required(kind, col) else ''}{plain(kind, col)}\n{accepted(kind, col)}"
        sheet.write_comment(0, c, note, {"x_scale": 2.2, "y_scale": 2.0})
        width = max(len(col.name), *(len(_cell_text(col, row.get(col.name))) for row in examples)) + 2
        sheet.set_column(c, c, width, fmt["date"] if col.type == "date" else None)
        rule = _validation(kind, col)
        if rule:
            sheet.data_validation(1, c, LAST_ROW - 1, c, rule)
        for r, row in enumerate(examples, start=1):
            value = row.get(col.name)
            if value is None:
                continue
            if col.type == "date":
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), fmt["date"])
            elif col.type == "fitzpatrick":
                sheet.write_string(r, c, schema.FITZPATRICK_ROMAN[value])
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    sheet.freeze_panes(1, 0)


def _readme_sheet(book: xlsxwriter.Workbook, fmt: dict[str, object]) -> None:
    sheet = book.add_worksheet(README_SHEET)
    sheet.write_string(0, 0, README_INTRO[0], fmt["title"])
    for r, line in enumerate(README_INTRO[1:], start=1):
        sheet.write_string(r, 0, line)
    top = len(README_INTRO) + 1
    for c, header in enumerate(README_HEADERS):
        sheet.write_string(top, c, header, fmt["required"])
    for r, row in enumerate(readme_rows(), start=top + 1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value, fmt["wrap"])
    for c, width in enumerate((13, 20, 14, 55, 55, 40)):
        sheet.set_column(c, c, width)
    sheet.freeze_panes(top + 1, 0)


def build_workbook() -> bytes:
    """The template workbook's bytes (the same bytes on every run for a given XlsxWriter)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": "Laser treatment records: template", "created": CREATED,
                         "comments": "Made by data/make_template.py from analysis/records/schema.py"})
    fmt = {"header": book.add_format({"bg_color": "#EEEEEE", "bottom": 1}),
           "required": book.add_format({"bold": True, "bg_color": "#EEEEEE", "bottom": 1}),
           "date": book.add_format({"num_format": "yyyy-mm-dd"}),
           "title": book.add_format({"bold": True, "font_size": 13}),
           "wrap": book.add_format({"text_wrap": True, "valign": "top"})}
    for kind, name, columns, examples in _kinds():
        _record_sheet(book, kind, name, columns, examples, fmt)
    _readme_sheet(book, fmt)
    book.close()
    return out.getvalue()


# --- the CSV -----------------------------------------------------------------------------------

def _cell_text(col: schema.Column, value: object) -> str:
    """A value as the CSV holds it: ISO dates, Roman skin types, whole numbers without '.0'."""
    if value is None:
        return ""
    if col.type == "date":
        return value.isoformat()  # type: ignore[union-attr]
    if col.type == "fitzpatrick":
        return schema.FITZPATRICK_ROMAN[value]  # type: ignore[index]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def build_csv() -> bytes:
    """The CSV template's bytes: the Outcomes sheet's headers and example rows, UTF-8, comma separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(schema.OUTCOME_NAMES)
    for row in EXAMPLE_OUTCOMES:
        writer.writerow([_cell_text(col, row.get(col.name)) for col in schema.OUTCOME_COLUMNS])
    return out.getvalue().encode("utf-8")


def write_templates(out_dir: Path = DATA_DIR) -> list[Path]:
    """Write ``template.xlsx`` and ``template.csv`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / XLSX_NAME, out_dir / CSV_NAME]
    paths[0].write_bytes(build_workbook())
    paths[1].write_bytes(build_csv())
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default: the data/ directory)")
    args = parser.parse_args(argv)
    for path in write_templates(args.out):
        print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
