"""Time to an event with open follow-up: the Kaplan-Meier estimator and its median with a confidence interval.

:func:`kaplan_meier` takes one time per subject and whether the event happened then (``True``) or the
subject was last seen without it (``False``, censored), and returns a frozen :class:`SurvivalCurve`,
like ``scipy.stats`` result objects: the curve as arrays, its median and :meth:`SurvivalCurve.evaluate`.

The curve and its Greenwood standard errors come from statsmodels' ``SurvfuncRight``; the median and
its interval are those ``survival::survfit`` prints (R, Therneau), so the numbers can be checked against
it (``tests/test_survival.py`` holds the R calls and their output):

* the median is the first event time at which the curve is at or below one half; when the curve is
  exactly one half there and drops later, it is the midpoint of the two times (statsmodels'
  ``quantile`` and SAS take the later time);
* the 95 % interval is where the pointwise band crosses one half, by the same rule: the lower limit
  from the band's lower edge, the upper limit from its upper edge (None when it never reaches one
  half: "not reached"). The band is R's default ``conf.type="log"``, ``S exp(± z se(log S))``
  capped at 1, undefined where S is 0. statsmodels' ``quantile_ci`` inverts a test on that scale
  with ``method="log"`` (its default ``"cloglog"`` is R's ``conf.type="log-log"``), but its upper
  limit is the event time after the last one inside the interval, which can be a time where the
  band is undefined: for times 2, 6+, 7, 7, 9 it gives 9 where survfit gives NA. That is why the
  limits are read off the band here.

R's ``quantile.survfit`` (not used) differs from the printed table in two corner cases: a curve
that stays exactly at one half until the last follow-up (midpoint with that last time), and a band
that is not monotone at the tail.

Conventions as in the rest of :mod:`analysis.stats`: invalid input raises :class:`ValueError`
naming the bad value; no event at all gives a median of ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from statsmodels.duration.survfunc import SurvfuncRight

from analysis.stats.checks import check_confidence, z_critical
from analysis.stats.ranks import Estimate

#: The curve's value counted as equal to one half (R's ``quantile.survfit`` uses sqrt(machine epsilon)).
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan-Meier curve: the share of subjects still without the event against time.

    ``times`` are the distinct event times, ascending; ``survival`` the curve just after each,
    ``std_err`` its Greenwood standard error, ``at_risk`` and ``events`` the subjects at risk at and
    with the event at each. ``censored`` are the times subjects were last seen without the event
    (one entry per subject, ascending). ``median`` is the time by which half had the event, with its
    confidence interval (``None`` where the curve or its band never reaches one half).
    """

    times: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    median: Estimate
    conf_type: str = "log"

    @property
    def n(self) -> int:
        """Subjects in the curve."""
        return self.median.n

    @property
    def n_events(self) -> int:
        """Subjects whose event was seen."""
        return int(self.events.sum())

    def confidence_band(self) -> tuple[np.ndarray, np.ndarray]:
        """The pointwise confidence band at ``times`` (the median's level), R's ``conf.type="log"``: lower and
        upper edges, NaN where the curve is 0."""
        return _log_band(self.survival, self.std_err, z_critical(self.median.confidence))

    def evaluate(self, t: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """The curve at times ``t`` (a step function, right-continuous: 1 before the first event)."""
        at = np.asarray(t, dtype=float)
        steps = np.searchsorted(self.times, at, side="right")
        values = np.concatenate([[1.0], self.survival])
        return values[steps]


def kaplan_meier(time: Sequence[float] | np.ndarray, event: Sequence[bool] | np.ndarray,
                 confidence: float = 0.95) -> SurvivalCurve:
    """Kaplan-Meier curve of right-censored times, with its median and R's log-type interval.

    Parameters
    ----------
    time : sequence of float
        Each subject's time: when the event happened, or when it was last seen without it. Finite, >= 0.
    event : sequence of bool
        True when the event happened at ``time``, False when the subject is censored there.
    confidence : float
        Two-sided confidence level of the median's interval.

    Returns
    -------
    SurvivalCurve

    Examples
    --------
    R ``survfit(Surv(time, status) ~ 1, data = aml, subset = x == "Maintained")`` (survival 3.x):
    median 31, 0.95LCL 18, 0.95UCL NA:

    >>> km = kaplan_meier([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    >>> km.median.estimate, km.median.low, km.median.high
    (31.0, 18.0, None)
    """
    confidence = check_confidence(confidence)
    t = np.asarray(time, dtype=float)
    d = np.asarray(event)
    if t.ndim != 1 or d.shape != t.shape:
        raise ValueError(f"time and event must be 1-D and of the same length, got {t.shape} and {d.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        bad = t[~np.isfinite(t) | (t < 0)][0]
        raise ValueError(f"time must be finite and >= 0, got {bad!r}")
    if d.dtype != bool:
        if not np.all(np.isin(d, (0, 1))):
            raise ValueError(f"event must be True/False or 1/0, got {d[~np.isin(d, (0, 1))][0]!r}")
        d = d.astype(bool)
    censored = np.sort(t[~d])
    if not d.any():
        empty = np.empty(0)
        return SurvivalCurve(empty, empty, empty, empty, empty, censored,
                             Estimate(None, None, None, confidence, int(t.size), "Kaplan-Meier, log interval"))
    fit = SurvfuncRight(t, d.astype(float))
    times = np.asarray(fit.surv_times, dtype=float)
    survival = np.asarray(fit.surv_prob, dtype=float)
    std_err = np.asarray(fit.surv_prob_se, dtype=float)
    lower, upper = _log_band(survival, std_err, z_critical(confidence))
    median = Estimate(_median_of(times, survival), _median_of(times, lower), _median_of(times, upper), confidence,
                      int(t.size), "Kaplan-Meier, log interval")
    arrays = [times, survival, std_err, np.asarray(fit.n_risk, dtype=float), np.asarray(fit.n_events, dtype=float),
              censored]
    for a in arrays:
        a.setflags(write=False)
    return SurvivalCurve(*arrays, median)


def _log_band(survival: np.ndarray, std_err: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """R's ``conf.type="log"`` band: ``S exp(± z se/S)``, the upper edge capped at 1; NaN where S is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(survival > 0, z * std_err / survival, np.nan)
        lower = survival * np.exp(-spread)
        upper = np.minimum(1.0, survival * np.exp(spread))
    return lower, upper


def _median_of(times: np.ndarray, curve: np.ndarray) -> float | None:
    """When ``curve`` (the survival curve or an edge of its band, at ``times``) reaches 1/2, as ``print.survfit``
    finds it (``survival:::survmean``, its ``minmin``): the first time the curve is at or below 1/2; when it is
    exactly 1/2 there (within ``_TOLERANCE``) and drops later, the midpoint of that time and the time it drops.
    NaN entries (a band where the curve is 0) are skipped; None when the curve never reaches 1/2."""
    keep = ~np.isnan(curve) & (curve < 0.5 + _TOLERANCE)
    if not keep.any():
        return None
    x, y = times[keep], curve[keep]
    if abs(y[0] - 0.5) < _TOLERANCE and np.any(y < y[0]):
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])
