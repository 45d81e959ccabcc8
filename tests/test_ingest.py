"""Import rules, one test per rule, on the messy-file corpus in tests/corpus/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.records import schema
from analysis.records.ingest import (
    WITHHELD,
    DateOrderNeeded,
    ImportOptions,
    ImportProblem,
    MissingColumns,
    SourceFile,
    import_files,
)
from analysis.records.columns import plan_columns
from analysis.records.read import read_table

CORPUS = Path(__file__).parent / "corpus"


def src(name: str) -> SourceFile:
    return SourceFile.from_path(CORPUS / name)


def problems_for(result, row: int) -> pd.DataFrame:
    p = result.report.problems
    return p[p["row"] == row]


# --- reading: encodings, delimiters, quoting ----------------------------------------------------

def test_utf8_bom_comma_and_quoted_fields():
    result = import_files(src("bom_utf8.csv"))
    out = result.outcomes
    assert list(out["treatment_id"]) == ["T1", "T2", "T3"]
    assert out.loc[0, "clinic"] == "Clínica Sèvres, Paris"
    assert out.loc[1, "treatment_area"] == "face, neck"
    assert out.loc[2, "clinic"] == 'He said "hi"'
    assert result.report.files[0].encoding == "UTF-8 with BOM"
    assert list(out["fitzpatrick_type"]) == [4, 2, 1]


def test_semicolon_with_decimal_commas_and_day_first_dates():
    result = import_files(src("semicolon_decimal_comma.csv"))
    out = result.outcomes
    assert result.report.files[0].delimiter == ";"
    assert list(out["downtime_days"]) == [6.5, 2.0, 1.5]
    assert list(out["cost"]) == [1250.0, 300.0, 450.75]
    assert out.loc[0, "procedure_minutes"] == 45.5
    # 25/03 and 13/04 can only be day-first, so 02/04/2024 is 2 April.
    assert list(out["treatment_date"].dt.strftime("%Y-%m-%d")) == ["2024-03-25", "2024-04-02", "2024-04-13"]
    assert list(out["modality"]) == ["ablative", "non-ablative", "non-ablative"]


def test_latin1_tab_delimited_names_survive():
    result = import_files(src("latin1_tab.csv"))
    out = result.outcomes
    assert result.report.files[0].encoding == "Windows-1252"
    assert result.report.files[0].delimiter == "\t"
    assert set(out["clinic"]) == {"Clínica São João"}
    assert set(out["practitioner"]) == {"Dr Müller"}
    assert list(out["modality"]) == ["ablative", "non-ablative"]  # from Er:YAG and Nd:YAG


def test_utf16_unicode_text_from_excel():
    result = import_files(src("utf16_excel_unicode.txt"))
    assert result.report.files[0].encoding == "UTF-16"
    assert list(result.outcomes["treatment_id"]) == ["U1"]


# --- field rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("1", 1), ("6", 6), ("IV", 4), ("iv", 4), ("Type 4", 4), ("type IV", 4), ("FST IV", 4),
    ("Fitzpatrick VI", 6), (" V ", 5), ("4.0", 4), ("7", None), ("0", None), ("pale", None), ("", None),
    ("VII", None), ("4.5", None),
    # signed numbers and exponents are no skin type: they were taken as type I once punctuation was folded
    ("-1", None), ("+1", None), ("1e0", None), ("\u22121", None), ("-IV", None), ("1 5", None), ("4,0", 4),
])
def test_parse_fitzpatrick(text, expected):
    assert schema.parse_fitzpatrick(text) == expected


def test_mixed_fitzpatrick_notations():
    result = import_files(src("mixed_fitzpatrick.csv"))
    assert list(result.outcomes["fitzpatrick_type"]) == [1, 4, 4, 4, 4, 4, 6]
    rejected = result.report.problems.set_index("row")
    assert "not a Fitzpatrick skin type" in rejected.loc[9, "reason"]   # F8: 7
    assert "is required" in rejected.loc[10, "reason"]                  # F9: blank
    assert rejected.loc[11, "value"] == "pale"


def test_signed_or_exponent_skin_types_are_rejected_rows():
    """Found walking through as a new user: '-1', '+1' and '1e0' were stored as type I."""
    text = "treatment_id,treatment_date,modality,fitzpatrick_type\n" + "".join(
        f"S{i},2024-01-10,ablative,{v}\n" for i, v in enumerate(["-1", "+1", "1e0", "2", "-6"]))
    result = import_files(SourceFile("signs.csv", text.encode()))
    assert list(result.outcomes["treatment_id"]) == ["S3"]
    problems = result.report.problems
    assert list(problems["row"]) == [2, 3, 4, 6]
    assert list(problems["value"]) == ["-1", "+1", "1e0", "-6"]
    assert set(problems["column"]) == {"fitzpatrick_type"}
    assert all(r.startswith("is not a Fitzpatrick skin type") for r in problems["reason"])
    assert list(result.report.rejected_rows["signs.csv"]["row"]) == [2, 3, 4, 6]


def test_bad_dates_are_rejected_rows_with_reasons():
    result = import_files(src("bad_dates.csv"))
    accepted = dict(zip(result.outcomes["treatment_id"], result.outcomes["treatment_date"].dt.strftime("%Y-%m-%d")))
    # 14/03/2024 shows the column is day-first; Excel serial 45292 is 2024-01-01; 05/06/24 is 5 June 2024.
    assert accepted == {"D2": "2024-03-14", "D4": "2024-01-01", "D8": "2024-06-05"}
    by_row = result.report.problems.set_index("row")["reason"]
    assert by_row[2] == "is not a real date: February has no day 31"
    assert "is not a date" in by_row[4]
    assert "in the future" in by_row[6]
    assert "no such month" in by_row[7]
    assert "is required" in by_row[8]


def test_ambiguous_dates_ask_instead_of_guessing():
    with pytest.raises(DateOrderNeeded) as info:
        import_files(src("ambiguous_dates.csv"))
    assert "--dayfirst" in str(info.value) and "03/04/2024" in str(info.value)
    day_first = import_files(src("ambiguous_dates.csv"), options=ImportOptions(date_order="dayfirst"))
    month_first = import_files(src("ambiguous_dates.csv"), options=ImportOptions(date_order="monthfirst"))
    assert day_first.outcomes.loc[0, "treatment_date"] == pd.Timestamp("2024-04-03")
    assert month_first.outcomes.loc[0, "treatment_date"] == pd.Timestamp("2024-03-04")
    assert day_first.outcomes.loc[2, "treatment_date"] == pd.Timestamp("2024-07-08")  # ISO is unaffected


def test_month_first_is_decided_from_the_column():
    result = import_files(src("month_first_dates.csv"))
    assert list(result.outcomes["treatment_date"].dt.strftime("%Y-%m-%d")) == ["2024-03-04", "2024-12-25"]


def test_out_of_range_and_non_numeric_values_reject_the_row():
    result = import_files(src("bad_numbers.csv"))
    assert list(result.outcomes["treatment_id"]) == ["N7"]
    reasons = result.report.problems.set_index("row")[["column", "value", "reason"]]
    assert tuple(reasons.loc[2]) == ("downtime_days", "-3", "must be between 0 and 90")
    assert tuple(reasons.loc[3]) == ("downtime_days", "120", "must be between 0 and 90")
    assert tuple(reasons.loc[4]) == ("downtime_days", "abc", "is not a number")
    assert tuple(reasons.loc[5]) == ("improvement_score", "5", "must be between 0 and 4")
    assert tuple(reasons.loc[6]) == ("satisfaction", "0", "must be between 1 and 5")
    assert tuple(reasons.loc[7]) == ("improvement_score", "2.5", "must be a whole number")
    assert result.outcomes.loc[0, "downtime_days"] == 0.0  # zero is a valid downtime


def test_duplicate_ids_keep_the_first_and_name_the_row_repeated():
    result = import_files(src("duplicate_ids.csv"))
    assert list(result.outcomes["treatment_id"]) == ["X1", "X2"]
    assert result.outcomes.loc[0, "treatment_date"] == pd.Timestamp("2024-01-01")
    p = result.report.problems
    assert list(p["row"]) == [4, 5]
    assert set(p["reason"]) == {"repeats the treatment_id of row 2"}


def test_orphan_side_effects_are_reported_not_stored():
    result = import_files(src("orphans_outcomes.csv"), src("orphans_side_effects.csv"))
    assert list(result.outcomes["treatment_id"]) == ["O1", "O2"]  # O3 has Fitzpatrick 9
    assert list(result.side_effects["treatment_id"]) == ["O1", "O2"]
    side = result.report.problems[result.report.problems["file"] == "orphans_side_effects.csv"].set_index("row")
    assert "no outcome record has this treatment_id" in side.loc[4, "reason"]
    assert side.loc[5, "reason"] == "its outcome row (orphans_outcomes.csv row 4) was rejected"
    assert result.report.files[1].rows_rejected == 2


def test_side_effect_synonyms_severity_and_durations():
    result = import_files(src("orphans_outcomes.csv"), src("side_effect_synonyms.csv"))
    se = result.side_effects
    assert list(se["effect"]) == ["hyperpigmentation", "erythema", "edema", "edema", "other"]
    assert list(se["severity"]) == ["moderate", "mild", "mild", "severe", "mild"]
    assert se.loc[4, "effect_detail"] == "itching"
    p = result.report.problems.set_index("row")
    assert p.loc[6, "severity"] == "warning"                       # itching kept as 'other'
    assert "not a severity" in p.loc[7, "reason"]                  # acne, 'extreme'
    assert "before the onset day" in p.loc[8, "reason"]            # blister resolved 2 < onset 5


def test_flag_columns_become_side_effect_records():
    result = import_files(src("combined_flags.csv"))
    assert list(result.outcomes["treatment_id"]) == ["C1", "C2", "C3"]
    pairs = set(zip(result.side_effects["treatment_id"], result.side_effects["effect"]))
    assert pairs == {("C1", "hyperpigmentation"), ("C1", "erythema"), ("C1", "edema"),
                     ("C3", "hyperpigmentation"), ("C3", "erythema"), ("C3", "edema")}
    bad = result.report.problems.set_index("row")
    assert bad.loc[5, "column"] == "PIH" and "yes/no" in bad.loc[5, "reason"]
    assert result.report.files[0].columns["Scarring"] == "flag: scarring"


@pytest.mark.parametrize("value,expected", [
    ("yes", True), ("Y", True), ("1", True), ("TRUE", True), ("x", True), ("X", True), ("1.0", True),
    ("no", False), ("n", False), ("0", False), ("false", False), ("", False), ("  ", False), ("maybe", None),
    ("2", None),
])
def test_parse_flag(value, expected):
    assert schema.parse_flag(value) is expected if expected is not None else schema.parse_flag(value) is None


@pytest.mark.parametrize("header,column", [
    ("Skin type", "fitzpatrick_type"), ("Fitzpatrick", "fitzpatrick_type"), ("FST", "fitzpatrick_type"),
    ("Downtime (days)", "downtime_days"), ("Date of treatment", "treatment_date"), ("TREATMENT_ID", "treatment_id"),
    (" treatment id ", "treatment_id"), ("Laser", "device"), ("Technician", "practitioner"), ("Area", "treatment_area"),
])
def test_headers_match_case_and_space_insensitively_with_synonyms(header, column):
    assert plan_columns([header], "outcomes").mapping == {header: column}


# --- patient identifiers -------------------------------------------------------------------------

def test_identifier_columns_are_dropped_and_reported():
    result = import_files(src("pii_columns.csv"))
    summary = result.report.files[0]
    assert set(summary.dropped_identifier_columns) == {"Patient Name", "Email", "Phone", "Date of Birth",
                                                       "Home Address"}
    assert any("NOT stored" in n for n in result.report.notes)
    assert list(result.outcomes["patient_id"]) == ["PX-001", "PX-002"]  # the pseudonymous code stays
    stored_text = result.outcomes.astype(str).to_string()
    for leaked in ("Jane", "jane@example.com", "7946", "1980-02-03", "High St"):
        assert leaked not in stored_text


def test_identifier_values_in_patient_id_are_dropped():
    result = import_files(src("pii_in_patient_id.csv"))
    assert result.outcomes["patient_id"].isna().all()
    assert any("e-mail addresses, phone numbers or personal names" in n for n in result.report.notes)


def test_rejected_rows_never_carry_identifier_columns():
    result = import_files(src("pii_columns.csv"))
    for rows in result.report.rejected_rows.values():
        assert "Email" not in rows.columns


# --- whole-file refusals -------------------------------------------------------------------------

@pytest.mark.parametrize("name,words", [
    ("empty.csv", "the file is empty"),
    ("header_only.csv", "no data rows"),
    ("binary.csv", "binary data"),
    ("renamed_xlsx.csv", "Excel workbook"),
    ("no_valid_rows.csv", "no row could be imported"),
])
def test_unusable_files_are_refused_with_how_to_fix(name, words):
    with pytest.raises(ImportProblem) as info:
        import_files(src(name))
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert words in message
    assert info.value.how_to_fix


def test_no_valid_rows_names_the_first_problems():
    with pytest.raises(ImportProblem) as info:
        import_files(src("no_valid_rows.csv"))
    assert "row 2 'treatment_date' = 'notadate'" in str(info.value)
    assert "row 3 'fitzpatrick_type' = '12'" in str(info.value)


def test_missing_required_column_names_it_and_the_accepted_headers():
    with pytest.raises(MissingColumns) as info:
        import_files(src("missing_required.csv"))
    assert info.value.missing == ["fitzpatrick_type"]
    assert "'Skin type'" in str(info.value) or "'skin type'" in str(info.value)


def test_unrecognised_headers_can_be_mapped():
    with pytest.raises(MissingColumns) as info:
        import_files(src("unrecognised_headers.csv"))
    assert set(info.value.missing) == {"treatment_id", "treatment_date", "fitzpatrick_type", "modality"}
    assert info.value.headers == ["Ref", "When", "Kind", "Tone", "Days off"]
    mapping = {"Ref": "treatment_id", "When": "treatment_date", "Kind": "modality", "Tone": "fitzpatrick_type",
               "Days off": "downtime_days"}
    result = import_files(src("unrecognised_headers.csv"), options=ImportOptions(outcome_columns=mapping))
    assert list(result.outcomes["downtime_days"]) == [6.0, 1.0]


def test_ragged_rows_are_reported_with_their_row_number():
    result = import_files(src("ragged.csv"))
    assert list(result.outcomes["treatment_id"]) == ["G1", "G3", "G4"]
    p = result.report.problems
    assert list(p["row"]) == [3]
    assert "has 10 fields but the header has 8" in p.iloc[0]["reason"]
    assert any("1 empty row(s) skipped" in n for n in result.report.notes)
    table = read_table(src("ragged.csv"))
    assert list(table.rows) == [2, 4, 6]  # spreadsheet row numbers survive the blank and ragged rows


def test_nothing_is_dropped_silently():
    """Every data row of every corpus file is either accepted or named in the report."""
    for name in ("bad_dates.csv", "bad_numbers.csv", "duplicate_ids.csv", "mixed_fitzpatrick.csv",
                 "combined_flags.csv", "ragged.csv"):
        result = import_files(src(name))
        summary = result.report.files[0]
        rejected_rows = set(result.report.problems.query("severity == 'rejected'")["row"])
        assert summary.rows_accepted + len(rejected_rows) == summary.rows_read, name
        assert summary.rows_accepted == len(result.outcomes), name


def test_report_summary_lines_name_file_row_column_value_and_reason():
    result = import_files(src("bad_numbers.csv"))
    lines = result.report.summary_lines()
    assert "bad_numbers.csv row 2, column 'downtime_days', value '-3': must be between 0 and 90 (rejected)" in lines


def test_rejected_rows_table_is_ready_to_fix_and_reupload():
    result = import_files(src("bad_numbers.csv"))
    rows = result.report.rejected_rows["bad_numbers.csv"]
    assert list(rows["row"]) == [2, 3, 4, 5, 6, 7]
    assert list(rows.columns[:3]) == ["row", "treatment_id", "treatment_date"]
    assert rows.loc[0, "problems"] == "downtime_days: must be between 0 and 90"


def test_imported_frames_have_canonical_types():
    result = import_files(src("semicolon_decimal_comma.csv"))
    out = result.outcomes
    assert list(out.columns) == list(schema.OUTCOME_NAMES)
    assert str(out["fitzpatrick_type"].dtype) == "int8"
    assert list(out["modality"].cat.categories) == list(schema.MODALITIES)
    assert str(out["treatment_date"].dtype) == "datetime64[ns]"
    assert list(result.side_effects.columns) == list(schema.SIDE_EFFECT_FRAME_COLUMNS)


def test_extra_fields_on_the_first_data_row_are_reported_not_dropped():
    # Found by fuzzing: pandas would silently take extra leading fields as an index, or drop them.
    data = b"treatment_id,treatment_date,modality,fitzpatrick_type\nN1,2024-01-01,ablative,2,EXTRA,MORE\n" \
           b"N2,2024-01-02,ablative,3\n"
    result = import_files(SourceFile("x.csv", data))
    assert list(result.outcomes["treatment_id"]) == ["N2"]
    assert "has 6 fields but the header has 4" in result.report.problems.iloc[0]["reason"]


def test_trailing_empty_fields_from_excel_are_accepted():
    data = b"treatment_id,treatment_date,modality,fitzpatrick_type\nN1,2024-01-01,ablative,2,,\nN2,2024-01-02,ablative,3,\n"
    result = import_files(SourceFile("y.csv", data))
    assert list(result.outcomes["treatment_id"]) == ["N1", "N2"] and result.report.problems.empty


@pytest.mark.parametrize("value", ["2730-01-01", "0001-01-01", "13/01/9999"])
def test_implausible_years_are_rejected_rows(value):
    # Found by fuzzing: years outside pandas' nanosecond range crashed the import.
    data = f"treatment_id,treatment_date,modality,fitzpatrick_type\nA,{value},ablative,2\nB,2024-01-01,ablative,2\n"
    result = import_files(SourceFile("d.csv", data.encode()))
    assert list(result.outcomes["treatment_id"]) == ["B"]
    assert result.report.problems.iloc[0]["reason"] == "has an implausible year; check the date"


def test_several_blank_headers_do_not_break_the_import():
    # Found by fuzzing: two blank header cells shared one column name.
    data = b"treatment_id,treatment_date,modality,fitzpatrick_type,,\nA,2024-01-01,ablative,2,,\n"
    assert list(import_files(SourceFile("h.csv", data)).outcomes["treatment_id"]) == ["A"]


# --- no identifier value is quoted (issue 7) ------------------------------------------------------

PII_HEADER = "treatment_id,Patient Name,treatment_date,modality,fitzpatrick_type\n"


def test_a_ragged_row_is_not_quoted_when_the_file_has_identifier_columns():
    data = (PII_HEADER + "A,Jane Doe,2024-01-01,ablative,2\nB,Doe, Jane,2024-01-02,ablative,3\n").encode()
    result = import_files(SourceFile("r.csv", data))
    p = result.report.problems
    assert list(p["row"]) == [3] and p.iloc[0]["column"] == "(whole row)"
    assert p.iloc[0]["value"] == WITHHELD == "(not shown: the file has patient identifier columns)"
    assert "has 6 fields but the header has 5" in p.iloc[0]["reason"]
    assert "r.csv row 3, column '(whole row)', value '(not shown: the file has patient identifier columns)': " \
           "has 6 fields" in "\n".join(result.report.summary_lines())
    assert "Jane" not in "\n".join(result.report.summary_lines())
    # without identifier columns the row's text is what helps find it, so it is quoted
    ragged = import_files(src("ragged.csv")).report.problems
    assert ragged.iloc[0]["value"] == "G2,2024-01-02,ablative,,face,2,5,3,extra,fields"


def test_a_file_of_ragged_rows_is_refused_without_quoting_them():
    data = (PII_HEADER + "B,Doe, Jane,2024-01-02,ablative,3\n").encode()
    with pytest.raises(ImportProblem) as info:
        import_files(SourceFile("only.csv", data))
    assert f"row 2 '(whole row)' = '{WITHHELD}': has 6 fields" in str(info.value)
    assert "Jane" not in str(info.value)


def test_a_ragged_row_is_not_quoted_when_the_patient_ids_are_e_mail_addresses():
    data = (b"treatment_id,patient_id,treatment_date,modality,fitzpatrick_type\n"
            b"A,ann@example.com,2024-01-01,ablative,2\nB,bob@example.com,2024-01-02,ablative,3,4\n")
    p = import_files(SourceFile("e.csv", data)).report.problems
    assert list(p["value"]) == [WITHHELD]


def test_rejected_rows_leave_refused_patient_ids_blank():
    data = (b"treatment_id,patient_id,treatment_date,modality,fitzpatrick_type\n"
            b"A,ann@example.com,2024-01-01,ablative,2\nB,+44 20 7946 0958,2024-01-02,ablative,9\n"
            b"C,PX-3,2024-13-45,ablative,2\n")
    result = import_files(SourceFile("ids.csv", data))
    assert result.outcomes["patient_id"].isna().all()
    rows = result.report.rejected_rows["ids.csv"]
    assert list(rows["row"]) == [3, 4]
    assert list(rows["patient_id"]) == ["", ""]           # as in the accepted rows: the column is not kept
    assert list(rows["fitzpatrick_type"]) == ["9", "2"]   # the rest is as it was, to fix and upload again
    assert any("left blank in the rejected rows" in n for n in result.report.notes)
    # ordinary values are still quoted: that is what makes the messages useful
    assert "ids.csv row 4, column 'treatment_date', value '2024-13-45': has no such month; check the date and " \
           "whether it is day- or month-first (rejected)" in result.report.summary_lines()
    assert "7946" not in rows.to_csv() and "ann@" not in rows.to_csv()


def test_rejected_side_effect_rows_blank_patient_ids_that_identify():
    outcomes = SourceFile("o.csv", b"treatment_id,treatment_date,modality,fitzpatrick_type\nA,2024-01-01,ablative,2\n")
    side = SourceFile("s.csv", b"treatment_id,patient_id,effect,severity\nA,ann@example.com,erythema,mild\n"
                               b"A,ann@example.com,erythema,catastrophic\nA,ann@example.com,PIH,mild,extra\n")
    report = import_files(outcomes, side).report
    rows = report.rejected_rows["s.csv"]
    assert list(rows["row"]) == [3, 4] and rows.loc[0, "patient_id"] == ""
    assert "ann@" not in rows.to_csv() and "ann@" not in "\n".join(report.summary_lines())
    assert "catastrophic" in "\n".join(report.summary_lines())


def test_values_of_an_identifier_column_mapped_to_a_schema_column_are_not_quoted():
    data = b"treatment_id,Date of Birth,modality,fitzpatrick_type\nA,1971-03-14,ablative,2\nB,2024-01-02,ablative,2\n"
    result = import_files(SourceFile("dob.csv", data),
                          options=ImportOptions(outcome_columns={"Date of Birth": "treatment_date"}))
    p = result.report.problems
    assert list(p["row"]) == [2] and list(p["value"]) == [WITHHELD]
    assert p.iloc[0]["reason"] == "is before 1980; check the year"
    with pytest.raises(DateOrderNeeded) as info:
        import_files(SourceFile("dob.csv", b"treatment_id,DOB,modality,fitzpatrick_type\nA,03/04/2020,ablative,2\n"),
                     options=ImportOptions(outcome_columns={"DOB": "treatment_date"}))
    assert "03/04/2020" not in str(info.value) and info.value.examples == [WITHHELD]


def test_a_ragged_row_is_not_quoted_when_an_identifier_column_is_mapped_to_the_schema():
    data = (b"Ref,Patient Name,treatment_date,modality,fitzpatrick_type\n"
            b"A,Jane Doe,2024-01-01,ablative,2\nB,Doe, Jane,2024-01-02,ablative,3\n")
    result = import_files(SourceFile("m.csv", data),
                          options=ImportOptions(outcome_columns={"Ref": "treatment_id", "Patient Name": "patient_id"}))
    assert result.report.files[0].dropped_identifier_columns == []
    assert list(result.report.problems["value"]) == [WITHHELD]


def test_names_in_patient_id_are_dropped_but_codes_are_kept():
    """A patient id column holding names (a manager may map "Patient" onto it) is not stored, and its
    values are blanked in the rejected rows; pseudonymous codes and lower-case placeholders are kept."""
    names = SourceFile("names.csv", (
        "treatment_id,patient_id,treatment_date,device,fitzpatrick_type\n"
        "N1,Jane Smith,2024-01-01,Fractional CO2 10600 nm,2\n"
        "N2,\"Okafor, Chidi\",2024-01-02,Fractional CO2 10600 nm,3\n"
        "N3,Mary-Kate O'Neil,2024-01-03,Fractional CO2 10600 nm,9\n").encode())
    result = import_files(names)
    assert result.outcomes["patient_id"].isna().all()
    assert any("personal names" in n for n in result.report.notes)
    assert "O'Neil" not in result.report.rejected_rows["names.csv"].to_string()  # row 4: type 9 is rejected
    codes = SourceFile("codes.csv", (
        "treatment_id,patient_id,treatment_date,device,fitzpatrick_type\n"
        "C1,PX-0007,2024-01-01,Fractional CO2 10600 nm,2\n"
        "C2,not recorded,2024-01-02,Fractional CO2 10600 nm,3\n").encode())
    kept = import_files(codes)
    assert kept.outcomes["patient_id"].tolist() == ["PX-0007", "not recorded"]
    assert not any("personal names" in n for n in kept.report.notes)


@pytest.mark.parametrize("value, name", [
    ("Jane Smith", True), ("Smith, Jane", True), ("Mary-Kate O'Neil", True), ("José Álvarez", True),
    ("Ludwig van Beethoven", True), ("PX-0007", False), ("P000123", False), ("Jane", False),
    ("not recorded", False), ("jane@example.com", False), ("A1 B2", False)])
def test_what_looks_like_a_name(value, name):
    assert schema.looks_like_name(value) is name


def test_a_side_effect_file_without_a_recognised_effect_column_is_explained():
    outcomes = SourceFile("outcomes.csv", b"treatment_id,treatment_date,device,fitzpatrick_type\n"
                                          b"T1,2024-01-01,Fractional CO2 10600 nm,2\n")
    side = SourceFile("events.csv", b"treatment_id,what happened,severity\nT1,PIH,mild\n")
    with pytest.raises(ImportProblem) as caught:
        import_files(outcomes, side)
    message = str(caught.value)
    assert "events.csv" in message and "'effect'" in message and "complication" in message


def test_a_one_column_file_never_quotes_a_first_line_that_may_identify_a_patient():
    with pytest.raises(ImportProblem) as caught:
        import_files(SourceFile("names.txt", b"Jane Smith\nJohn Doe\n"))
    assert "Jane" not in str(caught.value) and "may identify a patient" in str(caught.value)
    with pytest.raises(ImportProblem) as caught:
        import_files(SourceFile("notes.txt", b"treatments\nT1\n"))
    assert "'treatments'" in str(caught.value)  # an ordinary header is still quoted
