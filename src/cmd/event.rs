//! `rdt event add`: records one event for a patient and brings their twin up to date
//! (`twin_core::index::sync::add_recorded`): the event through the journey store, the
//! patient re-embedded with the active twin (no retraining), their index points
//! replaced, and an audit entry (who, which patient, the event's digest); then their
//! nearest neighbours by the new twin.

use std::process::ExitCode;

use audit_log::{Principal, Role};
use clap::{Args, Subcommand};
use serde_json::json;
use twin_core::index::sync::{add_recorded, EventInput};
use twin_core::index::{NeighbourIndex, NeighbourQuery};
use twin_core::twin::load_active;

use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(subcommand)]
    command: EventCommand,
}

#[derive(Debug, Subcommand)]
enum EventCommand {
    /// Add one event to a patient's journey and update their twin and index points.
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(long)]
    patient: String,
    /// `SYSTEM|CODE`, e.g. `http://loinc.org|1988-5` (a code system as written, local ones too).
    #[arg(long, value_name = "SYSTEM|CODE")]
    code: String,
    /// Human-readable name of the code.
    #[arg(long)]
    display: Option<String>,
    #[arg(long)]
    value: Option<f64>,
    #[arg(long)]
    unit: Option<String>,
    /// Free text (a note's text).
    #[arg(long)]
    text: Option<String>,
    /// When it happened: RFC 3339 (`2024-05-01T09:30:00Z`) or a date (midnight UTC). Default: now.
    #[arg(long, value_name = "TIME")]
    time: Option<String>,
    /// lab, disease_activity, medication, note, imaging, omics, diagnosis, vital, ...
    #[arg(long, default_value = "lab")]
    modality: String,
    /// point, start or stop.
    #[arg(long, default_value = "point")]
    phase: String,
    /// Neighbours to show after the update.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Who records the event (for the audit trail).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: EventArgs) -> anyhow::Result<ExitCode> {
    let EventCommand::Add(args) = args.command;
    let event = EventInput {
        patient: args.patient,
        code: args.code,
        display: args.display,
        value: args.value,
        unit: args.unit,
        text: args.text,
        time: args.time,
        modality: args.modality,
        phase: args.phase,
    }
    .event()?;
    let registry = ctx.registry().await?;
    let model = load_active(&ctx.data_dir, &registry).await?;
    let store = ctx.store().await?;
    let mut index = NeighbourIndex::open(&ctx.index()).await?;
    let before = index.len().await?;
    let by = Principal::new(user_name(args.user), Role::Clinician);
    let (live, seq) = add_recorded(&store, &ctx.data_dir, &registry, &model, &mut index, &event, by).await?;
    let query = NeighbourQuery::new(live.vector.clone(), args.k).excluding(live.patient.clone());
    let neighbours = index.search(&query).await?;
    store.close().await;

    if args.json {
        let out = json!({
            "patient": live.patient,
            "event": event,
            "live": {"index_time": live.index_time, "twin_version": live.twin_version, "vector": live.vector},
            "index": {"where": index.describe(), "points_before": before, "points": index.len().await?},
            "neighbours": neighbours,
            "audit_seq": seq,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("event added for {} at {}; twin updated ({})", live.patient, event.time, model.version);
        println!("  index: {} ({} points)", index.describe(), index.len().await?);
        for n in &neighbours {
            println!("  neighbour {} at {} (distance {:.4})", n.patient, n.index_time.date_naive(), n.distance);
        }
        println!("  audit entry: {seq}");
    }
    Ok(ExitCode::SUCCESS)
}
