//! The change feed (issue 22): every committed write names the patients it changed,
//! in order, until a consumer acknowledges them; a file that fails leaves no row; a
//! change written after a consumer read the feed survives that consumer's
//! acknowledgement. On SQLite and PostgreSQL (`support::on_every_backend`), through the
//! real importer.

mod support;

use std::path::{Path, PathBuf};

use journey::fhir::{Importer, NoProgress};
use journey::store::ChangedPatient;
use journey::{JourneyStore, PatientId};
use serde_json::{json, Value};
use support::on_every_backend;

fn pid(s: &str) -> PatientId {
    PatientId::new(s).unwrap()
}

fn write(dir: &Path, name: &str, resources: &[Value]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, resources.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
    path
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1970-05-01"})
}

fn crp(id: &str, patient: &str, value: f64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": "2021-03-01T09:00:00Z", "valueQuantity": {"value": value, "unit": "mg/L"}})
}

async fn import(store: &JourneyStore, paths: &[PathBuf]) {
    Importer::new(store.clone()).await.unwrap().import_paths(paths, &NoProgress).await.unwrap();
}

fn patients(changed: &[ChangedPatient]) -> Vec<&str> {
    changed.iter().map(|c| c.patient.as_str()).collect()
}

async fn the_feed_follows_committed_writes(store: JourneyStore) {
    let dir = tempfile::tempdir().unwrap();
    assert!(store.changed_patients(10).await.unwrap().is_empty());
    assert_eq!(store.latest_change().await.unwrap(), None);

    // Two patients in one file; a second file that fails half-way (its second line is
    // not JSON) leaves neither its patient nor a feed row behind.
    let good = write(dir.path(), "a.ndjson", &[patient("p1"), patient("p2"), crp("o1", "p1", 3.0), crp("o2", "p2", 4.0)]);
    let bad = dir.path().join("b.ndjson");
    std::fs::write(&bad, format!("{}\n{{not json\n", patient("p3"))).unwrap();
    import(&store, &[good, bad]).await;
    assert!(!store.has_patient(&pid("p3")).await.unwrap());
    let first = store.changed_patients(10).await.unwrap();
    assert_eq!(patients(&first), ["p1", "p2"]);
    assert_eq!(store.changes_waiting().await.unwrap(), 2);
    assert_eq!(patients(&store.changed_patients(1).await.unwrap()), ["p1"], "oldest first, bounded");

    // p2 changes again after the consumer read the feed: acknowledging what it read
    // removes p1 and p2's earlier rows, never the later write.
    import(&store, &[write(dir.path(), "c.ndjson", &[crp("o3", "p2", 9.0)])]).await;
    store.acknowledge_changes(&first).await.unwrap();
    let next = store.changed_patients(10).await.unwrap();
    assert_eq!(patients(&next), ["p2"]);
    assert!(next[0].through > first[1].through);
    store.acknowledge_changes(&next).await.unwrap();
    assert_eq!(store.changes_waiting().await.unwrap(), 0);

    // A corrected resource that now names another patient changes both records.
    import(&store, &[write(dir.path(), "d.ndjson", &[crp("o1", "p2", 3.0)])]).await;
    let moved = store.changed_patients(10).await.unwrap();
    let mut names = patients(&moved);
    names.sort();
    assert_eq!(names, ["p1", "p2"]);

    // A rebuild acknowledges everything up to the change it read after.
    let latest = store.latest_change().await.unwrap().unwrap();
    import(&store, &[write(dir.path(), "e.ndjson", &[crp("o4", "p1", 1.0)])]).await;
    store.acknowledge_changes_through(latest).await.unwrap();
    assert_eq!(patients(&store.changed_patients(10).await.unwrap()), ["p1"]);
}

#[tokio::test]
async fn the_feed_follows_committed_writes_on_every_backend() {
    on_every_backend(the_feed_follows_committed_writes).await;
}
