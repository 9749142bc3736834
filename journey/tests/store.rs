//! The journey store suite, run for real against every backend: SQLite (a temporary
//! file) and PostgreSQL (a fresh database per test on the server named by
//! `RDT_TEST_POSTGRES_URL`; `.ci/run` starts one and sets `RDT_REQUIRE_POSTGRES=1`, so
//! in CI these tests cannot silently skip PostgreSQL).
//!
//! Each check is one `async fn(JourneyStore)`; `on_every_backend` runs it on both.

mod support;

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use support::on_every_backend;
use journey::fhir::{Importer, NoProgress};
use journey::store::{MedicationConcept, PatientRecord};
use journey::{Code, Event, JourneyStore, Modality, PatientId, Phase, Quantity, Source, SourceName};

fn pid(s: &str) -> PatientId {
    PatientId::new(s).unwrap()
}

fn source(s: &str) -> SourceName {
    s.parse().unwrap()
}

fn event(patient: &str, resource: &str, part: &str, day: u32, modality: Modality) -> Event {
    Event {
        patient: pid(patient),
        time: Utc.with_ymd_and_hms(2021, 3, day, 8, 30, 15).unwrap() + chrono::Duration::microseconds(123_456),
        code: Code { system: "urn:oid:1.2.3.4".into(), code: format!("{resource}-{part}"), display: Some("Local".into()) },
        value: Some(Quantity { value: 4.25, unit: Some("mg/L".into()) }),
        text: Some("héllo, \"quoted\"\nsecond line".into()),
        modality,
        phase: Phase::Point,
        source: Source {
            name: Default::default(),
            file: "in.ndjson".into(),
            resource_type: "Observation".into(),
            resource_id: resource.into(),
            part: part.into(),
        },
        concept: None,
    }
}

fn patient(id: &str) -> PatientRecord {
    PatientRecord {
        id: pid(id),
        source: Default::default(),
        name: Some("Ann Smith".into()),
        birth_date: chrono::NaiveDate::from_ymd_opt(1960, 2, 29),
        sex: Some("female".into()),
        deceased_at: None,
        source_file: Some("Patient.ndjson".into()),
    }
}

async fn write(store: &JourneyStore, patients: &[PatientRecord], events: &[Event]) {
    let mut batch = store.begin().await.unwrap();
    let mut file = batch.file().await.unwrap();
    file.upsert_patients(patients).await.unwrap();
    file.replace_events(events).await.unwrap();
    file.commit().await.unwrap();
    batch.commit().await.unwrap();
}

/// Everything written comes back unchanged, events in time order.
async fn round_trip(store: JourneyStore) {
    let events = vec![
        event("p1", "o2", "value", 9, Modality::Lab),
        event("p1", "o1", "value", 2, Modality::DiseaseActivity),
        Event { value: None, text: None, code: Code { display: None, ..event("p1", "o3", "v", 5, Modality::Note).code }, ..event("p1", "o3", "v", 5, Modality::Note) },
    ];
    write(&store, &[patient("p1")], &events).await;
    let journey = store.journey(&pid("p1")).await.unwrap().expect("patient p1 exists");
    assert_eq!(journey.patient, patient("p1"));
    let mut expected = events.clone();
    expected.sort_by_key(|e| e.time);
    assert_eq!(journey.events, expected);
    assert!(store.journey(&pid("nobody")).await.unwrap().is_none());
}

/// Writing a resource again replaces its events: no duplicates, no stale parts.
async fn replace_is_idempotent(store: JourneyStore) {
    let first = vec![event("p1", "bp", "component[0]", 1, Modality::Vital), event("p1", "bp", "component[1]", 1, Modality::Vital)];
    write(&store, &[patient("p1")], &first).await;
    write(&store, &[], &first).await;
    assert_eq!(store.counts().await.unwrap().events, 2);
    // The source corrected the resource: one component left, new value.
    let mut corrected = event("p1", "bp", "component[0]", 1, Modality::Vital);
    corrected.value = Some(Quantity { value: 118.0, unit: Some("mmHg".into()) });
    write(&store, &[], &[corrected.clone()]).await;
    let journey = store.journey(&pid("p1")).await.unwrap().unwrap();
    assert_eq!(journey.events, vec![corrected]);
    // The same resource twice in one batch: the later copy wins.
    let mut later = event("p1", "bp", "component[0]", 1, Modality::Vital);
    later.text = Some("later".into());
    write(&store, &[], &[event("p1", "bp", "component[0]", 1, Modality::Vital), later.clone()]).await;
    assert_eq!(store.journey(&pid("p1")).await.unwrap().unwrap().events, vec![later]);
}

/// No patient is made up from a reference: the store refuses an event of a patient it
/// does not hold (and the unit's rollback leaves nothing). A record that leaves fields
/// empty never erases what an earlier record of the same source said.
async fn no_stub_and_empty_fields_never_erase(store: JourneyStore) {
    {
        let mut batch = store.begin().await.unwrap();
        let mut file = batch.file().await.unwrap();
        assert!(file.replace_events(&[event("p2", "o1", "value", 1, Modality::Lab)]).await.is_err());
    }
    assert!(store.patients().await.unwrap().is_empty());
    write(&store, &[patient("p2")], &[]).await;
    let bare = PatientRecord { name: None, birth_date: None, sex: None, source_file: None, ..patient("p2") };
    write(&store, &[bare], &[event("p2", "o9", "value", 3, Modality::Lab)]).await;
    assert_eq!(store.journey(&pid("p2")).await.unwrap().unwrap().patient, patient("p2"));
}

/// The database keeps a patient with its source: a record of another source with the
/// same id changes nothing, even written past the importer's own check.
async fn another_sources_record_never_overwrites(store: JourneyStore) {
    write(&store, &[patient("p1")], &[]).await;
    let other = PatientRecord { source: source("b"), name: Some("Someone Else".into()), ..patient("p1") };
    write(&store, &[other], &[]).await;
    assert_eq!(store.journey(&pid("p1")).await.unwrap().unwrap().patient, patient("p1"));
    let mut batch = store.begin().await.unwrap();
    let mut file = batch.file().await.unwrap();
    let held = file.patient_sources(&[&pid("p1"), &pid("nobody")]).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[&pid("p1")], SourceName::default());
}

/// Events are replaced per source: the same resource type and id from two sources are
/// two resources, and re-writing one source's leaves the other's alone.
async fn replace_is_per_source(store: JourneyStore) {
    let b = PatientRecord { source: source("b"), ..patient("p2") };
    write(&store, &[patient("p1"), b], &[]).await;
    let a_event = event("p1", "o1", "value", 1, Modality::Lab);
    let mut b_event = event("p2", "o1", "value", 2, Modality::Lab);
    b_event.source.name = source("b");
    write(&store, &[], &[a_event.clone()]).await;
    write(&store, &[], &[b_event.clone()]).await;
    write(&store, &[], &[b_event.clone()]).await;
    assert_eq!(store.journey(&pid("p1")).await.unwrap().unwrap().events, vec![a_event]);
    assert_eq!(store.journey(&pid("p2")).await.unwrap().unwrap().events, vec![b_event]);
    assert_eq!(store.counts().await.unwrap().events, 2);
}

/// A batch dropped without commit leaves nothing.
async fn uncommitted_writes_vanish(store: JourneyStore) {
    {
        let mut batch = store.begin().await.unwrap();
        let mut tx = batch.file().await.unwrap();
        tx.upsert_patients(&[patient("p3")]).await.unwrap();
        tx.replace_events(&[event("p3", "o1", "value", 1, Modality::Lab)]).await.unwrap();
        tx.upsert_medications(&[MedicationConcept {
            source: SourceName::default(),
            resource_id: "m1".into(),
            code: Code { system: "rxnorm".into(), code: "1".into(), display: None },
        }])
        .await
        .unwrap();
    }
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.patients, counts.events), (0, 0));
    assert!(store.medications(&SourceName::default()).await.unwrap().is_empty());
}

/// Inside one batch, a file unit dropped without commit undoes only its own writes:
/// the files before and after it in the batch are kept.
async fn a_failed_file_undoes_only_itself(store: JourneyStore) {
    let mut batch = store.begin().await.unwrap();
    let mut first = batch.file().await.unwrap();
    first.upsert_patients(&[patient("p1"), patient("p2")]).await.unwrap();
    first.replace_events(&[event("p1", "o1", "value", 1, Modality::Lab)]).await.unwrap();
    first.commit().await.unwrap();
    {
        let mut failed = batch.file().await.unwrap();
        failed.upsert_patients(&[patient("p9")]).await.unwrap();
        // It replaces o1 as well: the rollback must bring o1 back, not lose it.
        failed.replace_events(&[event("p9", "o1", "value", 2, Modality::Lab), event("p9", "o2", "value", 2, Modality::Lab)]).await.unwrap();
    }
    let mut last = batch.file().await.unwrap();
    last.replace_events(&[event("p2", "o3", "value", 3, Modality::Lab)]).await.unwrap();
    last.commit().await.unwrap();
    batch.commit().await.unwrap();
    let ids: Vec<String> = store.patients().await.unwrap().into_iter().map(|p| p.patient.id.to_string()).collect();
    assert_eq!(ids, ["p1", "p2"]);
    assert_eq!(store.journey(&pid("p1")).await.unwrap().unwrap().events, vec![event("p1", "o1", "value", 1, Modality::Lab)]);
}

/// The patient list counts events per patient and modality.
async fn patient_list_counts(store: JourneyStore) {
    write(
        &store,
        &[patient("a"), patient("b")],
        &[
            event("a", "o1", "value", 1, Modality::Lab),
            event("a", "o2", "value", 4, Modality::Lab),
            event("a", "n1", "text", 2, Modality::Note),
        ],
    )
    .await;
    let list = store.patients().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p.patient.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(list[0].events, 3);
    assert_eq!(list[0].events_by_modality.get(&Modality::Lab), Some(&2));
    assert_eq!(list[0].events_by_modality.get(&Modality::Note), Some(&1));
    assert_eq!(list[0].first_event.unwrap().date_naive().to_string(), "2021-03-01");
    assert_eq!(list[0].last_event.unwrap().date_naive().to_string(), "2021-03-04");
    assert_eq!(list[1].events, 0);
    assert!(list[1].first_event.is_none());
}

/// The Synthea fixtures import the same way into every backend, twice without
/// duplicates.
async fn fixtures_import(store: JourneyStore) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/synthea-r4");
    let mut importer = Importer::new(store.clone()).await.unwrap();
    let report = importer.import_paths(&[fixtures.clone()], &NoProgress).await.unwrap();
    assert!(!report.has_failures(), "{:?}", report.failed().collect::<Vec<_>>());
    assert_eq!(report.patients, 20);
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.patients, 20);
    assert_eq!(counts.events, report.events);
    let again = importer.import_paths(&[fixtures], &NoProgress).await.unwrap();
    assert_eq!(again.events, report.events);
    assert_eq!(store.counts().await.unwrap(), counts);
}

#[tokio::test]
async fn store_round_trip() {
    on_every_backend(round_trip).await;
}

#[tokio::test]
async fn store_replace_is_idempotent() {
    on_every_backend(replace_is_idempotent).await;
}

#[tokio::test]
async fn store_no_stub_and_empty_fields_never_erase() {
    on_every_backend(no_stub_and_empty_fields_never_erase).await;
}

#[tokio::test]
async fn store_another_sources_record_never_overwrites() {
    on_every_backend(another_sources_record_never_overwrites).await;
}

#[tokio::test]
async fn store_replace_is_per_source() {
    on_every_backend(replace_is_per_source).await;
}

#[tokio::test]
async fn store_uncommitted_writes_vanish() {
    on_every_backend(uncommitted_writes_vanish).await;
}

#[tokio::test]
async fn store_a_failed_file_undoes_only_itself() {
    on_every_backend(a_failed_file_undoes_only_itself).await;
}

#[tokio::test]
async fn store_patient_list_counts() {
    on_every_backend(patient_list_counts).await;
}

#[tokio::test]
async fn store_fixtures_import() {
    on_every_backend(fixtures_import).await;
}

/// An install's ConceptMap applies when journeys are read, on both backends: history
/// written before the map is read through it, a newer version of the map replaces the
/// older, and a map imported through another handle (another process) is seen on the
/// next read.
#[tokio::test]
async fn concept_maps_apply_at_read_on_every_backend() {
    use journey::terminology::{Concept, ConceptMapping, MapEntry};
    on_every_backend(|store| async move {
        let mut e = event("p1", "obs", "value", 2, Modality::Observation);
        e.value = Some(Quantity { value: 0.42, unit: Some("mg/dL".into()) });
        write(&store, &[patient("p1")], &[e]).await;
        let read = store.journey(&pid("p1")).await.unwrap().unwrap();
        assert_eq!((read.events[0].concept(), read.events[0].modality), (None, Modality::Observation));
        let coverage = store.coverage().await.unwrap();
        assert_eq!(coverage.unmapped[0].code, "obs-value");
        assert_eq!(coverage.problems().count(), 3);

        let entry = |concept| MapEntry { system: "urn:oid:1.2.3.4".into(), code: "obs-value".into(), display: None, concept };
        let map = |concept, version: &str| {
            let json = ConceptMapping::to_fhir("urn:test:map", "test", &[entry(concept)]).to_string();
            let mut m = ConceptMapping::parse("map.json", json.as_bytes()).unwrap();
            m.version = Some(version.into());
            m
        };
        // Another handle on the same database imports the map: this one sees it next read.
        let other = JourneyStore::open(store.database()).await.unwrap();
        other.import_concept_map("map.json", &map(Concept::Esr, "1"), "admin").await.unwrap();
        let read = store.journey(&pid("p1")).await.unwrap().unwrap();
        assert_eq!((read.events[0].concept(), read.events[0].modality), (Some(Concept::Esr), Modality::Lab));
        assert_eq!(read.events[0].canonical_value(), None, "mg/dL is no ESR unit: kept, never read");
        assert_eq!(read.events[0].value.as_ref().unwrap().value, 0.42, "the stored value is as written");

        // Version 2 of the same map replaces version 1.
        other.import_concept_map("map-v2.json", &map(Concept::Crp, "2"), "admin").await.unwrap();
        other.close().await;
        let read = store.journey(&pid("p1")).await.unwrap().unwrap();
        assert_eq!(read.events[0].concept(), Some(Concept::Crp));
        assert_eq!(read.events[0].canonical_value(), Some(4.2));
        assert_eq!(read.events[0].code.code, "obs-value", "the code is as written");
        let maps = store.concept_maps().await.unwrap();
        assert_eq!(maps.len(), 1);
        assert_eq!((maps[0].version.as_deref(), maps[0].entries, maps[0].file.as_str()), (Some("2"), 1, "map-v2.json"));
        let coverage = store.coverage().await.unwrap();
        assert!(coverage.unmapped.is_empty());
        let crp = coverage.concepts.iter().find(|c| c.concept == Concept::Crp).unwrap();
        assert_eq!((crp.patients, crp.values), (1, 1));
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.events_by_modality.get(&Modality::Lab), Some(&1), "modality from the concept");
    })
    .await;
}
