//! The living twin: the index catches up with the journey store's change feed.
//!
//! Every write to the store (an import, an upload, a FHIR post, `rdt event add`)
//! appends the patients it changed to the store's change feed in the same transaction
//! (`journey::store::changes`). [`catch_up`] reads the feed oldest first, in batches of
//! at most [`CATCH_UP_BATCH`] patients: each batch's journeys are re-read, embedded in
//! one batched forward pass with the active twin (no retraining), their points
//! replaced, the index flushed, and only then the batch acknowledged in the feed. A
//! process killed anywhere in between leaves the feed rows in place, and the next
//! catch-up (the next write, `rdt embed --changed`, `rdt serve`'s start, the next
//! cohort load) redoes the batch: nothing written is lost, and redoing is harmless
//! because a patient's points are a function of their journey.
//!
//! Each re-embedded patient's early alerts are recomputed from the same journey and
//! twin ([`crate::alerts`], with the install's state model and twin head when it has
//! them) and stored with it.
//!
//! The feed waits, and says why ([`CatchUp::Waiting`]), while there is nothing to catch
//! up into: no active twin yet (`rdt train`), or an index that holds no twins or
//! another twin's (`rdt embed` rebuilds it, and acknowledges the whole feed).

use std::path::Path;

use audit_log::ModelRegistry;
use journey::store::{ChangedPatient, JourneyStore, NewAlert};
use serde::Serialize;

use super::build::{embed_journeys, SnapshotPlan};
use super::{IndexConfig, IndexWriter, NeighbourIndex};
use super::SnapshotKind;
use crate::heads::TwinHead;
use crate::state::StateModel;
use crate::twin::{TwinError, TwinModel};

use super::sync::{twin_note_vectors, SyncError};

/// Patients re-embedded per forward pass and per index flush: bounds the journeys and
/// snapshots held in memory at once, and the work a crash can make a restart redo.
pub const CATCH_UP_BATCH: usize = 64;

/// What a catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CaughtUp {
    /// Patients whose points were recomputed.
    pub patients: usize,
    /// Points written for them.
    pub points: usize,
    /// Batches (forward passes and index flushes).
    pub batches: usize,
}

/// Whether the twins caught up with the store, or why the feed waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CatchUp {
    /// Every patient in the feed when the catch-up ran has fresh points.
    UpToDate(CaughtUp),
    /// Nothing to catch up into yet; `patients` stay in the feed until then.
    Waiting { patients: u64, reason: String },
}

impl CatchUp {
    /// One line for a terminal or a log.
    pub fn text(&self) -> String {
        match self {
            CatchUp::UpToDate(c) if c.patients == 0 => "twins up to date (no patient changed)".to_owned(),
            CatchUp::UpToDate(c) => format!(
                "twins updated: {} patient{} re-embedded ({} index points, {} batch{})",
                c.patients,
                if c.patients == 1 { "" } else { "s" },
                c.points,
                c.batches,
                if c.batches == 1 { "" } else { "es" }
            ),
            CatchUp::Waiting { patients, reason } => {
                format!("{patients} changed patient(s) wait for their twins: {reason}")
            }
        }
    }
}

/// What the alert rules read beside the twin: the install's state model and twin head,
/// each when it has one that the registry accepts.
#[derive(Default)]
pub struct AlertModels {
    pub state: Option<StateModel>,
    pub head: Option<TwinHead>,
}

impl AlertModels {
    /// The install's active state model and twin head (for `model`); one that is
    /// missing or refused is left out (its rule raises nothing), with a warning.
    pub async fn of_install(data_dir: &Path, registry: &ModelRegistry, model: &TwinModel) -> AlertModels {
        let state = Self::state_of_install(data_dir, registry).await;
        let head_path = TwinHead::install_path(data_dir);
        let head = match head_path.exists() {
            true => TwinHead::load_active(&head_path, registry, model.version)
                .await
                .map_err(|e| tracing::warn!("alerts: the twin head is not read: {e}"))
                .ok(),
            false => None,
        };
        AlertModels { state, head }
    }

    /// The install's active state model, if it has one the registry accepts (else
    /// `None`, with a warning when one is there but refused).
    pub async fn state_of_install(data_dir: &Path, registry: &ModelRegistry) -> Option<StateModel> {
        let path = StateModel::install_path(data_dir);
        if !path.exists() {
            return None;
        }
        StateModel::load_active(&path, registry)
            .await
            .map(|(m, _)| m)
            .map_err(|e| tracing::warn!("alerts: the state model is not read: {e}"))
            .ok()
    }

    /// Recomputes and stores `patient`'s alerts from their time-ordered `events` and
    /// live twin (as of their last event).
    pub async fn refresh(
        &self,
        store: &JourneyStore,
        patient: &journey::PatientId,
        events: &[journey::event::Event],
        live: Option<&[f32]>,
    ) -> Result<(), SyncError> {
        let alerts = match events.last() {
            Some(last) => {
                let head = self.head.as_ref().zip(live.map(<[f32]>::to_vec));
                crate::alerts::compute(events, last.time, self.state.as_ref(), head)
            }
            None => Vec::new(),
        };
        let rows: Vec<NewAlert> = alerts
            .into_iter()
            .map(|a| NewAlert { kind: a.kind.as_str().to_owned(), raised_on: a.raised_on, message: a.message })
            .collect();
        store.replace_alerts(patient, &rows).await?;
        Ok(())
    }
}

/// Catches `index` up with the store's change feed using `model` (the active twin),
/// batch by batch until the feed is empty, recomputing each patient's alerts with
/// `alerts`; `on_batch` hears the patients done so far. Refuses an index of another
/// twin before anything is written.
pub async fn catch_up(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    index: &mut NeighbourIndex,
    alerts: &AlertModels,
    mut on_batch: impl FnMut(usize),
) -> Result<CaughtUp, SyncError> {
    if let Some(v) = index.twin_version().filter(|v| *v != model.version) {
        return Err(SyncError::VersionMismatch { index: v, active: model.version });
    }
    // The plan every point of the index is computed with (`rdt event add` uses it too).
    let plan = SnapshotPlan::default();
    let mut done = CaughtUp::default();
    loop {
        let batch = store.changed_patients(CATCH_UP_BATCH).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        done.points += refresh(store, data_dir, registry, model, index, alerts, &plan, &batch).await?;
        store.acknowledge_changes(&batch).await?;
        done.patients += batch.len();
        done.batches += 1;
        on_batch(done.patients);
    }
}

/// Recomputes the batch's points from the store and replaces them, durably; returns
/// how many points were written. A patient the store no longer holds loses theirs.
#[allow(clippy::too_many_arguments)]
async fn refresh(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    index: &mut NeighbourIndex,
    alerts: &AlertModels,
    plan: &SnapshotPlan,
    batch: &[ChangedPatient],
) -> Result<usize, SyncError> {
    let mut journeys = Vec::with_capacity(batch.len());
    for changed in batch {
        if let Some(journey) = store.journey(&changed.patient).await? {
            let mut events = journey.events;
            events.sort_by_key(|e| e.time);
            journeys.push((changed.patient.clone(), events));
        }
    }
    let notes = twin_note_vectors(data_dir, registry, model, journeys.iter().map(|(_, e)| e.as_slice()), plan).await?;
    let lookup = |t: &str| notes.vector(t);
    let points = embed_journeys(model, &journeys, plan, &lookup, || {})?;
    // Historical follow-up grows with every event, and a back-dated event changes
    // later snapshots: a patient's points are replaced, not patched.
    for changed in batch {
        index.remove_patient(&changed.patient).await?;
    }
    index.upsert(&points).await?;
    index.flush().await?;
    for (patient, events) in &journeys {
        let live = points.iter().find(|p| &p.patient == patient && p.kind == SnapshotKind::Live);
        alerts.refresh(store, patient, events, live.map(|p| p.vector.as_slice())).await?;
    }
    Ok(points.len())
}

/// [`catch_up`] on an install: the active twin (verified against `registry`) and the
/// index at `config`, holding the install's [`IndexWriter`]; [`CatchUp::Waiting`] when
/// there is no twin or no index of it yet.
pub async fn catch_up_install(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    config: &IndexConfig,
    on_batch: impl FnMut(usize),
) -> Result<CatchUp, SyncError> {
    let waiting = store.changes_waiting().await?;
    if waiting == 0 {
        return Ok(CatchUp::UpToDate(CaughtUp::default()));
    }
    let _writer = IndexWriter::acquire(data_dir).await?;
    let wait = |reason: String| Ok(CatchUp::Waiting { patients: waiting, reason });
    let model = match crate::twin::load_active(data_dir, registry).await {
        Ok(model) => model,
        Err(TwinError::NoActiveTwin) => return wait("no active twin yet (`rdt train`, then `rdt embed`)".into()),
        Err(e) => return Err(e.into()),
    };
    let mut index = NeighbourIndex::open(config).await?;
    match index.twin_version() {
        None => wait(format!("the neighbour index ({}) holds no twins yet (`rdt embed`)", index.describe())),
        Some(v) if v != model.version => wait(format!(
            "the neighbour index ({}) holds another twin's points ({}; the active twin is {}): `rdt embed` rebuilds it",
            index.describe(),
            v.to_hex(),
            model.version.to_hex()
        )),
        Some(_) => {
            let alerts = AlertModels::of_install(data_dir, registry, &model).await;
            Ok(CatchUp::UpToDate(catch_up(store, data_dir, registry, &model, &mut index, &alerts, on_batch).await?))
        }
    }
}
