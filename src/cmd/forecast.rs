//! `rdt forecast --patient ID [--at DATE] [--json]`: the disease-state model's forecast
//! for one patient (chance of each DAS28 state at 150, 270 and 360 days, with 95%
//! intervals), through the `state_forecast` tool (`tools::invoke`), so the role and
//! scope checks and the audit entry are the tool's. The model is
//! `<data-dir>/models/state-model.json`, fitted from the whole store on first use or
//! with `--refit` (then pinned and activated in the model registry as `--as`, role
//! governance); it loads only when its bytes are the registry's active state model.

use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::{ModelRegistry, Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use journey::PatientId;
use serde_json::json;
use tools::state_forecast::forecast_table;
use tools::{invoke, Caller, Scope, ToolContext};
use twin_core::state::StateModel;

use crate::bars::Bars;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// The patient to forecast.
    #[arg(long, value_name = "ID")]
    patient: String,
    /// Forecast from the end of this day (default: the patient's last recorded day).
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<NaiveDate>,
    /// Refit the state model from the store first (otherwise fitted only when absent).
    #[arg(long)]
    refit: bool,
    /// Who asks, for the role check and the audit trail (default: the login name).
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: ForecastArgs) -> anyhow::Result<ExitCode> {
    let patient = PatientId::new(args.patient.clone()).context("--patient is empty")?;
    let store = ctx.store().await?;
    let log = ctx.audit_log().await?;
    let registry = ModelRegistry::new(log.clone());
    let user = user_name(args.user);
    let path = StateModel::install_path(&ctx.data_dir);
    if args.refit || !path.exists() {
        // Fitting is a governance act: the file is pinned and activated as this user.
        let by = Principal::new(user.clone(), Role::Governance);
        let (model, version) = StateModel::fit_install(&store, &ctx.data_dir, &registry, &by, &Bars::default()).await?;
        eprintln!("state model {version} fitted on {} patients, pinned and active: {}", model.patients, path.display());
    }
    let tools = ToolContext::new(store.clone()).with_install_state_model(&ctx.data_dir, &registry).await?;
    let principal = Principal::new(user, Role::Clinician);
    let scope = Scope::patients([patient.clone()]);
    let caller = Caller { principal: &principal, scope: &scope, session: None };
    let arguments = json!({"patient": patient.as_str(), "at": args.at});
    let outcome = invoke(&tools, &log, caller, "state_forecast", &arguments).await;
    store.close().await;
    match outcome {
        Ok(done) if args.json => println!("{}", serde_json::to_string_pretty(&done.result.result["value"])?),
        Ok(done) => print!("{}", forecast_table(&done.result.result["value"])),
        Err(tools::InvokeError::Tool { error, .. }) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}
