"""Time from treatment to resolution with open follow-up: Kaplan-Meier curves and medians (issue #15).

Every reference value is R's ``survival`` package (3.5.3, R 4.x, Debian ``r-cran-survival``), printed by
``print(survfit(...))`` as shown beside it: ``n events median 0.95LCL 0.95UCL``. R is not needed to run
these tests.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from analysis.findings import effects
from analysis.records.store import Records
from analysis.stats.survival import kaplan_meier

# R: set.seed(1); t <- round(rexp(80, 1/20)); s <- rbinom(80, 1, 0.8)
SEEDED_T = [15, 24, 3, 3, 9, 58, 25, 11, 19, 3, 28, 15, 25, 88, 21, 21, 38, 13, 7, 12, 47, 13, 6, 11, 2, 1, 12, 79,
            23, 20, 29, 1, 6, 26, 4, 20, 6, 15, 15, 5, 22, 21, 26, 25, 11, 6, 26, 20, 10, 40, 8, 44, 64, 11, 12, 20,
            4, 6, 22, 15, 2, 22, 5, 31, 97, 9, 55, 23, 16, 17, 36, 46, 58, 6, 8, 1, 7, 31, 16, 55]
SEEDED_S = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1,
            0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0,
            1, 1, 1, 1, 1, 0, 1, 1, 1, 1]

AML_T = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]   # survival::aml, x == "Maintained"
AML_S = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]

REFERENCES = [
    # R: survfit(Surv(time, status) ~ 1, data = aml, subset = x == "Maintained", conf.type = "log")
    #      n events median 0.95LCL 0.95UCL
    # [1,] 11      7     31      18      NA
    pytest.param(AML_T, AML_S, (11, 7, 31.0, 18.0, None), id="aml-maintained"),
    # R: survfit(Surv(t, s) ~ 1, conf.type = "log") with t, s from set.seed(1) above
    # [1,] 80     62     21      16      26
    pytest.param(SEEDED_T, SEEDED_S, (80, 62, 21.0, 16.0, 26.0), id="seeded-80"),
    # R: survfit(Surv(c(1, 2, 3, 4, 5, 6), rep(1, 6)) ~ 1, conf.type = "log")
    # [1,] 6      6    3.5       2      NA      (S = 0.5 exactly at day 3, then drops: the midpoint)
    pytest.param([1, 2, 3, 4, 5, 6], [1] * 6, (6, 6, 3.5, 2.0, None), id="exactly-half-midpoint"),
    # R: survfit(Surv(c(1, 2, 3, 4, 5, 6), c(1, 1, 1, 0, 0, 0)) ~ 1, conf.type = "log")
    # [1,] 6      3      3       2      NA      (S = 0.5 at day 3 and never drops: that day)
    pytest.param([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], (6, 3, 3.0, 2.0, None), id="exactly-half-flat"),
    # R: survfit(Surv(c(2, 9, 6, 7, 7), c(1, 1, 0, 1, 1)) ~ 1, conf.type = "log")
    # [1,] 5      4      7       7      NA      (the band is undefined where S reaches 0)
    pytest.param([2, 9, 6, 7, 7], [1, 1, 0, 1, 1], (5, 4, 7.0, 7.0, None), id="band-undefined-at-zero"),
    # R: t <- c(3, 5, 5, 6, 7, 7, 7, 8, 9, 9, 10, 10, 11, 12, 12, 14, 14, 15, 18, 21, 21, 25, 30, 30)
    #    s <- c(1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0)
    #    survfit(Surv(t, s) ~ 1, conf.type = "log")
    # [1,] 24     17     12       9      NA      (days with ties, as side-effect records have)
    pytest.param([3, 5, 5, 6, 7, 7, 7, 8, 9, 9, 10, 10, 11, 12, 12, 14, 14, 15, 18, 21, 21, 25, 30, 30],
                 [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0],
                 (24, 17, 12.0, 9.0, None), id="tied-days"),
    # R: survfit(Surv(c(4, 8, 8, 12), c(0, 0, 0, 0)) ~ 1)
    # [1,] 4      0     NA      NA      NA
    pytest.param([4, 8, 8, 12], [0, 0, 0, 0], (4, 0, None, None, None), id="no-event"),
]


@pytest.mark.parametrize("time,status,expected", REFERENCES)
def test_median_and_interval_match_survfit(time, status, expected):
    km = kaplan_meier(time, status)
    got = (km.n, km.n_events, km.median.estimate, km.median.low, km.median.high)
    assert got == expected


def test_curve_and_greenwood_errors_match_survfit():
    # R: f <- survfit(Surv(time, status) ~ 1, data = aml, subset = x == "Maintained")
    #    round(summary(f)$surv, 6): 0.909091 0.818182 0.715909 0.613636 0.490909 0.368182 0.184091
    #    round(summary(f)$std.err, 6): 0.086678 0.116291 0.139665 0.152632 0.164193 0.162669 0.153493
    km = kaplan_meier(AML_T, AML_S)
    assert km.times.tolist() == [9, 13, 18, 23, 31, 34, 48]
    assert np.round(km.survival, 6).tolist() == [0.909091, 0.818182, 0.715909, 0.613636, 0.490909, 0.368182,
                                                 0.184091]
    assert np.round(km.std_err, 6).tolist() == [0.086678, 0.116291, 0.139665, 0.152632, 0.164193, 0.162669,
                                                0.153493]
    # R: f <- survfit(..., conf.type = "log"); round(f$lower[f$n.event > 0], 6); round(f$upper[f$n.event > 0], 6)
    #    0.754134 0.619249 0.488426 0.376867 0.254860 0.154877 0.035918
    #    1.000000 1.000000 1.000000 0.999158 0.945585 0.875261 0.943526
    lower, upper = km.confidence_band()
    assert np.round(lower, 6).tolist() == [0.754134, 0.619249, 0.488426, 0.376867, 0.254860, 0.154877, 0.035918]
    assert np.round(upper, 6).tolist() == [1, 1, 1, 0.999158, 0.945585, 0.875261, 0.943526]
    assert km.at_risk.tolist() == [11, 10, 8, 7, 5, 4, 2]
    assert km.censored.tolist() == [13, 28, 45, 161]
    assert km.evaluate([0, 9, 12.9, 31, 200]).tolist() == pytest.approx([1, 0.909091, 0.909091, 0.490909, 0.184091],
                                                                        abs=1e-6)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels, where S = 0
def test_statsmodels_own_median_rules_differ_where_stated():
    """Why the median and its limits are read off the band here rather than taken from statsmodels as is."""
    # statsmodels' quantile takes S < 1/2 strictly (SAS): day 4 where survfit prints 3.5 (see above).
    assert SurvfuncRight([1, 2, 3, 4, 5, 6], [1] * 6).quantile(0.5) == 4
    # statsmodels' upper limit is the event time after the interval, here 9 where S = 0 and survfit prints NA.
    assert SurvfuncRight([2, 9, 6, 7, 7], [1, 1, 0, 1, 1]).quantile_ci(0.5, method="log") == (7, 9)
    # Its default method, "cloglog", is survfit's conf.type = "log-log", not survfit's default "log":
    # R: survfit(Surv(t, s) ~ 1, conf.type = "log-log") on the seeded data: median 21, 0.95LCL 15, 0.95UCL 25
    assert SurvfuncRight(SEEDED_T, SEEDED_S).quantile_ci(0.5) == (15, 25)
    # ... and with method="log" it agrees with survfit's default where the band is defined (16, 26 above).
    assert SurvfuncRight(SEEDED_T, SEEDED_S).quantile_ci(0.5, method="log") == (16, 26)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="time"):
        kaplan_meier([1, -2], [1, 1])
    with pytest.raises(ValueError, match="time"):
        kaplan_meier([1, float("nan")], [1, 1])
    with pytest.raises(ValueError, match="event"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1, 2], [1])


def test_the_result_is_frozen():
    km = kaplan_meier(AML_T, AML_S)
    with pytest.raises(AttributeError):
        km.median = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        km.survival[0] = 0.5


# --- events to times: who is censored where ---------------------------------------------------------

def _events() -> pd.DataFrame:
    rows = [  # treatment date, onset day, resolved day
        ("2024-03-01", 1, 5),            # resolved on day 5
        ("2024-03-01", 2, 7),            # resolved on day 7
        ("2024-03-02", 3, None),         # unresolved: censored at the follow-up, 2024-04-01 = day 30
        ("2024-03-25", 12, None),        # unresolved, onset after the follow-up (day 7): censored at its onset, 12
        ("2024-03-01", 10, 40),          # resolved on day 40, after the follow-up date: still resolved then
        ("2024-03-01", None, None),      # no days at all (a yes/no flag): left out
    ]
    return pd.DataFrame({"treatment_id": [f"T{i}" for i in range(len(rows))], "effect": "erythema",
                         "modality": "ablative", "treatment_date": pd.to_datetime([r[0] for r in rows]),
                         "onset_day": [r[1] for r in rows], "resolved_day": [r[2] for r in rows]}).astype(
        {"onset_day": "float64", "resolved_day": "float64"})


def test_unresolved_events_are_censored_at_the_last_follow_up():
    # R: survfit(Surv(c(5, 7, 30, 12, 40), c(1, 1, 0, 0, 1)) ~ 1, conf.type = "log")
    #      n events median 0.95LCL 0.95UCL
    # [1,] 5      3     40       7      NA
    (d,) = effects.durations_of(_events(), date(2024, 4, 1))
    assert (d.curve.n, d.curve.n_events, d.unresolved, d.untimed) == (5, 3, 2, 1)
    assert d.curve.censored.tolist() == [12, 30]
    assert (d.median.estimate, d.median.low, d.median.high) == (40, 7, None)
    assert d.sentence == ("Erythema: half of the 5 ablative cases had resolved by day 40 after treatment (95 % CI "
                          "from day 7; not enough follow-up for an upper limit; 2 still unresolved at the last follow-up; "
                          "too few to conclude from).")


def test_without_a_follow_up_date_the_latest_date_the_records_show_is_used():
    # the latest: 2024-03-01 + 40 days = 2024-04-10, so day 39 for the 2024-03-02 treatment, 16 for 2024-03-25
    (d,) = effects.durations_of(_events())
    assert d.curve.censored.tolist() == [16, 39]


def test_without_a_follow_up_date_a_later_treatment_without_side_effects_still_counts():
    # Three events resolved on days 30, 40, 50 (treated 1 Jan), three unresolved (treated 1 Mar), and one later
    # treatment (1 Jun) with no side effect: the records were exported on 1 Jun at the earliest, so the three
    # unresolved events were followed for 92 days, not 1 (their onset). Found by a second reading.
    # R 4.2.2: survfit(Surv(c(30, 40, 50, 92, 92, 92), c(1, 1, 1, 0, 0, 0)) ~ 1, conf.type = "log")
    #      n events median 0.95LCL 0.95UCL
    # [1,] 6      3     50      40      NA
    # (censored at day 1 instead, as before the fix: median 40, 0.95LCL 30)
    out = pd.DataFrame({"treatment_id": [f"T{i}" for i in range(7)], "modality": "ablative",
                        "treatment_date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-03-01"] * 3 + ["2024-06-01"]),
                        "fitzpatrick_type": 2})
    side = pd.DataFrame({"treatment_id": [f"T{i}" for i in range(6)], "effect": "erythema", "severity": "mild",
                         "onset_day": [1.0] * 6, "resolved_day": [30.0, 40.0, 50.0, None, None, None]})
    records = Records(out, side)
    assert effects.latest_date(records) == date(2024, 6, 1)
    (d,) = effects.side_effects(records).durations
    assert d.curve.censored.tolist() == [92, 92, 92]
    assert (d.median.estimate, d.median.low, d.median.high) == (50, 40, None)


def test_a_missing_treatment_date_leaves_the_onset():
    events = _events()
    events.loc[2, "treatment_date"] = pd.NaT
    (d,) = effects.durations_of(events, date(2024, 4, 1))
    assert d.curve.censored.tolist() == [3, 12]


def test_the_old_median_of_resolved_events_only_was_biased_short():
    """Dropping the unresolved events (the old rule) put the median at day 7; counting them, it is day 40."""
    events = _events()
    resolved = events["resolved_day"].dropna()
    assert resolved.median() == 7
    (d,) = effects.durations_of(events, date(2024, 4, 1))
    assert d.median.estimate == 40


def test_side_effects_carry_the_curves_per_effect_and_modality():
    out = pd.DataFrame({"treatment_id": ["A", "B", "C"], "modality": ["ablative", "non-ablative", "ablative"],
                        "treatment_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                        "fitzpatrick_type": [2, 3, 5]})
    side = pd.DataFrame({"treatment_id": ["A", "B", "C"], "effect": ["erythema", "erythema", "edema"],
                         "severity": ["mild", "mild", "moderate"], "onset_day": [0.0, 0.0, 1.0],
                         "resolved_day": [3.0, None, None]})
    summary = effects.side_effects(Records(out, side), follow_up_until=date(2024, 1, 31))
    got = {(d.effect, d.modality): (d.curve.n, d.curve.n_events, d.curve.censored.tolist()) for d in summary.durations}
    assert got == {("erythema", "ablative"): (1, 1, []), ("erythema", "non-ablative"): (1, 0, [29.0]),
                   ("edema", "ablative"): (1, 0, [28.0])}
    assert summary.follow_up_until == date(2024, 1, 31)
    assert "2024-01-31" in summary.duration_findings[-1].sentence


# --- the last follow-up of a stored dataset: its latest import ----------------------------------------

def test_the_last_follow_up_is_the_latest_import_not_rolled_back(tmp_path):
    from analysis.records import versions
    from analysis.records.ingest import SourceFile, import_files
    from analysis.records.store import Store

    header = "treatment_id,treatment_date,modality,fitzpatrick_type,PIH\n"
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    did = store.import_dataset(import_files(SourceFile("jan.csv", (header + "T1,2024-01-02,ablative,2,no\n").encode())),
                               "Northgate").id
    first = versions.history(store, did)[-1].created_at
    assert versions.last_import(store, did) == first
    versions.add_records(store, did, import_files(SourceFile("feb.csv", (header + "T2,2024-02-02,ablative,3,yes\n")
                                                             .encode())))
    added = versions.history(store, did)[-1].created_at
    assert versions.last_import(store, did) == added > first
    versions.rollback(store, did)   # the records are January's again: followed up to January's import
    assert versions.last_import(store, did) == first
    # a clinic's export is complete to the day it was imported (at the latest): the follow-up is that import
    assert versions.records_complete_to(store, did) == first


def test_the_bundled_sample_is_followed_up_to_its_export_date_not_its_import(tmp_path):
    """The sample was exported on 2026-03-31 (data/generate_sample.py EXTRACTION_DATE: later onsets dropped, later
    resolutions blank). Censoring its unresolved events at the day it happens to be imported followed each of them
    for months after the export with no resolution possible: long flat tails, a curve ending at 11 % instead of
    3 % (ablative hyperpigmentation, imported on 2026-12-03). A clinic's own file, or one added to the sample, is
    still complete to the day it was imported."""
    from datetime import datetime, timezone

    from analysis.findings import effects
    from analysis.records import versions
    from analysis.records.filters import prepare
    from analysis.records.ingest import SourceFile, import_files
    from analysis.records import store as store_module
    from analysis.records.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    info = store.ensure_sample()
    exported = datetime(2026, 3, 31, tzinfo=timezone.utc)
    assert versions.SAMPLE_EXPORTED == exported.date()
    assert versions.records_complete_to(store, info.id) == exported < versions.last_import(store, info.id)
    # what the pages, the command line, reports and alerts are given (they read the history through Access)
    assert versions.records_complete_to_in(versions.history(store, info.id)) == exported
    records = prepare(store.load(info.id))
    summary = effects.side_effects(records, exported.date())
    first = records.outcomes["treatment_date"].min()
    for d in summary.durations:   # nobody is followed beyond the export
        assert d.curve.censored.size == 0 or d.curve.censored.max() <= (pd.Timestamp(exported.date()) - first).days
    header = "treatment_id,treatment_date,modality,fitzpatrick_type,PIH\n"
    versions.add_records(store, info.id, import_files(SourceFile("apr.csv", (header + "Z1,2026-04-02,ablative,2,no\n")
                                                                 .encode())))
    added = versions.history(store, info.id)[-1].created_at
    assert versions.records_complete_to(store, info.id) == added
    clinic = store.import_dataset(import_files(SourceFile("own.csv", (header + "T1,2024-01-02,ablative,2,no\n")
                                                          .encode())), "Northgate")
    assert versions.records_complete_to(store, clinic.id) == versions.last_import(store, clinic.id)
    # replaced by the sample, the clinic's dataset holds only the sample's records: complete to the export date,
    # not to the replaced file's import (found by a fourth reading: the curve ended at 11.2 % instead of 3.0 %)
    sample = import_files(SourceFile.from_path(store_module.SAMPLE_OUTCOMES),
                          [SourceFile.from_path(store_module.SAMPLE_SIDE_EFFECTS)])
    versions.add_records(store, clinic.id, sample, replace=True)
    assert versions.records_complete_to(store, clinic.id) == exported
    versions.add_records(store, clinic.id, import_files(SourceFile("may.csv", (header + "Z9,2026-05-02,ablative,2,no\n")
                                                                   .encode())))
    assert versions.records_complete_to(store, clinic.id) == versions.history(store, clinic.id)[-1].created_at


def test_the_curves_chart_shows_each_modality_its_band_censored_marks_and_n():
    from analysis.present import figures

    (d,) = effects.durations_of(_events(), date(2024, 4, 1))
    fig = figures.time_to_resolution([d])
    names = [t.name for t in fig.data]
    assert names == ["Ablative: 95 % confidence band"] * 2 + ["Ablative", "Ablative: still unresolved"]
    curve, marks = fig.data[2], fig.data[3]
    assert curve.line.color == figures.MODALITY_COLOURS["ablative"] and curve.line.shape == "hv"
    assert list(marks.x) == [12, 30] and list(marks.y) == pytest.approx([0.6, 0.6])
    assert "n = 5 / 0" in fig.layout.annotations[0].text
    assert fig.layout.xaxis.title.text == "Days after treatment" and "Not yet resolved" in fig.layout.yaxis.title.text
    assert "no onset or resolution" in figures.time_to_resolution([]).layout.annotations[0].text.lower()


def test_a_modality_whose_events_have_no_days_gets_no_clause():
    """Second reading (issue 15): events recorded only as yes/no flags have no days: nothing to say about how
    long they lasted ("none of the 0 non-ablative cases had resolved" was shown before)."""
    timed = _events()
    flags = timed.iloc[[5]].assign(modality="non-ablative", treatment_id="F1")   # (no days at all)
    durations = effects.durations_of(pd.concat([timed, flags], ignore_index=True), date(2024, 4, 1))
    (said,) = effects.duration_findings(durations)
    assert "non-ablative" not in said.sentence and said.sentence.startswith("Erythema: half of the 5 ablative")
