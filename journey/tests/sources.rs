//! Imported ids are tied to their source (hardening issue 18), on every backend:
//! FHIR ids are unique only within the system that assigned them, so two hospitals
//! exporting `Observation/o1` or `Patient/p1` must never overwrite each other, and a
//! resource about a patient no import holds is refused, never given a made-up patient.
//!
//! Each check imports small NDJSON exports written here (fixed ids and values, no
//! clock) through the real `Importer` into a fresh SQLite file and a fresh PostgreSQL
//! database (`support::on_every_backend`).

mod support;

use std::path::{Path, PathBuf};

use journey::fhir::{ImportReport, Importer, NoProgress, Problem};
use journey::{JourneyStore, PatientId, SourceName};
use serde_json::{json, Value};
use support::on_every_backend;

fn source(s: &str) -> SourceName {
    s.parse().unwrap()
}

fn pid(s: &str) -> PatientId {
    PatientId::new(s).unwrap()
}

fn ndjson(resources: &[Value]) -> String {
    resources.iter().map(|r| r.to_string() + "\n").collect()
}

fn write(dir: &Path, name: &str, resources: &[Value]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, ndjson(resources)).unwrap();
    path
}

fn patient(id: &str, family: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1970-05-01",
           "name": [{"family": family}]})
}

fn crp(id: &str, patient: &str, value: f64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": "2021-03-01T09:00:00Z", "valueQuantity": {"value": value, "unit": "mg/L"}})
}

fn encounter(id: &str, patient: &str) -> Value {
    json!({"resourceType": "Encounter", "id": id, "status": "finished",
           "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]}],
           "subject": {"reference": format!("Patient/{patient}")}, "period": {"start": "2021-03-01T08:00:00Z"}})
}

fn condition(id: &str, patient: &str) -> Value {
    json!({"resourceType": "Condition", "id": id,
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "69896004"}]},
           "subject": {"reference": format!("Patient/{patient}")}, "onsetDateTime": "2019-06-01"})
}

fn medication(id: &str, rxnorm: &str) -> Value {
    json!({"resourceType": "Medication", "id": id,
           "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm}]}})
}

fn request(id: &str, patient: &str, medication: &str) -> Value {
    json!({"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
           "subject": {"reference": format!("Patient/{patient}")},
           "medicationReference": {"reference": format!("Medication/{medication}")}, "authoredOn": "2021-03-02"})
}

/// One hospital's export: its patient, and resources whose ids every export reuses.
fn export(dir: &Path, patient_id: &str, family: &str, crp_value: f64, rxnorm: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    write(dir, "Patient.ndjson", &[patient(patient_id, family)]);
    write(dir, "Medication.ndjson", &[medication("m1", rxnorm)]);
    write(
        dir,
        "Observation.ndjson",
        &[crp("o1", patient_id, crp_value), encounter("e1", patient_id), condition("c1", patient_id), request("r1", patient_id, "m1")],
    );
    dir.to_owned()
}

async fn import(store: &JourneyStore, from: &str, paths: &[PathBuf]) -> ImportReport {
    let mut importer = Importer::for_source(store.clone(), source(from)).await.unwrap();
    importer.import_paths(paths, &NoProgress).await.unwrap()
}

/// What a patient's journey holds: (resource type, resource id, part) -> value or code.
async fn journey_of(store: &JourneyStore, id: &str) -> Vec<(String, String, String, String)> {
    let journey = store.journey(&pid(id)).await.unwrap().unwrap_or_else(|| panic!("patient {id} is stored"));
    let mut rows: Vec<_> = journey
        .events
        .iter()
        .map(|e| {
            let what = e.value.as_ref().map_or(e.code.code.clone(), |v| v.value.to_string());
            (e.source.name.to_string(), e.source.resource_type.clone(), e.source.resource_id.clone(), what)
        })
        .collect();
    rows.sort();
    rows
}

fn row(source: &str, resource_type: &str, id: &str, what: &str) -> (String, String, String, String) {
    (source.into(), resource_type.into(), id.into(), what.into())
}

/// The required check of issue 18: two sources with the same resource ids keep both
/// patients intact. Hospital `a` and hospital `b` both export `Observation/o1`,
/// `Encounter/e1`, `Condition/c1`, `Medication/m1` and `MedicationRequest/r1` for their
/// own patient; after both imports each patient has exactly their own events and
/// values (and their own hospital's drug for `m1`), and re-importing `a` replaces
/// `a`'s events without duplicating them or touching `b`'s.
async fn two_sources_with_the_same_resource_ids_keep_both_patients_intact(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    let a = export(&dir.path().join("a"), "pa", "Alder", 12.5, "6851");
    let b = export(&dir.path().join("b"), "pb", "Birch", 48.0, "327361");
    let expected_a = vec![
        row("a", "Condition", "c1", "69896004"),
        row("a", "Encounter", "e1", "185349003"),
        row("a", "MedicationRequest", "r1", "6851"),
        row("a", "Observation", "o1", "12.5"),
        row("a", "Patient", "pa", "MEDS_BIRTH"),
        row("a", "Patient", "pa", "female"),
    ];
    let expected_b = vec![
        row("b", "Condition", "c1", "69896004"),
        row("b", "Encounter", "e1", "185349003"),
        row("b", "MedicationRequest", "r1", "327361"),
        row("b", "Observation", "o1", "48"),
        row("b", "Patient", "pb", "MEDS_BIRTH"),
        row("b", "Patient", "pb", "female"),
    ];

    let first = import(&store, "a", &[a.clone()]).await;
    assert!(!first.has_failures(), "{}", first.failures());
    let second = import(&store, "b", &[b]).await;
    assert!(!second.has_failures(), "{}", second.failures());
    assert_eq!(second.source, source("b"));
    assert_eq!(journey_of(&store, "pa").await, expected_a, "patient of source a after b's import");
    assert_eq!(journey_of(&store, "pb").await, expected_b, "patient of source b");

    let again = import(&store, "a", &[a]).await;
    assert!(!again.has_failures(), "{}", again.failures());
    assert_eq!(again.events, first.events);
    assert_eq!(journey_of(&store, "pa").await, expected_a, "re-import from the same source: no duplicates");
    assert_eq!(journey_of(&store, "pb").await, expected_b);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.patients, counts.events), (2, 12));
    let names: Vec<(String, String)> = store
        .patients()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.patient.id.to_string(), p.patient.source.to_string()))
        .collect();
    assert_eq!(names, [("pa".into(), "a".into()), ("pb".into(), "b".into())]);
}

/// A second source's Patient with an id the first source holds is refused as a
/// conflict naming both sources, the file and the line; the resources of that import
/// about it are quarantined (refused, not written); the first patient is unchanged;
/// the rest of the file imports.
async fn a_patient_id_held_by_another_source_is_refused(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    let a = export(&dir.path().join("a"), "p1", "Alder", 12.5, "6851");
    import(&store, "a", &[a]).await;
    let before = store.journey(&pid("p1")).await.unwrap().unwrap();

    let b = dir.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let people = write(&b, "Patient.ndjson", &[patient("p2", "Cedar"), patient("p1", "Impostor")]);
    let obs = write(&b, "Observation.ndjson", &[crp("o7", "p1", 99.0), crp("o8", "p2", 3.0)]);
    let report = import(&store, "b", &[b.clone()]).await;

    assert!(report.has_failures(), "a refusal is a failure of the run");
    assert!(report.files.iter().all(|f| f.succeeded()), "the files themselves import");
    assert_eq!(report.refused.total, 2);
    let [conflict, quarantined] = &report.refused.listed[..] else { panic!("{:?}", report.refused) };
    assert_eq!(
        conflict.to_string(),
        format!("{}:2: Patient/p1: Patient/p1 is held by source `a`; source `b` may not overwrite it", people.display())
    );
    assert_eq!(
        conflict.problem,
        Problem::PatientHeldByAnotherSource { patient: "p1".into(), held_by: "a".into(), importing: "b".into() }
    );
    assert_eq!(
        quarantined.to_string(),
        format!("{}:1: Observation/o7: references Patient/p1, which source `a` holds, not source `b`", obs.display())
    );

    let after = store.journey(&pid("p1")).await.unwrap().unwrap();
    assert_eq!(after, before, "the first source's patient is unchanged");
    assert_eq!(after.patient.name.as_deref(), Some("Alder"));
    assert_eq!(journey_of(&store, "p2").await.iter().filter(|r| r.1 == "Observation").count(), 1);
    assert_eq!((report.patients, report.events), (1, 3), "p2: birth, gender, o8");
}

/// A resource about a patient that neither the store nor the import holds is refused
/// and reported; no stub patient appears; the file's other resources import.
async fn a_reference_to_no_known_patient_is_refused(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "export.ndjson", &[patient("p1", "Alder"), crp("o1", "p1", 1.0), crp("o7", "zz", 2.0)]);
    let report = import(&store, "default", &[file.clone()]).await;
    assert_eq!(report.refused.total, 1);
    assert_eq!(
        report.refused.listed[0].to_string(),
        format!("{}:3: Observation/o7: references Patient/zz, which no import of source `default` holds", file.display())
    );
    assert!(report.failures().contains("1 resource(s) refused and not written"), "{}", report.failures());
    let ids: Vec<String> = store.patients().await.unwrap().into_iter().map(|p| p.patient.id.to_string()).collect();
    assert_eq!(ids, ["p1"], "no stub for zz");
    assert_eq!(store.counts().await.unwrap().events, 3);
    assert!(store.journey(&pid("zz")).await.unwrap().is_none());
}

/// Order within one run does not matter: Observations in a file read before the
/// Patient file (names that do not say the type), and a Bundle listing its Patient
/// last, all land on their patients; they wait for the end of the run, not a stub.
async fn patients_later_in_the_run_are_found(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    // `Observation...` sorts before `people...`: the observations are read first.
    let obs = write(dir.path(), "Observation.ndjson", &[crp("o1", "p1", 1.0), crp("o2", "p2", 2.0)]);
    let people = write(dir.path(), "people.ndjson", &[patient("p1", "Alder")]);
    let bundle = dir.path().join("bundle.json");
    let entries = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:o3", "resource": crp("o3", "p2", 3.0)},
        {"fullUrl": "urn:uuid:p2", "resource": patient("p2", "Birch")}]});
    std::fs::write(&bundle, entries.to_string()).unwrap();
    let report = import(&store, "default", &[obs.clone(), people, bundle]).await;
    assert!(!report.has_failures(), "{}", report.failures());
    assert_eq!(report.events, 7, "o1, o2, o3 and two demographic events per patient");
    assert_eq!(report.files[0].events, 2, "the waiting events count for their file");
    let observations = |rows: Vec<(String, String, String, String)>| {
        rows.into_iter().filter(|r| r.1 == "Observation").map(|r| r.2).collect::<Vec<_>>()
    };
    assert_eq!(observations(journey_of(&store, "p1").await), ["o1"]);
    assert_eq!(observations(journey_of(&store, "p2").await), ["o2", "o3"]);
}

/// An id outside FHIR's `[A-Za-z0-9\-\.]{1,64}` fails its file naming file, line,
/// resource and field; nothing of the file is stored.
async fn invalid_ids_are_refused_naming_where(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    let bad_id = write(dir.path(), "a.ndjson", &[patient("p1", "Alder"), patient("p 2\"><script>", "X")]);
    let bad_reference = write(dir.path(), "b.ndjson", &[patient("p3", "Birch"), crp("o1", "p_3", 1.0)]);
    let report = import(&store, "default", &[bad_id.clone(), bad_reference.clone()]).await;
    let errors: Vec<String> = report.failed().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("{}:2: Patient/p 2\"><script>: field `id`: `p 2\"><script>` is not a FHIR id", bad_id.display())),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with(&format!("{}:2: Observation/o1: field `subject`: reference `Patient/p_3`", bad_reference.display()))
            && errors[1].contains("`p_3` is not a FHIR id"),
        "{}",
        errors[1]
    );
    assert!(store.patients().await.unwrap().is_empty(), "failed files leave nothing");
}

#[tokio::test]
async fn two_sources_with_the_same_resource_ids_keep_both_patients_intact_on_every_backend() {
    on_every_backend(two_sources_with_the_same_resource_ids_keep_both_patients_intact).await;
}

#[tokio::test]
async fn a_patient_id_held_by_another_source_is_refused_on_every_backend() {
    on_every_backend(a_patient_id_held_by_another_source_is_refused).await;
}

#[tokio::test]
async fn a_reference_to_no_known_patient_is_refused_on_every_backend() {
    on_every_backend(a_reference_to_no_known_patient_is_refused).await;
}

#[tokio::test]
async fn patients_later_in_the_run_are_found_on_every_backend() {
    on_every_backend(patients_later_in_the_run_are_found).await;
}

#[tokio::test]
async fn invalid_ids_are_refused_naming_where_on_every_backend() {
    on_every_backend(invalid_ids_are_refused_naming_where).await;
}

/// Rows written by a version before sources (migrations 0001 and 0002 only): a
/// patient, an Observation's and an Encounter's events, a Medication. (Both backends
/// read the times: PostgreSQL parses the text into `TIMESTAMPTZ`.)
const BEFORE_SOURCES: &[&str] = &[
    "INSERT INTO patients (id, name, birth_date, sex, source_file) VALUES ('p1', 'Alder', '1970-05-01', 'female', 'Patient.ndjson')",
    "INSERT INTO events (patient_id, time, code_system, code, modality, phase, source_file, resource_type, resource_id, part, value) \
     VALUES ('p1', '2021-03-01T09:00:00.000000Z', 'http://loinc.org', '1988-5', 'lab', 'point', 'Observation.ndjson', 'Observation', 'o1', 'value', 12.5)",
    "INSERT INTO events (patient_id, time, code_system, code, modality, phase, source_file, resource_type, resource_id, part) \
     VALUES ('p1', '2021-02-01T00:00:00.000000Z', 'urn:oid:1.2.3', 'x', 'encounter', 'point', 'Observation.ndjson', 'Encounter', 'e1', 'start')",
    "INSERT INTO medications (resource_id, code_system, code) VALUES ('m1', 'http://www.nlm.nih.gov/research/umls/rxnorm', '6851')",
];

/// An install made before sources migrates without losing a row: its patients,
/// events and Medications belong to the source `default`, a re-import from it still
/// replaces (no duplicates), and another source can now reuse the ids.
async fn an_install_from_before_sources_migrates(database: journey::Database, url: &str) {
    let earlier = tempfile::tempdir().unwrap();
    let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    for name in ["0001_journey.sql", "0002_concept_maps.sql"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend).join(name);
        std::fs::copy(from, earlier.path().join(name)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(earlier.path()).await.unwrap();
    match backend {
        "sqlite" => {
            let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for sql in BEFORE_SOURCES {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        _ => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for sql in BEFORE_SOURCES {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }

    let store = JourneyStore::open(&database).await.unwrap();
    let journey = store.journey(&pid("p1")).await.unwrap().unwrap();
    assert_eq!(journey.patient.source, SourceName::default());
    assert_eq!(journey.patient.name.as_deref(), Some("Alder"));
    assert_eq!(journey.events.len(), 2);
    assert!(journey.events.iter().all(|e| e.source.name == SourceName::default()));
    assert_eq!(store.medications(&SourceName::default()).await.unwrap()["m1"].code, "6851");

    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "Observation.ndjson", &[crp("o1", "p1", 20.0), request("r1", "p1", "m1")]);
    let report = import(&store, "default", &[file]).await;
    assert!(!report.has_failures(), "{}", report.failures());
    let journey = store.journey(&pid("p1")).await.unwrap().unwrap();
    let values: Vec<f64> = journey.events.iter().filter_map(|e| e.value.as_ref().map(|v| v.value)).collect();
    assert_eq!(values, [20.0], "the stored o1 was replaced, not duplicated");
    assert_eq!(journey.events.len(), 3, "e1, o1, r1");
    assert_eq!(journey.events.last().unwrap().code.code, "6851", "the stored Medication resolves");

    let other = export(&dir.path().join("b"), "q1", "Birch", 1.0, "327361");
    let report = import(&store, "b", &[other]).await;
    assert!(!report.has_failures(), "{}", report.failures());
    assert_eq!(store.journey(&pid("p1")).await.unwrap().unwrap().events.len(), 3, "b's o1, e1 and m1 are b's");
    store.close().await;
}

#[tokio::test]
async fn an_install_from_before_sources_migrates_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journey.sqlite");
    an_install_from_before_sources_migrates(journey::Database::Sqlite(path.clone()), &format!("sqlite://{}", path.display()))
        .await;
    if let Some(admin) = support::postgres_admin_url() {
        let (url, name) = support::create_postgres_database(&admin).await;
        an_install_from_before_sources_migrates(journey::Database::Postgres(url.clone()), &url).await;
        support::drop_postgres_database(&admin, &name).await;
    }
}
