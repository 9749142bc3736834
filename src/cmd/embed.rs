//! `rdt embed`: every patient's twin at an index date (default: their last event),
//! from the active twin (verified against the registry), written as JSON Lines:
//! `{"patient", "index_time", "twin_version", "vector"}`. A patient who gained an
//! event costs one forward pass, no retraining.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::ModelRegistry;
use chrono::{NaiveDate, TimeZone, Utc};
use clap::Args;
use serde_json::json;

use crate::cmd::audit::open_signing;
use crate::cmd::train::{load_active, load_cohort, note_vectors, recent_notes};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Embed everyone as of the end of this day (default: each patient's last event).
    #[arg(long, value_name = "YYYY-MM-DD")]
    index_date: Option<NaiveDate>,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Where to write (default `<data-dir>/twins/twins.jsonl`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let model = load_active(ctx, &registry).await?;
    let store = ctx.store().await?;
    let cohort = load_cohort(&store, None).await?;
    let until = args.index_date.map(|d| Utc.from_utc_datetime(&d.and_hms_opt(23, 59, 59).expect("a valid time")));
    let notes = if args.notes {
        let texts = cohort.iter().flat_map(|(_, e)| recent_notes(e, until)).collect();
        note_vectors(ctx, &registry, texts).await?
    } else {
        Default::default()
    };
    let inputs: Vec<_> = cohort
        .iter()
        .map(|(_, events)| model.manifest.spec.inputs(events, until, &|t| notes.get(t).cloned()))
        .collect();
    let twins = model.embed(&inputs, None)?;
    let out = args.out.unwrap_or_else(|| ctx.data_dir.join("twins").join("twins.jsonl"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for (((patient, events), twin), input) in cohort.iter().zip(&twins).zip(&inputs) {
        let last = match until {
            Some(t) => events.iter().rev().find(|e| e.time <= t),
            None => events.last(),
        };
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
    println!("{} twins (version {}) written to {}", twins.len(), model.version, out.display());
    Ok(ExitCode::SUCCESS)
}
