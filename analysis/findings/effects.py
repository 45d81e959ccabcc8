"""Every recorded side effect, ablative vs non-ablative: rates, severity mix and how long effects lasted.

One rate contrast per effect, each effect's rate per Fitzpatrick type, the severity counts and the
median duration (resolved day - onset day) per effect and modality. One effect across skin tones in
depth (trend, bands, adjusted odds) is :mod:`analysis.findings.skin_tone`; the result objects and
thresholds are in :mod:`analysis.findings.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.findings.compare import Finding, RateCell, RateContrast, family_contrasts, not_recorded, rate_cells_of
from analysis.records.filters import side_effects_with, with_effect_flags
from analysis.records.schema import ABLATIVE, EFFECTS, NON_ABLATIVE
from analysis.records.store import Records


def _counts(frame: pd.DataFrame, flag: str, mask: np.ndarray | pd.Series | None = None) -> tuple[int, int, int, int]:
    """Events and treatments of ``flag`` for ablative, then non-ablative (rows in ``mask`` only)."""
    is_a = (frame["modality"] == ABLATIVE).to_numpy(dtype=bool)
    is_b = (frame["modality"] == NON_ABLATIVE).to_numpy(dtype=bool)
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        is_a &= keep
        is_b &= keep
    values = frame[flag]
    return int(values[is_a].sum()), int(is_a.sum()), int(values[is_b].sum()), int(is_b.sum())


@dataclass(frozen=True)
class EffectDuration:
    """How long an effect lasted (resolved_day - onset_day), per modality."""

    effect: str
    modality: str
    median: stats.Estimate   # among events with both onset and resolution recorded
    unresolved: int = 0      # events with an onset but no resolution yet (the long ones: not in the median)


@dataclass(frozen=True)
class SideEffectSummary:
    """Every effect's rate by modality, severity mix, and duration."""

    rates: tuple[RateContrast, ...]          # one per effect: ablative vs non-ablative
    by_skin_type: tuple[RateCell, ...]       # effect rate per modality x type (group = 'effect · type')
    severity: pd.DataFrame                   # effect, modality, severity, count
    durations: tuple[EffectDuration, ...]
    findings: tuple[Finding, ...]
    recorded: bool = True


def side_effects(records: Records) -> SideEffectSummary:
    """Rates of each recorded effect (treatments with at least one event), severity and duration."""
    if not records.side_effects_recorded:
        empty = pd.DataFrame(columns=["effect", "modality", "severity", "count"])
        return SideEffectSummary((), (), empty, (), not_recorded("side-effect"), recorded=False)
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type"])
    side = records.side_effects
    present = set(side["effect"].dropna().unique().tolist())
    effects = [e for e in EFFECTS if e in present]
    # the effects are one family: a difference is called only after allowing for all of them (Holm)
    rates = family_contrasts([(e, _counts(frame, e)) for e in effects], "side effects", effect=None, where="")
    by_type = []
    per_effect = rate_cells_of(frame, effects, "fitzpatrick_type") if effects else {}
    for e in effects:
        for cell in per_effect[e]:
            by_type.append(RateCell(cell.modality, f"{e} · {cell.group}", cell.proportion, cell.small))
    joined = side_effects_with(records, ["modality"])
    severity = (joined.assign(severity=joined["severity"].fillna("not recorded"))
                .groupby(["effect", "modality", "severity"], observed=True).size().rename("count").reset_index())
    durations = []
    lasted = joined.assign(days=joined["resolved_day"] - joined["onset_day"])
    for (e, m), values in lasted.groupby(["effect", "modality"], observed=True)["days"]:
        unresolved = int(values.isna().sum())
        if values.notna().any() or unresolved:
            durations.append(EffectDuration(str(e), str(m), stats.median_ci(values.dropna().to_numpy(dtype="float64")),
                                            unresolved))
    findings = tuple(Finding(c.group, wording.capital(c.sentence), 0.5 if not c.small else 0.1, c.small) for c in rates)
    return SideEffectSummary(rates, tuple(by_type), severity, tuple(durations), findings)
