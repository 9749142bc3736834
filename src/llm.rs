//! The flags that choose an install's assistant model ([`ModelArgs`]: `--engine`,
//! `--model`, `--gguf`), shared by `rdt ask`, `rdt serve` (the chat panel) and `rdt
//! eval assistant`. Without `--model`/`--gguf`, `rdt ask` and `rdt serve` answer with
//! the model registry's active LLM (`assistant::install::build_governed`).

use std::path::PathBuf;

use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::install::{build, build_governed, ModelChoice, ModelPick};
use assistant::{Assistant, EngineKind, GovernedAssistant};
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
    /// A packaged model instead of the registry's active LLM (it must be pinned and
    /// not retired; `rdt eval assistant` defaults to `default`).
    #[arg(long, value_enum)]
    pub model: Option<LlmModel>,
    /// A GGUF file instead of the registry's active LLM (it must be pinned and not retired).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub gguf: Option<PathBuf>,
}

impl ModelArgs {
    /// The library's model choice: the flags' model, else the registry's active LLM.
    pub fn choice(&self) -> ModelChoice {
        let pick = match (&self.gguf, self.model) {
            (Some(path), _) => ModelPick::File(path.clone()),
            (None, Some(model)) => ModelPick::Packaged(model.packaged()),
            (None, None) => ModelPick::Active,
        };
        ModelChoice { engine: self.engine, pick }
    }

    /// The packaged model an evaluation runs: `--model`, else the default one.
    pub fn packaged_or_default(&self) -> PackagedGguf {
        self.model.unwrap_or(LlmModel::Default).packaged()
    }

    /// The choice for an evaluation, which needs a fixed model: `--gguf`, else the
    /// packaged model.
    pub fn fixed_choice(&self) -> ModelChoice {
        let pick = match &self.gguf {
            Some(path) => ModelPick::File(path.clone()),
            None => ModelPick::Packaged(self.packaged_or_default()),
        };
        ModelChoice { engine: self.engine, pick }
    }
}

/// [`assistant::install::build`] on the install of `ctx` with the flags' fixed model
/// (`rdt eval assistant`).
pub async fn build_assistant(
    ctx: &Context,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelArgs,
) -> anyhow::Result<Assistant> {
    Ok(build(&ctx.data_dir, tools, log, &model.fixed_choice()).await?)
}

/// [`assistant::install::build_governed`] on the install of `ctx`: the registry's
/// active LLM, or the flags' model (`rdt ask`).
pub async fn build_governed_assistant(
    ctx: &Context,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelArgs,
) -> anyhow::Result<GovernedAssistant> {
    Ok(build_governed(&ctx.data_dir, tools, log, &model.choice()).await?)
}
