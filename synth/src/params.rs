//! What a run of the virtual hospital is asked for: how many patients, which seed,
//! which calendar, and the shares that decide who has which disease and which data.
//!
//! The per-subtype clinical behaviour (baseline activity, drug efficacy, flare rates)
//! is not a parameter: it is what a subtype *is*, and lives in [`crate::subtype`].
//! Everything here is a share or a date a study might want to vary.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::SynthError;

/// The seed `rdt demo` uses, so every demo install shows the same patients.
pub const DEMO_SEED: u64 = 20_240_531;
/// How many patients `rdt demo` generates into an empty store.
pub const DEMO_PATIENTS: usize = 3_000;

/// Everything one run depends on. Same `Params`, same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// How many virtual patients to generate.
    pub patients: usize,
    /// The seed; each patient draws from its own stream of it, so patient `i` is the
    /// same whatever `patients` is and however many threads run.
    pub seed: u64,
    /// First rheumatology visits fall uniformly between these two dates.
    pub first_visit_from: NaiveDate,
    pub first_visit_to: NaiveDate,
    /// The export date: nothing is recorded after it.
    pub data_cut: NaiveDate,
    pub disease_mix: DiseaseMix,
    pub ra_mix: RaMix,
    /// Share of lupus patients with nephritis.
    pub lupus_renal: f64,
    /// Share of systemic sclerosis patients with diffuse cutaneous disease.
    pub ssc_diffuse: f64,
    pub shares: ModalityShares,
    /// Share of methotrexate starters whose ALT rises above 3x the upper limit in the
    /// first year, which stops methotrexate.
    pub mtx_hepatotoxicity: f64,
    /// Share of patients lost to follow-up within the first year.
    pub lost_to_follow_up: f64,
    /// How measurements are coded (codes, units, categories); the patients are the same.
    pub coding: crate::codes::Coding,
}

/// Which disease a patient has (shares, normalised when drawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiseaseMix {
    pub rheumatoid_arthritis: f64,
    pub lupus: f64,
    pub systemic_sclerosis: f64,
}

/// Which rheumatoid arthritis subtype a patient has (shares, normalised when drawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaMix {
    pub mtx_responder: f64,
    pub refractory: f64,
    pub seronegative_mild: f64,
}

/// Who has which data: a real cohort is never complete, and the twin must learn
/// that an absent modality is absent, not zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityShares {
    /// Rheumatoid arthritis patients with imaging (radiographs scored by Sharp/van der
    /// Heijde, ultrasound power Doppler).
    pub imaging_ra: f64,
    /// Patients with an omics panel (interferon signature), per disease.
    pub omics_ra: f64,
    pub omics_lupus: f64,
    pub omics_ssc: f64,
    /// Patients whose progress notes are in the export.
    pub notes: f64,
    /// Rheumatoid arthritis patients whose clinic scores DAS28-CRP (the rest DAS28-ESR).
    pub das28_crp: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            patients: 1_000,
            seed: 42,
            first_visit_from: date(2012, 1, 1),
            first_visit_to: date(2023, 6, 30),
            data_cut: date(2024, 12, 31),
            disease_mix: DiseaseMix { rheumatoid_arthritis: 0.80, lupus: 0.12, systemic_sclerosis: 0.08 },
            ra_mix: RaMix { mtx_responder: 0.45, refractory: 0.30, seronegative_mild: 0.25 },
            lupus_renal: 0.35,
            ssc_diffuse: 0.45,
            shares: ModalityShares {
                imaging_ra: 0.33,
                omics_ra: 0.12,
                omics_lupus: 0.40,
                omics_ssc: 0.20,
                notes: 0.95,
                das28_crp: 0.45,
            },
            mtx_hepatotoxicity: 0.08,
            lost_to_follow_up: 0.05,
            coding: crate::codes::Coding::Rdt,
        }
    }
}

impl Params {
    /// The cohort `rdt demo` loads into an empty store.
    pub fn demo() -> Self {
        Params { patients: DEMO_PATIENTS, seed: DEMO_SEED, ..Params::default() }
    }

    /// Checks every share and date; the generator assumes a validated `Params`.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.patients == 0 {
            return Err(SynthError::invalid("patients", "must be at least 1"));
        }
        if self.patients > 10_000_000 {
            return Err(SynthError::invalid("patients", "at most 10,000,000 (ids have room for more, disks rarely)"));
        }
        if self.first_visit_from > self.first_visit_to {
            return Err(SynthError::invalid("first_visit_from", "after first_visit_to"));
        }
        if self.first_visit_to >= self.data_cut {
            return Err(SynthError::invalid("data_cut", "must be after first_visit_to"));
        }
        let shares = [
            ("lupus_renal", self.lupus_renal),
            ("ssc_diffuse", self.ssc_diffuse),
            ("shares.imaging_ra", self.shares.imaging_ra),
            ("shares.omics_ra", self.shares.omics_ra),
            ("shares.omics_lupus", self.shares.omics_lupus),
            ("shares.omics_ssc", self.shares.omics_ssc),
            ("shares.notes", self.shares.notes),
            ("shares.das28_crp", self.shares.das28_crp),
            ("mtx_hepatotoxicity", self.mtx_hepatotoxicity),
            ("lost_to_follow_up", self.lost_to_follow_up),
        ];
        for (name, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(SynthError::invalid(name, format!("{share} is not a share in [0, 1]")));
            }
        }
        let mixes = [
            ("disease_mix", [self.disease_mix.rheumatoid_arthritis, self.disease_mix.lupus, self.disease_mix.systemic_sclerosis]),
            ("ra_mix", [self.ra_mix.mtx_responder, self.ra_mix.refractory, self.ra_mix.seronegative_mild]),
        ];
        for (name, weights) in mixes {
            if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
                return Err(SynthError::invalid(name, "weights must be non-negative with a positive sum"));
            }
        }
        Ok(())
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    // The defaults are literal calendar dates.
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid literal date")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_demo_are_valid() {
        Params::default().validate().unwrap();
        Params::demo().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_refused_by_name() {
        let check = |p: Params, name: &str| match p.validate() {
            Err(SynthError::InvalidParams { name: n, .. }) => assert_eq!(n, name),
            other => panic!("expected {name} to be refused, got {other:?}"),
        };
        check(Params { patients: 0, ..Params::default() }, "patients");
        check(Params { mtx_hepatotoxicity: 1.5, ..Params::default() }, "mtx_hepatotoxicity");
        let ra_mix = RaMix { mtx_responder: 0.0, refractory: 0.0, seronegative_mild: 0.0 };
        check(Params { ra_mix, ..Params::default() }, "ra_mix");
        let mut p = Params::default();
        p.data_cut = p.first_visit_to;
        check(p, "data_cut");
    }
}
