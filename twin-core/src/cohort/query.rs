//! One cohort query end to end: the patient's twin at a date (active twin model), its
//! nearest historical snapshots in the neighbour index, and the report over them.

use audit_log::Digest;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::features::snapshot_features;
use super::pooling::NeighbourhoodPrior;
use super::population::Population;
use super::pseudonym::PseudonymKey;
use super::record::ClinicalRecord;
use super::report::{CohortReport, NeighbourRef};
use journey::event::{Event, PatientId};
use crate::index::{IndexError, NeighbourIndex, NeighbourQuery, SnapshotKind};
use crate::heads::TwinHead;
use crate::twin::{TwinError, TwinModel};

/// Why a cohort query failed.
#[derive(Debug, thiserror::Error)]
pub enum CohortError {
    #[error("patient {0} has no events before {1}")]
    NoEvents(PatientId, String),
    #[error(
        "the neighbour index holds twins of model {index}, the active twin is {active}: \
         run `rdt embed` to rebuild the index"
    )]
    StaleIndex { index: String, active: Digest },
    #[error("the neighbour index is empty: run `rdt embed` first")]
    EmptyIndex,
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A baseline the evaluation compares with could not be fitted.
    #[error("fitting a baseline: {0}")]
    Baseline(String),
}

/// What a query asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    pub k: usize,
    pub min_n: usize,
    /// Neighbour snapshots need at least this much record after them.
    pub min_follow_up_days: u32,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { k: 20, min_n: super::report::DEFAULT_MIN_N, min_follow_up_days: 180 }
    }
}

/// The end of a day: a twin "at a date" reads everything recorded that day.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(23, 59, 59).expect("a valid time"))
}

/// The twin of a time-ordered journey at `until` (its last event when `None`).
/// `note_vector` gives a note text's vector when the twin reads notes.
pub fn twin_at(
    model: &TwinModel,
    events: &[Event],
    until: Option<DateTime<Utc>>,
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<Vec<f32>, TwinError> {
    let inputs = model.manifest.spec.inputs(events, until, note_vector);
    Ok(model.embed(std::slice::from_ref(&inputs), None)?.remove(0))
}

/// The `k` nearest historical snapshots of other patients, leaving out every patient
/// `excluded` says (an evaluation's held-out patients): the index is asked for more
/// until `k` pass or it has no more.
pub async fn nearest_historical(
    index: &NeighbourIndex,
    vector: Vec<f32>,
    patient: &PatientId,
    options: &QueryOptions,
    excluded: &(dyn Fn(&PatientId) -> bool + Sync),
) -> Result<Vec<NeighbourRef>, CohortError> {
    let total = index.len().await?;
    let mut fetch = options.k.max(1);
    loop {
        let query = NeighbourQuery::new(vector.clone(), fetch)
            .excluding(patient.clone())
            .kind(SnapshotKind::Historical)
            .min_follow_up_days(options.min_follow_up_days);
        let found = index.search(&query).await?;
        let exhausted = found.len() < fetch || fetch >= total;
        let kept: Vec<NeighbourRef> = found
            .into_iter()
            .filter(|n| !excluded(&n.patient))
            .take(options.k)
            .map(|n| NeighbourRef { patient: n.patient, index_time: n.index_time, distance: n.distance })
            .collect();
        if kept.len() >= options.k || exhausted {
            return Ok(kept);
        }
        fetch = (fetch * 4).min(total.max(1));
    }
}

/// The twin of `patient` at the end of `at` (its last event when `None`) and that
/// index time, after checking the index holds twins of this model.
pub fn index_twin(
    model: &TwinModel,
    index: &NeighbourIndex,
    patient: &PatientId,
    events: &[Event],
    at: Option<NaiveDate>,
    note_vector: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
) -> Result<(DateTime<Utc>, Vec<f32>), CohortError> {
    match index.twin_version() {
        None => return Err(CohortError::EmptyIndex),
        Some(v) if v != model.version => {
            return Err(CohortError::StaleIndex { index: v.to_hex(), active: model.version })
        }
        Some(_) => {}
    }
    let until = at.map(end_of_day);
    let last = match until {
        Some(t) => events.iter().rev().find(|e| e.time <= t),
        None => events.last(),
    };
    let Some(last) = last else {
        let when = at.map_or_else(|| "the end of the record".to_owned(), |d| d.to_string());
        return Err(CohortError::NoEvents(patient.clone(), when));
    };
    let index_time = until.unwrap_or(last.time);
    let vector = twin_at(model, events, Some(index_time), note_vector)?;
    Ok((index_time, vector))
}

/// What a cohort query reads: the active twin and its index, the population (its
/// figures and the snapshot baseline), the pseudonym key, the twin head when one is
/// fitted for this twin, and the prior its neighbours' rates are pooled with when
/// one is.
#[derive(Clone, Copy)]
pub struct CohortSources<'a> {
    pub model: &'a TwinModel,
    pub index: &'a NeighbourIndex,
    pub population: &'a Population,
    pub key: &'a PseudonymKey,
    pub head: Option<&'a TwinHead>,
    pub prior: Option<&'a NeighbourhoodPrior>,
}

/// The cohort report of `patient` (time-ordered `events`) at the end of `at` (its last
/// event when `None`), with the twin head's figures beside the neighbours'.
pub async fn query_cohort(
    sources: CohortSources<'_>,
    patient: &PatientId,
    events: &[Event],
    at: Option<NaiveDate>,
    options: &QueryOptions,
    note_vector: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
    excluded: &(dyn Fn(&PatientId) -> bool + Sync),
) -> Result<CohortReport, CohortError> {
    let CohortSources { model, index, population, key, head, prior } = sources;
    let (index_time, vector) = index_twin(model, index, patient, events, at, note_vector)?;
    let neighbours = nearest_historical(index, vector.clone(), patient, options, excluded).await?;
    let record = ClinicalRecord::read(events);
    let features = snapshot_features(&record, index_time);
    let mut report = CohortReport::build(index_time.date_naive(), &features, &neighbours, population, key, options.min_n);
    if let Some(prior) = prior {
        report.pool_with(prior, super::pooling::Moment::of(&record, index_time));
    }
    if let Some(head) = head {
        let inputs = head.inputs(&record, events, index_time, vector);
        for row in &mut report.outcomes {
            row.twin_head = head.figure(row.outcome, &inputs);
            if row.twin_head.is_none() {
                row.twin_head_withheld = Some(head.withheld(row.outcome).unwrap_or_else(|| {
                    "no held-out calibration patient was given a figure like this one".to_owned()
                }));
            }
        }
    }
    Ok(report)
}
