"""Selections: the prepared (flags + row positions) path gives exactly what the id-join path gives."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.records import columnar, schema
from analysis.findings.overview import dataset_overview
from analysis.records.filters import (GROUPING_TEXT, Filters, apply_filters, distinct_patients, hashed_positions,
                                      prepare, side_effects_with, side_positions, with_effect_flags)
from analysis.records.ingest import SourceFile, import_files
from analysis.records.store import Records
from testpaths import ROOT


@pytest.fixture(scope="module")
def sample() -> Records:
    result = import_files(SourceFile.from_path(ROOT / "data" / "sample_outcomes.csv"),
                          SourceFile.from_path(ROOT / "data" / "sample_side_effects.csv"))
    return Records(result.outcomes, result.side_effects)


def _joined_flags(records: Records) -> pd.DataFrame:
    """The definition: a treatment has an effect when a side-effect row with its id names that effect."""
    out = records.outcomes.copy()
    side = records.side_effects
    for effect in schema.EFFECTS:
        out[effect] = out["treatment_id"].isin(side.loc[side["effect"] == effect, "treatment_id"])
    return out


def _same_rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal frames, except that prepared records hold the grouping text as categoricals (by design)."""
    as_text = {c: object for c in GROUPING_TEXT if c in got and isinstance(got[c].dtype, pd.CategoricalDtype)}
    pd.testing.assert_frame_equal(got.astype(as_text), expected)


def test_prepared_flags_equal_the_id_join(sample):
    prepared = prepare(sample)
    assert prepared.flags is not None and prepared.side_pos is not None
    _same_rows(with_effect_flags(prepared), _joined_flags(sample))
    _same_rows(with_effect_flags(sample), _joined_flags(sample))
    ids = sample.outcomes["treatment_id"].to_numpy()
    assert (ids[prepared.side_pos] == sample.side_effects["treatment_id"].to_numpy()).all()
    assert prepare(prepared) is prepared


def _selections(sample: Records) -> st.SearchStrategy[Filters]:
    out = sample.outcomes
    clinics = sorted(out["clinic"].dropna().unique())
    devices = sorted(out["device"].dropna().unique())
    areas = sorted(out["treatment_area"].dropna().unique())
    days = st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31))
    return st.builds(
        Filters,
        date_from=st.none() | days, date_to=st.none() | days,
        clinics=st.lists(st.sampled_from(clinics), max_size=2, unique=True).map(tuple),
        devices=st.lists(st.sampled_from(devices), max_size=2, unique=True).map(tuple),
        areas=st.lists(st.sampled_from(areas), max_size=2, unique=True).map(tuple),
        fitzpatrick_types=st.lists(st.integers(1, 6), max_size=3, unique=True).map(tuple),
    )


def test_prepared_selection_equals_the_id_join_for_any_filters(sample):
    prepared = prepare(sample)

    @settings(max_examples=60, deadline=None)
    @given(_selections(sample))
    def check(filters: Filters) -> None:
        fast = apply_filters(prepared, filters)
        slow = apply_filters(sample, filters)
        _same_rows(fast.outcomes, slow.outcomes)
        pd.testing.assert_frame_equal(fast.side_effects, slow.side_effects)
        _same_rows(with_effect_flags(fast), _joined_flags(slow))
        ids = fast.outcomes["treatment_id"].to_numpy()
        assert (ids[fast.side_pos] == fast.side_effects["treatment_id"].to_numpy()).all()
        # a selection of a selection is still right
        again = apply_filters(fast, Filters(fitzpatrick_types=(4, 5, 6)))
        _same_rows(with_effect_flags(again), _joined_flags(apply_filters(slow, Filters(fitzpatrick_types=(4, 5, 6)))))

    check()


def test_side_effects_of_unknown_treatments_are_never_attached():
    out = pd.DataFrame({"treatment_id": ["a", "b"], "modality": ["ablative", "non-ablative"],
                        "fitzpatrick_type": [2, 5], "clinic": ["X", "Y"]})
    side = pd.DataFrame({"treatment_id": ["b", "zz", "a"], "effect": ["erythema", "erythema", "not an effect"]})
    prepared = prepare(Records(out, side))
    assert prepared.side_pos.tolist() == [1, -1, 0]
    assert prepared.flags["erythema"].tolist() == [False, True]
    assert not prepared.flags.drop(columns="erythema").to_numpy().any()
    only_y = apply_filters(prepared, Filters(clinics=("Y",)))
    assert only_y.side_effects["treatment_id"].tolist() == ["b"]
    assert only_y.side_pos.tolist() == [0]
    assert only_y.flags["erythema"].tolist() == [True]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=9), max_size=30))
def test_text_keys_are_the_texts_as_integers(texts):
    """Equal keys exactly for equal texts, in the order of the texts' UTF-8 bytes (code-point order); no keys
    when a text is longer than 8 bytes or holds a NUL (padding could then make two texts one key)."""
    values = pa.array(texts + [None], type=pa.string())
    got = columnar.text_keys(values)
    raw = [t.encode() for t in texts]
    if any(len(b) > 8 or b"\0" in b for b in raw):
        assert got is None
        return
    keys, missing = got
    assert missing.tolist() == [False] * len(texts) + [True]
    for (a, ka) in zip(raw, keys):
        for (b, kb) in zip(raw, keys):
            assert (ka == kb) == (a == b) and (ka < kb) == (a < b)
    sliced = columnar.text_keys(values.slice(1))  # an array that starts inside its buffers
    assert sliced is not None and sliced[0][:len(texts) - 1].tolist() == keys[1:len(texts)].tolist()


_IDS = st.sampled_from(["a", "b", "ab", "T0000001", "T0000002", "é", "", "longer than 8", "a\0"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_IDS | st.none(), max_size=12), st.lists(_IDS | st.none() | st.just(float("nan")), max_size=12))
def test_side_positions_equal_the_hash_join(ids, side_ids):
    """The matching by integer keys (and by the Arrow ids while loading) gives the hash pass's positions, or
    leaves it to the hash pass (a missing or repeated outcome id, a long id, a NUL)."""
    ids_, side_ = np.array(ids, dtype=object), np.array(side_ids, dtype=object)
    expected = hashed_positions(ids_, side_)
    got = side_positions(ids_, side_)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert got.dtype == np.int64 and got.tolist() == expected.tolist()
    arrow = columnar.side_positions(pa.array(ids_, type=pa.string(), from_pandas=True),
                                    pa.array(side_, type=pa.string(), from_pandas=True))
    assert arrow is None or (expected is not None and arrow.tolist() == expected.tolist())


@settings(max_examples=300, deadline=None)
@given(st.lists(_IDS | st.none() | st.just(float("nan")), max_size=12),
       st.lists(st.booleans(), min_size=12, max_size=12))
def test_distinct_patients_by_keys_is_nunique(patients, keep):
    """The Overview's patient count from integer keys (kept by selections) is ``patient_id.nunique()``, None
    when no patient id is recorded; long ids or ids with a NUL are counted as before."""
    n = len(patients)
    out = pd.DataFrame({"treatment_id": [f"t{i}" for i in range(n)], "patient_id": pd.Series(patients, dtype=object),
                        "modality": ["ablative"] * n, "fitzpatrick_type": np.arange(n, dtype=np.int8) % 6 + 1,
                        "clinic": ["North"] * n,
                        "treatment_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n), "D")})
    records = Records(out, pd.DataFrame({"treatment_id": pd.Series([], dtype=object),
                                         "effect": pd.Series([], dtype=object)}))
    prepared = prepare(records)
    wanted = tuple(t for t, k in zip(range(1, 7), keep) if k)
    for plain, fast in ((records, prepared), (apply_filters(records, Filters(fitzpatrick_types=wanted)),
                                              apply_filters(prepared, Filters(fitzpatrick_types=wanted)))):
        ids = plain.outcomes["patient_id"]
        expected = int(ids.nunique()) if ids.notna().any() else None
        assert distinct_patients(fast) == distinct_patients(plain) == expected
        assert dataset_overview(fast) == dataset_overview(plain)
    long_or_nul = any(isinstance(p, str) and (len(p.encode()) > 8 or "\0" in p) for p in patients)
    assert (prepared.patient_keys is None) == long_or_nul


def test_duplicate_ids_fall_back_to_the_join():
    out = pd.DataFrame({"treatment_id": ["a", "a"], "modality": ["ablative"] * 2})
    side = pd.DataFrame({"treatment_id": ["a"], "effect": ["edema"]})
    records = Records(out, side)
    assert prepare(records) is records
    assert with_effect_flags(records)["edema"].tolist() == [True, True]
    assert np.all(with_effect_flags(records).drop(columns=["treatment_id", "modality", "edema"]).to_numpy() == False)  # noqa: E712


def test_side_effects_with_equals_the_merge(sample):
    prepared = prepare(sample)
    for records in (prepared, apply_filters(prepared, Filters(fitzpatrick_types=(5, 6), clinics=("Harbourside Skin Clinic",)))):
        merged = records.side_effects.merge(records.outcomes[["treatment_id", "modality", "fitzpatrick_type"]],
                                            on="treatment_id", how="inner")
        fast = side_effects_with(records, ["modality", "fitzpatrick_type"])
        pd.testing.assert_frame_equal(fast, merged)
    orphan = Records(pd.DataFrame({"treatment_id": ["a"], "modality": ["ablative"]}),
                     pd.DataFrame({"treatment_id": ["zz", "a"], "effect": ["edema", "edema"]}))
    assert side_effects_with(prepare(orphan), ["modality"]).to_dict("records") == [
        {"treatment_id": "a", "effect": "edema", "modality": "ablative"}]


def _plain(value):
    """A result as plain data (frames as lists of rows) so results from differently typed frames compare."""
    import dataclasses

    if isinstance(value, pd.DataFrame):
        return value.astype(object).where(value.notna(), None).to_dict("split")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def test_every_result_is_the_same_on_prepared_records(sample, monkeypatch):
    """prepare() stores grouping text as categoricals: no statistic, table, export or quality check may
    change because of it, also with names missing in some rows. The expected side runs with prepare()
    switched off everywhere, so it uses the id join and plain text columns throughout."""
    import json

    import analysis.records.filters
    import analysis.findings.summary

    from analysis.findings import claims, compare, effects, monitoring, quality, skin_tone, summary
    from analysis.present.export import safe_csv
    from analysis.records.filters import options
    from analysis.findings.overview import dataset_overview

    outcomes = sample.outcomes.copy()
    rng = np.random.default_rng(7)
    for column in ("clinic", "device", "treatment_area", "practitioner"):
        outcomes.loc[rng.random(len(outcomes)) < 0.05, column] = None
    plain = Records(outcomes, sample.side_effects)
    prepared = prepare(plain)
    assert isinstance(prepared.outcomes["clinic"].dtype, pd.CategoricalDtype)
    until = date(2026, 11, 26)
    functions = {
        "overview": dataset_overview, "downtime": compare.downtime, "improvement": compare.improvement,
        "satisfaction": compare.satisfaction, "skin_tone": skin_tone.skin_tone, "side_effects": effects.side_effects,
        "monthly": lambda r: monitoring.monthly(r, follow_up_until=until),
        "funnels": lambda r: [monitoring.funnel(r, u) for u in ("clinic", "practitioner", "device")],
        "claims": claims.check_claims, "summary": lambda r: summary.summarise(r, until),
        "cost": lambda r: compare.compare_measure(r, "cost", "cost", "", breakdowns=("device", "practitioner")),
        "quality": quality.quality_summary, "options": options, "csv": lambda r: safe_csv(r.outcomes)}
    for filters in (Filters(), Filters(clinics=("Harbourside Skin Clinic",)),
                    Filters(fitzpatrick_types=(5, 6), devices=("Er:YAG 2940 nm",))):
        a, b = apply_filters(plain, filters), apply_filters(prepared, filters)
        for name, function in functions.items():
            with monkeypatch.context() as off:
                for module in (analysis.records.filters, analysis.findings.summary):
                    off.setattr(module, "prepare", lambda records: records)
                assert analysis.records.filters.with_effect_flags(a)["clinic"].dtype == object  # really the plain path
                expected = json.dumps(_plain(function(a)), default=str, sort_keys=True)
            assert json.dumps(_plain(function(b)), default=str, sort_keys=True) == expected, (filters, name)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["A", "B", "C", None]), max_size=30), st.lists(st.sampled_from(["A", "C", "Z"]), max_size=3),
       st.lists(st.integers(-3, 8), max_size=30), st.lists(st.integers(-200, 200), max_size=4))
def test_membership_by_lookup_is_isin(texts, wanted, numbers, wanted_numbers):
    """The lookups apply_filters uses for categoricals and small integers give what ``isin`` gives."""
    from analysis.records.filters import _member

    for column, values in ((pd.Series(pd.Categorical(texts, categories=["A", "B", "C"])), wanted),
                           (pd.Series(texts, dtype=object), wanted),
                           (pd.Series(numbers, dtype="int8"), wanted_numbers),
                           (pd.Series(numbers, dtype="int8"), [v for v in wanted_numbers if -128 <= v < 128])):
        assert _member(column, values).tolist() == column.isin(values).tolist()


def test_link_notices_say_which_kind_of_value_was_dropped_and_how_many():
    """Found walking through as a new user: the notices did not say which filter or how many values."""
    from analysis.present import urlstate

    choices = urlstate.FilterChoices(("North",), ("IPL",), ("face",), (2, 3), None, None)
    _, notes = urlstate.parse_filters({"clinic": ["North", "<script>x</script>", "South"], "area": ["elbow"],
                                       "fitz": ["II", "<b>9</b>", "VIII"]}, choices)
    assert notes == ["The link asked for 2 clinic value(s) this dataset does not have; they were left out.",
                     "The link asked for 1 treatment area value(s) this dataset does not have; it was left out.",
                     "The link had 2 Fitzpatrick skin type value(s) other than I–VI; they were left out."]
