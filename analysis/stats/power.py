"""Sample-size planning for comparing two proportions.

Pure functions, no Streamlit. Results are small frozen dataclasses; invalid input raises
``ValueError`` naming the bad value; when no number of treatments could answer (equal rates, an
empty group) the result has ``None`` sizes and a plain-English ``reason``. Adjusted odds ratios
(logistic regression) are in :mod:`analysis.stats.logistic`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, cast

from analysis.stats.checks import check_count, check_level

__all__ = [
    "SampleSize",
    "sample_size_two_proportions",
    "FurtherNeeded",
    "further_treatments_needed",
]

_POWER_METHOD = ("normal approximation on Cohen's h = 2·asin(sqrt(p1)) − 2·asin(sqrt(p2)) "
                 "(statsmodels proportion_effectsize + NormalIndPower, two-sided; the same as "
                 "R pwr::pwr.2p.test / pwr.2p2n.test); rounded up to whole treatments")


def _proportion(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}")
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}")
    return number


# --------------------------------------------------------------------------------------------
# sample size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSize:
    """Treatments needed per group to detect ``p1`` vs ``p2`` (two-sided test).

    ``per_group`` is the size of group 1 and ``second_group`` that of group 2
    (``ratio × per_group``, rounded up); both ``None``, with a ``reason``, when p1 == p2.
    ``exact`` is the unrounded group-1 size and ``effect_size`` Cohen's h.
    """

    per_group: int | None
    p1: float
    p2: float
    power: float
    alpha: float
    method: str
    ratio: float = 1.0
    second_group: int | None = None
    exact: float | None = None
    effect_size: float | None = None
    reason: str | None = None


def _ceil(value: float) -> int:
    # Guard against 393.0000000001 from the root finder turning into 394.
    return int(math.ceil(value - 1e-9))


def sample_size_two_proportions(
    p1: float,
    p2: float,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> SampleSize:
    """Treatments per group to detect ``p1`` vs ``p2`` with a two-sided test.

    Uses Cohen's effect size ``h = 2·asin(sqrt(p1)) − 2·asin(sqrt(p2))`` (statsmodels
    ``proportion_effectsize``) and the normal power equation for two independent samples
    (statsmodels ``NormalIndPower.solve_power``, ``ratio = n2/n1``); identical to R
    ``pwr::pwr.2p.test(h = ES.h(p1, p2), power = ...)`` (Cohen 1988, ch. 6). The result is
    rounded up.

    Parameters
    ----------
    p1, p2 : float
        The two proportions, in ``[0, 1]``.
    power : float, default 0.8
    alpha : float, default 0.05
        Two-sided significance level; ``0 < alpha < power < 1``.
    ratio : float, default 1.0
        Size of group 2 relative to group 1.

    Returns
    -------
    SampleSize

    Examples
    --------
    pwr vignette (Ford, "Getting started with the pwr package"):
    ``pwr.2p.test(h = ES.h(p1 = 0.10, p2 = 0.05), sig.level = 0.05, power = .80)`` needs 424
    per group.

    >>> sample_size_two_proportions(0.10, 0.05).per_group
    424
    """
    p1 = _proportion(p1, "p1")
    p2 = _proportion(p2, "p2")
    power = check_level(power, "power")
    alpha = check_level(alpha, "alpha")
    if power <= alpha:
        raise ValueError(f"power ({power!r}) must be larger than alpha ({alpha!r})")
    if isinstance(ratio, bool) or not isinstance(ratio, Real) or not math.isfinite(float(ratio)) or float(ratio) <= 0:
        raise ValueError(f"ratio must be a positive number, got {ratio!r}")
    ratio = float(ratio)
    if p1 == p2:
        return SampleSize(None, p1, p2, power, alpha, _POWER_METHOD, ratio=ratio, effect_size=0.0,
                          reason="The two proportions are equal, so no number of treatments could show "
                                 "a difference between them.")

    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = float(proportion_effectsize(p1, p2))
    exact = _solve_nobs1(NormalIndPower(), abs(h), alpha, power, ratio)
    n1 = _ceil(exact)
    return SampleSize(n1, p1, p2, power, alpha, _POWER_METHOD, ratio=ratio,
                      second_group=_ceil(exact * ratio), exact=exact, effect_size=h)


def _solve_nobs1(analysis: Any, effect_size: float, alpha: float, power: float, ratio: float) -> float:
    """Group-1 size at which ``analysis.power`` reaches ``power``.

    statsmodels' ``solve_power`` searches a bracket starting near n = 2 and fails for very large
    effects (e.g. 0 % vs 100 %, where about 1.6 treatments suffice). Power rises monotonically in
    n from ``alpha`` (n -> 0), so Brent's method on a wide bracket finds the same root everywhere.
    """
    from scipy.optimize import brentq

    def gap(n: float) -> float:
        return float(analysis.power(effect_size=effect_size, nobs1=n, alpha=alpha, ratio=ratio,
                                    alternative="two-sided")) - power

    return float(brentq(gap, 1e-6, 1e12, xtol=1e-10, rtol=1e-12, maxiter=500))


@dataclass(frozen=True)
class FurtherNeeded:
    """How many more treatments per group would detect the observed difference.

    ``more_per_group`` = max(0, ``required_per_group`` − the smaller current group); ``None``
    (with ``reason``) when the observed rates are equal or a group is empty. ``sentence`` is a
    one-line plain-English summary for display.
    """

    more_per_group: int | None
    required_per_group: int | None
    current_smaller: int
    p1: float | None
    p2: float | None
    power: float
    alpha: float
    sentence: str
    method: str
    reason: str | None = None


def _percent(value: float) -> str:
    return f"{value * 100:.10g} %"


def further_treatments_needed(
    k1: int,
    n1: int,
    k2: int,
    n2: int,
    power: float = 0.8,
    alpha: float = 0.05,
    *,
    group_label: str = "modality",
) -> FurtherNeeded:
    """More treatments per group needed to tell whether an observed difference is real.

    Takes the observed rates ``k1/n1`` and ``k2/n2`` as the true ones, computes the equal group
    size that detects them (:func:`sample_size_two_proportions`) and subtracts the smaller
    current group. This is a planning figure: the observed difference is itself uncertain.

    Parameters
    ----------
    k1, n1 : int
        Events and treatments in group 1.
    k2, n2 : int
        Events and treatments in group 2.
    power, alpha : float
    group_label : str, default "modality"
        Word used in the sentence ("... more treatments per modality ...").

    Returns
    -------
    FurtherNeeded

    Examples
    --------
    >>> further_treatments_needed(10, 100, 5, 100).more_per_group   # 424 needed (pwr vignette)
    324
    """
    k1, n1 = check_count(k1, "k1"), check_count(n1, "n1")
    k2, n2 = check_count(k2, "k2"), check_count(n2, "n2")
    if k1 > n1:
        raise ValueError(f"k1 = {k1} is more than n1 = {n1}")
    if k2 > n2:
        raise ValueError(f"k2 = {k2} is more than n2 = {n2}")
    power = check_level(power, "power")
    alpha = check_level(alpha, "alpha")
    if power <= alpha:
        raise ValueError(f"power ({power!r}) must be larger than alpha ({alpha!r})")
    if n1 == 0 or n2 == 0:
        text = f"One {group_label} has no treatments in this selection, so there is no difference to assess."
        return FurtherNeeded(None, None, min(n1, n2), None if n1 == 0 else k1 / n1,
                             None if n2 == 0 else k2 / n2, power, alpha, text, _POWER_METHOD, reason=text)
    p1, p2 = k1 / n1, k2 / n2
    current = min(n1, n2)
    if p1 == p2:
        text = ("The two rates are exactly the same here, so there is no difference for more treatments to "
                "confirm.")
        return FurtherNeeded(None, None, current, p1, p2, power, alpha, text, _POWER_METHOD, reason=text)
    size = sample_size_two_proportions(p1, p2, power=power, alpha=alpha)
    required = cast(int, size.per_group)  # p1 != p2 here, so a size is always returned
    more = max(0, required - current)
    if more == 0:
        text = (f"There are already enough treatments per {group_label} to tell whether a difference "
                f"this large is real ({_percent(power)} power).")
    else:
        text = (f"About {more:,} more treatments per {group_label} would be needed to tell whether this "
                f"difference is real ({_percent(power)} power).")
    return FurtherNeeded(more, required, current, p1, p2, power, alpha, text, _POWER_METHOD)
