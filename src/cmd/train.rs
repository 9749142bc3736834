//! `rdt train`: trains the twin on the store's cohort (masked-event pretraining, then
//! fusion), saves the checkpoint under `<data-dir>/models/`, writes the loss log
//! (`loss.csv`, `loss.svg`) beside it, pins its three files and activates it in the
//! model registry (as `--as`/`RDT_USER` with the governance role: training a model
//! is a governance act, and the audit trail says who did it).
//!
//! Also home of what `embed` and `eval` share: reading the cohort, note vectors,
//! loading the active twin.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use audit_log::{ModelRegistry, Principal, Role};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use twin_core::encode::{NoteEncoder, NoteVectorCache};
use twin_core::models::{ModelCache, MINILM};
use twin_core::twin::model::{self, TwinModel};
use twin_core::twin::{train_twin, Stage, TrainOptions};
use journey::{Event, JourneyStore, Modality};

use crate::cmd::audit::open_signing;
use crate::context::Context;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Passes over the cohort in masked-event pretraining.
    #[arg(long, default_value_t = 2)]
    pretrain_epochs: usize,
    /// Passes over the cohort in fusion training.
    #[arg(long, default_value_t = 10)]
    fusion_epochs: usize,
    /// Width of the encoders and the twin.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Most recent events read per journey.
    #[arg(long, default_value_t = 128)]
    max_events: usize,
    /// Train on the first N patients only.
    #[arg(long)]
    max_patients: Option<usize>,
    /// Embed notes with MiniLM (needs `rdt setup`) and use them as a modality.
    #[arg(long)]
    notes: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Who trains (recorded as the pinning governance user).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER", default_value = "rdt-train")]
    user: String,
    #[arg(long)]
    json: bool,
}

pub fn models_dir(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("models")
}

/// Every patient's time-ordered events (the first `max` patients when given).
pub async fn load_cohort(store: &JourneyStore, max: Option<usize>) -> anyhow::Result<Vec<(String, Vec<Event>)>> {
    let patients = store.patients().await?;
    let n = max.unwrap_or(patients.len()).min(patients.len());
    let bar = bar(n as u64, "reading journeys");
    let mut out = Vec::with_capacity(n);
    for p in patients.into_iter().take(n) {
        if let Some(j) = store.journey(&p.patient.id).await? {
            let mut events = j.events;
            events.sort_by_key(|e| e.time);
            out.push((p.patient.id.as_str().to_owned(), events));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

pub fn bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        // The template is a literal: it parses.
        ProgressStyle::with_template("{msg:20} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})").unwrap(),
    );
    bar.set_message(message);
    bar
}

/// Vectors of the given note texts, from the note-vector cache (embedding the
/// missing ones with MiniLM, loaded only if pinned). Callers pass only the notes the
/// twin reads (`FeatureSpec::note_texts`): each new text costs a MiniLM pass.
pub async fn note_vectors(
    ctx: &Context,
    registry: &ModelRegistry,
    mut texts: Vec<&str>,
) -> anyhow::Result<HashMap<String, Vec<f32>>> {
    let files = ModelCache::from_env()?.check(&MINILM)?;
    let encoder = NoteEncoder::load(&files, registry).await?;
    let cache = NoteVectorCache::for_data_dir(&ctx.data_dir);
    texts.sort_unstable();
    texts.dedup();
    let bar = bar(texts.len() as u64, "note vectors");
    let mut out = HashMap::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        let vectors = cache.get_or_embed(&encoder, chunk)?;
        for (t, v) in chunk.iter().zip(vectors) {
            out.insert((*t).to_owned(), v);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The texts of the notes a twin reads at `until` (see `FeatureSpec::note_texts`).
pub fn recent_notes(events: &[Event], until: Option<chrono::DateTime<chrono::Utc>>) -> Vec<&str> {
    let end = until.map_or(events.len(), |t| events.partition_point(|e| e.time <= t));
    events[..end]
        .iter()
        .rev()
        .filter(|e| e.modality == Modality::Note)
        .filter_map(|e| e.text.as_deref())
        .take(twin_core::twin::features::RECENT_NOTES)
        .collect()
}

/// The active twin, verified against the registry.
pub async fn load_active(ctx: &Context, registry: &ModelRegistry) -> anyhow::Result<TwinModel> {
    let dir = model::active_dir(registry, &models_dir(ctx))
        .await?
        .context("no active twin in the model registry: run `rdt train` first")?;
    Ok(TwinModel::load(&dir, registry).await?)
}

pub async fn run(ctx: &Context, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = ctx.store().await?;
    let cohort = load_cohort(&store, args.max_patients).await?;
    anyhow::ensure!(cohort.len() >= 2, "the store holds {} patient(s); training needs at least 2", cohort.len());
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let read_secs = started.elapsed().as_secs_f64();
    let notes_started = Instant::now();
    let notes = if args.notes {
        // The spec is not built yet; which notes it reads does not depend on it.
        let texts = cohort.iter().flat_map(|(_, e)| recent_notes(e, None)).collect();
        note_vectors(ctx, &registry, texts).await?
    } else {
        HashMap::new()
    };
    let notes_secs = notes_started.elapsed().as_secs_f64();

    let mut options = TrainOptions { max_events: args.max_events, hidden_size: args.hidden, ..Default::default() };
    options.pretrain.epochs = args.pretrain_epochs;
    options.pretrain.seed = args.seed;
    options.fusion.epochs = args.fusion_epochs;
    options.fusion.seed = args.seed;
    let (pretrain_steps, fusion_steps) = twin_core::twin::pipeline::planned_steps(&options, cohort.len());
    let pretrain_bar = bar(pretrain_steps as u64, "pretraining");
    let fusion_bar = bar(fusion_steps as u64, "fusion");
    let journeys: Vec<&[Event]> = cohort.iter().map(|(_, e)| e.as_slice()).collect();
    let note_vector = |text: &str| notes.get(text).cloned();
    let train_started = Instant::now();
    let mut stage_times = HashMap::new();
    let trained = train_twin(&journeys, &options, &note_vector, |stage, _| match stage {
        Stage::Pretrain => pretrain_bar.inc(1),
        Stage::EventVectors => {
            pretrain_bar.finish_and_clear();
            stage_times.insert("pretrain_and_event_vectors_secs", train_started.elapsed().as_secs_f64());
        }
        Stage::Fusion => fusion_bar.inc(1),
    })?;
    fusion_bar.finish_and_clear();
    let train_secs = train_started.elapsed().as_secs_f64();

    let mut manifest = trained.manifest.clone();
    manifest.training["notes"] = json!(args.notes);
    manifest.training["seconds"] =
        json!({"read": read_secs, "note_vectors": notes_secs, "train": train_secs, "stages": stage_times});
    let saved = model::save(&models_dir(ctx), manifest, &trained.encoder_vars, &trained.fusion_vars)?;
    let csv = twin_core::train::log::loss_csv(&trained.pretrain_log, &trained.fusion_log);
    let svg = twin_core::train::log::loss_svg(&trained.pretrain_log, &trained.fusion_log);
    std::fs::write(saved.dir.join("loss.csv"), csv)?;
    std::fs::write(saved.dir.join("loss.svg"), svg)?;
    let by = Principal::new(args.user.clone(), Role::Governance);
    let reason = format!("trained by rdt train on {} patients", cohort.len());
    model::register(&registry, &by, &saved, &reason).await?;
    registry.log().sign_head().await?;

    let r = trained.reconstruction;
    if args.json {
        let report = json!({
            "version": saved.version.to_hex(),
            "dir": saved.dir.display().to_string(),
            "patients": cohort.len(),
            "vocabulary": trained.manifest.spec.vocab.len(),
            "reconstruction": r,
            "seconds": {"read": read_secs, "note_vectors": notes_secs, "train": train_secs},
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "twin {} trained on {} patients in {:.0} s (+{:.0} s reading, {:.0} s note vectors)",
            saved.version,
            cohort.len(),
            train_secs,
            read_secs,
            notes_secs
        );
        println!("  vocabulary: {} codes; checkpoint: {}", trained.manifest.spec.vocab.len(), saved.dir.display());
        println!(
            "  masked-event reconstruction (held out): {:.1}% vs most frequent code {:.1}% ({} masked events)",
            100.0 * r.model,
            100.0 * r.most_frequent_code,
            r.masked_events
        );
        println!("  loss log: loss.csv, loss.svg; pinned and activated by {by}");
    }
    Ok(ExitCode::SUCCESS)
}
