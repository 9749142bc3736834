//! `rdt demo`: the main job on embedded defaults. On an empty store it generates the
//! demo cohort of virtual patients (`synth`, fixed seed) under the data directory and
//! imports it; then it shows what the store holds and one patient's journey.

use std::process::ExitCode;

use clap::Args;
use twin_core::Modality;

use crate::cmd::import::{import_and_record, print_summary};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct DemoArgs {}

pub async fn run(ctx: &Context, _args: DemoArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let counts = store.counts().await?;
    store.close().await;
    if counts.patients == 0 {
        let out = ctx.data_dir.join("demo-cohort");
        println!("The store is empty: generating the demo cohort of virtual patients into {}", out.display());
        let summary = tokio::task::spawn_blocking(move || synth::generate_demo(&out)).await??;
        println!("Generated {} patients; importing them.", summary.patients);
        let (report, seq) =
            import_and_record(ctx, &[summary.out_dir.clone()], Some("rdt-demo".into()), true).await?;
        print_summary(&report, ctx);
        println!("  audit entry: {seq}");
        if report.has_failures() {
            return Ok(ExitCode::from(1));
        }
    }

    let store = ctx.store().await?;
    let counts = store.counts().await?;
    let patients = store.patients().await?;
    println!("\n{} holds {} patients and {} events:", ctx.database, counts.patients, counts.events);
    for (modality, n) in &counts.events_by_modality {
        println!("  {:<18} {n:>10}", modality.as_str());
    }
    // A rheumatology journey worth showing: disease activity scores and notes.
    let shown = patients
        .iter()
        .filter(|p| p.events_by_modality.contains_key(&Modality::DiseaseActivity))
        .max_by_key(|p| p.events_by_modality.get(&Modality::Note).copied().unwrap_or(0))
        .or(patients.first());
    if let Some(p) = shown {
        let journey = store.journey(&p.patient.id).await?.expect("listed patients exist");
        println!(
            "\nJourney of {} ({}), {} events; the first 25:",
            p.patient.id,
            p.patient.name.as_deref().unwrap_or("no name"),
            journey.events.len()
        );
        for e in journey.events.iter().take(25) {
            let value = e.value.as_ref().map(|v| format!(" = {}", v.value)).unwrap_or_default();
            let display = e.code.display.as_deref().unwrap_or(&e.code.code);
            println!("  {}  {:<16} {:<5} {display}{value}", e.time.format("%Y-%m-%d"), e.modality.as_str(), e.phase.as_str());
        }
        println!("\nNext: rdt journey {} | rdt patients | rdt audit verify", p.patient.id);
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
