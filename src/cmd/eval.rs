//! `rdt eval`: how good is the active twin (`twin_core::eval::twin`)? Reconstruction,
//! subtype agreement with the ablation and baselines (with `--truth`), the state
//! model, the predictive heads and the in silico cohort, written to
//! `<data-dir>/reports/twin-eval.{md,json}`. `rdt eval assistant` scores the assistant; `rdt eval options` the treatment options
//! against the virtual cohort's counterfactual truth (`twin_core::eval::options`).

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
    /// Which part's patients are the new ones of the subtype agreement and its ceiling:
    /// `tuning` while choosing anything, `test` only for the report.
    #[arg(long, default_value = "tuning", value_parser = ["tuning", "test"])]
    score_on: String,
    #[arg(long)]
    json: bool,
}

/// What else `rdt eval` can evaluate than the twin.
#[derive(Debug, Subcommand)]
pub enum EvalWhat {
    /// Score the assistant on its question set (share correct, ungrounded, correct refusals).
    Assistant(crate::cmd::eval_assistant::EvalAssistantArgs),
    /// Score the treatment options comparison against the virtual cohort's counterfactual truth.
    Options(OptionsEvalArgs),
    /// Drift: the patients who arrived since the last `rdt embed` against the population
    /// it was built on (population stability index per feature and for the distance to
    /// the nearest twin); a shift is recorded as a governance notice in the audit trail.
    Drift {
        #[arg(long)]
        json: bool,
    },
    /// Early alerts replayed visit by visit on a part of the frozen split: days from the
    /// first alert to the switch for patients who fail methotrexate, and the alert rate
    /// among those who respond.
    Alerts {
        /// Which part to score: `tuning` while choosing anything, `test` only for the report.
        #[arg(long, default_value = "tuning", value_parser = ["tuning", "test"])]
        score_on: String,
        /// At most this many patients of the part.
        #[arg(long)]
        max_cases: Option<usize>,
        #[arg(long)]
        json: bool,
    },
}

/// `rdt eval options`.
#[derive(Debug, Args)]
pub struct OptionsEvalArgs {
    /// `counterfactuals.ldjson` from `rdt synth`.
    #[arg(long)]
    truth: PathBuf,
    /// Which part of the frozen split to score: `tuning` while choosing anything, `test` only for the report.
    #[arg(long, default_value = "tuning", value_parser = ["tuning", "test"])]
    score_on: String,
    /// At most this many patients.
    #[arg(long)]
    max_cases: Option<usize>,
    /// Fewest similar patients who started an option for it to get a figure.
    #[arg(long, default_value_t = twin_core::options::compare::DEFAULT_OPTION_MIN_N)]
    min_n: usize,
    /// The propensity model's ridge penalty (a setting chosen on the tuning part).
    #[arg(long, default_value_t = twin_core::options::weighting::PROPENSITY_L2)]
    propensity_l2: f64,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: EvalArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Some(EvalWhat::Assistant(assistant)) => return crate::cmd::eval_assistant::run(ctx, assistant).await,
        Some(EvalWhat::Options(o)) => {
            let options = twin_core::eval::options::OptionsEvalOptions {
                truth: o.truth,
                scored: o.score_on.parse().map_err(anyhow::Error::msg)?,
                max_cases: o.max_cases,
                query: twin_core::options::OptionsQuery { min_n: o.min_n, propensity_l2: o.propensity_l2, ..Default::default() },
            };
            let store = ctx.store().await?;
            let registry = ctx.registry().await?;
            let report = twin_core::eval::options::run_options_evaluation(
                &store,
                &ctx.data_dir,
                &registry,
                &ctx.index(),
                &options,
                &Bars::default(),
            )
            .await?;
            store.close().await;
            return print_report(ctx, &report, "options-eval", o.json);
        }
        Some(EvalWhat::Alerts { score_on, max_cases, json }) => {
            let scored = match score_on.as_str() {
                "test" => twin_core::eval::split::Part::Test,
                _ => twin_core::eval::split::Part::Tuning,
            };
            let (store, registry) = (ctx.store().await?, ctx.registry().await?);
            let report = twin_core::alerts::eval::run_alert_evaluation(
                &store,
                &ctx.data_dir,
                &registry,
                scored,
                max_cases,
                &Bars::default(),
            )
            .await;
            store.close().await;
            return print_report(ctx, &report?, "alerts-eval", json);
        }
        Some(EvalWhat::Drift { json }) => {
            let (store, registry) = (ctx.store().await?, ctx.registry().await?);
            let by = audit_log::Principal::new("rdt-monitor", audit_log::Role::System);
            let checked =
                twin_core::monitor::drift::check_install(&store, &ctx.data_dir, &registry, &ctx.index(), by).await;
            store.close().await;
            let (drift, seq) = checked?;
            let mut markdown = drift.markdown();
            if let Some(seq) = seq {
                markdown.push_str(&format!("\nRecorded for governance: audit entry {seq}.\n"));
            }
            let report = twin_core::eval::EvalReport {
                json: serde_json::json!({"drift": drift, "audit_seq": seq}),
                markdown,
                figures: Vec::new(),
            };
            return print_report(ctx, &report, "drift", json);
        }
        None => {}
    }
    let Some(truth) = args.truth else {
        anyhow::bail!("rdt eval needs --truth ground_truth.ldjson (from `rdt synth`), or `rdt eval assistant`");
    };
    let options = TwinEvalOptions {
        truth,
        k: args.k,
        days: args.days,
        notes: args.notes,
        cohort: !args.no_cohort,
        scored: args.score_on.parse().map_err(anyhow::Error::msg)?,
    };
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
