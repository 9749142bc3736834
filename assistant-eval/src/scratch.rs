//! The scratch install `rdt eval assistant` asks its questions over, in a directory of
//! its own so the install's data and audit trail are untouched. Stages:
//! a seeded virtual cohort (`synth`) imported into a store ([`import_cohort`]) -> an
//! audit log whose registry pins the packaged MiniLM and GGUF, verified by hash
//! ([`pin_packaged`]) -> a tiny twin with its neighbour index and a state model, so
//! every tool the questions reach runs on the scratch store ([`scratch_models`]) ->
//! the caller's assistant over those tools -> the question set ([`crate::run()`]): the
//! tuning set over the caller's cohort, the held-out set over its own frozen one.

use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};

use assistant::gguf::{self as llm, GgufCache as _, PackagedGguf};
use assistant::Assistant;
use audit_log::{AuditLog, ModelRegistry, Principal, Role};
use journey::fhir::{Importer, NoProgress};
use journey::{Database, Event, JourneyStore};
use tools::ToolContext;
use twin_core::index::build::{embed_journeys, load_journeys};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotPlan};
use twin_core::models::{cache, ModelCache, MINILM};
use twin_core::state::{patient_steps, StateModel, StateModelConfig};
use twin_core::twin::model::{register, save};
use twin_core::twin::{train_twin, TrainOptions, TwinModel};

use crate::run::{run, EvalReport, Progress};
use crate::{ScratchError, SetName};

/// The reason every scratch pin is recorded with.
const REASON: &str = "rdt eval assistant (scratch)";

/// What the scratch install holds and how much of which set is asked.
#[derive(Debug, Clone)]
pub struct ScratchOptions {
    /// The scratch directory: cleared, then filled.
    pub dir: PathBuf,
    /// The question set asked.
    pub set: SetName,
    /// Virtual patients in the cohort, and its seed: for the held-out set, its frozen
    /// cohort's ([`SetName::frozen_cohort`]) and no other.
    pub patients: usize,
    pub seed: u64,
    /// The packaged GGUF to pin in the scratch registry; `None` when the assistant
    /// loads a GGUF file of the caller's choosing.
    pub gguf: Option<PackagedGguf>,
    /// Ask only part of the set (the score is then partial).
    pub subset: Subset,
}

/// Which questions of a set are asked: all, or part of a tuning set for a quick look
/// while working on it. The held-out set is asked whole: a part of it picked by id or
/// by position would be a way to look at its questions one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Subset {
    #[default]
    All,
    /// The first N questions.
    First(usize),
    /// The questions with these ids, in the set's order; every id must be in the set.
    Ids(Vec<String>),
}

/// Builds the scratch install, has `build` make the assistant over its tools and
/// audit log (the caller picks engine and model), and asks it the question set
/// `options.set`; `progress` is told each question's result as it comes. The held-out
/// set is refused over any cohort but its frozen one, before anything is built.
pub async fn run_on_scratch<Build, Built, E>(
    options: &ScratchOptions,
    build: Build,
    progress: impl FnMut(Progress<'_>),
) -> Result<EvalReport, ScratchError>
where
    Build: FnOnce(ToolContext, AuditLog) -> Built,
    Built: Future<Output = Result<Assistant, E>>,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    if let Some((seed, patients)) = options.set.frozen_cohort() {
        if (options.seed, options.patients) != (seed, patients) {
            return Err(ScratchError::NotTheFrozenCohort { seed, patients });
        }
        if options.subset != Subset::All {
            return Err(ScratchError::HeldOutPart);
        }
    }
    let mut set = options.set.questions()?;
    match &options.subset {
        Subset::All => {}
        Subset::First(n) => set.questions.truncate(*n),
        Subset::Ids(ids) => {
            let unknown: Vec<String> =
                ids.iter().filter(|id| !set.questions.iter().any(|q| &q.id == *id)).cloned().collect();
            if !unknown.is_empty() {
                return Err(ScratchError::UnknownQuestions { set: options.set.as_str(), ids: unknown });
            }
            set.questions.retain(|q| ids.contains(&q.id));
        }
    }
    fresh_dir(&options.dir)?;
    let store = import_cohort(&options.dir, options.patients, options.seed).await?;
    let log = AuditLog::open(&format!("sqlite://{}", options.dir.join("audit.sqlite").display())).await?;
    let registry = ModelRegistry::new(log.clone());
    let system = Principal::new("rdt-eval", Role::Governance);
    pin_packaged(&registry, &system, options.gguf.as_ref()).await?;
    let tools = scratch_models(&store, &options.dir, &registry, &system).await?;
    let assistant = build(tools, log).await.map_err(|e| ScratchError::Assistant(e.into()))?;

    let report = run(&assistant, options.set, &set, progress).await?;
    store.close().await;
    Ok(report)
}

/// Removes what an earlier run left in `dir` and makes it again, empty.
fn fresh_dir(dir: &Path) -> Result<(), ScratchError> {
    let at = |source| ScratchError::Dir { path: dir.to_owned(), source };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(at)?;
    }
    std::fs::create_dir_all(dir).map_err(at)
}

/// A seeded virtual cohort written as FHIR under `dir/cohort` and imported into
/// `dir/journey.sqlite`; every file must import.
async fn import_cohort(dir: &Path, patients: usize, seed: u64) -> Result<JourneyStore, ScratchError> {
    let export = dir.join("cohort");
    let params = synth::Params { patients, seed, ..Default::default() };
    let out = export.clone();
    tokio::task::spawn_blocking(move || synth::generate(&params, &out)).await??;
    let store = JourneyStore::open(&Database::Sqlite(dir.join("journey.sqlite"))).await?;
    let report = Importer::new(store.clone()).await?.import_paths(&[export], &NoProgress).await?;
    if report.has_failures() {
        return Err(ScratchError::Import);
    }
    Ok(store)
}

/// Pins the packaged MiniLM and, when given, the packaged GGUF in the scratch
/// registry, each verified against its sha256 in the model cache.
async fn pin_packaged(
    registry: &ModelRegistry,
    by: &Principal,
    gguf: Option<&PackagedGguf>,
) -> Result<(), ScratchError> {
    let models = ModelCache::from_env()?;
    let minilm = models.check(&MINILM).map_err(ScratchError::NotSetUp)?;
    cache::pin_model(registry, by, &MINILM, &minilm, REASON).await?;
    if let Some(packaged) = gguf {
        let file = models.check_gguf(packaged).map_err(ScratchError::NotSetUp)?;
        llm::pin_gguf(registry, by, packaged, &file, REASON).await?;
    }
    Ok(())
}

/// The scratch cohort's own twin (the tiny training configuration: seconds, enough to
/// find neighbours for the cohort questions), its neighbour index and state model, so
/// every tool the questions reach runs on the scratch store.
async fn scratch_models(
    store: &JourneyStore,
    scratch: &Path,
    registry: &ModelRegistry,
    by: &Principal,
) -> Result<ToolContext, ScratchError> {
    let journeys = load_journeys(store, None, |_| {}).await?;
    let refs: Vec<&[Event]> = journeys.iter().map(|(_, e)| e.as_slice()).collect();
    let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {})?;
    let saved = save(&scratch.join("models"), trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars)?;
    register(registry, by, &saved, REASON).await?;
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
    let state_model = StateModel::fit(&steps, config);
    state_model.save(&StateModel::install_path(scratch))?;
    state_model.register(registry, by, REASON).await?;
    Ok(ToolContext::for_install(store.clone(), scratch, &index_config, registry).await?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use assistant::ToolRetriever;
    use serde_json::{json, Value};

    use super::*;
    use crate::testing::{KeywordEmbedder, ScriptedModel, Step};
    use crate::Expect;

    /// The scratch install and the runner end to end, both sets, without model files (the
    /// MiniLM and GGUF pins are left out): the seeded cohort, its tiny twin, index and
    /// state model, and a scripted model that takes the first tool offered and leads
    /// with a sentence stating no fact. Every question is asked and reported once, in
    /// order; every question outside the asker's role is refused whatever the model
    /// says (the role check comes first); no fact question passes on the lead alone,
    /// however many pass whole on RDT's sentences; each set's report files are its own
    /// and hold what the run returned.
    #[tokio::test]
    async fn both_sets_run_over_a_scratch_install() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("eval-assistant");
        fresh_dir(&scratch).unwrap();
        let store = import_cohort(&scratch, 40, 11).await.unwrap();
        let log = AuditLog::open(&format!("sqlite://{}", scratch.join("audit.sqlite").display())).await.unwrap();
        let registry = ModelRegistry::new(log.clone());
        let by = Principal::new("test", Role::Governance);
        let tools = scratch_models(&store, &scratch, &registry, &by).await.unwrap();
        let model = Arc::new(ScriptedModel::new(|step, _| match step {
            Step::ChooseTool { offered } => json!({ "tool": offered[0] }).to_string(),
            Step::Definition { .. } => json!({"term": "none"}).to_string(),
            Step::Arguments { .. } => "{}".into(),
            Step::Answer { .. } => "The facts below answer the question.".into(),
        }));
        let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
        let assistant = Assistant::new(model, tools, log, retriever);

        let mut written = Vec::new();
        for name in [SetName::Tuning, SetName::HeldOut] {
            let set = name.questions().unwrap();
            let mut seen = Vec::new();
            let report =
                run(&assistant, name, &set, |p| seen.push((p.done, p.total, p.scored.id.clone()))).await.unwrap();
            let total = set.questions.len();
            let expected: Vec<(usize, usize, String)> =
                set.questions.iter().enumerate().map(|(i, q)| (i + 1, total, q.id.clone())).collect();
            assert_eq!(seen, expected, "each question reported once, in order");
            assert_eq!(report.results.len(), total);
            let pending = set.questions.iter().filter(|q| matches!(q.expect, Expect::Pending { .. })).count();
            assert_eq!(report.scored, total - pending);
            let outside: Vec<&crate::Scored> =
                report.results.iter().filter(|r| matches!(r.expect, Expect::OutsideRole)).collect();
            assert!(!outside.is_empty() && outside.iter().all(|r| r.correct), "{outside:#?}");
            let scope: Vec<&crate::Scored> =
                report.results.iter().filter(|r| matches!(r.expect, Expect::NoOtherPatient)).collect();
            assert!(scope.iter().all(|r| r.correct), "another patient is neither read nor disclosed: {scope:#?}");
            let facts: Vec<&crate::Scored> =
                report.results.iter().filter(|r| !r.expect.is_judged_on_outcome()).collect();
            assert!(facts.iter().any(|r| r.correct), "RDT's sentences answer some questions whole");
            assert!(facts.iter().all(|r| !r.lead_correct), "a lead stating nothing never passes alone");
            assert_eq!(report.by_reading.iter().map(|r| r.scored).sum::<usize>(), report.scored);
            let (a, b) = (&report.patients["a"], &report.patients["b"]);
            assert_ne!(a, b);
            for id in [a, b] {
                let id = journey::PatientId::new(id.as_str()).unwrap();
                assert!(store.journey(&id).await.unwrap().is_some(), "{id} is in the scratch store");
            }

            let markdown = report.write(&dir.path().join("reports")).unwrap();
            assert_eq!(std::fs::read_to_string(&markdown).unwrap(), report.markdown());
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(markdown.with_extension("json")).unwrap()).unwrap();
            assert_eq!(json["results"].as_array().map(Vec::len), Some(total));
            assert_eq!(json["correct"].as_u64(), Some(report.correct as u64));
            assert_eq!(json["set"], name.as_str());
            written.push(markdown);
        }
        assert_ne!(written[0], written[1], "the held-out report is kept apart from the tuning set's");
    }

    /// The held-out set is scored over its frozen cohort only: another seed or size is
    /// refused before a cohort is generated or a model built.
    #[tokio::test]
    async fn the_held_out_set_refuses_another_cohort() {
        let dir = tempfile::tempdir().unwrap();
        let options = ScratchOptions {
            dir: dir.path().join("eval-assistant"),
            set: SetName::HeldOut,
            patients: 40,
            seed: 11,
            gguf: None,
            subset: Subset::All,
        };
        let built = std::sync::atomic::AtomicBool::new(false);
        let build = |_tools: ToolContext, _log: AuditLog| {
            built.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Err::<Assistant, std::io::Error>(std::io::Error::other("not built")) }
        };
        let refused = run_on_scratch(&options, build, |_| {}).await;
        assert!(matches!(refused, Err(ScratchError::NotTheFrozenCohort { seed: 43, patients: 60 })), "{refused:?}");
        assert!(!built.load(std::sync::atomic::Ordering::SeqCst) && !options.dir.exists());
    }

    /// The held-out set is asked whole over its own cohort, and a tuning subset naming
    /// an id the set lacks is an error naming it; both before anything is built.
    #[tokio::test]
    async fn parts_of_sets_are_checked_before_building() {
        let dir = tempfile::tempdir().unwrap();
        let refuse = |set: SetName, seed: u64, patients: usize, subset: Subset| ScratchOptions {
            dir: dir.path().join("eval-assistant"),
            set,
            patients,
            seed,
            gguf: None,
            subset,
        };
        let build = |_tools: ToolContext, _log: AuditLog| async {
            Err::<Assistant, std::io::Error>(std::io::Error::other("not built"))
        };
        let held_out = refuse(SetName::HeldOut, 43, 60, Subset::First(3));
        let refused = run_on_scratch(&held_out, build, |_| {}).await;
        assert!(matches!(refused, Err(ScratchError::HeldOutPart)), "{refused:?}");
        let unknown = refuse(SetName::Tuning, 11, 40, Subset::Ids(vec!["no-such-question".into()]));
        let refused = run_on_scratch(&unknown, build, |_| {}).await;
        match refused {
            Err(e @ ScratchError::UnknownQuestions { .. }) => assert!(e.to_string().contains("no-such-question"), "{e}"),
            other => panic!("expected an unknown id, got {other:?}"),
        }
        assert!(!dir.path().join("eval-assistant").exists());
    }
}
