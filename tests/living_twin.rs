//! The living twin (issue 22) end to end through the binary: a small virtual cohort is
//! imported, a tiny twin trained and the index built once (`rdt embed`); after that,
//! every import brings the touched patients' index points up to date by itself (the
//! store's change feed, `twin_core::index::catch_up`), and an import killed with
//! SIGKILL after its write and before its twins caught up loses nothing: the next
//! process that reads the cohort catches up first.
//!
//! What is checked is the index on disk: the patient's live point moves to the date of
//! the imported observation, read with `twin_core::index::NeighbourIndex` in this
//! process, with no `rdt embed` in between.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use chrono::{DateTime, Days, NaiveDate, Utc};
use common::Rdt;
use serde_json::{json, Value};
use twin_core::index::{IndexConfig, NeighbourIndex, NeighbourQuery, SnapshotKind};

fn ok(rdt: &Rdt, args: &[&str]) -> String {
    let out = rdt.run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The time of `patient`'s live point in the install's index (read from disk).
fn live_point_time(data_dir: &Path, patient: &str) -> Option<DateTime<Utc>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let index = NeighbourIndex::open(&IndexConfig::local(data_dir)).await.unwrap();
        let (n, dim) = (index.len().await.unwrap(), index.dim().unwrap());
        let query = NeighbourQuery::new(vec![1.0 / (dim as f32).sqrt(); dim], n).kind(SnapshotKind::Live);
        let all = index.search(&query).await.unwrap();
        all.into_iter().find(|p| p.patient.as_str() == patient).map(|p| p.index_time)
    })
}

/// A CRP observation for `patient` at `day`, as a hospital's Bulk export writes it.
fn crp_export(dir: &Path, name: &str, patient: &str, day: NaiveDate, value: f64) -> String {
    let observation = json!({"resourceType": "Observation", "id": format!("{name}-crp"), "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5", "display": "C reactive protein"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": format!("{day}T09:00:00Z"), "valueQuantity": {"value": value, "unit": "mg/L",
        "system": "http://unitsofmeasure.org", "code": "mg/L"}});
    let path = dir.join(format!("{name}.ndjson"));
    std::fs::write(&path, format!("{observation}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

fn patients_of(export: &Path) -> Vec<String> {
    std::fs::read_to_string(export.join("ground_truth.ldjson"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).unwrap()["patient_id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn imports_update_twins_without_embed_and_a_killed_import_loses_nothing() {
    imports_update_twins_and_a_killed_import_loses_nothing(&Rdt::new());
}

/// The same with the journey store (and its change feed) in PostgreSQL.
#[test]
fn imports_update_twins_without_embed_and_a_killed_import_loses_nothing_on_postgres() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (url, name) = runtime.block_on(common::create_postgres_database(&admin));
    let rdt = Rdt::new().with_database_url(&url);
    imports_update_twins_and_a_killed_import_loses_nothing(&rdt);
    assert!(!rdt.data_dir().join("journey.sqlite").exists(), "the store is PostgreSQL's");
    runtime.block_on(common::drop_postgres_database(&admin, &name));
}

fn imports_update_twins_and_a_killed_import_loses_nothing(rdt: &Rdt) {
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    ok(rdt, &["synth", "--patients", "40", "--seed", "9", "--out", dir]);
    ok(rdt, &["import", dir]);
    ok(rdt, &["train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32"]);
    ok(rdt, &["embed"]);
    assert_eq!(ok(rdt, &["embed", "--changed"]).trim(), "twins up to date (no patient changed)");

    let patients = patients_of(export.path());
    let (first, second) = (&patients[0], &patients[1]);
    let new_files = tempfile::tempdir().unwrap();

    // An import: the patient's live point is at the new observation when it returns.
    let before = live_point_time(rdt.data_dir(), first).expect("an embedded patient has a live point");
    let day = before.date_naive() + Days::new(30);
    let file = crp_export(new_files.path(), "a", first, day, 42.0);
    let (report, code) = rdt.run_json(&["import", &file, "--json"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["twins"]["state"], "up_to_date", "{report}");
    assert_eq!(report["twins"]["patients"], 1, "{report}");
    assert_eq!(live_point_time(rdt.data_dir(), first).unwrap().date_naive(), day);

    // An import killed after its commit and before its twins caught up.
    let before = live_point_time(rdt.data_dir(), second).unwrap();
    let day = before.date_naive() + Days::new(45);
    let file = crp_export(new_files.path(), "b", second, day, 37.0);
    let mut child = rdt
        .command()
        .args(["import", &file])
        .env("RDT_TEST_HOLD_BEFORE_TWINS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("holding before the twins catch up") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "rdt import ended before holding");
    }
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());
    assert_eq!(live_point_time(rdt.data_dir(), second).unwrap(), before, "the killed import updated no twin");
    let twins_check = |rdt: &Rdt| {
        let (doctor, _) = rdt.run_json(&["doctor", "--json"]);
        doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "twins").cloned().expect("a twins check")
    };
    let waiting = twins_check(rdt);
    assert_eq!(waiting["status"], "warning", "{waiting}");
    assert!(waiting["detail"].as_str().unwrap().starts_with("1 patients' records changed"), "{waiting}");

    // The next process that reads the cohort catches up first.
    let (cohort, code) =
        rdt.run_json(&["cohort", "--patient", first, "--k", "5", "--min-n", "1", "--json", "--as", "dr-test"]);
    assert_eq!(code, 0, "{cohort}");
    assert_eq!(live_point_time(rdt.data_dir(), second).unwrap().date_naive(), day);
    // The touched patient's own next cohort is at the observation the killed import wrote.
    let (cohort, code) =
        rdt.run_json(&["cohort", "--patient", second, "--k", "5", "--min-n", "1", "--json", "--as", "dr-test"]);
    assert_eq!(code, 0, "{cohort}");
    assert_eq!(cohort["index_date"], day.to_string().as_str(), "{cohort}");
    assert_eq!(ok(rdt, &["embed", "--changed"]).trim(), "twins up to date (no patient changed)");
    assert_eq!(twins_check(rdt)["status"], "ok");
}
