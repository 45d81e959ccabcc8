"""The record schema: column names, canonical values and the synonyms accepted on import.

This module is the single source of truth for what a record is. ``data/README.md`` is the
user-facing data dictionary written from it; keep the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

ABLATIVE = "ablative"
NON_ABLATIVE = "non-ablative"
MODALITIES: tuple[str, str] = (ABLATIVE, NON_ABLATIVE)

FITZPATRICK_ROMAN: dict[int, str] = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}

EFFECTS: tuple[str, ...] = (
    "hyperpigmentation",
    "hypopigmentation",
    "erythema",
    "edema",
    "acneiform eruption",
    "infection",
    "scarring",
    "blistering",
    "other",
)
SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")

ColumnType = Literal["text", "date", "modality", "fitzpatrick", "number", "integer", "effect", "severity"]


@dataclass(frozen=True)
class Column:
    """One column of a record kind: its canonical name, type, rule and accepted header synonyms."""

    name: str
    type: ColumnType
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    synonyms: tuple[str, ...] = ()
    description: str = ""


#: What a person calls each column (the mapping screen and messages use these; files may use any synonym).
LABELS: dict[str, str] = {
    "treatment_id": "Treatment id", "patient_id": "Patient code", "clinic": "Clinic",
    "treatment_date": "Treatment date", "modality": "Laser type (ablative or non-ablative)", "device": "Device",
    "treatment_area": "Treatment area", "fitzpatrick_type": "Fitzpatrick skin type",
    "downtime_days": "Downtime (days)", "improvement_score": "Improvement score (0–4)",
    "satisfaction": "Satisfaction (1–5)", "procedure_minutes": "Procedure time (minutes)", "cost": "Cost",
    "practitioner": "Practitioner", "follow_up_visits": "Follow-up visits", "effect": "Side effect",
    "severity": "Severity", "onset_day": "Onset (days after treatment)",
    "resolved_day": "Resolved (days after treatment)",
}


def label(name: str) -> str:
    """A column's name as a person reads it ('Fitzpatrick skin type' for ``fitzpatrick_type``)."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


OUTCOME_COLUMNS: tuple[Column, ...] = (
    Column("treatment_id", "text", required=True,
           synonyms=("treatment", "treatment id", "treatment no", "treatment number", "session id",
                     "session", "visit id", "record id", "id"),
           description="Unique id of the treatment session within the dataset."),
    Column("patient_id", "text",
           synonyms=("patient", "patient code", "patient ref", "patient reference", "client id",
                     "client code", "pseudonym"),
           description="Pseudonymous patient code (never a name)."),
    Column("clinic", "text", synonyms=("location", "site", "branch", "clinic name"),
           description="Clinic or location."),
    Column("treatment_date", "date", required=True,
           synonyms=("date", "date of treatment", "treatment date", "session date", "visit date",
                     "procedure date"),
           description="Date of the session."),
    Column("modality", "modality",
           synonyms=("laser type", "type of laser", "treatment type", "ablative non ablative",
                     "ablation"),
           description="ablative or non-ablative; may be left blank when the device is known."),
    Column("device", "text", synonyms=("laser", "device name", "laser device", "machine", "wavelength"),
           description="Laser or energy device, e.g. fractional CO2 10600 nm."),
    Column("treatment_area", "text",
           synonyms=("area", "body area", "treated area", "zone", "region", "site treated",
                     "treatment site"),
           description="Body area treated: face, neck, chest, hands, ..."),
    Column("fitzpatrick_type", "fitzpatrick", required=True,
           synonyms=("fitzpatrick", "fitzpatrick skin type", "skin type", "fst", "skin phototype",
                     "phototype", "fitz", "fitzpatrick type"),
           description="Fitzpatrick skin type I-VI."),
    Column("downtime_days", "number", minimum=0, maximum=90,
           synonyms=("downtime", "downtime days", "downtime d", "recovery days", "days of downtime",
                     "recovery time", "social downtime"),
           description="Days until the patient returned to normal activities (0-90)."),
    Column("improvement_score", "integer", minimum=0, maximum=4,
           synonyms=("improvement", "improvement score", "quartile improvement", "result",
                     "outcome score", "gais"),
           description="Investigator-rated quartile improvement: 0 none, 1 <25 %, 2 25-50 %, "
                       "3 51-75 %, 4 >75 %."),
    Column("satisfaction", "integer", minimum=1, maximum=5,
           synonyms=("patient satisfaction", "satisfaction score", "satisfaction 1 5"),
           description="Patient satisfaction 1-5."),
    Column("procedure_minutes", "number", minimum=0, maximum=600,
           synonyms=("procedure time", "duration", "duration minutes", "procedure duration",
                     "minutes", "procedure minutes", "time minutes"),
           description="Length of the procedure in minutes."),
    Column("cost", "number", minimum=0,
           synonyms=("price", "fee", "charge", "amount", "cost per session", "session cost"),
           description="Price of the session in the clinic's currency."),
    Column("practitioner", "text",
           synonyms=("technician", "operator", "clinician", "provider", "therapist",
                     "practitioner code", "treated by"),
           description="Practitioner or technician (a staff code or name)."),
    Column("follow_up_visits", "integer", minimum=0, maximum=100,
           synonyms=("follow ups", "follow up", "followups", "follow up visits", "number of follow ups"),
           description="Number of follow-up visits."),
)

SIDE_EFFECT_COLUMNS: tuple[Column, ...] = (
    Column("treatment_id", "text", required=True, synonyms=OUTCOME_COLUMNS[0].synonyms,
           description="The treatment the event followed; must match an outcome record."),
    Column("effect", "effect", required=True,
           synonyms=("side effect", "adverse event", "event", "complication", "reaction",
                     "effect type"),
           description="Kind of side effect: " + ", ".join(EFFECTS) + "."),
    Column("severity", "severity", synonyms=("grade", "severity grade"),
           description="mild, moderate or severe."),
    Column("onset_day", "number", minimum=0, maximum=3650,
           synonyms=("onset", "onset days", "day of onset", "onset day post treatment"),
           description="Days after treatment the effect began."),
    Column("resolved_day", "number", minimum=0, maximum=3650,
           synonyms=("resolved", "resolution day", "resolved days", "day resolved", "resolution"),
           description="Days after treatment the effect resolved (not before onset)."),
)

OUTCOME_NAMES: tuple[str, ...] = tuple(c.name for c in OUTCOME_COLUMNS)
SIDE_EFFECT_NAMES: tuple[str, ...] = tuple(c.name for c in SIDE_EFFECT_COLUMNS)


def normalise_header(text: str) -> str:
    """Fold a header for matching: lower case, ``&`` to ``and``, anything but letters/digits to one space."""
    text = str(text).replace("\ufeff", "").strip().lower().replace("&", " and ")
    text = re.sub(r"\(.*?\)", lambda m: " " + m.group(0)[1:-1] + " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _header_index(columns: tuple[Column, ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    for col in columns:
        for label in (col.name, *col.synonyms):
            index[normalise_header(label)] = col.name
            index[normalise_header(label).replace(" ", "")] = col.name
    return index


OUTCOME_HEADERS: dict[str, str] = _header_index(OUTCOME_COLUMNS)
SIDE_EFFECT_HEADERS: dict[str, str] = _header_index(SIDE_EFFECT_COLUMNS)

# --- canonical values -----------------------------------------------------------------------

_MODALITY_WORDS: dict[str, str] = {
    "ablative": ABLATIVE, "abl": ABLATIVE, "a": ABLATIVE, "fully ablative": ABLATIVE,
    "fractional ablative": ABLATIVE, "ablative fractional": ABLATIVE,
    "non ablative": NON_ABLATIVE, "nonablative": NON_ABLATIVE, "non abl": NON_ABLATIVE,
    "na": NON_ABLATIVE, "n": NON_ABLATIVE, "non": NON_ABLATIVE,
    "fractional non ablative": NON_ABLATIVE, "non ablative fractional": NON_ABLATIVE,
}


def parse_modality(value: str) -> str | None:
    """Return ``ablative`` / ``non-ablative`` for a modality label, or None if not recognised."""
    return _MODALITY_WORDS.get(normalise_header(value))


# Devices whose modality is fixed. Patterns are searched in the normalised device text.
# Ablative: CO2 10 600 nm and Er:YAG 2 940 nm vaporise tissue; non-ablative: Er:glass 1 550 nm,
# thulium 1 927 nm, Nd:YAG 1 064 nm, 1 540 nm, diode 1 450 nm, radiofrequency, IPL heat without
# removing the epidermis (Alexiades-Armenakas et al., J Am Acad Dermatol 2008;58:719-37).
_DEVICE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bco2\b|\bco 2\b|carbon dioxide|10600|10 600|\bcorepair\b|\brepair\b|ultrapulse", ABLATIVE),
    (r"er ?yag|erbium yag|erbium yttrium|2940|2 940|\berbium\b(?! glass)", ABLATIVE),
    (r"er ?glass|erbium glass|1550|1 550|1540|1 540|fraxel restore|\brestore\b", NON_ABLATIVE),
    (r"thulium|1927|1 927", NON_ABLATIVE),
    (r"nd ?yag|1064|1 064|neodymium", NON_ABLATIVE),
    (r"radio ?frequency|\brf\b|microneedling rf|\bipl\b|intense pulsed light|diode|1450|1 450",
     NON_ABLATIVE),
)


def device_modality(device: str) -> str | None:
    """Return the modality implied by a device name, or None when the device does not tell."""
    text = normalise_header(device)
    if not text:
        return None
    for pattern, modality in _DEVICE_PATTERNS:
        if re.search(pattern, text):
            return modality
    return None


_ROMAN: dict[str, int] = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
_FITZ_PREFIX = re.compile(
    r"^(?:fitzpatrick|fitz|fst|skin type|skin phototype|phototype|type|skin|st|ft|fp)\s*(?:type)?\s*")


def parse_fitzpatrick(value: str) -> int | None:
    """Return the Fitzpatrick type 1-6 for ``4``, ``IV``, ``iv``, ``Type 4``, ``FST IV``, ... or None."""
    raw = str(value).strip()
    if re.fullmatch(r"\d+(?:[.,]0+)?", raw):
        raw = re.split(r"[.,]", raw)[0]
    elif raw[:1] in ("+", "-", "\u2212"):
        return None  # a signed number ('-1', '+1') is no skin type, though folding would drop its sign
    text = _FITZ_PREFIX.sub("", normalise_header(raw)).strip()
    if text in _ROMAN:
        return _ROMAN[text]
    if re.fullmatch(r"[0-9]+", text) and 1 <= int(text) <= 6:  # digits only: '1e0' or '1 5' is no type
        return int(text)
    return None


_EFFECT_WORDS: dict[str, str] = {
    "hyperpigmentation": "hyperpigmentation", "pih": "hyperpigmentation",
    "post inflammatory hyperpigmentation": "hyperpigmentation",
    "postinflammatory hyperpigmentation": "hyperpigmentation", "hyper pigmentation": "hyperpigmentation",
    "hyperpig": "hyperpigmentation", "darkening": "hyperpigmentation", "dark spots": "hyperpigmentation",
    "hypopigmentation": "hypopigmentation", "hypo pigmentation": "hypopigmentation",
    "hypopig": "hypopigmentation", "lightening": "hypopigmentation", "depigmentation": "hypopigmentation",
    "erythema": "erythema", "redness": "erythema", "red": "erythema", "prolonged erythema": "erythema",
    "edema": "edema", "oedema": "edema", "swelling": "edema", "swollen": "edema",
    "acneiform eruption": "acneiform eruption", "acneiform": "acneiform eruption", "acne": "acneiform eruption",
    "milia": "acneiform eruption", "breakout": "acneiform eruption",
    "infection": "infection", "herpes": "infection", "hsv": "infection", "bacterial infection": "infection",
    "herpes simplex": "infection", "impetigo": "infection",
    "scarring": "scarring", "scar": "scarring", "scars": "scarring",
    "blistering": "blistering", "blister": "blistering", "blisters": "blistering", "bullae": "blistering",
    "burn": "blistering", "other": "other",
}


def parse_effect(value: str) -> str | None:
    """Return the canonical effect for a label (``PIH`` -> ``hyperpigmentation``), or None."""
    return _EFFECT_WORDS.get(normalise_header(value))


_SEVERITY_WORDS: dict[str, str] = {
    "mild": "mild", "1": "mild", "minor": "mild", "low": "mild", "slight": "mild", "grade 1": "mild",
    "moderate": "moderate", "2": "moderate", "mod": "moderate", "medium": "moderate",
    "grade 2": "moderate", "severe": "severe", "3": "severe", "sev": "severe", "high": "severe",
    "serious": "severe", "major": "severe", "grade 3": "severe",
}


def parse_severity(value: str) -> str | None:
    """Return mild / moderate / severe for a label, or None."""
    return _SEVERITY_WORDS.get(normalise_header(value))


_FLAG_WORDS: dict[str, bool] = {
    "yes": True, "y": True, "1": True, "true": True, "x": True, "t": True, "present": True,
    "no": False, "n": False, "0": False, "false": False, "": False, "f": False, "none": False,
    "absent": False, "-": False,
}


def parse_flag(value: str) -> bool | None:
    """Return True/False for a yes/no flag cell (yes, y, 1, true, x / no, n, 0, false, blank), or None."""
    text = str(value).strip().lower()
    if text in _FLAG_WORDS:
        return _FLAG_WORDS[text]
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return None
    if number in (0.0, 1.0):
        return number == 1.0
    return None


# --- patient identifiers ---------------------------------------------------------------------

_PII_HEADER = re.compile(
    r"^(?:patient |client |customer )?(?:first |last |given |family |full |sur|middle |maiden )?name$"
    r"|^(?:e ?mail|email address|mail)$"
    r"|phone|mobile|cell|telephone|^tel$|^fax$"
    r"|address|street|postcode|post code|zip|postal"
    r"|^dob$|date of birth|birth ?date|birthday|born"
    r"|ssn|social security|national insurance|^nino$|nhs (?:no|number)|passport|driving licen"
    r"|^(?:mrn|medical record number|hospital number)$"
)


def looks_like_identifier_header(header: str) -> bool:
    """True when a column header names a direct patient identifier (name, email, phone, address, DOB)."""
    return bool(_PII_HEADER.search(normalise_header(header)))


EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
PHONE_VALUE = re.compile(r"^\+?[\d\s().-]{9,}$")
#: Two to four words of letters (with ' ’ . - inside), no digit: the shape of "Jane Smith", "Smith, Jane",
#: "Mary-Kate O'Neil", "Ludwig van Beethoven". Pseudonymous codes carry digits ("PX-0007", "P000123").
NAME_VALUE = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’.-])*(?:,? [^\W\d_](?:[^\W\d_]|['’.-])*){1,3}$")


def looks_like_name(value: str) -> bool:
    """True for a value shaped like a personal name whose first and last words are capitalised
    ("Jane Smith", "Smith, Jane"); lower-case phrases such as "not recorded" are not names."""
    if not NAME_VALUE.match(value):
        return False
    words = value.replace(",", " ").split()
    return words[0][0].isupper() and words[-1][0].isupper()


def identifying(value: str) -> bool:
    """True for a value that identifies a person: an e-mail address, a phone number or a personal name."""
    return bool(EMAIL_VALUE.match(value) or PHONE_VALUE.match(value) or looks_like_name(value))


# --- typed frames ------------------------------------------------------------------------------

_TEXT_OUTCOMES = ("treatment_id", "patient_id", "clinic", "device", "treatment_area", "practitioner")
_FLOAT_OUTCOMES = ("downtime_days", "improvement_score", "satisfaction", "procedure_minutes", "cost",
                   "follow_up_visits")
SIDE_EFFECT_FRAME_COLUMNS: tuple[str, ...] = ("treatment_id", "effect", "effect_detail", "severity",
                                              "onset_day", "resolved_day")


def _as_text(values: "pd.Series") -> "pd.Series":
    return values.astype(object).where(values.notna(), None)


def coerce_outcomes(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Give an outcome frame the canonical column order and dtypes.

    Text columns are ``object`` with None for missing; ``treatment_date`` is ``datetime64[ns]``;
    ``modality`` a categorical of (ablative, non-ablative); ``fitzpatrick_type`` int8 (1-6);
    every optional number (scores included) float64 with NaN for missing.
    """
    import pandas as pd

    out = pd.DataFrame(index=range(len(frame)))
    frame = frame.reset_index(drop=True)
    for name in OUTCOME_NAMES:
        col = frame[name]
        if name in _TEXT_OUTCOMES:
            out[name] = _as_text(col)
        elif name == "treatment_date":
            out[name] = pd.to_datetime(col).astype("datetime64[ns]")
        elif name == "modality":
            out[name] = pd.Categorical(col.astype(object), categories=list(MODALITIES))
        elif name == "fitzpatrick_type":
            out[name] = col.astype("int8")
        else:
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return out


def coerce_side_effects(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Give a side-effect frame the canonical columns and dtypes (text as object, days as float64)."""
    import pandas as pd

    out = pd.DataFrame(index=range(len(frame)))
    frame = frame.reset_index(drop=True)
    for name in SIDE_EFFECT_FRAME_COLUMNS:
        col = frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)
        if name in ("onset_day", "resolved_day"):
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            out[name] = _as_text(col)
    return out
