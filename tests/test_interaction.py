"""Effect modification across skin types: Mantel-Haenszel, Breslow-Day (Tarone) and the likelihood-ratio
test of interaction, each against R 4.2.2 (Debian r-base-core) or a published example.

Strata are rows ``(k1, n1, k2, n2)``: events and treatments of the exposed (ablative), then of the
unexposed group. In R the same strata are ``arr(s)``, a 2 x 2 x K array with exposed in row 1 and the
event in column 1:

    arr <- function(s) array(as.vector(t(cbind(s[,1], s[,3], s[,2]-s[,1], s[,4]-s[,3]))), c(2, 2, nrow(s)))

DescTools is not packaged for Debian 12, so the Breslow-Day references come from this R function,
written from Breslow & Day (1980), *Statistical Methods in Cancer Research* vol. 1, IARC, section 4.4
(eq. 4.29-4.30), and Tarone (1985), Biometrika 72:91-95; it reproduces DescTools' published output
for the tooth-discoloration and cervical-cancer examples below:

    bd <- function(s, correct) {
      or <- mantelhaen.test(arr(s))$estimate
      x2 <- 0; A <- c(); At <- c(); V <- c()
      for (i in seq_len(nrow(s))) {
        a <- s[i,1]; b <- s[i,2]-s[i,1]; c <- s[i,3]; d <- s[i,4]-s[i,3]
        if (min(a+b, c+d, a+c, b+d) == 0) next
        r1 <- a+b; c1 <- a+c; t <- a+b+c+d
        f <- function(x) x*(t-r1-c1+x) - or*(r1-x)*(c1-x)
        at <- uniroot(f, c(max(0, r1+c1-t), min(r1, c1)), tol=1e-14)$root
        v <- 1/(1/at + 1/(r1-at) + 1/(c1-at) + 1/(t-r1-c1+at))
        x2 <- x2 + (a-at)^2/v; A <- c(A, a); At <- c(At, at); V <- c(V, v)
      }
      if (correct) x2 <- x2 - (sum(A)-sum(At))^2/sum(V)
      c(statistic=x2, df=length(A)-1, p=pchisq(x2, length(A)-1, lower.tail=FALSE))
    }

and the likelihood-ratio tests from

    lrt <- function(s, scores=seq_len(nrow(s))) {
      d <- data.frame(y=c(s[,1], s[,3]), n=c(s[,2], s[,4]), x=rep(c(1,0), each=nrow(s)), s=rep(scores, 2))
      d <- d[d$n > 0,]
      list(linear=anova(glm(cbind(y, n-y) ~ x + s, binomial, d), glm(cbind(y, n-y) ~ x * s, binomial, d),
                        test="LRT"),
           factor=anova(glm(cbind(y, n-y) ~ x + factor(s), binomial, d),
                        glm(cbind(y, n-y) ~ x * factor(s), binomial, d), test="LRT"))
    }
"""

from __future__ import annotations

import pytest

from analysis.stats.interaction import breslow_day, interaction_lrt, mantel_haenszel

# Tooth discoloration by tetracycline, strata child / adult; cervical cancer by smoking, strata 0-1 /
# 2+ partners. Published DescTools::BreslowDayTest output (Columbia P8120 course notes, "Breslow-Day"):
# X-squared = 0.57493, p = 0.4483 and X-squared = 4.2069, p = 0.04026.
TEETH = [(30, 55, 12, 29), (4, 10, 68, 162)]
CERVICAL = [(12, 33, 25, 143), (96, 244, 92, 242)]
# SAS/STAT PROC FREQ documentation, example "Cochran-Mantel-Haenszel Statistics" (migraine trial,
# Active vs Placebo, Better vs Same, stratified by gender): CMH = 8.3052, p = 0.0040.
MIGRAINE = [(16, 27, 5, 25), (12, 28, 7, 26)]
# Six skin types, the ablative odds ratio growing with type (made up for these tests).
HETERO = [(2, 40, 1, 45), (3, 50, 2, 55), (6, 60, 3, 58), (9, 45, 3, 50), (12, 30, 2, 35), (10, 20, 1, 25)]
# Six skin types with about the same odds ratio in each.
HOMOG = [(3, 40, 2, 42), (5, 50, 3, 48), (8, 60, 5, 62), (7, 45, 4, 47), (6, 30, 4, 33), (5, 20, 3, 22)]
# Sparse: type I without events, type III without non-ablative events, type IV and VI ablative only.
SPARSE = [(0, 5, 0, 7), (2, 30, 1, 28), (4, 25, 0, 20), (3, 3, 0, 0), (6, 15, 2, 12), (5, 9, 0, 0)]

REL = 1e-9


@pytest.mark.parametrize("strata, expected", [
    # R: mig <- array(c(16, 5, 11, 20, 12, 7, 16, 19), c(2, 2, 2)); m <- mantelhaen.test(mig, correct=FALSE)
    #    print(c(m$estimate, m$conf.int, m$statistic, m$p.value), digits=10) ->
    #    3.313168069138 1.445613190186 7.593374720760 8.305169335459 0.003953239638 (SAS: 8.3052, 0.0040)
    (MIGRAINE, (3.313168069138, 1.445613190186, 7.593374720760, 8.305169335459, 0.003953239638)),
    # R: mantelhaen.test(arr(TEETH), correct=FALSE) -> or 1.3893236445 CI 0.6643151897 2.9055788867
    #    X-squared 0.7530909295 p 0.3854993852
    (TEETH, (1.3893236445, 0.6643151897, 2.9055788867, 0.7530909295, 0.3854993852)),
    # R: mantelhaen.test(arr(HETERO), correct=FALSE) -> or 4.586010279 CI 2.371505343 8.868413617
    #    X-squared 23.87387513 p 1.028582129e-06
    (HETERO, (4.586010279, 2.371505343, 8.868413617, 23.87387513, 1.028582129e-06)),
    # R: mantelhaen.test(arr(HOMOG), correct=FALSE) -> or 1.82392979358 CI 1.02203002810 3.25501188853
    #    X-squared 4.17064214625 p 0.04113020824
    (HOMOG, (1.82392979358, 1.02203002810, 3.25501188853, 4.17064214625, 0.04113020824)),
    # R: mantelhaen.test(arr(SPARSE), correct=FALSE) -> or 4.29 CI 1.07209656122 17.16645744961
    #    X-squared 4.63306435431 p 0.03136150247
    (SPARSE, (4.29, 1.07209656122, 17.16645744961, 4.63306435431, 0.03136150247)),
])
def test_mantel_haenszel_matches_r(strata, expected):
    r = mantel_haenszel(strata)
    assert (r.odds_ratio, r.low, r.high, r.statistic) == pytest.approx(expected[:4], rel=REL)
    assert r.p_value == pytest.approx(expected[4], rel=REL)
    assert r.reason is None and not r.corrected and r.confidence == 0.95


@pytest.mark.parametrize("strata, statistic, p_value", [
    # R: mc <- mantelhaen.test(mig, correct=TRUE); print(c(mc$statistic, mc$p.value), digits=10)
    #    -> 7.198291276534 0.007297303004
    (MIGRAINE, 7.198291276534, 0.007297303004),
    # R: mantelhaen.test(arr(TEETH), correct=TRUE) -> X-squared 0.4627969208, p 0.4963197214
    (TEETH, 0.4627969208, 0.4963197214),
    # R: mantelhaen.test(arr(HETERO), correct=TRUE) -> X-squared 22.45704454, p 2.148959042e-06
    (HETERO, 22.45704454, 2.148959042e-06),
])
def test_mantel_haenszel_continuity_correction_matches_r(strata, statistic, p_value):
    r = mantel_haenszel(strata, correct=True)
    assert (r.statistic, r.p_value) == pytest.approx((statistic, p_value), rel=REL)
    assert r.corrected
    # the correction changes the test only: the odds ratio and its interval are the same
    plain = mantel_haenszel(strata)
    assert (r.odds_ratio, r.low, r.high) == (plain.odds_ratio, plain.low, plain.high)


def test_mantel_haenszel_with_no_unexposed_events_gives_no_ratio_but_a_test():
    # R: mantelhaen.test(arr(rbind(c(3,20,0,25), c(5,30,0,20), c(2,10,0,15))))$estimate -> Inf
    r = mantel_haenszel([(3, 20, 0, 25), (5, 30, 0, 20), (2, 10, 0, 15)])
    assert r.odds_ratio is None and r.low is None and r.high is None and r.reason
    assert r.statistic is not None and r.p_value < 0.05


@pytest.mark.parametrize("strata", [[], [(0, 1, 0, 0)], [(0, 0, 0, 0), (1, 1, 0, 0)]])
def test_mantel_haenszel_with_nothing_to_pool_says_why(strata):
    r = mantel_haenszel(strata)
    assert r.odds_ratio is None and r.statistic is None and r.strata == 0 and r.reason


@pytest.mark.parametrize("strata, plain, tarone, df", [
    # published DescTools::BreslowDayTest(teeth_tabs): X-squared = 0.57493, df = 1, p-value = 0.4483;
    # R bd(TEETH, FALSE) -> 0.5749325326 p 0.4483054897; bd(TEETH, TRUE) -> 0.5749222555 p 0.4483095460
    (TEETH, (0.5749325326, 0.4483054897), (0.5749222555, 0.4483095460), 1),
    # published DescTools::BreslowDayTest(cervical_tabs): X-squared = 4.2069, df = 1, p-value = 0.04026;
    # R bd(CERVICAL, FALSE) -> 4.20690730702 p 0.04025967551; bd(CERVICAL, TRUE) -> 4.20611539505 p 0.04027847706
    (CERVICAL, (4.20690730702, 0.04025967551), (4.20611539505, 0.04027847706), 1),
    # R bd(HETERO, FALSE) -> 6.6384480778 p 0.2489474054; bd(HETERO, TRUE) -> 6.5708408229 p 0.2545627869
    (HETERO, (6.6384480778, 0.2489474054), (6.5708408229, 0.2545627869), 5),
    # R bd(HOMOG, FALSE) -> 0.08211534173 p 0.99990018641; bd(HOMOG, TRUE) -> 0.08211018526 p 0.99990020189
    (HOMOG, (0.08211534173, 0.99990018641), (0.08211018526, 0.99990020189), 5),
    # R bd(SPARSE, FALSE) -> 1.3758416577 df 2 p 0.5026200164; bd(SPARSE, TRUE) -> 1.3755588432 p 0.5026910956
    # (types I, IV and VI have a zero row or column total and are skipped)
    (SPARSE, (1.3758416577, 0.5026200164), (1.3755588432, 0.5026910956), 2),
])
def test_breslow_day_with_and_without_tarone_matches_r(strata, plain, tarone, df):
    without = breslow_day(strata, correct=False)
    assert (without.statistic, without.p_value) == pytest.approx(plain, rel=1e-9)
    corrected = breslow_day(strata)  # Tarone's correction is the default
    assert corrected.corrected and "Tarone" in corrected.method
    assert (corrected.statistic, corrected.p_value) == pytest.approx(tarone, rel=1e-9)
    assert corrected.uncorrected == pytest.approx(plain[0], rel=1e-9)
    assert corrected.df == without.df == df and corrected.strata == df + 1
    assert corrected.odds_ratio == pytest.approx(mantel_haenszel(strata).odds_ratio)


def test_breslow_day_against_a_given_odds_ratio():
    # the Mantel-Haenszel estimate is close to the value that minimises the statistic: any other is further
    at_mh = breslow_day(TEETH, correct=False)
    at_one = breslow_day(TEETH, odds_ratio=1.0, correct=False)
    assert at_one.statistic > at_mh.statistic and at_one.odds_ratio == 1.0
    with pytest.raises(ValueError, match="odds_ratio"):
        breslow_day(TEETH, odds_ratio=0.0)


@pytest.mark.parametrize("strata", [
    [(2, 20, 1, 20)],                                   # one stratum
    [(2, 20, 1, 20), (0, 10, 0, 12), (3, 5, 0, 0)],     # one informative stratum
    [(3, 20, 0, 25), (5, 30, 0, 20)],                   # pooled odds ratio infinite
    [],
])
def test_breslow_day_without_two_informative_strata_says_why(strata):
    t = breslow_day(strata)
    assert t.statistic is None and t.p_value is None and t.df is None and t.reason


@pytest.mark.parametrize("strata, linear, factor", [
    # R lrt(TEETH): linear Deviance 0.5783439775 Df 1 Pr(>Chi) 0.4469621619; factor the same (2 strata)
    (TEETH, (0.5783439775, 1, 0.4469621619), (0.5783439775, 1, 0.4469621619)),
    # R lrt(CERVICAL): 3.9631115227 Df 1 p 0.0465076616 (both)
    (CERVICAL, (3.9631115227, 1, 0.0465076616), (3.9631115227, 1, 0.0465076616)),
    # R lrt(HETERO): linear 5.82854278774 Df 1 p 0.01576817966; factor 6.79933111930 Df 5 p 0.23599718064
    (HETERO, (5.82854278774, 1, 0.01576817966), (6.79933111930, 5, 0.23599718064)),
    # R lrt(HOMOG): linear 0.05966033730 Df 1 p 0.80703359875; factor 0.08217586922 Df 5 p 0.99990000453
    (HOMOG, (0.05966033730, 1, 0.80703359875), (0.08217586922, 5, 0.99990000453)),
])
def test_interaction_lrt_matches_r_anova(strata, linear, factor):
    lin = interaction_lrt(strata, scale="linear")
    fac = interaction_lrt(strata)  # factor is the default
    assert (lin.statistic, lin.df, lin.p_value) == pytest.approx(linear, rel=1e-8)
    assert (fac.statistic, fac.df, fac.p_value) == pytest.approx(factor, rel=1e-8)
    assert lin.scale == "linear" and fac.scale == "factor" and lin.reason is None and fac.reason is None


def test_interaction_lrt_on_sparse_strata():
    # Linear: every cell with treatments is used, as R does.
    # R lrt(SPARSE)$linear: Deviance 0.01789337207 Df 1 Pr(>Chi) 0.89358752694
    lin = interaction_lrt(SPARSE, scale="linear")
    assert (lin.statistic, lin.df, lin.p_value) == pytest.approx((0.01789337207, 1, 0.89358752694), rel=1e-6)
    # Factor: type I (no events), IV and VI (one modality) fit exactly in both models and are left out.
    # R lrt(SPARSE)$factor: Deviance 1.99408053304 Df 3 (R counts a df for type I, whose interaction term runs
    # to infinity: "fitted probabilities numerically 0 or 1"); without type I,
    # R lrt(SPARSE[-1,], 2:6)$factor: Deviance 1.99408053832 Df 2 Pr(>Chi) 0.36896987820
    fac = interaction_lrt(SPARSE)
    assert fac.statistic == pytest.approx(1.99408053304, rel=1e-7)
    assert fac.df == 2 and fac.strata == 3
    assert fac.p_value == pytest.approx(0.36896987820, rel=1e-7)


def test_interaction_lrt_uses_the_given_scores():
    # R lrt(HETERO, c(1, 2, 3, 4, 5, 6) * 2): the linear test does not change with the scores' unit
    doubled = interaction_lrt(HETERO, scores=[2, 4, 6, 8, 10, 12], scale="linear")
    assert doubled.statistic == pytest.approx(5.82854278774, rel=1e-8)
    with pytest.raises(ValueError, match="scores"):
        interaction_lrt(HETERO, scores=[1, 2], scale="linear")
    with pytest.raises(ValueError, match="scale"):
        interaction_lrt(HETERO, scale="quadratic")


@pytest.mark.parametrize("scale", ["linear", "factor"])
@pytest.mark.parametrize("strata", [
    [],
    [(2, 20, 1, 20)],                                   # one skin type
    [(3, 20, 0, 0), (0, 0, 1, 25)],                     # each modality in a different type
    [(3, 20, 0, 25), (5, 30, 0, 20), (2, 10, 0, 15)],   # no event after non-ablative: separation
    [(0, 20, 0, 25), (0, 30, 0, 20)],                   # no events at all
])
def test_interaction_lrt_without_an_answer_says_why(strata, scale):
    t = interaction_lrt(strata, scale=scale)
    assert t.statistic is None and t.p_value is None and t.df is None and t.reason


@pytest.mark.parametrize("bad, match", [
    ([(3, 2, 0, 5)], "must not exceed"),
    ([(1, 2, 3)], r"\(k1, n1, k2, n2\)"),
    ([(-1, 2, 0, 5)], "negative"),
    ("abc", "sequence"),
])
def test_bad_strata_are_refused_with_the_value(bad, match):
    for function in (mantel_haenszel, breslow_day, interaction_lrt):
        with pytest.raises(ValueError, match=match):
            function(bad)
