"""Adjusted odds ratios by logistic regression.

Pure functions, no Streamlit. Results are small frozen dataclasses; invalid input raises
``ValueError`` naming the bad value; when an answer cannot be given (empty selection,
separation, too few events) the result has ``None`` estimates and a plain-English ``reason``.
Sample-size planning for two proportions is in :mod:`analysis.stats.power`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stats.checks import NOT_RECORDED as NOT_RECORDED  # re-exported: the level a missing covariate gets
from analysis.stats.checks import binary_values, check_level, level_codes

__all__ = [
    "AdjustedOddsRatio",
    "adjusted_odds_ratio",
]

#: Events per model parameter below which the fit is flagged (Peduzzi et al. 1996,
#: J Clin Epidemiol 49:1373-1379).
MIN_EVENTS_PER_PARAMETER = 10

_LOGIT_METHOD = ("logistic regression (statsmodels Logit, Newton-Raphson maximum likelihood); "
                 "Wald confidence interval exp(b ± z·SE) and Wald z-test p-value")


# --------------------------------------------------------------------------------------------
# adjusted odds ratio
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustedOddsRatio:
    """Odds ratio for ``exposure == exposure_level`` (vs all other levels), adjusted by logistic
    regression for ``terms``.

    ``odds_ratio``, ``ci_low``, ``ci_high`` and ``p_value`` are ``None`` when ``fitted`` is False,
    and ``reason`` then says why. ``warning`` is set when the fit is possible but fragile (fewer
    than 10 events per parameter). ``notes`` records every data decision (rows left out, levels
    dropped, reference levels). ``n`` and ``events`` count the treatments used in the model.
    """

    outcome: str
    exposure: str
    exposure_level: Any
    odds_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    confidence: float
    n: int
    events: int
    terms: tuple[str, ...]
    fitted: bool
    reason: str | None
    warning: str | None
    notes: tuple[str, ...]
    events_per_parameter: float | None
    method: str


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _missing(series: pd.Series) -> np.ndarray:
    """``series.map(_is_missing)`` as a boolean array, without a Python call per row.

    ``isna`` finds every value :func:`_is_missing` does (in an object column also a few more, such
    as ``numpy.datetime64("NaT")``), so only its hits in an object column are looked at one by one.
    """
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_object_dtype(series.dtype) and missing.any():
        values = series.to_numpy(dtype=object)
        where = np.flatnonzero(missing)
        missing[where] = [_is_missing(values[i]) for i in where]
    return missing


def _outcome_flags(series: pd.Series, column: str) -> np.ndarray:
    fast = binary_values(series)
    if fast is not None:
        return fast
    values = series.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=float)
    for i, value in enumerate(values):
        if isinstance(value, (bool, np.bool_)):
            out[i] = float(bool(value))
        elif isinstance(value, (Integral, Real)) and float(value) in (0.0, 1.0):
            out[i] = float(value)
        else:
            raise ValueError(f"{column} must hold True/False or 1/0, got {value!r} (row {series.index[i]!r})")
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float, np.integer, np.floating)) else (1, str(value))


def _describe(value: Any) -> str:
    return str(value).replace("_", " ")


def _rank(design: np.ndarray, counts: np.ndarray, total: int) -> int:
    """Rank of the per-treatment design matrix, given one row per cell and the cells' treatment counts.

    The per-treatment matrix repeats row ``i`` ``counts[i]`` times; it has the same ``X'X`` (so the
    same singular values) as the rows scaled by ``sqrt(counts)``. The tolerance is numpy's
    ``matrix_rank`` default for the per-treatment matrix, ``S.max() · max(total, columns) · eps``,
    so with all counts 1 this is ``numpy.linalg.matrix_rank(design)``.
    """
    weighted = design if np.all(counts == 1) else np.sqrt(counts.astype(float))[:, None] * design
    singular = np.linalg.svd(weighted, compute_uv=False)
    tol = singular.max() * max(total, design.shape[1]) * np.finfo(singular.dtype).eps
    return int(np.count_nonzero(singular > tol))


def _outcome_rows(events: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (cell, outcome) pairs: cell index, outcome (1.0/0.0) and number of treatments.

    A cell with some but not all treatments having the outcome gives two pairs. The pairs keep
    the cells' order, so with one treatment per cell they are the treatments in their order.
    """
    with_event = np.flatnonzero(events > 0)
    without = np.flatnonzero(events < counts)
    cell = np.concatenate([with_event, without])
    outcome = np.concatenate([np.ones(len(with_event)), np.zeros(len(without))])
    weight = np.concatenate([events[with_event], (counts - events)[without]]).astype(float)
    order = np.argsort(cell, kind="stable")
    return cell[order], outcome[order], weight[order]


def _separated(design: np.ndarray, y: np.ndarray, counts: np.ndarray | None = None) -> bool:
    """True when the data show complete or quasi-complete separation.

    Linear-programming check (Konis 2007, "Linear programming algorithms for detecting
    separated data in binary logistic regression models", DPhil thesis, Oxford; R package
    ``safeBinaryRegression``): with a full-rank design, the maximum likelihood estimate exists
    if and only if no direction ``b ≠ 0`` has ``(2y−1)·x'b >= 0`` for every row. We maximise
    ``Σ (2y−1)·x'b`` subject to those constraints and ``|b_j| <= 1`` (columns scaled to
    max |x| = 1); a positive optimum means separation.

    Without ``counts``, ``y`` is one 0/1 outcome per row (one row per treatment). With
    ``counts``, row ``i`` stands for ``counts[i]`` treatments of which ``y[i]`` had the outcome;
    the programme then has one constraint per distinct (row, outcome) pair and the objective
    weights it by its number of treatments: the same constraints and objective as one row per
    treatment, so the same optimum, compared with the same ``1e-7 · treatments`` tolerance.
    """
    if counts is None:
        rows, outcome, weight = np.arange(len(y)), np.asarray(y, dtype=float), np.ones(len(y))
    else:
        rows, outcome, weight = _outcome_rows(np.asarray(y, dtype=np.int64), np.asarray(counts, dtype=np.int64))
    total = float(weight.sum())
    scale = np.max(np.abs(design), axis=0)
    scale[scale == 0] = 1.0
    signed = (2.0 * outcome - 1.0)[:, None] * (design[rows] / scale)
    result = optimize.linprog(
        c=-(weight[:, None] * signed).sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(rows)),
        bounds=[(-1.0, 1.0)] * design.shape[1],
        method="highs",
    )
    if result.status != 0:  # pragma: no cover - bounded and feasible (b = 0) by construction
        return True
    return -result.fun > 1e-7 * total


#: Fit models whose terms are all categorical on the table of counts per covariate pattern
#: (tests switch this off to compare with the fit on one row per treatment).
_GROUPED = True


def _grouped_logit(design: np.ndarray, events: np.ndarray, counts: np.ndarray) -> Any:
    """The logistic regression of :func:`adjusted_odds_ratio` on grouped data.

    statsmodels ``GLM`` (binomial family, logit link) on ``(events, counts − events)`` per row has
    the log-likelihood of ``Logit`` on one row per treatment up to a constant, so the same score
    and Hessian. It is fitted the way ``Logit.fit(method="newton")`` is: Newton-Raphson from zero,
    at most 100 steps, the same stopping rule, with statsmodels' perfect-prediction check after
    each step (every treatment predicted within 1e-8, ``PerfectSeparationWarning``).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    rows, outcome, _ = _outcome_rows(events, counts)
    pattern = design[rows]

    def perfect_prediction(params: np.ndarray) -> None:
        predicted = 1.0 / (1.0 + np.exp(-np.dot(pattern, params)))
        if np.allclose(predicted - outcome, 0):
            warnings.warn("Perfect separation or prediction detected, parameter may not be identified",
                          category=PerfectSeparationWarning, stacklevel=2)

    endog = np.column_stack([events, counts - events]).astype(float)
    model = sm.GLM(endog, design, family=sm.families.Binomial())
    return model.fit(method="newton", start_params=np.zeros(design.shape[1]), max_start_irls=0, maxiter=100,
                     disp=False, callback=perfect_prediction)


def _cells(exposed: np.ndarray, codes: Sequence[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Treatments grouped by (exposed, covariate codes): one treatment index per cell, counts, events."""
    key = exposed.astype(np.int64)
    size = 2
    for column_codes in codes:
        levels = int(column_codes.max()) + 1 if len(column_codes) else 1
        key = key * levels + column_codes
        size *= levels
        if size > 2**31:  # keep the key well inside int64
            key, uniques = pd.factorize(key)
            size = len(uniques)
    cell, uniques = pd.factorize(key)
    cells = len(uniques)
    first = np.empty(cells, dtype=np.intp)
    first[cell] = np.arange(len(cell))  # any treatment of the cell will do: they share every term
    counts = np.bincount(cell, minlength=cells).astype(np.int64)
    events = np.rint(np.bincount(cell, weights=y, minlength=cells)).astype(np.int64)
    return first, counts, events


def adjusted_odds_ratio(
    frame: pd.DataFrame,
    outcome: str = "hyperpigmentation",
    exposure: str = "modality",
    exposure_level: Hashable = "ablative",
    covariates: Sequence[str] = ("fitzpatrick_type",),
    categorical: Sequence[str] = ("fitzpatrick_type", "treatment_area"),
    confidence: float = 0.95,
) -> AdjustedOddsRatio:
    """Adjusted odds ratio of a 0/1 outcome for one exposure level, by logistic regression.

    Fits ``logit P(outcome) = b0 + b1·[exposure == exposure_level] + covariate terms`` by
    maximum likelihood (statsmodels ``Logit``) and reports ``exp(b1)`` with the Wald interval
    ``exp(b1 ± z·SE)`` and the Wald p-value - the same as R
    ``glm(outcome ~ exposure + ..., family = binomial)`` with ``exp(confint.default(fit))``.
    All other exposure levels form the comparison group. When every covariate is categorical the
    model is fitted on the counts per (exposure, covariate levels) pattern (statsmodels binomial
    ``GLM`` on events and non-events, Newton-Raphson from zero as ``Logit``): the same likelihood,
    so the same estimates, standard errors and checks, in a time that does not grow with the
    number of treatments beyond one pass to count them.

    Data decisions, each reported in ``notes``:

    * rows with a missing outcome, exposure or numeric covariate are left out;
    * a missing value of a categorical covariate is its own level, "(not recorded)";
    * categorical covariates (those of ``covariates`` listed in ``categorical``) enter as
      dummy variables, the most common level being the reference;
    * a categorical level in which every treatment, or none, had the outcome is left out
      (its rows removed). Such a level carries no information about the exposure odds ratio:
      its own coefficient would run off to ±infinity, and the maximum-likelihood estimates of
      all other coefficients are exactly those of the model fitted without its rows. This is
      repeated until no such level remains; a covariate left with one level (or a numeric one
      with no spread) is dropped.

    The odds ratio is not estimated (``fitted=False``) when the selection is empty, has a single
    exposure level, has fewer than 2 treatments with (or without) the outcome, has no outcome
    (or only the outcome) in one exposure group, shows separation by any combination of terms
    (linear-programming check, then statsmodels' perfect-separation warning/error), has
    collinear terms, or the fit does not converge. With fewer than 10 events (the rarer outcome
    class) per parameter the model is still fitted but ``warning`` is set (Peduzzi et al. 1996).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per treatment.
    outcome : str, default "hyperpigmentation"
        Boolean (or 0/1) outcome column.
    exposure : str, default "modality"
    exposure_level : hashable, default "ablative"
        The exposure level whose odds ratio (vs all others) is wanted.
    covariates : sequence of str, default ("fitzpatrick_type",)
    categorical : sequence of str, default ("fitzpatrick_type", "treatment_area")
        Which covariates are categorical; the others must be numeric.
    confidence : float, default 0.95

    Returns
    -------
    AdjustedOddsRatio

    Examples
    --------
    Hosmer & Lemeshow, *Applied Logistic Regression*, Table 3.3 (CHD by age >= 55, counts
    51/6/22/21): coefficient 2.093546, so OR = exp(2.093546) = 8.11.

    >>> rows = ([(0, 0)] * 51 + [(0, 1)] * 6 + [(1, 0)] * 22 + [(1, 1)] * 21)
    >>> df = pd.DataFrame(rows, columns=["chd", "aged"])
    >>> r = adjusted_odds_ratio(df, outcome="chd", exposure="aged", exposure_level=1, covariates=())
    >>> round(r.odds_ratio, 4)
    8.1136
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    confidence = check_level(confidence, "confidence")
    covariate_list = [covariates] if isinstance(covariates, str) else list(covariates)
    categorical_set = {categorical} if isinstance(categorical, str) else set(categorical)
    for column in (outcome, exposure, *covariate_list):
        if column not in frame.columns:
            raise ValueError(f"frame has no column {column!r}")
    if exposure in covariate_list or outcome in covariate_list or outcome == exposure:
        raise ValueError(f"outcome {outcome!r}, exposure {exposure!r} and covariates {covariate_list} "
                         "must be different columns")
    if len(set(covariate_list)) != len(covariate_list):
        raise ValueError(f"covariates has a repeated column: {covariate_list}")

    label = _describe(outcome)
    level_label = _describe(exposure_level)
    notes: list[str] = []

    def result(*, reason: str | None = None, n: int = 0, events: int = 0, terms: tuple[str, ...] = (),
               odds: tuple[float, float, float, float] | None = None, warning: str | None = None,
               epp: float | None = None) -> AdjustedOddsRatio:
        return AdjustedOddsRatio(
            outcome=outcome, exposure=exposure, exposure_level=exposure_level,
            odds_ratio=None if odds is None else odds[0], ci_low=None if odds is None else odds[1],
            ci_high=None if odds is None else odds[2], p_value=None if odds is None else odds[3],
            confidence=confidence, n=n, events=events, terms=terms, fitted=odds is not None,
            reason=reason, warning=warning, notes=tuple(notes), events_per_parameter=epp,
            method=_LOGIT_METHOD)

    data: dict[str, pd.Series] = {column: frame[column] for column in (outcome, exposure, *covariate_list)}
    numeric = [c for c in covariate_list if c not in categorical_set]
    for column in numeric:
        converted = pd.to_numeric(data[column], errors="coerce")
        bad = data[column][converted.isna() & data[column].notna()]
        if len(bad):
            raise ValueError(f"covariate {column!r} is not numeric (value {bad.iloc[0]!r}); "
                             f"list it in categorical to treat it as categories")
        data[column] = converted.astype(float)
    left_out = np.zeros(len(frame), dtype=bool)
    for column in (outcome, exposure, *numeric):
        missing = _missing(data[column]) & ~left_out
        if missing.any():
            notes.append(f"{int(missing.sum())} treatment(s) with no recorded {_describe(column)} left out.")
            left_out |= missing
    if left_out.any():
        data = {column: values[~left_out] for column, values in data.items()}

    if len(data[outcome]) == 0:
        return result(reason="There are no treatments in this selection, so the odds ratio cannot be estimated.")
    y = _outcome_flags(data[outcome], outcome)
    exposed = (data[exposure] == exposure_level).to_numpy(dtype=bool)
    other_levels = sorted({v for v in data[exposure].drop_duplicates().tolist() if v != exposure_level},
                          key=_sort_key)
    other_label = _describe(other_levels[0]) if len(other_levels) == 1 else "other"

    # From here on the data are "cells" with a treatment count and an event count each: with
    # categorical terms only, one cell per (exposure, covariate levels) pattern (at most a few
    # dozen, whatever the number of treatments); otherwise one cell per treatment. Every count,
    # note and check below is the same either way.
    categorical_covs = [c for c in covariate_list if c in categorical_set]
    coded = {column: level_codes(data[column]) for column in categorical_covs}
    grouped = _GROUPED and not numeric
    if grouped:
        first, cell_n, cell_events = _cells(exposed, [coded[c][0] for c in categorical_covs], y)
    else:
        first = np.arange(len(y))
        cell_n, cell_events = np.ones(len(y), dtype=np.int64), y.astype(np.int64)
    cell_exposed = exposed[first]
    cell_codes = {column: coded[column][0][first] for column in categorical_covs}

    keep = np.ones(len(first), dtype=bool)
    while True:
        n, events = int(cell_n[keep].sum()), int(cell_events[keep].sum())
        ex, unexposed = keep & cell_exposed, keep & ~cell_exposed
        if not ex.any():
            return result(reason=f"There are no {level_label} treatments in this selection, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        if not unexposed.any():
            return result(reason=f"Every treatment in this selection is {level_label}; there is "
                                 "nothing to compare it with, so the odds ratio cannot be estimated.",
                          n=n, events=events)
        if events < 2:
            return result(reason=f"Fewer than 2 treatments in this selection had {label}, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        if n - events < 2:
            return result(reason=f"Fewer than 2 treatments in this selection were free of {label}, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        for group, name in ((ex, level_label), (unexposed, other_label)):
            group_events = int(cell_events[group].sum())
            if group_events == 0:
                return result(reason=f"There was no {label} after {name} treatment in this selection, "
                                     "so the odds ratio cannot be estimated.", n=n, events=events)
            if group_events == int(cell_n[group].sum()):
                return result(reason=f"Every {name} treatment in this selection was followed by {label}, "
                                     "so the odds ratio cannot be estimated.", n=n, events=events)
        dropped = False
        for column in categorical_covs:
            codes, levels = cell_codes[column], coded[column][1]
            for code in sorted(np.unique(codes[keep]).tolist(), key=lambda k: _sort_key(levels[k])):
                rows = keep & (codes == code)
                level_n, level_events = int(cell_n[rows].sum()), int(cell_events[rows].sum())
                if level_events in (0, level_n):
                    what = "none" if level_events == 0 else "all"
                    notes.append(f"{_describe(column)} {levels[code]}: {level_n} treatment(s), {what} with "
                                 f"{label} - left out, as a level with no variation says nothing about "
                                 "the odds ratio.")
                    keep &= ~rows
                    dropped = True
        if not dropped:
            break

    used = np.flatnonzero(keep)
    used_n, used_events = cell_n[used], cell_events[used]
    columns: list[np.ndarray] = [np.ones(len(used)), cell_exposed[used].astype(float)]
    terms: list[str] = [f"{exposure}={exposure_level}"]
    for column in covariate_list:
        if column in categorical_set:
            codes, levels = cell_codes[column][used], coded[column][1]
            present = sorted(np.unique(codes).tolist(), key=lambda k: _sort_key(levels[k]))
            if len(present) < 2:
                notes.append(f"{_describe(column)} has a single level left ({levels[present[0]]}) - not adjusted for.")
                continue
            treatments = np.bincount(codes, weights=used_n, minlength=len(levels))
            reference = sorted(present, key=lambda k: (-int(treatments[k]), _sort_key(levels[k])))[0]
            notes.append(f"{_describe(column)}: reference level {levels[reference]} (the most common).")
            for code in present:
                if code != reference:
                    columns.append((codes == code).astype(float))
                    terms.append(f"{column}={levels[code]}")
        else:
            values = data[column].to_numpy(dtype=float)[first[used]]
            if np.ptp(values) == 0:
                notes.append(f"{_describe(column)} does not vary in this selection - not adjusted for.")
                continue
            columns.append(values)
            terms.append(column)
    design = np.column_stack(columns)
    n, events = int(used_n.sum()), int(used_events.sum())
    term_tuple = tuple(terms)
    parameters = design.shape[1] - 1
    epp = min(events, n - events) / parameters

    if _rank(design, used_n, n) < design.shape[1]:
        return result(reason="Some of the factors taken into account duplicate each other (or the exposure) in this "
                             "selection, so their effects cannot be separated and the odds ratio cannot "
                             "be estimated.", n=n, events=events, terms=term_tuple, epp=epp)
    if _separated(design, used_events, used_n) if grouped else _separated(design, used_events.astype(float)):
        return result(reason=f"In this selection {label} is perfectly predicted by a combination of "
                             f"{_describe(exposure)} and the factors taken into account, so the odds "
                             "ratio cannot be estimated reliably.", n=n, events=events, terms=term_tuple, epp=epp)

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    not_fitted = ("The model that takes the other factors into account could not be fitted in this selection, "
                  "so the odds ratio cannot be estimated reliably.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if grouped:
                fit = _grouped_logit(design, used_events, used_n)
            else:
                fit = sm.Logit(used_events.astype(float), design).fit(method="newton", maxiter=100, disp=False)
        except PerfectSeparationError:
            return result(reason=f"In this selection {label} is perfectly predicted by the other factors, so the "
                                 "odds ratio cannot be estimated.", n=n, events=events, terms=term_tuple, epp=epp)
        except (np.linalg.LinAlgError, ValueError):
            return result(reason=not_fitted, n=n, events=events, terms=term_tuple, epp=epp)
    categories = {w.category for w in caught}
    if any(issubclass(c, PerfectSeparationWarning) for c in categories):
        return result(reason=f"In this selection {label} is perfectly predicted by the other factors, so the "
                             "odds ratio cannot be estimated.", n=n, events=events, terms=term_tuple, epp=epp)
    params = np.asarray(fit.params, dtype=float)
    bse = np.asarray(fit.bse, dtype=float)
    if (not fit.mle_retvals.get("converged", False)
            or any(issubclass(c, (ConvergenceWarning, HessianInversionWarning)) for c in categories)
            or not np.all(np.isfinite(params)) or not np.all(np.isfinite(bse)) or np.any(bse <= 0)):
        return result(reason=not_fitted, n=n, events=events, terms=term_tuple, epp=epp)

    beta, se = float(params[1]), float(bse[1])
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p_value = float(2.0 * stats.norm.sf(abs(beta / se)))
    odds = (math.exp(beta), math.exp(beta - z * se), math.exp(beta + z * se), p_value)
    warning = None
    if epp < MIN_EVENTS_PER_PARAMETER:
        warning = (f"Only {epp:.1f} events for each quantity the model estimates (fewer than "
                   f"{MIN_EVENTS_PER_PARAMETER}): "
                   "the odds ratio may be exaggerated and its interval too narrow; treat it as a rough guide.")
    return result(n=n, events=events, terms=term_tuple, odds=odds, warning=warning, epp=epp)
