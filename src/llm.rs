//! The flags that choose an install's assistant model ([`ModelArgs`]: `--engine`,
//! `--model`, `--gguf`), shared by `rdt ask`, `rdt serve` (the chat panel) and `rdt
//! eval assistant`; building the assistant is `assistant::install::build`.

use std::path::PathBuf;

use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::install::{build, ModelChoice};
use assistant::{Assistant, EngineKind};
use audit_log::AuditLog;
use clap::{Args, ValueEnum};
use tools::ToolContext;

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

impl ModelArgs {
    /// The library's model choice (`assistant::install::build`).
    pub fn choice(&self) -> ModelChoice {
        ModelChoice { engine: self.engine, packaged: self.model.packaged(), gguf: self.gguf.clone() }
    }
}

/// [`assistant::install::build`] on the install of `ctx` with the flags' model.
pub async fn build_assistant(
    ctx: &Context,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelArgs,
) -> anyhow::Result<Assistant> {
    Ok(build(&ctx.data_dir, tools, log, &model.choice()).await?)
}
