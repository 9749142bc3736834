//! Neighbour index speed and recall, the backends side by side in one run; and the
//! twin update (event -> store -> re-embed -> upsert -> fresh neighbours).
//!
//! Data: vectors of the twin's width (`RDT_BENCH_DIM`, default 64): half uniform on
//! the sphere, half in 1,000 clusters (so a neighbourhood is structured and recall
//! means something). Queries come from the same mixture. For each size
//! (`RDT_BENCH_SIZES`, default `100000,1000000`) the in-process index is built and
//! queried three ways, each `RDT_BENCH_QUERIES` times (default 300): exact scan, HNSW
//! graph at the default ef, and the graph at a wider ef; recall@10 is against the
//! exact scan. With `RDT_QDRANT_URL` the same points go to a Qdrant collection and
//! its HNSW search is measured and scored against the same exact answers (sizes up
//! to `RDT_BENCH_QDRANT_MAX`, default 100000).
//!
//! Twin update (`RDT_BENCH_UPDATE_PATIENTS`, default 100000; 0 skips it): a SQLite
//! store of that many synthetic patients (about 30 events each), a 64-wide twin
//! trained on 300 of them, an index of every patient's snapshots (their vectors
//! random but of the twin's version: the index's size, not its content, costs
//! time), then `RDT_BENCH_UPDATES` (default 200) calls of `sync::add_event` plus a
//! 10-NN query for the patient's new twin.
//!
//! Run: `cargo bench -p twin-core --bench index` (add `RDT_QDRANT_URL=http://127.0.0.1:6334`
//! for Qdrant). Results: `docs/benchmarks/index.md`.

use std::time::{Duration, Instant};

use audit_log::{AuditLog, Digest, ModelRegistry, Principal, Role};
use chrono::{TimeZone, Utc};
use twin_core::index::{
    sync, IndexConfig, IndexPoint, LocalConfig, LocalIndex, NeighbourIndex, NeighbourQuery, PointId, QdrantConfig,
    SnapshotKind, SnapshotPlan,
};
use twin_core::store::Database;
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};
use twin_core::{Code, Event, JourneyStore, Modality, PatientId, Phase, Quantity, Source};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
    fn gaussian(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.normal()).collect()
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Vector `i` of the mixture: even = uniform on the sphere, odd = near one of the
/// cluster centres.
fn mixture(rng: &mut Rng, centres: &[Vec<f32>], i: usize, dim: usize) -> Vec<f32> {
    if i % 2 == 0 {
        rng.gaussian(dim)
    } else {
        let c = &centres[(rng.next() % centres.len() as u64) as usize];
        c.iter().map(|x| x + 0.35 * rng.normal()).collect()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

struct Timing {
    p50: f64,
    p99: f64,
    recall: Option<f64>,
}

fn time_queries(
    queries: &[NeighbourQuery],
    truth: Option<&[Vec<PointId>]>,
    mut run: impl FnMut(&NeighbourQuery) -> Vec<PointId>,
) -> (Timing, Vec<Vec<PointId>>) {
    let mut times = Vec::with_capacity(queries.len());
    let mut answers = Vec::with_capacity(queries.len());
    for q in queries {
        let start = Instant::now();
        let ids = run(q);
        times.push(start.elapsed());
        answers.push(ids);
    }
    times.sort();
    let recall = truth.map(|truth| {
        let hits: usize = answers.iter().zip(truth).map(|(a, t)| a.iter().filter(|id| t.contains(id)).count()).sum();
        let total: usize = truth.iter().map(Vec::len).sum();
        hits as f64 / total as f64
    });
    (Timing { p50: percentile(&times, 0.5), p99: percentile(&times, 0.99), recall }, answers)
}

fn row(name: &str, size: usize, t: &Timing) {
    let recall = t.recall.map_or("(reference)".to_owned(), |r| format!("{r:.3}"));
    println!("| {size} | {name} | {:.3} | {:.3} | {recall} |", t.p50, t.p99);
}

fn main() {
    let dim: usize = env("RDT_BENCH_DIM", 64);
    let n_queries: usize = env("RDT_BENCH_QUERIES", 300);
    let sizes: Vec<usize> = std::env::var("RDT_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let qdrant = std::env::var("RDT_QDRANT_URL").ok().filter(|u| !u.is_empty());
    // Qdrant indexes a large upload in the background for minutes on 2 cores.
    let qdrant_max: usize = env("RDT_BENCH_QDRANT_MAX", 100_000);
    if qdrant.is_none() {
        eprintln!("RDT_QDRANT_URL not set: Qdrant not measured");
    }
    println!(
        "threads: {}, dim {dim}, {n_queries} queries per row, k = 10, one per patient",
        rayon::current_num_threads()
    );
    println!();
    println!("| points | backend | p50 ms | p99 ms | recall@10 |");
    println!("|---|---|---|---|---|");
    let version = Digest([7; 32]);
    for &size in &sizes {
        let mut rng = Rng(size as u64);
        let centres: Vec<Vec<f32>> = (0..1000).map(|_| rng.gaussian(dim)).collect();
        let t0 = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        // Four snapshots per patient, as `rdt embed` makes for a few years of record.
        let points: Vec<IndexPoint> = (0..size)
            .map(|i| IndexPoint {
                patient: PatientId::new(format!("p{}", i / 4)).unwrap(),
                index_time: t0 + chrono::Duration::days(180 * (i % 4) as i64),
                kind: if i % 4 == 3 { SnapshotKind::Live } else { SnapshotKind::Historical },
                follow_up_days: if i % 4 == 3 { 0 } else { 180 * (3 - (i % 4) as u32) },
                twin_version: version,
                vector: mixture(&mut rng, &centres, i, dim),
            })
            .collect();
        let queries: Vec<NeighbourQuery> =
            (0..n_queries).map(|i| NeighbourQuery::new(mixture(&mut rng, &centres, i, dim), 10)).collect();

        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig { dir: dir.path().join("index"), exact_below: usize::MAX };
        let mut exact = LocalIndex::open(&config).unwrap();
        let start = Instant::now();
        exact.upsert(&points).unwrap();
        let load_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        exact.flush().unwrap();
        let flush_secs = start.elapsed().as_secs_f64();
        let (exact_t, truth) =
            time_queries(&queries, None, |q| exact.search(q).unwrap().iter().map(|n| n.id).collect());
        row("in-process exact scan", size, &exact_t);
        drop(exact);

        // Reopen from disk, with the graph.
        let start = Instant::now();
        let graph_config = LocalConfig { exact_below: 0, ..config.clone() };
        let mut graph = LocalIndex::open(&graph_config).unwrap();
        let build_secs = start.elapsed().as_secs_f64();
        for ef in [twin_core::index::graph::EXPANSION_SEARCH, 2 * twin_core::index::graph::EXPANSION_SEARCH] {
            graph.set_search_expansion(ef);
            let (t, _) =
                time_queries(&queries, Some(&truth), |q| graph.search(q).unwrap().iter().map(|n| n.id).collect());
            row(&format!("in-process HNSW (usearch, ef {ef})"), size, &t);
        }
        eprintln!(
            "{size} points: upsert {load_secs:.1} s, snapshot write {flush_secs:.1} s, reopen + graph build {build_secs:.1} s"
        );
        drop(graph);

        if let Some(url) = qdrant.as_ref().filter(|_| size <= qdrant_max) {
            runtime.block_on(async {
                let config = IndexConfig::Qdrant(QdrantConfig {
                    url: url.clone(),
                    collection: format!("rdt_bench_{size}"),
                    exact: false,
                });
                let mut index = NeighbourIndex::open(&config).await.unwrap();
                index.clear().await.unwrap();
                let start = Instant::now();
                for chunk in points.chunks(4096) {
                    index.upsert(chunk).await.unwrap();
                }
                eprintln!("{size} points: Qdrant upsert {:.1} s", start.elapsed().as_secs_f64());
                // Let the server finish indexing before timing queries.
                tokio::time::sleep(Duration::from_secs(5)).await;
                let mut times = Vec::new();
                let mut answers = Vec::new();
                for q in &queries {
                    let start = Instant::now();
                    let found = index.search(q).await.unwrap();
                    times.push(start.elapsed());
                    answers.push(found.iter().map(|n| n.id).collect::<Vec<_>>());
                }
                times.sort();
                let hits: usize =
                    answers.iter().zip(&truth).map(|(a, t)| a.iter().filter(|id| t.contains(id)).count()).sum();
                let total: usize = truth.iter().map(Vec::len).sum();
                let t = Timing {
                    p50: percentile(&times, 0.5),
                    p99: percentile(&times, 0.99),
                    recall: Some(hits as f64 / total as f64),
                };
                row("Qdrant 1.16 HNSW (ef 256, gRPC)", size, &t);
                index.clear().await.unwrap();
            });
        }
    }

    let patients: usize = env("RDT_BENCH_UPDATE_PATIENTS", 100_000);
    if patients > 0 {
        runtime.block_on(twin_update(patients, env("RDT_BENCH_UPDATES", 200)));
    }
}

fn event(patient: &PatientId, day: i64, code: &str, value: f64, modality: Modality, key: String) -> Event {
    Event {
        patient: patient.clone(),
        time: Utc.with_ymd_and_hms(2019, 1, 1, 9, 0, 0).unwrap() + chrono::Duration::days(day),
        code: Code { system: "http://loinc.org".into(), code: code.into(), display: None },
        value: Some(Quantity { value, unit: None }),
        text: None,
        modality,
        phase: Phase::Point,
        source: Source {
            file: "bench".into(),
            resource_type: "Observation".into(),
            resource_id: key,
            part: String::new(),
        },
    }
}

/// About 30 events over three years: CRP and ESR, DAS28, a drug start.
fn journey(rng: &mut Rng, p: usize) -> Vec<Event> {
    let id = PatientId::new(format!("u{p:06}")).unwrap();
    let mut out = Vec::new();
    for visit in 0..10 {
        let day = visit * 110 + (rng.next() % 30) as i64;
        let activity = 2.0 + 4.0 * rng.uniform() as f64;
        out.push(event(
            &id,
            day,
            "1988-5",
            3.0 + 20.0 * rng.uniform() as f64,
            Modality::Lab,
            format!("{p}-crp-{visit}"),
        ));
        out.push(event(
            &id,
            day,
            "4537-7",
            5.0 + 40.0 * rng.uniform() as f64,
            Modality::Lab,
            format!("{p}-esr-{visit}"),
        ));
        out.push(event(&id, day, "das28", activity, Modality::DiseaseActivity, format!("{p}-das-{visit}")));
    }
    out.sort_by_key(|e| e.time);
    out
}

async fn twin_update(patients: usize, updates: usize) {
    let work = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let store = JourneyStore::open(&Database::Sqlite(work.path().join("journey.sqlite"))).await.unwrap();
    let start = Instant::now();
    let mut sample = Vec::new();
    for chunk_start in (0..patients).step_by(5000) {
        let events: Vec<Event> =
            (chunk_start..(chunk_start + 5000).min(patients)).flat_map(|p| journey(&mut rng, p)).collect();
        if chunk_start == 0 {
            sample = events.clone();
        }
        let mut batch = store.begin().await.unwrap();
        let mut file = batch.file().await.unwrap();
        file.replace_events(&events).await.unwrap();
        file.commit().await.unwrap();
        batch.commit().await.unwrap();
    }
    eprintln!("twin update: {patients} patients stored in {:.1} s", start.elapsed().as_secs_f64());

    // A 64-wide twin trained briefly on 300 of them, saved, pinned and loaded like
    // any twin.
    let mut by_patient: std::collections::BTreeMap<PatientId, Vec<Event>> = Default::default();
    for e in sample {
        by_patient.entry(e.patient.clone()).or_default().push(e);
    }
    let journeys: Vec<&[Event]> = by_patient.values().take(300).map(Vec::as_slice).collect();
    let mut options = TrainOptions::default();
    options.pretrain.epochs = 1;
    options.fusion.epochs = 1;
    let trained = train_twin(&journeys, &options, &|_| None, |_, _| {}).unwrap();
    let saved =
        save(&work.path().join("models"), trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars)
            .unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", work.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log);
    register(&registry, &Principal::new("bench", Role::Governance), &saved, "bench").await.unwrap();
    let model = TwinModel::load(&saved.dir, &registry).await.unwrap();

    // Every patient's snapshots (as `rdt embed` plans them), random vectors.
    let plan = SnapshotPlan::default();
    let width = model.manifest.fusion.twin_size;
    let mut points = Vec::new();
    for p in 0..patients {
        let events = journey(&mut Rng(p as u64), p);
        for s in twin_core::index::build::snapshots(&events, &plan) {
            points.push(IndexPoint {
                patient: events[0].patient.clone(),
                index_time: s.index_time,
                kind: s.kind,
                follow_up_days: s.follow_up_days,
                twin_version: model.version,
                vector: rng.gaussian(width),
            });
        }
    }
    let config = IndexConfig::Local(LocalConfig { dir: work.path().join("index"), exact_below: 50_000 });
    let mut index = NeighbourIndex::open(&config).await.unwrap();
    index.upsert(&points).await.unwrap();
    index.flush().await.unwrap();
    let n_points = index.len().await.unwrap();
    drop(points);

    let mut times = Vec::with_capacity(updates);
    for u in 0..updates {
        let p = (rng.next() % patients as u64) as usize;
        let id = PatientId::new(format!("u{p:06}")).unwrap();
        let e = event(&id, 1200 + u as i64, "1988-5", 50.0 * rng.uniform() as f64, Modality::Lab, format!("new-{u}"));
        let start = Instant::now();
        let live = sync::add_event(&store, &model, &mut index, e, &plan, &|_| None).await.unwrap();
        let found = index.search(&NeighbourQuery::new(live.vector.clone(), 10).excluding(id)).await.unwrap();
        times.push(start.elapsed());
        assert_eq!(found.len(), 10);
    }
    times.sort();
    println!();
    println!("| patients | index points | twin update p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    println!("| {patients} | {n_points} | {:.2} | {:.2} |", percentile(&times, 0.5), percentile(&times, 0.99));
}
