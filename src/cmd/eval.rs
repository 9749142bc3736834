//! `rdt eval`: how good is the active twin (`twin_core::eval::twin`)? Reconstruction,
//! subtype agreement with the ablation and baselines (with `--truth`), the state
//! model, the predictive heads and the in silico cohort, written to
//! `<data-dir>/reports/twin-eval.{md,json}`. `rdt eval assistant` scores the assistant.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use twin_core::eval::twin::{run_twin_evaluation, TwinEvalOptions};

use crate::bars::Bars;
use crate::context::Context;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    what: Option<EvalWhat>,
    /// The virtual cohort's ground truth (`ground_truth.ldjson` from `rdt synth`).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Neighbours per patient.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Cut each patient this many days after their methotrexate start.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Leave out the in silico cohort section (`rdt cohort --evaluate` reports it).
    #[arg(long)]
    no_cohort: bool,
    #[arg(long)]
    json: bool,
}

/// What else `rdt eval` can evaluate than the twin.
#[derive(Debug, Subcommand)]
pub enum EvalWhat {
    /// Score the assistant on its question set (share correct, ungrounded, correct refusals).
    Assistant(crate::cmd::eval_assistant::EvalAssistantArgs),
}

pub async fn run(ctx: &Context, args: EvalArgs) -> anyhow::Result<ExitCode> {
    if let Some(EvalWhat::Assistant(assistant)) = args.what {
        return crate::cmd::eval_assistant::run(ctx, assistant).await;
    }
    let Some(truth) = args.truth else {
        anyhow::bail!("rdt eval needs --truth ground_truth.ldjson (from `rdt synth`), or `rdt eval assistant`");
    };
    let options = TwinEvalOptions { truth, k: args.k, days: args.days, notes: args.notes, cohort: !args.no_cohort };
    let store = ctx.store().await?;
    let registry = ctx.registry().await?;
    let report = run_twin_evaluation(&store, &ctx.data_dir, &registry, &ctx.index(), &options, &Bars::default()).await?;
    store.close().await;
    print_report(ctx, &report, "twin-eval", args.json)
}

/// Writes an evaluation's report under `<data-dir>/reports/` and prints it (JSON, or
/// the markdown with the report's path on stderr). Shared with `rdt cohort --evaluate`.
pub fn print_report(
    ctx: &Context,
    report: &twin_core::eval::EvalReport,
    stem: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let md = report.write(&ctx.data_dir, stem)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
    } else {
        print!("{}", report.markdown_as(stem));
        eprintln!("report: {}", md.display());
    }
    Ok(ExitCode::SUCCESS)
}
