//! Evaluating the in silico cohort against what happened.
//!
//! A deterministic share of patients is held out (by a hash of their id): they are
//! left out of the population (its rates and the snapshot regression's fit) and of
//! every cohort. Each held-out patient with a methotrexate course is cut at an index
//! date (`days_after_mtx` after its first start, as the twin evaluation cuts) and
//! queried like a clinician would; its *actual* outcomes are computed from its
//! recorded future with the same definitions ([`crate::cohort::outcomes`]). These
//! predictors are scored on the same cases:
//! - the twin's neighbour cohort (the neighbours' rate or mean; the population's
//!   figure when no neighbour has data, counted as a fallback);
//! - the snapshot baseline (regression on the latest visit, fitted on the population);
//! - gradient-boosted trees on the aggregated history ([`crate::cohort::boosting`],
//!   fitted on the population's snapshots);
//! - a recurrent sequence model, a GRU over the event tokens up to the cut
//!   ([`crate::cohort::sequence`], fitted on the population's snapshots, its
//!   vocabulary built from the train part's journeys);
//! - the population figure (one number for everyone: AUROC 0.5 by construction).
//!
//! Metrics: AUROC for methotrexate failure (no EULAR response at 6 months; a switch
//! within 12 months) and flare within 6 months, MAE of DAS28 at days 150/270/360,
//! each with a 95% bootstrap interval over the cases.
//!
//! The split is the frozen one of [`super::split`]: the population (and every fitted
//! baseline) is the train part; the cases are the tuning part while developing, and
//! the test part only for the report (`--score-on test`).

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::cohort::boosting::{BoostedBaseline, ValueForecast};
use crate::cohort::features::snapshot_features;
use crate::cohort::history::history_features;
use crate::cohort::sequence::{RecurrentBaseline, SequenceConfig};
use crate::encode::vocab::{VocabConfig, Vocabulary};
use super::split::Part;
use crate::cohort::query::{end_of_day, nearest_historical, CohortError, QueryOptions};
use crate::cohort::report::CohortReport;
use crate::cohort::pooling::{self, Moment, NeighbourhoodPrior};
use crate::cohort::{ClinicalRecord, Outcome, PatientOutcomes, Population, PseudonymKey};
use journey::event::{Event, PatientId};
use std::path::Path;

use audit_log::ModelRegistry;
use journey::store::JourneyStore;

use super::{EvalError, EvalReport};
use crate::heads::{
    reliability, reliability_svg, Family, HeadRow, ReliabilityBin, TwinHead, RELIABILITY_BINS,
};
use crate::encode::fusion::FusedModality;
use crate::index::build::{historical_times_of, load_journeys, DecisionSnapshots, SnapshotPlan};
use crate::index::{IndexConfig, NeighbourIndex};
use crate::progress::Progress;
use crate::twin::TwinModel;

/// How the evaluation cuts and splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortEvalOptions {
    pub k: usize,
    /// The report's minimum n; the evaluation scores every case with any data and
    /// reports how many reached it.
    pub min_n: usize,
    pub min_follow_up_days: u32,
    /// Cut each scored patient this many days after their first methotrexate start.
    pub days_after_mtx: i64,
    /// The part of the split whose patients are scored: tuning while developing, test
    /// for the report. The population is always the train part.
    pub scored: Part,
    /// At most this many cases (the first by patient id).
    pub max_cases: Option<usize>,
    /// The train part's snapshots every fitted predictor (the snapshot regression,
    /// the boosted trees, the GRU and the twin head) learns from: the 180-day cadence,
    /// plus decision points when set. The neighbour index is whatever `rdt embed`
    /// built.
    #[serde(default)]
    pub fit_on: DecisionSnapshots,
    /// The temporal split of the protocol: fits read the train part's journeys as
    /// they stood at the cut date ([`super::split::temporal_cut`]), and only cases on
    /// or after it are scored.
    #[serde(default)]
    pub temporal: bool,
}

impl Default for CohortEvalOptions {
    fn default() -> Self {
        CohortEvalOptions {
            k: 20,
            min_n: crate::cohort::DEFAULT_MIN_N,
            min_follow_up_days: 180,
            days_after_mtx: 90,
            scored: Part::Tuning,
            max_cases: None,
            fit_on: DecisionSnapshots::None,
            temporal: false,
        }
    }
}

/// [`evaluate_cohort`] with the fitted predictors on the train part's snapshots of
/// `options.fit_on`, without note vectors, as a "cohort eval" stage of `progress`: the JSON and the markdown section.
pub async fn evaluate_with_index(
    model: &TwinModel,
    index: &NeighbourIndex,
    journeys: &[(PatientId, Vec<Event>)],
    options: &CohortEvalOptions,
    progress: &dyn Progress,
) -> Result<EvalReport, CohortError> {
    progress.stage("cohort eval", 0);
    let plan = SnapshotPlan { decisions: options.fit_on, ..SnapshotPlan::default() };
    let times = |events: &[Event]| historical_times_of(events, &plan);
    let result = evaluate_cohort(model, index, journeys, &times, options, &|_| None, |_, n| {
        progress.set_len(n as u64);
        progress.advance(1);
    })
    .await?;
    progress.done();
    // A struct of numbers and strings serialises.
    let json = serde_json::to_value(&result).expect("a cohort evaluation serialises");
    let figures = result
        .head_reliability
        .iter()
        .map(|(outcome, bins, slope)| {
            (format!("reliability-{}.svg", outcome.key()), reliability_svg(&format!("twin head: {}", outcome.label()), bins, *slope))
        })
        .collect();
    Ok(EvalReport { json, markdown: markdown(&result), figures })
}

/// The cohort evaluation of an install (`rdt cohort --evaluate`): its active twin and
/// index, every journey of `store`; the report also names the twin and the seconds.
pub async fn run_cohort_evaluation(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    index: &IndexConfig,
    options: &CohortEvalOptions,
    progress: &dyn Progress,
) -> Result<EvalReport, EvalError> {
    let started = std::time::Instant::now();
    let model = crate::twin::load_active(data_dir, registry).await?;
    let index = NeighbourIndex::open(index).await?;
    let journeys = load_journeys(store, None, |_| {}).await?;
    let mut report = evaluate_with_index(&model, &index, &journeys, options, progress).await?;
    report.json["twin_version"] = serde_json::json!(model.version.to_hex());
    report.json["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
    Ok(report)
}

/// Whether a patient is held out: the first 8 bytes of SHA-256 of its id, mod 100,
/// below the percentage. Deterministic, independent of the cohort's order and size.
pub fn is_held_out(patient: &PatientId, percent: u8) -> bool {
    super::split::bucket(patient) < u64::from(percent)
}

/// The predictors compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predictor {
    TwinCohort,
    TwinHead,
    SnapshotBaseline,
    GradientBoosting,
    Recurrent,
    Population,
}

impl Predictor {
    pub const ALL: [Predictor; 6] = [
        Predictor::TwinCohort,
        Predictor::TwinHead,
        Predictor::SnapshotBaseline,
        Predictor::GradientBoosting,
        Predictor::Recurrent,
        Predictor::Population,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Predictor::TwinCohort => "twin neighbour cohort",
            Predictor::TwinHead => "twin head (trees, ridge and a GRU on the record and the twin, stacked)",
            Predictor::SnapshotBaseline => "snapshot baseline (latest visit regression)",
            Predictor::GradientBoosting => "gradient-boosted trees (aggregated history)",
            Predictor::Recurrent => "recurrent sequence model (GRU)",
            Predictor::Population => "population figure",
        }
    }

    /// A table's column heading.
    pub fn column(self) -> &'static str {
        match self {
            Predictor::TwinCohort => "twin cohort",
            Predictor::TwinHead => "twin head",
            Predictor::SnapshotBaseline => "snapshot baseline",
            Predictor::GradientBoosting => "boosted trees",
            Predictor::Recurrent => "GRU",
            Predictor::Population => "population",
        }
    }
}

/// One predictor's figure on one metric, with its 95% bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub predictor: Predictor,
    pub value: Option<f64>,
    /// 2.5th and 97.5th percentiles over [`BOOTSTRAP_RESAMPLES`] resamples of the cases.
    pub interval: Option<[f64; 2]>,
    /// Yes/no outcomes: the Cox calibration slope of the predicted probabilities
    /// ([`crate::heads::calibration_line`]; 1 is calibrated, below 1 over-confident).
    #[serde(default)]
    pub calibration_slope: Option<f64>,
    /// The slope's 95% bootstrap interval (same resamples as the metric's): whether a
    /// slope outside 0.8-1.2 is beyond what the cases' noise gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_slope_interval: Option<[f64; 2]>,
}

/// Resamples of the cases behind each interval (seeded: the same cases give the same
/// interval).
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// One held-out patient's predictions and actual outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub index_date: NaiveDate,
    pub actual: PatientOutcomes,
    /// Per outcome (in [`Outcome::ALL`] order): neighbours with data.
    pub neighbours_with_data: Vec<usize>,
    /// Per predictor (in [`Predictor::ALL`] order), per outcome.
    pub predicted: Vec<Vec<Option<f64>>>,
    /// The twin head's predictions with one modality left out of the case's twin (in
    /// [`FusedModality::ALL`] order), per outcome: the ablation.
    #[serde(default)]
    pub ablated: Vec<Vec<Option<f64>>>,
    /// Who the patient is, for the subgroup tables.
    #[serde(default)]
    pub groups: CaseGroups,
}

/// A case's subgroups: sex, age band at the cut, serostatus by the cut (as the record
/// shows them; `unknown` / `not measured` when it does not).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseGroups {
    pub sex: String,
    pub age_band: String,
    pub serostatus: String,
}

impl CaseGroups {
    /// The groups of a record at `at`.
    pub fn of(record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>) -> CaseGroups {
        let sex = match record.female {
            Some(f) if f > 0.5 => "female",
            Some(_) => "male",
            None => "unknown",
        };
        let age = record.birth.map(|b| (at.date_naive() - b).num_days() as f64 / 365.25);
        let age_band = match age {
            Some(a) if a < 50.0 => "under 50",
            Some(a) if a < 65.0 => "50 to 64",
            Some(_) => "65 and over",
            None => "unknown",
        };
        let serostatus = match journey::clinical::seropositive(events, at) {
            Some(true) => "seropositive",
            Some(false) => "seronegative",
            None => "not measured",
        };
        CaseGroups { sex: sex.into(), age_band: age_band.into(), serostatus: serostatus.into() }
    }

    /// The group of this case under `grouping` (one of [`SUBGROUPINGS`]).
    fn get(&self, grouping: &str) -> &str {
        match grouping {
            "sex" => &self.sex,
            "age band" => &self.age_band,
            _ => &self.serostatus,
        }
    }
}

/// The subgroupings every head and cohort figure is broken down by.
pub const SUBGROUPINGS: [&str; 3] = ["sex", "age band", "serostatus"];

/// Fewest cases with an outcome for a subgroup figure (fewer: n is shown, no figure).
pub const MIN_SUBGROUP_N: usize = 20;

/// One outcome's metric within one subgroup: the twin head and the twin cohort, each
/// with its bootstrap interval, over the subgroup's cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupRow {
    pub grouping: String,
    pub group: String,
    pub outcome: Outcome,
    pub metric: String,
    pub n: usize,
    pub positives: Option<usize>,
    /// The twin head and the twin neighbour cohort, in that order.
    pub scores: Vec<Score>,
}

/// One metric of one outcome for each predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub outcome: Outcome,
    /// `auroc` (of the failure / event) or `mae`.
    pub metric: String,
    /// Cases with an actual outcome.
    pub n: usize,
    /// Positives among them (AUROC rows).
    pub positives: Option<usize>,
    /// Per predictor, in [`Predictor::ALL`] order.
    pub scores: Vec<Score>,
    /// Cases whose neighbours had at least `min_n` with data.
    pub cohort_at_min_n: usize,
    /// Cases where no neighbour had data (scored with the population figure).
    pub cohort_fallbacks: usize,
    /// The twin head against each other predictor on the same cases: the difference
    /// of the metric (positive: the head is better) with its paired bootstrap
    /// interval. Whether the head beats a baseline is read here, not from two
    /// overlapping marginal intervals.
    #[serde(default)]
    pub head_against: Vec<Difference>,
}

/// The twin head's metric minus another predictor's, signed so that positive means
/// the head is better (AUROC: head minus other; MAE: other minus head).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub against: Predictor,
    pub value: Option<f64>,
    /// 2.5th and 97.5th percentiles of the difference over the same resamples of the
    /// cases for both predictors.
    pub interval: Option<[f64; 2]>,
}

/// The evaluation's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortEvaluation {
    pub options: CohortEvalOptions,
    /// Patients of the scored part.
    pub held_out_patients: usize,
    pub population_patients: usize,
    pub population_snapshots: usize,
    /// The temporal split's cut date, when the evaluation used it.
    #[serde(default)]
    pub temporal_cut: Option<NaiveDate>,
    pub cases: usize,
    pub metrics: Vec<MetricRow>,
    /// Per outcome, the twin head's family and the inner validation slice's loss of
    /// trees and ridge (log loss or MAE) with its n.
    #[serde(default)]
    pub head_families: Vec<(Outcome, Family, [Option<f64>; 4], usize)>,
    /// The prior the twin cohort's rates were pooled with, fitted on the train part's
    /// own neighbourhoods (`None` in reports written before pooling).
    #[serde(default)]
    pub neighbourhood_prior: Option<NeighbourhoodPrior>,
    /// The twin head's reliability on the scored cases, per yes/no outcome: bins of
    /// the predicted probability of the outcome, and the calibration slope.
    #[serde(default)]
    pub head_reliability: Vec<(Outcome, Vec<ReliabilityBin>, Option<f64>)>,
    /// Per modality (in [`FusedModality::ALL`] order), per metric row: the twin head's
    /// metric with that modality left out of the cases' twins, minus the head's own
    /// (positive AUROC / negative MAE differences: the modality adds signal).
    #[serde(default)]
    pub head_ablation: Vec<(String, Vec<Option<f64>>)>,
    /// Every metric row of the twin head and the twin cohort by sex, age band and
    /// serostatus ([`SUBGROUPINGS`]), with intervals: whether the twin works as well
    /// for each group.
    #[serde(default)]
    pub subgroups: Vec<SubgroupRow>,
}

/// Runs the evaluation. `journeys` are every patient's time-ordered events;
/// `snapshot_times` gives a journey's historical snapshot times (the index's plan).
pub async fn evaluate_cohort(
    model: &TwinModel,
    index: &NeighbourIndex,
    journeys: &[(PatientId, Vec<Event>)],
    snapshot_times: &dyn Fn(&[Event]) -> Vec<DateTime<Utc>>,
    options: &CohortEvalOptions,
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
    mut progress: impl FnMut(usize, usize),
) -> Result<CohortEvaluation, CohortError> {
    // Only the train part is ever a neighbour or a training row; under the temporal
    // split, as its journeys stood at the cut.
    let held = |p: &PatientId| Part::of(p) != Part::Train;
    let temporal_cut = if options.temporal {
        Some(
            super::split::temporal_cut(journeys.iter().map(|(_, e)| e.as_slice()), options.days_after_mtx)
                .ok_or_else(|| CohortError::Baseline("no case index date: the temporal split has no cut".into()))?,
        )
    } else {
        None
    };
    let cut_journeys: Vec<(PatientId, Vec<Event>)> = match temporal_cut {
        Some(cut) => journeys
            .iter()
            .filter(|(p, _)| !held(p))
            .map(|(p, e)| (p.clone(), super::split::journey_until(e, cut)))
            .filter(|(_, e)| !e.is_empty())
            .collect(),
        None => vec![],
    };
    let training_journeys: &[(PatientId, Vec<Event>)] = if temporal_cut.is_some() { &cut_journeys } else { journeys };
    let training = training_journeys.iter().filter(|(p, _)| !held(p));
    let population = Population::build(training.clone().map(|(p, e)| (p, e.as_slice())), snapshot_times);
    let population_patients = training.clone().count();
    let boosted = fit_boosted(&population, training.clone().map(|(p, e)| (p, e.as_slice())))?;
    let recurrent = fit_recurrent(&population, training.clone().map(|(p, e)| (p, e.as_slice())))?;
    let head = fit_twin_head(model, &population, training.clone().map(|(p, e)| (p, e.as_slice())), note_vector)?;
    // The pseudonyms are never shown here; any key will do.
    let key = PseudonymKey::from_bytes([0; 32]);
    let query = QueryOptions { k: options.k, min_n: 1, min_follow_up_days: options.min_follow_up_days };
    let prior = fit_neighbourhood_prior(model, index, &population, training, &query, &held, note_vector).await?;

    let mut chosen: Vec<(&PatientId, &[Event], ClinicalRecord, NaiveDate)> = Vec::new();
    let mut held_out_patients = 0;
    for (patient, events) in journeys.iter().filter(|(p, _)| Part::of(p) == options.scored) {
        held_out_patients += 1;
        let record = ClinicalRecord::read(events);
        let mtx = record.courses.iter().filter(|c| c.drug.is_some_and(|d| d.is_methotrexate())).map(|c| c.start).min();
        let Some(start) = mtx else { continue };
        let cut = start.date_naive() + Days::new(options.days_after_mtx.max(0) as u64);
        if temporal_cut.is_some_and(|c| cut < c) {
            continue;
        }
        if record.last_date.is_some_and(|last| last > cut) {
            chosen.push((patient, events.as_slice(), record, cut));
        }
    }
    chosen.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(max) = options.max_cases {
        chosen.truncate(max);
    }

    // One batched pass over every case's tokens at its cut.
    let sequences: Vec<_> = chosen.iter().map(|(_, events, _, cut)| recurrent.tokenize(events, end_of_day(*cut))).collect();
    let sequences: Vec<&[_]> = sequences.iter().map(Vec::as_slice).collect();
    let mut gru_predictions = recurrent.predict_many(&sequences).into_iter();

    let mut cases = Vec::with_capacity(chosen.len());
    for (i, (patient, events, record, cut)) in chosen.iter().enumerate() {
        let until = end_of_day(*cut);
        // The case's inputs once: its twin, and its twin with each modality left out.
        let case_inputs = model.manifest.spec.inputs(events, Some(until), note_vector);
        let vector = model.embed(std::slice::from_ref(&case_inputs), None)?.remove(0);
        let neighbours = nearest_historical(index, vector.clone(), patient, &query, &held).await?;
        let features = snapshot_features(record, until);
        let history = history_features(record, events, until);
        let head_inputs = head.inputs(record, events, until, vector.clone());
        let mut ablated = Vec::with_capacity(FusedModality::COUNT);
        for m in FusedModality::ALL {
            let twin = model.embed(std::slice::from_ref(&case_inputs), Some(m))?.remove(0);
            let inputs = head_inputs.with_twin(twin);
            ablated.push(Outcome::ALL.iter().map(|o| head.predict(*o, &inputs)).collect());
        }
        let mut report = CohortReport::build(*cut, &features, &neighbours, &population, &key, 1);
        report.pool_with(&prior, Moment::of(record, until));
        let mut twin = Vec::new();
        let mut snapshot = Vec::new();
        let mut trees = Vec::new();
        let mut twin_head = Vec::new();
        let mut pop = Vec::new();
        let mut with_data = Vec::new();
        let gru_all = gru_predictions.next().unwrap_or_default();
        let mut gru = Vec::new();
        for row in &report.outcomes {
            let population_value = row.population.value();
            with_data.push(row.neighbours.n());
            // The cohort's figure for this patient: the pooled rate (a DAS28: the mean).
            twin.push(row.pooled.map(|p| p.value).or(row.neighbours.value()).or(population_value));
            snapshot.push(row.snapshot_baseline);
            trees.push(boosted.predict(row.outcome, &history));
            twin_head.push(head.predict(row.outcome, &head_inputs));
            let o = Outcome::ALL.iter().position(|x| *x == row.outcome);
            gru.push(o.and_then(|o| gru_all.get(o).copied().flatten()));
            pop.push(population_value);
        }
        cases.push(Case {
            index_date: *cut,
            actual: record.outcomes_at(*cut),
            neighbours_with_data: with_data,
            predicted: vec![twin, twin_head, snapshot, trees, gru, pop],
            ablated,
            groups: CaseGroups::of(record, events, until),
        });
        progress(i + 1, chosen.len());
    }

    let metrics = metrics_outcomes().into_iter().map(|o| metric_row(o, &cases, options.min_n)).collect();
    Ok(CohortEvaluation {
        options: *options,
        held_out_patients,
        population_patients,
        population_snapshots: population.snapshots().len(),
        temporal_cut,
        cases: cases.len(),
        metrics,
        head_families: Outcome::ALL.into_iter().filter_map(|o| head.family(o).map(|(f, l, n)| (o, f, l, n))).collect(),
        neighbourhood_prior: Some(prior),
        head_reliability: Outcome::ALL.into_iter().filter(|o| o.is_rate()).filter_map(|o| head_reliability(o, &cases)).collect(),
        head_ablation: head_ablation(&metrics_outcomes(), &cases),
        subgroups: subgroup_rows(&cases),
    })
}

/// The prior of the twin cohort's rates, as `rdt embed` fits an install's but over
/// the train part alone: sampled train-part snapshots ([`pooling::sample`]) and
/// decision points ([`pooling::decision_points`]), their twins, and their neighbours
/// among the other train-part patients.
async fn fit_neighbourhood_prior<'a>(
    model: &TwinModel,
    index: &NeighbourIndex,
    population: &Population,
    training: impl Iterator<Item = &'a (PatientId, Vec<Event>)>,
    query: &QueryOptions,
    held: &(dyn Fn(&PatientId) -> bool + Sync),
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<NeighbourhoodPrior, CohortError> {
    let started = std::time::Instant::now();
    let events: std::collections::HashMap<&PatientId, &[Event]> = training.map(|(p, e)| (p, e.as_slice())).collect();
    let snapshots: Vec<(&PatientId, DateTime<Utc>)> =
        population.snapshots().iter().filter(|s| events.contains_key(&s.patient)).map(|s| (&s.patient, s.index_time)).collect();
    let mut patients: Vec<&PatientId> = events.keys().copied().collect();
    patients.sort();
    let records: Vec<(&PatientId, ClinicalRecord)> = patients.iter().map(|p| (*p, ClinicalRecord::read(events[p]))).collect();
    let embed = |points: &[(&PatientId, DateTime<Utc>)]| {
        pooling::embed_points(model, &events, points, note_vector).map_err(|e| CohortError::Baseline(e.to_string()))
    };
    let sampled = embed(&pooling::sample(&snapshots))?;
    let decisions = embed(&pooling::decision_points(records.iter().map(|(p, r)| (*p, r))))?;
    let prior = pooling::fit_from_index(
        model.version,
        index,
        sampled,
        decisions,
        query,
        &|p, t| population.outcomes_of(p, t),
        held,
    )
    .await?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), ?prior, "neighbourhood prior fitted");
    Ok(prior)
}

/// [`SubgroupRow`]s: per grouping, group (in name order) and metric outcome.
fn subgroup_rows(cases: &[Case]) -> Vec<SubgroupRow> {
    let predictors = [Predictor::TwinHead, Predictor::TwinCohort];
    let mut rows = Vec::new();
    for grouping in SUBGROUPINGS {
        let groups: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.groups.get(grouping)).collect();
        for group in groups {
            let members: Vec<&Case> = cases.iter().filter(|c| c.groups.get(grouping) == group).collect();
            for outcome in metrics_outcomes() {
                let o = Outcome::ALL.iter().position(|x| *x == outcome).expect("a known outcome");
                let scored: Vec<&Case> = members.iter().copied().filter(|c| c.actual.get(outcome).is_some()).collect();
                let failure = outcome == Outcome::MtxResponse6m;
                let enough = scored.len() >= MIN_SUBGROUP_N;
                let scores = predictors
                    .iter()
                    .map(|predictor| {
                        let p = Predictor::ALL.iter().position(|x| x == predictor).expect("a predictor");
                        Score {
                            predictor: *predictor,
                            value: enough.then(|| metric(outcome, o, p, &scored)).flatten(),
                            interval: enough.then(|| bootstrap_interval(&scored, |s| metric(outcome, o, p, s))).flatten(),
                            calibration_slope: enough.then(|| calibration_slope(outcome, o, p, &scored)).flatten(),
                            calibration_slope_interval: None,
                        }
                    })
                    .collect();
                rows.push(SubgroupRow {
                    grouping: grouping.to_owned(),
                    group: group.to_owned(),
                    outcome,
                    metric: if outcome.is_rate() { "auroc" } else { "mae" }.to_owned(),
                    n: scored.len(),
                    positives: outcome.is_rate().then(|| {
                        scored.iter().filter_map(|c| c.actual.get(outcome)).filter(|v| (*v > 0.5) != failure).count()
                    }),
                    scores,
                });
            }
        }
    }
    rows
}

/// The gradient-boosted baseline fitted on the population's snapshots, each with the
/// aggregated history of its journey as of its index time.
fn fit_boosted<'a>(
    population: &Population,
    journeys: impl Iterator<Item = (&'a PatientId, &'a [Event])>,
) -> Result<BoostedBaseline, CohortError> {
    let events: std::collections::HashMap<&PatientId, &[Event]> = journeys.collect();
    let rows: Vec<(Vec<f64>, &PatientOutcomes)> = population
        .snapshots()
        .iter()
        .filter_map(|s| {
            let record = population.record(&s.patient)?;
            let journey = events.get(&s.patient)?;
            Some((history_features(record, journey, s.index_time), &s.outcomes))
        })
        .collect();
    // The baseline forecasts a DAS28 as a mean: perpetual's absolute loss made these
    // trees weaker on the tuning part (MAE 0.952 / 0.983 / 0.922 -> 1.016 / 1.034 /
    // 0.994 at days 150 / 270 / 360, docs/benchmarks/predictive.md), and a baseline
    // keeps its stronger form.
    BoostedBaseline::fit(rows.iter().map(|(x, o)| (x.as_slice(), *o)), ValueForecast::Mean)
        .map_err(|e| CohortError::Baseline(e.to_string()))
}

/// The twin head fitted on the population's snapshots: each embedded by the twin as
/// of its index time, beside its aggregated history (not measured here: the
/// evaluation scores it on its own cases).
fn fit_twin_head<'a>(
    model: &TwinModel,
    population: &Population,
    journeys: impl Iterator<Item = (&'a PatientId, &'a [Event])>,
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<TwinHead, CohortError> {
    let events: std::collections::HashMap<&PatientId, &[Event]> = journeys.collect();
    let kept: Vec<(&crate::cohort::population::PopulationSnapshot, &[Event], &ClinicalRecord)> = population
        .snapshots()
        .iter()
        .filter_map(|s| Some((s, *events.get(&s.patient)?, population.record(&s.patient)?)))
        .collect();
    let started = std::time::Instant::now();
    let error = |e: crate::heads::TwinHeadError| CohortError::Baseline(e.to_string());
    let at: Vec<(&[Event], DateTime<Utc>)> = kept.iter().map(|(s, e, _)| (*e, s.index_time)).collect();
    let twins = TwinHead::embed_rows(model, &at, note_vector).map_err(error)?;
    let mut rows: Vec<HeadRow<'_>> = kept
        .iter()
        .zip(twins)
        .map(|((s, events, record), twin)| HeadRow {
            patient: &s.patient,
            events,
            record,
            index_time: s.index_time,
            outcomes: s.outcomes.clone(),
            twin,
        })
        .collect();
    // The inner slice's patients at their decision points too, as `rdt embed` fits it.
    let patients = events.iter().filter_map(|(p, e)| Some((*p, *e, population.record(p)?)));
    rows.extend(crate::heads::inner_decision_rows(model, patients, note_vector).map_err(error)?);
    let head = TwinHead::fit(model.version, &model.manifest.spec.vocab, &rows, &[]).map_err(error)?;
    tracing::info!(rows = rows.len(), seconds = started.elapsed().as_secs_f64(), "twin head fitted");
    Ok(head)
}

/// The recurrent baseline fitted on the population's snapshots, each with its
/// journey's event tokens up to its index time; the vocabulary comes from the same
/// (train part) journeys only.
fn fit_recurrent<'a>(
    population: &Population,
    journeys: impl Iterator<Item = (&'a PatientId, &'a [Event])>,
) -> Result<RecurrentBaseline, CohortError> {
    let events: std::collections::HashMap<&PatientId, &[Event]> = journeys.collect();
    let vocab = Vocabulary::build(VocabConfig::default(), events.values().copied());
    let config = SequenceConfig::default();
    let rows: Vec<(Vec<_>, &PatientOutcomes)> = population
        .snapshots()
        .iter()
        .filter_map(|s| {
            let journey = events.get(&s.patient)?;
            Some((vocab.tokenize(journey, Some(s.index_time), config.max_len), &s.outcomes))
        })
        .collect();
    let started = std::time::Instant::now();
    let fitted = RecurrentBaseline::fit(&vocab, rows.iter().map(|(t, o)| (t.as_slice(), *o)), &config)
        .map_err(|e| CohortError::Baseline(e.to_string()))?;
    tracing::info!(rows = rows.len(), seconds = started.elapsed().as_secs_f64(), "recurrent baseline fitted");
    Ok(fitted)
}

/// A metric over cases: AUROC of the failure/event for yes/no outcomes, MAE for values;
/// `None` when a case lacks a prediction or the metric is undefined.
fn metric(outcome: Outcome, o: usize, p: usize, cases: &[&Case]) -> Option<f64> {
    // For a response the event scored is its failure (no response): 1 - probability.
    let failure = outcome == Outcome::MtxResponse6m;
    let actual: Vec<f64> = cases.iter().filter_map(|c| c.actual.get(outcome)).collect();
    let predicted: Vec<f64> = cases.iter().map(|c| c.predicted[p][o]).collect::<Option<Vec<f64>>>()?;
    if outcome.is_rate() {
        let labels: Vec<bool> = actual.iter().map(|v| (*v > 0.5) != failure).collect();
        let scores: Vec<f64> = predicted.iter().map(|v| if failure { 1.0 - v } else { *v }).collect();
        auroc(&scores, &labels)
    } else {
        (!actual.is_empty())
            .then(|| predicted.iter().zip(&actual).map(|(p, a)| (p - a).abs()).sum::<f64>() / actual.len() as f64)
    }
}

/// The outcomes the evaluation's metric rows score, in order.
fn metrics_outcomes() -> [Outcome; 6] {
    [
        Outcome::MtxResponse6m,
        Outcome::Switch12m,
        Outcome::Flare6m,
        Outcome::Das28Day150,
        Outcome::Das28Day270,
        Outcome::Das28Day360,
    ]
}

/// What each modality adds to the twin head: per modality and metric row, the head's
/// metric minus the metric with the modality left out of the cases' twins (positive:
/// the modality helps; for MAE the sign is turned so that positive still helps).
/// The head is the same fitted model: this is what it relies on, not a retraining.
fn head_ablation(outcomes: &[Outcome], cases: &[Case]) -> Vec<(String, Vec<Option<f64>>)> {
    let p = Predictor::ALL.iter().position(|x| *x == Predictor::TwinHead).expect("the twin head is a predictor");
    FusedModality::ALL
        .iter()
        .enumerate()
        .map(|(m, modality)| {
            let deltas = outcomes
                .iter()
                .map(|outcome| {
                    let o = Outcome::ALL.iter().position(|x| x == outcome)?;
                    let scored: Vec<&Case> = cases.iter().filter(|c| c.actual.get(*outcome).is_some()).collect();
                    let full = metric(*outcome, o, p, &scored)?;
                    // The same cases with the ablated prediction in the head's column.
                    let swapped: Vec<Case> = scored
                        .iter()
                        .map(|c| {
                            let mut c = (*c).clone();
                            c.predicted[p] = c.ablated.get(m).cloned().unwrap_or_default();
                            c
                        })
                        .collect();
                    let swapped: Vec<&Case> = swapped.iter().collect();
                    let without = metric(*outcome, o, p, &swapped)?;
                    Some(if outcome.is_rate() { full - without } else { without - full })
                })
                .collect();
            (modality.as_str().to_owned(), deltas)
        })
        .collect()
}

/// The twin head's reliability bins and calibration slope on `cases` for a yes/no
/// outcome (the probability of the outcome itself); `None` without cases.
fn head_reliability(outcome: Outcome, cases: &[Case]) -> Option<(Outcome, Vec<ReliabilityBin>, Option<f64>)> {
    let o = Outcome::ALL.iter().position(|x| *x == outcome)?;
    let p = Predictor::ALL.iter().position(|x| *x == Predictor::TwinHead)?;
    let (probabilities, labels): (Vec<f64>, Vec<bool>) =
        cases.iter().filter_map(|c| Some((c.predicted[p][o]?, c.actual.get(outcome)? > 0.5))).unzip();
    if probabilities.is_empty() {
        return None;
    }
    let slope = crate::heads::calibration_line(&probabilities, &labels).map(|(_, s)| s);
    Some((outcome, reliability(&probabilities, &labels, RELIABILITY_BINS), slope))
}

/// The calibration slope of a predictor's probabilities of the event scored (the
/// failure, for a response) over `cases`; `None` for values or a missing prediction.
fn calibration_slope(outcome: Outcome, o: usize, p: usize, cases: &[&Case]) -> Option<f64> {
    if !outcome.is_rate() {
        return None;
    }
    let failure = outcome == Outcome::MtxResponse6m;
    let mut probabilities = Vec::with_capacity(cases.len());
    let mut labels = Vec::with_capacity(cases.len());
    for c in cases {
        let actual = c.actual.get(outcome)?;
        let predicted = c.predicted[p][o]?;
        probabilities.push(if failure { 1.0 - predicted } else { predicted });
        labels.push((actual > 0.5) != failure);
    }
    crate::heads::calibration_line(&probabilities, &labels).map(|(_, slope)| slope)
}

/// The 2.5th and 97.5th percentiles of `metric` over bootstrap resamples of `cases`
/// ([`crate::heads::bootstrap_interval`]).
fn bootstrap_interval(cases: &[&Case], metric: impl Fn(&[&Case]) -> Option<f64>) -> Option<[f64; 2]> {
    if cases.len() < 2 {
        return None;
    }
    let (low, high) = crate::heads::bootstrap_interval(cases.len(), BOOTSTRAP_RESAMPLES, 0x5eed_19, |idx| {
        let sample: Vec<&Case> = idx.iter().map(|&i| cases[i]).collect();
        metric(&sample)
    })?;
    Some([low, high])
}

fn metric_row(outcome: Outcome, cases: &[Case], min_n: usize) -> MetricRow {
    let o = Outcome::ALL.iter().position(|x| *x == outcome).expect("a known outcome");
    let scored: Vec<&Case> = cases.iter().filter(|c| c.actual.get(outcome).is_some()).collect();
    let failure = outcome == Outcome::MtxResponse6m;
    let scores = Predictor::ALL
        .iter()
        .enumerate()
        .map(|(p, predictor)| Score {
            predictor: *predictor,
            value: metric(outcome, o, p, &scored),
            interval: bootstrap_interval(&scored, |sample| metric(outcome, o, p, sample)),
            calibration_slope: calibration_slope(outcome, o, p, &scored),
            calibration_slope_interval: outcome
                .is_rate()
                .then(|| bootstrap_interval(&scored, |sample| calibration_slope(outcome, o, p, sample)))
                .flatten(),
        })
        .collect();
    let head = Predictor::ALL.iter().position(|p| *p == Predictor::TwinHead).expect("the head is a predictor");
    let sign = if outcome.is_rate() { 1.0 } else { -1.0 };
    let difference = |other: usize, sample: &[&Case]| -> Option<f64> {
        Some(sign * (metric(outcome, o, head, sample)? - metric(outcome, o, other, sample)?))
    };
    let head_against = Predictor::ALL
        .iter()
        .enumerate()
        .filter(|(p, predictor)| *p != head && **predictor != Predictor::Population)
        .map(|(p, predictor)| Difference {
            against: *predictor,
            value: difference(p, &scored),
            interval: bootstrap_interval(&scored, |sample| difference(p, sample)),
        })
        .collect();
    MetricRow {
        outcome,
        metric: if outcome.is_rate() { "auroc" } else { "mae" }.to_owned(),
        n: scored.len(),
        positives: outcome
            .is_rate()
            .then(|| scored.iter().filter_map(|c| c.actual.get(outcome)).filter(|v| (*v > 0.5) != failure).count()),
        scores,
        cohort_at_min_n: scored.iter().filter(|c| c.neighbours_with_data[o] >= min_n).count(),
        cohort_fallbacks: scored.iter().filter(|c| c.neighbours_with_data[o] == 0).count(),
        head_against,
    }
}

/// Area under the ROC curve: the probability that a random positive scores above a
/// random negative, ties counting one half (Mann-Whitney U with average ranks).
/// `None` without both classes.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j+1 share their average.
        let average = (i + j + 2) as f64 / 2.0;
        rank_sum += (i..=j).filter(|&t| labels[order[t]]).count() as f64 * average;
        i = j + 1;
    }
    let u = rank_sum - (positives * (positives + 1)) as f64 / 2.0;
    Some(u / (positives * negatives) as f64)
}

/// The evaluation as a markdown section.
pub fn markdown(eval: &CohortEvaluation) -> String {
    use std::fmt::Write as _;
    let f = |s: &Score| match (s.value, s.interval) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} ({lo:.3}-{hi:.3})"),
        (Some(v), None) => format!("{v:.3}"),
        _ => "-".to_owned(),
    };
    let mut md = String::new();
    let o = &eval.options;
    let _ = writeln!(
        md,
        "## In silico cohort against actual outcomes\n\n{} patients of the {} part of the frozen split \
         (docs/benchmarks/predictive-protocol.md); {} cases cut {} days after their first methotrexate start. \
         Population (train part): {} patients, {} historical snapshots. k = {}, neighbour snapshots with >= {} \
         days of follow-up. Figures with 95% bootstrap intervals ({} resamples of the cases).\n",
        eval.held_out_patients,
        o.scored.as_str(),
        eval.cases,
        o.days_after_mtx,
        eval.population_patients,
        eval.population_snapshots,
        o.k,
        o.min_follow_up_days,
        BOOTSTRAP_RESAMPLES
    );
    if let Some(cut) = eval.temporal_cut {
        let _ = writeln!(
            md,
            "Temporal split: fits read the train part's journeys as they stood at the end of {cut}; only cases cut on \
             or after {cut} are scored (the twin should be trained with `rdt train --until temporal-cut`).\n"
        );
    }
    let heads: Vec<&str> = Predictor::ALL.iter().map(|p| p.column()).collect();
    let _ = writeln!(
        md,
        "| outcome | metric | n (positives) | {} | cohort n >= {} | no neighbour data |\n|---|---|---|{}---|---|",
        heads.join(" | "),
        o.min_n,
        "---|".repeat(heads.len())
    );
    for r in &eval.metrics {
        let what = match r.outcome {
            Outcome::MtxResponse6m => "MTX failure: no EULAR response at 6 months".to_owned(),
            Outcome::Switch12m => "MTX failure: switch within 12 months".to_owned(),
            other => other.label().to_owned(),
        };
        let n = r.positives.map_or(r.n.to_string(), |p| format!("{} ({p})", r.n));
        let cells: Vec<String> = r.scores.iter().map(f).collect();
        let _ = writeln!(
            md,
            "| {what} | {} | {n} | {} | {} | {} |",
            r.metric.to_uppercase(),
            cells.join(" | "),
            r.cohort_at_min_n,
            r.cohort_fallbacks
        );
    }
    if let Some(first) = eval.metrics.first().filter(|r| !r.head_against.is_empty()) {
        let others: Vec<&str> = first.head_against.iter().map(|d| d.against.column()).collect();
        let _ = writeln!(
            md,
            "\nThe twin head against each predictor on the same cases: the difference of the metric (positive: the \
             head is better; AUROC points, or DAS28 points of MAE) with its paired 95% bootstrap interval. An \
             interval above 0 means the head beats that predictor here.\n\n| outcome | {} |\n|---|{}",
            others.join(" | "),
            "---|".repeat(others.len())
        );
        for r in &eval.metrics {
            let cells: Vec<String> = r
                .head_against
                .iter()
                .map(|d| match (d.value, d.interval) {
                    (Some(v), Some([lo, hi])) => format!("{v:+.3} ({lo:+.3} to {hi:+.3})"),
                    (Some(v), None) => format!("{v:+.3}"),
                    _ => "-".to_owned(),
                })
                .collect();
            let _ = writeln!(md, "| {} | {} |", r.outcome.label(), cells.join(" | "));
        }
    }
    let _ = writeln!(
        md,
        "\nCalibration slope of the predicted probabilities (Cox: 1 is calibrated, below 1 over-confident; 95% \
         bootstrap interval):\n\n\
         | outcome | {} |\n|---|{}",
        heads.join(" | "),
        "---|".repeat(heads.len())
    );
    for r in eval.metrics.iter().filter(|r| r.outcome.is_rate()) {
        let cells: Vec<String> =
            r.scores.iter().map(|s| match (s.calibration_slope, s.calibration_slope_interval) {
                (Some(v), Some([lo, hi])) => format!("{v:.2} ({lo:.2}-{hi:.2})"),
                (Some(v), None) => format!("{v:.2}"),
                (None, _) => "-".to_owned(),
            }).collect();
        let _ = writeln!(md, "| {} | {} |", r.outcome.label(), cells.join(" | "));
    }
    if let Some(prior) = &eval.neighbourhood_prior {
        let _ = writeln!(
            md,
            "\nThe twin cohort's rates are pooled with the usual rate of this twin's neighbourhoods (empirical \
             Bayes; the spread measured on sampled train-part neighbourhoods of k = {}: at the index's snapshots, \
             and at decision points, 60-120 days into a DMARD, which a case at one reads):\n\n\
             | outcome | neighbourhoods of | usual rate | weight (patients) | neighbourhoods | mean n | pooled figure's \
             calibration slope there (points) |\n|---|---|---|---|---|---|---|",
            prior.k
        );
        let rows = prior.outcomes.iter().map(|p| (p, "snapshots")).chain(prior.at_decisions.iter().map(|p| (p, "decision points")));
        for (p, of) in rows {
            let _ = writeln!(
                md,
                "| {} | {of} | {:.1}% | {:.2} | {} | {:.1} | {} ({}){} |",
                p.outcome.label(),
                100.0 * p.rate,
                p.weight,
                p.neighbourhoods,
                p.mean_n,
                p.calibration_slope.map_or("-".to_owned(), |s| format!("{s:.2}")),
                p.calibration_n,
                if p.withheld().is_some() { ", not shown" } else { "" }
            );
        }
    }
    let _ = writeln!(
        md,
        "\nThe twin head per outcome: which model answers, and each one's loss on the head's inner validation \
         slice of the train part (log loss for yes/no, MAE for DAS28; lower is better; the stack's is in-sample):\n\n\
         | outcome | answers | trees | ridge | sequence (GRU) | stack | n |\n|---|---|---|---|---|---|---|"
    );
    let loss = |l: &Option<f64>| l.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for (outcome, family, [trees, ridge, sequence, stack], n) in &eval.head_families {
        let _ = writeln!(
            md,
            "| {} | {family:?} | {} | {} | {} | {} | {n} |",
            outcome.label(),
            loss(trees),
            loss(ridge),
            loss(sequence),
            loss(stack)
        );
    }
    if !eval.head_ablation.is_empty() {
        let rows: Vec<&str> = eval.metrics.iter().map(|r| r.outcome.key()).collect();
        let _ = writeln!(
            md,
            "\nWhat each modality adds to the twin head on these cases: the head's AUROC minus its AUROC with the \
             modality left out of the case's twin (for DAS28, the MAE without it minus the MAE with it); positive \
             means the modality adds signal, 0.000 that this twin does not read it here:\n\n| left out | {} |\n|---|{}",
            rows.join(" | "),
            "---|".repeat(rows.len())
        );
        for (modality, deltas) in &eval.head_ablation {
            let cells: Vec<String> = deltas.iter().map(|d| d.map_or("-".to_owned(), |v| format!("{v:+.3}"))).collect();
            let _ = writeln!(md, "| {modality} | {} |", cells.join(" | "));
        }
    }
    if !eval.subgroups.is_empty() {
        let _ = writeln!(
            md,
            "\nBy subgroup (does the twin work as well for each?): the twin head and the twin cohort on each group's \
             cases, AUROC (for MTX the failure) or DAS28 MAE with 95% bootstrap intervals; fewer than {MIN_SUBGROUP_N} \
             cases with the outcome: n only.\n\n| grouping | group | outcome | n (events) | twin head | twin cohort |\n\
             |---|---|---|---|---|---|"
        );
        for r in &eval.subgroups {
            let n = match r.positives {
                Some(p) => format!("{} ({p})", r.n),
                None => r.n.to_string(),
            };
            let cells: Vec<String> = r.scores.iter().map(f).collect();
            let _ = writeln!(md, "| {} | {} | {} | {n} | {} |", r.grouping, r.group, r.outcome.key(), cells.join(" | "));
        }
    }
    if !eval.head_reliability.is_empty() {
        let _ = writeln!(md, "\nReliability of the twin head on these cases (one SVG per yes/no outcome):\n");
        for (outcome, _, slope) in &eval.head_reliability {
            let slope = slope.map_or("-".to_owned(), |s| format!("{s:.2}"));
            let _ = writeln!(md, "- ![{}]({{stem}}-reliability-{}.svg) calibration slope {slope}", outcome.label(), outcome.key());
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held-out case on 2021-01-01 with 20 neighbours with data per outcome.
    fn case(actual: PatientOutcomes, predicted: Vec<Vec<Option<f64>>>, groups: CaseGroups) -> Case {
        Case {
            index_date: NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
            actual,
            neighbours_with_data: vec![20; Outcome::ALL.len()],
            predicted,
            ablated: vec![],
            groups,
        }
    }

    #[test]
    fn auroc_counts_pairs_and_ties() {
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(auroc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        // Pairs (pos, neg): (0.4 vs 0.1, 0.6) -> 1 + 0; (0.7 vs both) -> 2: 3 of 4.
        assert_eq!(auroc(&[0.1, 0.4, 0.6, 0.7], &[false, true, false, true]), Some(0.75));
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
    }

    /// The head's paired difference is signed "positive: the head is better" for
    /// both kinds of metric, and its interval clears 0 when the head is better on
    /// every resample.
    #[test]
    fn the_heads_paired_difference_is_signed_for_its_metric() {
        let flare = Outcome::ALL.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        let day150 = Outcome::ALL.iter().position(|o| *o == Outcome::Das28Day150).unwrap();
        let head = Predictor::ALL.iter().position(|p| *p == Predictor::TwinHead).unwrap();
        let cases: Vec<Case> = (0..200)
            .map(|i| {
                let yes = i % 3 == 0;
                let das28 = 2.0 + f64::from(i % 5);
                let mut predicted = vec![vec![None; Outcome::ALL.len()]; Predictor::ALL.len()];
                for (p, row) in predicted.iter_mut().enumerate() {
                    // The head reads the truth; the others guess from the case number.
                    let (rate, value) = if p == head {
                        (if yes { 0.8 } else { 0.2 }, das28 + 0.1)
                    } else {
                        (f64::from(i % 7) / 7.0, das28 + 1.0)
                    };
                    row[flare] = Some(rate);
                    row[day150] = Some(value);
                }
                let actual = PatientOutcomes { flare_6m: Some(yes), das28_day_150: Some(das28), ..Default::default() };
                case(actual, predicted, CaseGroups::default())
            })
            .collect();
        for outcome in [Outcome::Flare6m, Outcome::Das28Day150] {
            let row = metric_row(outcome, &cases, 10);
            assert_eq!(row.head_against.len(), Predictor::ALL.len() - 2, "every predictor but itself and the population");
            for d in &row.head_against {
                let [lo, hi] = d.interval.expect("an interval");
                assert!(d.value.unwrap() > 0.0 && lo > 0.0 && lo <= hi, "{outcome:?} against {:?}: {d:?}", d.against);
            }
        }
    }

    /// A head whose figures are what happened (of the cases given 20%, one in five
    /// flared) has a calibration slope near 1 with an interval around it; the
    /// interval says how far the cases' noise moves it.
    #[test]
    fn the_calibration_slope_comes_with_its_interval() {
        let flare = Outcome::ALL.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        let cases: Vec<Case> = (0..600)
            .map(|i| {
                let (rate, yes) = match i % 3 {
                    0 => (0.2, i % 15 == 0),
                    1 => (0.5, i % 2 == 0),
                    _ => (0.8, i % 15 != 2),
                };
                let mut predicted = vec![vec![None; Outcome::ALL.len()]; Predictor::ALL.len()];
                for row in predicted.iter_mut() {
                    row[flare] = Some(rate);
                }
                case(PatientOutcomes { flare_6m: Some(yes), ..Default::default() }, predicted, CaseGroups::default())
            })
            .collect();
        let row = metric_row(Outcome::Flare6m, &cases, 10);
        let head = row.scores.iter().find(|s| s.predictor == Predictor::TwinHead).unwrap();
        let slope = head.calibration_slope.expect("a slope");
        let [lo, hi] = head.calibration_slope_interval.expect("an interval");
        assert!((slope - 1.0).abs() < 0.1, "calibrated figures: slope {slope}");
        assert!(lo < slope && slope < hi && lo > 0.5 && hi < 1.5, "{lo}-{hi} around {slope}");
        let value = metric_row(Outcome::Das28Day150, &cases, 10);
        assert!(value.scores.iter().all(|s| s.calibration_slope_interval.is_none()), "no slope for a value");
    }

    /// Subgroup rows split the cases by each grouping: a head that reads the truth for
    /// women only scores 1.0 among women and about chance among men, each with its n
    /// and positives; a group below the minimum gets its n and no figure.
    #[test]
    fn subgroup_rows_score_each_group_on_its_own_cases() {
        let flare = Outcome::ALL.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        let head = Predictor::ALL.iter().position(|p| *p == Predictor::TwinHead).unwrap();
        let cases: Vec<Case> = (0..130)
            .map(|i| {
                let (yes, female) = (i % 3 == 0, i < 100);
                let mut predicted = vec![vec![None; Outcome::ALL.len()]; Predictor::ALL.len()];
                for (p, row) in predicted.iter_mut().enumerate() {
                    row[flare] = Some(if p == head && female { if yes { 0.9 } else { 0.1 } } else { 0.5 });
                }
                let band = if i < 120 { "under 50" } else { "65 and over" };
                let groups = CaseGroups {
                    sex: if female { "female" } else { "male" }.into(),
                    age_band: band.into(),
                    serostatus: "seropositive".into(),
                };
                case(PatientOutcomes { flare_6m: Some(yes), ..Default::default() }, predicted, groups)
            })
            .collect();
        let rows = subgroup_rows(&cases);
        let row = |grouping: &str, group: &str| {
            rows.iter().find(|r| r.grouping == grouping && r.group == group && r.outcome == Outcome::Flare6m).unwrap()
        };
        let women = row("sex", "female");
        assert_eq!((women.n, women.positives), (100, Some(34)));
        assert_eq!(women.scores[0].predictor, Predictor::TwinHead);
        assert_eq!(women.scores[0].value, Some(1.0));
        assert_eq!(row("sex", "male").scores[0].value, Some(0.5));
        let old = row("age band", "65 and over");
        assert_eq!(old.n, 10);
        assert!(old.scores.iter().all(|s| s.value.is_none() && s.interval.is_none()));
        assert_eq!(row("serostatus", "seropositive").n, 130);
        // Outcomes no case has are listed with n 0 and no figure.
        let empty = rows.iter().find(|r| r.outcome == Outcome::Das28Day150).unwrap();
        assert_eq!((empty.n, empty.scores[0].value), (0, None));
    }

    #[test]
    fn the_split_is_deterministic_and_near_its_share() {
        let ids: Vec<PatientId> = (0..2000).map(|i| PatientId::new(format!("p{i}")).unwrap()).collect();
        let held = ids.iter().filter(|p| is_held_out(p, 20)).count();
        assert!((300..500).contains(&held), "{held} of 2000");
        assert!(ids.iter().all(|p| is_held_out(p, 20) == is_held_out(p, 20)));
        assert!(!ids.iter().any(|p| is_held_out(p, 0)));
    }
}
