//! Imaging of rheumatoid arthritis: radiographic damage (Sharp/van der Heijde) and
//! ultrasound synovitis (power Doppler), for the share of patients who have it.
//!
//! Damage accumulates with the time spent above remission, faster when seropositive
//! (the area-under-the-activity-curve model of radiographic progression), and is read
//! with reader error at yearly radiographs. Power Doppler reflects current synovitis
//! and is scored at some visits.

use crate::chart::{Chart, VisitKind};
use crate::codes::Measure;
use crate::outcomes::REMISSION;
use crate::sample::{chance, lognormal, normal, poisson, PatientRng};

/// Sharp/van der Heijde units gained per DAS28 point above remission held for one year.
const PROGRESSION_SEROPOSITIVE: f64 = 1.8;
const PROGRESSION_SERONEGATIVE: f64 = 0.6;
/// The maximum total score (hands and feet).
const SVDH_MAX: f64 = 448.0;

/// What was imaged at a visit, for the note.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImagingFacts {
    pub sharp: Option<f64>,
    pub power_doppler: Option<f64>,
}

/// One patient's imaging: the true damage score and the radiograph schedule.
#[derive(Debug, Clone)]
pub struct Imaging {
    damage: f64,
    rate: f64,
    next_radiograph: i32,
}

impl Imaging {
    pub fn draw(rng: &mut PatientRng, seropositive: bool) -> Self {
        let (median, rate) =
            if seropositive { (6.0, PROGRESSION_SEROPOSITIVE) } else { (2.5, PROGRESSION_SERONEGATIVE) };
        Imaging { damage: (lognormal(rng, median, 0.9) - 1.0).max(0.0), rate, next_radiograph: 0 }
    }

    /// One day of damage at latent activity `latent`.
    pub fn progress(&mut self, latent: f64) {
        self.damage = (self.damage + self.rate * (latent - REMISSION).max(0.0) / 365.25).min(SVDH_MAX);
    }

    /// Records what is imaged at this visit.
    pub fn visit(
        &mut self,
        rng: &mut PatientRng,
        chart: &mut Chart,
        visit: usize,
        day: i32,
        latent: f64,
        kind: VisitKind,
    ) -> Option<ImagingFacts> {
        let mut facts = ImagingFacts::default();
        // Radiographs yearly, taken at the visit nearest each anniversary.
        if day + 30 >= self.next_radiograph {
            let read = (self.damage + normal(rng, 0.0, 1.0)).round().clamp(0.0, SVDH_MAX);
            facts.sharp = Some(chart.measure(visit, Measure::SharpVanDerHeijde, read));
            self.next_radiograph = day + 365;
        }
        let ultrasound = match kind {
            VisitKind::NewPatient => true,
            VisitKind::Unscheduled => chance(rng, 0.5),
            VisitKind::FollowUp => chance(rng, 0.3),
        };
        if ultrasound {
            let score = poisson(rng, (1.4 * (latent - 2.3)).max(0.15)).min(36);
            facts.power_doppler = Some(chart.measure(visit, Measure::PowerDoppler, score as f64));
        }
        (facts.sharp.is_some() || facts.power_doppler.is_some()).then_some(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{patient_rng, Stream};

    #[test]
    fn damage_grows_only_above_remission() {
        let mut rng = patient_rng(2, 0, Stream::Course);
        let mut img = Imaging::draw(&mut rng, true);
        let start = img.damage;
        for _ in 0..365 {
            img.progress(2.0);
        }
        assert_eq!(img.damage, start);
        for _ in 0..365 {
            img.progress(4.6);
        }
        assert!((img.damage - start - 2.0 * PROGRESSION_SEROPOSITIVE).abs() < 0.01);
    }
}
