//! Every historical snapshot as a decision: which option the patient took after it,
//! what followed that option, and the covariates a comparison balances.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use crate::cohort::features::snapshot_features;
use crate::cohort::population::Population;
use crate::cohort::record::ClinicalRecord;
use journey::clinical::{option_outcomes, option_taken, DrugClass, OptionOutcomes, TreatmentOption};
use journey::event::PatientId;

/// Days after a snapshot within which a started DMARD counts as the option taken at
/// it ("started near its own index"); a snapshot with none and a DMARD running counts
/// as continuing.
pub const START_WITHIN_DAYS: u64 = 90;

/// The covariates the propensity model reads and the balance table shows, in order.
pub const COVARIATE_NAMES: [&str; 10] = [
    "DAS28",
    "DAS28 measured",
    "log CRP",
    "CRP measured",
    "age (years)",
    "female",
    "disease duration (years)",
    "DMARDs tried",
    "on methotrexate",
    "on a biologic or JAK inhibitor",
];

/// A snapshot as a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionUnit {
    pub patient: PatientId,
    pub index_time: DateTime<Utc>,
    pub option: TreatmentOption,
    /// The day the option started (the snapshot's day for continue).
    pub start: NaiveDate,
    pub outcomes: OptionOutcomes,
    /// [`COVARIATE_NAMES`]' values at the snapshot.
    pub covariates: Vec<f64>,
}

impl DecisionUnit {
    /// The decision at `index_time` of a patient's record; `None` when no DMARD runs
    /// and none starts (no decision between options) or the drug started is no option.
    pub fn read(patient: &PatientId, record: &ClinicalRecord, index_time: DateTime<Utc>) -> Option<DecisionUnit> {
        let day = index_time.date_naive();
        let (option, start) = option_taken(&record.courses, day, START_WITHIN_DAYS)?;
        let last = record.last_date?;
        Some(DecisionUnit {
            patient: patient.clone(),
            index_time,
            option,
            start,
            outcomes: option_outcomes(option, start, &record.activity, &record.courses, last),
            covariates: covariates(record, index_time),
        })
    }
}

/// [`COVARIATE_NAMES`]' values of a record at `at`: the measurements as of `at`, the
/// treatment as it was before `at`'s day (a drug started at the visit of that day is
/// the decision itself, not what it was decided on).
pub fn covariates(record: &ClinicalRecord, at: DateTime<Utc>) -> Vec<f64> {
    let day_before = at.date_naive() - chrono::Days::new(1);
    let before = crate::cohort::query::end_of_day(day_before);
    // Columns of `snapshot_features` (cohort::features::FEATURE_NAMES): the measurements.
    let now = snapshot_features(record, at);
    // The treatment running the day before, as `snapshot_features` reads a course.
    let ran = |pick: &dyn Fn(&journey::clinical::Drug) -> bool| {
        let on = record.courses.iter().any(|c| c.ongoing_on(day_before) && c.drug.is_some_and(pick));
        if on { 1.0 } else { 0.0 }
    };
    let advanced = ran(&|d| matches!(d.class, DrugClass::TnfInhibitor | DrugClass::OtherBiologic | DrugClass::JakInhibitor));
    let methotrexate = ran(&|d| d.is_methotrexate());
    vec![now[0], now[1], now[8], now[9], now[12], now[14], now[16], record.dmards_tried(before) as f64, methotrexate, advanced]
}

/// Every historical snapshot of the population as a decision, and the population's
/// outcomes per option (each patient once per option: its first decision for it).
#[derive(Debug, Default)]
pub struct OptionsPopulation {
    units: HashMap<(PatientId, DateTime<Utc>), DecisionUnit>,
    per_option: BTreeMap<TreatmentOption, Vec<OptionOutcomes>>,
}

impl OptionsPopulation {
    /// Reads each population snapshot's decision (the snapshots the neighbour index
    /// holds).
    pub fn build(population: &Population) -> Self {
        let mut units = HashMap::new();
        let mut first: BTreeMap<(TreatmentOption, PatientId), (DateTime<Utc>, OptionOutcomes)> = BTreeMap::new();
        for s in population.snapshots() {
            let Some(record) = population.record(&s.patient) else { continue };
            let Some(unit) = DecisionUnit::read(&s.patient, record, s.index_time) else { continue };
            let entry = first.entry((unit.option, s.patient.clone())).or_insert((s.index_time, unit.outcomes));
            if s.index_time < entry.0 {
                *entry = (s.index_time, unit.outcomes);
            }
            units.insert((s.patient.clone(), s.index_time), unit);
        }
        let mut per_option: BTreeMap<TreatmentOption, Vec<OptionOutcomes>> = BTreeMap::new();
        for ((option, _), (_, outcomes)) in first {
            per_option.entry(option).or_default().push(outcomes);
        }
        OptionsPopulation { units, per_option }
    }

    /// The decision at a neighbour's snapshot.
    pub fn unit(&self, patient: &PatientId, index_time: DateTime<Utc>) -> Option<&DecisionUnit> {
        self.units.get(&(patient.clone(), index_time))
    }

    /// Every decision read.
    pub fn units(&self) -> impl Iterator<Item = &DecisionUnit> {
        self.units.values()
    }

    /// The population's outcomes after an option (each patient once).
    pub fn outcomes_of(&self, option: TreatmentOption) -> &[OptionOutcomes] {
        self.per_option.get(&option).map_or(&[], Vec::as_slice)
    }

    /// How many snapshots were read as decisions.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}
