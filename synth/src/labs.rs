//! Laboratory values: inflammatory markers, routine safety labs and serology.
//!
//! Each lab follows what drives it clinically: CRP and ESR track disease activity
//! (plus a patient's own level, plus a climb when refractory disease smoulders);
//! haemoglobin falls with inflammation (anaemia of chronic disease); ALT rises a little
//! on methotrexate and a lot in the few who develop hepatotoxicity; creatinine tracks
//! age, sex and lupus nephritis.

use crate::chart::Sex;
use crate::das28::Markers;
use crate::sample::{lognormal, normal, normal_in, PatientRng};

/// Upper limit of normal for ALT (U/L), the critical ALT (3x ULN) that stops
/// methotrexate, and the rheumatoid factor and anti-CCP positivity cut-offs: the
/// reference table of `journey::clinical::labs`, which the tools flag values against.
pub use journey::clinical::labs::{ALT_CRITICAL, ALT_ULN, ANTI_CCP_CUTOFF as CCP_CUTOFF, RF_CUTOFF};

/// A patient's own inflammatory set point.
#[derive(Debug, Clone, Copy)]
pub struct InflammationProfile {
    /// Offset on the log-CRP scale (some patients run high CRPs at the same activity).
    pub crp_offset: f64,
    /// Offset on the log-ESR scale (age, sex, anaemia, immunoglobulins).
    pub esr_offset: f64,
}

impl InflammationProfile {
    pub fn draw(rng: &mut PatientRng, sex: Sex, age: f64) -> Self {
        let sex_effect = if sex == Sex::Female { 0.12 } else { 0.0 };
        InflammationProfile {
            crp_offset: normal(rng, 0.0, 0.4),
            esr_offset: normal(rng, sex_effect + 0.008 * (age - 50.0), 0.15),
        }
    }
}

/// CRP (mg/L) and ESR (mm/h) for rheumatoid arthritis activity `latent`; `climb` is
/// the extra log-CRP of smouldering refractory disease.
pub fn markers(rng: &mut PatientRng, latent: f64, profile: &InflammationProfile, climb: f64) -> Markers {
    let log_crp_expected = -0.4 + 0.85 * (latent - 2.0) + profile.crp_offset;
    let expected_crp = log_crp_expected.exp().clamp(0.2, 250.0);
    let crp = (log_crp_expected + climb + normal(rng, 0.0, 0.35)).exp().clamp(0.2, 300.0);
    let esr_of = |crp: f64| (1.9 + 0.55 * (crp + 1.0).ln() + profile.esr_offset).exp();
    let expected_esr = esr_of(expected_crp).clamp(2.0, 130.0);
    let esr = (esr_of(crp) * lognormal(rng, 1.0, 0.2)).round().clamp(2.0, 130.0);
    Markers { expected_esr, expected_crp, esr, crp: (crp * 10.0).round() / 10.0 }
}

/// Haemoglobin (g/dL): lower in women and with inflammation.
pub fn hemoglobin(rng: &mut PatientRng, sex: Sex, crp: f64) -> f64 {
    let base = if sex == Sex::Female { 13.4 } else { 14.9 };
    normal_in(rng, base - 0.35 * (crp + 1.0).ln(), 0.6, 6.5, 18.0)
}

/// ALT (U/L) around a patient's own baseline; `hepatotoxic` is a methotrexate injury.
pub fn alt(rng: &mut PatientRng, baseline: f64, on_mtx: bool, hepatotoxic: bool) -> f64 {
    if hepatotoxic {
        return ALT_ULN * normal_in(rng, 4.0, 0.8, 3.1, 8.0);
    }
    let factor = if on_mtx { 1.2 } else { 1.0 };
    (baseline * factor * lognormal(rng, 1.0, 0.18)).clamp(6.0, 110.0)
}

/// Creatinine (mg/dL): by sex and age, plus lupus nephritis activity (0 = none).
pub fn creatinine(rng: &mut PatientRng, sex: Sex, age: f64, renal_activity: f64) -> f64 {
    let base = if sex == Sex::Female { 0.72 } else { 0.95 };
    let aged = base + 0.004 * (age - 45.0).max(0.0);
    (aged + 0.12 * renal_activity + normal(rng, 0.0, 0.07)).clamp(0.35, 6.0)
}

/// A serology titre: positive ones log-normal above the cut-off, negative ones below it.
pub fn titre(rng: &mut PatientRng, positive: bool, cutoff: f64, positive_median: f64, cap: f64) -> f64 {
    if positive {
        lognormal(rng, positive_median, 0.8).clamp(cutoff * 1.1, cap)
    } else {
        lognormal(rng, cutoff * 0.3, 0.5).clamp(0.5, cutoff * 0.9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::labs::CRP_ULN_MG_L;
    use crate::sample::{patient_rng, Stream};

    #[test]
    fn markers_rise_with_activity() {
        let mut rng = patient_rng(5, 0, Stream::Course);
        let profile = InflammationProfile { crp_offset: 0.0, esr_offset: 0.1 };
        let mean_crp = |rng: &mut PatientRng, latent: f64| {
            (0..500).map(|_| markers(rng, latent, &profile, 0.0).crp).sum::<f64>() / 500.0
        };
        let low = mean_crp(&mut rng, 2.5);
        let high = mean_crp(&mut rng, 5.5);
        assert!(low < CRP_ULN_MG_L && high > 10.0 && high < 40.0, "CRP at 2.5: {low}, at 5.5: {high}");
    }

    #[test]
    fn titres_respect_the_cutoff() {
        let mut rng = patient_rng(5, 1, Stream::Course);
        for _ in 0..1000 {
            assert!(titre(&mut rng, true, RF_CUTOFF, 80.0, 600.0) > RF_CUTOFF);
            assert!(titre(&mut rng, false, RF_CUTOFF, 80.0, 600.0) < RF_CUTOFF);
        }
    }

    #[test]
    fn hepatotoxicity_exceeds_three_times_the_upper_limit() {
        let mut rng = patient_rng(5, 2, Stream::Course);
        for _ in 0..1000 {
            assert!(alt(&mut rng, 22.0, true, true) > ALT_CRITICAL);
            assert!(alt(&mut rng, 22.0, true, false) < ALT_CRITICAL);
        }
    }
}
