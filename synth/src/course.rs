//! The latent disease course: a patient's true activity, day by day, which the
//! clinic only ever sees through noisy measurements at visits.
//!
//! Activity = treated level + slow wandering + flares + steroid effect:
//! - the *level* approaches the current regimen's target with the drug's onset time
//!   constant (an exponential approach, as response curves in trials look);
//! - the *wandering* is an Ornstein-Uhlenbeck process (weeks-long good and bad spells);
//! - a *flare* rises over a few days and decays over weeks;
//! - a *steroid* course pulls activity down while it lasts, then lets go.
//!
//! The same machinery serves DAS28 (rheumatoid arthritis), SLEDAI-2K (lupus) and mRSS
//! (systemic sclerosis) with different scales.

use crate::sample::{gaussian, PatientRng};

/// A flare in progress.
#[derive(Debug, Clone, Copy)]
struct Flare {
    onset: i32,
    amplitude: f64,
    decay_days: f64,
}

/// Days a flare takes to peak.
const FLARE_RISE_DAYS: f64 = 4.0;

/// One patient's latent activity on one scale.
#[derive(Debug, Clone)]
pub struct LatentCourse {
    level: f64,
    target: f64,
    onset_days: f64,
    wander: f64,
    wander_sd: f64,
    wander_days: f64,
    flares: Vec<Flare>,
    steroid: f64,
    steroid_target: f64,
    floor: f64,
    ceiling: f64,
}

impl LatentCourse {
    /// Starts at `level`, untreated (the target is the level itself).
    pub fn new(level: f64, wander_sd: f64, wander_days: f64, floor: f64, ceiling: f64) -> Self {
        LatentCourse {
            level,
            target: level,
            onset_days: 30.0,
            wander: 0.0,
            wander_sd,
            wander_days,
            flares: Vec::new(),
            steroid: 0.0,
            steroid_target: 0.0,
            floor,
            ceiling,
        }
    }

    /// The treated level, without wandering, flares or steroids: what a regimen acts on.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// Aims the level at `target`, reached with time constant `onset_days`.
    pub fn set_target(&mut self, target: f64, onset_days: f64) {
        self.target = target.clamp(self.floor, self.ceiling);
        self.onset_days = onset_days.max(1.0);
    }

    /// A steroid effect (negative) while a course runs; zero when it ends.
    pub fn set_steroid(&mut self, effect: f64) {
        self.steroid_target = effect;
    }

    pub fn add_flare(&mut self, day: i32, amplitude: f64, decay_days: f64) {
        self.flares.push(Flare { onset: day, amplitude, decay_days });
    }

    /// Advances one day.
    pub fn step(&mut self, rng: &mut PatientRng, day: i32) {
        self.level += (self.target - self.level) / self.onset_days;
        let k = 1.0 / self.wander_days;
        self.wander += -k * self.wander + self.wander_sd * (2.0 * k).sqrt() * gaussian(rng);
        // Steroids act within days in both directions.
        self.steroid += (self.steroid_target - self.steroid) / 4.0;
        self.flares.retain(|f| (day - f.onset) as f64 <= FLARE_RISE_DAYS + 6.0 * f.decay_days);
    }

    /// The activity on `day`.
    pub fn value(&self, day: i32) -> f64 {
        let flare: f64 = self.flares.iter().map(|f| flare_at(f, day)).sum();
        (self.level + self.wander + flare + self.steroid).clamp(self.floor, self.ceiling)
    }

    /// Whether a flare is near its peak on `day` (for the notes' history).
    pub fn flaring(&self, day: i32) -> bool {
        self.flares.iter().any(|f| flare_at(f, day) > 0.5 * f.amplitude)
    }
}

fn flare_at(f: &Flare, day: i32) -> f64 {
    let t = (day - f.onset) as f64;
    if t < 0.0 {
        return 0.0;
    }
    let rise = ((t + 1.0) / FLARE_RISE_DAYS).min(1.0);
    let decay = (-(t - FLARE_RISE_DAYS).max(0.0) / f.decay_days).exp();
    f.amplitude * rise * decay
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{patient_rng, Stream};

    #[test]
    fn level_approaches_target_with_the_onset_time() {
        let mut rng = patient_rng(1, 0, Stream::Course);
        let mut c = LatentCourse::new(6.0, 0.0, 30.0, 0.5, 9.0);
        c.set_target(2.0, 40.0);
        for day in 1..=40 {
            c.step(&mut rng, day);
        }
        // One time constant closes about 63% of the gap.
        let closed = (6.0 - c.level()) / 4.0;
        assert!((closed - 0.63).abs() < 0.03, "closed {closed}");
    }

    #[test]
    fn flare_peaks_then_fades() {
        let mut rng = patient_rng(1, 0, Stream::Course);
        let mut c = LatentCourse::new(3.0, 0.0, 30.0, 0.5, 9.0);
        c.add_flare(10, 2.0, 20.0);
        let mut values = Vec::new();
        for day in 0..200 {
            c.step(&mut rng, day);
            values.push(c.value(day));
        }
        assert!((values[5] - 3.0).abs() < 1e-9);
        assert!((values[14] - 5.0).abs() < 0.1, "peak {}", values[14]);
        assert!((values[199] - 3.0).abs() < 0.01);
    }
}
