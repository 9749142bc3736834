//! [`ToolError`]: why a tool call did not run. Each variant is a message the assistant
//! can show or act on (re-ask for arguments, refuse); none carries record content.

use audit_log::Role;
use journey::StoreError;

use crate::registry::ToolName;

/// An error and each of its causes, `error: cause: cause`, as `anyhow`'s `{:#}` shows
/// it: for a message shown to a person (a batch answer, the chat panel).
pub fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{name}`; the tools are: {known}")]
    UnknownTool { name: String, known: String },
    /// The arguments do not fit the tool's input type; `field` is the JSON path.
    #[error("bad arguments for `{tool}` at `{field}`: {message}")]
    BadArguments { tool: ToolName, field: String, message: String },
    #[error("the {role} role may not use `{tool}` (it needs the {required} role)")]
    WrongRole { tool: ToolName, role: Role, required: Role },
    /// The patient is not in the caller's session scope. Checked before the store is
    /// read, so the answer is the same whether or not the patient exists.
    #[error("patient `{patient}` is outside this session's scope")]
    OutOfScope { patient: String },
    #[error("no patient `{0}` in the journey store")]
    UnknownPatient(String),
    /// What the tool reads besides the store (the twin model, the neighbour index) is
    /// not in this install; `reason` names what, where, and the command that makes it.
    #[error("`{tool}` cannot run: {reason}")]
    Unavailable { tool: ToolName, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot serialise the result of `{tool}`: {source}")]
    Serialize { tool: ToolName, source: serde_json::Error },
}

impl ToolError {
    /// True for refusals (role or scope): the call was not allowed, as opposed to
    /// malformed or failed. The assistant records these as `refusal` audit entries.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ToolError::WrongRole { .. } | ToolError::OutOfScope { .. })
    }
}
