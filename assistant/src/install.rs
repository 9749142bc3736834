//! The assistant on an install. [`setup`] (`rdt setup`) fetches MiniLM (the note
//! encoder, `twin_core::models::cache`) and the chosen assistant GGUFs ([`crate::gguf`])
//! into the model cache, verifies their sha256 and pins them in the install's model
//! registry, reporting progress through a callback and returning a [`SetupReport`].
//! When no LLM was ever active, setup activates the first one it pinned (audited, as
//! [`SETUP_USER`]), so a fresh install answers with a version the registry names.
//! [`build_governed`] (`rdt ask`, `rdt serve`'s chat panel) makes the
//! [`GovernedAssistant`] of the registry's *active* LLM (or of an explicit
//! `--model`/`--gguf`): the engine on a GGUF, MiniLM for tool retrieval, and the
//! tools, auditing to the install's log; [`build`] (`rdt eval assistant`) the plain
//! [`Assistant`] of a choice.
//!
//! Idempotent: files already present with the right hashes are not downloaded again,
//! and files already pinned are not pinned twice. The pin is made by [`SETUP_USER`]
//! with the governance role and [`SETUP_REASON`]: running setup is the operator's
//! decision to trust the weights whose hashes the project ships.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use audit_log::{ArtifactKind, ArtifactStatus, AuditError, AuditLog, GovernanceError, ModelRegistry, Principal, Role};
use serde::Serialize;
use tools::ToolContext;
use twin_core::encode::NoteVectorCache;
use twin_core::models::cache::{self, CacheError, FetchOutcome};
use twin_core::models::{ModelCache, MINILM};

use crate::engine::{self, engine_from_env, EngineConfigError, EngineOptions};
use crate::governed::{EngineLoader, GovernedAssistant, LlmLoader as _, ModelPolicy};
use crate::retrieval::RetrievalError;
use crate::{Assistant, AssistantBase, ChatError, EngineKind, MiniLm, ToolRetriever};

use crate::gguf::{self, GgufCache as _, GgufProgress, PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};

/// Who pins packaged weights, and why (recorded in the audit trail).
pub const SETUP_USER: &str = "rdt-setup";
pub const SETUP_REASON: &str = "packaged weights verified by setup";
/// Why setup activates an LLM (only when none was ever active).
pub const SETUP_ACTIVATE_REASON: &str = "setup: no LLM was active yet; the first packaged one set up answers";

/// Where an install keeps the LLM's saved prompt prefix (KV state) between processes,
/// under its data directory ([`EngineOptions::prefix_cache`]).
pub const PREFIX_CACHE_DIR: &str = "cache/llm-prefix";

/// Which assistant GGUFs to fetch (`rdt setup --llm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmChoice {
    Default,
    Fast,
    Smallest,
    All,
    None,
}

impl LlmChoice {
    /// The names [`FromStr`] accepts, in order.
    pub const NAMES: [&'static str; 5] = ["default", "fast", "smallest", "all", "none"];

    /// The GGUF models `choices` name, each once, largest first.
    pub fn chosen(choices: &[LlmChoice]) -> Vec<PackagedGguf> {
        let wanted = |model: &PackagedGguf| {
            choices.iter().any(|c| match c {
                LlmChoice::All => true,
                LlmChoice::None => false,
                LlmChoice::Default => model.name == QWEN_CODER_1_5B.name,
                LlmChoice::Fast => model.name == QWEN_CODER_0_5B.name,
                LlmChoice::Smallest => model.name == SMOLLM2_135M.name,
            })
        };
        gguf::ALL_LLMS.into_iter().filter(|m| wanted(m)).collect()
    }
}

impl FromStr for LlmChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "default" => LlmChoice::Default,
            "fast" => LlmChoice::Fast,
            "smallest" => LlmChoice::Smallest,
            "all" => LlmChoice::All,
            "none" => LlmChoice::None,
            other => return Err(format!("`{other}` is not one of {}", LlmChoice::NAMES.join(", "))),
        })
    }
}

/// What [`setup`] is doing, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupProgress {
    /// A line saying what is being checked.
    Note(String),
    /// A GGUF of this many bytes is being fetched (start a bar).
    GgufStarted { size_bytes: u64 },
    /// Progress of that GGUF.
    Gguf(GgufProgress),
    /// That GGUF is present and verified (end the bar).
    GgufDone,
}

/// What went wrong in [`setup`].
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("signing the tree head over the new pins: {0}")]
    Audit(#[from] AuditError),
    #[error("the fetch task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("activating the first LLM: {0}")]
    Governance(#[from] GovernanceError),
}

/// One verified file of MiniLM.
#[derive(Debug, Clone, Serialize)]
pub struct SetupFile {
    pub path: String,
    pub sha256: String,
}

/// One verified GGUF.
#[derive(Debug, Clone, Serialize)]
pub struct SetupLlm {
    pub model: &'static str,
    pub path: String,
    pub sha256: String,
    pub fetched: bool,
    pub newly_pinned: bool,
    #[serde(skip)]
    pub outcome: FetchOutcome,
}

/// What [`setup`] found, fetched and pinned (its JSON is `rdt setup --json`).
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub model: &'static str,
    pub package: &'static str,
    pub dir: String,
    pub fetched: bool,
    /// Files newly pinned, MiniLM's and the GGUFs together.
    pub newly_pinned: usize,
    /// The LLM setup activated (sha256), when none was ever active before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_llm: Option<String>,
    pub files: Vec<SetupFile>,
    pub llms: Vec<SetupLlm>,
    #[serde(skip)]
    pub outcome: FetchOutcome,
}

impl SetupReport {
    /// The report for people: each model, where, its hashes, and what was pinned.
    pub fn text(&self) -> String {
        let mut s = format!("{}: {} in {}\n", self.model, self.outcome, self.dir);
        for f in &self.files {
            let name = std::path::Path::new(&f.path).file_name().unwrap_or_default().to_string_lossy();
            let _ = writeln!(s, "  {}  {name}", f.sha256);
        }
        for l in &self.llms {
            let _ = writeln!(s, "{}: {} at {}\n  {}", l.model, l.outcome, l.path, l.sha256);
        }
        match self.newly_pinned {
            0 => s.push_str("already pinned in the model registry\n"),
            n => {
                let _ = writeln!(s, "pinned {n} file(s) in the model registry as {SETUP_USER} (governance): \"{SETUP_REASON}\"");
            }
        }
        if let Some(sha) = &self.activated_llm {
            let _ = writeln!(s, "activated llm {sha}: no LLM was active yet (`rdt models activate` chooses another)");
        }
        s
    }
}

/// Fetches, verifies and pins MiniLM and the GGUFs `llms` name into `cache` and
/// `registry`, telling `progress`; signs a tree head when anything was newly pinned
/// (as `rdt models pin` does). The downloads run on blocking threads.
pub async fn setup<P>(
    cache: &ModelCache,
    registry: &ModelRegistry,
    llms: &[LlmChoice],
    mut progress: P,
) -> Result<SetupReport, SetupError>
where
    P: FnMut(SetupProgress) + Send + 'static,
{
    progress(SetupProgress::Note(format!("model cache: {}", cache.root().display())));
    progress(SetupProgress::Note(format!(
        "checking {} (downloaded with pip when absent, about 85 MB) ...",
        MINILM.requirement
    )));
    let fetch_cache = cache.clone();
    let (files, outcome) = tokio::task::spawn_blocking(move || fetch_cache.fetch(&MINILM)).await??;
    let by = Principal::new(SETUP_USER, Role::Governance);
    let mut newly_pinned = cache::pin_model(registry, &by, &MINILM, &files, SETUP_REASON).await?;

    let mut fetched_llms = Vec::new();
    for model in LlmChoice::chosen(llms) {
        let summary = model.requirement_summary();
        progress(SetupProgress::Note(format!("checking {} ({summary}, {} MB) ...", model.name, model.size_bytes / 1_000_000)));
        progress(SetupProgress::GgufStarted { size_bytes: model.size_bytes });
        let fetch_cache = cache.clone();
        let (fetched, returned) = tokio::task::spawn_blocking(move || {
            let fetched = fetch_cache.fetch_gguf(&model, &mut |event| progress(SetupProgress::Gguf(event)));
            (fetched, progress)
        })
        .await?;
        progress = returned;
        let (file, outcome) = fetched?;
        progress(SetupProgress::GgufDone);
        let retired = registry.state().await?.get(ArtifactKind::Llm, &file.sha256).map(|a| a.status);
        if retired == Some(ArtifactStatus::Retired) {
            progress(SetupProgress::Note(format!(
                "{} is retired in the model registry: left retired (a governance user may pin it again)",
                model.name
            )));
        }
        let newly = gguf::pin_gguf(registry, &by, &model, &file, SETUP_REASON).await?;
        newly_pinned += usize::from(newly);
        fetched_llms.push(SetupLlm {
            model: model.name,
            path: file.path.display().to_string(),
            sha256: file.sha256.to_hex(),
            fetched: outcome == FetchOutcome::Downloaded,
            newly_pinned: newly,
            outcome,
        });
    }
    // The first LLM set up becomes the active one, once: after that only a
    // governance user decides (a retired active one is not replaced here).
    let mut activated_llm = None;
    let state = registry.state().await?;
    if state.last_change(ArtifactKind::Llm).is_none() {
        let loadable = fetched_llms.iter().filter_map(|l| {
            let sha256: audit_log::Digest = l.sha256.parse().ok()?;
            state.get(ArtifactKind::Llm, &sha256).filter(|a| a.status != ArtifactStatus::Retired).map(|a| a.sha256)
        });
        if let Some(first) = loadable.into_iter().next() {
            registry.activate(&by, ArtifactKind::Llm, &first, SETUP_ACTIVATE_REASON).await?;
            activated_llm = Some(first.to_hex());
        }
    }
    if newly_pinned > 0 || activated_llm.is_some() {
        registry.log().sign_head().await?;
    }
    Ok(SetupReport {
        model: MINILM.name,
        package: MINILM.requirement,
        dir: files.dir.display().to_string(),
        fetched: outcome == FetchOutcome::Downloaded,
        newly_pinned,
        activated_llm,
        files: files
            .files
            .iter()
            .map(|(path, sha)| SetupFile { path: path.display().to_string(), sha256: sha.to_hex() })
            .collect(),
        llms: fetched_llms,
        outcome,
    })
}

/// Which model answers: the engine (default: `RDT_LLM_ENGINE`, else llama.cpp) and
/// the weights.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    pub engine: Option<EngineKind>,
    pub pick: ModelPick,
}

/// Which weights: the registry's active LLM unless the operator names one.
#[derive(Debug, Clone)]
pub enum ModelPick {
    /// The model registry's active `llm` artifact, found in the model cache.
    Active,
    /// A packaged GGUF, named explicitly (`--model`): it must be pinned, not retired.
    Packaged(PackagedGguf),
    /// A GGUF file of one's own (`--gguf`): it must be pinned, not retired.
    File(PathBuf),
}

/// Why [`build`] made no assistant.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Engine(#[from] EngineConfigError),
    #[error("loading the {kind} engine")]
    Load { kind: EngineKind, source: ChatError },
    #[error("MiniLM ranks the tools; run `rdt setup`")]
    NoMiniLm(#[source] CacheError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
    #[error("reading the model registry: {0}")]
    Registry(#[from] GovernanceError),
    /// No active LLM: why, in the words a question would get.
    #[error(transparent)]
    NotServing(#[from] crate::governed::NotServing),
}

/// The model `model` picks, on its engine, and whether it follows the registry;
/// no model when it picks the registry's active LLM and none is active.
async fn load_chat(
    data_dir: &Path,
    cache: &ModelCache,
    registry: &ModelRegistry,
    model: &ModelChoice,
) -> Result<(Option<Arc<dyn crate::ChatModel>>, EngineLoader, ModelPolicy), BuildError> {
    let kind = match model.engine {
        Some(k) => k,
        None => engine_from_env()?,
    };
    let options = EngineOptions { prefix_cache: Some(data_dir.join(PREFIX_CACHE_DIR)), ..EngineOptions::from_env()? };
    let loader = EngineLoader::new(kind, options.clone(), cache.clone(), registry.clone());
    let load_error = |source| BuildError::Load { kind, source };
    let (chat, policy) = match &model.pick {
        ModelPick::Active => match registry.state().await?.active(ArtifactKind::Llm) {
            Some(active) => (Some(loader.load(active).await.map_err(load_error)?), ModelPolicy::FollowActive),
            None => (None, ModelPolicy::FollowActive),
        },
        ModelPick::Packaged(packaged) => {
            let path = cache.gguf_path(packaged);
            (Some(engine::load_with(kind, &path, registry, &options).await.map_err(load_error)?), ModelPolicy::Explicit)
        }
        ModelPick::File(path) => {
            (Some(engine::load_with(kind, path, registry, &options).await.map_err(load_error)?), ModelPolicy::Explicit)
        }
    };
    Ok((chat, loader, policy))
}

/// The engine on `model`'s GGUF, MiniLM retrieval (note vectors cached under
/// `data_dir`) and `tools`, auditing to `log`, whose registry must have the GGUF and
/// MiniLM pinned. A fixed assistant: for evaluation; what answers clinicians is
/// [`build_governed`].
pub async fn build(data_dir: &Path, tools: ToolContext, log: AuditLog, model: &ModelChoice) -> Result<Assistant, BuildError> {
    let registry = ModelRegistry::new(log.clone());
    let cache = ModelCache::from_env()?;
    let ((chat, _, _), base) =
        tokio::try_join!(load_chat(data_dir, &cache, &registry, model), base_on(data_dir, tools, log, &registry, &cache))?;
    let Some(chat) = chat else {
        return Err(crate::governed::NotServing::from_state(&registry.state().await?).into());
    };
    Ok(base.with_model(chat))
}

/// [`build`], kept under governance: with [`ModelPick::Active`] the assistant follows
/// the registry's active LLM from question to question (an activation or rollback
/// switches it, a retirement stops it; with none active yet it waits, refusing
/// questions until a governance user activates one); with an explicit pick it keeps
/// that model until retired.
pub async fn build_governed(
    data_dir: &Path,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelChoice,
) -> Result<GovernedAssistant, BuildError> {
    let registry = ModelRegistry::new(log.clone());
    let cache = ModelCache::from_env()?;
    // The GGUF (engine load on a blocking thread) and MiniLM (retrieval) load side by
    // side: a cold `rdt ask` waits for the slower, not for both.
    let ((chat, loader, policy), base) =
        tokio::try_join!(load_chat(data_dir, &cache, &registry, model), base_on(data_dir, tools, log, &registry, &cache))?;
    let loader = Arc::new(loader);
    Ok(match chat {
        Some(chat) => GovernedAssistant::new(base.with_model(chat), registry, loader, policy),
        None => GovernedAssistant::waiting(base, registry, loader),
    })
}

/// Everything but the model: MiniLM retrieval over the tools, the audit log.
async fn base_on(
    data_dir: &Path,
    tools: ToolContext,
    log: AuditLog,
    registry: &ModelRegistry,
    cache: &ModelCache,
) -> Result<AssistantBase, BuildError> {
    let files = cache.check_with(&MINILM, registry.log().digest_records()).map_err(BuildError::NoMiniLm)?;
    let embedder = MiniLm::load(&files, registry, Some(NoteVectorCache::for_data_dir(data_dir))).await?;
    let retriever = ToolRetriever::new(Arc::new(embedder), &tools::specs())?;
    Ok(AssistantBase::new(tools, log, retriever))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_name_each_model_once_largest_first() {
        let names = |c: &[LlmChoice]| LlmChoice::chosen(c).iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(&[LlmChoice::Default]), [QWEN_CODER_1_5B.name]);
        assert_eq!(names(&[LlmChoice::Smallest, LlmChoice::Fast]), [QWEN_CODER_0_5B.name, SMOLLM2_135M.name]);
        assert_eq!(names(&[LlmChoice::All, LlmChoice::Fast]).len(), 3);
        assert!(names(&[LlmChoice::None]).is_empty());
        for name in LlmChoice::NAMES {
            assert!(name.parse::<LlmChoice>().is_ok(), "{name}");
        }
        assert!("large".parse::<LlmChoice>().unwrap_err().contains("`large`"));
    }

    #[test]
    fn text_names_files_models_and_the_pin() {
        let mut report = SetupReport {
            model: "minilm",
            package: "pkg==1",
            dir: "/cache/minilm".into(),
            fetched: false,
            newly_pinned: 0,
            activated_llm: None,
            files: vec![SetupFile { path: "/cache/minilm/model.safetensors".into(), sha256: "ab".into() }],
            llms: vec![SetupLlm {
                model: "smol",
                path: "/cache/llm/smol.gguf".into(),
                sha256: "cd".into(),
                fetched: true,
                newly_pinned: true,
                outcome: FetchOutcome::Downloaded,
            }],
            outcome: FetchOutcome::AlreadyPresent,
        };
        assert_eq!(
            report.text(),
            "minilm: already present and verified in /cache/minilm\n  ab  model.safetensors\n\
             smol: downloaded and verified at /cache/llm/smol.gguf\n  cd\nalready pinned in the model registry\n"
        );
        report.newly_pinned = 2;
        assert!(report.text().ends_with(&format!("pinned 2 file(s) in the model registry as {SETUP_USER} (governance): \"{SETUP_REASON}\"\n")));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["llms"][0]["newly_pinned"], true);
        assert!(json.get("outcome").is_none());
    }
}
