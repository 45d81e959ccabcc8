"""Input checks shared by the statistics modules: one function per rule, one error type (ValueError)
whose message names the bad value."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

#: How a missing group name is shown (funnel units, model levels, quality tables).
NOT_RECORDED = "(not recorded)"


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


def binary_values(series: pd.Series) -> np.ndarray | None:
    """The values of a column holding only True/False or 1/0, as 0.0/1.0; None when it holds anything
    else (a missing value included), so that a row-by-row check can name the first bad value."""
    dtype = series.dtype
    try:
        if pd.api.types.is_object_dtype(dtype):
            values = series.to_numpy(dtype=object)
            kind = pd.api.types.infer_dtype(values, skipna=False)
            if kind == "boolean":  # bool and numpy.bool_ only
                return values.astype(float)
            if kind not in ("integer", "floating", "mixed-integer-float"):
                return None
            numbers = values.astype(float)
        elif (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)
              or pd.api.types.is_float_dtype(dtype)):
            if series.hasnans:
                return None
            numbers = series.to_numpy(dtype=float)
        else:
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    if not np.all((numbers == 0.0) | (numbers == 1.0)):
        return None
    return numbers


def level_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and levels of a grouping column; a missing value is the level ``NOT_RECORDED``.

    The levels are the distinct values as ``series.astype(object)`` holds them, in order of first
    appearance, with ``NOT_RECORDED`` (shared with a recorded "(not recorded)", if any) appended when
    something is missing; code ``k`` is ``levels[k]``.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    levels = pd.Series(uniques).astype(object).tolist()
    codes = np.asarray(codes, dtype=np.intp)
    if len(codes) and codes.min() < 0:
        try:
            at = levels.index(NOT_RECORDED)
        except ValueError:
            at = len(levels)
            levels.append(NOT_RECORDED)
        codes = np.where(codes < 0, at, codes)
    return codes, levels
