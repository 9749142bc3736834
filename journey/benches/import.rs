//! Import throughput: resources per second into SQLite and into PostgreSQL, side by
//! side in one run.
//!
//! The Synthea fixtures are replicated (every id and `urn:uuid:` reference given a
//! per-copy prefix, so each copy is new data, not a re-import) to at least 200,000
//! resources, in both layouts: the original transaction Bundles, and the same
//! resources as Bulk Data NDJSON (one file per resource type). Each configuration runs
//! `RDT_BENCH_ROUNDS` times (default 3) into a fresh database, rounds interleaved so
//! that noise from other work on this shared machine hits every configuration alike;
//! the median is reported.
//!
//! Run: `RDT_TEST_POSTGRES_URL=$(scripts/postgres.sh) cargo bench -p journey --bench import`
//! (without the URL only SQLite is measured). Results: `docs/benchmarks/import.md`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::Connection;
use journey::fhir::{Importer, NoProgress};
use journey::store::Database;
use journey::JourneyStore;

const MIN_RESOURCES: usize = 200_000;

mod common;

fn main() {
    let rounds: usize = std::env::var("RDT_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/synthea-r4");
    let work = tempfile::tempdir().expect("temp dir");
    // `RDT_BENCH_DATA=DIR` keeps the generated input in DIR and reuses it (profiling).
    let data = std::env::var("RDT_BENCH_DATA").map(PathBuf::from).unwrap_or_else(|_| work.path().to_owned());
    let (resources, copies) = common::replicate(&fixtures, &data, MIN_RESOURCES);
    eprintln!("{resources} resources ({copies} copies of the fixtures) in each layout");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let postgres = std::env::var("RDT_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let mut configs: Vec<(&str, &str)> = vec![("SQLite", "bundles"), ("SQLite", "ndjson")];
    if postgres.is_some() {
        configs.extend([("PostgreSQL", "bundles"), ("PostgreSQL", "ndjson")]);
    } else {
        eprintln!("RDT_TEST_POSTGRES_URL not set: PostgreSQL not measured");
    }

    // `RDT_BENCH_ONLY=SQLite/ndjson,PostgreSQL/bundles` measures a subset (profiling).
    if let Ok(only) = std::env::var("RDT_BENCH_ONLY") {
        configs.retain(|(b, l)| only.split(',').any(|o| o == format!("{b}/{l}")));
    }

    let mut times: BTreeMap<(&str, &str), Vec<Duration>> = BTreeMap::new();
    for round in 0..rounds {
        for &(backend, layout) in &configs {
            let input = data.join(layout);
            let elapsed = runtime.block_on(async {
                let (database, cleanup) = fresh_database(backend, work.path(), postgres.as_deref(), round).await;
                let store = JourneyStore::open(&database).await.unwrap();
                let mut importer = Importer::new(store.clone()).await.unwrap();
                let start = Instant::now();
                let report = importer.import_paths(&[input], &NoProgress).await.unwrap();
                let elapsed = start.elapsed();
                assert!(!report.has_failures());
                assert_eq!(report.resources_total() as usize, resources);
                store.close().await;
                cleanup.await;
                elapsed
            });
            eprintln!("round {round}: {backend:<10} {layout:<8} {:>7.2} s", elapsed.as_secs_f64());
            times.entry((backend, layout)).or_default().push(elapsed);
        }
    }

    let mut out = std::io::stdout().lock();
    writeln!(out, "| store | layout | resources | median time | resources/s |").unwrap();
    writeln!(out, "|---|---|---:|---:|---:|").unwrap();
    let mut rates = BTreeMap::new();
    for &(backend, layout) in &configs {
        let mut t = times[&(backend, layout)].clone();
        t.sort();
        let median = t[t.len() / 2].as_secs_f64();
        let rate = resources as f64 / median;
        rates.insert((backend, layout), rate);
        writeln!(out, "| {backend} | {layout} | {resources} | {median:.2} s | {rate:.0} |").unwrap();
    }
    for layout in ["bundles", "ndjson"] {
        if let (Some(sqlite), Some(postgres)) = (rates.get(&("SQLite", layout)), rates.get(&("PostgreSQL", layout))) {
            writeln!(out, "\nSQLite / PostgreSQL throughput ({layout}): {:.2}x", sqlite / postgres).unwrap();
        }
    }
}

/// A new empty database of the given backend, and a future that removes it.
async fn fresh_database(
    backend: &str,
    dir: &Path,
    postgres_admin: Option<&str>,
    round: usize,
) -> (Database, std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
    match backend {
        "SQLite" => {
            let path = dir.join(format!("bench-{round}.sqlite"));
            let _ = std::fs::remove_file(&path);
            let cleanup_path = path.clone();
            let cleanup = Box::pin(async move {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", cleanup_path.display()));
                }
            });
            (Database::Sqlite(path), cleanup)
        }
        _ => {
            let admin = postgres_admin.expect("PostgreSQL configured").to_owned();
            let name = format!("rdt_bench_{}_{round}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            let url = format!("{base}/{name}");
            let cleanup = Box::pin(async move {
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.unwrap();
            });
            (Database::Postgres(url), cleanup)
        }
    }
}

