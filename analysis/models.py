"""Adjusted odds ratios (logistic regression) and sample-size planning for two proportions.

Pure functions, no Streamlit. Results are small frozen dataclasses; invalid input raises
``ValueError`` naming the bad value; when an answer cannot be given (empty selection,
separation, too few events) the result has ``None`` estimates and a plain-English ``reason``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.checks import check_count

__all__ = [
    "AdjustedOddsRatio",
    "adjusted_odds_ratio",
    "SampleSize",
    "sample_size_two_proportions",
    "FurtherNeeded",
    "further_treatments_needed",
]

NOT_RECORDED = "(not recorded)"
#: Events per model parameter below which the fit is flagged (Peduzzi et al. 1996,
#: J Clin Epidemiol 49:1373-1379).
MIN_EVENTS_PER_PARAMETER = 10

_LOGIT_METHOD = ("logistic regression (statsmodels Logit, Newton-Raphson maximum likelihood); "
                 "Wald confidence interval exp(b ± z·SE) and Wald z-test p-value")
_POWER_METHOD = ("normal approximation on Cohen's h = 2·asin(sqrt(p1)) − 2·asin(sqrt(p2)) "
                 "(statsmodels proportion_effectsize + NormalIndPower, two-sided; the same as "
                 "R pwr::pwr.2p.test / pwr.2p2n.test); rounded up to whole treatments")


def _level(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    number = float(value)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return number


def _proportion(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}")
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}")
    return number


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


def _outcome_flags(series: pd.Series, column: str) -> np.ndarray:
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


def _most_common(values: pd.Series) -> Any:
    counts = values.value_counts(sort=False)
    return sorted(counts.index, key=lambda v: (-int(counts[v]), _sort_key(v)))[0]


def _describe(value: Any) -> str:
    return str(value).replace("_", " ")


def _separated(design: np.ndarray, y: np.ndarray) -> bool:
    """True when the data show complete or quasi-complete separation.

    Linear-programming check (Konis 2007, "Linear programming algorithms for detecting
    separated data in binary logistic regression models", DPhil thesis, Oxford; R package
    ``safeBinaryRegression``): with a full-rank design, the maximum likelihood estimate exists
    if and only if no direction ``b ≠ 0`` has ``(2y−1)·x'b >= 0`` for every row. We maximise
    ``Σ (2y−1)·x'b`` subject to those constraints and ``|b_j| <= 1`` (columns scaled to
    max |x| = 1); a positive optimum means separation.
    """
    scale = np.max(np.abs(design), axis=0)
    scale[scale == 0] = 1.0
    signed = (2.0 * y - 1.0)[:, None] * (design / scale)
    result = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(y)),
        bounds=[(-1.0, 1.0)] * design.shape[1],
        method="highs",
    )
    if result.status != 0:  # pragma: no cover - bounded and feasible (b = 0) by construction
        return True
    return -result.fun > 1e-7 * len(y)


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
    All other exposure levels form the comparison group.

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
    confidence = _level(confidence, "confidence")
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

    data = frame[[outcome, exposure, *covariate_list]].copy()
    numeric = [c for c in covariate_list if c not in categorical_set]
    for column in numeric:
        converted = pd.to_numeric(data[column], errors="coerce")
        bad = data[column][converted.isna() & data[column].notna()]
        if len(bad):
            raise ValueError(f"covariate {column!r} is not numeric (value {bad.iloc[0]!r}); "
                             f"list it in categorical to treat it as categories")
        data[column] = converted.astype(float)
    for column in (outcome, exposure, *numeric):
        missing = data[column].map(_is_missing).to_numpy(dtype=bool)
        if missing.any():
            notes.append(f"{int(missing.sum())} treatment(s) with no recorded {_describe(column)} left out.")
            data = data[~missing]
    for column in covariate_list:
        if column in categorical_set:
            data[column] = data[column].astype(object).where(data[column].notna(), NOT_RECORDED)

    if data.empty:
        return result(reason="There are no treatments in this selection, so the odds ratio cannot be estimated.")
    y = _outcome_flags(data[outcome], outcome)
    exposed = (data[exposure] == exposure_level).to_numpy(dtype=bool)
    other_levels = sorted({v for v in data[exposure].tolist() if v != exposure_level}, key=_sort_key)
    other_label = _describe(other_levels[0]) if len(other_levels) == 1 else "other"

    categorical_covs = [c for c in covariate_list if c in categorical_set]
    keep = np.ones(len(data), dtype=bool)
    while True:
        ys, ex = y[keep], exposed[keep]
        n, events = int(keep.sum()), int(ys.sum())
        if not ex.any():
            return result(reason=f"There are no {level_label} treatments in this selection, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        if ex.all():
            return result(reason=f"Every treatment in this selection is {level_label}; there is "
                                 "nothing to compare it with, so the odds ratio cannot be estimated.",
                          n=n, events=events)
        if events < 2:
            return result(reason=f"Fewer than 2 treatments in this selection had {label}, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        if n - events < 2:
            return result(reason=f"Fewer than 2 treatments in this selection were free of {label}, "
                                 "so the odds ratio cannot be estimated.", n=n, events=events)
        for group, name in ((ex, level_label), (~ex, other_label)):
            group_events = int(ys[group].sum())
            if group_events == 0:
                return result(reason=f"There was no {label} after {name} treatment in this selection, "
                                     "so the odds ratio cannot be estimated.", n=n, events=events)
            if group_events == int(group.sum()):
                return result(reason=f"Every {name} treatment in this selection was followed by {label}, "
                                     "so the odds ratio cannot be estimated.", n=n, events=events)
        dropped = False
        for column in categorical_covs:
            values = data[column].to_numpy(dtype=object)
            for level in sorted({v for v in values[keep]}, key=_sort_key):
                rows = keep & (values == level)
                level_events = int(y[rows].sum())
                if level_events in (0, int(rows.sum())):
                    what = "none" if level_events == 0 else "all"
                    notes.append(f"{_describe(column)} {level}: {int(rows.sum())} treatment(s), {what} with "
                                 f"{label} - left out, as a level with no variation says nothing about "
                                 "the odds ratio.")
                    keep &= ~rows
                    dropped = True
        if not dropped:
            break

    used = data[keep]
    y_used = y[keep]
    columns: list[np.ndarray] = [np.ones(len(used)), exposed[keep].astype(float)]
    terms: list[str] = [f"{exposure}={exposure_level}"]
    for column in covariate_list:
        if column in categorical_set:
            values = used[column].to_numpy(dtype=object)
            levels = sorted(set(values.tolist()), key=_sort_key)
            if len(levels) < 2:
                notes.append(f"{_describe(column)} has a single level left ({levels[0]}) - not adjusted for.")
                continue
            reference = _most_common(used[column])
            notes.append(f"{_describe(column)}: reference level {reference} (the most common).")
            for level in levels:
                if level != reference:
                    columns.append((values == level).astype(float))
                    terms.append(f"{column}={level}")
        else:
            values = used[column].to_numpy(dtype=float)
            if np.ptp(values) == 0:
                notes.append(f"{_describe(column)} does not vary in this selection - not adjusted for.")
                continue
            columns.append(values)
            terms.append(column)
    design = np.column_stack(columns)
    n, events = len(used), int(y_used.sum())
    term_tuple = tuple(terms)
    parameters = design.shape[1] - 1
    epp = min(events, n - events) / parameters

    if np.linalg.matrix_rank(design) < design.shape[1]:
        return result(reason="Some of the adjustment terms duplicate each other (or the exposure) in this "
                             "selection, so their effects cannot be separated and the odds ratio cannot "
                             "be estimated.", n=n, events=events, terms=term_tuple, epp=epp)
    if _separated(design, y_used):
        return result(reason=f"In this selection {label} is perfectly predicted by a combination of "
                             f"{_describe(exposure)} and the adjustment terms (separation), so the odds "
                             "ratio cannot be estimated reliably.", n=n, events=events, terms=term_tuple, epp=epp)

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    not_fitted = ("The logistic regression did not converge in this selection, so the odds ratio "
                  "cannot be estimated reliably.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y_used, design).fit(method="newton", maxiter=100, disp=False)
        except PerfectSeparationError:
            return result(reason=f"In this selection {label} is perfectly predicted (separation), so the "
                                 "odds ratio cannot be estimated.", n=n, events=events, terms=term_tuple, epp=epp)
        except (np.linalg.LinAlgError, ValueError):
            return result(reason=not_fitted, n=n, events=events, terms=term_tuple, epp=epp)
    categories = {w.category for w in caught}
    if any(issubclass(c, PerfectSeparationWarning) for c in categories):
        return result(reason=f"In this selection {label} is perfectly predicted (separation), so the "
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
        warning = (f"Only {epp:.1f} events per model parameter (fewer than {MIN_EVENTS_PER_PARAMETER}): "
                   "the odds ratio may be exaggerated and its interval too narrow; treat it as a rough guide.")
    return result(n=n, events=events, terms=term_tuple, odds=odds, warning=warning, epp=epp)


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
    power = _level(power, "power")
    alpha = _level(alpha, "alpha")
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
    power = _level(power, "power")
    alpha = _level(alpha, "alpha")
    if power <= alpha:
        raise ValueError(f"power ({power!r}) must be larger than alpha ({alpha!r})")
    if n1 == 0 or n2 == 0:
        text = f"One {group_label} has no treatments in this selection, so there is no difference to assess."
        return FurtherNeeded(None, None, min(n1, n2), None if n1 == 0 else k1 / n1,
                             None if n2 == 0 else k2 / n2, power, alpha, text, _POWER_METHOD, reason=text)
    p1, p2 = k1 / n1, k2 / n2
    current = min(n1, n2)
    if p1 == p2:
        text = ("The two rates are the same, so no realistic amount of data would show a difference "
                "of zero size.")
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
