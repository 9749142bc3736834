//! `rdt patients` and `rdt journey PATIENT`: what the store holds.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use journey::text::patients_table;
use journey::PatientId;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct PatientsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// The patient's id (as in the FHIR Patient resource).
    patient: String,

    /// Print JSON instead of one line per event.
    #[arg(long)]
    json: bool,
}

pub async fn patients(ctx: &Context, args: PatientsArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let patients = store.patients().await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &patients)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", patients_table(&patients))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn journey(ctx: &Context, args: JourneyArgs) -> anyhow::Result<ExitCode> {
    let Some(id) = PatientId::new(args.patient.clone()) else { bail!("the patient id is empty") };
    let store = ctx.store().await?;
    let journey = store.journey(&id).await?;
    store.close().await;
    let Some(journey) = journey else {
        eprintln!("error: no patient `{}` in {}", args.patient, ctx.database);
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &journey)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", journey.text())?;
    }
    Ok(ExitCode::SUCCESS)
}
