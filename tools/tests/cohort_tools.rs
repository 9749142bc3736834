//! The cohort tools (`similar_patients`, `explain_neighbourhood`) end to end with a
//! tiny twin trained in seconds on a 40-patient virtual cohort, the neighbour index
//! built from it, and the population of historical snapshots. Checks are against the
//! report's own counts and the raw store (no hard-coded results): figures agree with
//! their counts, the refusal below the minimum n, pseudonyms only in the result and
//! real ids only in the audit record, role and scope, and the plain error when the
//! install has no twin or no index; every tool survives extreme arguments.

use std::collections::BTreeSet;
use std::sync::Arc;

use audit_log::{AuditLog, EntryBody, ModelRegistry, Principal, Role};
use serde_json::{json, Value};
use tools::cohort::CohortHandles;
use tools::{call_json, tool_call_entry, Scope, ToolContext, ToolError};
use twin_core::cohort::{pooling, ClinicalRecord, PseudonymKey, QueryOptions};
use journey::fhir::{Importer, NoProgress};
use twin_core::index::build::{embed_journeys, load_journeys};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotKind, SnapshotPlan};
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};
use journey::{Database, Event, JourneyStore, PatientId};

const MIN_N: usize = 5;
const K: usize = 12;

struct Fixture {
    dir: tempfile::TempDir,
    store: JourneyStore,
    registry: ModelRegistry,
    ctx: ToolContext,
    ids: Vec<PatientId>,
    key: PseudonymKey,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 40, seed: 3, ..Default::default() }, &export).unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let journeys: Vec<(PatientId, Vec<Event>)> = load_journeys(&store, None, |_| {}).await.unwrap();
    let refs: Vec<&[Event]> = journeys.iter().map(|(_, e)| e.as_slice()).collect();
    let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {}).unwrap();
    let models = dir.path().join("models");
    let saved = save(&models, trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars).unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log);
    register(&registry, &Principal::new("t", Role::Governance), &saved, "test").await.unwrap();
    let model = TwinModel::load(&saved.dir, &registry).await.unwrap();
    let points = embed_journeys(&model, &journeys, &SnapshotPlan::default(), &|_| None, || {}).unwrap();
    let mut index = NeighbourIndex::open(&IndexConfig::local(dir.path())).await.unwrap();
    index.upsert(&points).await.unwrap();
    index.flush().await.unwrap();
    let key = PseudonymKey::from_bytes([7; 32]);
    let options = QueryOptions { k: K, min_n: MIN_N, min_follow_up_days: 180 };
    // The prior the rates are pooled with, measured on this index as `rdt embed` does.
    let records: std::collections::HashMap<PatientId, ClinicalRecord> =
        journeys.iter().map(|(p, e)| (p.clone(), ClinicalRecord::read(e))).collect();
    let sampled = points
        .iter()
        .filter(|p| p.kind == SnapshotKind::Historical)
        .map(|p| (p.patient.clone(), p.index_time, p.vector.clone()))
        .collect();
    let outcomes_of = |p: &PatientId, t: chrono::DateTime<chrono::Utc>| records.get(p).map(|r| r.outcomes_at(t.date_naive()));
    let prior = pooling::fit_from_index(model.version, &index, sampled, vec![], &options, &outcomes_of, &|_| false).await.unwrap();
    let handles = CohortHandles::new(model, index, &journeys, key.clone(), options).with_prior(prior);
    let ctx = ToolContext::new(store.clone()).with_cohort(Arc::new(handles));
    let ids = journeys.into_iter().map(|(p, _)| p).collect();
    Fixture { dir, store, registry, ctx, ids, key }
}

fn doc() -> Principal {
    Principal::new("dr-cohort", Role::Clinician)
}

/// A figure agrees with its own counts: percent = events / n (Kaplan-Meier: when
/// nobody was censored early), inside its interval; below the minimum n there is no
/// figure at all.
fn check_figure(f: &Value, min_n: usize) {
    let n = f["n"].as_u64().unwrap() as usize;
    match f["kind"].as_str().unwrap() {
        "rate" => {
            assert!(n >= min_n, "{f}");
            let events = f["events"].as_u64().unwrap() as f64;
            let percent = f["percent"].as_f64().unwrap();
            assert!((percent - (100.0 * events / n as f64).round()).abs() < 1e-9, "{f}");
            assert!(f["low_percent"].as_f64().unwrap() <= percent && percent <= f["high_percent"].as_f64().unwrap());
        }
        "mean" => {
            assert!(n >= min_n.max(2), "{f}");
            let mean = f["mean"].as_f64().unwrap();
            assert!(f["low"].as_f64().unwrap() <= mean && mean <= f["high"].as_f64().unwrap(), "{f}");
        }
        // Flare and switch: Kaplan-Meier over everyone followed for part of the window;
        // with nobody censored early it is the plain share.
        "kaplan_meier" => {
            assert!(n >= min_n, "{f}");
            let events = f["events"].as_u64().unwrap() as f64;
            let percent = f["percent"].as_f64().unwrap();
            assert!(events <= n as f64 && (0.0..=100.0).contains(&percent), "{f}");
            if f["censored"].as_u64() == Some(0) {
                assert!((percent - (100.0 * events / n as f64).round()).abs() < 1e-9, "{f}");
            }
            assert!(f["low_percent"].as_f64().unwrap() <= percent && percent <= f["high_percent"].as_f64().unwrap());
        }
        "not_enough_comparable_patients" => {
            assert!(n < min_n && f.get("percent").is_none() && f.get("mean").is_none(), "{f}");
        }
        other => panic!("{other}: {f}"),
    }
}

#[tokio::test]
async fn cohort_tools_report_pseudonymous_neighbours_with_intervals() {
    let f = fixture().await;
    let scope = Scope::patients(f.ids.iter().cloned());
    let mut saw_figure = false;
    let mut saw_refusal = false;
    let mut saw_pooled = false;
    for id in f.ids.iter().take(8) {
        let out = call_json(&f.ctx, &doc(), &scope, "similar_patients", &json!({"patient": id.as_str(), "k": K}))
            .await
            .unwrap();
        let v = &out.result["value"];
        assert!(serde_json::to_vec(&out.result).unwrap().len() <= 8 * 1024);
        assert_eq!(v["similar_patients_found"].as_u64().unwrap() as usize, K, "{id}");
        assert_eq!(v["outcomes"].as_array().unwrap().len(), 7);
        for o in v["outcomes"].as_array().unwrap() {
            check_figure(&o["similar_patients"], MIN_N);
            check_figure(&o["population"], 1);
            saw_figure |= o["similar_patients"]["kind"] != "not_enough_comparable_patients";
            saw_refusal |= o["similar_patients"]["kind"] == "not_enough_comparable_patients";
            // A pooled rate: a yes/no figure with enough patients, read for this
            // patient inside its own interval, drawn toward a usual rate in 0-100.
            if let Some(p) = o.get("pooled") {
                assert!(["rate", "kaplan_meier"].contains(&o["similar_patients"]["kind"].as_str().unwrap()), "{o}");
                let percent = p["percent"].as_u64().unwrap();
                assert!(p["low_percent"].as_u64().unwrap() <= percent && percent <= p["high_percent"].as_u64().unwrap(), "{o}");
                assert!(p["usual_percent"].as_u64().unwrap() <= 100 && p["weight_patients"].as_f64().unwrap() >= 0.0, "{o}");
                saw_pooled = true;
            }
            // ... or, where the prior's pooled figure was not calibrated where it was
            // measured (a tiny index), the count alone and why.
            if let Some(why) = o.get("pooled_withheld") {
                assert!(o.get("pooled").is_none() && why.as_str().unwrap().contains("calibrat"), "{o}");
                saw_pooled = true;
            }
        }
        // Real ids only in the audit record, in the order of the pseudonyms shown.
        let cohort = out.cohort.clone().expect("a cohort record for the audit entry");
        assert_eq!(cohort.neighbours.len(), K);
        assert!(cohort.neighbours.iter().all(|n| n.id != id.as_str()), "{id} is its own neighbour");
        assert!(cohort.neighbours.windows(2).all(|w| w[0].distance <= w[1].distance));
        let shown: Vec<&str> =
            v["neighbours"].as_array().unwrap().iter().map(|n| n["pseudonym"].as_str().unwrap()).collect();
        for (n, p) in cohort.neighbours.iter().zip(&shown) {
            assert_eq!(f.key.pseudonym(&PatientId::new(n.id.clone()).unwrap()).as_str(), *p);
        }
        let text = out.result.to_string();
        for other in f.ids.iter().filter(|o| *o != id) {
            assert!(!text.contains(&format!("\"{}\"", other.as_str())), "{other} named in {id}'s result");
        }
        let entry = tool_call_entry(&doc(), Some("s"), &out);
        let EntryBody::ToolCall { cohort: Some(record), .. } = &entry.body else { panic!("{:?}", entry.body) };
        assert_eq!(record.neighbours, cohort.neighbours);
        assert_eq!(record.encoder_version.to_hex(), v["twin_version"].as_str().unwrap());
    }
    assert!(saw_figure && saw_refusal, "the cohort should give both figures and refusals at k {K}, min n {MIN_N}");
    assert!(saw_pooled, "a yes/no figure pooled with the index's prior, or why not");
}

#[tokio::test]
async fn explain_neighbourhood_counts_what_neighbours_share() {
    let f = fixture().await;
    let scope = Scope::patients(f.ids.iter().cloned());
    let mut listed = 0;
    for id in f.ids.iter().take(8) {
        let out = call_json(&f.ctx, &doc(), &scope, "explain_neighbourhood", &json!({"patient": id.as_str(), "k": K}))
            .await
            .unwrap();
        let v = &out.result["value"];
        let cohort = out.cohort.clone().unwrap();
        let neighbours: BTreeSet<&str> = cohort.neighbours.iter().map(|n| n.id.as_str()).collect();
        let female = {
            let mut n = 0;
            for p in &neighbours {
                let j = f.store.journey(&PatientId::new(*p).unwrap()).await.unwrap().unwrap();
                n += usize::from(j.patient.sex.as_deref() == Some("female"));
            }
            n
        };
        for s in v["shared"].as_array().unwrap() {
            let count = s["neighbours"].as_u64().unwrap() as usize;
            assert!((2..=K).contains(&count), "{s}");
            let share = s["neighbours_percent"].as_f64().unwrap();
            assert!((share - (100.0 * count as f64 / K as f64).round()).abs() < 1e-9, "{s}");
            assert!(share > s["population_percent"].as_f64().unwrap() - 0.5, "over-represented only: {s}");
            assert!(s["ratio"].as_f64().unwrap() > 1.0, "{s}");
            if s["kind"] == "feature" && s["name"] == "female" {
                assert_eq!(count, female, "{id}: female neighbours in the store");
            }
            listed += 1;
        }
        let text = out.result.to_string();
        assert!(neighbours.iter().all(|n| !text.contains(&format!("\"{n}\""))), "a neighbour named: {text}");
    }
    assert!(listed > 0, "some shared trait over 8 neighbourhoods");
}

#[tokio::test]
async fn cohort_tools_check_role_and_scope_and_say_what_is_missing() {
    let f = fixture().await;
    let (a, b) = (&f.ids[0], &f.ids[1]);
    let only_a = Scope::patients([a.clone()]);
    for tool in ["similar_patients", "explain_neighbourhood"] {
        let err = call_json(&f.ctx, &doc(), &only_a, tool, &json!({"patient": b.as_str()})).await.unwrap_err();
        assert!(matches!(err, ToolError::OutOfScope { .. }), "{err}");
        let auditor = Principal::new("aud", Role::Auditor);
        let err = call_json(&f.ctx, &auditor, &only_a, tool, &json!({"patient": a.as_str()})).await.unwrap_err();
        assert!(matches!(err, ToolError::WrongRole { .. }), "{err}");
        let err =
            call_json(&f.ctx, &doc(), &only_a, tool, &json!({"patient": a.as_str(), "k": 500})).await.unwrap_err();
        assert!(matches!(err, ToolError::BadArguments { ref field, .. } if field == "k"), "{err}");
    }

    // No twin in an empty registry: the error names it, where, and the command.
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = AuditLog::open(&format!("sqlite://{}", empty_dir.path().join("a.sqlite").display())).await.unwrap();
    let why = match CohortHandles::load(
        &f.store,
        empty_dir.path(),
        &IndexConfig::local(empty_dir.path()),
        &ModelRegistry::new(empty),
    )
    .await
    {
        Err(e) => e,
        Ok(_) => panic!("loaded a cohort without a twin"),
    };
    assert!(why.0.contains("no active twin model") && why.0.contains("rdt train"), "{why}");
    let ctx = ToolContext::new(f.store.clone()).without_cohort(why);
    let err = call_json(&ctx, &doc(), &only_a, "similar_patients", &json!({"patient": a.as_str()})).await.unwrap_err();
    assert!(matches!(err, ToolError::Unavailable { .. }) && err.to_string().contains("rdt train"), "{err}");

    // The twin is there but the index of this data dir is empty: says `rdt embed`.
    let why =
        match CohortHandles::load(&f.store, f.dir.path(), &IndexConfig::local(empty_dir.path()), &f.registry).await {
            Err(e) => e,
            Ok(_) => panic!("loaded a cohort over an empty index"),
        };
    assert!(why.0.contains("empty") && why.0.contains("rdt embed"), "{why}");
    // And the install's own index loads.
    assert!(CohortHandles::load(&f.store, f.dir.path(), &IndexConfig::local(f.dir.path()), &f.registry).await.is_ok());
}

/// Extreme values a question or a model can put in any argument: zero, negatives,
/// the edges of 32- and 64-bit integers and of f64, empty and huge strings, the first
/// and last dates, and values of the wrong type.
fn extremes() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1),
        json!(99_999_999),
        json!(u32::MAX),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(9_007_199_254_740_993u64),
        json!(1e308),
        json!(-1e308),
        json!(0.5),
        json!(""),
        json!("x".repeat(10_000)),
        json!("9999-12-31"),
        json!("0001-01-01"),
        json!("+262143-12-31"),
        json!(true),
        Value::Null,
        json!([]),
        json!({}),
    ]
}

/// Every tool, every argument, every extreme value (one argument at a time, the rest
/// as a model would leave them): each call returns an answer or a clear error, never a
/// panic, and within its bounds.
#[tokio::test]
async fn every_tool_survives_extreme_arguments() {
    let f = fixture().await;
    let scope = Scope::patients([f.ids[0].clone()]);
    let mut calls = 0;
    for spec in tools::specs() {
        let properties = spec.input_schema["properties"].as_object().cloned().unwrap_or_default();
        for name in properties.keys() {
            for value in extremes() {
                let mut args = serde_json::Map::new();
                if name != "patient" && properties.contains_key("patient") {
                    args.insert("patient".into(), json!(f.ids[0].as_str()));
                }
                args.insert(name.clone(), value.clone());
                let args = Value::Object(args);
                match call_json(&f.ctx, &doc(), &scope, spec.name.as_str(), &args).await {
                    Ok(result) => {
                        let bytes = serde_json::to_vec(&result.result).unwrap().len();
                        assert!(bytes <= spec.max_bytes + 1024, "{} {args}: {bytes} bytes", spec.name.as_str());
                    }
                    Err(e) => assert!(!e.to_string().is_empty(), "{} {args}", spec.name.as_str()),
                }
                calls += 1;
            }
        }
    }
    assert!(calls > 100, "{calls} calls");
}
