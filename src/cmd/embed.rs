//! `rdt embed`: every patient's twin with the active twin (verified against the
//! registry), into the neighbour index and as JSON Lines.
//!
//! The index (`RDT_QDRANT_URL`'s collection, else `<data-dir>/index/`) is rebuilt
//! from scratch: per patient, historical snapshots every 180 days wherever 180 days
//! of record follow, plus one live snapshot at the last event; every point carries the
//! twin's version. The JSON Lines file (`{"patient", "index_time", "events",
//! "twin_version", "vector"}`, default `<data-dir>/twins/twins.jsonl`) holds each
//! patient's live twin. With `--index-date`, everyone's twin at that date is written
//! to the file only (the index holds journeys' own snapshots, not a common date).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::ModelRegistry;
use chrono::{NaiveDate, TimeZone, Utc};
use clap::Args;
use serde_json::json;
use twin_core::index::build::{embed_journeys, load_journeys, note_texts};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotKind, SnapshotPlan};

use crate::cmd::audit::open_signing;
use crate::cmd::train::{bar, load_active, note_vectors, recent_notes};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Embed everyone as of the end of this day into the file only (default: each
    /// patient's snapshots into the index, live twins into the file).
    #[arg(long, value_name = "YYYY-MM-DD")]
    index_date: Option<NaiveDate>,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Where to write (default `<data-dir>/twins/twins.jsonl`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Days between historical snapshots.
    #[arg(long, default_value_t = 180)]
    every_days: u32,
    /// Days of record a historical snapshot needs after it.
    #[arg(long, default_value_t = 180)]
    min_follow_up_days: u32,
}

pub async fn run(ctx: &Context, args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let model = load_active(ctx, &registry).await?;
    let store = ctx.store().await?;
    let reading = bar(0, "reading journeys");
    let cohort = load_journeys(&store, None, |n| {
        reading.set_length(n as u64);
        reading.inc(1);
    })
    .await?;
    reading.finish_and_clear();
    let out = args.out.unwrap_or_else(|| ctx.data_dir.join("twins").join("twins.jsonl"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);

    if let Some(date) = args.index_date {
        let until = Utc.from_utc_datetime(&date.and_hms_opt(23, 59, 59).expect("a valid time"));
        let notes = if args.notes {
            let texts = cohort.iter().flat_map(|(_, e)| recent_notes(e, Some(until))).collect();
            note_vectors(ctx, &registry, texts).await?
        } else {
            Default::default()
        };
        let inputs: Vec<_> = cohort
            .iter()
            .map(|(_, events)| model.manifest.spec.inputs(events, Some(until), &|t| notes.get(t).cloned()))
            .collect();
        let twins = model.embed(&inputs, None)?;
        for (((patient, events), twin), input) in cohort.iter().zip(&twins).zip(&inputs) {
            let last = events.iter().rev().find(|e| e.time <= until);
            let line = json!({
                "patient": patient,
                "index_time": last.map(|e| e.time),
                "events": input.tokens.len(),
                "twin_version": model.version.to_hex(),
                "vector": twin,
            });
            writeln!(file, "{line}")?;
        }
        file.flush()?;
        println!("{} twins at {date} (version {}) written to {}", twins.len(), model.version, out.display());
        return Ok(ExitCode::SUCCESS);
    }

    let plan = SnapshotPlan { every_days: args.every_days, min_follow_up_days: args.min_follow_up_days };
    let notes = if args.notes {
        let texts = cohort.iter().flat_map(|(_, e)| note_texts(&model, e, &plan)).collect();
        note_vectors(ctx, &registry, texts).await?
    } else {
        Default::default()
    };
    let embedding = bar(cohort.len() as u64, "embedding");
    let lookup = |t: &str| notes.get(t).cloned();
    let points = embed_journeys(&model, &cohort, &plan, &lookup, || embedding.inc(1))?;
    embedding.finish_and_clear();

    let mut index = NeighbourIndex::open(&IndexConfig::from_env(&ctx.data_dir)).await?;
    // A rebuild: points of patients no longer in the store, or of an older twin,
    // must not survive it.
    index.clear().await?;
    let upserting = bar(points.len() as u64, "indexing");
    for chunk in points.chunks(4096) {
        index.upsert(chunk).await?;
        upserting.inc(chunk.len() as u64);
    }
    index.flush().await?;
    upserting.finish_and_clear();

    let events: std::collections::HashMap<_, _> = cohort.iter().map(|(id, e)| (id, e.len())).collect();
    let mut live = 0;
    for p in points.iter().filter(|p| p.kind == SnapshotKind::Live) {
        let events = events.get(&p.patient).copied().unwrap_or(0);
        let line = json!({
            "patient": p.patient,
            "index_time": p.index_time,
            "events": events,
            "twin_version": model.version.to_hex(),
            "vector": p.vector,
        });
        writeln!(file, "{line}")?;
        live += 1;
    }
    file.flush()?;
    println!(
        "{} patients embedded (twin {}): {} index points ({} live, {} historical) in {}; live twins in {}",
        cohort.len(),
        model.version,
        points.len(),
        live,
        points.len() - live,
        index.describe(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
