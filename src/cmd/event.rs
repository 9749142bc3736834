//! `rdt event add`: records one event for a patient and brings their twin up to date:
//! the event goes through the journey store, the patient is re-embedded with the
//! active twin (one forward pass, no retraining) and their points in the neighbour
//! index are replaced, so the next neighbour query sees the new twin. The addition is
//! an audit entry (who, which patient, the event's digest).

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::{Digest, EntryBody, ImportRecord, ImportedFile, ModelRegistry, NewEntry, Principal, Role};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use twin_core::index::{build, sync, IndexConfig, NeighbourIndex, NeighbourQuery, SnapshotPlan};
use journey::{Code, Event, Modality, PatientId, Phase, Quantity, Source};

use crate::cmd::audit::open_signing;
use crate::cmd::train::{load_active, note_vectors};
use crate::context::Context;

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
    match args.command {
        EventCommand::Add(add) => run_add(ctx, add).await,
    }
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--time `{s}`: expected RFC 3339 (2024-05-01T09:30:00Z) or a date (2024-05-01)"))?;
    Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// The event the arguments describe. Its source key is a digest of what it says, so
/// adding the same event twice replaces it instead of duplicating it.
fn event_of(args: &AddArgs) -> anyhow::Result<Event> {
    let patient = PatientId::new(args.patient.clone()).context("--patient: empty patient id")?;
    let (system, code) = args
        .code
        .split_once('|')
        .filter(|(s, c)| !s.trim().is_empty() && !c.trim().is_empty())
        .with_context(|| format!("--code `{}`: expected SYSTEM|CODE, e.g. http://loinc.org|1988-5", args.code))?;
    let modality: Modality = args.modality.parse().map_err(|e| anyhow::anyhow!("--modality: {e}"))?;
    let phase: Phase = args.phase.parse().map_err(|e| anyhow::anyhow!("--phase: {e}"))?;
    if args.value.is_some_and(|v| !v.is_finite()) {
        anyhow::bail!("--value must be a finite number");
    }
    let time = match &args.time {
        Some(t) => parse_time(t)?,
        None => Utc::now(),
    };
    let mut event = Event {
        patient,
        time,
        code: Code { system: system.trim().into(), code: code.trim().into(), display: args.display.clone() },
        value: args.value.map(|value| Quantity { value, unit: args.unit.clone() }),
        text: args.text.clone(),
        modality,
        phase,
        source: Source {
            file: "rdt event add".into(),
            resource_type: "RdtEvent".into(),
            resource_id: String::new(),
            part: String::new(),
        },
    };
    let key = serde_json::to_vec(&event).expect("an event serialises");
    event.source.resource_id = Digest::of(&key).to_hex()[..32].to_owned();
    Ok(event)
}

async fn run_add(ctx: &Context, args: AddArgs) -> anyhow::Result<ExitCode> {
    let event = event_of(&args)?;
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let model = load_active(ctx, &registry).await?;
    let store = ctx.store().await?;
    let mut index = NeighbourIndex::open(&IndexConfig::from_env(&ctx.data_dir)).await?;
    let plan = SnapshotPlan::default();

    // Note vectors for the notes the twin will read, when it was trained with notes.
    let with_notes = model.manifest.training.get("notes").and_then(|v| v.as_bool()).unwrap_or(false);
    let notes: HashMap<String, Vec<f32>> = match (with_notes, store.journey(&event.patient).await?) {
        (true, Some(journey)) => {
            let mut events = journey.events;
            events.push(event.clone());
            events.sort_by_key(|e| e.time);
            let texts = build::note_texts(&model, &events, &plan).into_iter().map(str::to_owned).collect::<Vec<_>>();
            note_vectors(ctx, &registry, texts.iter().map(String::as_str).collect()).await?
        }
        _ => HashMap::new(),
    };
    let lookup = |t: &str| notes.get(t).cloned();

    let before = index.len().await?;
    let live = sync::add_event(&store, &model, &mut index, event.clone(), &plan, &lookup).await?;
    let query = NeighbourQuery::new(live.vector.clone(), args.k).excluding(live.patient.clone());
    let neighbours = index.search(&query).await?;

    let user = args.user.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let record = ImportRecord {
        files: vec![ImportedFile {
            path: format!("rdt event add ({}/{})", event.source.resource_type, event.source.resource_id),
            sha256: Some(Digest::of(&serde_json::to_vec(&event)?)),
            events: 1,
            error: None,
        }],
        patients: 1,
        events: 1,
    };
    let entry = NewEntry::new(Principal::new(user, Role::Clinician), EntryBody::Import { import: record })
        .patients([event.patient.as_str()]);
    let seq = registry.log().append(entry).await.context("cannot record the event in the audit log")?;
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
