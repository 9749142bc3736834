//! `rdt eval assistant`: the question set (`assistant/questions/virtual-cohort.json`)
//! asked of the real model over a seeded virtual cohort, scored by
//! `assistant::eval`: share correct, share of answers with a number no tool result
//! holds, share of correct refusals, and the warm question-to-answer time. Runs in a
//! scratch directory of its own (cohort, store, audit log, a tiny twin with its
//! neighbour index, a state model), so the install's data and audit trail are untouched; writes `assistant-eval.md` and `.json` under
//! `<data-dir>/reports/`.

use std::process::ExitCode;

use anyhow::Context as _;
use assistant::eval::{self, QuestionSet};
use audit_log::{AuditLog, ModelRegistry, Principal, Role};
use clap::Args;
use journey::fhir::{Importer, NoProgress};
use twin_core::index::build::{embed_journeys, load_journeys};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotPlan};
use twin_core::models::{cache, ModelCache, MINILM};
use assistant::gguf as llm;
use assistant::gguf::GgufCache as _;
use twin_core::state::{patient_steps, StateModel, StateModelConfig};
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};
use journey::{Database, Event, JourneyStore};

use crate::cmd::ask::{build_assistant, ModelArgs};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct EvalAssistantArgs {
    /// Virtual patients in the scratch cohort.
    #[arg(long, default_value_t = 40)]
    patients: usize,
    /// The cohort's seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Ask only the first N questions (for a quick look; the score is then partial).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long)]
    json: bool,
}

/// The scratch cohort's own twin (the tiny training configuration: seconds, enough to
/// find neighbours for the cohort questions), its neighbour index and state model, so
/// every tool the questions reach runs on the scratch store.
async fn scratch_models(
    store: &JourneyStore,
    scratch: &std::path::Path,
    registry: &ModelRegistry,
    by: &Principal,
) -> anyhow::Result<tools::ToolContext> {
    let journeys = load_journeys(store, None, |_| {}).await?;
    let refs: Vec<&[Event]> = journeys.iter().map(|(_, e)| e.as_slice()).collect();
    let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {})?;
    let saved = save(&scratch.join("models"), trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars)?;
    register(registry, by, &saved, "rdt eval assistant (scratch)").await?;
    let model = TwinModel::load(&saved.dir, registry).await?;
    let points = embed_journeys(&model, &journeys, &SnapshotPlan::default(), &|_| None, || {})?;
    let index_config = IndexConfig::local(scratch);
    let mut index = NeighbourIndex::open(&index_config).await?;
    index.upsert(&points).await?;
    index.flush().await?;
    drop(index);
    let config = StateModelConfig::default();
    let steps: Vec<_> =
        journeys.iter().map(|(id, events)| patient_steps(id.clone(), events, config.step_days)).collect();
    StateModel::fit(&steps, config).save(&StateModel::install_path(scratch))?;
    Ok(tools::ToolContext::for_install(store.clone(), scratch, &index_config, registry).await?)
}

pub async fn run(ctx: &Context, args: EvalAssistantArgs) -> anyhow::Result<ExitCode> {
    let scratch = ctx.data_dir.join("eval-assistant");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).with_context(|| format!("clearing {}", scratch.display()))?;
    }
    std::fs::create_dir_all(&scratch)?;
    let export = scratch.join("cohort");
    let params = synth::Params { patients: args.patients, seed: args.seed, ..Default::default() };
    let out = export.clone();
    tokio::task::spawn_blocking(move || synth::generate(&params, &out)).await??;
    let store = JourneyStore::open(&Database::Sqlite(scratch.join("journey.sqlite"))).await?;
    let report = Importer::new(store.clone()).await?.import_paths(&[export], &NoProgress).await?;
    anyhow::ensure!(!report.has_failures(), "the scratch cohort did not import cleanly");

    // A scratch audit log whose registry pins the packaged files (verified by hash).
    let log = AuditLog::open(&format!("sqlite://{}", scratch.join("audit.sqlite").display())).await?;
    let registry = ModelRegistry::new(log.clone());
    let system = Principal::new("rdt-eval", Role::Governance);
    let models = ModelCache::from_env()?;
    let minilm = models.check(&MINILM).context("run `rdt setup` first")?;
    cache::pin_model(&registry, &system, &MINILM, &minilm, "rdt eval assistant (scratch)").await?;
    if args.model.gguf.is_none() {
        let packaged = args.model.model.packaged();
        let file = models.check_gguf(&packaged).context("run `rdt setup` first")?;
        llm::pin_gguf(&registry, &system, &packaged, &file, "rdt eval assistant (scratch)").await?;
    }
    let tools = scratch_models(&store, &scratch, &registry, &system).await?;
    let assistant = build_assistant(ctx, tools, log, &args.model).await?;

    let mut set = QuestionSet::builtin()?;
    if let Some(n) = args.limit {
        set.questions.truncate(n);
    }
    let total = set.questions.len();
    let mut done = 0;
    let result = eval::run(&assistant, &set, |s| {
        done += 1;
        if !args.json {
            let mark = if s.pending {
                "pending"
            } else if s.correct {
                "ok"
            } else {
                "FAIL"
            };
            eprintln!("[{done:>2}/{total}] {mark:<7} {:>5.1} s  {}: {}", s.seconds, s.id, s.answer.replace('\n', " "));
        }
    })
    .await?;
    store.close().await;

    let reports = ctx.data_dir.join("reports");
    std::fs::create_dir_all(&reports)?;
    std::fs::write(reports.join("assistant-eval.md"), result.markdown())?;
    std::fs::write(reports.join("assistant-eval.json"), serde_json::to_string_pretty(&result)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("{}", result.markdown());
        println!("Written to {}", reports.join("assistant-eval.md").display());
    }
    Ok(ExitCode::SUCCESS)
}
