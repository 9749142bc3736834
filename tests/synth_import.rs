//! `rdt synth` through `rdt import`: the virtual hospital's export imports without a
//! single error, and what the importer counts is what synth says it wrote: patients,
//! resources per type, events, and events per modality (the category contract).
//! Fixed seed and patient count; everything runs in temporary directories.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

use common::Rdt;

/// The modality RDT's importer gives an Observation, read from its categories the way
/// docs/virtual-cohort.md states the contract (RDT's categories first).
fn modality(observation: &Value) -> &'static str {
    let codings: Vec<(&str, &str)> = observation["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .map(|c| (c["system"].as_str().unwrap_or(""), c["code"].as_str().unwrap_or("")))
        .collect();
    for (system, code) in &codings {
        if *system == "urn:rdt:observation-category" {
            match *code {
                "disease-activity" => return "disease_activity",
                "imaging" => return "imaging",
                "omics" => return "omics",
                _ => {}
            }
        }
    }
    for (_, code) in &codings {
        match *code {
            "laboratory" => return "lab",
            "imaging" => return "imaging",
            _ => {}
        }
    }
    "observation"
}

#[test]
fn synth_cohort_imports_without_a_single_error() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    let (synth, code) = rdt.run_json(&["synth", "--patients", "200", "--seed", "7", "--out", dir, "--json"]);
    assert_eq!(code, 0, "{synth}");
    assert_eq!(synth["patients"], 200);

    let (import, code) = rdt.run_json(&["import", dir, "--json"]);
    assert_eq!(code, 0, "{import}");
    let files = import["files"].as_array().unwrap();
    let failed: Vec<&Value> = files.iter().filter(|f| !f["error"].is_null()).collect();
    assert!(failed.is_empty(), "files refused: {failed:?}");
    // Six NDJSON files; the ground truth (.ldjson) and the manifest (.txt) are not FHIR
    // and the importer does not read them.
    assert_eq!(files.len(), 6, "{files:?}");
    assert_eq!(import["skipped"].as_array().map(Vec::len), Some(0), "{}", import["skipped"]);
    assert_eq!(import["patients"], 200);

    let made = &synth["resources"];
    let expected: BTreeMap<String, u64> = [
        ("Patient", "patient"),
        ("Condition", "condition"),
        ("Encounter", "encounter"),
        ("Observation", "observation"),
        ("MedicationStatement", "medication_statement"),
        ("DocumentReference", "document_reference"),
    ]
    .into_iter()
    .map(|(t, key)| (t.to_owned(), made[key].as_u64().unwrap()))
    .collect();
    let imported: BTreeMap<String, u64> = serde_json::from_value(import["resources"].clone()).unwrap();
    assert_eq!(imported, expected);

    // Birth and sex per patient; one event per condition, visit, observation and
    // note; a start per medication course and a stop per ended one.
    let n = |key: &str| made[key].as_u64().unwrap();
    let events = 2 * n("patient")
        + n("condition")
        + n("encounter")
        + n("observation")
        + n("medication_statement")
        + n("medication_stopped")
        + n("document_reference");
    assert_eq!(import["events"].as_u64().unwrap(), events);

    let mut by_modality: BTreeMap<&str, u64> = BTreeMap::new();
    let observations = std::fs::read_to_string(export.path().join("Observation.ndjson")).unwrap();
    for line in observations.lines() {
        *by_modality.entry(modality(&serde_json::from_str(line).unwrap())).or_default() += 1;
    }
    let got = &import["events_by_modality"];
    for (m, count) in &by_modality {
        assert_eq!(got[*m].as_u64(), Some(*count), "{m} events: {got}");
    }
    for m in ["disease_activity", "lab", "imaging", "omics"] {
        assert!(by_modality.get(m).is_some_and(|c| *c > 0), "no {m} observations in 200 patients");
    }
    assert_eq!(got["note"].as_u64(), Some(n("document_reference")));
    assert_eq!(got["medication"].as_u64(), Some(n("medication_statement") + n("medication_stopped")));
}
