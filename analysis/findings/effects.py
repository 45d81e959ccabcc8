"""Every recorded side effect, ablative vs non-ablative: rates, severity mix and how long effects lasted.

One rate contrast per effect, each effect's rate per Fitzpatrick type, the severity counts and the
time from treatment to resolution per effect and modality (Kaplan-Meier, :func:`durations`). One
effect across skin tones in depth (trend, bands, adjusted odds) is :mod:`analysis.findings.skin_tone`;
the result objects and thresholds are in :mod:`analysis.findings.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analysis import stats
from analysis.findings import wording
from analysis.findings.compare import (SMALL_N, Finding, RateCell, RateContrast, family_contrasts, not_recorded,
                                       rate_cells_of, rate_contrast)
from analysis.records.filters import side_effects_with, with_effect_flags
from analysis.records.schema import ABLATIVE, EFFECTS, MODALITIES, NON_ABLATIVE
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
    """Time from treatment to the resolution of an effect, per modality: a Kaplan-Meier curve in days after
    treatment, events still unresolved censored at their last follow-up (see :func:`durations_of`)."""

    effect: str
    modality: str
    curve: stats.SurvivalCurve
    unresolved: int = 0      # events not resolved by the last follow-up: censored, in the curve
    untimed: int = 0         # events with neither an onset nor a resolution day: not in the curve

    @property
    def median(self) -> stats.Estimate:
        """Days after treatment by which half the events had resolved, with its 95 % CI (None: not reached)."""
        return self.curve.median

    @property
    def small(self) -> bool:
        """Fewer than ``SMALL_N`` cases: shown, but too few to conclude from."""
        return self.curve.n < SMALL_N

    @property
    def clause(self) -> str:
        """The median in plain words: "half of the 40 ablative cases had resolved by day 9 after treatment
        (95 % CI 7–11)"; the unresolved ones are counted, a small group is marked."""
        m, n = self.median, self.curve.n
        cases = f"{wording.count(n)} {self.modality} case{'s' if n != 1 else ''}"
        notes = []
        if self.unresolved:
            notes.append(f"{wording.count(self.unresolved)} still unresolved at the last follow-up")
        if self.small:
            notes.append("too few to conclude from")
        if m.estimate is None:
            if self.curve.n_events:
                text = f"fewer than half of the {cases} had resolved by the last follow-up"
            else:
                text = f"{'the' if n == 1 else 'none of the'} {cases} had {'not ' if n == 1 else ''}resolved by the " \
                       "last follow-up"
            return text + (f" ({'; '.join(notes)})" if notes else "")
        if m.low is None:
            ci = "no interval with so few cases"
        elif m.high is None:
            why = "not enough follow-up" if self.unresolved else "too few cases"
            ci = f"95 % CI from day {wording.number(m.low)}; {why} for an upper limit"
        else:
            ci = f"95 % CI {wording.interval(m.low, m.high)}"
        return (f"half of the {cases} had resolved by day {wording.number(m.estimate)} after treatment "
                f"({'; '.join([ci, *notes])})")

    @property
    def sentence(self) -> str:
        """:attr:`clause` as a sentence about the effect."""
        return wording.capital(f"{wording.effect_words(self.effect)}: {self.clause}.")


def duration_findings(durations: tuple[EffectDuration, ...]) -> tuple[Finding, ...]:
    """One sentence per effect with both modalities' medians ("Erythema: half of the ... ; half of the ...")."""
    out = []
    for effect in dict.fromkeys(d.effect for d in durations if d.curve.n):
        mine = [d for d in durations if d.effect == effect and d.curve.n]   # (a modality with no days: nothing to say)
        text = wording.capital(f"{wording.effect_words(effect)}: " + "; ".join(d.clause for d in mine) + ".")
        out.append(Finding(effect, text, 0.2, all(d.small for d in mine)))
    return tuple(out)


@dataclass(frozen=True)
class SideEffectSummary:
    """Every effect's rate by modality, severity mix, and duration."""

    rates: tuple[RateContrast, ...]          # one per effect: ablative vs non-ablative
    by_skin_type: tuple[RateCell, ...]       # effect rate per modality x type (group = 'effect · type')
    severity: pd.DataFrame                   # effect, modality, severity, count
    durations: tuple[EffectDuration, ...]    # time from treatment to resolution (Kaplan-Meier)
    findings: tuple[Finding, ...]
    recorded: bool = True
    follow_up_until: date | None = None      # unresolved events are followed to this date (None: see durations_of)

    @property
    def duration_findings(self) -> tuple[Finding, ...]:
        """The medians in plain words, one sentence per effect, then how unresolved events are counted."""
        if not any(d.curve.n for d in self.durations):
            return ()
        until = (f"the records' last follow-up date, {self.follow_up_until:%Y-%m-%d}" if self.follow_up_until
                 else "the latest date the records show")
        how = Finding("durations", f"Days are counted from the treatment. An effect not yet resolved counts as "
                                   f"unresolved up to {until} (censored), so the long-lasting ones are not dropped.",
                      0.1)
        return (*duration_findings(self.durations), how)


#: The side effect compared in advance, on its own (the Overview's and Skin tone page's headline).
HEADLINE_EFFECT = "hyperpigmentation"


def side_effects(records: Records, follow_up_until: date | None = None) -> SideEffectSummary:
    """Rates of each recorded effect (treatments with at least one event), severity and time to resolution.

    ``follow_up_until`` is the date the side-effect records are complete to (for an import, when it was
    made): an unresolved event is censored that many days after its treatment (see :func:`durations_of`).
    """
    if not records.side_effects_recorded:
        empty = pd.DataFrame(columns=["effect", "modality", "severity", "count"])
        return SideEffectSummary((), (), empty, (), not_recorded("side-effect"), recorded=False)
    frame = with_effect_flags(records, ["modality", "fitzpatrick_type"])
    side = records.side_effects
    present = set(side["effect"].dropna().unique().tolist())
    effects = [e for e in EFFECTS if e in present]
    # The effects are one family: a difference is called only after allowing for all of them (Holm). Except
    # hyperpigmentation: stated in advance and judged on its own on the Overview and Skin tone pages, it gets
    # that same comparison here (one comparison, one verdict), and is not counted in the family.
    others = [e for e in effects if e != HEADLINE_EFFECT]
    family = dict(zip(others, family_contrasts([(e, _counts(frame, e)) for e in others], "side effects", effect=None,
                                               where="")))
    rates = tuple(family[e] if e in family else rate_contrast(e, *_counts(frame, e), effect=e, where="")
                  for e in effects)
    by_type = []
    per_effect = rate_cells_of(frame, effects, "fitzpatrick_type") if effects else {}
    for e in effects:
        for cell in per_effect[e]:
            by_type.append(RateCell(cell.modality, f"{e} · {cell.group}", cell.proportion, cell.small))
    joined = side_effects_with(records, ["modality", "treatment_date"])
    until = follow_up_until if follow_up_until is not None else latest_date(records)
    severity = (joined.assign(severity=joined["severity"].fillna("not recorded"))
                .groupby(["effect", "modality", "severity"], observed=True).size().rename("count").reset_index())
    durations = durations_of(joined, until)
    findings = tuple(Finding(c.group, wording.capital(c.sentence), 0.5 if not c.small else 0.1, c.small) for c in rates)
    return SideEffectSummary(rates, tuple(by_type), severity, durations, findings, follow_up_until=follow_up_until)


def latest_date(records: Records) -> date | None:
    """The latest date the records show: a treatment, or a side effect's onset or resolution (days after its
    treatment). Records cannot have been exported before it, so without a stated follow-up date unresolved
    events are followed up to it. Take it from the whole file before any filter: a selection's latest treatment
    says nothing about when the file was exported."""
    treated = pd.to_datetime(records.outcomes["treatment_date"])
    latest = treated.max()
    side = records.side_effects
    if not side.empty and {"onset_day", "resolved_day"} <= set(side.columns):
        events = side_effects_with(records, ["treatment_date"])
        if not events.empty:
            days = np.fmax(events["onset_day"].to_numpy(dtype="float64", na_value=np.nan),
                           events["resolved_day"].to_numpy(dtype="float64", na_value=np.nan))
            seen = (pd.to_datetime(events["treatment_date"]).reset_index(drop=True)
                    + pd.to_timedelta(np.nan_to_num(days), unit="D")).max()
            latest = seen if pd.isna(latest) else max(latest, seen) if not pd.isna(seen) else latest
    return None if pd.isna(latest) else latest.date()


def durations_of(events: pd.DataFrame, follow_up_until: date | None = None) -> tuple[EffectDuration, ...]:
    """Kaplan-Meier time from treatment to resolution per effect and modality (``events``: side effects with
    their treatment's ``modality`` and ``treatment_date``).

    * An event with a resolution day resolved then (days after treatment), even when that is after
      ``follow_up_until``: the records say so.
    * An event with an onset but no resolution day is still unresolved: censored at its last follow-up, the
      days from its treatment to ``follow_up_until``, or at its onset day when that is later (it was seen
      unresolved at onset: a stated date before the onset, a treatment after the stated date, or a missing
      treatment date).
    * An event with neither day (a yes/no flag column records no timing) is left out and counted as
      ``untimed``.

    Without ``follow_up_until`` the events are taken as complete to the latest date they show (an onset or
    resolution); :func:`side_effects` passes :func:`latest_date` instead, which counts every treatment too.
    """
    if events.empty:
        return ()
    treated = pd.to_datetime(events["treatment_date"]).reset_index(drop=True)
    onset = events["onset_day"].to_numpy(dtype="float64", na_value=np.nan)
    resolved = events["resolved_day"].to_numpy(dtype="float64", na_value=np.nan)
    if follow_up_until is None:
        until = (treated + pd.to_timedelta(np.nan_to_num(np.fmax(onset, resolved)), unit="D")).max()
    else:
        until = pd.Timestamp(follow_up_until)
    followed = (until - treated).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    time = np.where(np.isnan(resolved), np.fmax(followed, onset), resolved)  # fmax: a NaN follow-up leaves the onset
    event = ~np.isnan(resolved)
    timed = ~np.isnan(time) & ~(np.isnan(onset) & np.isnan(resolved))   # neither day: no timing recorded
    effect_codes, effect_names = pd.factorize(events["effect"])
    modality_codes, modality_names = pd.factorize(events["modality"])
    width = len(modality_names) + 1
    combined = np.where((effect_codes >= 0) & (modality_codes >= 0), effect_codes.astype(np.int64) * width
                        + modality_codes, -1)
    order = np.argsort(combined, kind="stable")   # each (effect, modality) group is one slice of ``order``
    codes, starts = np.unique(combined[order], return_index=True)
    out = []
    for code, start, stop in zip(codes.tolist(), starts.tolist(), [*starts[1:].tolist(), len(order)]):
        if code < 0:
            continue
        e, m = divmod(code, width)
        mine = order[start:stop]
        use = mine[timed[mine]]
        curve = stats.kaplan_meier(time[use], event[use])
        out.append(EffectDuration(str(effect_names[e]), str(modality_names[m]), curve, int((~event[use]).sum()),
                                  len(mine) - len(use)))
    order = {e: i for i, e in enumerate(EFFECTS)}
    return tuple(sorted(out, key=lambda d: (order.get(d.effect, len(order)), MODALITIES.index(d.modality))))

