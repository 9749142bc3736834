//! Drift monitoring (issue 22): an install is built on one virtual cohort (import,
//! tiny twin, `rebuild`, which writes the drift reference); then new patients arrive.
//! Patients generated like the training cohort (another seed) raise no notice (at
//! 300 + 300 patients every PSI stayed below 0.11); patients generated with shifted
//! parameters (rheumatoid arthritis only, all refractory, first seen in the last three
//! years) raise one (DAS28's PSI 1.9), recorded in the audit trail for governance. Both through the real importer, twin and index.

use std::path::Path;

use audit_log::{AuditLog, EntryBody, EntryKind, ModelRegistry, Principal, Role};
use chrono::NaiveDate;
use journey::fhir::{Importer, NoProgress};
use journey::store::Database;
use journey::JourneyStore;
use synth::params::{DiseaseMix, RaMix};
use synth::Params;
use twin_core::index::rebuild::rebuild;
use twin_core::index::{IndexConfig, SnapshotPlan};
use twin_core::monitor::drift::{check_install, DriftReport, MIN_NEW_PATIENTS, PSI_NOTICE};
use twin_core::progress::NoProgress as Quiet;
use twin_core::twin::{load_active, train_and_register, TrainOptions, TrainRequest};

const PATIENTS: usize = 200;

async fn import(store: &JourneyStore, dir: &Path, params: &Params) {
    let export = dir.join(format!("export-{}", params.seed));
    synth::generate(params, &export).unwrap();
    let report = Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    assert!(!report.has_failures());
}

/// An install built on `PATIENTS` patients of seed 61, then `arrivals` imported; the
/// drift check's report and whether it wrote a notice.
async fn after_arrivals(arrivals: Params) -> (DriftReport, Option<audit_log::Seq>, ModelRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    import(&store, dir.path(), &Params { patients: PATIENTS, seed: 61, ..Params::default() }).await;
    let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
    let log = AuditLog::open_for_data_dir(&url, dir.path()).await.unwrap();
    let registry = ModelRegistry::new(log);
    let by = Principal::new("gov", Role::Governance);
    let request = TrainRequest { options: TrainOptions::tiny(), max_patients: None, notes: false, by: by.clone(), until: None };
    train_and_register(&store, dir.path(), &registry, &request, &Quiet).await.unwrap();
    let model = load_active(dir.path(), &registry).await.unwrap();
    let index = IndexConfig::local(dir.path());
    let twins = dir.path().join("twins.jsonl");
    rebuild(&store, dir.path(), &registry, &model, &index, &SnapshotPlan::default(), false, &twins, &by, &Quiet)
        .await
        .unwrap();

    import(&store, dir.path(), &arrivals).await;
    let monitor = Principal::new("rdt-monitor", Role::System);
    let (report, seq) = check_install(&store, dir.path(), &registry, &index, monitor).await.unwrap();
    (report, seq, registry)
}

#[tokio::test]
async fn a_cohort_like_the_training_one_raises_no_notice_and_a_shifted_one_does() {
    let (like, seq, _) = after_arrivals(Params { patients: PATIENTS, seed: 62, ..Params::default() }).await;
    assert_eq!((like.new_patients, like.reference_patients), (PATIENTS, PATIENTS));
    assert_eq!(like.shifts.len(), twin_core::cohort::features::FEATURE_NAMES.len() + 1);
    let worst = like.shifts.iter().map(|s| s.psi).fold(0.0, f64::max);
    assert!(like.notice.is_none() && seq.is_none(), "{}", like.markdown());
    assert!(worst < PSI_NOTICE, "{}", like.markdown());

    let shifted = Params {
        patients: PATIENTS,
        seed: 63,
        first_visit_from: NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        first_visit_to: NaiveDate::from_ymd_opt(2023, 6, 30).unwrap(),
        disease_mix: DiseaseMix { rheumatoid_arthritis: 1.0, lupus: 0.0, systemic_sclerosis: 0.0 },
        ra_mix: RaMix { mtx_responder: 0.0, refractory: 1.0, seronegative_mild: 0.0 },
        ..Params::default()
    };
    let (drifted, seq, registry) = after_arrivals(shifted).await;
    assert!(drifted.new_patients >= MIN_NEW_PATIENTS);
    let notice = drifted.notice.as_deref().unwrap_or_else(|| panic!("no notice: {}", drifted.markdown()));
    assert!(notice.contains("das28 (PSI"), "{notice}");
    let entries = registry.log().entries_of_kinds(&[EntryKind::DriftNotice]).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(Some(entries[0].seq), seq);
    match entries[0].parse().unwrap().body {
        EntryBody::DriftNotice { drift } => {
            assert_eq!(drift.new_patients, PATIENTS as u64);
            assert!(drift.shifted.iter().any(|s| s.starts_with("das28 (PSI")), "{:?}", drift.shifted);
        }
        other => panic!("not a drift notice: {other:?}"),
    }
}
