//! Neighbour index speed and recall, the backends side by side in one run; and the
//! twin update (event -> store -> re-embed -> upsert -> fresh neighbours).
//!
//! Data (`RDT_BENCH_DATA`): `twin` (default) imitates real twin vectors, which are
//! anisotropic and clustered (on a 1,500-patient cohort: the mean of the unit twins
//! has norm 0.58, a twin's nearest other twin is at cosine 0.99 while two random twins
//! are at 0.32): a shared offset, 200 phenotype clusters in a 16-dimensional latent
//! space mapped into the twin's width (`RDT_BENCH_DIM`, default 64), each patient a
//! point near its cluster, its four snapshots (three historical, one live) drifting
//! from it, plus isotropic noise; the run prints the same three statistics for the
//! synthetic data. `mixture` is the older, harder set: half uniform on the sphere,
//! half around 1,000 centres.
//!
//! For each size (`RDT_BENCH_SIZES`, default `100000,1000000`) the in-process index
//! is queried `RDT_BENCH_QUERIES` times (default 300; queries from the same
//! distribution, k = 10, one per patient): exact scan (the reference for recall@10),
//! then for each graph configuration in `RDT_BENCH_GRAPHS` (`M:ef_add:f32|f16`,
//! comma-separated; default the index's default) the HNSW graph at each search
//! breadth in `RDT_BENCH_EFS` (default the configuration's own), plus one filtered
//! row (excluding the query's nearest patient, follow-up >= 180 days). Build time is
//! the first open (build + save of the graph), load time the second (the saved graph
//! read back). With `RDT_QDRANT_URL` the same points go to a Qdrant collection and
//! its HNSW search is measured and scored against the same exact answers (sizes up
//! to `RDT_BENCH_QDRANT_MAX`, default 100000).
//!
//! Twin update (`RDT_BENCH_UPDATE_PATIENTS`, default 100000; 0 skips it): a SQLite
//! store of that many synthetic patients (about 30 events each), a 64-wide twin
//! trained on 300 of them, an index of every patient's snapshots (their vectors
//! random but of the twin's version: the index's size, not its content, costs
//! time), then `RDT_BENCH_UPDATES` (default 200) calls of `sync::add_event` plus a
//! 10-NN query for the patient's new twin; then `RDT_BENCH_PUSHES` (default 20)
//! pushes of 1,000 observations about 100 patients each: one committed write, then
//! `catch_up` from the store's change feed.
//!
//! Run: `cargo bench -p twin-core --bench index` (add `RDT_QDRANT_URL=http://127.0.0.1:6334`
//! for Qdrant). Results: `docs/benchmarks/index.md`.

use std::time::{Duration, Instant};

use audit_log::{AuditLog, Digest, ModelRegistry, Principal, Role};
use chrono::{TimeZone, Utc};
use twin_core::index::catch_up::{catch_up, AlertModels};
use twin_core::index::{
    sync, GraphParams, GraphScalar, IndexConfig, IndexPoint, LocalConfig, LocalIndex, NeighbourIndex, NeighbourQuery,
    PointId, QdrantConfig, SnapshotKind, SnapshotPlan,
};
use journey::store::Database;
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};
use journey::{Code, Event, JourneyStore, Modality, PatientId, Phase, Quantity, Source};

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

/// Twin-like vectors: a shared offset, phenotype clusters in a low-dimensional
/// latent space, patients near their cluster, snapshots drifting from the patient,
/// isotropic noise.
struct TwinLike {
    dim: usize,
    offset: Vec<f32>,
    /// dim x LATENT, row-major.
    mixing: Vec<f32>,
    centres: Vec<Vec<f32>>,
}

const LATENT: usize = 16;
const CLUSTERS: usize = 200;

impl TwinLike {
    fn new(rng: &mut Rng, dim: usize) -> Self {
        let offset = rng.gaussian(dim).iter().map(|x| 0.6 * x).collect();
        let mixing = (0..dim * LATENT).map(|_| rng.normal() / (LATENT as f32).sqrt()).collect();
        let centres = (0..CLUSTERS).map(|_| rng.gaussian(LATENT)).collect();
        TwinLike { dim, offset, mixing, centres }
    }

    fn project(&self, latent: &[f32], rng: &mut Rng, noise: f32) -> Vec<f32> {
        (0..self.dim)
            .map(|d| {
                let m = &self.mixing[d * LATENT..(d + 1) * LATENT];
                self.offset[d] + m.iter().zip(latent).map(|(a, b)| a * b).sum::<f32>() + noise * rng.normal()
            })
            .collect()
    }

    /// A patient's latent position (near one cluster).
    fn patient(&self, rng: &mut Rng) -> Vec<f32> {
        let c = &self.centres[(rng.next() % self.centres.len() as u64) as usize];
        c.iter().map(|x| x + 0.15 * rng.normal()).collect()
    }

    /// `n` snapshots of one patient: a drift along the record.
    fn snapshots(&self, rng: &mut Rng, n: usize) -> Vec<Vec<f32>> {
        let base = self.patient(rng);
        let drift: Vec<f32> = (0..LATENT).map(|_| 0.06 * rng.normal()).collect();
        (0..n)
            .map(|s| {
                let at: Vec<f32> = base.iter().zip(&drift).map(|(b, d)| b + s as f32 * d).collect();
                self.project(&at, rng, 0.03)
            })
            .collect()
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// The statistics the twin-like data imitates, on the first 1,500 patients' live
/// points: the norm of the mean unit vector, the mean cosine to the nearest other
/// point, the mean cosine between two points.
fn likeness(points: &[IndexPoint]) -> (f32, f32, f32) {
    let live: Vec<Vec<f32>> =
        points.iter().filter(|p| p.kind == SnapshotKind::Live).take(1500).map(|p| unit(&p.vector)).collect();
    let n = live.len();
    let dim = live[0].len();
    let mean: Vec<f32> = (0..dim).map(|d| live.iter().map(|v| v[d]).sum::<f32>() / n as f32).collect();
    let (mut nearest, mut all) = (0f64, 0f64);
    for (i, a) in live.iter().enumerate() {
        let mut best = f32::MIN;
        for (j, b) in live.iter().enumerate() {
            if i != j {
                let c: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                best = best.max(c);
                all += c as f64;
            }
        }
        nearest += best as f64;
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm, (nearest / n as f64) as f32, (all / (n * (n - 1)) as f64) as f32)
}

/// `size` points, four snapshots per patient (as `rdt embed` makes for a couple of
/// years of record), and `n_queries` queries from the same distribution.
fn dataset(kind: &str, size: usize, dim: usize, n_queries: usize) -> (Vec<IndexPoint>, Vec<NeighbourQuery>) {
    let mut rng = Rng(size as u64);
    let version = Digest([7; 32]);
    let t0 = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let point = |i: usize, vector: Vec<f32>| IndexPoint {
        patient: PatientId::new(format!("p{}", i / 4)).unwrap(),
        index_time: t0 + chrono::Duration::days(180 * (i % 4) as i64),
        kind: if i % 4 == 3 { SnapshotKind::Live } else { SnapshotKind::Historical },
        follow_up_days: if i % 4 == 3 { 0 } else { 180 * (3 - (i % 4) as u32) },
        twin_version: version,
        vector,
    };
    if kind == "mixture" {
        let centres: Vec<Vec<f32>> = (0..1000).map(|_| rng.gaussian(dim)).collect();
        let points = (0..size).map(|i| point(i, mixture(&mut rng, &centres, i, dim))).collect();
        let queries = (0..n_queries).map(|i| NeighbourQuery::new(mixture(&mut rng, &centres, i, dim), 10)).collect();
        (points, queries)
    } else {
        let twins = TwinLike::new(&mut rng, dim);
        let mut points = Vec::with_capacity(size);
        while points.len() < size {
            for v in twins.snapshots(&mut rng, 4) {
                if points.len() < size {
                    points.push(point(points.len(), v));
                }
            }
        }
        let queries = (0..n_queries).map(|_| NeighbourQuery::new(twins.snapshots(&mut rng, 1).remove(0), 10)).collect();
        (points, queries)
    }
}

/// Parses `M:ef_add:f32|f16`.
fn graph_params(spec: &str) -> Option<GraphParams> {
    let mut parts = spec.trim().split(':');
    let connectivity = parts.next()?.parse().ok()?;
    let expansion_add = parts.next()?.parse().ok()?;
    let scalar = match parts.next()? {
        "f32" => GraphScalar::F32,
        "f16" => GraphScalar::F16,
        _ => return None,
    };
    Some(GraphParams { connectivity, expansion_add, scalar, ..GraphParams::default() })
}

/// Peak resident memory of this process so far, MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
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

fn row(name: &str, size: usize, t: &Timing, extra: &str) {
    let recall = t.recall.map_or("(reference)".to_owned(), |r| format!("{r:.3}"));
    println!("| {size} | {name} | {:.3} | {:.3} | {recall} | {extra} |", t.p50, t.p99);
}

fn main() {
    let dim: usize = env("RDT_BENCH_DIM", 64);
    let n_queries: usize = env("RDT_BENCH_QUERIES", 300);
    let data: String = env("RDT_BENCH_DATA", "twin".to_owned());
    let list = |name: &str, default: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let sizes: Vec<usize> = list("RDT_BENCH_SIZES", "100000,1000000").iter().filter_map(|s| s.parse().ok()).collect();
    let graphs: Vec<GraphParams> = {
        let specs = list("RDT_BENCH_GRAPHS", "");
        if specs.is_empty() {
            vec![GraphParams::default()]
        } else {
            specs.iter().map(|s| graph_params(s).unwrap_or_else(|| panic!("RDT_BENCH_GRAPHS: bad entry {s}"))).collect()
        }
    };
    let efs: Vec<usize> = list("RDT_BENCH_EFS", "").iter().filter_map(|s| s.parse().ok()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let qdrant = std::env::var("RDT_QDRANT_URL").ok().filter(|u| !u.is_empty());
    // Qdrant indexes a large upload in the background for minutes on 2 cores.
    let qdrant_max: usize = env("RDT_BENCH_QDRANT_MAX", 100_000);
    if qdrant.is_none() {
        eprintln!("RDT_QDRANT_URL not set: Qdrant not measured");
    }
    println!(
        "threads: {}, dim {dim}, data {data}, {n_queries} queries per row, k = 10, one per patient; load average {}",
        rayon::current_num_threads(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    println!();
    println!("| points | backend | p50 ms | p99 ms | recall@10 | build / memory |");
    println!("|---|---|---|---|---|---|");
    for &size in &sizes {
        let (points, queries) = dataset(&data, size, dim, n_queries);
        let (mean_norm, nearest, random) = likeness(&points);
        eprintln!(
            "{size} points: mean unit vector norm {mean_norm:.2}, nearest cosine {nearest:.3}, random cosine {random:.3} \
             (on 1,500 live points)"
        );
        // The filtered row: not the query's own nearest patient, >= 180 days of follow-up.
        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig { exact_below: usize::MAX, ..LocalConfig::new(dir.path().join("index")) };
        let mut exact = LocalIndex::open(&config).unwrap();
        let start = Instant::now();
        exact.upsert(&points).unwrap();
        let load_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        exact.flush().unwrap();
        let flush_secs = start.elapsed().as_secs_f64();
        let (exact_t, truth) =
            time_queries(&queries, None, |q| exact.search(q).unwrap().iter().map(|n| n.id).collect());
        let filtered: Vec<NeighbourQuery> = queries
            .iter()
            .map(|q| {
                let nearest = exact.search(q).unwrap()[0].patient.clone();
                q.clone().excluding(nearest).min_follow_up_days(180)
            })
            .collect();
        let (exact_f, truth_f) =
            time_queries(&filtered, None, |q| exact.search(q).unwrap().iter().map(|n| n.id).collect());
        row("in-process exact scan", size, &exact_t, &format!("upsert {load_secs:.1} s, snapshot {flush_secs:.1} s"));
        row("in-process exact scan, filtered", size, &exact_f, "");
        drop(exact);
        drop(points);

        for params in &graphs {
            // First open: the graph is built from the snapshot and saved beside it.
            let graph_config = LocalConfig { exact_below: 0, graph: *params, ..config.clone() };
            let start = Instant::now();
            let graph = LocalIndex::open(&graph_config).unwrap();
            let build_secs = start.elapsed().as_secs_f64();
            drop(graph);
            // Second open: the saved graph is read back.
            let start = Instant::now();
            let mut graph = LocalIndex::open(&graph_config).unwrap();
            let open_secs = start.elapsed().as_secs_f64();
            let memory = graph.graph_memory_bytes().unwrap_or(0) as f64 / (1 << 20) as f64;
            let scalar = match params.scalar {
                GraphScalar::F32 => "f32",
                GraphScalar::F16 => "f16",
            };
            let name = |ef: usize| {
                format!("HNSW usearch M {} ef_add {} {scalar}, ef {ef}", params.connectivity, params.expansion_add)
            };
            let mut first = true;
            let widths = if efs.is_empty() { vec![params.expansion_search] } else { efs.clone() };
            for &ef in &widths {
                graph.set_search_expansion(ef);
                let (t, _) =
                    time_queries(&queries, Some(&truth), |q| graph.search(q).unwrap().iter().map(|n| n.id).collect());
                let extra = if first {
                    format!("open: build + save {build_secs:.1} s, load {open_secs:.1} s; graph {memory:.0} MB")
                } else {
                    String::new()
                };
                first = false;
                row(&name(ef), size, &t, &extra);
            }
            graph.set_search_expansion(params.expansion_search);
            let (t, _) =
                time_queries(&filtered, Some(&truth_f), |q| graph.search(q).unwrap().iter().map(|n| n.id).collect());
            row(&format!("{}, filtered", name(params.expansion_search)), size, &t, "");
            drop(graph);
            let _ = std::fs::remove_file(graph_config.dir.join(twin_core::index::graph::GRAPH_FILE));
        }
        eprintln!("{size} points: peak resident memory of the bench so far {:.0} MB", peak_rss_mb());

        if let Some(url) = qdrant.as_ref().filter(|_| size <= qdrant_max) {
            let (points, _) = dataset(&data, size, dim, 0);
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
                let upsert_secs = start.elapsed().as_secs_f64();
                let NeighbourIndex::Qdrant(q) = &index else { unreachable!() };
                // Time queries only once the server's optimiser has indexed the upload
                // (else its answer is a scan).
                let start = Instant::now();
                let indexed = q.wait_indexed(Duration::from_secs(env("RDT_BENCH_QDRANT_WAIT", 1800))).await.unwrap();
                let index_secs = start.elapsed().as_secs_f64();
                if !indexed {
                    eprintln!("{size} points: Qdrant had not indexed every point after {index_secs:.0} s");
                }
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
                row(
                    "Qdrant 1.16 HNSW (default m 16, ef 256, gRPC)",
                    size,
                    &t,
                    &format!("upsert {upsert_secs:.1} s, indexing {index_secs:.1} s more"),
                );
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
            name: Default::default(),
            file: "bench".into(),
            resource_type: "Observation".into(),
            resource_id: key,
            part: String::new(),
        },
        concept: None,
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
        let patients: Vec<_> = events.iter().map(|e| journey::PatientRecord::new(e.patient.clone())).collect();
        file.upsert_patients(&patients).await.unwrap();
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
    let width = model.manifest.spec.twin_width(model.manifest.fusion.twin_size);
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
    let config = IndexConfig::Local(LocalConfig { exact_below: 50_000, ..LocalConfig::new(work.path().join("index")) });
    let mut index = NeighbourIndex::open(&config).await.unwrap();
    index.upsert(&points).await.unwrap();
    index.flush().await.unwrap();
    let n_points = index.len().await.unwrap();
    drop(points);
    // The index holds every stored patient now: the change feed is caught up, as after
    // `rdt embed`.
    let latest = store.latest_change().await.unwrap().expect("the writes are in the feed");
    store.acknowledge_changes_through(latest).await.unwrap();

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

    // A push of 1,000 observations about 100 patients (what one FHIR Bundle of the
    // issue's benchmark carries): one committed write (the feed names the 100), then
    // the catch-up (batched re-embedding, remove + upsert, flush, acknowledgement).
    let pushes: usize = env("RDT_BENCH_PUSHES", 20);
    let (mut whole, mut caught, mut each) = (Vec::new(), Vec::new(), Vec::new());
    for push in 0..pushes {
        let chosen: std::collections::BTreeSet<usize> =
            std::iter::repeat_with(|| (rng.next() % patients as u64) as usize).take(100).collect();
        let events: Vec<Event> = chosen
            .iter()
            .flat_map(|&p| {
                let id = PatientId::new(format!("u{p:06}")).unwrap();
                (0..1000 / chosen.len())
                    .map(|i| {
                        let day = 1300 + (push * 10 + i) as i64;
                        let key = format!("push-{push}-{p}-{i}");
                        event(&id, day, "1988-5", 40.0 * rng.uniform() as f64, Modality::Lab, key)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let start = Instant::now();
        let mut batch = store.begin().await.unwrap();
        let mut file = batch.file().await.unwrap();
        file.replace_events(&events).await.unwrap();
        file.commit().await.unwrap();
        batch.commit().await.unwrap();
        let written = Instant::now();
        let done = catch_up(&store, work.path(), &registry, &model, &mut index, &AlertModels::default(), |_| {}).await.unwrap();
        assert_eq!(done.patients, chosen.len());
        caught.push(written.elapsed());
        each.push(written.elapsed() / chosen.len() as u32);
        whole.push(start.elapsed());
    }
    whole.sort();
    caught.sort();
    each.sort();
    println!();
    println!("| push | patients | index points | write + catch-up p50 ms | p99 ms | catch-up p50 ms | per patient p50 ms |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| 1,000 events about ~100 patients (x{pushes}) | {patients} | {} | {:.1} | {:.1} | {:.1} | {:.2} |",
        index.len().await.unwrap(),
        percentile(&whole, 0.5),
        percentile(&whole, 0.99),
        percentile(&caught, 0.5),
        percentile(&each, 0.5),
    );
}
