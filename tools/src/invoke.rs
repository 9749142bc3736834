//! The one audited door to the tools. Every product caller — the assistant's loop,
//! the web's consult page, `rdt tool`, `rdt forecast`, `rdt cohort` — runs a tool
//! through [`invoke`] (by name, on JSON arguments a model or a user wrote) or
//! [`invoke_tool`] (a typed tool whose output the caller renders), so each call is
//! checked the same way (role, arguments, scope), bounded the same way, and leaves the
//! same audit entry: a `tool_call` with the bounded result and the full result's
//! digest, or a `refusal` when role or scope did not allow it.
//!
//! A tool error that is not a refusal (bad arguments, a twin not installed, a store
//! fault) leaves no entry here: the caller decides whether the question as a whole
//! failed, and records that.

use audit_log::{AuditError, AuditLog, Digest, Principal, Seq};
use serde_json::Value;

use crate::audit::{refusal_entry, tool_call_entry_with_digest};
use crate::bounded::Bounded;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{call_json, call_typed, ToolResult};
use crate::scope::Scope;
use crate::tool::Tool;

/// Who runs a tool, from their session: never from model output.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub principal: &'a Principal,
    /// The patients this call may read.
    pub scope: &'a Scope,
    /// The session the call belongs to (a chat session, a web login), for the trail.
    pub session: Option<&'a str>,
}

/// A call that ran and was recorded.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub result: ToolResult,
    /// The `tool_call` entry recording it.
    pub audit_seq: Seq,
    /// SHA-256 of the full (untruncated) result's canonical JSON, as the entry holds it.
    pub result_digest: Digest,
}

/// Why an invocation gave no result.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The tool refused (role, scope) or failed; `refusal` is the `refusal` entry
    /// recorded for a refusal.
    #[error("{error}")]
    Tool { error: ToolError, refusal: Option<Seq> },
    /// The call ran but could not be recorded; its result is withheld, since an
    /// unrecorded fact must not be shown.
    #[error("cannot record the tool call in the audit log: {0}")]
    Audit(#[from] AuditError),
}

impl InvokeError {
    /// The tool's own error, when there is one.
    pub fn tool_error(&self) -> Option<&ToolError> {
        match self {
            InvokeError::Tool { error, .. } => Some(error),
            InvokeError::Audit(_) => None,
        }
    }
}

/// Runs the tool named `name` on JSON `arguments` as `caller`, and records the call.
pub async fn invoke(
    ctx: &ToolContext,
    log: &AuditLog,
    caller: Caller<'_>,
    name: &str,
    arguments: &Value,
) -> Result<Invoked, InvokeError> {
    let outcome = call_json(ctx, caller.principal, caller.scope, name, arguments).await;
    record(log, caller, name, outcome).await
}

/// Runs the typed tool `tool` on JSON `arguments` as `caller`, records the call, and
/// returns the typed output beside the record.
pub async fn invoke_tool<T: Tool>(
    tool: T,
    ctx: &ToolContext,
    log: &AuditLog,
    caller: Caller<'_>,
    arguments: &Value,
) -> Result<(Bounded<T::Output>, Invoked), InvokeError> {
    match call_typed(tool, ctx, caller.principal, caller.scope, arguments).await {
        Ok((output, result)) => Ok((output, record(log, caller, T::NAME.as_str(), Ok(result)).await?)),
        Err(error) => Err(record(log, caller, T::NAME.as_str(), Err(error)).await.unwrap_err()),
    }
}

/// The audit side of both doors: a `tool_call` entry for a result, a `refusal`
/// entry for a refusal, nothing for other errors.
async fn record(
    log: &AuditLog,
    caller: Caller<'_>,
    name: &str,
    outcome: Result<ToolResult, ToolError>,
) -> Result<Invoked, InvokeError> {
    match outcome {
        Ok(result) => {
            let (entry, result_digest) = tool_call_entry_with_digest(caller.principal, caller.session, &result);
            let audit_seq = log.append(entry).await?;
            Ok(Invoked { result, audit_seq, result_digest })
        }
        Err(error) => {
            let refusal = match refusal_entry(caller.principal, caller.session, name, &error) {
                Some(entry) => Some(log.append(entry).await?),
                None => None,
            };
            Err(InvokeError::Tool { error, refusal })
        }
    }
}

#[cfg(test)]
mod tests {
    use audit_log::EntryBody;
    use serde_json::json;

    use super::*;
    use crate::testutil;

    /// A call in scope leaves one `tool_call` entry whose digest is the one returned;
    /// a call out of scope leaves one `refusal` entry and no result; bad arguments
    /// leave nothing.
    #[tokio::test]
    async fn every_outcome_is_recorded_once_through_the_one_door() {
        let birth = testutil::date(1970, 1, 1);
        let charts = vec![testutil::Chart::new("p1", "female", birth), testutil::Chart::new("p2", "male", birth)];
        let (dir, ctx) = testutil::store_with(charts).await;
        let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
        let doctor = testutil::clinician();
        let only_first = testutil::scope(&["p1"]);
        let caller = Caller { principal: &doctor, scope: &only_first, session: Some("s1") };

        let ok = invoke(&ctx, &log, caller, "patient_summary", &json!({"patient": "p1"})).await.unwrap();
        let entry = log.entry(ok.audit_seq).await.unwrap().unwrap().parse().unwrap();
        assert_eq!(entry.patients, vec!["p1".to_owned()]);
        match entry.body {
            EntryBody::ToolCall { tool, .. } => {
                assert_eq!(tool.name, "patient_summary");
                assert_eq!(tool.result_digest, ok.result_digest);
            }
            other => panic!("expected a tool_call entry, got {other:?}"),
        }

        let refused = invoke(&ctx, &log, caller, "patient_summary", &json!({"patient": "p2"})).await.unwrap_err();
        let InvokeError::Tool { error, refusal: Some(seq) } = refused else { panic!("expected a recorded refusal") };
        assert!(error.is_refusal(), "{error}");
        let entry = log.entry(seq).await.unwrap().unwrap().parse().unwrap();
        assert!(matches!(entry.body, EntryBody::Refusal { .. }), "{:?}", entry.body);

        let before = log.size().await.unwrap();
        let bad = invoke(&ctx, &log, caller, "patient_summary", &json!({"patient": 7})).await.unwrap_err();
        assert!(matches!(bad, InvokeError::Tool { refusal: None, .. }), "{bad}");
        assert_eq!(log.size().await.unwrap(), before, "bad arguments are not a refusal");
    }
}
