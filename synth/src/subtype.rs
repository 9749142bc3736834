//! The hidden subtypes: what makes one virtual patient's course differ from another's.
//!
//! The three rheumatoid arthritis subtypes are built to be *indistinguishable at
//! baseline* by diagnosis codes and DAS28 alone (overlapping baseline activity, the
//! same ICD-10 codes chosen from serology, not from subtype) and to diverge only
//! afterwards: in the response to methotrexate, in a CRP that climbs, in notes that
//! mention extra-articular disease, and in treatment switches. That is the signal a
//! twin should find and a snapshot model should miss.

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::sample::{weighted, PatientRng};

/// The disease a virtual patient has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disease {
    RheumatoidArthritis,
    Lupus,
    SystemicSclerosis,
}

impl Disease {
    pub fn as_str(self) -> &'static str {
        match self {
            Disease::RheumatoidArthritis => "rheumatoid_arthritis",
            Disease::Lupus => "lupus",
            Disease::SystemicSclerosis => "systemic_sclerosis",
        }
    }
}

/// The hidden subtype: never written into the FHIR output, only into the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subtype {
    /// Seropositive or not, responds to methotrexate within months and mostly stays well.
    RaMtxResponder,
    /// Seropositive, fails methotrexate, CRP climbs, extra-articular features appear in
    /// the notes, switches to a biologic (and sometimes on).
    RaRefractory,
    /// Seronegative, milder, often started on hydroxychloroquine or sulfasalazine.
    RaSeronegativeMild,
    /// Systemic lupus erythematosus with nephritis.
    LupusRenal,
    /// Systemic lupus erythematosus without nephritis (skin, joints, serositis).
    LupusNonRenal,
    /// Diffuse cutaneous systemic sclerosis (anti-Scl-70, lung involvement).
    SscDiffuse,
    /// Limited cutaneous systemic sclerosis (anti-centromere, Raynaud's, slow course).
    SscLimited,
}

impl Subtype {
    pub const ALL: [Subtype; 7] = [
        Subtype::RaMtxResponder,
        Subtype::RaRefractory,
        Subtype::RaSeronegativeMild,
        Subtype::LupusRenal,
        Subtype::LupusNonRenal,
        Subtype::SscDiffuse,
        Subtype::SscLimited,
    ];

    pub fn disease(self) -> Disease {
        match self {
            Subtype::RaMtxResponder | Subtype::RaRefractory | Subtype::RaSeronegativeMild => {
                Disease::RheumatoidArthritis
            }
            Subtype::LupusRenal | Subtype::LupusNonRenal => Disease::Lupus,
            Subtype::SscDiffuse | Subtype::SscLimited => Disease::SystemicSclerosis,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Subtype::RaMtxResponder => "ra_mtx_responder",
            Subtype::RaRefractory => "ra_refractory",
            Subtype::RaSeronegativeMild => "ra_seronegative_mild",
            Subtype::LupusRenal => "lupus_renal",
            Subtype::LupusNonRenal => "lupus_non_renal",
            Subtype::SscDiffuse => "ssc_diffuse",
            Subtype::SscLimited => "ssc_limited",
        }
    }

    /// Draws a subtype from the mixes in `params`.
    pub fn draw(rng: &mut PatientRng, params: &Params) -> Subtype {
        let d = &params.disease_mix;
        match weighted(rng, &[d.rheumatoid_arthritis, d.lupus, d.systemic_sclerosis]) {
            0 => {
                let m = &params.ra_mix;
                [Subtype::RaMtxResponder, Subtype::RaRefractory, Subtype::RaSeronegativeMild]
                    [weighted(rng, &[m.mtx_responder, m.refractory, m.seronegative_mild])]
            }
            1 => {
                if crate::sample::chance(rng, params.lupus_renal) {
                    Subtype::LupusRenal
                } else {
                    Subtype::LupusNonRenal
                }
            }
            _ => {
                if crate::sample::chance(rng, params.ssc_diffuse) {
                    Subtype::SscDiffuse
                } else {
                    Subtype::SscLimited
                }
            }
        }
    }
}

/// How a regimen works in a patient: drawn once when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseClass {
    /// Brings latent activity to low levels (DAS28 about 2.4).
    Good,
    /// Lowers activity by about 1.4 DAS28 points.
    Moderate,
    /// Lowers it by about 0.25: a primary failure.
    None,
}

/// The chances of each [`ResponseClass`] for one drug class in one subtype.
#[derive(Debug, Clone, Copy)]
pub struct Efficacy {
    pub good: f64,
    pub moderate: f64,
}

impl Efficacy {
    pub fn draw(self, rng: &mut PatientRng) -> ResponseClass {
        let none = (1.0 - self.good - self.moderate).max(0.0);
        [ResponseClass::Good, ResponseClass::Moderate, ResponseClass::None][weighted(rng, &[self.good, self.moderate, none])]
    }
}

/// The clinical behaviour of a rheumatoid arthritis subtype.
///
/// Values are chosen so the cohort's rates land where observational cohorts put
/// them (docs/virtual-cohort.md lists the resulting rates and their tests).
#[derive(Debug, Clone, Copy)]
pub struct RaProfile {
    /// Baseline DAS28 (latent) mean and sd: deliberately overlapping across subtypes.
    pub baseline_das28: (f64, f64),
    /// Shares seropositive for RF and for anti-CCP.
    pub rf_positive: f64,
    pub ccp_positive: f64,
    /// Methotrexate, then other csDMARDs (HCQ, SSZ, LEF), TNF inhibitors, and the
    /// later lines (tocilizumab, rituximab, JAK inhibitor).
    pub mtx: Efficacy,
    pub other_csdmard: Efficacy,
    pub tnfi: Efficacy,
    pub later_line: Efficacy,
    /// Latent flares per patient-year.
    pub flares_per_year: f64,
    /// How fast log-CRP climbs per year while a regimen is failing.
    pub crp_climb_per_year: f64,
    /// Chance of developing any extra-articular feature.
    pub extra_articular: f64,
    /// Chance of a high interferon signature (read only by the omics panel).
    pub ifn_high: f64,
    /// Chance that the first csDMARD is methotrexate (else HCQ or SSZ).
    pub starts_on_mtx: f64,
}

impl RaProfile {
    pub fn of(subtype: Subtype) -> Option<RaProfile> {
        let profile = match subtype {
            Subtype::RaMtxResponder => RaProfile {
                baseline_das28: (5.3, 0.85),
                rf_positive: 0.65,
                ccp_positive: 0.60,
                mtx: Efficacy { good: 0.88, moderate: 0.10 },
                other_csdmard: Efficacy { good: 0.55, moderate: 0.30 },
                tnfi: Efficacy { good: 0.70, moderate: 0.20 },
                later_line: Efficacy { good: 0.60, moderate: 0.25 },
                flares_per_year: 0.30,
                crp_climb_per_year: 0.0,
                extra_articular: 0.10,
                ifn_high: 0.20,
                starts_on_mtx: 1.0,
            },
            Subtype::RaRefractory => RaProfile {
                baseline_das28: (5.55, 0.85),
                rf_positive: 0.85,
                ccp_positive: 0.88,
                mtx: Efficacy { good: 0.02, moderate: 0.10 },
                other_csdmard: Efficacy { good: 0.05, moderate: 0.20 },
                tnfi: Efficacy { good: 0.40, moderate: 0.30 },
                later_line: Efficacy { good: 0.40, moderate: 0.30 },
                flares_per_year: 0.90,
                crp_climb_per_year: 1.6,
                extra_articular: 0.70,
                ifn_high: 0.45,
                starts_on_mtx: 1.0,
            },
            Subtype::RaSeronegativeMild => RaProfile {
                baseline_das28: (4.75, 0.8),
                rf_positive: 0.0,
                ccp_positive: 0.0,
                mtx: Efficacy { good: 0.70, moderate: 0.22 },
                other_csdmard: Efficacy { good: 0.55, moderate: 0.35 },
                tnfi: Efficacy { good: 0.60, moderate: 0.30 },
                later_line: Efficacy { good: 0.50, moderate: 0.30 },
                flares_per_year: 0.40,
                crp_climb_per_year: 0.0,
                extra_articular: 0.04,
                ifn_high: 0.15,
                starts_on_mtx: 0.35,
            },
            _ => return None,
        };
        Some(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{patient_rng, Stream};

    #[test]
    fn every_ra_subtype_has_a_profile_and_no_other_does() {
        for s in Subtype::ALL {
            assert_eq!(RaProfile::of(s).is_some(), s.disease() == Disease::RheumatoidArthritis, "{s:?}");
        }
    }

    #[test]
    fn draw_follows_the_mix() {
        let params = Params::default();
        let mut rng = patient_rng(3, 0, Stream::Course);
        let n = 20_000;
        let ra = (0..n).filter(|_| Subtype::draw(&mut rng, &params).disease() == Disease::RheumatoidArthritis).count();
        let share = ra as f64 / n as f64;
        assert!((share - 0.80).abs() < 0.015, "RA share {share}");
    }
}
