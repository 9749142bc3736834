//! DAS28: the formulas, and how a clinic's measured parts arise from a latent level.
//!
//! The clinic records the parts (TJC28, SJC28, ESR or CRP, patient global) and the
//! score computed from them, so the recorded score always recomputes from its parts.
//! The parts are drawn so that their DAS28 lands near the patient's latent activity:
//! the inflammatory marker and the patient global are drawn first, and the joint
//! counts fill what remains. Measurement error then comes from where it does in a
//! real clinic: integer joint counts, a noisy ESR/CRP, a patient's mark on a line.

use serde::{Deserialize, Serialize};

use crate::sample::{lognormal, normal_in, PatientRng};

/// Which DAS28 a clinic uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Das28Variant {
    Esr,
    Crp,
}

/// DAS28-ESR = 0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.70*ln(ESR) + 0.014*PtGlobal.
pub fn das28_esr(tjc28: f64, sjc28: f64, esr_mm_h: f64, patient_global: f64) -> f64 {
    0.56 * tjc28.sqrt() + 0.28 * sjc28.sqrt() + 0.70 * esr_mm_h.ln() + 0.014 * patient_global
}

/// DAS28-CRP = 0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.36*ln(CRP mg/L + 1) + 0.014*PtGlobal + 0.96.
pub fn das28_crp(tjc28: f64, sjc28: f64, crp_mg_l: f64, patient_global: f64) -> f64 {
    0.56 * tjc28.sqrt() + 0.28 * sjc28.sqrt() + 0.36 * (crp_mg_l + 1.0).ln() + 0.014 * patient_global + 0.96
}

/// Rounds a score to the two decimals it is recorded with.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The parts of one assessment, as recorded (already rounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Das28Parts {
    pub tjc28: u8,
    pub sjc28: u8,
    pub patient_global: u8,
    /// The variant's marker: ESR in mm/h or CRP in mg/L.
    pub marker: f64,
    pub variant: Das28Variant,
}

impl Das28Parts {
    /// The score recorded for these parts, rounded to two decimals.
    pub fn score(&self) -> f64 {
        let (t, s, g) = (self.tjc28 as f64, self.sjc28 as f64, self.patient_global as f64);
        round2(match self.variant {
            Das28Variant::Esr => das28_esr(t, s, self.marker, g),
            Das28Variant::Crp => das28_crp(t, s, self.marker, g),
        })
    }
}

/// Inflammatory markers at a visit: the values a typical patient at this activity
/// would have ("expected", which set how many joints remain), and the measured ones.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub expected_esr: f64,
    pub expected_crp: f64,
    pub esr: f64,
    pub crp: f64,
}

/// Draws the clinical parts for a visit whose latent activity is `latent`.
///
/// `swollen_ratio` is the patient's habitual swollen/tender ratio; `markers` come from
/// [`crate::labs::markers`], already including the patient's own offset and any
/// climbing CRP, which therefore raises the recorded score above the latent one.
pub fn draw_parts(
    rng: &mut PatientRng,
    latent: f64,
    variant: Das28Variant,
    markers: &Markers,
    swollen_ratio: f64,
) -> Das28Parts {
    let patient_global = normal_in(rng, 8.0 + 13.0 * (latent - 1.8), 10.0, 0.0, 100.0).round();
    let expected_marker_part = match variant {
        Das28Variant::Esr => 0.70 * markers.expected_esr.ln(),
        Das28Variant::Crp => 0.36 * (markers.expected_crp + 1.0).ln() + 0.96,
    };
    let joint_part = (latent - expected_marker_part - 0.014 * patient_global).max(0.0);
    // 0.56*sqrt(T) + 0.28*sqrt(r*T) = joint_part, with T = x^2.
    let x = joint_part / (0.56 + 0.28 * swollen_ratio.sqrt());
    let tender = x * x;
    let tjc28 = (tender * lognormal(rng, 1.0, 0.22)).round().clamp(0.0, 28.0);
    let sjc28 = (tender * swollen_ratio * lognormal(rng, 1.0, 0.3)).round().clamp(0.0, 28.0);
    let marker = match variant {
        Das28Variant::Esr => markers.esr,
        Das28Variant::Crp => markers.crp,
    };
    Das28Parts {
        tjc28: tjc28 as u8,
        sjc28: sjc28 as u8,
        patient_global: patient_global as u8,
        marker,
        variant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{patient_rng, Stream};

    #[test]
    fn formulas_match_published_examples() {
        // TJC 4, SJC 2, ESR 20, global 40: 1.12 + 0.396 + 2.097 + 0.56 = 4.17.
        assert_eq!(round2(das28_esr(4.0, 2.0, 20.0, 40.0)), 4.17);
        // Same joints, CRP 10 mg/L: 1.12 + 0.396 + 0.863 + 0.56 + 0.96 = 3.90.
        assert_eq!(round2(das28_crp(4.0, 2.0, 10.0, 40.0)), 3.90);
        // No activity at all still scores above zero with the CRP form.
        assert_eq!(round2(das28_crp(0.0, 0.0, 0.0, 0.0)), 0.96);
    }

    #[test]
    fn drawn_parts_land_near_the_latent_level() {
        let mut rng = patient_rng(11, 0, Stream::Course);
        for latent in [3.5, 4.5, 5.5, 6.5] {
            for variant in [Das28Variant::Esr, Das28Variant::Crp] {
                let markers = Markers { expected_esr: 30.0, expected_crp: 12.0, esr: 30.0, crp: 12.0 };
                let n = 2000;
                let mean = (0..n).map(|_| draw_parts(&mut rng, latent, variant, &markers, 0.7).score()).sum::<f64>()
                    / n as f64;
                assert!((mean - latent).abs() < 0.25, "{variant:?} latent {latent}: mean recorded {mean}");
            }
        }
    }
}
