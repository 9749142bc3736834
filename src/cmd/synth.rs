//! `rdt synth --patients N --seed S --out DIR`: a virtual rheumatology cohort as a
//! FHIR R4 Bulk Data export (import it with `rdt import DIR`), with its ground truth.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// How many virtual patients to generate.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    patients: usize,
    /// The seed: the same seed and patient count give byte-identical files.
    #[arg(long, default_value_t = 42, value_name = "S")]
    seed: u64,
    /// The directory to write into (created if missing; synth's own files in it are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print the summary as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    summary: &'a synth::Summary,
    elapsed_seconds: f64,
}

/// Generation is CPU-bound and runs on rayon's pool; the store is not touched.
pub fn run(_ctx: &Context, args: SynthArgs) -> anyhow::Result<ExitCode> {
    let params = synth::Params { patients: args.patients, seed: args.seed, ..synth::Params::default() };
    let started = Instant::now();
    let summary = synth::generate(&params, &args.out)?;
    let elapsed_seconds = started.elapsed().as_secs_f64();
    super::print(args.json, &Report { summary: &summary, elapsed_seconds }, || summary.text(elapsed_seconds))?;
    Ok(ExitCode::SUCCESS)
}
