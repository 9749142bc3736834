//! The terminology end to end: one virtual cohort written in three codings (RDT's own
//! codes; standard codes with CRP in mg/dL; a hospital's local `urn:oid` codes with no
//! categories and a ConceptMap beside the export) gives the same `rdt cohort`, `rdt
//! forecast`, tool outputs and `rdt eval` figures for the same patients: the local one
//! with its map imported before the data, and with the map imported after it. Without
//! the map, the import summary and `rdt doctor` name the unmapped codes and what they
//! block. Fixed seeds, tiny model, temporary directories.

mod common;

use common::Rdt;
use serde_json::Value;

const PATIENTS: &str = "50";
const SEED: &str = "11";

fn ok(rdt: &Rdt, args: &[&str]) -> String {
    let out = rdt.run(args);
    assert!(out.status.success(), "rdt {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An install with the cohort in `coding`; the map before or after the data.
struct Install {
    rdt: Rdt,
    export: tempfile::TempDir,
}

fn install(coding: &str, map_after_data: bool) -> Install {
    install_in(Rdt::new(), coding, map_after_data)
}

fn install_in(rdt: Rdt, coding: &str, map_after_data: bool) -> Install {
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    ok(&rdt, &["synth", "--patients", PATIENTS, "--seed", SEED, "--coding", coding, "--out", dir]);
    let map = export.path().join("ConceptMap.json");
    if coding == "local" && !map_after_data {
        ok(&rdt, &["terminology", "import", map.to_str().unwrap(), "--as", "admin-test"]);
    }
    let summary = ok(&rdt, &["import", dir]);
    if coding == "local" && map_after_data {
        // Without the map RDT says what it cannot read and what that blocks.
        assert!(summary.contains("urn:oid:2.999.1.1|VH-DAS28-ESR"), "{summary}");
        assert!(summary.contains("DAS28, CDAI or SDAI is found for 0 of 50 patients"), "{summary}");
        let (doctor, code) = rdt.run_json(&["doctor", "--json"]);
        assert_eq!(code, 1, "{doctor}");
        let terminology = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "terminology").unwrap();
        assert_eq!(terminology["status"], "failed");
        assert!(terminology["detail"].as_str().unwrap().contains("response, flare"), "{terminology}");
        let (coverage, code) = rdt.run_json(&["terminology", "coverage", "--json"]);
        assert_eq!(code, 1);
        assert!(coverage["unmapped"].as_array().unwrap().iter().any(|u| u["code"] == "VH-TJC28"), "{coverage}");
        ok(&rdt, &["terminology", "import", map.to_str().unwrap(), "--as", "admin-test"]);
    }
    if coding == "local" {
        // The import is audited: who, which map, its sha256.
        let bytes = std::fs::read(&map).unwrap();
        let sha = common::sha256_hex(&bytes);
        let (verify, code) = rdt.run_json(&["audit", "verify", "--json"]);
        assert_eq!(code, 0, "{verify}");
        let found = (0..=20).find_map(|seq| {
            let (shown, code) = rdt.run_json(&["audit", "show", &seq.to_string(), "--json"]);
            (code == 0 && shown["entry"]["kind"] == "terminology_imported").then_some(shown)
        });
        let shown = found.expect("a terminology_imported audit entry");
        assert_eq!(shown["entry"]["principal"]["user"], "admin-test");
        assert_eq!(shown["entry"]["map"]["sha256"], sha.as_str());
        assert_eq!(shown["entry"]["map"]["url"], "urn:oid:2.999.1.1/conceptmap/rdt");
        let (maps, _) = rdt.run_json(&["terminology", "list", "--json"]);
        assert_eq!(maps.as_array().unwrap().len(), 1);
        assert_eq!(maps[0]["imported_by"], "admin-test");
        assert_eq!(maps[0]["sha256"].as_str().unwrap().len(), 64);
        let (coverage, code) = rdt.run_json(&["terminology", "coverage", "--json"]);
        assert_eq!(code, 0, "{coverage}");
        assert!(coverage["unmapped"].as_array().unwrap().is_empty(), "{coverage}");
    }
    Install { rdt, export }
}

/// What RDT computes for the cohort: the figures that must not depend on the coding.
fn outputs(i: &Install) -> Value {
    let rdt = &i.rdt;
    ok(rdt, &["train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32"]);
    ok(rdt, &["embed"]);
    let truth = i.export.path().join("ground_truth.ldjson");
    let text = std::fs::read_to_string(&truth).unwrap();
    let (patient, mtx_start) = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|t| Some((t["patient_id"].as_str()?.to_owned(), t["mtx_start"].as_str()?.to_owned())))
        .expect("a patient on methotrexate");
    let at = (mtx_start.parse::<chrono::NaiveDate>().unwrap() + chrono::Days::new(90)).to_string();
    let json = |args: &[&str]| {
        let (v, code) = rdt.run_json(args);
        assert_eq!(code, 0, "rdt {args:?}: {v}");
        v
    };
    let cohort = json(&["cohort", "--patient", &patient, "--at", &at, "--k", "8", "--min-n", "3", "--json", "--as", "dr-t"]);
    let forecast = json(&["forecast", "--patient", &patient, "--json", "--as", "dr-t"]);
    let tool = |name: &str, args: &str| {
        let v = json(&["tool", name, "--patient", &patient, "--as", "dr-t", "--json", args]);
        v["value"].clone()
    };
    let disease_activity = tool("disease_activity_history", "{}");
    let crp = tool("lab_trend", r#"{"test":"crp"}"#);
    let summary = tool("patient_summary", "{}");
    let eval = json(&["eval", "--truth", truth.to_str().unwrap(), "--k", "5", "--json"]);
    let all = serde_json::json!({
        "cohort": cohort, "forecast": forecast, "disease_activity": disease_activity,
        "crp": crp, "summary": summary, "eval": eval,
    });
    // Paths name the install's own directories, not what was read.
    let text = all
        .to_string()
        .replace(i.export.path().to_str().unwrap(), "EXPORT")
        .replace(rdt.data_dir().to_str().unwrap(), "DATA");
    let mut all: Value = serde_json::from_str(&text).unwrap();
    normalise(&mut all);
    all
}

/// Drops what differs by install and not by reading: times of the run, audit
/// sequence numbers, file paths of the export, pseudonyms (keyed per install), the
/// twin's version (its manifest records when it was trained; its vectors are compared
/// through the neighbours and distances).
fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in ["audit_entry", "audit_seq", "generated_at", "elapsed_seconds", "seconds", "file", "source_file", "dir", "report", "pseudonym", "twin_version"] {
                map.remove(key);
            }
            map.values_mut().for_each(normalise);
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// Where two JSON values first differ, as a path.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: only in the first")),
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{path}.{k}: only in the second"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (va, vb))| first_difference(va, vb, format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn three_codings_of_one_cohort_give_the_same_figures() {
    let reference = outputs(&install("rdt", false));
    assert!(reference["cohort"]["neighbours"].as_array().is_some_and(|n| !n.is_empty()), "{}", reference["cohort"]);
    assert!(
        reference["disease_activity"].to_string().contains("das28"),
        "the reference reads DAS28: {}",
        reference["disease_activity"]
    );
    for (coding, after) in [("standard", false), ("local", false), ("local", true)] {
        let other = outputs(&install(coding, after));
        if let Some(d) = first_difference(&reference, &other, String::new()) {
            panic!("{coding} (map after data: {after}) differs from rdt at {d}");
        }
    }
}

/// The hospital's coding with its map imported after the data, on PostgreSQL (when
/// configured; CI requires it): the same figures as RDT's coding on SQLite.
#[test]
fn a_hospital_coding_on_postgresql_gives_the_same_figures() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (url, name) = runtime.block_on(common::create_postgres_database(&admin));
    let reference = outputs(&install("rdt", false));
    let other = outputs(&install_in(Rdt::new().with_database_url(&url), "local", true));
    runtime.block_on(common::drop_postgres_database(&admin, &name));
    if let Some(d) = first_difference(&reference, &other, String::new()) {
        panic!("local on PostgreSQL differs from rdt on SQLite at {d}");
    }
}
