"""Statistics: intervals and tests for two groups, process control (p-charts, funnels) and models.

Like ``scipy.stats``, the package's public functions and result objects can be used from here
(``from analysis import stats; stats.wilson_ci(3, 10)``); process control is in
:mod:`analysis.stats.spc` and regression models and sample sizes in :mod:`analysis.stats.models`.
Nothing here knows about records, Streamlit or storage: the functions take counts and values.
"""

from analysis.stats.proportions import (
    Difference,
    Estimate,
    fisher_exact_test,
    hodges_lehmann_shift,
    mann_whitney,
    median_ci,
    newcombe_diff_ci,
    Proportion,
    Ratio,
    risk_ratio_ci,
    TestResult,
    trend_test,
    TrendTest,
    wilson_ci,
)
