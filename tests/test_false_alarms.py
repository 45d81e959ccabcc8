"""On data with no true difference, the pages claim a subgroup difference in at most 5 % of datasets.

Issue #15: each skin type, band, side effect, clinic and practitioner used to be tested on its own at 5 %,
so null datasets produced subgroup claims far more often than 1 in 20. The null worlds and the
definition of a claim are ``bench/false_alarms.py`` (which measures the same over 200+ datasets for
bench/RESULTS.md); here a fixed set of seeds keeps the check fast and deterministic.

Holm keeps each family's chance of any false claim at or just below 5 %, so over a few dozen datasets the
count of datasets with a claim scatters around 2 in 40 (the side effects' 9 nearly independent tests
come closest to 5 %). The check is therefore a test of the target, not a count compared with 5 % of the
sample: a page fails when its count would be unusual (one-sided exact binomial p < 0.05) if its true rate
were 5 %. Before the adjustment the same datasets fail that by far.
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


def test_holm_is_what_brings_the_rate_down(rates):
    """Before (each comparison on its own at 5 %) the same datasets gave far too many claims."""
    assert _above_target(rates["skin tone"][0]) and _above_target(rates["side effects"][0])
    assert all(a <= b for b, a in rates.values())  # a claim after Holm was a claim before
