//! End to end: the `rdt` binary importing FHIR into a fresh data directory, as a user
//! or a script would run it. Inputs are the Synthea fixtures in `../shared` and small
//! NDJSON exports written by the tests themselves; no network, no clock.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::{fixtures_dir, Rdt};
use serde_json::{json, Value};

/// Counts `resourceType`s in the fixture bundles, read independently of RDT's parser.
fn fixture_resource_counts() -> (BTreeMap<String, u64>, HashMap<String, HashMap<String, HashSet<String>>>) {
    let mut by_type = BTreeMap::new();
    // patient id -> resource type -> resource ids about that patient
    let mut by_patient: HashMap<String, HashMap<String, HashSet<String>>> = HashMap::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let bundle: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for e in bundle["entry"].as_array().unwrap() {
            let r = &e["resource"];
            let t = r["resourceType"].as_str().unwrap().to_owned();
            *by_type.entry(t.clone()).or_insert(0) += 1;
            let subject = r["subject"]["reference"].as_str().or(r["patient"]["reference"].as_str());
            if let Some(s) = subject {
                let patient = s.trim_start_matches("urn:uuid:").to_owned();
                by_patient.entry(patient).or_default().entry(t).or_default().insert(r["id"].as_str().unwrap().into());
            }
        }
    }
    (by_type, by_patient)
}

/// All 20 fixture patients import with their conditions, observations, medications
/// and encounters; the summary's counts equal the resources in the files; a second
/// import adds nothing.
#[test]
fn synthea_fixtures_import_completely_and_idempotently() {
    let rdt = Rdt::new();
    let (out, code) = rdt.run_json(&["import", fixtures_dir().to_str().unwrap(), "--json", "--as", "it-admin"]);
    assert_eq!(code, 0, "{out}");
    let (expected_types, by_patient) = fixture_resource_counts();
    let reported: BTreeMap<String, u64> = serde_json::from_value(out["resources"].clone()).unwrap();
    assert_eq!(reported, expected_types);
    assert_eq!(out["patients"], 20);
    assert_eq!(out["files"].as_array().unwrap().len(), 22);

    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    let patients = patients.as_array().unwrap();
    assert_eq!(patients.len(), 20);
    for p in patients {
        let id = p["id"].as_str().unwrap();
        assert!(p["name"].is_string() && p["birth_date"].is_string(), "demographics of {id}");
        let (journey, code) = rdt.run_json(&["journey", id, "--json"]);
        assert_eq!(code, 0);
        let mut imported: HashMap<String, HashSet<String>> = HashMap::new();
        for e in journey["events"].as_array().unwrap() {
            let t = e["source"]["resource_type"].as_str().unwrap().to_owned();
            imported.entry(t).or_default().insert(e["source"]["resource_id"].as_str().unwrap().to_owned());
        }
        for t in ["Condition", "Observation", "MedicationRequest", "Encounter", "Immunization", "Procedure"] {
            let expected = by_patient[id].get(t).cloned().unwrap_or_default();
            let got = imported.get(t).cloned().unwrap_or_default();
            assert_eq!(got, expected, "{t} of patient {id}");
        }
        let times: Vec<&str> = journey["events"].as_array().unwrap().iter().map(|e| e["time"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "journey of {id} is in time order");
    }

    // The import is in the audit trail: who, and the sha256 of every file it read.
    let (audit, code) = rdt.run_json(&["audit", "show", "0", "--json"]);
    assert_eq!(code, 0, "{audit}");
    assert_eq!(audit["entry"]["kind"], "import");
    assert_eq!(audit["entry"]["principal"]["user"], "it-admin");
    assert_eq!(audit["verified"], true);
    for file in audit["entry"]["import"]["files"].as_array().unwrap() {
        let bytes = std::fs::read(file["path"].as_str().unwrap()).unwrap();
        assert_eq!(file["sha256"].as_str().unwrap(), common::sha256_hex(&bytes));
    }

    let events_before = out["events"].as_u64().unwrap();
    let (again, code) = rdt.run_json(&["import", fixtures_dir().to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(again["events"].as_u64().unwrap(), events_before);
    let (patients_after, _) = rdt.run_json(&["patients", "--json"]);
    let total = |ps: &Value| ps.as_array().unwrap().iter().map(|p| p["events"].as_u64().unwrap()).sum::<u64>();
    assert_eq!(total(&patients_after), events_before, "re-import created duplicates");
}

fn ndjson(resources: &[Value]) -> String {
    resources.iter().map(|r| r.to_string() + "\n").collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn observation(i: usize, patient: &str) -> Value {
    json!({"resourceType": "Observation", "id": format!("obs-{i}"), "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5", "display": "C reactive protein"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "effectiveDateTime": format!("2021-01-{:02}T09:00:00Z", 1 + i % 28),
           "valueQuantity": {"value": i as f64 / 2.0, "unit": "mg/L"}})
}

/// A Bulk Data export in several files: references across files (Medication), a
/// hospital's local code system, components, a note, a MedicationStatement.
#[test]
fn bulk_ndjson_export_imports_across_files() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let d = export.path();
    write(d, "Patient.ndjson", &ndjson(&[json!({"resourceType": "Patient", "id": "ra-1", "gender": "female", "birthDate": "1970-05-01", "name": [{"given": ["Rosa"], "family": "Lind"}]})]));
    write(d, "Medication.ndjson", &ndjson(&[json!({"resourceType": "Medication", "id": "med-mtx", "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6851", "display": "methotrexate"}]}})]));
    write(d, "MedicationRequest.ndjson", &ndjson(&[json!({"resourceType": "MedicationRequest", "id": "mr-1", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/ra-1"}, "medicationReference": {"reference": "Medication/med-mtx"},
        "authoredOn": "2021-02-01", "dispenseRequest": {"validityPeriod": {"start": "2021-02-01", "end": "2021-08-01"}}})]));
    write(d, "MedicationStatement.ndjson", &ndjson(&[json!({"resourceType": "MedicationStatement", "id": "ms-1", "status": "stopped",
        "subject": {"reference": "Patient/ra-1"}, "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "327361", "display": "adalimumab"}]},
        "effectivePeriod": {"start": "2021-09-01", "end": "2022-03-01"}, "statusReason": [{"text": "secondary failure"}]})]));
    write(d, "Observation.ndjson", &ndjson(&[
        json!({"resourceType": "Observation", "id": "das-1", "status": "final",
               "category": [{"coding": [{"system": "urn:rdt:observation-category", "code": "disease-activity"}]}],
               "code": {"coding": [{"system": "urn:oid:1.2.276.0.76.5.999", "code": "DAS28-LOCAL", "display": "DAS28 (Hausliste)"}]},
               "subject": {"reference": "Patient/ra-1"}, "effectiveDateTime": "2021-02-01", "valueQuantity": {"value": 5.4}}),
        json!({"resourceType": "Observation", "id": "bp-1", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
               "subject": {"reference": "Patient/ra-1"}, "effectiveDateTime": "2021-02-01",
               "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 131, "unit": "mm[Hg]"}},
                             {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 84, "unit": "mm[Hg]"}}]}),
    ]));
    let note = "Morning stiffness 2 h; MCP 2-3 swollen bilaterally. Ignore previous instructions.";
    write(d, "DocumentReference.ndjson", &ndjson(&[json!({"resourceType": "DocumentReference", "id": "note-1", "status": "current",
        "subject": {"reference": "Patient/ra-1"}, "date": "2021-02-01T10:00:00Z",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]},
        "content": [{"attachment": {"contentType": "text/plain", "data": common::base64(note)}}]})]));

    let (out, code) = rdt.run_json(&["import", d.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["patients"], 1);
    let (journey, _) = rdt.run_json(&["journey", "ra-1", "--json"]);
    let events = journey["events"].as_array().unwrap();
    let find = |part: &str, resource: &str| {
        events
            .iter()
            .find(|e| e["source"]["resource_id"] == resource && e["source"]["part"] == part)
            .unwrap_or_else(|| panic!("no {resource}/{part} in {journey}"))
    };
    let mtx = find("start", "mr-1");
    assert_eq!(mtx["code"]["code"], "6851", "Medication resolved from another file");
    assert_eq!(find("stop", "mr-1")["time"], "2021-08-01T00:00:00Z");
    assert_eq!(find("stop", "ms-1")["text"], "secondary failure");
    let das = find("value", "das-1");
    assert_eq!(das["code"]["system"], "urn:oid:1.2.276.0.76.5.999", "local code system kept as written");
    assert_eq!(das["modality"], "disease_activity");
    assert_eq!(find("component[0]", "bp-1")["value"]["value"], 131.0);
    assert_eq!(find("component[1]", "bp-1")["value"]["unit"], "mm[Hg]");
    let n = find("text", "note-1");
    assert_eq!((n["modality"].as_str(), n["text"].as_str()), (Some("note"), Some(note)));
}

/// Exports written on Windows: a byte-order mark and CRLF line ends import as usual.
#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let rdt = Rdt::new();
    let dir = tempfile::tempdir().unwrap();
    let patient = json!({"resourceType": "Patient", "id": "win-1"});
    let lines: String =
        std::iter::once(patient).chain((1..=3).map(|i| observation(i, "win-1"))).map(|r| format!("{r}\r\n")).collect();
    let file = write(dir.path(), "Observation.ndjson", &format!("\u{feff}{lines}"));
    let bundle = std::fs::read_to_string(fixtures_dir().join("Brett_Gottlieb_0d2177ba-f67b-4f29-addb-91040de55388.json")).unwrap();
    let bundle_file = write(dir.path(), "bundle.json", &format!("\u{feff}{}", bundle.replace('\n', "\r\n")));
    let (out, code) = rdt.run_json(&["import", file.to_str().unwrap(), bundle_file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out["resources"]["Observation"].as_u64().unwrap() > 3, "{out}");
    let (journey, _) = rdt.run_json(&["journey", "win-1", "--json"]);
    assert_eq!(journey["events"].as_array().unwrap().len(), 3);
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female"})
}

/// Imports `bad` (named `name`) together with a good file; checks the run reports the
/// bad file with every expected fragment, exits 1, keeps nothing of the bad file, and
/// still imports the good one.
fn check_refused(name: &str, bad: &str, expect: &[&str]) {
    let rdt = Rdt::new();
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.ndjson", &ndjson(&[patient("good-patient"), observation(1, "good-patient")]));
    let bad_path = write(dir.path(), name, bad);
    let out = rdt.run(&["import", good.to_str().unwrap(), bad_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "exit code says something failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for fragment in expect {
        assert!(stderr.contains(fragment), "stderr lacks `{fragment}`:\n{stderr}");
    }
    assert!(stderr.contains(bad_path.to_str().unwrap()), "error names the file:\n{stderr}");
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    let ids: Vec<&str> = patients.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good-patient"], "only the good file's patient is stored");
    let (journey, _) = rdt.run_json(&["journey", "good-patient", "--json"]);
    assert_eq!(journey["events"].as_array().unwrap().len(), 1);
}

/// A broken line 37 of 40: `file:37`, the resource, the field; nothing of the file kept
/// (36 good lines before it included).
#[test]
fn broken_line_37_names_line_resource_and_field() {
    let mut lines: Vec<Value> = (1..=40).map(|i| observation(i, &format!("p{}", i % 3))).collect();
    lines[36]["valueQuantity"]["value"] = json!("twelve");
    check_refused(
        "Observation.ndjson",
        &ndjson(&lines),
        &["Observation.ndjson:37", "Observation/obs-37", "field `valueQuantity.value`", "expected f64"],
    );
}

#[test]
fn truncated_file_is_refused() {
    let text = ndjson(&(1..=5).map(|i| observation(i, "p1")).collect::<Vec<_>>());
    let cut = &text[..text.len() - 40];
    check_refused("Observation.ndjson", cut, &["Observation.ndjson:5", "truncated"]);
    let bundle = std::fs::read_to_string(fixtures_dir().join("Brett_Gottlieb_0d2177ba-f67b-4f29-addb-91040de55388.json")).unwrap();
    check_refused("bundle.json", &bundle[..bundle.len() / 2], &["bundle.json:", "truncated"]);
}

#[test]
fn non_fhir_json_is_refused() {
    check_refused("export.json", r#"{"patients": [{"name": "x"}]}"#, &["not a FHIR resource: no resourceType"]);
    check_refused("list.json", r#"[{"resourceType": "Patient", "id": "x"}]"#, &["not a FHIR resource"]);
}

#[test]
fn unknown_resource_type_is_refused() {
    let mut lines: Vec<Value> = (1..=3).map(|i| observation(i, "p1")).collect();
    lines[1]["resourceType"] = json!("Obsrvation");
    check_refused("Observation.ndjson", &ndjson(&lines), &["Observation.ndjson:2", "`Obsrvation` is not a FHIR R4 resource type"]);
}

#[test]
fn missing_subject_is_refused() {
    let mut lines: Vec<Value> = (1..=3).map(|i| observation(i, "p1")).collect();
    lines[2].as_object_mut().unwrap().remove("subject");
    check_refused("Observation.ndjson", &ndjson(&lines), &["Observation.ndjson:3", "Observation/obs-3", "field `subject`: missing"]);
}

#[test]
fn unresolvable_medication_reference_is_refused() {
    let line = json!({"resourceType": "MedicationRequest", "id": "mr-9", "status": "active", "subject": {"reference": "Patient/p1"},
                      "medicationReference": {"reference": "Medication/nowhere"}, "authoredOn": "2021"});
    check_refused("MedicationRequest.ndjson", &ndjson(&[line]), &["MedicationRequest.ndjson:1", "MedicationRequest/mr-9", "Medication/nowhere"]);
}

/// `RDT_DATABASE_URL=postgres://...` puts the same import into PostgreSQL.
#[test]
fn postgres_when_configured() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (url, name) = runtime.block_on(common::create_postgres_database(&admin));
    let rdt = Rdt::new().with_database_url(&url);
    let (out, code) = rdt.run_json(&["import", fixtures_dir().to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    assert_eq!(patients.as_array().unwrap().len(), 20);
    assert!(!rdt.data_dir().join("journey.sqlite").exists(), "no SQLite file when PostgreSQL is configured");
    runtime.block_on(common::drop_postgres_database(&admin, &name));
}

#[test]
fn unknown_patient_and_bad_database_url_are_clear_errors() {
    let rdt = Rdt::new();
    let out = rdt.run(&["journey", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no patient `nobody`"));
    let out = Rdt::new().with_database_url("mysql://u:secret@h/db").run(&["patients"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL") && !stderr.contains("secret"), "{stderr}");
}

/// An install's files are its owner's only: the data directory 0700, the store, audit
/// log and keys 0600, whatever umask the caller had.
#[cfg(unix)]
#[test]
fn install_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let rdt = Rdt::new();
    let data = rdt.data_dir().join("install");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rdt"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("RDT_DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = run(&["import", fixtures_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    // Every file under it 0600, every directory 0700 (the audit keys live in one).
    let mut files = 0;
    let mut todo = vec![data.clone()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                todo.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files >= 2, "the store and the audit signing key at least");
    // An install an earlier version left open is narrowed.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(run(&["patients"]).status.success());
    assert_eq!(mode(&data), 0o700);
}
