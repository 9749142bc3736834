//! DAS28: the formulas, and how a clinic's measured parts arise from a latent level.
//!
//! The clinic records the parts (TJC28, SJC28, ESR or CRP, patient global) and the
//! score computed from them, so the recorded score always recomputes from its parts.
//! The parts are drawn so that their DAS28 lands near the patient's latent activity:
//! the inflammatory marker and the patient global are drawn first, and the joint
//! counts fill what remains. Measurement error then comes from where it does in a
//! real clinic: integer joint counts, a noisy ESR/CRP, a patient's mark on a line.

use crate::sample::{lognormal, normal_in, PatientRng};

/// Which DAS28 a clinic uses, its formulas and the recorded rounding: defined once in
/// `journey::clinical::das28` (the tools and the cohort analytics read the same).
pub use journey::clinical::das28::{das28_crp, das28_esr, round2, Das28Variant};

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
        round2(self.variant.score(t, s, self.marker, g))
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
    let expected_marker = match variant {
        Das28Variant::Esr => markers.expected_esr,
        Das28Variant::Crp => markers.expected_crp,
    };
    // The marker's share of the score: the formula with no joints and a global of 0
    // (bit for bit the marker's term, plus DAS28-CRP's constant).
    let expected_marker_part = variant.score(0.0, 0.0, expected_marker, 0.0);
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
