//! Building an install's assistant: the local LLM engine on a pinned GGUF, MiniLM
//! for tool retrieval, and the tools, auditing to the install's log. `rdt ask`, `rdt
//! serve` (the chat panel) and `rdt eval assistant` share it, with the same
//! `--engine`, `--model` and `--gguf` flags ([`ModelArgs`]). (Its natural home is the
//! `assistant` crate, beside `engine::load`; it sits here until that crate takes it.)

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use assistant::engine::{self, engine_from_env};
use assistant::gguf::GgufCache as _;
use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::{Assistant, EngineKind, MiniLm, ToolRetriever};
use audit_log::{AuditLog, ModelRegistry};
use clap::{Args, ValueEnum};
use tools::ToolContext;
use twin_core::encode::NoteVectorCache;
use twin_core::models::{ModelCache, MINILM};

use crate::context::Context;

/// Which packaged LLM answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlmModel {
    /// Qwen2.5-Coder-1.5B (the default).
    Default,
    /// Qwen2.5-Coder-0.5B.
    Fast,
    /// SmolLM2-135M (loader checks only; it does not call tools).
    Smallest,
}

impl LlmModel {
    pub fn packaged(self) -> PackagedGguf {
        match self {
            LlmModel::Default => QWEN_CODER_1_5B,
            LlmModel::Fast => QWEN_CODER_0_5B,
            LlmModel::Smallest => SMOLLM2_135M,
        }
    }
}

/// The model choice shared by `rdt ask` and `rdt eval assistant`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Inference engine: `llama-cpp` or `mistralrs` (default: `RDT_LLM_ENGINE`, else llama-cpp).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<EngineKind>,
    /// Which packaged model answers.
    #[arg(long, value_enum, default_value = "default")]
    pub model: LlmModel,
    /// A GGUF file instead of the packaged model (it must still be pinned).
    #[arg(long, value_name = "FILE")]
    pub gguf: Option<PathBuf>,
}

/// The engine, MiniLM retrieval and `tools`, auditing to `log` (whose registry must
/// have the GGUF and MiniLM pinned).
pub async fn build_assistant(
    ctx: &Context,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelArgs,
) -> anyhow::Result<Assistant> {
    let registry = ModelRegistry::new(log.clone());
    let cache = ModelCache::from_env()?;
    let path = match &model.gguf {
        Some(p) => p.clone(),
        None => cache.gguf_path(&model.model.packaged()),
    };
    let kind = match model.engine {
        Some(k) => k,
        None => engine_from_env()?,
    };
    let chat = engine::load(kind, &path, &registry).await.with_context(|| format!("loading the {kind} engine"))?;
    let files = cache.check(&MINILM).context("MiniLM ranks the tools; run `rdt setup`")?;
    let embedder = MiniLm::load(&files, &registry, Some(NoteVectorCache::for_data_dir(&ctx.data_dir))).await?;
    let retriever = ToolRetriever::new(Arc::new(embedder), &tools::specs())?;
    Ok(Assistant::new(chat, tools, log, retriever))
}
