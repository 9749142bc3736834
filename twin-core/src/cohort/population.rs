//! The population: every historical snapshot of every journey the cohort compares
//! with, its outcomes and latest-visit features, and the snapshot baseline fitted on
//! them.
//!
//! Its figures sit beside the neighbours' in a report: the population rate (what a
//! clinician would say without any model) and the snapshot regression's prediction
//! (what the latest visit alone says), so the reader sees what the twin adds.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::features::snapshot_features;
use super::outcomes::{Outcome, PatientOutcomes};
use super::record::ClinicalRecord;
use super::regression::{LinearModel, DEFAULT_L2};
use super::stats::Estimate;
use journey::event::{Event, PatientId};

/// One historical snapshot of the population.
#[derive(Debug, Clone)]
pub struct PopulationSnapshot {
    pub patient: PatientId,
    pub index_time: DateTime<Utc>,
    pub outcomes: PatientOutcomes,
    pub features: Vec<f64>,
}

/// Below this many snapshots with an outcome, its snapshot baseline is not fitted: a
/// regression on few patients extrapolates (a DAS28 of 0.41, a 100% response were
/// once shown on a consult page).
pub const MIN_BASELINE_SNAPSHOTS: usize = 200;

/// A fitted snapshot baseline and the span of the values it was fitted on.
#[derive(Debug)]
struct Baseline {
    model: LinearModel,
    /// Lowest and highest value seen (DAS28 outcomes); a prediction outside is an
    /// extrapolation, and not shown.
    seen: (f64, f64),
}

/// The population and its fitted snapshot baseline.
#[derive(Debug)]
pub struct Population {
    records: HashMap<PatientId, ClinicalRecord>,
    snapshots: Vec<PopulationSnapshot>,
    models: BTreeMap<Outcome, Baseline>,
}

impl Population {
    /// Reads every journey and takes the snapshots `snapshot_times` gives for it (the
    /// neighbour index's historical snapshots), keeping those where the patient was
    /// in care ([`ClinicalRecord::in_care_by`]); fits the snapshot baseline of each
    /// outcome on the snapshots with that outcome.
    pub fn build<'a>(
        journeys: impl IntoIterator<Item = (&'a PatientId, &'a [Event])>,
        snapshot_times: &dyn Fn(&[Event]) -> Vec<DateTime<Utc>>,
    ) -> Self {
        let mut records = HashMap::new();
        let mut snapshots = Vec::new();
        for (patient, events) in journeys {
            let record = ClinicalRecord::read(events);
            for index_time in snapshot_times(events) {
                if !record.in_care_by(index_time.date_naive()) {
                    continue;
                }
                snapshots.push(PopulationSnapshot {
                    patient: patient.clone(),
                    index_time,
                    outcomes: record.outcomes_at(index_time.date_naive()),
                    features: snapshot_features(&record, index_time),
                });
            }
            records.insert(patient.clone(), record);
        }
        let mut models = BTreeMap::new();
        for outcome in Outcome::ALL {
            let (x, y): (Vec<Vec<f64>>, Vec<f64>) =
                snapshots.iter().filter_map(|s| s.outcomes.get(outcome).map(|v| (s.features.clone(), v))).unzip();
            if y.len() < MIN_BASELINE_SNAPSHOTS {
                continue;
            }
            let seen = y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            let model = if outcome.is_rate() {
                let labels: Vec<bool> = y.iter().map(|v| *v > 0.5).collect();
                LinearModel::fit_logistic(&x, &labels, DEFAULT_L2)
            } else {
                LinearModel::fit_linear(&x, &y, DEFAULT_L2)
            };
            if let Some(model) = model {
                models.insert(outcome, Baseline { model, seen });
            }
        }
        Population { records, snapshots, models }
    }

    pub fn snapshots(&self) -> &[PopulationSnapshot] {
        &self.snapshots
    }

    /// A patient's record, when the population read it.
    pub fn record(&self, patient: &PatientId) -> Option<&ClinicalRecord> {
        self.records.get(patient)
    }

    /// A patient's outcomes after `index_time` (a neighbour's, after its own snapshot).
    pub fn outcomes_of(&self, patient: &PatientId, index_time: DateTime<Utc>) -> Option<PatientOutcomes> {
        self.records.get(patient).map(|r| r.outcomes_at(index_time.date_naive()))
    }

    /// The whole population's figure for an outcome (over snapshots with data;
    /// Kaplan-Meier for flare and switch).
    pub fn figure(&self, outcome: Outcome) -> Estimate {
        estimate_over(outcome, self.snapshots.iter().map(|s| &s.outcomes), 1)
    }

    /// The snapshot baseline's prediction from latest-visit features: a probability
    /// for yes/no outcomes, a DAS28 for values. `None` when it was not fitted (fewer
    /// than [`MIN_BASELINE_SNAPSHOTS`]) or a value falls outside those it was fitted on
    /// (an extrapolation is not a figure to show).
    pub fn snapshot_prediction(&self, outcome: Outcome, features: &[f64]) -> Option<f64> {
        let b = self.models.get(&outcome)?;
        let v = b.model.predict(features);
        let inside = outcome.is_rate() || (b.seen.0..=b.seen.1).contains(&v);
        (v.is_finite() && inside).then_some(v)
    }
}

/// An outcome's figure over a group's outcomes: a Kaplan-Meier cumulative incidence
/// for the outcomes with a time (flare, switch: a patient counts for the time it was
/// seen), else [`estimate`] over those with a value; refusing below `min_n`.
pub fn estimate_over<'a>(outcome: Outcome, outcomes: impl IntoIterator<Item = &'a PatientOutcomes>, min_n: usize) -> Estimate {
    let outcomes: Vec<&PatientOutcomes> = outcomes.into_iter().collect();
    let times: Vec<(journey::clinical::TimeToEvent, u32)> = outcomes.iter().filter_map(|o| o.time_to(outcome)).collect();
    if let Some((_, horizon)) = times.first() {
        let times: Vec<_> = times.iter().map(|(t, _)| *t).collect();
        return Estimate::kaplan_meier(&times, *horizon, min_n);
    }
    let values: Vec<f64> = outcomes.iter().filter_map(|o| o.get(outcome)).collect();
    estimate(outcome, &values, min_n)
}

/// A rate or a mean over outcome values (1/0 for yes/no), refusing below `min_n`.
pub fn estimate(outcome: Outcome, values: &[f64], min_n: usize) -> Estimate {
    estimate_values(outcome.is_rate(), values, min_n)
}

/// A rate over 1/0 values (`is_rate`) or a mean DAS28 kept on its scale, refusing
/// below `min_n`: the one door for a group's figure of any outcome.
pub fn estimate_values(is_rate: bool, values: &[f64], min_n: usize) -> Estimate {
    if is_rate {
        let yes: Vec<bool> = values.iter().map(|v| *v > 0.5).collect();
        Estimate::rate(&yes, min_n)
    } else {
        // The value outcomes are DAS28 scores.
        Estimate::mean_within(values, min_n, journey::clinical::activity::Scale::Das28.range())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::Duration;

    /// Three scattered DAS28 values: the mean's interval stays on the scale.
    #[test]
    fn a_das28_interval_stays_on_the_scale() {
        match estimate(Outcome::Das28Day150, &[0.5, 0.6, 9.0], 3) {
            Estimate::Mean { mean, ci, .. } => {
                assert!((0.0..=10.0).contains(&ci.low) && (0.0..=10.0).contains(&ci.high), "{ci:?}");
                assert!(ci.low <= mean && mean <= ci.high);
                assert_eq!(ci.low, 0.0, "the t interval alone reaches below zero");
            }
            other => panic!("{other:?}"),
        }
    }

    /// 240 patients on methotrexate, DAS28 at day 150 following the day-30 reading: the
    /// baseline is fitted; a latest visit far outside what it was fitted on gets no
    /// DAS28 figure rather than an extrapolated one.
    #[test]
    fn the_baseline_shows_no_extrapolated_das28() {
        let journeys: Vec<(PatientId, Vec<Event>)> = (0..240)
            .map(|i| {
                let id = PatientId::new(format!("p{i}")).unwrap();
                let start = 3.0 + (i % 40) as f64 * 0.1;
                let mut events =
                    Journey::new(vec![das28(0, 6.0), das28(30, start), das28(150, start - 0.5), das28(400, 3.0), drug(0, None, "6851")])
                        .events;
                for e in &mut events {
                    e.patient = id.clone();
                }
                (id, events)
            })
            .collect();
        let day31 = |events: &[Event]| vec![events[0].time + Duration::days(31)];
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &day31);
        let record = population.record(&journeys[5].0).unwrap();
        let at = journeys[5].1[0].time + Duration::days(31);
        let typical = snapshot_features(record, at);
        let v = population.snapshot_prediction(Outcome::Das28Day150, &typical).expect("a fitted, typical patient");
        assert!((2.0..=6.5).contains(&v), "{v}");
        let mut odd = typical.clone();
        odd[0] = 40.0; // a latest DAS28 no one had: the line runs far past 10
        assert_eq!(population.snapshot_prediction(Outcome::Das28Day150, &odd), None);
    }
}
