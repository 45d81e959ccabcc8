"""Deterministic generator for the bundled sample data (synthetic laser treatments).

What it makes
-------------
Two CSV files in the canonical layout of ``analysis/schema.py``:

* ``{prefix}_outcomes.csv`` - one row per treatment session, columns ``OUTCOME_NAMES`` in order;
* ``{prefix}_side_effects.csv`` - one row per side-effect event, columns ``SIDE_EFFECT_NAMES``.

The default run is 5,000 treatments between 2024-01-01 and 2025-12-31 at three invented clinics
with nine invented practitioners and pseudonymous patients (``P000123``; about 1.6 treatments per
patient, Fitzpatrick type fixed per patient). Nothing in it describes a real person or clinic.
All numbers are simulated; effect sizes are set from the published literature (table below) so
that the dashboard has realistic contrasts to show, *not* to be used as clinical evidence.

How to run
----------
    .venv/bin/python data/generate_sample.py                      # writes data/sample_*.csv
    .venv/bin/python data/generate_sample.py --treatments 1000000 --out /tmp --prefix big

or from Python: ``generate(n_treatments=5000, seed=20240101)`` returns ``(outcomes, side_effects)``
DataFrames and ``write_sample(out_dir)`` writes the two CSVs. The bundled files are exactly
``write_sample(Path("data"))`` with the defaults (seed ``20240101``); ``tests/test_sample_data.py``
checks that they are byte-identical to a fresh run, so regenerate them, never edit them by hand.
Output is a pure function of (n_treatments, seed) for a given numpy version (the Generator's
distribution algorithms may change between numpy releases; numpy is pinned in requirements.txt).
Everything is vectorised: 1,000,000 treatments take seconds, not minutes.

Parameters and sources
----------------------
Abbreviations: AFR = ablative fractional resurfacing, NAFR = non-ablative fractional resurfacing,
PIH = post-inflammatory hyperpigmentation, FST = Fitzpatrick skin type. "Illustrative" marks an
invented value with no literature source (clinic mix, prices, staff names, satisfaction model).

| parameter                         | value used here                                  | source |
|-----------------------------------|--------------------------------------------------|--------|
| period                            | 2024-01-01 .. 2025-12-31, Sundays closed          | illustrative |
| clinics / share of patients       | Harbourside .38, Northgate .34, Eastfield .28     | illustrative |
| FST mix per clinic                | mostly II-IV; Eastfield mostly IV-VI (darker)     | illustrative |
| treatments per patient            | 1 + Poisson(0.40) ablative, 1 + Poisson(0.95) non, cut at period end | illustrative (NAFR given as series) |
| P(ablative) by FST I..VI          | .55 .55 .52 .42 .28 .20                           | practice pattern, approx. after [MA10] (more complications in darker FST) |
| devices                           | CO2 10600, Er:YAG 2940 (abl.); Er:glass 1550, Tm 1927, Nd:YAG 1064, RF (non-abl.) | modality classes as in [AA08] |
| downtime median (days)            | CO2 7, Er:YAG 5; Er:glass 2, Tm 2.5, Nd:YAG 1.5, RF 1.5 | [TA03] re-epithelialisation 5.5 d CO2 vs 5.1 d Er:YAG; [FG05] NAFR social downtime ~2 d |
| downtime spread                   | log-normal, sigma .40 abl / .60 non-abl; +days for severe events; 0-90 | illustrative |
| improvement (quartile 0-4) mean   | CO2 3.0, Er:YAG 2.75; Er:glass 2.0, Tm 1.95, Nd:YAG 1.6, RF 1.7 (latent) | approx. after [OB12]: AFR 26-83 % vs NAFR 26-50 % improvement |
| PIH, ablative, FST I..VI          | .02 .035 .09 .17 .31 .38 (before multipliers)    | approx. after [NA98] 37 % (higher in darker FST), [TA03] 46 % CO2 / 42 % Er:YAG, [SH11] 1.2 % in FST I-IV fractional CO2, [OB12] up to 92.3 % AFR in Asians ([MU10], FST IV) |
| PIH, non-ablative, FST I..VI      | .01 .015 .03 .06 .12 .15 (before multipliers)    | approx. after [CH07] 7.1 % / 12.4 % in Chinese (fractional 1,540/1,550 nm), [CH10] 6.0-18.2 %, [GR08] PIH commoner in darker FST, [OB12] up to 13 % NAFR |
| PIH device multiplier             | CO2 1.05, Er:YAG 0.9; Er:glass 1.2, Tm 1.3, Nd:YAG 0.6, RF 0.5 | [TA03] (46 vs 42 %); rest illustrative (melanin absorption low at 1064 nm / RF) |
| PIH after other events            | risk x1.4 after severe erythema, x1.5 after infection | illustrative (PIH follows inflammation) |
| PIH onset / duration              | onset day 14-42; lasts median 60 d abl., 30 d non-abl. (x1.6 moderate, x2.6 severe) | [TA03] mean 12.7 wk (CO2), 11.4 wk (Er:YAG); [OB12] up to 6 mo after AFR, up to 1 wk after NAFR (our 30 d is longer: illustrative) |
| erythema (recorded)               | .90 abl.; .65 Er:glass/Tm; .35 Nd:YAG/RF; lasts ~1-3 wk abl., 2-5 d non-abl. (median, by severity) | [NA98] all patients; [FG05] 100 % transient after 1550 nm; [OB12] AFR 3-14 d, NAFR 1-3 d |
| edema (recorded)                  | .80 abl.; .50 Er:glass/Tm; .20 Nd:YAG/RF           | [FG05] 82 % after 1550 nm; ablative higher (illustrative) |
| acneiform eruption                | .05 abl.; .02 non-abl.; onset 3-14 d              | [SH11] 5.3 %; [GR08] 1.87 % |
| infection (HSV / bacterial)       | .018 abl.; .010 Er:glass/Tm; .003 Nd:YAG/RF; onset 2-7 d | [SH11] HSV 2.2 %, bacterial 1.8 % (we assume prophylaxis -> lower); [GR08] HSV 1.77 % |
| hypopigmentation                  | .006 CO2, .003 Er:YAG, .0005 non-abl.; onset 90-365 d; 45 % permanent | [NA98] <1 %; [BE97] delayed hypopigmentation after CO2; [SH11] none after fractional CO2 |
| scarring                          | .003 abl. (x3 neck/chest), .0003 non-abl.         | [NA98] <1 %; [SH11], [GR08] none; [MA10] sensitive sites at higher risk |
| blistering                        | .005 abl., .004 non-abl.                          | approx. after [MA10] (review; rare) |
| other (e.g. contact dermatitis)   | .02 abl., .015 non-abl.                           | [SH11] contact dermatitis 0.8 %, yeast 1.2 % |
| severities, per-effect durations  | see EFFECT_SPECS                                  | illustrative, shaped by the above |
| procedure minutes                 | face 45, neck 25, chest 55, hands 22, abdomen 60 (x device, log-normal .15) | "30 minutes to an hour depending on the size of the treatment area" (project article); illustrative |
| cost                              | device base x area x practitioner premium x clinic level; 10 % package discount on repeat non-abl. sessions | illustrative |
| satisfaction 1-5                  | 1.6 + 0.75 x improvement - side-effect penalties + noise | illustrative |
| follow-up visits 0-4              | Poisson(0.5 non-abl. / 1.1 abl. + 0.7 if a moderate/severe event ...) | illustrative |
| blanks                            | satisfaction 4 %, cost 3 %, procedure_minutes 3.5 % | deliberate (missing-value handling) |
| DELIBERATE SIGNAL 1               | Dr P. Navarro (Northgate): PIH risk x2.0          | deliberate, for the funnel plot |
| DELIBERATE SIGNAL 2               | Harbourside, ablative, from 2025-09-01: PIH risk ramps x1 -> x4 by 2025-12-31 | deliberate, for the p-chart |
| data extracted                    | 2026-03-31: later onsets dropped, later resolutions blank | illustrative |

References. "Verified" = title, journal, year and the numbers quoted were seen in the abstract
(PubMed or publisher page, via the search tool); where that page did not show the author list or
volume:pages, they are from the brief or from memory, as flagged.

* [AA08] Alexiades-Armenakas MR, Dover JS, Arndt KA. The spectrum of laser skin resurfacing:
  nonablative, fractional, and ablative laser resurfacing. J Am Acad Dermatol 2008;58:719-37.
  (as cited in analysis/schema.py; NOT re-verified here)
* [BE97] Bernstein LJ, Kauvar AN, Grossman MC, Geronemus RG. The short- and long-term side effects
  of carbon dioxide laser resurfacing. Dermatol Surg 1997;23(7):519-25. (verified; co-authors
  from memory)
* [CH07] Chan HH, Manstein D, Yu CS, Shek S, Kono T, Wei WI. The prevalence and risk factors of
  post-inflammatory hyperpigmentation after fractional resurfacing in Asians. Lasers Surg Med
  2007;39(5):381-5. (verified: generalized PIH 7.1 % low density vs 12.4 % high density,
  119 sessions)
* [CH10] Chan NPY et al. The use of non-ablative fractional resurfacing in Asian acne scar
  patients. Lasers Surg Med 2010;42(10):870-5. (verified: PIH 18.2 % vs 6.0 %; authors from memory)
* [FG05] Fisher GH, Geronemus RG. Short-term side effects of fractional photothermolysis.
  Dermatol Surg 2005;31(9 Pt 2):1245-9. (verified: erythema 100 %, edema 82 %, acneiform 10 %,
  72 % limited social engagements for ~2 days; authors from memory)
* [GR08] Graber EM, Tanzi EL, Alster TS. Side effects and complications of fractional laser
  photothermolysis: experience with 961 treatments. Dermatol Surg 2008;34(3):301-5. (abstract
  verified: 7.6 % complications, acneiform 1.87 %, HSV 1.77 %, PIH more frequent in darker FST;
  authors and volume:pages from the brief / memory)
* [MA10] Metelitsa AI, Alster TS. Fractionated laser skin resurfacing treatment complications:
  a review. Dermatol Surg 2010;36(3):299-306. (abstract verified; volume:pages from memory)
* [MU10] Manuskiatti W, Triwongwaranat D, Varothai S, Eimpunth S, Wanitphakdeedecha R. Efficacy
  and safety of a carbon-dioxide ablative fractional resurfacing device for treatment of atrophic
  acne scars in Asians. J Am Acad Dermatol 2010;63(2):274-83. (verified: 13 subjects FST IV;
  its PIH rate is not in the abstract - 92.3 % = 12/13 is inferred from [OB12])
* [NA98] Nanni CA, Alster TS. Complications of carbon dioxide laser resurfacing. An evaluation of
  500 patients. Dermatol Surg 1998;24(3):315-20. (verified: erythema in all, PIH 37 %, HSV 7.4 %,
  hypopigmentation / scarring < 1 %; authors from memory)
* [OB12] Ong MWS, Bashir SJ. Fractional laser resurfacing for acne scars: a review. Br J Dermatol
  2012;166(6):1160-9. (abstract verified: AFR 26-83 % vs NAFR 26-50 % improvement, erythema
  3-14 d vs 1-3 d, PIH up to 92.3 % vs 13 %; authors and volume:pages from memory)
* [SH11] Shamsaldeen O, Peterson JD, Goldman MP. The adverse events of deep fractional CO2:
  a retrospective study of 490 treatments in 374 patients. Lasers Surg Med 2011;43(6):453-6.
  (verified)
* [TA03] Tanzi EL, Alster TS. Single-pass carbon dioxide versus multiple-pass Er:YAG laser skin
  resurfacing: a comparison of postoperative wound healing and side-effect rates. Dermatol Surg
  2003;29(1):80-4. (abstract verified: re-epithelialisation 5.5 vs 5.1 d, erythema 4.5 vs 3.6 wk,
  PIH 46 % vs 42 %, no hypopigmentation or scarring; authors and volume:pages from the brief)

Note: [NA98], [TA03] and [BE97] studied fully ablative (non-fractional) resurfacing; fractional
devices, which the clinics here use, have lower rates, so the ablative figures above are set
between those and the fractional series ([SH11], [MU10]).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

_REPO_ROOT = Path(__file__).resolve().parents[1]
try:  # run as a script or loaded by file path: make ``analysis`` importable
    from analysis.records.schema import (ABLATIVE, EFFECTS, NON_ABLATIVE, OUTCOME_NAMES, SEVERITIES,
                                 SIDE_EFFECT_NAMES)
except ImportError:  # pragma: no cover - depends on how we were started
    sys.path.insert(0, str(_REPO_ROOT))
    from analysis.records.schema import (ABLATIVE, EFFECTS, NON_ABLATIVE, OUTCOME_NAMES, SEVERITIES,
                                 SIDE_EFFECT_NAMES)

DEFAULT_TREATMENTS = 5000
DEFAULT_SEED = 20240101
DEFAULT_PREFIX = "sample"

START_DATE = np.datetime64("2024-01-01")  # a Monday
END_DATE = np.datetime64("2025-12-31")
EXTRACTION_DATE = np.datetime64("2026-03-31")  # events known as of this day
N_DAYS = int((END_DATE - START_DATE).astype(int)) + 1

# --- clinics and staff (all invented) ------------------------------------------------------
CLINICS = ("Harbourside Skin Clinic", "Northgate Laser Centre", "Eastfield Dermatology & Laser")
CLINIC_SHARE = np.array([0.38, 0.34, 0.28])
CLINIC_PRICE_LEVEL = np.array([1.10, 1.00, 0.90])
# Fitzpatrick I..VI mix per clinic (illustrative). Eastfield serves a darker-skinned clientele.
FITZ_MIX = np.array([
    [0.13, 0.31, 0.29, 0.17, 0.07, 0.03],
    [0.08, 0.24, 0.31, 0.22, 0.10, 0.05],
    [0.02, 0.07, 0.16, 0.26, 0.29, 0.20],
])
PRACTITIONERS = (
    "Dr A. Rahman", "Dr L. Moreau", "Dr S. Whitfield",      # Harbourside
    "Dr J. Okafor", "Dr P. Navarro", "Dr M. Lindqvist",     # Northgate
    "Dr N. Adeyemi", "Dr R. Castellano", "Dr T. Nakamura",  # Eastfield
)
PRACTITIONERS_PER_CLINIC = 3
PRACTITIONER_WEIGHT = np.array([0.45, 0.33, 0.22])  # within a clinic (senior sees most)
PRACTITIONER_PREMIUM = np.array([1.20, 1.10, 1.00, 1.15, 1.05, 1.00, 1.20, 1.10, 1.00])
PRACTITIONER_SKILL = np.array([0.10, 0.00, -0.05, 0.10, -0.05, 0.00, 0.10, 0.05, -0.10])
# DELIBERATE SIGNAL 1: Dr P. Navarro has about twice the case-mix-adjusted PIH risk, so the
# practitioner funnel plot has a true outlier to show. Not based on any real person.
PRACTITIONER_PIH = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0])
USUAL_PRACTITIONER_P = 0.85

# DELIBERATE SIGNAL 2: at Harbourside the PIH risk after ablative treatment ramps up linearly
# from 2025-09-01 (x1) to 2025-12-31 (x4), as if a device setting had drifted, so the
# clinic's monthly p-chart shows an out-of-control signal in the last months.
DRIFT_CLINIC = 0
DRIFT_START = np.datetime64("2025-09-01")
DRIFT_MAX_MULTIPLIER = 4.0

# --- devices -------------------------------------------------------------------------------
DEVICES = ("Fractional CO2 10600 nm", "Er:YAG 2940 nm", "Er:glass 1550 nm", "Thulium 1927 nm",
           "Nd:YAG 1064 nm", "Radiofrequency")
DEVICE_ABLATIVE = np.array([True, True, False, False, False, False])
# P(ablative) as the patient's planned treatment, by Fitzpatrick type I..VI ([MA10], practice).
P_ABLATIVE_BY_FITZ = np.array([0.55, 0.55, 0.52, 0.42, 0.28, 0.20])
# Device mix within modality, by Fitzpatrick type I..VI (illustrative: Er:YAG, Nd:YAG and RF
# favoured in darker skin because they heat less / melanin absorbs little at 1064 nm and RF).
P_CO2_GIVEN_ABLATIVE = np.array([0.65, 0.65, 0.65, 0.55, 0.45, 0.45])
NONABL_MIX_BY_FITZ = np.array([  # Er:glass, Thulium, Nd:YAG, RF
    [0.38, 0.22, 0.15, 0.25],
    [0.38, 0.22, 0.15, 0.25],
    [0.38, 0.22, 0.15, 0.25],
    [0.36, 0.14, 0.22, 0.28],
    [0.30, 0.06, 0.32, 0.32],
    [0.30, 0.06, 0.32, 0.32],
])
EXTRA_VISITS_MEAN = {True: 0.40, False: 0.95}  # extra sessions per patient: ablative, non-abl.
SAME_DEVICE_P = 0.80  # a repeat visit usually continues the same device

DOWNTIME_MEDIAN = np.array([7.0, 5.0, 2.0, 2.5, 1.5, 1.5])  # [TA03], [FG05]
DOWNTIME_SIGMA = np.array([0.40, 0.40, 0.60, 0.60, 0.60, 0.60])
IMPROVEMENT_MEAN = np.array([3.0, 2.75, 2.0, 1.95, 1.6, 1.7])  # approx. after [OB12]
IMPROVEMENT_SD = 0.75
MINUTES_DEVICE = np.array([1.10, 1.05, 1.00, 0.95, 0.85, 1.10])
COST_BASE = np.array([1350.0, 1150.0, 850.0, 800.0, 450.0, 650.0])  # illustrative price list

# --- areas ---------------------------------------------------------------------------------
AREAS = ("face", "neck", "chest", "hands", "abdomen")
AREA_P_ABLATIVE = np.array([0.70, 0.08, 0.09, 0.06, 0.07])
AREA_P_NONABL = np.array([0.48, 0.15, 0.14, 0.12, 0.11])
AREA_MINUTES = np.array([45.0, 25.0, 55.0, 22.0, 60.0])  # "30 min to an hour" by size
AREA_COST = np.array([1.00, 0.75, 1.25, 0.60, 1.35])
AREA_IMPROVEMENT = np.array([0.10, 0.00, -0.10, -0.20, -0.20])
AREA_SCAR_RISK = np.array([1.0, 3.0, 3.0, 1.0, 1.0])  # neck/chest scar-prone ([MA10])

# --- side effects --------------------------------------------------------------------------
# PIH probability by modality x Fitzpatrick I..VI (see table in the docstring).
PIH_ABLATIVE = np.array([0.02, 0.035, 0.09, 0.17, 0.31, 0.38])
PIH_NONABL = np.array([0.01, 0.015, 0.03, 0.06, 0.12, 0.15])
PIH_DEVICE = np.array([1.05, 0.90, 1.20, 1.30, 0.60, 0.50])

# Per effect: probability per device (CO2, Er:YAG, Er:glass, Tm, Nd:YAG, RF), severity mix
# (mild, moderate, severe), onset day range, median duration in days (mild; x1.6 moderate,
# x2.6 severe), log-normal sigma of the duration, share never resolving.
EFFECT_SPECS: dict[str, dict] = {
    "erythema": dict(p=[0.90, 0.90, 0.65, 0.65, 0.35, 0.35], onset=(0, 0),
                     sev_abl=[0.45, 0.45, 0.10], sev_non=[0.75, 0.22, 0.03],
                     dur_abl=8.0, dur_non=2.0, sigma=0.45, permanent=0.0),
    "edema": dict(p=[0.80, 0.80, 0.50, 0.50, 0.20, 0.20], onset=(0, 1),
                  sev_abl=[0.55, 0.38, 0.07], sev_non=[0.80, 0.18, 0.02],
                  dur_abl=3.0, dur_non=1.0, sigma=0.40, permanent=0.0),
    "infection": dict(p=[0.018, 0.018, 0.010, 0.010, 0.003, 0.003], onset=(2, 7),
                      sev_abl=[0.35, 0.50, 0.15], sev_non=[0.45, 0.45, 0.10],
                      dur_abl=10.0, dur_non=8.0, sigma=0.35, permanent=0.0),
    "blistering": dict(p=[0.005, 0.005, 0.004, 0.004, 0.004, 0.004], onset=(0, 2),
                       sev_abl=[0.50, 0.40, 0.10], sev_non=[0.60, 0.35, 0.05],
                       dur_abl=7.0, dur_non=5.0, sigma=0.35, permanent=0.0),
    "acneiform eruption": dict(p=[0.05, 0.05, 0.02, 0.02, 0.02, 0.02], onset=(3, 14),
                               sev_abl=[0.70, 0.25, 0.05], sev_non=[0.75, 0.22, 0.03],
                               dur_abl=14.0, dur_non=10.0, sigma=0.45, permanent=0.0),
    "hyperpigmentation": dict(p=None, onset=(14, 42),  # p from PIH_* tables
                              sev_abl=[0.55, 0.35, 0.10], sev_non=[0.65, 0.30, 0.05],
                              dur_abl=60.0, dur_non=30.0, sigma=0.50, permanent=0.02),
    "hypopigmentation": dict(p=[0.006, 0.003, 0.0005, 0.0005, 0.0005, 0.0005], onset=(90, 365),
                             sev_abl=[0.40, 0.40, 0.20], sev_non=[0.60, 0.35, 0.05],
                             dur_abl=180.0, dur_non=120.0, sigma=0.50, permanent=0.45),
    "scarring": dict(p=[0.003, 0.003, 0.0003, 0.0003, 0.0003, 0.0003], onset=(21, 90),
                     sev_abl=[0.30, 0.50, 0.20], sev_non=[0.50, 0.40, 0.10],
                     dur_abl=180.0, dur_non=120.0, sigma=0.50, permanent=0.50),
    "other": dict(p=[0.02, 0.02, 0.015, 0.015, 0.015, 0.015], onset=(0, 10),
                  sev_abl=[0.70, 0.25, 0.05], sev_non=[0.75, 0.22, 0.03],
                  dur_abl=7.0, dur_non=5.0, sigma=0.45, permanent=0.0),
}
SEVERITY_DURATION = np.array([1.0, 1.6, 2.6])
assert set(EFFECT_SPECS) == set(EFFECTS), "EFFECT_SPECS must cover analysis.records.schema.EFFECTS"

BLANK_P = {"satisfaction": 0.04, "cost": 0.03, "procedure_minutes": 0.035}


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Vectorised categorical draw: ``probs`` is (n, k) with rows summing to 1; returns 0..k-1."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0])[:, None]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)


def _severity(rng: np.random.Generator, mix: np.ndarray) -> np.ndarray:
    """0 mild / 1 moderate / 2 severe from per-row mixes (n, 3)."""
    return _pick(rng, mix)


def _draw_devices(rng: np.random.Generator, fitz_idx: np.ndarray) -> np.ndarray:
    """Device index 0..5 for each row, given Fitzpatrick index 0..5."""
    n = fitz_idx.size
    ablative = rng.random(n) < P_ABLATIVE_BY_FITZ[fitz_idx]
    co2 = rng.random(n) < P_CO2_GIVEN_ABLATIVE[fitz_idx]
    nonabl = 2 + _pick(rng, NONABL_MIX_BY_FITZ[fitz_idx])
    return np.where(ablative, np.where(co2, 0, 1), nonabl).astype(np.int8)


def _draw_areas(rng: np.random.Generator, device: np.ndarray) -> np.ndarray:
    probs = np.where(DEVICE_ABLATIVE[device][:, None], AREA_P_ABLATIVE, AREA_P_NONABL)
    return _pick(rng, probs).astype(np.int8)


def _nullable_int(values: np.ndarray, blank: np.ndarray) -> pd.arrays.IntegerArray:
    """Nullable Int64 column: ``values`` where ``blank`` is False, <NA> where it is True."""
    return pd.arrays.IntegerArray(np.asarray(values, dtype=np.int64), np.asarray(blank, dtype=bool))


def _codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(np.str_), width)).astype(object)


def _schedule(rng: np.random.Generator, n: int):
    """Patients, their visits and visit days (0 = 2024-01-01); rows sorted by day."""
    # Patient-level draws for n candidate patients. Every candidate's first visit falls inside
    # the period, so n candidates always give at least n treatments; candidates are in random
    # order, and the first ones that together fill n treatments are used.
    clinic = rng.choice(len(CLINICS), size=n, p=CLINIC_SHARE).astype(np.int8)
    fitz = _pick(rng, FITZ_MIX[clinic]).astype(np.int8)
    plan_device = _draw_devices(rng, fitz)
    plan_area = _draw_areas(rng, plan_device)
    usual_prac = (clinic * PRACTITIONERS_PER_CLINIC
                  + rng.choice(PRACTITIONERS_PER_CLINIC, size=n, p=PRACTITIONER_WEIGHT)).astype(np.int8)
    extra_mean = np.where(DEVICE_ABLATIVE[plan_device], EXTRA_VISITS_MEAN[True], EXTRA_VISITS_MEAN[False])
    visits = 1 + rng.poisson(extra_mean)
    # Seasonal, slowly growing demand for first visits (resurfacing is an autumn/winter thing).
    days = np.arange(N_DAYS)
    weight = (1.0 + 0.30 * np.cos(2 * np.pi * days / 365.25)) * (1.0 + 0.15 * days / N_DAYS)
    weight[days % 7 == 6] = 0.0  # closed on Sundays (day 0 is a Monday)
    first_day = rng.choice(N_DAYS, size=n, p=weight / weight.sum())

    # All planned sessions of all candidates (about 1.7 n rows).
    m = int(visits.sum())
    pat = np.repeat(np.arange(n), visits)
    start = np.concatenate(([0], np.cumsum(visits)[:-1]))
    visit_no = np.arange(m) - start[pat]
    repeat = visit_no > 0

    # Device and area per session: a repeat session usually continues the plan.
    fitz_v = fitz[pat]
    redraw_dev = _draw_devices(rng, fitz_v)
    device = np.where(repeat & (rng.random(m) >= SAME_DEVICE_P), redraw_dev, plan_device[pat])
    redraw_area = _draw_areas(rng, device)
    area = np.where(repeat & (rng.random(m) >= 0.75), redraw_area, plan_area[pat])
    other_prac = (clinic[pat] * PRACTITIONERS_PER_CLINIC
                  + rng.integers(0, PRACTITIONERS_PER_CLINIC, size=m))
    prac = np.where(rng.random(m) < USUAL_PRACTITIONER_P, usual_prac[pat], other_prac)

    # Days between sessions: ~6 weeks for non-ablative series, longer after ablative sessions.
    gap = np.rint(rng.lognormal(np.log(42.0), 0.35, size=m)).astype(np.int64)
    prev_ablative = np.concatenate(([False], DEVICE_ABLATIVE[device][:-1]))
    gap = np.where(prev_ablative, gap + 60, gap)
    gap[~repeat] = 0
    cs = np.cumsum(gap)
    day = first_day[pat] + (cs - cs[start[pat]])
    # A repeat session due on a Sunday is booked on a weekday of the following week.
    day = np.where(day % 7 == 6, day + rng.integers(1, 7, size=m), day)

    # Sessions after the end of the period are not in the data; keep the first n of the rest.
    keep = np.flatnonzero(day <= N_DAYS - 1)[:n]
    pat, fitz_v, device, area, prac, day = (a[keep] for a in (pat, fitz_v, device, area, prac, day))
    n_pat = int(pat[-1]) + 1  # candidates 0..pat[-1] all have their first session kept
    start = np.concatenate(([0], np.flatnonzero(np.diff(pat)) + 1))

    order = np.lexsort((np.arange(n), day))
    # Patient numbers in order of their first treatment.
    pat_sorted = pat[order]
    _, first_seen = np.unique(pat_sorted, return_index=True)  # first sorted row per patient
    pat_number = np.empty(n_pat, dtype=np.int64)
    pat_number[np.argsort(first_seen, kind="stable")] = np.arange(1, n_pat + 1)
    # Session number within patient (0 = first), in date order.
    by_patient = np.lexsort((day, pat))
    visit_rank = np.empty(n, dtype=np.int64)
    visit_rank[by_patient] = np.arange(n) - start[pat[by_patient]]
    visit_rank = visit_rank[order]
    return dict(
        n_pat=n_pat,
        patient=pat_number[pat_sorted],
        clinic=clinic[pat][order],
        fitz=fitz_v[order],
        device=device[order].astype(np.int64),
        area=area[order].astype(np.int64),
        practitioner=prac[order].astype(np.int64),
        day=day[order],
        visit_no=visit_rank,
    )


def generate(n_treatments: int = DEFAULT_TREATMENTS,
             seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(outcomes, side_effects)`` for ``n_treatments`` simulated treatments.

    Deterministic in (n_treatments, seed). Columns are ``OUTCOME_NAMES`` / ``SIDE_EFFECT_NAMES``
    in order; ``treatment_date`` is datetime64, optional numeric columns use nullable dtypes.
    """
    n = int(n_treatments)
    if n < 1:
        raise ValueError("n_treatments must be at least 1")
    rng = np.random.default_rng(seed)
    s = _schedule(rng, n)
    device, area, fitz, prac, clinic, day = (s["device"], s["area"], s["fitz"], s["practitioner"],
                                             s["clinic"], s["day"])
    ablative = DEVICE_ABLATIVE[device]
    dates = START_DATE + day.astype("timedelta64[D]")

    # ---- side effects, one effect at a time (each vectorised over all treatments) ----------
    drift_day = int((DRIFT_START - START_DATE).astype(int))
    ramp = np.clip((day - drift_day) / (N_DAYS - 1 - drift_day), 0.0, 1.0)
    drift = np.where((clinic == DRIFT_CLINIC) & ablative & (day >= drift_day),
                     1.0 + (DRIFT_MAX_MULTIPLIER - 1.0) * ramp, 1.0)
    extraction_day = int((EXTRACTION_DATE - START_DATE).astype(int))

    severity_of: dict[str, np.ndarray] = {}  # per treatment: -1 none, else 0..2
    chunks = []
    for effect in EFFECT_SPECS:  # dependency order: PIH and scarring after infection etc.
        effect_idx = EFFECTS.index(effect)
        spec = EFFECT_SPECS[effect]
        if effect == "hyperpigmentation":
            p = np.where(ablative, PIH_ABLATIVE[fitz], PIH_NONABL[fitz]) * PIH_DEVICE[device]
            p = p * PRACTITIONER_PIH[prac] * drift
            p = p * np.where(severity_of["erythema"] == 2, 1.4, 1.0)  # severe inflammation
            p = p * np.where(severity_of["infection"] >= 0, 1.5, 1.0)
        else:
            p = np.asarray(spec["p"])[device]
            if effect == "scarring":
                p = p * AREA_SCAR_RISK[area] * np.where(severity_of["infection"] >= 0, 3.0, 1.0)
        has = rng.random(n) < np.minimum(p, 0.95)
        mix = np.where(ablative[:, None], spec["sev_abl"], spec["sev_non"])
        if effect == "hyperpigmentation":  # darker skin: a little more moderate/severe PIH
            mix = np.where((fitz >= 4)[:, None], mix + [-0.10, 0.06, 0.04], mix)
        sev = _severity(rng, mix)
        lo, hi = spec["onset"]
        onset = rng.integers(lo, hi + 1, size=n)
        median = np.where(ablative, spec["dur_abl"], spec["dur_non"]) * SEVERITY_DURATION[sev]
        duration = np.maximum(1, np.rint(rng.lognormal(np.log(median), spec["sigma"])))
        resolved = np.minimum(onset + duration.astype(np.int64), 3650)
        persistent = rng.random(n) < spec["permanent"]
        # Only events whose onset was known by the extraction date are on record.
        has &= (day + onset) <= extraction_day
        severity_of[effect] = np.where(has, sev, -1)
        rows = np.flatnonzero(has)
        unresolved = persistent[rows] | ((day[rows] + resolved[rows]) > extraction_day)
        chunks.append((rows, np.full(rows.size, effect_idx), sev[rows], onset[rows],
                       np.where(unresolved, -1, resolved[rows])))

    ev_rows = np.concatenate([c[0] for c in chunks])
    ev_effect = np.concatenate([c[1] for c in chunks])
    ev_sev = np.concatenate([c[2] for c in chunks])
    ev_onset = np.concatenate([c[3] for c in chunks])
    ev_resolved = np.concatenate([c[4] for c in chunks])
    ev_order = np.lexsort((ev_effect, ev_rows))
    ev_rows, ev_effect, ev_sev, ev_onset, ev_resolved = (
        a[ev_order] for a in (ev_rows, ev_effect, ev_sev, ev_onset, ev_resolved))

    sev_any = np.full(n, -1)
    for effect in ("infection", "blistering", "acneiform eruption", "hyperpigmentation",
                   "hypopigmentation", "scarring", "other"):
        sev_any = np.maximum(sev_any, severity_of[effect])
    pih = severity_of["hyperpigmentation"] >= 0
    serious = ((severity_of["infection"] >= 0) | (severity_of["scarring"] >= 0)
               | (severity_of["hypopigmentation"] >= 0))
    bad_course = (sev_any >= 1) | (severity_of["erythema"] == 2) | (severity_of["edema"] == 2)

    # ---- outcomes ---------------------------------------------------------------------------
    downtime = rng.lognormal(np.log(DOWNTIME_MEDIAN[device]), DOWNTIME_SIGMA[device])
    downtime += (3 * (severity_of["erythema"] == 2) + 2 * (severity_of["edema"] == 2)
                 + 5 * (severity_of["infection"] >= 0) + 3 * (severity_of["blistering"] >= 0))
    downtime = np.clip(np.rint(downtime), 0, 90).astype(np.int64)

    series_bonus = np.where(~ablative, 0.15 * np.minimum(s["visit_no"], 3), 0.0)
    latent = (IMPROVEMENT_MEAN[device] + AREA_IMPROVEMENT[area] + PRACTITIONER_SKILL[prac]
              + series_bonus - 0.3 * pih - 0.5 * (severity_of["scarring"] >= 0)
              + rng.normal(0.0, IMPROVEMENT_SD, size=n))
    improvement = np.clip(np.rint(latent), 0, 4).astype(np.int64)

    sat = (1.6 + 0.75 * improvement - 0.4 * pih - 0.5 * (sev_any >= 1)
           - 0.6 * (severity_of["scarring"] >= 0) + rng.normal(0.0, 0.7, size=n))
    satisfaction = np.clip(np.rint(sat), 1, 5).astype(np.int64)

    minutes = AREA_MINUTES[area] * MINUTES_DEVICE[device] * rng.lognormal(0.0, 0.15, size=n)
    minutes = np.maximum(10, np.rint(minutes)).astype(np.int64)

    raw_cost = (COST_BASE[device] * AREA_COST[area] * PRACTITIONER_PREMIUM[prac]
                * CLINIC_PRICE_LEVEL[clinic] * rng.lognormal(0.0, 0.05, size=n))
    cost = np.rint(raw_cost / 5.0) * 5.0
    cost = np.where(~ablative & (s["visit_no"] > 0), cost * 0.9, cost)  # package discount
    cost = np.round(cost, 2)

    lam = (np.where(ablative, 1.1, 0.5) + 0.7 * bad_course + 0.5 * serious)
    follow_ups = np.minimum(rng.poisson(lam), 4).astype(np.int64)

    blank = {k: rng.random(n) < p for k, p in BLANK_P.items()}

    ids = _codes("T", np.arange(1, n + 1), max(7, len(str(n))))
    patient_codes = _codes("P", s["patient"], max(6, len(str(s["n_pat"]))))
    modality_names = np.array([ABLATIVE, NON_ABLATIVE], dtype=object)
    outcomes = pd.DataFrame({
        "treatment_id": ids,
        "patient_id": patient_codes,
        "clinic": np.array(CLINICS, dtype=object)[clinic],
        "treatment_date": dates.astype("datetime64[s]"),
        "modality": modality_names[(~ablative).astype(np.int64)],
        "device": np.array(DEVICES, dtype=object)[device],
        "treatment_area": np.array(AREAS, dtype=object)[area],
        "fitzpatrick_type": (fitz + 1).astype(np.int64),
        "downtime_days": downtime,
        "improvement_score": improvement,
        "satisfaction": _nullable_int(satisfaction, blank["satisfaction"]),
        "procedure_minutes": _nullable_int(minutes, blank["procedure_minutes"]),
        "cost": np.where(blank["cost"], np.nan, cost),
        "practitioner": np.array(PRACTITIONERS, dtype=object)[prac],
        "follow_up_visits": follow_ups,
    })
    outcomes = outcomes[list(OUTCOME_NAMES)]

    resolved_col = _nullable_int(np.maximum(ev_resolved, 0), ev_resolved < 0)
    side_effects = pd.DataFrame({
        "treatment_id": ids[ev_rows],
        "effect": np.array(EFFECTS, dtype=object)[ev_effect],
        "severity": np.array(SEVERITIES, dtype=object)[ev_sev],
        "onset_day": ev_onset.astype(np.int64),
        "resolved_day": resolved_col,
    })[list(SIDE_EFFECT_NAMES)]
    return outcomes, side_effects


def write_csvs(outcomes: pd.DataFrame, side_effects: pd.DataFrame, out_dir: Path,
               prefix: str = DEFAULT_PREFIX) -> tuple[Path, Path]:
    """Write the two frames as canonical CSV (UTF-8, ``\\n`` line ends, ISO dates, ``.`` decimals)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes_path = out_dir / f"{prefix}_outcomes.csv"
    side_effects_path = out_dir / f"{prefix}_side_effects.csv"
    options = dict(index=False, lineterminator="\n", encoding="utf-8", na_rep="")
    outcomes.to_csv(outcomes_path, date_format="%Y-%m-%d", float_format="%.2f", **options)
    side_effects.to_csv(side_effects_path, **options)
    return outcomes_path, side_effects_path


def write_sample(out_dir: Path, n_treatments: int = DEFAULT_TREATMENTS, seed: int = DEFAULT_SEED,
                 prefix: str = DEFAULT_PREFIX) -> tuple[Path, Path]:
    """Generate and write ``{prefix}_outcomes.csv`` and ``{prefix}_side_effects.csv`` into ``out_dir``."""
    outcomes, side_effects = generate(n_treatments, seed)
    return write_csvs(outcomes, side_effects, Path(out_dir), prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--treatments", type=int, default=DEFAULT_TREATMENTS,
                        help=f"number of treatments (default {DEFAULT_TREATMENTS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output directory (default: the data/ directory)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="file name prefix (default sample)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    outcomes, side_effects = generate(args.treatments, args.seed)
    generated = time.perf_counter()
    paths = write_csvs(outcomes, side_effects, args.out, args.prefix)
    written = time.perf_counter()
    print(f"{len(outcomes):,} treatments, {outcomes['patient_id'].nunique():,} patients, "
          f"{len(side_effects):,} side-effect events "
          f"(generated in {generated - started:.1f} s, written in {written - generated:.1f} s)")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
