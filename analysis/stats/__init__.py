"""Statistics: intervals and tests for two groups, process control (p-charts, funnels) and models.

Like ``scipy.stats``, the package's public functions and result objects for two groups can be used
from here (``from analysis import stats; stats.wilson_ci(3, 10)``): proportions are in
:mod:`analysis.stats.proportions` and rank methods (medians, location shifts) in
:mod:`analysis.stats.ranks`. Process control is in :mod:`analysis.stats.pchart`,
:mod:`analysis.stats.casemix` (the case-mix-adjusted monthly chart) and :mod:`analysis.stats.funnel`, logistic
regression in :mod:`analysis.stats.logistic`, effect modification across strata (Mantel-Haenszel, Breslow-Day, the
likelihood-ratio test of interaction) in :mod:`analysis.stats.interaction`, multiple comparisons (Holm) in
:mod:`analysis.stats.multiplicity`, sample sizes in :mod:`analysis.stats.power` and times to an event with open
follow-up (Kaplan-Meier) in :mod:`analysis.stats.survival`. Nothing here knows about records, Streamlit or
storage: the
functions take counts and values.
"""

from analysis.stats.proportions import (
    Difference,
    fisher_exact_test,
    newcombe_diff_ci,
    Proportion,
    Ratio,
    risk_ratio_ci,
    trend_test,
    TrendTest,
    wilson_ci,
)
from analysis.stats.ranks import (
    Estimate,
    hodges_lehmann_shift,
    mann_whitney,
    median_ci,
)
from analysis.stats.results import TestResult
from analysis.stats.survival import kaplan_meier, SurvivalCurve
