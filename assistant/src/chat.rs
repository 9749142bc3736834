//! The chat-model seam: everything the assistant asks of an inference engine.
//!
//! Small on purpose. The loop (tool choice, grounding, refusals) is written against
//! [`ChatModel`], so it is unit-tested with a scripted double and runs unchanged on
//! each real engine (mistralrs, llama.cpp). Sampling is greedy: the same question on
//! the same weights and prompt versions gives the same answer, which an audit needs.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    System,
    User,
    Assistant,
    /// A tool result handed back to the model (data, never instructions).
    Tool,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub speaker: Speaker,
    pub content: String,
}

impl Message {
    pub fn new(speaker: Speaker, content: impl Into<String>) -> Self {
        Message { speaker, content: content.into() }
    }
}

/// What the engine may generate. A small model writes tool calls wrongly when
/// asked plainly (../shared/MODELS.md), so tool choice and arguments are always
/// constrained; free text only for the final answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Any text.
    Free,
    /// Exactly one JSON value valid against this schema (compact JSON). Engines
    /// support the subset the loop emits: objects with required properties,
    /// `enum` of strings, string, integer, number, boolean, arrays of those.
    JsonSchema(serde_json::Value),
}

/// One generation request. Decoding is greedy (temperature 0).
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub constraint: Constraint,
    /// Hard cap on generated tokens.
    pub max_tokens: usize,
}

/// What came back, with the counts and times a benchmark and the audit want.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Seconds spent on the prompt (prefill), then on generation.
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
}

/// Which engine runs the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    Mistralrs,
    LlamaCpp,
    /// A scripted test double; never used outside tests and never audited as a model.
    Scripted,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Mistralrs => "mistralrs",
            EngineKind::LlamaCpp => "llama-cpp",
            EngineKind::Scripted => "scripted",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the streamed text goes as it is generated (the web's SSE); `None` when
/// nobody listens. A closed receiver does not stop generation.
pub type TokenSink = Option<UnboundedSender<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("model file {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("{engine} failed while generating: {reason}")]
    Generate { engine: EngineKind, reason: String },
    #[error("{engine} cannot apply the constraint: {reason}")]
    Constraint { engine: EngineKind, reason: String },
    #[error("the prompt has {tokens} tokens, more than the context of {context}")]
    ContextFull { tokens: usize, context: usize },
}

/// A loaded model behind one engine.
#[async_trait]
pub trait ChatModel: Send + Sync {
    fn engine(&self) -> EngineKind;
    /// The sha256 of the GGUF file, as pinned in the model registry: the model's version.
    fn model_sha256(&self) -> &str;
    /// Generate one reply, streaming its text pieces to `sink` as they come.
    async fn complete(&self, request: &ChatRequest, sink: TokenSink) -> Result<Completion, ChatError>;
}
