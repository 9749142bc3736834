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

/// The population and its fitted snapshot baseline.
#[derive(Debug)]
pub struct Population {
    records: HashMap<PatientId, ClinicalRecord>,
    snapshots: Vec<PopulationSnapshot>,
    models: BTreeMap<Outcome, LinearModel>,
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
            let model = if outcome.is_rate() {
                let labels: Vec<bool> = y.iter().map(|v| *v > 0.5).collect();
                LinearModel::fit_logistic(&x, &labels, DEFAULT_L2)
            } else {
                LinearModel::fit_linear(&x, &y, DEFAULT_L2)
            };
            if let Some(m) = model {
                models.insert(outcome, m);
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

    /// The whole population's figure for an outcome (over snapshots with data).
    pub fn figure(&self, outcome: Outcome) -> Estimate {
        let values: Vec<f64> = self.snapshots.iter().filter_map(|s| s.outcomes.get(outcome)).collect();
        estimate(outcome, &values, 1)
    }

    /// The snapshot baseline's prediction from latest-visit features: a probability
    /// for yes/no outcomes, a DAS28 for values. `None` when it could not be fitted.
    pub fn snapshot_prediction(&self, outcome: Outcome, features: &[f64]) -> Option<f64> {
        self.models.get(&outcome).map(|m| m.predict(features))
    }
}

/// A rate or a mean over outcome values (1/0 for yes/no), refusing below `min_n`.
pub fn estimate(outcome: Outcome, values: &[f64], min_n: usize) -> Estimate {
    if outcome.is_rate() {
        let yes: Vec<bool> = values.iter().map(|v| *v > 0.5).collect();
        Estimate::rate(&yes, min_n)
    } else {
        Estimate::mean(values, min_n)
    }
}
