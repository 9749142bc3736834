//! `rdt forecast --patient ID [--at DATE] [--json]`: the disease-state model's forecast
//! for one patient (chance of each DAS28 state at 150, 270 and 360 days, with 95%
//! intervals), through the `state_forecast` tool, so the role and scope checks and the
//! audit entry are the tool's. The model is `<data-dir>/models/state-model.json`,
//! fitted from the whole store on first use or with `--refit`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use audit_log::{AuditLog, Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use serde_json::{json, Value};
use tools::{call_json, refusal_entry, tool_call_entry, Scope, ToolContext};
use twin_core::state::{patient_steps, StateModel, StateModelConfig};
use journey::PatientId;

use crate::cmd::train::load_cohort;
use crate::context::Context;

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

/// Where an install keeps its state model.
fn model_path(ctx: &Context) -> PathBuf {
    StateModel::install_path(&ctx.data_dir)
}

pub async fn run(ctx: &Context, args: ForecastArgs) -> anyhow::Result<ExitCode> {
    let Some(patient) = PatientId::new(args.patient.clone()) else { bail!("--patient is empty") };
    let store = ctx.store().await?;
    if args.refit || !model_path(ctx).exists() {
        let config = StateModelConfig::default();
        let cohort = load_cohort(&store, None).await?;
        let data: Vec<_> = cohort
            .iter()
            .filter_map(|(id, events)| Some(patient_steps(PatientId::new(id.clone())?, events, config.step_days)))
            .collect();
        let model = StateModel::fit(&data, config);
        let version = model.save(&model_path(ctx))?;
        eprintln!("state model {version} fitted on {} patients: {}", model.patients, model_path(ctx).display());
    }
    let tools = ToolContext::new(store.clone()).with_install_state_model(&ctx.data_dir)?;
    let user = args.user.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let principal = Principal::new(user, Role::Clinician);
    let scope = Scope::Patients(BTreeSet::from([patient.clone()]));
    let arguments = json!({"patient": patient.as_str(), "at": args.at});
    let outcome = call_json(&tools, &principal, &scope, "state_forecast", &arguments).await;
    let log = AuditLog::open_for_data_dir(&ctx.database.url(), &ctx.data_dir)
        .await
        .context("cannot open the audit log to record the forecast")?;
    let code = match outcome {
        Ok(result) => {
            log.append(tool_call_entry(&principal, None, &result)).await.context("cannot record the forecast")?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&result.result["value"])?);
            } else {
                print!("{}", text(&result.result["value"]));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(entry) = refusal_entry(&principal, None, "state_forecast", &e) {
                log.append(entry).await.context("cannot record the refusal")?;
            }
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    };
    store.close().await;
    Ok(code)
}

/// The forecast as a table.
fn text(v: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(reason) = v.get("insufficient_data") {
        return format!("{}: no forecast: {}\n", s(&v["patient"]), s(reason));
    }
    let mut out = format!(
        "{} as of {}: DAS28 {} on {} ({}), treatment {}\n",
        s(&v["patient"]),
        s(&v["as_of"]),
        s(&v["latest_das28"]),
        s(&v["latest_das28_date"]),
        s(&v["current_state"]),
        s(&v["treatment"])
    );
    out += &format!(
        "state model {} ({} patients; {} transitions from this state under this treatment)\n",
        s(&v["state_model_version"]).get(..16).unwrap_or_default(),
        s(&v["model_patients"]),
        s(&v["transitions_from_state"])
    );
    out += &format!("{:>9}  {:<20}{:<20}{:<20}{:<20}\n", "", "remission", "low", "moderate", "high");
    for h in v["horizons"].as_array().into_iter().flatten() {
        out += &format!("{:>4} days  ", s(&h["days"]));
        for st in h["states"].as_array().into_iter().flatten() {
            let cell = format!(
                "{:.2} ({:.2}-{:.2})",
                st["probability"].as_f64().unwrap_or(f64::NAN),
                st["low"].as_f64().unwrap_or(f64::NAN),
                st["high"].as_f64().unwrap_or(f64::NAN)
            );
            out += &format!("{cell:<20}");
        }
        out += "\n";
    }
    let days: Vec<String> = v["expected_days_in_state"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{} {} ({}-{})", s(&d["state"]), s(&d["days"]), s(&d["low"]), s(&d["high"])))
        .collect();
    out += &format!("expected days in each state over 360 days: {}\n", days.join(", "));
    out += &format!("{}\n", s(&v["assumption"]));
    out
}
