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
//! - `gguf.rs`: the packaged GGUF weights: fetch into the model cache, sha256, registry pins.
//! - `governed.rs`: [`GovernedAssistant`], the assistant on the registry's active LLM,
//!   switched when governance activates, rolls back or retires a version.
//! - `session.rs`: the tool-calling loop ([`Assistant::ask`]) as stages over one question's
//!   `Turn`: read, route (role, retrieval), choose and fill arguments (constrained; the
//!   patient from the session), call (through `tools::invoke`), settle, write the lead,
//!   check it, record. `answer.rs`: [`AskContext`] in, [`Answer`] out.
//! - `conversation.rs`: [`Conversation`], the bounded turns of one session about one
//!   patient: a follow-up ("and the ESR?") is read against the turn before it, as a
//!   reading, and each question's audit entry links the one before.
//! - `retrieval.rs`: ranking tools by MiniLM similarity to the question and their vocabulary.
//! - `record_reference.rs`: whether a question is about the open patient's record (then
//!   the glossary is not offered) or may be a definition.
//! - `grounding.rs`: every number of an answer traced to a tool result.
//! - `facts.rs`: the model's lead against the tools' own sentences (`tools::Facts`): the
//!   categories, drugs and citations it may state; results compacted for a follow-up prompt.
//!
//! The question set, its runner and the test doubles (a scripted chat model, keyword
//! retrieval vectors, test stores) live in the dev-only `assistant-eval` crate.
//!
//! Invariants: the patient in scope comes from the session, never from the model;
//! text from the record is data, never instructions; every number of an answer is
//! grounded in a tool result or replaced by RDT's sentences.

pub mod answer;
pub mod chat;
pub mod conversation;
pub mod doctor;
pub mod engine;
pub mod facts;
pub mod gguf;
pub mod governed;
pub mod install;
pub mod grounding;
pub mod patient_reference;
pub mod record_reference;
pub mod retrieval;
pub mod session;
/// Test doubles (a scripted chat model, keyword retrieval vectors, small test stores):
/// compiled into the assistant's own unit tests and, through the `test-doubles` feature,
/// into the dev-only `assistant-eval` crate that re-exports them; never into a build
/// that does not ask for them.
#[cfg(any(test, feature = "test-doubles"))]
pub mod testing;

pub use answer::{Answer, AskContext, CalledTool, CannotAnswer, ChosenBy, Grounding, ModelCall, ModelStep, Outcome};
pub use conversation::{Conversation, Exchange, Posed};
pub use chat::{ChatError, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Message, Speaker, TokenSink};
pub use governed::{GovernedAssistant, LlmLoader, ModelPolicy, NotServing};
pub use retrieval::{MiniLm, Ranked, TextEmbedder, ToolRetriever};
pub use session::{AskError, Assistant, AssistantBase, AssistantConfig, CANNOT_ANSWER};
