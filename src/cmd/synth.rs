//! `rdt synth --patients N --seed S --out DIR [--coding rdt|standard|local]`: a virtual
//! rheumatology cohort as a FHIR R4 Bulk Data export (import it with `rdt import DIR`),
//! with its ground truth; `local` also writes the ConceptMap its codes need.

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
    /// How measurements are coded: RDT's codes, standard codes (LOINC where one exists,
    /// CRP in mg/dL), or a hospital's local code system without categories (plus
    /// DIR/ConceptMap.json for `rdt terminology import`). Same patients in each.
    #[arg(long, value_enum, default_value_t = CodingArg::Rdt)]
    coding: CodingArg,
    /// Print the summary as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CodingArg {
    Rdt,
    Standard,
    Local,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    summary: &'a synth::Summary,
    elapsed_seconds: f64,
}

/// Generation is CPU-bound and runs on rayon's pool; the store is not touched.
pub fn run(_ctx: &Context, args: SynthArgs) -> anyhow::Result<ExitCode> {
    let coding = match args.coding {
        CodingArg::Rdt => synth::codes::Coding::Rdt,
        CodingArg::Standard => synth::codes::Coding::Standard,
        CodingArg::Local => synth::codes::Coding::Local,
    };
    let params = synth::Params { patients: args.patients, seed: args.seed, coding, ..synth::Params::default() };
    let started = Instant::now();
    let summary = synth::generate(&params, &args.out)?;
    let elapsed_seconds = started.elapsed().as_secs_f64();
    super::print(args.json, &Report { summary: &summary, elapsed_seconds }, || summary.text(elapsed_seconds))?;
    Ok(ExitCode::SUCCESS)
}
