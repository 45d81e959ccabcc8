"""On data with no true difference, the pages claim a subgroup difference in at most 5 % of datasets.

Issue #15: each skin type, band, side effect, clinic and practitioner used to be tested on its own at 5 %,
so null datasets produced subgroup claims far more often than 1 in 20. The null worlds and the
definition of a claim are ``bench/false_alarms.py`` (which measures the same over 200+ datasets for
bench/RESULTS.md); here a fixed set of seeds keeps the check fast and deterministic.

A claim is any sentence naming a subgroup as different, including the Skin tone page's (and the summary's)
sentence that the gap between ablative and non-ablative "differs between skin types": the test of
interaction at 5 % is itself a subgroup claim. Holm keeps each family's chance of any false claim at or just
below 5 %, and a skin type or band is called different only when the test of interaction finds the gap
differs, so the Skin tone page claims no more often than that one test does (about 5 %; the side effects'
8 nearly independent tests also come close to 5 %).

What 40 datasets can show, and what not. A page fails when its count would be unusual (one-sided exact
binomial p < 0.05) if its true rate were 5 %, i.e. at 5 or more of 40 (P(X >= 5 | 40, 0.05) = 0.048,
scipy ``binom.sf(4, 40, 0.05)``). So the test catches a gross breach: a true rate of 20 % fails 92 % of the
time, 15 % fails 74 %; but it misses a modest one: 10 % fails only 37 % of the time and 7.5 % only 18 %. It
cannot show the rate is at most 5 %; that is measured by ``bench/false_alarms.py`` over 200+ datasets
(standard error about 1.5 points at 5 %). Before the adjustment the same datasets fail it by far. What the
test does show exactly is the mechanism: on every one of the 40 datasets the Skin tone page's claims are
those of the test of interaction alone, so its rate is that test's own rate.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
from scipy.stats import binom

from analysis.findings import compare
from testpaths import ROOT

SEEDS = range(1001, 1041)   # 40 fixed null datasets of 2,000 treatments (chosen before any result was seen)
TARGET = 0.05


def _bench():
    spec = importlib.util.spec_from_file_location("false_alarms", ROOT / "bench" / "false_alarms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def rates():
    # The "how many more treatments" sentence (a power calculation, most of the time) decides no claim.
    patch = pytest.MonkeyPatch()
    patch.setattr(compare, "further_treatments_needed", lambda *a, **k: SimpleNamespace(sentence=None))
    try:
        yield _bench().false_alarm_rates(SEEDS)
    finally:
        patch.undo()


def test_null_world_has_no_difference_to_find():
    bench = _bench()
    records = bench.null_records(7, 20000)
    frame = records.outcomes.assign(hyper=records.flags["hyperpigmentation"].to_numpy())
    by = frame.groupby(["fitzpatrick_type", "modality"], observed=True)["hyper"].mean().unstack()
    assert (by[bench.schema.ABLATIVE] - by[bench.schema.NON_ABLATIVE]).abs().max() < 0.05


def _above_target(count: int) -> bool:
    """Would ``count`` datasets with a claim out of ``len(SEEDS)`` be unusual if the true rate were 5 %?"""
    return binom.sf(count - 1, len(SEEDS), TARGET) < 0.05


def test_subgroup_claims_on_null_data_stay_within_five_percent(rates):
    for page in ("skin tone", "side effects", "trends & clinics", "summary"):
        after = rates[page][1]
        assert not _above_target(after), f"{page}: {after} of {len(SEEDS)} null datasets had a subgroup claim"


def test_skin_tone_claims_are_those_of_the_test_of_interaction_alone(rates):
    """No type or band is called different without the test of interaction first finding the gap differs, so the
    Skin tone page's claims on null data are that one test's (counted on the same datasets, same seeds)."""
    bench = _bench()
    # the page's claims include the interaction sentence's, so equal counts mean the same datasets
    assert rates["skin tone"][1] == rates[bench.INTERACTION][1]
    assert rates["summary"][1] >= rates[bench.INTERACTION][1]  # the summary carries the same sentence


def test_holm_is_what_brings_the_rate_down(rates):
    """Before (each comparison on its own at 5 %) the same datasets gave far too many claims."""
    assert _above_target(rates["skin tone"][0]) and _above_target(rates["side effects"][0])
    assert all(a <= b for b, a in rates.values())  # a claim after Holm was a claim before
