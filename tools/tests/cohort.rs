//! End to end over a small virtual cohort: `synth` writes 50 patients as FHIR, the
//! importer loads them, and every tool runs through `call_json` as the assistant will
//! call it. Each check compares a tool's computed fact with the raw events read
//! independently from the store (not with hard-coded results), so it holds for any
//! seed; the seed is fixed so a failure reproduces.

use std::collections::BTreeSet;

use audit_log::{AuditLog, Principal, Role};
use chrono::NaiveDate;
use serde_json::{json, Value};
use tools::{call_json, specs, tool_call_entry, Scope, ToolContext, ToolError};
use journey::clinical::das28::{HIGH, LOW, REMISSION};
use journey::clinical::labs::CRP_ULN_MG_L;
use journey::fhir::{Importer, NoProgress};
use journey::{Database, Journey, JourneyStore, Modality, PatientId, Phase};

const CRP: &str = "1988-5";

async fn cohort() -> (tempfile::TempDir, ToolContext, Vec<PatientId>) {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 50, seed: 7, ..Default::default() }, &export).unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    let report = Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    assert!(!report.has_failures());
    let ids: Vec<PatientId> = store.patients().await.unwrap().into_iter().map(|p| p.patient.id).collect();
    assert_eq!(ids.len(), 50);
    (dir, ToolContext::new(store), ids)
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

async fn journey(ctx: &ToolContext, id: &PatientId) -> Journey {
    ctx.store().journey(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn tools_agree_with_the_raw_record() {
    let (_dir, ctx, ids) = cohort().await;
    let doc = Principal::new("dr-e2e", Role::Clinician);
    let scope = Scope::patients(ids.iter().cloned());
    let max_bytes = |name: &str| specs().into_iter().find(|s| s.name.as_str() == name).unwrap().max_bytes;
    let (mut crp_checked, mut trends_checked, mut stopped_checked, mut das_checked) = (0, 0, 0, 0);

    for id in &ids {
        let raw = journey(&ctx, id).await;

        // Latest CRP: the value is the raw latest, and its flag is "high" exactly when
        // it exceeds the 5 mg/L limit (CRP has no low or critical limits).
        let out =
            call_json(&ctx, &doc, &scope, "lab_trend", &json!({"patient": id.as_str(), "test": "crp"})).await.unwrap();
        assert!(serde_json::to_vec(&out.result).unwrap().len() <= max_bytes("lab_trend"));
        let v = &out.result["value"];
        let raw_latest = raw
            .events
            .iter()
            .filter(|e| e.code.code == CRP && e.value.as_ref().is_some_and(|q| q.unit.as_deref() == Some("mg/L")))
            .max_by_key(|e| e.time);
        match raw_latest {
            Some(e) => {
                let value = e.value.as_ref().unwrap().value;
                assert_eq!(v["latest"]["value"].as_f64(), Some(value), "{id}");
                assert_eq!(v["latest"]["flag"], if value > CRP_ULN_MG_L { "high" } else { "normal" }, "{id}");
                crp_checked += 1;
            }
            None => assert!(v["latest"].is_null(), "{id}"),
        }
        // Trend direction agrees with the slope's sign and the stated threshold.
        let t = &v["trend"];
        let threshold = t["stable_threshold_per_30_days"].as_f64().unwrap();
        match (t["direction"].as_str().unwrap(), t["slope_per_30_days"].as_f64()) {
            ("rising", Some(s)) => assert!(s > 0.0 && s >= threshold - 5e-4, "{id} {t}"),
            ("falling", Some(s)) => assert!(s < 0.0 && s <= -threshold + 5e-4, "{id} {t}"),
            ("stable", Some(s)) => assert!(s.abs() <= threshold + 5e-4, "{id} {t}"),
            ("insufficient_data", None) => {
                assert!(t["n"].as_u64().unwrap() < 3 || t["first"]["date"] == t["last"]["date"], "{id} {t}")
            }
            other => panic!("{id}: {other:?} {t}"),
        }
        if t["slope_per_30_days"].is_number() {
            let [lo, hi] = [t["slope_interval_95"][0].as_f64().unwrap(), t["slope_interval_95"][1].as_f64().unwrap()];
            let s = t["slope_per_30_days"].as_f64().unwrap();
            assert!(lo <= s + 1e-9 && s <= hi + 1e-9, "{id} {t}");
            trends_checked += 1;
        }

        // Medication durations are stop - start, and both dates are raw start/stop events.
        let out = call_json(&ctx, &doc, &scope, "medication_history", &json!({"patient": id.as_str()})).await.unwrap();
        assert!(serde_json::to_vec(&out.result).unwrap().len() <= max_bytes("medication_history"));
        for course in out.result["value"]["courses"].as_array().unwrap() {
            let start = date(&course["start"]);
            let has = |phase: Phase, d: NaiveDate| {
                raw.events
                    .iter()
                    .any(|e| e.modality == Modality::Medication && e.phase == phase && e.time.date_naive() == d)
            };
            assert!(has(Phase::Start, start), "{id} {course}");
            if course["status"] == "stopped" {
                let stop = date(&course["stop"]);
                assert!(has(Phase::Stop, stop), "{id} {course}");
                assert_eq!(course["duration_days"].as_i64(), Some((stop - start).num_days()), "{id} {course}");
                stopped_checked += 1;
            } else {
                assert!(course["stop"].is_null() && course["duration_days"].is_null(), "{id} {course}");
            }
        }

        // Latest DAS28 is the raw latest score, in the category its value falls in.
        let out =
            call_json(&ctx, &doc, &scope, "disease_activity_history", &json!({"patient": id.as_str()})).await.unwrap();
        assert!(serde_json::to_vec(&out.result).unwrap().len() <= max_bytes("disease_activity_history"));
        let latest = &out.result["value"]["latest"];
        let raw_das = raw
            .events
            .iter()
            .filter(|e| e.code.code == "das28-esr" || e.code.code == "das28-crp")
            .max_by_key(|e| e.time);
        if let Some(e) = raw_das {
            let score = e.value.as_ref().unwrap().value;
            assert_eq!(latest["das28"].as_f64(), Some(score), "{id}");
            let category = match score {
                s if s < REMISSION => "remission",
                s if s <= LOW => "low",
                s if s <= HIGH => "moderate",
                _ => "high",
            };
            assert_eq!(latest["category"], category, "{id}");
            das_checked += 1;
        } else {
            assert!(latest.is_null());
        }

        let out = call_json(&ctx, &doc, &scope, "patient_summary", &json!({"patient": id.as_str()})).await.unwrap();
        assert!(serde_json::to_vec(&out.result).unwrap().len() <= max_bytes("patient_summary"));
        assert_eq!(out.patients, vec![id.clone()]);
    }
    // The cohort exercised every check (none passed vacuously).
    assert!(
        crp_checked >= 20 && trends_checked >= 10 && stopped_checked >= 10 && das_checked >= 20,
        "{crp_checked} {trends_checked} {stopped_checked} {das_checked}"
    );
}

/// A clinician scoped to five patients reaches exactly those five, whatever the
/// arguments say; every call is recorded in a real audit log that verifies.
#[tokio::test]
async fn scope_decides_reach_and_every_call_is_auditable() {
    let (dir, ctx, ids) = cohort().await;
    let doc = Principal::new("dr-e2e", Role::Clinician);
    let mine: BTreeSet<PatientId> = ids.iter().take(5).cloned().collect();
    let scope = Scope::Patients(mine.clone());
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let mut reached = BTreeSet::new();
    for id in &ids {
        match call_json(&ctx, &doc, &scope, "patient_summary", &json!({"patient": id.as_str()})).await {
            Ok(out) => {
                reached.extend(out.patients.iter().cloned());
                log.append(tool_call_entry(&doc, Some("e2e"), &out)).await.unwrap();
            }
            Err(ToolError::OutOfScope { patient }) => assert_eq!(patient, id.as_str()),
            Err(e) => panic!("{id}: {e}"),
        }
    }
    assert_eq!(reached, mine);
    // Arguments cannot widen the call: extra fields are refused, not obeyed.
    let err = call_json(&ctx, &doc, &scope, "patient_summary", &json!({"patient": ids[9].as_str(), "scope": "all"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::BadArguments { .. }), "{err}");
    // An auditor has no clinical tools, even in scope.
    let auditor = Principal::new("aud", Role::Auditor);
    let err = call_json(&ctx, &auditor, &scope, "lab_trend", &json!({"patient": ids[0].as_str(), "test": "crp"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::WrongRole { .. }), "{err}");
    let report = log.verify(&audit_log::TrustedKeys::new()).await.unwrap();
    assert_eq!(report.size, 5);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
