//! A small install with an in silico cohort, for the assistant's tests of the cohort
//! tools (`compare_treatments`): a fixed-seed virtual cohort in a SQLite store, a tiny
//! twin trained in seconds and registered in the install's audit log, its neighbour
//! index, a state model fitted and registered as `rdt train` does, and the tools'
//! context holding both (as the evaluation's scratch install does, so every tool a
//! question reaches runs here).

use std::sync::Arc;

use audit_log::{AuditLog, ModelRegistry, Principal, Role};
use journey::fhir::{Importer, NoProgress};
use journey::{Database, Event, JourneyStore, Modality, PatientId};
use tools::cohort::CohortHandles;
use tools::ToolContext;
use twin_core::cohort::{PseudonymKey, QueryOptions};
use twin_core::index::build::{embed_journeys, load_journeys};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotPlan};
use twin_core::state::{patient_steps, StateModel, StateModelConfig};
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};

#[allow(dead_code)] // each test binary reads the parts it needs; `dir` keeps the install alive
pub struct CohortInstall {
    pub dir: tempfile::TempDir,
    pub log: AuditLog,
    pub registry: ModelRegistry,
    pub tools: ToolContext,
    /// The patient with the most disease-activity readings.
    pub patient: PatientId,
}

/// `patients` virtual patients (seed `seed`) with a tiny twin, its index and the cohort.
pub async fn cohort_install(patients: usize, seed: u64) -> CohortInstall {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients, seed, ..Default::default() }, &export).unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let journeys: Vec<(PatientId, Vec<Event>)> = load_journeys(&store, None, |_| {}).await.unwrap();
    let refs: Vec<&[Event]> = journeys.iter().map(|(_, e)| e.as_slice()).collect();
    let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {}).unwrap();
    let saved = save(&dir.path().join("models"), trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars)
        .unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log.clone());
    register(&registry, &Principal::new("test", Role::Governance), &saved, "test").await.unwrap();
    let model = TwinModel::load(&saved.dir, &registry).await.unwrap();
    let points = embed_journeys(&model, &journeys, &SnapshotPlan::default(), &|_| None, || {}).unwrap();
    let mut index = NeighbourIndex::open(&IndexConfig::local(dir.path())).await.unwrap();
    index.upsert(&points).await.unwrap();
    index.flush().await.unwrap();
    let config = StateModelConfig::default();
    let steps: Vec<_> = journeys.iter().map(|(id, events)| patient_steps(id.clone(), events, config.step_days)).collect();
    let state_model = StateModel::fit(&steps, config);
    state_model.save(&StateModel::install_path(dir.path())).unwrap();
    state_model.register(&registry, &Principal::new("test", Role::Governance), "test").await.unwrap();
    let options = QueryOptions { k: 20, min_n: 5, min_follow_up_days: 180 };
    let handles = CohortHandles::new(model, index, &journeys, PseudonymKey::from_bytes([9; 32]), options);
    let patient = store
        .patients()
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|p| p.events_by_modality.get(&Modality::DiseaseActivity).copied().unwrap_or(0))
        .unwrap()
        .patient
        .id;
    let tools = ToolContext::new(store)
        .with_cohort(Arc::new(handles))
        .with_install_state_model(dir.path(), &registry)
        .await
        .unwrap();
    assert!(tools.state_model().is_some(), "the install has its state model");
    CohortInstall { dir, log, registry, tools, patient }
}
