//! End to end: `rdt import --source NAME` ties imported ids to their source
//! (hardening issue 18). Two hospitals exporting the same resource ids keep both their
//! patients intact, another source's Patient is refused, a resource about no known
//! patient is refused and reported with exit code 1, and no stub patient appears.
//! Small NDJSON exports written by the tests; SQLite, and PostgreSQL when
//! `RDT_TEST_POSTGRES_URL` is set (required in CI).

mod common;

use std::path::{Path, PathBuf};

use common::Rdt;
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, resources: &[Value]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, resources.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
    path
}

fn patient(id: &str, family: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "male", "birthDate": "1961-04-12", "name": [{"family": family}]})
}

fn crp(id: &str, patient: &str, value: f64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": "2022-01-10T08:00:00Z", "valueQuantity": {"value": value, "unit": "mg/L"}})
}

fn encounter(id: &str, patient: &str) -> Value {
    json!({"resourceType": "Encounter", "id": id, "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "subject": {"reference": format!("Patient/{patient}")}, "period": {"start": "2022-01-10T07:30:00Z"}})
}

/// One hospital's export, with the resource ids every hospital's export uses.
fn export(dir: &Path, patient_id: &str, family: &str, value: f64) -> String {
    write(dir, "Patient.ndjson", &[patient(patient_id, family)]);
    write(dir, "Observation.ndjson", &[crp("o1", patient_id, value), encounter("e1", patient_id)]);
    dir.to_str().unwrap().to_owned()
}

/// `(resource_type/resource_id, value)` of a patient's events, sorted, and the source
/// every event carries.
fn journey(rdt: &Rdt, id: &str) -> (Vec<(String, Option<f64>)>, Vec<String>) {
    let (j, code) = rdt.run_json(&["journey", id, "--json"]);
    assert_eq!(code, 0, "{j}");
    let events = j["events"].as_array().unwrap();
    let mut rows: Vec<(String, Option<f64>)> = events
        .iter()
        .map(|e| {
            let what = format!("{}/{}", e["source"]["resource_type"].as_str().unwrap(), e["source"]["resource_id"].as_str().unwrap());
            (what, e["value"]["value"].as_f64())
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut sources: Vec<String> = events.iter().map(|e| e["source"]["name"].as_str().unwrap().to_owned()).collect();
    sources.dedup();
    (rows, sources)
}

fn patient_ids(rdt: &Rdt) -> Vec<(String, String)> {
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    patients
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p["source"].as_str().unwrap().to_owned()))
        .collect()
}

/// The whole story on one install: two sources with the same resource ids keep both
/// patients intact (counts and values per patient), re-importing the same files from
/// the same source adds nothing, the same Patient id from a second source is refused
/// and the first patient is unchanged, and a reference to an unknown patient is
/// refused and reported with exit code 1 and no stub patient.
fn two_sources_keep_both_patients_intact(rdt: &Rdt) {
    let dir = tempfile::tempdir().unwrap();
    let a = export(&dir.path().join("a"), "pa", "Alder", 12.5);
    let b = export(&dir.path().join("b"), "pb", "Birch", 48.0);
    let (out, code) = rdt.run_json(&["import", "--source", "hospital-a", &a, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["source"], "hospital-a");
    let (out, code) = rdt.run_json(&["import", "--source", "hospital-b", &b, "--json"]);
    assert_eq!(code, 0, "{out}");

    let expect_a = vec![
        ("Encounter/e1".to_owned(), None),
        ("Observation/o1".to_owned(), Some(12.5)),
        ("Patient/pa".to_owned(), None),
        ("Patient/pa".to_owned(), None),
    ];
    let expect_b = vec![
        ("Encounter/e1".to_owned(), None),
        ("Observation/o1".to_owned(), Some(48.0)),
        ("Patient/pb".to_owned(), None),
        ("Patient/pb".to_owned(), None),
    ];
    assert_eq!(journey(rdt, "pa"), (expect_a.clone(), vec!["hospital-a".to_owned()]));
    assert_eq!(journey(rdt, "pb"), (expect_b.clone(), vec!["hospital-b".to_owned()]));

    // The same files again from the same sources: replaced, not duplicated.
    for (source, path) in [("hospital-a", &a), ("hospital-b", &b)] {
        let (out, code) = rdt.run_json(&["import", "--source", source, path, "--json"]);
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(journey(rdt, "pa").0, expect_a);
    assert_eq!(journey(rdt, "pb").0, expect_b);

    // Hospital b sends a Patient with a's id, and an Observation about it.
    let clash = dir.path().join("clash");
    let people = write(&clash, "Patient.ndjson", &[patient("pa", "Impostor")]);
    write(&clash, "Observation.ndjson", &[crp("o9", "pa", 99.0)]);
    let out = rdt.run(&["import", "--source", "hospital-b", clash.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a refusal makes the run exit 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 resource(s) refused and not written"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:1: Patient/pa: Patient/pa is held by source `hospital-a`; source `hospital-b` may not overwrite it",
            people.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Observation/o9: references Patient/pa, which source `hospital-a` holds"), "{stderr}");
    assert_eq!(journey(rdt, "pa").0, expect_a, "the first source's patient is unchanged");
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    assert_eq!(patients[0]["name"], "Alder");

    // A reference to a patient no import holds: refused, reported, no stub.
    let orphan = write(&dir.path().join("orphan"), "Observation.ndjson", &[crp("o7", "zz", 1.0)]);
    let (out, code) = rdt.run_json(&["import", "--source", "hospital-b", orphan.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["refused"]["total"], 1);
    assert_eq!(out["refused"]["listed"][0]["resource_id"], "o7");
    assert_eq!(out["refused"]["listed"][0]["problem"]["kind"], "unknown_patient");
    assert_eq!(out["refused"]["listed"][0]["problem"]["detail"]["patient"], "zz");
    assert_eq!(
        patient_ids(rdt),
        [("pa".to_owned(), "hospital-a".to_owned()), ("pb".to_owned(), "hospital-b".to_owned())],
        "no stub for zz"
    );

    // The audit trail names the source and the refusal of the last run.
    let (audit, code) = rdt.run_json(&["audit", "show", "5", "--json"]);
    assert_eq!(code, 0, "{audit}");
    assert_eq!(audit["entry"]["import"]["source"], "hospital-b");
    assert_eq!(audit["entry"]["import"]["refused"], 1);
}

#[test]
fn two_sources_with_the_same_resource_ids_keep_both_patients_intact() {
    two_sources_keep_both_patients_intact(&Rdt::new());
}

#[test]
fn two_sources_with_the_same_resource_ids_keep_both_patients_intact_on_postgres() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (url, name) = runtime.block_on(common::create_postgres_database(&admin));
    two_sources_keep_both_patients_intact(&Rdt::new().with_database_url(&url));
    runtime.block_on(common::drop_postgres_database(&admin, &name));
}

/// A source name outside `[a-z0-9][a-z0-9._-]{0,31}` is a usage error (exit 2) that
/// says what a name may hold; nothing is imported.
#[test]
fn a_bad_source_name_is_a_usage_error() {
    let rdt = Rdt::new();
    let dir = tempfile::tempdir().unwrap();
    let path = export(dir.path(), "p1", "Alder", 1.0);
    let out = rdt.run(&["import", "--source", "Hospital A", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`Hospital A` is not a source name: use 1 to 32 of a-z, 0-9"), "{stderr}");
    assert!(!rdt.data_dir().join("journey.sqlite").exists(), "nothing was opened");
}
