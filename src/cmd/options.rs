//! `rdt options`: the treatment options of one patient at a decision date, through the
//! `compare_treatments` tool (`tools::cohort_query::CohortQueries::options`), so the
//! role and scope checks and the audit entry (each option's neighbours, real ids) are
//! the tool's. Prints the comparison table, or the tool's JSON with `--json`.

use std::process::ExitCode;

use audit_log::{Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use tools::cohort_query::CohortQueries;
use twin_core::cohort::QueryOptions;

use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct OptionsArgs {
    /// The patient whose options to compare.
    #[arg(long, value_name = "ID")]
    patient: String,
    /// The decision date (default: the patient's last event).
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<NaiveDate>,
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

pub async fn run(ctx: &Context, args: OptionsArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let registry = ctx.registry().await?;
    let options = QueryOptions { min_follow_up_days: args.min_follow_up_days, ..QueryOptions::default() };
    let by = Principal::new(user_name(args.user), Role::Clinician);
    let queries =
        CohortQueries::for_install(store, &ctx.data_dir, &ctx.index(), &registry, options, args.notes, by).await?;
    let out = queries.options(&args.patient, args.at).await?;
    let table = || out.report.as_ref().map(|r| r.table(&args.patient)).unwrap_or_default();
    super::print(args.json, &out, table)?;
    Ok(ExitCode::SUCCESS)
}
