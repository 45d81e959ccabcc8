"""Adding records to a dataset, value by value: the merge (in Arrow) against the rules of ``data/README.md``.

The edge cases of comparing a stored treatment with the file's row: a number written differently (1 and 1.0),
a column the new file lacks, a missing value against a value, dates, text dictionary-encoded with other
dictionaries in the stored copy and in the file, side effects of updated and unchanged treatments; and
random months of exports added one after another, checked against a plain-Python reading of the rules
(:func:`expected_after`) written here independently of :mod:`analysis.records.versions`.
"""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest

from analysis.records import columnar, db, versions
from analysis.records.ingest import ImportResult, SourceFile, import_files
from analysis.records.store import Store

OUTCOMES = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,cost,clinic\n"
SIDE = "treatment_id,effect,severity,onset_day\n"


def imported(outcomes: str, side: str | None = None, name: str = "export"):
    files = [SourceFile(f"{name}.csv", outcomes.encode())]
    if side is not None:
        files.append(SourceFile(f"{name}_side_effects.csv", side.encode()))
    return import_files(*files)


def stored(store: Store, did: str) -> dict[str, tuple]:
    """The dataset's outcomes as canonical values, by treatment id."""
    table = columnar.to_arrow(store.load(did).outcomes, "outcomes")
    return {row["treatment_id"]: tuple(row.values())[1:] for row in table.to_pylist()}


def side_effects(store: Store, did: str) -> Counter:
    table = columnar.to_arrow(store.load(did).side_effects, "side_effects")
    return Counter(tuple(row.values()) for row in table.to_pylist())


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'merge.db'}")


def test_a_number_written_differently_is_the_same_value(store_url):
    store = Store(store_url)
    did = store.import_dataset(imported(OUTCOMES + "T1,2024-01-02,ablative,2,5,100,North\n"
                                        "T2,2024-01-03,ablative,3,,250.5,North\n",
                                        SIDE + "T1,erythema,mild,1\n", "jan"), "Northgate").id
    before = stored(store, did)
    change = versions.add_records(store, did, imported(OUTCOMES + "T1,2024-01-02,ablative,2,5.0,100.00,North\n"
                                                       "T2,2024-01-03,ablative,3,,250.50,North\n",
                                                       SIDE + "T1,erythema,mild,1.0\n", "feb"))
    assert (change.new, change.updated, change.unchanged) == (0, 0, 2)
    assert stored(store, did) == before


def test_a_column_the_new_file_lacks_is_a_missing_value_and_the_files_row_wins(store):
    did = store.import_dataset(imported(OUTCOMES + "T1,2024-01-02,ablative,2,5,100,North\n"
                                        "T2,2024-01-03,ablative,3,4,,North\n", name="jan"), "N").id
    before = stored(store, did)
    without_cost = "treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,clinic\n"
    change = versions.add_records(store, did, imported(without_cost + "T1,2024-01-02,ablative,2,5,North\n"
                                                       "T2,2024-01-03,ablative,3,4,North\n", name="feb"))
    assert (change.new, change.updated, change.unchanged) == (0, 1, 1)   # T1's cost 100 -> missing; T2 had none
    cost = columnar.columns("outcomes").index("cost") - 1
    records = stored(store, did)
    assert records["T1"][cost] is None and records["T2"] == before["T2"]


def test_a_missing_value_against_a_value_is_a_change_both_ways(store):
    did = store.import_dataset(imported(OUTCOMES + "T1,2024-01-02,ablative,2,,100,North\n"
                                        "T2,2024-01-03,ablative,3,4,100,North\n", name="jan"), "N").id
    change = versions.add_records(store, did, imported(OUTCOMES + "T1,2024-01-02,ablative,2,3,100,North\n"
                                                       "T2,2024-01-03,ablative,3,,100,North\n", name="feb"))
    assert (change.new, change.updated, change.unchanged) == (0, 2, 0)
    downtime = columnar.columns("outcomes").index("downtime_days") - 1
    records = stored(store, did)
    assert records["T1"][downtime] == 3.0 and records["T2"][downtime] is None


def test_a_changed_date_is_an_update_and_the_records_stay_in_date_order(store):
    did = store.import_dataset(imported(OUTCOMES + "T1,2024-03-02,ablative,2,1,,North\n"
                                        "T2,2024-03-03,ablative,3,1,,North\n", name="mar"), "N").id
    change = versions.add_records(store, did, imported(OUTCOMES + "T2,2024-01-03,ablative,3,1,,North\n"
                                                       "T0,2024-02-01,ablative,3,1,,North\n"
                                                       "T9,2023-12-31,ablative,3,1,,North\n", name="fix"))
    assert (change.new, change.updated, change.unchanged) == (2, 1, 0)
    out = store.load(did).outcomes
    assert list(out["treatment_id"]) == ["T9", "T2", "T0", "T1"]
    assert str(out["treatment_date"].iloc[1].date()) == "2024-01-03"


def test_side_effects_of_updated_and_unchanged_treatments(store_url):
    store = Store(store_url)
    did = store.import_dataset(imported(
        OUTCOMES + "T1,2024-01-02,ablative,2,5,,North\nT2,2024-01-03,ablative,3,4,,North\n"
                   "T3,2024-01-04,ablative,3,4,,North\nT4,2024-01-05,ablative,3,4,,North\n"
                   "T5,2024-01-06,ablative,3,4,,North\n",
        SIDE + "T1,erythema,mild,1\nT2,edema,mild,2\nT2,edema,mild,2\nT3,erythema,mild,1\nT4,edema,severe,3\n"
               "T5,erythema,mild,1\n", "jan"), "N").id
    change = versions.add_records(store, did, imported(
        OUTCOMES + "T1,2024-01-02,ablative,2,6,,North\n"    # updated value: its side effects are the file's
                   "T2,2024-01-03,ablative,3,4,,North\n"    # one of its two identical side effects gone: updated
                   "T3,2024-01-04,ablative,3,4,,North\n"    # none in the file any more: updated, removed
                   "T4,2024-01-05,ablative,3,4,,North\n"    # same side effect in the file: unchanged
                   "T6,2024-01-07,ablative,3,4,,North\n",   # new
        SIDE + "T1,infection,moderate,4\nT2,edema,mild,2\nT4,edema,severe,3\nT6,scarring,mild,\n", "feb"))
    assert (change.new, change.updated, change.unchanged) == (1, 3, 1)
    assert side_effects(store, did) == Counter({
        ("T1", "infection", None, "moderate", 4.0, None): 1, ("T2", "edema", None, "mild", 2.0, None): 1,
        ("T4", "edema", None, "severe", 3.0, None): 1, ("T5", "erythema", None, "mild", 1.0, None): 1,
        ("T6", "scarring", None, "mild", None, None): 1})
    # a file without side effects leaves them alone, even for an updated treatment
    change = versions.add_records(store, did, imported(OUTCOMES + "T1,2024-01-02,ablative,2,7,,North\n", name="mar"))
    assert (change.new, change.updated, change.unchanged) == (0, 1, 0)
    assert side_effects(store, did)[("T1", "infection", None, "moderate", 4.0, None)] == 1


def test_a_file_read_the_slow_way_compares_equal_to_records_read_the_fast_way(store):
    """One bad row sends a file down the full import path (frames, not the Arrow one): the same values must
    still compare equal to the stored ones."""
    rows = "".join(f"T{i},2024-01-{1 + i % 28:02d},{'ablative' if i % 2 else 'non-ablative'},{1 + i % 6},"
                   f"{i % 5 or ''},{100 + i},{('North', 'South', 'East')[i % 3]}\n" for i in range(300))
    did = store.import_dataset(imported(OUTCOMES + rows, name="clean"), "N").id
    change = versions.add_records(store, did, imported(OUTCOMES + rows + "X1,2024-02-01,ablative,9,1,1,North\n",
                                                       name="messy"))
    assert (change.new, change.updated, change.unchanged, change.rejected) == (0, 0, 300, 1)


# --- the merge itself, on tables whose text is dictionary-encoded differently --------------------------------

def _outcomes(ids, clinics, days, dictionary: bool) -> pa.Table:
    frame = pd.DataFrame({name: [None] * len(ids) for name in columnar.columns("outcomes")})
    frame = frame.assign(treatment_id=ids, clinic=clinics, modality="ablative", fitzpatrick_type=2,
                         treatment_date=pd.to_datetime(["2024-01-01"] * len(ids)), downtime_days=days)
    table = columnar.to_arrow(frame, "outcomes")
    if dictionary:
        for name in ("clinic", "modality"):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, table.column(name).dictionary_encode())
    return table


def _result(outcomes: pa.Table, side: pa.Table, *, side_file: bool) -> ImportResult:
    report = imported(OUTCOMES + "Z,2024-01-01,ablative,2,,,\n", SIDE + "Z,edema,,\n" if side_file else None).report
    return ImportResult.from_tables(outcomes, side, report, [])


def _no_side() -> pa.Table:
    return columnar.arrow_schema("side_effects").empty_table()


@pytest.mark.parametrize("stored_dictionary", [True, False])
@pytest.mark.parametrize("file_dictionary", [True, False])
def test_text_dictionaries_that_differ_between_the_copy_and_the_file(stored_dictionary, file_dictionary):
    stored_out = pa.concat_tables([   # two chunks with dictionaries of their own, as a copy read back can have
        _outcomes(["A", "B"], ["North", "South"], [1.0, 2.0], stored_dictionary),
        _outcomes(["C"], ["West"], [3.0], stored_dictionary)])
    file_out = _outcomes(["B", "C", "D"], ["East", "West", "North"], [2.0, 3.0, 1.0], file_dictionary)
    merged, side, counts = versions.merge(stored_out, _no_side(), _result(file_out, _no_side(), side_file=False))
    assert counts == {"new": 1, "updated": 1, "unchanged": 1}        # B moved clinic; C the same; D new
    assert sorted(zip(merged.column("treatment_id").to_pylist(), merged.column("clinic").to_pylist())) == [
        ("A", "North"), ("B", "East"), ("C", "West"), ("D", "North")]
    clinic = merged.column("clinic")
    assert pa.types.is_dictionary(clinic.type) and len({id(c.dictionary) for c in clinic.chunks}) <= len(clinic.chunks)
    assert all(c.dictionary.equals(clinic.chunks[0].dictionary) for c in clinic.chunks)   # one dictionary
    copies = db._encode_copies(merged, side)                          # and it is stored and read back as such
    frame = db._decode_blob(copies["outcomes"][1], "outcomes")
    assert list(frame["treatment_id"]) == ["A", "B", "C", "D"]
    assert list(frame["clinic"]) == ["North", "East", "West", "North"]
    assert list(frame["downtime_days"]) == [1.0, 2.0, 3.0, 1.0]


def test_nan_and_missing_are_the_same_and_minus_zero_is_zero():
    stored_out = _outcomes(["A", "B", "C"], ["N", "N", "N"], [float("nan"), 0.0, None], dictionary=False)
    file_out = _outcomes(["A", "B", "C"], ["N", "N", "N"], [None, -0.0, float("nan")], dictionary=True)
    _, _, counts = versions.merge(stored_out, _no_side(), _result(file_out, _no_side(), side_file=False))
    assert counts == {"new": 0, "updated": 0, "unchanged": 3}


# --- random months, against the rules read plainly -------------------------------------------------------

CLINICS = ("North", "South", "Harbourside", "")
EFFECTS = ("erythema", "edema", "hyperpigmentation")


def _month(rng: random.Random, ids: list[str], known: list[str], month: int) -> tuple[str, str | None, bool]:
    """One export: some treatments the dataset holds (some changed), some new; maybe a column left out, maybe
    side effects (a file, or none), maybe one bad row."""
    columns = ["treatment_id", "treatment_date", "modality", "fitzpatrick_type", "downtime_days", "cost", "clinic"]
    dropped = rng.choice([None, None, "cost", "clinic", "downtime_days"])
    header = [c for c in columns if c != dropped]
    lines, side = [",".join(header)], ["treatment_id,effect,severity,onset_day"]
    chosen = rng.sample(known, min(len(known), rng.randint(0, 12))) + ids or [f"E{month}"]  # never empty
    for tid in chosen:
        seed = rng.randint(0, 3)     # few distinct values, so re-sent treatments are often unchanged
        values = {"treatment_id": tid, "treatment_date": f"2024-{1 + seed % 2:02d}-{10 + seed:02d}",
                  "modality": ("ablative", "non-ablative")[seed % 2], "fitzpatrick_type": str(2 + seed % 2),
                  "downtime_days": rng.choice(["", "3", "3.0", "4"]), "cost": rng.choice(["", "100", "100.00"]),
                  "clinic": CLINICS[seed % len(CLINICS)]}
        lines.append(",".join(values[c] for c in header))
        for _ in range(rng.choice([0, 0, 1, 2])):
            side.append(f"{tid},{rng.choice(EFFECTS[:2])},mild,{rng.choice(['', '1', '1.0'])}")
    if rng.random() < 0.3:
        lines.append(",".join("X" + str(month) if c == "treatment_id" else "9" if c == "fitzpatrick_type"
                              else "2024-01-01" if c == "treatment_date" else "ablative" if c == "modality"
                              else "" for c in header))
    with_side = rng.random() < 0.7
    return "\n".join(lines) + "\n", ("\n".join(side) + "\n") if with_side else None, with_side


def expected_after(outcomes: dict, side: Counter, result: ImportResult) -> tuple[dict, Counter, tuple]:
    """The records after adding a file, as ``data/README.md`` states the rules (values compared as the store
    keeps them; a missing number is None)."""
    file = {row["treatment_id"]: tuple(row.values())[1:]
            for row in columnar.to_arrow(result.outcomes, "outcomes").to_pylist()}
    file_side = Counter(tuple(r.values()) for r in columnar.to_arrow(result.side_effects, "side_effects").to_pylist())
    carries = result.side_effects_recorded

    def of(records: Counter, tid: str) -> Counter:
        return Counter({k: n for k, n in records.items() if k[0] == tid})

    new = [t for t in file if t not in outcomes]
    changed = {t for t in file if t in outcomes and outcomes[t] != file[t]}
    if carries:
        changed |= {t for t in file if t in outcomes and t not in changed and of(side, t) != of(file_side, t)}
    written = set(new) | changed
    after = {**outcomes, **{t: file[t] for t in written}}
    if carries:
        side = Counter({k: n for k, n in side.items() if k[0] not in written}) \
            + Counter({k: n for k, n in file_side.items() if k[0] in written})
    unchanged = len(file) - len(new) - len(changed)
    return after, side, (len(new), len(changed), unchanged)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_months_follow_the_rules(store, seed):
    rng = random.Random(seed)
    first = imported(*_month(rng, [f"T{i}" for i in range(15)], [], 0)[:2], name=f"m0-{seed}")
    did = store.import_dataset(first, "N").id
    outcomes, side = stored(store, did), side_effects(store, did)
    for month in range(1, 6):
        text, side_text, _ = _month(rng, [f"M{month}x{i}" for i in range(rng.randint(0, 6))], sorted(outcomes), month)
        result = imported(text, side_text, f"m{month}-{seed}")
        outcomes, side, counts = expected_after(outcomes, side, result)
        change = versions.add_records(store, did, result)
        assert (change.new, change.updated, change.unchanged) == counts, month
        assert change.rejected == result.report.rows_rejected
        assert stored(store, did) == outcomes, month
        assert side_effects(store, did) == side, month
        out = store.load(did).outcomes
        order = list(zip(out["treatment_date"], out["treatment_id"]))
        assert order == sorted(order)                                 # load order: date, then id
