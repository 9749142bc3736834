//! `rdt eval assistant`: the question set asked of the real model over a seeded virtual
//! cohort in a scratch directory, so the install's data and audit trail are untouched
//! (`assistant_eval::run_on_scratch`); writes `assistant-eval.md` and `.json` under
//! `<data-dir>/reports/`.

use std::process::ExitCode;

use assistant_eval::{run_on_scratch, ScratchOptions};
use clap::Args;

use crate::cmd::ask::{build_assistant, ModelArgs};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct EvalAssistantArgs {
    /// Virtual patients in the scratch cohort.
    #[arg(long, default_value_t = 40)]
    patients: usize,
    /// The cohort's seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Ask only the first N questions (for a quick look; the score is then partial).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: EvalAssistantArgs) -> anyhow::Result<ExitCode> {
    let options = ScratchOptions {
        dir: ctx.data_dir.join("eval-assistant"),
        patients: args.patients,
        seed: args.seed,
        gguf: args.model.gguf.is_none().then(|| args.model.packaged_or_default()),
        limit: args.limit,
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
