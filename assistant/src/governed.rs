//! The assistant that governance runs: [`GovernedAssistant`] answers each question
//! with the model registry's *active* LLM, so activating, rolling back or retiring a
//! version (on the governance page, or with `rdt models` in another process on the
//! same database) changes what answers next, without restarting the server.
//!
//! Before each question it reads the registry's state (one query over the
//! governance entries) and compares the active `llm` artifact with the model it
//! runs. When they differ it loads the active one through its [`LlmLoader`] (one
//! switch at a time), swaps it in, and appends a `model_loaded` audit entry (this
//! process as a `system` principal; the version before and after; the governance
//! entry that caused it and who made it). Questions already running keep the
//! `Arc<Assistant>` they started with and finish on the old model. When the
//! registry has no active LLM, because the running one was retired, questions are
//! refused with [`NotServing::Retired`] until a governance user activates another.
//!
//! An operator's explicit choice (`--model`, `--gguf`) is [`ModelPolicy::Explicit`]:
//! it keeps running whatever is active, but stops answering once retired.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use audit_log::{
    Artifact, ArtifactKind, ArtifactRef, ArtifactStatus, AuditError, Digest, EntryBody, GovernanceError, ModelLoad,
    ModelRegistry, NewEntry, Principal, RegistryState, Role, Seq,
};
use twin_core::models::ModelCache;

use crate::chat::{ChatError, ChatModel, EngineKind};
use crate::engine::{self, EngineOptions};
use crate::gguf::{GgufCache as _, ALL_LLMS};
use crate::session::{Assistant, AssistantBase};

/// The principal a running process records its model switches under.
pub const SERVER_USER: &str = "rdt-server";

/// Which LLM a [`GovernedAssistant`] answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPolicy {
    /// The registry's active `llm` artifact, followed as it changes.
    FollowActive,
    /// The operator's explicit choice (`--model`, `--gguf`), kept until it is retired.
    Explicit,
}

/// Loads the LLM a registry artifact names. [`EngineLoader`] is the product's (a
/// GGUF from the model cache on llama.cpp or mistralrs); tests give a double.
#[async_trait]
pub trait LlmLoader: Send + Sync {
    /// The model of `artifact`, whose bytes must hash to `artifact.sha256`.
    async fn load(&self, artifact: &Artifact) -> Result<Arc<dyn ChatModel>, ChatError>;
}

/// Why the assistant will not answer now. Each says what a person must do.
#[derive(Debug, thiserror::Error)]
pub enum NotServing {
    #[error(
        "the active model was retired: llm {} ({name}) no longer answers; a governance user must activate \
         another (the governance page, or `rdt models activate --kind llm SHA256 --reason ...`)",
        sha256.short()
    )]
    Retired { sha256: Digest, name: String },
    #[error(
        "no LLM is active in the model registry; a governance user must activate one (the governance page, \
         `rdt models activate --kind llm SHA256 --reason ...`, or `rdt setup`)"
    )]
    NoneActive,
    #[error("the registry's active llm {} ({name}) could not be loaded: {source}", sha256.short())]
    Load {
        sha256: Digest,
        name: String,
        #[source]
        source: ChatError,
    },
    #[error("reading the model registry: {0}")]
    Registry(#[from] GovernanceError),
    #[error("recording the model switch in the audit log: {0}")]
    Audit(#[from] AuditError),
}

impl NotServing {
    /// Why `state` has no active LLM to answer with.
    pub fn from_state(state: &RegistryState) -> Self {
        match state.retired_active(ArtifactKind::Llm) {
            Some(a) => NotServing::Retired { sha256: a.sha256, name: a.name.clone() },
            None => NotServing::NoneActive,
        }
    }
}

/// An assistant whose model follows the model registry (see the module doc).
pub struct GovernedAssistant {
    registry: ModelRegistry,
    loader: Arc<dyn LlmLoader>,
    policy: ModelPolicy,
    /// What each model's assistant is built from (no model in it, so a switched-out
    /// model is dropped once its last answer finishes).
    base: AssistantBase,
    /// The assistant on the model that runs now, if any yet. A question clones the
    /// `Arc` and keeps it, so a switch never changes the model under a running answer.
    running: RwLock<Option<Arc<Assistant>>>,
    /// One switch at a time: two questions seeing a change load the model once.
    switching: tokio::sync::Mutex<()>,
}

impl GovernedAssistant {
    /// `first` runs until the registry says otherwise; `loader` loads the versions
    /// governance activates later.
    pub fn new(first: Assistant, registry: ModelRegistry, loader: Arc<dyn LlmLoader>, policy: ModelPolicy) -> Self {
        GovernedAssistant {
            registry,
            loader,
            policy,
            base: first.base(),
            running: RwLock::new(Some(Arc::new(first))),
            switching: tokio::sync::Mutex::new(()),
        }
    }

    /// No model runs yet (the registry has no active LLM): the first question after a
    /// governance user activates one loads it; until then questions are refused
    /// saying why. Follows the registry.
    pub fn waiting(base: AssistantBase, registry: ModelRegistry, loader: Arc<dyn LlmLoader>) -> Self {
        GovernedAssistant {
            registry,
            loader,
            policy: ModelPolicy::FollowActive,
            base,
            running: RwLock::new(None),
            switching: tokio::sync::Mutex::new(()),
        }
    }

    pub fn policy(&self) -> ModelPolicy {
        self.policy
    }

    /// The assistant running now, if any, without asking the registry.
    pub fn running(&self) -> Option<Arc<Assistant>> {
        self.running.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The assistant that answers the next question: the running one while the
    /// registry agrees, else the registry's active version, loaded now; or why none
    /// may answer.
    pub async fn for_question(&self) -> Result<Arc<Assistant>, NotServing> {
        let state = self.registry.state().await?;
        let running = self.running();
        let running_sha = running.as_deref().and_then(running_version);
        let running_artifact = running_sha.and_then(|sha| state.get(ArtifactKind::Llm, &sha));
        if let Some(a) = running_artifact.filter(|a| a.status == ArtifactStatus::Retired) {
            // Whatever the policy, a retired version never answers again; under
            // FollowActive a newly active one takes its place below.
            if self.policy == ModelPolicy::Explicit || state.active(ArtifactKind::Llm).is_none() {
                return Err(NotServing::Retired { sha256: a.sha256, name: a.name.clone() });
            }
        }
        let Some(active) = state.active(ArtifactKind::Llm) else {
            return match (self.policy, running) {
                (ModelPolicy::Explicit, Some(running)) => Ok(running),
                _ => Err(NotServing::from_state(&state)),
            };
        };
        match (self.policy, running) {
            (ModelPolicy::Explicit, Some(running)) => return Ok(running),
            (_, Some(running)) if Some(active.sha256) == running_sha => return Ok(running),
            _ => {}
        }
        self.switch_to(active.clone(), &state).await
    }

    /// Loads `target`, swaps it in and records the switch.
    async fn switch_to(&self, target: Artifact, state: &RegistryState) -> Result<Arc<Assistant>, NotServing> {
        let _one_at_a_time = self.switching.lock().await;
        // Another question may have made this switch while this one waited.
        let running = self.running();
        let from = running.as_deref().and_then(running_version);
        if let Some(running) = running.filter(|_| from == Some(target.sha256)) {
            return Ok(running);
        }
        let load_error = |source| NotServing::Load { sha256: target.sha256, name: target.name.clone(), source };
        let model = self.loader.load(&target).await.map_err(load_error)?;
        if model.model_sha256() != target.sha256.to_hex() {
            return Err(load_error(ChatError::Load {
                path: target.name.clone(),
                reason: format!("the loaded model is version {}, not {}", model.model_sha256(), target.sha256),
            }));
        }
        let next = Arc::new(self.base.with_model(model));
        let cause = state.last_change(ArtifactKind::Llm);
        let load = ModelLoad {
            artifact: ArtifactRef {
                kind: ArtifactKind::Llm,
                sha256: target.sha256,
                name: target.name.clone(),
                size_bytes: target.size_bytes,
            },
            previous: from,
            cause,
            reason: self.cause_text(cause).await,
        };
        let by = Principal::new(SERVER_USER, Role::System);
        self.registry.log().append(NewEntry::new(by, EntryBody::ModelLoaded { load })).await?;
        *self.running.write().unwrap_or_else(|e| e.into_inner()) = Some(next.clone());
        Ok(next)
    }

    /// "rollback by grace in audit entry #12: <reason>", from the entry that made
    /// the target active.
    async fn cause_text(&self, cause: Option<Seq>) -> String {
        let entry = match cause {
            Some(seq) => self.registry.log().entry(seq).await.ok().flatten().and_then(|e| e.parse().ok()),
            None => None,
        };
        match entry {
            Some(e) => {
                let why = match &e.body {
                    EntryBody::ModelActivated { change }
                    | EntryBody::ModelRolledBack { change }
                    | EntryBody::ModelRetired { change } => change.reason.clone(),
                    _ => String::new(),
                };
                format!(
                    "the registry's active llm changed: {} by {} in audit entry #{}: {why}",
                    e.kind().as_str().trim_start_matches("model_").replace('_', " "),
                    e.principal.user,
                    e.seq.0
                )
            }
            None => "the registry's active llm changed".to_owned(),
        }
    }
}

/// The version the running model reports (the scripted double's too).
fn running_version(assistant: &Assistant) -> Option<Digest> {
    assistant.model().model_sha256().parse().ok()
}

/// The product's [`LlmLoader`]: the artifact's GGUF from the model cache, verified
/// against the registry and loaded on one engine ([`engine::load_expecting`]: the
/// bytes hashed are the bytes loaded, and they must hash to the artifact's sha256).
pub struct EngineLoader {
    kind: EngineKind,
    options: EngineOptions,
    cache: ModelCache,
    registry: ModelRegistry,
}

impl EngineLoader {
    pub fn new(kind: EngineKind, options: EngineOptions, cache: ModelCache, registry: ModelRegistry) -> Self {
        EngineLoader { kind, options, cache, registry }
    }

    /// Where `artifact`'s GGUF is ([`gguf_path_of`]).
    pub fn path_of(&self, artifact: &Artifact) -> Result<PathBuf, ChatError> {
        gguf_path_of(&self.cache, artifact)
    }
}

/// Where the GGUF of an `llm` artifact is: a packaged model of that sha256 at its
/// place in `cache`, else `<cache>/llm/<name>` (`rdt models pin` names an artifact
/// after its file). The registry records hashes, not paths, so a GGUF pinned from
/// elsewhere is put there to be loadable as the active version. Not hashed here:
/// the loader hashes the bytes it loads.
pub fn gguf_path_of(cache: &ModelCache, artifact: &Artifact) -> Result<PathBuf, ChatError> {
    let packaged = ALL_LLMS.iter().filter(|m| m.sha256 == artifact.sha256.to_hex()).map(|m| cache.gguf_path(m));
    let plain_name =
        !artifact.name.is_empty() && !artifact.name.contains(['/', '\\']) && artifact.name != ".." && artifact.name != ".";
    let by_name = plain_name.then(|| cache.root().join("llm").join(&artifact.name));
    let candidates: Vec<PathBuf> = packaged.chain(by_name).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| ChatError::Load {
        path: candidates
            .last()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| cache.root().join("llm").display().to_string()),
        reason: format!(
            "the model registry's active llm {} ({}) is not in the model cache: put its GGUF there under \
             that name, or run `rdt setup` for a packaged model",
            artifact.sha256, artifact.name
        ),
    })
}

#[async_trait]
impl LlmLoader for EngineLoader {
    async fn load(&self, artifact: &Artifact) -> Result<Arc<dyn ChatModel>, ChatError> {
        let path = self.path_of(artifact)?;
        engine::load_expecting(self.kind, &path, Some(&artifact.sha256), &self.registry, &self.options).await
    }
}
