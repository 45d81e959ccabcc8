"""Input checks shared by the statistics modules: one function per rule, one error type (ValueError)
whose message names the bad value."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def check_count(value: Any, name: str) -> int:
    """A non-negative whole number (int, numpy integer, or a float like 3.0), or ValueError naming the value."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if isinstance(value, Integral):
        number = int(value)
    elif isinstance(value, Real) and math.isfinite(float(value)) and float(value).is_integer():
        number = int(value)
    else:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if number < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return number
