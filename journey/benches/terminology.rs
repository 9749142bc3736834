//! What the terminology costs: import (with the coverage report `rdt import` prints
//! after it) and reading every patient's journey (what a cohort query does for each
//! neighbour and the twin for each patient), with a 500-entry ConceptMap installed vs
//! none, side by side in one run.
//!
//! Input: the Synthea fixtures replicated to at least `RDT_BENCH_RESOURCES` resources
//! (default 50,000), as Bundles. The map has 500 entries from a local code system to
//! RDT's concepts; every event the data carries is looked up in it (LOINC codes are
//! found in the concept table first, the rest miss the map), which is the cost a map
//! adds whatever it maps.
//! Each configuration runs `RDT_BENCH_ROUNDS` times (default 3) into a fresh SQLite
//! database, interleaved; medians are reported.
//!
//! Run: `cargo bench -p journey --bench terminology`. Results:
//! `docs/benchmarks/terminology.md`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use journey::fhir::{Importer, NoProgress};
use journey::store::Database;
use journey::terminology::{Concept, ConceptMapping, MapEntry};
use journey::JourneyStore;

const MAP_ENTRIES: usize = 500;

fn map() -> ConceptMapping {
    let entries: Vec<MapEntry> = (0..MAP_ENTRIES)
        .map(|i| MapEntry {
            system: "urn:oid:2.999.9.1".into(),
            code: format!("LOCAL-{i}"),
            display: Some(format!("local measure {i}")),
            concept: Concept::ALL[i % Concept::ALL.len()],
        })
        .collect();
    let json = ConceptMapping::to_fhir("urn:bench:map", "bench", &entries).to_string();
    ConceptMapping::parse("bench-map.json", json.as_bytes()).expect("a valid map")
}

fn main() {
    let rounds: usize = std::env::var("RDT_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let min_resources: usize =
        std::env::var("RDT_BENCH_RESOURCES").ok().and_then(|r| r.parse().ok()).unwrap_or(50_000);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/synthea-r4");
    let work = tempfile::tempdir().expect("temp dir");
    let (resources, copies) = common::replicate(&fixtures, work.path(), min_resources);
    eprintln!("{resources} resources ({copies} copies of the fixtures)");
    let input = work.path().join("bundles");
    let mapping = map();
    assert_eq!(mapping.entries.len(), MAP_ENTRIES);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let configs = ["no map", "500-entry map"];
    let mut import_times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut read_times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut patients = 0;
    for round in 0..rounds {
        for config in configs {
            let (import, read, n) = runtime.block_on(async {
                let path = work.path().join(format!("bench-{round}-{}.sqlite", config.len()));
                let store = JourneyStore::open(&Database::Sqlite(path)).await.unwrap();
                if config != "no map" {
                    store.import_concept_map("bench-map.json", &mapping, "bench").await.unwrap();
                }
                let start = Instant::now();
                let report = Importer::new(store.clone()).await.unwrap().import_paths(&[input.clone()], &NoProgress).await.unwrap();
                assert!(!report.has_failures());
                let coverage = store.coverage().await.unwrap();
                let import = start.elapsed();
                assert!(coverage.patients > 0);
                let ids: Vec<_> = store.patients().await.unwrap().into_iter().map(|p| p.patient.id).collect();
                let start = Instant::now();
                let mut events = 0;
                for id in &ids {
                    events += store.journey(id).await.unwrap().unwrap().events.len();
                }
                let read = start.elapsed();
                assert!(events > 0);
                store.close().await;
                (import, read, ids.len())
            });
            patients = n;
            eprintln!(
                "round {round}: {config:<14} import {:>6.2} s   read {n} journeys {:>6.2} s",
                import.as_secs_f64(),
                read.as_secs_f64()
            );
            import_times.entry(config).or_default().push(import);
            read_times.entry(config).or_default().push(read);
        }
    }
    let median = |v: &Vec<Duration>| {
        let mut v = v.clone();
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!("| map | import + coverage, median | resources/s | read all {patients} journeys, median |");
    println!("|---|---:|---:|---:|");
    for config in configs {
        let (i, r) = (median(&import_times[config]), median(&read_times[config]));
        println!("| {config} | {i:.2} s | {:.0} | {r:.3} s |", resources as f64 / i);
    }
    let ratio = |t: &BTreeMap<&str, Vec<Duration>>| median(&t["500-entry map"]) / median(&t["no map"]);
    println!(
        "\nwith the map / without: import {:.3}x, journey reads {:.3}x",
        ratio(&import_times),
        ratio(&read_times)
    );
}
