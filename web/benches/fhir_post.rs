//! `POST /fhir` end to end to fresh twins: a hospital system pushes transaction
//! Bundles of 1,000 Observations about 100 patients (10 each) to the in-process router
//! (`app(state).oneshot`, no socket), and each answer comes only after the request was
//! streamed to disk, parsed, imported all or nothing, audited and the 100 patients'
//! twins re-embedded into the index (the store's change feed, `twin_core::index::catch_up`).
//!
//! The install: a virtual cohort of `RDT_BENCH_PATIENTS` (default 2,000) imported, a
//! twin trained (`TrainOptions::default()` with one pretraining and one fusion epoch)
//! and the index built (`rebuild`). `RDT_BENCH_POSTS` (default 20) Bundles, each about
//! 100 patients drawn anew. Run: `cargo bench -p web --bench fhir_post`; results in
//! `docs/benchmarks/living-twin.md`.

use std::time::{Duration, Instant};

use audit_log::{Principal, Role};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use journey::fhir::{Importer, NoProgress};
use journey::{Database, JourneyStore, SourceName};
use serde_json::{json, Value};
use tower::ServiceExt;
use twin_core::index::rebuild::rebuild;
use twin_core::index::{IndexConfig, SnapshotPlan};
use twin_core::progress::NoProgress as Quiet;
use twin_core::twin::{load_active, train_and_register, TrainOptions, TrainRequest};
use web::{app, AppState, WebConfig};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let (patients, posts): (usize, usize) = (env("RDT_BENCH_PATIENTS", 2000), env("RDT_BENCH_POSTS", 20));
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let started = Instant::now();
    synth::generate(&synth::Params { patients, seed: 22, ..Default::default() }, &export).unwrap();
    let database = Database::Sqlite(dir.path().join("journey.sqlite"));
    let store = JourneyStore::open(&database).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let ids: Vec<String> = store.patients().await.unwrap().iter().map(|p| p.patient.id.as_str().to_owned()).collect();
    let state = AppState::open(WebConfig::new(dir.path().to_owned(), database)).await.unwrap();
    let registry = state.registry();
    let by = Principal::new("bench", Role::Governance);
    let mut options = TrainOptions::default();
    options.pretrain.epochs = 1;
    options.fusion.epochs = 1;
    let request = TrainRequest { options, max_patients: None, notes: false, by: by.clone(), until: None };
    train_and_register(&store, dir.path(), &registry, &request, &Quiet).await.unwrap();
    let model = load_active(dir.path(), &registry).await.unwrap();
    let twins = dir.path().join("twins.jsonl");
    let plan = SnapshotPlan::default();
    let built =
        rebuild(&store, dir.path(), &registry, &model, &IndexConfig::local(dir.path()), &plan, false, &twins, &by, &Quiet)
            .await
            .unwrap();
    eprintln!(
        "install: {patients} patients, {} index points, ready in {:.0} s",
        built.points,
        started.elapsed().as_secs_f64()
    );
    let token = state.users().add_token("bench-feed", &"default".parse::<SourceName>().unwrap()).await.unwrap();

    let mut seed = 0x5eed_u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut times = Vec::with_capacity(posts);
    for post in 0..posts {
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < 100 {
            chosen.insert(&ids[next() % ids.len()]);
        }
        let entry: Vec<Value> = chosen
            .iter()
            .flat_map(|patient| {
                (0..10).map(move |i| {
                    let id = format!("bench-{post}-{patient}-{i}");
                    json!({"resource": {"resourceType": "Observation", "id": id, "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
                        "subject": {"reference": format!("Patient/{patient}")},
                        "effectiveDateTime": format!("2030-01-{:02}T09:00:00Z", i + 1),
                        "valueQuantity": {"value": 5.0 + i as f64, "unit": "mg/L"}},
                        "request": {"method": "PUT", "url": format!("Observation/{id}")}})
                })
            })
            .collect();
        let body = json!({"resourceType": "Bundle", "type": "transaction", "entry": entry}).to_string();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/fhir")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap();
        let start = Instant::now();
        let res = app(state.clone()).oneshot(req).await.unwrap();
        let elapsed = start.elapsed();
        let twins = res.headers().get("x-rdt-twins").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_eq!(res.status(), StatusCode::OK, "{twins}");
        assert!(twins.starts_with("twins updated: 100 patients"), "{twins}");
        times.push(elapsed);
    }
    times.sort();
    println!();
    println!("| patients in the store | index points | Bundles | resources each | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {patients} | {} | {posts} | 1,000 (100 patients) | {:.0} | {:.0} |",
        built.points,
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}
