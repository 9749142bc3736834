//! `rdt event add` end to end through the binary: a small virtual cohort is imported,
//! a tiny twin trained and the index built (`rdt embed`); one event added for a
//! patient after their last one moves their live twin to that date, and the next
//! `rdt cohort --json` (a new process, reading the index from disk) is at the new
//! event's date, without retraining.

mod common;

use common::Rdt;
use serde_json::Value;

fn ok(rdt: &Rdt, args: &[&str]) {
    let out = rdt.run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_added_event_reaches_the_next_cohort_query() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    ok(&rdt, &["synth", "--patients", "40", "--seed", "9", "--out", dir]);
    ok(&rdt, &["import", dir]);
    ok(&rdt, &["train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32"]);
    ok(&rdt, &["embed"]);

    let truth = std::fs::read_to_string(export.path().join("ground_truth.ldjson")).unwrap();
    let patient = truth
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).unwrap()["patient_id"].as_str().map(str::to_owned))
        .expect("a patient in the ground truth");
    let cohort = |rdt: &Rdt| {
        let (report, code) =
            rdt.run_json(&["cohort", "--patient", &patient, "--k", "5", "--min-n", "1", "--json", "--as", "dr-test"]);
        assert_eq!(code, 0, "{report}");
        report
    };
    let before = cohort(&rdt);
    let last: chrono::NaiveDate = before["index_date"].as_str().unwrap().parse().unwrap();
    let added = (last + chrono::Days::new(30)).to_string();

    let (out, code) = rdt.run_json(&[
        "event",
        "add",
        "--patient",
        &patient,
        "--code",
        "http://loinc.org|1988-5",
        "--display",
        "C reactive protein",
        "--value",
        "42",
        "--unit",
        "mg/L",
        "--time",
        &added,
        "--modality",
        "lab",
        "--json",
        "--as",
        "dr-test",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["patient"], patient.as_str());
    assert!(out["live"]["index_time"].as_str().unwrap().starts_with(&added), "{}", out["live"]);
    let neighbours = out["neighbours"].as_array().unwrap();
    assert!(!neighbours.is_empty());
    assert!(neighbours.iter().all(|n| n["patient"] != patient.as_str()), "the patient is not their own neighbour");
    assert!(out["audit_seq"].as_u64().is_some(), "{out}");

    // A new process reads the index and the store from disk: the cohort is now at the
    // added event's date.
    let after = cohort(&rdt);
    assert_eq!(after["index_date"], added.as_str(), "{after}");
    assert_ne!(before["index_date"], after["index_date"]);
    assert_eq!(after["neighbours"].as_array().unwrap().len(), 5);
}
