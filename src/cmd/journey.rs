//! `rdt patients` and `rdt journey PATIENT`: what the store holds.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
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
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<38} {:<28} {:<10} {:<7} {:>7}  first..last event", "id", "name", "born", "sex", "events")?;
    for p in &patients {
        let span = match (p.first_event, p.last_event) {
            (Some(a), Some(b)) => format!("{}..{}", a.date_naive(), b.date_naive()),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<38} {:<28} {:<10} {:<7} {:>7}  {span}",
            p.patient.id.as_str(),
            p.patient.name.as_deref().unwrap_or("-"),
            p.patient.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            p.patient.sex.as_deref().unwrap_or("-"),
            p.events,
        )?;
    }
    writeln!(out, "{} patients", patients.len())?;
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
        return Ok(ExitCode::SUCCESS);
    }
    let p = &journey.patient;
    writeln!(
        out,
        "{} {} (born {}, {}): {} events",
        p.id,
        p.name.as_deref().unwrap_or(""),
        p.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
        p.sex.as_deref().unwrap_or("?"),
        journey.events.len()
    )?;
    for e in &journey.events {
        let value = match (&e.value, &e.text) {
            (Some(v), _) => format!(" = {}{}", v.value, v.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default()),
            (None, Some(t)) => format!(" : {}", first_line(t, 80)),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "{}  {:<16} {:<5} {}|{} {}{value}",
            e.time.format("%Y-%m-%d %H:%M"),
            e.modality.as_str(),
            e.phase.as_str(),
            short_system(&e.code.system),
            e.code.code,
            e.code.display.as_deref().unwrap_or(""),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `http://loinc.org` -> `loinc.org`: the table stays readable, the JSON keeps it whole.
fn short_system(system: &str) -> &str {
    system.trim_start_matches("http://").trim_start_matches("https://")
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}
