//! `rdt cohort`: the in silico cohort of one patient at a date, or of many (`--batch`),
//! through the `similar_patients` tool (`tools::cohort_query`) over the install's cohort handles
//! (`tools::cohort::CohortHandles`: active twin, neighbour index, population,
//! pseudonym key), so the role and scope checks and the audit entry (the neighbours'
//! real ids in its `CohortRecord`) are the tool's. Neighbours show as pseudonyms.
//!
//! `--batch FILE|-` reads lines `patient_id[,YYYY-MM-DD]` and writes one JSON line
//! each: `{"patient", "at", "report"}` or `{"patient", "at", "error"}`.
//! `--evaluate` scores held-out patients' cohorts against their actual outcomes
//! (`twin_core::eval::cohort`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::{Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use tools::cohort_query::CohortQueries;
use twin_core::cohort::QueryOptions;
use twin_core::eval::cohort::{run_cohort_evaluation, CohortEvalOptions};

use crate::bars::Bars;
use crate::cmd::eval::print_report;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct CohortArgs {
    /// The patient to build the cohort for.
    #[arg(long, value_name = "ID", required_unless_present_any = ["batch", "evaluate"], conflicts_with_all = ["batch", "evaluate"])]
    patient: Option<String>,
    /// The index date (default: the patient's last event).
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<NaiveDate>,
    /// Lines `patient_id[,YYYY-MM-DD]` from a file, or `-` for stdin; one JSON line out each.
    #[arg(long, value_name = "FILE|-")]
    batch: Option<String>,
    /// Evaluate instead: held-out patients' cohorts against their actual outcomes, with
    /// the snapshot baseline and the population figure (report in `<data-dir>/reports/`).
    #[arg(long, conflicts_with = "batch")]
    evaluate: bool,
    /// With --evaluate: which part of the frozen split to score (docs/benchmarks/
    /// predictive-protocol.md): `tuning` while choosing anything, `test` only for the
    /// report.
    #[arg(long, default_value = "tuning", value_parser = ["tuning", "test"])]
    score_on: String,
    /// With --evaluate: cut each held-out patient this many days after starting methotrexate.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// With --evaluate: the train part's snapshots the fitted predictors learn from:
    /// `none` (the 180-day cadence), `starts` (+ each DMARD start) or `visits` (+ every
    /// DMARD start and activity reading).
    #[arg(long, default_value = "none")]
    fit_on: twin_core::index::build::DecisionSnapshots,
    /// With --evaluate: the temporal split (docs/benchmarks/predictive-protocol.md):
    /// fits read journeys as they stood at the cut date, cases on or after it are
    /// scored; train the twin with `rdt train --until temporal-cut` first.
    #[arg(long)]
    temporal: bool,
    /// With --evaluate: at most this many cases.
    #[arg(long)]
    max_cases: Option<usize>,
    /// Neighbours.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Below this many neighbours with data an outcome has no figure.
    #[arg(long, default_value_t = twin_core::cohort::DEFAULT_MIN_N)]
    min_n: usize,
    /// Days of record a neighbour snapshot needs after it.
    #[arg(long, default_value_t = 180)]
    min_follow_up_days: u32,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Who asks, for the audit trail (default: the login name), as a clinician.
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: CohortArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let registry = ctx.registry().await?;
    if args.evaluate {
        let options = CohortEvalOptions {
            k: args.k,
            min_n: args.min_n,
            min_follow_up_days: args.min_follow_up_days,
            days_after_mtx: args.days,
            scored: args.score_on.parse().map_err(anyhow::Error::msg)?,
            max_cases: args.max_cases,
            fit_on: args.fit_on,
            temporal: args.temporal,
        };
        let report =
            run_cohort_evaluation(&store, &ctx.data_dir, &registry, &ctx.index(), &options, &Bars::default()).await?;
        return print_report(ctx, &report, "cohort-eval", args.json);
    }
    let options = QueryOptions { k: args.k, min_n: args.min_n, min_follow_up_days: args.min_follow_up_days };
    let by = Principal::new(user_name(args.user), Role::Clinician);
    let queries =
        CohortQueries::for_install(store, &ctx.data_dir, &ctx.index(), &registry, options, args.notes, by).await?;
    let Some(batch) = &args.batch else {
        let patient = args.patient.as_deref().unwrap_or_default();
        let report = queries.query(patient, args.at).await?;
        super::print(args.json, &report, || report.table(patient))?;
        return Ok(ExitCode::SUCCESS);
    };
    let input: Box<dyn BufRead> = if batch == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(batch).with_context(|| format!("opening {batch}"))?))
    };
    let mut out = std::io::stdout().lock();
    for (n, line) in input.lines().enumerate() {
        let at = || format!("{batch}:{}", n + 1);
        if let Some(answer) = queries.batch_line(&line.with_context(at)?).await.with_context(at)? {
            writeln!(out, "{answer}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
