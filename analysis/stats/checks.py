"""Input checks shared by the statistics modules: one function per rule, one error type (ValueError)
whose message names the bad value; and the normal critical value :func:`z_critical` they share."""

from __future__ import annotations

import math
import operator
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

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


# --- counts, samples and confidence levels (proportions, ranks) ---------------------------------


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float, or raise ValueError unless 0 < confidence < 1."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}") from None
    if not 0.0 < value < 1.0:  # also rejects NaN
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


def _index_count(value: object, name: str) -> int:
    """Return a non-negative whole number, or raise ValueError naming ``value``.

    Unlike :func:`check_count` it takes anything ``operator.index`` takes (a bool included) and
    integral floats only as Python or numpy floats, with its own messages.
    """
    try:
        number = operator.index(value)  # int, numpy integer
    except TypeError:
        if not isinstance(value, (float, np.floating)) or not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
        number = int(value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def check_events(k: object, n: object, suffix: str = "") -> tuple[int, int]:
    """Validate one group's event count ``k`` and total ``n``."""
    events, total = _index_count(k, f"k{suffix}"), _index_count(n, f"n{suffix}")
    if events > total:
        raise ValueError(f"k{suffix} ({events}) must not exceed n{suffix} ({total})")
    return events, total


def check_sample(values: object, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array, or raise ValueError if it is not numbers or not finite."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(f"{name} has {bad} missing or infinite value(s); drop them first")
    return array


def z_critical(confidence: float) -> float:
    """The two-sided normal critical value, e.g. 1.959964 for 0.95."""
    return float(sps.norm.isf((1.0 - confidence) / 2.0))


# --- levels and sequences (process control, models, sample sizes) -------------------------------


def check_level(value: Any, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """A real number strictly between ``low`` and ``high`` (a confidence level, a power, an alpha)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")
    number = float(value)
    if not low < number < high:
        raise ValueError(f"{name} must be between {low:g} and {high:g} (exclusive), got {value!r}")
    return number


def check_sequence(values: Any, name: str) -> list[Any]:
    """The items of a sequence (not a string) as a list, or ValueError naming the value."""
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        return list(values)
    except TypeError as exc:
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from exc
