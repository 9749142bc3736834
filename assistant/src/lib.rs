//! RDT assistant: a locally hosted LLM (GGUF weights on disk, no network) that answers
//! clinicians' questions by calling the typed tools of the `tools` crate, and says so
//! when the data cannot answer.
//!
//! Kept in a crate of its own so that the long compile of the inference engines does
//! not hold up the rest of the workspace.
//!
//! Map:
//! - `chat.rs`: the [`ChatModel`] seam every engine implements.
//! - `engine/`: the local engines (llama.cpp, mistralrs), weights verified before load.

pub mod chat;
pub mod engine;

pub use chat::{ChatError, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Message, Speaker, TokenSink};
