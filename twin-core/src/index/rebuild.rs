//! Rebuilding the index from ground state (`rdt embed`): every journey of the store
//! through the active twin, into the neighbour index and a JSON Lines file of twins.
//!
//! The index is derived, so a rebuild starts from scratch: per patient, historical
//! snapshots by the [`SnapshotPlan`] plus the live one, every point carrying the
//! twin's version. The JSON Lines file (`{"patient", "index_time", "events",
//! "twin_version", "vector"}`) holds each patient's live twin; [`twins_at`] writes
//! everyone's twin at one date to the file only (the index holds journeys' own
//! snapshots, not a common date). A rebuild also fits the twin head
//! ([`crate::heads::TwinHead`]) on the historical points it just embedded, and the
//! counterfactual head of treatment options ([`crate::options::OptionHead`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use audit_log::{Digest, ModelRegistry, Principal};
use chrono::NaiveDate;
use journey::event::{Event, PatientId};
use journey::store::{JourneyStore, StoreError};
use serde_json::json;

use super::build::{embed_journeys, load_journeys_with, snapshot_note_texts, SnapshotPlan};
use super::{IndexConfig, IndexError, NeighbourIndex, SnapshotKind};
use crate::cohort::pooling::{self, NeighbourhoodPrior, PoolingError};
use crate::cohort::query::{end_of_day, CohortError, QueryOptions};
use crate::cohort::ClinicalRecord;
use crate::encode::note::{note_vectors, NoteError, NoteVectors};
use crate::heads::{TwinHead, TwinHeadError};
use crate::monitor::drift::DriftReference;
use crate::options::OptionHead;
use crate::progress::Progress;
use crate::twin::features::note_texts;
use crate::twin::{TwinError, TwinModel};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notes(#[from] NoteError),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Head(#[from] TwinHeadError),
    #[error(transparent)]
    Drift(#[from] crate::monitor::drift::DriftError),
    #[error("storing the early alerts: {0}")]
    Alerts(String),
    #[error(transparent)]
    OptionHead(#[from] crate::options::OptionHeadError),
    #[error("fitting the option head: {0}")]
    OptionHeadFit(#[from] crate::cohort::boosting::BoostingError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("measuring the neighbourhoods' spread: {0}")]
    Prior(#[from] CohortError),
    #[error(transparent)]
    PriorFile(#[from] PoolingError),
}

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub patients: usize,
    /// Index points written, and how many of them are live.
    pub points: usize,
    pub live: usize,
    /// The index, as [`NeighbourIndex::describe`] names it.
    pub index: String,
    /// The twin head fitted on the new points, pinned and active (its version and
    /// training rows), or why none was.
    pub head: Result<(Digest, usize), String>,
    /// The counterfactual head of treatment options, pinned and active (its version
    /// and training decisions), or why none was.
    pub option_head: Result<(Digest, usize), String>,
    /// The version of the prior the cohort's rates are pooled with, pinned and active.
    pub prior_version: Digest,
    /// The prior the cohort's rates are pooled with ([`crate::cohort::pooling`]), per
    /// outcome: usual rate, weight, neighbourhoods read and the pooled figure's
    /// calibration there.
    pub prior: Vec<crate::cohort::pooling::OutcomePrior>,
    /// The same, fitted over decision points (read by a question asked at one).
    pub prior_at_decisions: Vec<crate::cohort::pooling::OutcomePrior>,
}

/// Rebuilds the index `config` from every journey of `store` with `model`, and writes
/// the live twins to `twins_file`. `notes`: embed the notes the twin reads (MiniLM,
/// pinned in `registry`, vectors cached under `data_dir`).
#[allow(clippy::too_many_arguments)]
pub async fn rebuild(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    config: &IndexConfig,
    plan: &SnapshotPlan,
    notes: bool,
    twins_file: &Path,
    by: &Principal,
    progress: &dyn Progress,
) -> Result<RebuildReport, RebuildError> {
    // Every change written before this point is in the journeys read next: the feed is
    // acknowledged up to it once the rebuilt index is durable.
    let changes_read = store.latest_change().await?;
    let journeys = load_journeys_with(store, None, progress).await?;
    let notes = if notes {
        let texts = journeys.iter().flat_map(|(_, e)| snapshot_note_texts(e, plan)).collect();
        note_vectors(data_dir, registry, texts, progress).await?.weighted_by(model.manifest.spec.note_weights.clone())
    } else {
        NoteVectors::new()
    };
    progress.stage("embedding", journeys.len() as u64);
    let lookup = |t: &str| notes.vector(t);
    let points = embed_journeys(model, &journeys, plan, &lookup, || progress.advance(1))?;
    progress.done();

    let _writer = super::IndexWriter::acquire(data_dir).await?;
    let mut index = NeighbourIndex::open(config).await?;
    // A rebuild: points of patients no longer in the store, or of an older twin,
    // must not survive it.
    index.clear().await?;
    progress.stage("indexing", points.len() as u64);
    for chunk in points.chunks(4096) {
        index.upsert(chunk).await?;
        progress.advance(chunk.len() as u64);
    }
    index.flush().await?;
    progress.done();
    // What later arrivals are compared with (`rdt eval drift`).
    progress.stage("describing the population for drift checks", 0);
    DriftReference::build(model.version, &journeys, &points, &index)
        .await?
        .save(&DriftReference::install_path(data_dir))?;
    progress.done();
    if let Some(through) = changes_read {
        store.acknowledge_changes_through(through).await?;
    }

    let events: std::collections::HashMap<_, _> = journeys.iter().map(|(id, e)| (id, e.len())).collect();
    let live: Vec<_> = points.iter().filter(|p| p.kind == SnapshotKind::Live).collect();
    let lines = live.iter().map(|p| {
        let events = events.get(&p.patient).copied().unwrap_or(0);
        twin_line(&p.patient, Some(p.index_time), events, model, &p.vector)
    });
    write_lines(twins_file, lines)?;

    // The head reads the same twins: fitted from these points, no second embedding.
    progress.stage("fitting the twin head", 0);
    let fitted = crate::heads::fit_from_points(model, &journeys, &points, &lookup)?;
    let head = match &fitted {
        Some(head) => {
            let version = head.save_and_register(&TwinHead::install_path(data_dir), registry, by).await?;
            Ok((version, head.fitted_rows))
        }
        None => Err(format!(
            "fewer than {} historical snapshots in the train part of the split",
            crate::heads::MIN_HEAD_ROWS
        )),
    };
    progress.done();

    // The cohort's rates are pooled with what this twin's neighbourhoods usually show:
    // measured on the index just written, as a query reads it.
    progress.stage("measuring the neighbourhoods' spread", 0);
    let prior = fit_prior(model, &journeys, &points, &index, &lookup).await?;
    let prior_version = prior.save_and_register(&NeighbourhoodPrior::install_path(data_dir), registry, by).await?;
    progress.done();

    // Every patient's early alerts, from the rebuilt twins, the new head and the
    // install's state model (as each catch-up does for the patients it touches).
    progress.stage("early alerts", journeys.len() as u64);
    let state = super::catch_up::AlertModels::state_of_install(data_dir, registry).await;
    let alerts = super::catch_up::AlertModels { state, head: fitted };
    let live_of: std::collections::HashMap<&PatientId, &[f32]> =
        live.iter().map(|p| (&p.patient, p.vector.as_slice())).collect();
    for (patient, events) in &journeys {
        let live = live_of.get(patient).copied();
        alerts.refresh(store, patient, events, live).await.map_err(|e| RebuildError::Alerts(e.to_string()))?;
        progress.advance(1);
    }
    progress.done();

    // The options' head reads the record, not the twin: fitted on the train part's
    // decisions at the same snapshots.
    progress.stage("fitting the option head", 0);
    let option_head = match OptionHead::fit_install(&journeys, plan)? {
        Some(h) => Ok((h.save_and_register(&OptionHead::install_path(data_dir), registry, by).await?, h.fitted_decisions)),
        None => Err(format!(
            "fewer than {} decisions with an outcome in the train part of the split",
            crate::options::head::MIN_HEAD_DECISIONS
        )),
    };
    progress.done();
    Ok(RebuildReport {
        patients: journeys.len(),
        points: points.len(),
        live: live.len(),
        index: index.describe(),
        head,
        option_head,
        prior_version,
        prior: prior.outcomes,
        prior_at_decisions: prior.at_decisions,
    })
}

/// The neighbourhood prior of an install: sampled historical points of `points`
/// (their twins as indexed) and sampled decision points of `journeys` (embedded here:
/// the index does not hold them), their neighbours in `index` by the cohort's default
/// query, the outcomes read from `journeys`.
async fn fit_prior(
    model: &TwinModel,
    journeys: &[(PatientId, Vec<Event>)],
    points: &[super::IndexPoint],
    index: &NeighbourIndex,
    notes: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<NeighbourhoodPrior, RebuildError> {
    let records: std::collections::HashMap<&PatientId, ClinicalRecord> =
        journeys.iter().map(|(p, e)| (p, ClinicalRecord::read(e))).collect();
    let historical: Vec<&super::IndexPoint> = points.iter().filter(|p| p.kind == SnapshotKind::Historical).collect();
    let sampled = pooling::sample(&historical).into_iter().map(|p| (p.patient.clone(), p.index_time, p.vector.clone())).collect();
    let events: std::collections::HashMap<&PatientId, &[Event]> = journeys.iter().map(|(p, e)| (p, e.as_slice())).collect();
    let points = pooling::decision_points(journeys.iter().filter_map(|(p, _)| Some((p, records.get(p)?))));
    let decisions = pooling::embed_points(model, &events, &points, notes)?;
    let outcomes_of = |p: &PatientId, t: chrono::DateTime<chrono::Utc>| records.get(p).map(|r| r.outcomes_at(t.date_naive()));
    Ok(pooling::fit_from_index(model.version, index, sampled, decisions, &QueryOptions::default(), &outcomes_of, &|_| false)
        .await?)
}

/// Everyone's twin as of the end of `date`, into `twins_file` only; returns how many.
#[allow(clippy::too_many_arguments)]
pub async fn twins_at(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    date: NaiveDate,
    notes: bool,
    twins_file: &Path,
    progress: &dyn Progress,
) -> Result<usize, RebuildError> {
    let journeys = load_journeys_with(store, None, progress).await?;
    let until = end_of_day(date);
    let notes = if notes {
        let texts = journeys.iter().flat_map(|(_, e)| note_texts(e, Some(until))).collect();
        note_vectors(data_dir, registry, texts, progress).await?.weighted_by(model.manifest.spec.note_weights.clone())
    } else {
        NoteVectors::new()
    };
    let inputs: Vec<_> = journeys
        .iter()
        .map(|(_, events)| model.manifest.spec.inputs(events, Some(until), &|t| notes.vector(t)))
        .collect();
    let twins = model.embed(&inputs, None)?;
    let lines = journeys.iter().zip(&twins).zip(&inputs).map(|(((patient, events), twin), input)| {
        let last = events.iter().rev().find(|e| e.time <= until);
        twin_line(patient, last.map(|e: &Event| e.time), input.tokens.len(), model, twin)
    });
    write_lines(twins_file, lines)?;
    Ok(twins.len())
}

/// One line of the twins file.
fn twin_line(
    patient: &PatientId,
    index_time: Option<chrono::DateTime<chrono::Utc>>,
    events: usize,
    model: &TwinModel,
    vector: &[f32],
) -> serde_json::Value {
    json!({
        "patient": patient,
        "index_time": index_time,
        "events": events,
        "twin_version": model.version.to_hex(),
        "vector": vector,
    })
}

/// Writes `lines` as JSON Lines to `path` (its directory created first).
fn write_lines(path: &Path, lines: impl Iterator<Item = serde_json::Value>) -> Result<(), RebuildError> {
    let io = |source| RebuildError::Io { path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for line in lines {
        writeln!(file, "{line}").map_err(io)?;
    }
    file.flush().map_err(io)
}
