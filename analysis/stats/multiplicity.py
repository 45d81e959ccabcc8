"""Multiplicity: p-values of a family of comparisons adjusted so that the family as a whole keeps its 5 %.

When a page compares ablative with non-ablative treatment in each of 6 skin types, each test at 5 %,
the chance that at least one of them looks "significant" although nothing differs is far above 5 %.
Holm's step-down method adjusts the family's p-values so that rejecting every adjusted p below 0.05
keeps that chance (the family-wise error rate) at or below 5 %, whatever the tests' dependence.

Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat 1979;6:65-70.
The adjusted values are those of R's ``p.adjust(p, method = "holm")``.
"""

from __future__ import annotations

from typing import Sequence


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input's order; a None (no test) stays None and is not counted.

    With the m tested p-values sorted ascending, p(1) <= ... <= p(m), the adjusted value of p(i) is
    ``max over j <= i of min(1, (m - j + 1) * p(j))`` (R ``p.adjust(..., "holm")``, which also drops
    NA before counting m).

    >>> holm([0.01, 0.04, 0.03, 0.005, 0.5, None])
    [0.04, 0.09, 0.09, 0.025, 0.5, None]
    """
    tested = [(p, i) for i, p in enumerate(p_values) if p is not None]
    for p, _ in tested:
        if not 0.0 <= p <= 1.0:  # NaN fails too
            raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def family_size(p_values: Sequence[float | None]) -> int:
    """How many comparisons of a family were tested (the m Holm divides by)."""
    return sum(p is not None for p in p_values)
