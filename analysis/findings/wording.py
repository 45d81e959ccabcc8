"""Numbers in words a clinic manager reads: percentages, intervals, p-values, skin-type bands."""

from __future__ import annotations

import math

from analysis.records.schema import FITZPATRICK_ROMAN


def count(n: int | float) -> str:
    """A count with thousands separators, as every page, table and chart shows counts: ``1133`` -> ``1,133``."""
    return f"{int(n):,}"


def _pct_decimals(percent: float) -> int:
    """How many decimals :func:`pct` gives a percentage (see there)."""
    if percent == 0:
        return 0
    if abs(percent) < 1:
        return 2
    if abs(percent) < 10 or 99.5 <= abs(percent) < 100:  # never round 99.6 % up to a false 100 %
        return 1
    return 0


def _pct_text(value: float, decimals: int | None = None) -> str:
    percent = value * 100
    if percent == 0:
        return "0 %"
    return f"{percent:.{_pct_decimals(percent) if decimals is None else decimals}f} %"


def pct(value: float | None) -> str:
    """A proportion as a percentage: two decimals below 1 %, one below 10 %, else whole (``0.094`` -> ``9.4 %``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return _pct_text(value)


def pct_range(low: float | None, high: float | None) -> str:
    """``24–39 %`` for an interval of proportions."""
    if low is None or high is None:
        return "–"
    return f"{pct(low).removesuffix(' %')}–{pct(high)}"


def pct_apart(value: float, other: float) -> tuple[str, str]:
    """Two proportions written so that, when they differ, they read in their true order: each as :func:`pct` writes
    it, or both with the decimals needed (at most 4) when that would make them read alike (``0.143, 0.141`` ->
    ``14.3 %, 14.1 %``, not ``14 %, 14 %``)."""
    def ordered(dv: int, do: int) -> bool:
        a, b = round(value * 100, dv), round(other * 100, do)
        return a > b if value > other else a < b

    plain = (_pct_decimals(value * 100), _pct_decimals(other * 100))
    if value == other or ordered(*plain):
        return _pct_text(value), _pct_text(other)
    d = max(plain)
    while d < 4 and not ordered(d, d):
        d += 1
    return _pct_text(value, d), _pct_text(other, d)


def pct_against(value: float | None, low: float | None, high: float | None) -> tuple[str, str]:
    """A rate and its limits, ``(rate, "low–high %")``, with enough decimals that a rate outside the limits never
    reads as equal to (or inside) them: 0.4321 against 0–0.4287 is ``43.2 %`` against ``0–42.9 %``, not ``43 %``
    against ``0–43 %``. Only the rate and the limit it crosses gain decimals (:func:`pct_apart`); a rate within
    its limits is written as :func:`pct` writes it (rounding never moves it outside)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or low is None or high is None:
        return pct(value), pct_range(low, high)
    rate, low_text, high_text = pct(value), pct(low), pct(high)
    if value > high:
        rate, high_text = pct_apart(value, high)
    elif value < low:
        rate, low_text = pct_apart(value, low)
    return rate, f"{low_text.removesuffix(' %')}–{high_text}"


def points(value: float | None) -> str:
    """A difference of proportions in percentage points (``0.221`` -> ``22 points``)."""
    if value is None:
        return "–"
    p = abs(value) * 100
    text = f"{p:.1f}" if 0 < p < 10 else f"{p:.0f}"
    return f"{text} percentage point{'s' if text != '1' else ''}"


def signed_points(value: float | None) -> str:
    """A difference in percentage points with its sign, for interval ends: ``+6.5``, ``−0.2``, ``0``."""
    if value is None:
        return "–"
    p = value * 100
    text = f"{abs(p):.1f}" if 0 < abs(p) < 10 else f"{abs(p):.0f}"
    if text in ("0", "0.0"):
        return "0"
    return f"{'−' if p < 0 else '+'}{text}"


def points_interval(low: float | None, high: float | None) -> str:
    """An interval of differences in points, low to high with signs: ``−0.2 to +32 points``."""
    if low is None or high is None:
        return "–"
    return f"{signed_points(low)} to {signed_points(high)} points"


def number(value: float | None, unit: str = "") -> str:
    """A measurement with at most one decimal, and its unit (``7.0, 'days'`` -> ``7 days``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if unit:
        singular = unit.removesuffix("s")
        return f"{text} {singular if text in ('1', '-1') else unit}"
    return text


def interval(low: float | None, high: float | None, unit: str = "") -> str:
    """``5–7 days`` for an interval of measurements."""
    if low is None or high is None:
        return "no interval with so few values"
    if not unit:
        return f"{number(low)}–{number(high)}"
    singular = number(low) == number(high) == "1"
    return f"{number(low)}–{number(high)} {unit.removesuffix('s') if singular else unit}"


def p_value(p: float | None) -> str:
    """``p < 0.001``, ``p = 0.03``, ``p = 0.21``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "no test"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:  # three decimals near the 0.05 line, so 0.0496 is not shown as 0.05
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def skin_types(types: tuple[int, ...] | list[int]) -> str:
    """``type V–VI``, ``type IV``, ``types I, III``."""
    ordered = sorted(types)
    if len(ordered) == 1:
        return f"type {FITZPATRICK_ROMAN[ordered[0]]}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"type {FITZPATRICK_ROMAN[ordered[0]]}–{FITZPATRICK_ROMAN[ordered[-1]]}"
    return "types " + ", ".join(FITZPATRICK_ROMAN[t] for t in ordered)


def times(value: float | None) -> str:
    """A ratio in words: ``2.3 times``."""
    if value is None:
        return "–"
    if value < 0.1:
        return f"{value:.2f} times"
    return f"{value:.1f} times" if value < 10 else f"{value:.0f} times"


def capital(text: str) -> str:
    """Upper-case the first letter only (``str.capitalize`` would lower-case 'VI')."""
    return text[:1].upper() + text[1:]


def effect_words(effect: str) -> str:
    """A side effect as a sentence names it: "other side effects" for the catch-all "other"."""
    return "other side effects" if effect == "other" else effect
