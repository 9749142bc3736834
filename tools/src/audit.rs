//! Tool calls as audit entries: what the assistant (or the web) appends after each
//! call, so every fact shown can be traced to the tool, arguments and data behind it.

use audit_log::{Digest, EntryBody, NewEntry, Principal, ToolCall};
use serde_json::Value;

use crate::error::ToolError;
use crate::registry::ToolResult;

/// The audit record of one tool invocation: result kept up to `max_result_bytes` of
/// canonical JSON (cut explicitly, `result_truncated`), digest over the full result.
pub fn tool_call_record(name: &str, arguments: Value, result: Value, max_result_bytes: usize) -> ToolCall {
    ToolCall::bounded(name, arguments, result, max_result_bytes)
}

/// The `tool_call` entry for a completed call: who, which session, which patients,
/// and the bounded record (kept up to the tool's own byte bound).
pub fn tool_call_entry(principal: &Principal, session: Option<&str>, call: &ToolResult) -> NewEntry {
    tool_call_entry_with_digest(principal, session, call).0
}

/// [`tool_call_entry`] and the full result's digest it records: the one builder of a
/// tool-call entry ([`crate::invoke`] returns the digest to its caller).
pub(crate) fn tool_call_entry_with_digest(
    principal: &Principal,
    session: Option<&str>,
    call: &ToolResult,
) -> (NewEntry, Digest) {
    let tool = tool_call_record(call.tool.as_str(), call.arguments.clone(), call.result.clone(), call.max_bytes);
    let digest = tool.result_digest;
    let entry = NewEntry::new(principal.clone(), EntryBody::ToolCall { tool, cohort: call.cohort.clone() })
        .patients(call.patients.iter().map(|p| p.as_str().to_owned()));
    let entry = match session {
        Some(s) => entry.session(s),
        None => entry,
    };
    (entry, digest)
}

/// The `refusal` entry for a call that was not allowed (role or scope), or `None` for
/// other errors (bad arguments, store failures are not refusals).
pub fn refusal_entry(principal: &Principal, session: Option<&str>, tool: &str, error: &ToolError) -> Option<NewEntry> {
    if !error.is_refusal() {
        return None;
    }
    let entry = NewEntry::new(principal.clone(), EntryBody::Refusal { reason: format!("tool `{tool}`: {error}") });
    Some(match session {
        Some(s) => entry.session(s),
        None => entry,
    })
}

#[cfg(test)]
mod tests {
    use audit_log::{to_canonical_bytes, AuditLog, Digest, Role};
    use serde_json::json;

    use super::*;
    use crate::registry::ToolName;
    use journey::PatientId;

    fn call(result: Value, max_bytes: usize) -> ToolResult {
        ToolResult {
            tool: ToolName::LabTrend,
            arguments: json!({"patient": "p1", "test": "crp"}),
            result,
            truncated: false,
            facts: Default::default(),
            patients: vec![PatientId::new("p1").unwrap()],
            max_bytes,
            cohort: None,
        }
    }

    /// A call's entry names the tool, arguments, patients and session, and its digest
    /// is over the full result, so a result cut to the bound can still be matched.
    #[tokio::test]
    async fn a_tool_call_becomes_an_appendable_entry() {
        let result = json!({"value": {"points": (0..200).collect::<Vec<_>>()}, "truncated": false, "omitted": 0});
        let full = to_canonical_bytes(&result);
        let doc = Principal::new("dr-a", Role::Clinician);
        for (bound, cut) in [(full.len(), false), (100, true)] {
            let entry = tool_call_entry(&doc, Some("s-1"), &call(result.clone(), bound));
            assert_eq!(entry.patients, vec!["p1".to_owned()]);
            assert_eq!(entry.session.as_ref().map(|s| s.0.as_str()), Some("s-1"));
            let EntryBody::ToolCall { tool, cohort } = &entry.body else { panic!("{:?}", entry.body) };
            assert!(cohort.is_none());
            assert_eq!(tool.name, "lab_trend");
            assert_eq!(tool.arguments["test"], "crp");
            assert_eq!(tool.result_digest, Digest::of(&full));
            assert_eq!(tool.result_truncated, cut);
            if cut {
                assert!(tool.result.as_str().unwrap().len() <= 100);
            } else {
                assert_eq!(tool.result, result);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
        let seq = log.append(tool_call_entry(&doc, None, &call(result, 64))).await.unwrap();
        let stored = log.entry(seq).await.unwrap().unwrap().parse().unwrap();
        assert_eq!(stored.patients, vec!["p1".to_owned()]);
        assert!(matches!(&stored.body, EntryBody::ToolCall { tool, .. } if tool.result_truncated));
    }

    #[test]
    fn only_role_and_scope_errors_are_refusals() {
        let doc = Principal::new("dr-a", Role::Clinician);
        let out = ToolError::OutOfScope { patient: "p2".into() };
        let entry = refusal_entry(&doc, None, "lab_trend", &out).unwrap();
        assert!(
            matches!(&entry.body, EntryBody::Refusal { reason } if reason.contains("p2") && reason.contains("lab_trend"))
        );
        let bad = ToolError::UnknownPatient("p9".into());
        assert!(refusal_entry(&doc, None, "lab_trend", &bad).is_none());
    }
}
