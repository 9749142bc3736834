//! The local inference engines behind [`ChatModel`]: llama.cpp ([`llama_cpp`]) and
//! mistralrs ([`mistralrs`]), both loading the same GGUF files.
//!
//! Invariants, for every engine:
//! - a GGUF loads only when its sha256 is pinned as an `llm` artifact in the install's
//!   model registry (not retired), and **the bytes verified are the bytes loaded**:
//!   [`load`] opens the file once (`ModelRegistry::open_pinned`), hashes it through
//!   that open descriptor (seconds for the 1.1 GB default model) unless the install's
//!   verified-digest record names that very inode unchanged since its full hash
//!   (`audit_log::file_digest`: size, mtime, ctime, inode, device), and hands the engine
//!   `/proc/self/fd/N`, the same open file, never the path again ([`gguf_file`]). A
//!   file renamed over or replaced between hash and load is not what loads; only an
//!   in-place write to the same inode by someone who may write the model cache could
//!   still race the load (the cache is 0700, the install owner's only);
//! - no network: weights, tokenizer and chat template all come from the GGUF;
//! - greedy decoding, so the same prompt on the same weights gives the same text.
//!
//! Which engine: [`EngineKind`] from `RDT_LLM_ENGINE` (`llama-cpp` or `mistralrs`),
//! default [`DEFAULT_ENGINE`].

pub mod llama_cpp;
pub mod mistralrs;
pub mod prompt;

pub mod gguf_file;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use audit_log::{ArtifactKind, Digest, ModelRegistry};

pub use gguf_file::OpenedGguf;

use crate::chat::{ChatError, ChatModel, EngineKind};

/// The environment variable choosing the engine.
pub const ENGINE_ENV: &str = "RDT_LLM_ENGINE";

/// The environment variable setting the engine's CPU threads (llama.cpp).
pub const THREADS_ENV: &str = "RDT_LLM_THREADS";

/// llama.cpp: on the same Qwen2.5-Coder-1.5B GGUF, 2 cores, target-cpu=native,
/// `../shared/MODELS.md` measured prompt 86-87 tok/s vs mistralrs 14-34 (2.5-6x) and
/// generation 35 vs 21 tok/s; constrained generation on mistralrs 7 tok/s. Re-measure
/// side by side with `cargo bench -p assistant --bench engines` (docs/benchmarks/engines.md).
pub const DEFAULT_ENGINE: EngineKind = EngineKind::LlamaCpp;

/// How an engine runs: threads and context size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// CPU threads for prompt evaluation and generation (llama.cpp; mistralrs sizes
    /// its own pool from the cores).
    pub threads: usize,
    /// Context length in tokens (prompt plus generated).
    pub n_ctx: u32,
    /// Prompt tokens evaluated per batch.
    pub n_batch: u32,
    /// Where llama.cpp keeps the KV state of a process's first prompt (one file per
    /// model and context size), so the next process starts with it and evaluates only
    /// what its prompt does not share with it (the system prompt is the same for
    /// every question). Derived data like the note-vector cache, in the install's
    /// `cache/`; `None` keeps nothing between processes.
    pub prefix_cache: Option<PathBuf>,
}

impl Default for EngineOptions {
    /// 2 threads (the deployment machine's cores), 4,096 tokens of context (the loop's
    /// prompt with tool descriptions and results fits), batches of 2,048, no prefix
    /// kept between processes.
    fn default() -> Self {
        EngineOptions { threads: 2, n_ctx: 4096, n_batch: 2048, prefix_cache: None }
    }
}

/// A bad engine setting, naming what and where.
#[derive(Debug, thiserror::Error)]
pub enum EngineConfigError {
    #[error("{var}={value:?}: expected one of `llama-cpp`, `mistralrs`")]
    UnknownEngine { var: &'static str, value: String },
    #[error("{var}={value:?}: expected a number of threads from 1 up")]
    BadThreads { var: &'static str, value: String },
}

impl FromStr for EngineKind {
    type Err = String;

    /// The engines a user may choose (the scripted double is not one of them).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "llama-cpp" | "llama.cpp" | "llamacpp" => Ok(EngineKind::LlamaCpp),
            "mistralrs" | "mistral.rs" => Ok(EngineKind::Mistralrs),
            _ => Err(format!("unknown engine {s:?}: expected `llama-cpp` or `mistralrs`")),
        }
    }
}

/// The engine named by `RDT_LLM_ENGINE`, else [`DEFAULT_ENGINE`].
pub fn engine_from_env() -> Result<EngineKind, EngineConfigError> {
    match std::env::var(ENGINE_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            value.parse().map_err(|_| EngineConfigError::UnknownEngine { var: ENGINE_ENV, value })
        }
        _ => Ok(DEFAULT_ENGINE),
    }
}

impl EngineOptions {
    /// The defaults, with `RDT_LLM_THREADS` when set.
    pub fn from_env() -> Result<Self, EngineConfigError> {
        let mut options = EngineOptions::default();
        if let Ok(value) = std::env::var(THREADS_ENV) {
            if !value.trim().is_empty() {
                options.threads = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(EngineConfigError::BadThreads { var: THREADS_ENV, value })?;
            }
        }
        Ok(options)
    }
}

/// Verifies the GGUF at `model_path` against the registry, then loads it on `kind`
/// with `options`. A file whose hash is not pinned (or was retired) is refused
/// before any engine reads it; the engine reads the same open file that was hashed.
pub async fn load_with(
    kind: EngineKind,
    model_path: &Path,
    registry: &ModelRegistry,
    options: &EngineOptions,
) -> Result<Arc<dyn ChatModel>, ChatError> {
    load_expecting(kind, model_path, None, registry, options).await
}

/// [`load_with`], and when `expected` is given, refuses a file whose bytes do not
/// hash to it (the registry's active version, when loading what governance chose).
pub async fn load_expecting(
    kind: EngineKind,
    model_path: &Path,
    expected: Option<&Digest>,
    registry: &ModelRegistry,
    options: &EngineOptions,
) -> Result<Arc<dyn ChatModel>, ChatError> {
    let load_error = |reason: String| ChatError::Load { path: model_path.display().to_string(), reason };
    if !model_path.is_file() {
        return Err(load_error("no such file; run `rdt setup` to fetch the models".into()));
    }
    let (hashed, artifact) = registry
        .open_pinned(ArtifactKind::Llm, model_path)
        .await
        .map_err(|e| load_error(e.to_string()))?;
    let opened = OpenedGguf::new(hashed);
    if let Some(expected) = expected {
        if opened.sha256() != expected {
            return Err(load_error(format!(
                "its bytes hash to {}, not to {expected}, the version the model registry names",
                opened.sha256()
            )));
        }
    }
    let sha256 = artifact.sha256.to_hex();
    let from = opened.load_path();
    let model: Arc<dyn ChatModel> = match kind {
        EngineKind::LlamaCpp => {
            let options = options.clone();
            let from = from.clone();
            let model = tokio::task::spawn_blocking(move || llama_cpp::LlamaCppModel::load(&from, sha256, &options))
                .await
                .map_err(|e| load_error(format!("the loading task failed: {e}")))??;
            Arc::new(model)
        }
        EngineKind::Mistralrs => Arc::new(mistralrs::MistralrsModel::load(&from, sha256, options).await?),
        EngineKind::Scripted => return Err(load_error("the scripted double loads no model file".into())),
    };
    // The engine has read (or mapped) the file: the descriptor may close now.
    drop(opened);
    Ok(model)
}

/// [`load_with`] with the options from the environment (`RDT_LLM_THREADS`).
pub async fn load(
    kind: EngineKind,
    model_path: &Path,
    registry: &ModelRegistry,
) -> Result<Arc<dyn ChatModel>, ChatError> {
    let options = EngineOptions::from_env()
        .map_err(|e| ChatError::Load { path: model_path.display().to_string(), reason: e.to_string() })?;
    load_with(kind, model_path, registry, &options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_parse_and_round_trip() {
        for kind in [EngineKind::LlamaCpp, EngineKind::Mistralrs] {
            assert_eq!(kind.as_str().parse::<EngineKind>().unwrap(), kind);
        }
        assert_eq!(" Llama.cpp ".parse::<EngineKind>().unwrap(), EngineKind::LlamaCpp);
        let err = "scripted".parse::<EngineKind>().unwrap_err();
        assert!(err.contains("llama-cpp"), "{err}");
    }
}
