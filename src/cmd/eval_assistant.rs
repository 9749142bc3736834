//! `rdt eval assistant`: a question set asked of the real model over a seeded virtual
//! cohort in a scratch directory, so the install's data and audit trail are untouched
//! (`assistant_eval::run_on_scratch`). `--set tuning` (the default) over the cohort the
//! flags choose, written to `assistant-eval.{md,json}` under `<data-dir>/reports/`;
//! `--set readings` (the second tuning set, every reading) the same way, written to
//! `assistant-eval-readings.{md,json}`; `--set wording` (the third tuning set, every
//! reading in clinicians' shorthand) to `assistant-eval-wording.{md,json}`; `--set
//! held-out` over its frozen cohort (docs/benchmarks/assistant-heldout-protocol.md),
//! written apart to `assistant-eval-held-out.{md,json}`.

use std::process::ExitCode;

use assistant_eval::{run_on_scratch, ScratchOptions, SetName, Subset};
use clap::Args;

use crate::cmd::ask::{build_assistant, ModelArgs};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct EvalAssistantArgs {
    /// Which question set: `tuning`, `readings` or `wording` (changes are chosen on
    /// them; `wording` asks every reading in clinicians' shorthand, abbreviations and
    /// brand names) or `held-out` (frozen, never used to choose a change; its cohort is
    /// fixed by its protocol).
    #[arg(long, default_value = "tuning")]
    set: SetName,
    /// Virtual patients in the scratch cohort (tuning set; default 40).
    #[arg(long)]
    patients: Option<usize>,
    /// The cohort's seed (tuning set; default 11).
    #[arg(long)]
    seed: Option<u64>,
    /// Ask only the first N questions (a tuning set, for a quick look; the score is
    /// then partial).
    #[arg(long, conflicts_with = "only")]
    limit: Option<usize>,
    /// Ask only the questions with these ids (a tuning set, comma-separated; the score
    /// is then partial).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long)]
    json: bool,
}

/// The tuning set's cohort unless the flags name another.
const TUNING_SEED: u64 = 11;
const TUNING_PATIENTS: usize = 40;

pub async fn run(ctx: &Context, args: EvalAssistantArgs) -> anyhow::Result<ExitCode> {
    let set = args.set;
    let (seed, patients) = match set.frozen_cohort() {
        Some((seed, patients)) if args.seed.is_some() || args.patients.is_some() => anyhow::bail!(
            "--set {} runs on its frozen cohort (seed {seed}, {patients} patients): leave out --seed and --patients",
            set.as_str()
        ),
        Some(frozen) => frozen,
        None => (args.seed.unwrap_or(TUNING_SEED), args.patients.unwrap_or(TUNING_PATIENTS)),
    };
    let options = ScratchOptions {
        dir: ctx.data_dir.join("eval-assistant"),
        set,
        patients,
        seed,
        gguf: args.model.gguf.is_none().then(|| args.model.packaged_or_default()),
        subset: match (args.limit, args.only) {
            (Some(n), _) => Subset::First(n),
            (None, ids) if !ids.is_empty() => Subset::Ids(ids),
            _ => Subset::All,
        },
    };
    let build = |tools, log| build_assistant(ctx, tools, log, &args.model);
    let report = run_on_scratch(&options, build, |p| if !args.json { eprintln!("{p}") }).await?;
    let written = report.write(&ctx.data_dir.join("reports"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}\nWritten to {}", report.markdown(), written.display());
    }
    Ok(ExitCode::SUCCESS)
}
