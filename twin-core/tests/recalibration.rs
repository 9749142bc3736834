//! Recalibrating the twin head as a governance act (issue 22): an install built on a
//! virtual cohort (import, tiny twin, `rebuild`, which fits and activates the head);
//! `propose_recalibration` pins a new head beside it without activating it, so the
//! head clinicians see is unchanged; activating the proposal makes the loader read it;
//! rolling back brings the fitted head back. Through the real registry and files.

use audit_log::{ArtifactKind, AuditLog, ModelRegistry, Principal, Role};
use chrono::NaiveDate;
use journey::fhir::{Importer, NoProgress};
use journey::store::Database;
use journey::JourneyStore;
use synth::Params;
use twin_core::heads::{propose_recalibration, TwinHead};
use twin_core::index::rebuild::rebuild;
use twin_core::index::{IndexConfig, SnapshotPlan};
use twin_core::progress::NoProgress as Quiet;
use twin_core::twin::{load_active, train_and_register, TrainOptions, TrainRequest};

#[tokio::test]
async fn a_proposed_recalibration_changes_nothing_until_governance_activates_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    let export = dir.path().join("export");
    synth::generate(&Params { patients: 400, seed: 71, ..Params::default() }, &export).unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
    let registry = ModelRegistry::new(AuditLog::open_for_data_dir(&url, dir.path()).await.unwrap());
    let gov = Principal::new("gov", Role::Governance);
    let request = TrainRequest { options: TrainOptions::tiny(), max_patients: None, notes: false, by: gov.clone(), until: None };
    train_and_register(&store, dir.path(), &registry, &request, &Quiet).await.unwrap();
    let model = load_active(dir.path(), &registry).await.unwrap();
    let twins = dir.path().join("twins.jsonl");
    let built = rebuild(&store, dir.path(), &registry, &model, &IndexConfig::local(dir.path()), &SnapshotPlan::default(), false, &twins, &gov, &Quiet)
        .await
        .unwrap();
    let (fitted, _) = built.head.expect("400 patients fit a head");
    let path = TwinHead::install_path(dir.path());
    let active = |registry: &ModelRegistry| {
        let registry = registry.clone();
        async move { registry.state().await.unwrap().active(ArtifactKind::TwinHead).map(|a| a.sha256) }
    };

    let since = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();
    let proposal = propose_recalibration(&store, dir.path(), &registry, since, &gov).await.unwrap();
    assert!(proposal.rows > 0 && proposal.from == fitted, "{}", proposal.text());
    let proposed = proposal.version.unwrap_or_else(|| panic!("nothing proposed: {}", proposal.text()));
    assert_ne!(proposed, fitted);
    assert!(TwinHead::version_path(&path, proposed).exists());
    // Pinned, not active: the loader still reads the fitted head.
    assert_eq!(active(&registry).await, Some(fitted));
    let head = TwinHead::load_active(&path, &registry, model.version).await.unwrap();
    assert_eq!(audit_log::Digest::of(&head.file_bytes()), fitted);

    // Governance adopts it: the loader reads the proposal's own file.
    registry.activate(&gov, ArtifactKind::TwinHead, &proposed, "adopt the recalibration").await.unwrap();
    let head = TwinHead::load_active(&path, &registry, model.version).await.unwrap();
    assert_eq!(audit_log::Digest::of(&head.file_bytes()), proposed);
    assert!(String::from_utf8(head.file_bytes()).unwrap().contains("\"recalibration\""));

    // And rolls it back.
    registry.rollback(&gov, ArtifactKind::TwinHead, "back to the fitted head").await.unwrap();
    let head = TwinHead::load_active(&path, &registry, model.version).await.unwrap();
    assert_eq!(audit_log::Digest::of(&head.file_bytes()), fitted);
}
