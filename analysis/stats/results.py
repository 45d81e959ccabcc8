"""Result objects shared by the statistics modules (:mod:`analysis.stats.proportions` and
:mod:`analysis.stats.ranks`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: its name, statistic and two-sided p-value.

    ``rank_biserial`` is filled by :func:`analysis.stats.ranks.mann_whitney`; ``method`` says how the
    p-value was computed.
    """

    __test__ = False  # not a pytest test class despite the name

    test: str
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None = None
    method: str | None = None
