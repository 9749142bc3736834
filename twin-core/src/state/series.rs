//! From a journey to the model's data: DAS28 readings, each with the treatment in
//! force, aligned to a fixed step.
//!
//! **Alignment.** Visits are irregular (weeks apart when active, half a year apart at
//! target), while a Markov chain moves in fixed steps. Each patient's time is cut into
//! bins of `step_days`, centred on `first reading + k * step_days` and covering
//! `[centre - step/2, centre + step/2)`; a bin's state is the reading nearest its
//! centre (the earlier on a tie), its treatment the one in force at that reading. The
//! bins partition time, so no reading is used twice, and a transition is counted only
//! between two *adjacent* bins that both hold a reading: a gap (a bin with no visit)
//! breaks the chain instead of being bridged by a guess.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use journey::clinical::{courses, das28_readings};
use journey::event::{Event, PatientId};
use crate::state::activity::{state_of, DiseaseState};
use crate::state::treatment::{treatment_at, Treatment};

/// One DAS28 reading with the treatment in force when it was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub time: DateTime<Utc>,
    pub das28: f64,
    pub state: DiseaseState,
    pub treatment: Treatment,
}

/// A journey's DAS28 readings in time order ([`journey::clinical::das28_readings`]),
/// each with its state and the treatment in force when it was taken.
pub fn readings(events: &[Event]) -> Vec<Reading> {
    let courses = courses(events);
    das28_readings(events)
        .into_iter()
        .filter_map(|r| {
            let state = state_of(r.score)?;
            Some(Reading { time: r.time, das28: r.score, state, treatment: treatment_at(&courses, r.time) })
        })
        .collect()
}

/// One step of a patient's chain: the state of two adjacent bins, under the
/// treatment in force at the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub treatment: Treatment,
    pub from: DiseaseState,
    pub to: DiseaseState,
}

/// A patient's aligned steps: what the model counts.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientSteps {
    pub patient: PatientId,
    pub steps: Vec<Step>,
}

/// The bins of a reading series (`None` for a bin without a reading), see the module
/// doc. `step_days` must be positive.
pub fn align(readings: &[Reading], step_days: i64) -> Vec<Option<Reading>> {
    assert!(step_days > 0, "the step must be positive");
    let Some(first) = readings.first() else { return Vec::new() };
    let step = Duration::days(step_days);
    let half = step / 2;
    let t0 = first.time;
    let bin_of = |t: DateTime<Utc>| ((t - t0 + half).num_seconds().div_euclid(step.num_seconds())) as usize;
    let n_bins = readings.last().map_or(0, |r| bin_of(r.time) + 1);
    let mut bins: Vec<Option<Reading>> = vec![None; n_bins];
    for r in readings {
        let k = bin_of(r.time);
        let centre = t0 + step * k as i32;
        let distance = (r.time - centre).abs();
        // Readings come in time order, so on equal distance the earlier one stays.
        if bins[k].is_none_or(|b| distance < (b.time - centre).abs()) {
            bins[k] = Some(*r);
        }
    }
    bins
}

/// The transitions between adjacent filled bins.
pub fn steps(bins: &[Option<Reading>]) -> Vec<Step> {
    bins.windows(2)
        .filter_map(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => Some(Step { treatment: a.treatment, from: a.state, to: b.state }),
            _ => None,
        })
        .collect()
}

/// A patient's steps from their events.
pub fn patient_steps(patient: PatientId, events: &[Event], step_days: i64) -> PatientSteps {
    PatientSteps { patient, steps: steps(&align(&readings(events), step_days)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testutil::{das28, day};

    #[test]
    fn readings_are_nearest_to_their_bin_centre_and_gaps_break_the_chain() {
        // Bins of 90 days centred on days 0, 90, 180, ...: day 0 5.5 (high); days 80 (4.0)
        // and 100 (3.0) share bin 1 at the same distance, the earlier wins; day 170 2.0
        // (bin 2); bin 3 empty; day 370 2.2 (bin 4).
        let events = vec![das28(0, 5.5), das28(80, 4.0), das28(100, 3.0), das28(170, 2.0), das28(370, 2.2)];
        let r = readings(&events);
        let bins = align(&r, 90);
        assert_eq!(bins.len(), 5);
        assert_eq!(bins[1].unwrap().das28, 4.0);
        assert!(bins[3].is_none());
        let s = steps(&bins);
        let pairs: Vec<_> = s.iter().map(|s| (s.from, s.to)).collect();
        assert_eq!(
            pairs,
            vec![(DiseaseState::High, DiseaseState::Moderate), (DiseaseState::Moderate, DiseaseState::Remission)]
        );
        assert!(s.iter().all(|s| s.treatment == Treatment::None));
        assert_eq!(r[0].time, day(0));
    }
}
