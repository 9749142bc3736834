//! Audit-log benchmark: appends per second and time to verify the whole log,
//! SQLite and PostgreSQL side by side in one run. Results go in
//! `audit-log/BENCHMARKS.md`.
//!
//! ```text
//! RDT_BENCH_POSTGRES_URL=postgres://rdt:rdt@127.0.0.1:5432/postgres \
//!   cargo run --release -p audit-log --example audit_bench -- --entries 1000000 --batch 1000
//! ```
//!
//! Each backend gets a fresh database (SQLite in a temporary directory, PostgreSQL
//! a new database dropped at the end). Entries are realistic tool calls (arguments,
//! bounded result, cohort of 5 neighbours; about 700 bytes canonical). Appends are
//! durable commits of `--batch` entries (SQLite WAL + synchronous=FULL; PostgreSQL
//! defaults, i.e. fsync on commit), with the default signing policy (a signed head
//! every 1,000 entries). Verify is `AuditLog::verify`: every entry re-hashed and
//! checked, the tree rebuilt, every head's signature, root and consistency checked.
//! Also reported: single-entry appends (one commit each) for `--single` entries.

use std::time::Instant;

use audit_log::{
    AuditLog, CohortRecord, Digest, EntryBody, HeadSigner, Neighbour, NewEntry, Principal, Role, SigningPolicy,
    ToolCall,
};
use serde_json::json;

struct Args {
    entries: u64,
    batch: u64,
    single: u64,
    postgres: Option<String>,
    sqlite_dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        entries: 1_000_000,
        batch: 1_000,
        single: 2_000,
        sqlite_dir: None,
        postgres: std::env::var("RDT_BENCH_POSTGRES_URL").ok().or_else(|| std::env::var("RDT_TEST_POSTGRES_URL").ok()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--entries" => args.entries = value().parse().expect("--entries N"),
            "--batch" => args.batch = value().parse().expect("--batch N"),
            "--single" => args.single = value().parse().expect("--single N"),
            "--postgres" => args.postgres = Some(value()),
            "--no-postgres" => args.postgres = None,
            // Keep the SQLite file (in this directory) for inspection.
            "--sqlite-dir" => args.sqlite_dir = Some(value().into()),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn entry(i: u64) -> NewEntry {
    let patient = format!("patient-{:06}", i % 50_000);
    let result = json!({
        "patient": patient,
        "das28": [{"date": "2024-01-10", "value": 5.12}, {"date": "2024-04-02", "value": 3.98}, {"date": "2024-07-15", "value": 3.01}],
        "slope_per_month": -0.35,
        "flags": ["improving"],
    });
    NewEntry::new(
        Principal::new(format!("clinician-{}", i % 40), Role::Clinician),
        EntryBody::ToolCall {
            tool: ToolCall::bounded("disease_activity_history", json!({"patient": patient, "since": "2023-01-01"}), result, 4096),
            cohort: Some(CohortRecord {
                neighbours: (0..5).map(|k| Neighbour::new(format!("nb-{:06}", (i * 7 + k) % 100_000), 0.1 + k as f64 / 10.0)).collect(),
                index_version: "hnsw-2024-07-01".into(),
                encoder_version: Digest::of(b"encoder-checkpoint"),
            }),
        },
    )
    .session(format!("session-{}", i / 12))
    .patients([patient])
}

struct Figures {
    backend: &'static str,
    batched_per_s: f64,
    single_per_s: f64,
    verify_s: f64,
    entries: u64,
    heads: usize,
}

async fn run(url: &str, args: &Args) -> Figures {
    let log = AuditLog::open(url)
        .await
        .expect("open")
        .with_signer(HeadSigner::from_seed([3; 32]))
        .with_policy(SigningPolicy::default());
    let backend = log.backend_name();

    let start = Instant::now();
    for i in 0..args.single {
        log.append(entry(i)).await.expect("append");
    }
    let single_per_s = args.single as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut i = args.single;
    let total = args.single + args.entries;
    while i < total {
        let n = args.batch.min(total - i);
        log.append_batch((i..i + n).map(entry).collect()).await.expect("append batch");
        i += n;
    }
    let batched_per_s = args.entries as f64 / start.elapsed().as_secs_f64();
    log.sign_head().await.expect("sign");

    let start = Instant::now();
    let report = log.verify(&HeadSigner::from_seed([3; 32]).trusted()).await.expect("verify");
    let verify_s = start.elapsed().as_secs_f64();
    assert!(report.is_ok(), "{:?}", report.problems.first());
    assert_eq!(report.size, total);
    log.close().await;
    eprintln!("{backend}: {batched_per_s:.0} appends/s batched, {single_per_s:.0}/s single, verify {verify_s:.2} s");
    Figures { backend, batched_per_s, single_per_s, verify_s, entries: total, heads: report.heads_checked }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let mut figures = Vec::new();

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_dir = args.sqlite_dir.clone().unwrap_or_else(|| dir.path().to_owned());
    let sqlite_url = format!("sqlite://{}", sqlite_dir.join("bench.sqlite").display());
    figures.push(run(&sqlite_url, &args).await);

    if let Some(admin) = &args.postgres {
        let name = format!("rdt_audit_bench_{}", std::process::id());
        let pool = sqlx::PgPool::connect(admin).await.expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("PostgreSQL URL without a database path"),
        };
        figures.push(run(&url, &args).await);
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&pool).await.expect("drop database");
    } else {
        eprintln!("PostgreSQL skipped: set RDT_BENCH_POSTGRES_URL (or pass --postgres URL)");
    }

    println!("| backend | entries | batch | appends/s (batched) | appends/s (one commit each) | verify all (s) | signed heads |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for f in &figures {
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {} |",
            f.backend, f.entries, args.batch, f.batched_per_s, f.single_per_s, f.verify_s, f.heads
        );
    }
}
