//! The auditor's console: search the trail (user, patient, dates, model version,
//! kind), the trace of one answer (question -> tool calls with arguments and results ->
//! cohort -> model and prompt versions -> answer) with its inclusion proof checked on
//! the page, the latest signed tree head, "verify all" and "sign a head now".

use askama::Template;
use audit_log::{AuditEntry, EntryBody, EntryKind, Seq, StoredEntry};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::layout::Chrome;

/// Rows of a search shown at most (newest first).
const MAX_ROWS: usize = 200;
/// How far around an entry the trace looks for the rest of its exchange.
const TRACE_WINDOW: u64 = 400;

#[derive(Deserialize, Default)]
pub struct AuditSearch {
    #[serde(default)]
    user: String,
    #[serde(default)]
    patient: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    kind: String,
    /// Set by the redirect after "Sign a head now": the size just signed, confirmed on the page.
    #[serde(default)]
    signed: Option<u64>,
}

pub struct EntryRow {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub role: String,
    pub kind: String,
    pub patients: String,
    pub summary: String,
}

pub struct HeadView {
    pub size: u64,
    pub root: String,
    pub time: String,
    pub key: String,
    pub trusted: bool,
    pub signature_ok: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    q: AuditSearch,
    kinds: Vec<&'static str>,
    rows: Vec<EntryRow>,
    matched: usize,
    size: u64,
    head: Option<HeadView>,
    error: Option<String>,
}

fn parse_date(s: &str, field: &str) -> Result<Option<NaiveDate>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("`{field}`: `{s}` is not a date (YYYY-MM-DD)")))
}

/// The model sha256 an entry names, if any (answers; governance changes).
fn model_of(e: &AuditEntry) -> Option<String> {
    match &e.body {
        EntryBody::Answer { model, .. } => Some(model.model_sha256.to_string()),
        EntryBody::ModelPinned { change }
        | EntryBody::ModelActivated { change }
        | EntryBody::ModelRolledBack { change }
        | EntryBody::ModelRetired { change } => Some(change.artifact.sha256.to_string()),
        EntryBody::ModelLoaded { load } => Some(load.artifact.sha256.to_string()),
        EntryBody::DriftNotice { drift } => Some(drift.twin_version.to_string()),
        _ => None,
    }
}

/// One line saying what an entry holds.
pub fn summary_of(e: &AuditEntry) -> String {
    let cut = |s: &str| if s.chars().count() > 120 { format!("{}…", s.chars().take(120).collect::<String>()) } else { s.to_owned() };
    match &e.body {
        EntryBody::Question { question, .. } => cut(question),
        EntryBody::ToolCall { tool, .. } => format!("{} {}", tool.name, cut(&tool.arguments.to_string())),
        EntryBody::Answer { answer, .. } => cut(answer),
        EntryBody::Refusal { reason } => cut(reason),
        EntryBody::Access { action, detail } => format!("{action}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()),
        EntryBody::Import { import } => format!("{} files, {} patients, {} events", import.files.len(), import.patients, import.events),
        EntryBody::TerminologyImported { map } => {
            format!("ConceptMap {} ({} mappings, sha256 {})", map.url, map.entries, &map.sha256[..map.sha256.len().min(12)])
        }
        EntryBody::ModelPinned { change }
        | EntryBody::ModelActivated { change }
        | EntryBody::ModelRolledBack { change }
        | EntryBody::ModelRetired { change } => {
            format!("{} {} {}: {}", change.artifact.kind.as_str(), change.artifact.name, change.artifact.sha256.short(), cut(&change.reason))
        }
        EntryBody::ModelLoaded { load } => format!(
            "{} {} {} now runs (was {}): {}",
            load.artifact.kind.as_str(),
            load.artifact.name,
            load.artifact.sha256.short(),
            load.previous.map(|p| p.short().to_string()).unwrap_or_else(|| "none".into()),
            cut(&load.reason)
        ),
        EntryBody::DriftNotice { drift } => cut(&drift.notice),
    }
}

fn row_of(e: &AuditEntry) -> EntryRow {
    EntryRow {
        seq: e.seq.0,
        time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
        user: e.principal.user.clone(),
        role: e.principal.role.as_str().to_owned(),
        kind: e.kind().as_str().to_owned(),
        patients: e.patients.join(", "),
        summary: summary_of(e),
    }
}

async fn head_view(state: &AppState) -> Result<Option<HeadView>, AppError> {
    Ok(state.audit().latest_head().await?.map(|h| HeadView {
        size: h.head.size,
        root: h.head.root.to_string(),
        time: audit_log::time_format::format(&h.head.time),
        trusted: state.trusted().contains(&h.public_key),
        signature_ok: h.signature_valid(),
        key: h.public_key,
    }))
}

pub async fn audit_search(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AuditSearch>,
) -> Result<Response, AppError> {
    let (from, to) = (parse_date(&q.from, "from")?, parse_date(&q.to, "to")?);
    let (who, patient, model, kind) =
        (q.user.trim().to_owned(), q.patient.trim().to_owned(), q.model.trim().to_lowercase(), q.kind.trim().to_owned());
    let mut matches: Vec<EntryRow> = Vec::new();
    let mut matched = 0usize;
    let mut unreadable = 0usize;
    state
        .audit()
        .for_each_entry(|stored: StoredEntry| {
            let Ok(e) = stored.parse() else {
                unreadable += 1;
                return;
            };
            let day = e.time.date_naive();
            let keep = (who.is_empty() || e.principal.user == who)
                && (patient.is_empty() || e.patients.iter().any(|p| p == &patient))
                && from.is_none_or(|f| day >= f)
                && to.is_none_or(|t| day <= t)
                && (model.is_empty() || model_of(&e).is_some_and(|m| m.starts_with(&model)))
                && (kind.is_empty() || e.kind().as_str() == kind);
            if keep {
                matched += 1;
                matches.push(row_of(&e));
                // Keep the newest rows only; the list is in log order.
                if matches.len() > MAX_ROWS * 2 {
                    matches.drain(..MAX_ROWS);
                }
            }
        })
        .await?;
    matches.reverse();
    matches.truncate(MAX_ROWS);
    let page = AuditPage {
        chrome: Chrome::new(&user, "/audit"),
        kinds: ALL_KINDS.iter().map(|k| k.as_str()).collect(),
        rows: matches,
        matched,
        size: state.audit().size().await?,
        head: head_view(&state).await?,
        error: (unreadable > 0).then(|| format!("{unreadable} entries could not be read; run verify all")),
        q,
    };
    Ok(render(&page)?.into_response())
}

const ALL_KINDS: [EntryKind; 13] = [
    EntryKind::Question,
    EntryKind::ToolCall,
    EntryKind::Answer,
    EntryKind::Refusal,
    EntryKind::Access,
    EntryKind::Import,
    EntryKind::TerminologyImported,
    EntryKind::ModelPinned,
    EntryKind::ModelActivated,
    EntryKind::ModelRolledBack,
    EntryKind::ModelRetired,
    EntryKind::ModelLoaded,
    EntryKind::DriftNotice,
];

/// One step of a trace.
pub struct Step {
    pub seq: u64,
    pub kind: String,
    pub time: String,
    pub title: String,
    /// Label and text pairs (tool arguments, result, versions, cohort).
    pub details: Vec<(String, String)>,
    pub is_focus: bool,
}

pub struct ProofView {
    pub leaf_hash: String,
    pub leaf_matches: bool,
    pub tree_size: u64,
    pub root: String,
    pub path: Vec<String>,
    pub proof_ok: bool,
    pub head: Option<HeadView>,
    pub head_ok: bool,
    pub verified: bool,
}

#[derive(Template)]
#[template(path = "audit_trace.html")]
struct TracePage {
    chrome: Chrome,
    seq: u64,
    row: EntryRow,
    steps: Vec<Step>,
    proof: ProofView,
    canonical: String,
}

fn step_of(e: &AuditEntry, focus: Seq) -> Step {
    let mut details = Vec::new();
    let title = match &e.body {
        EntryBody::Question { question, follows, .. } => {
            if let Some(link) = follows {
                details.push(("follows".into(), format!("question #{} (leaf hash {})", link.seq.0, link.entry)));
                if let Some(against) = link.read_against {
                    details.push(("read as a follow-up of".into(), format!("question #{}", against.0)));
                }
            }
            format!("Question: {question}")
        }
        EntryBody::ToolCall { tool, cohort } => {
            details.push(("arguments".into(), tool.arguments.to_string()));
            details.push((
                format!("result{}", if tool.result_truncated { " (truncated)" } else { "" }),
                serde_json::to_string_pretty(&tool.result).unwrap_or_default(),
            ));
            details.push(("result sha256".into(), tool.result_digest.to_string()));
            if let Some(c) = cohort {
                details.push(("cohort".into(), cohort_text(c)));
            }
            format!("Tool call: {}", tool.name)
        }
        EntryBody::Answer { answer, model, cohort } => {
            details.push(("model sha256".into(), model.model_sha256.to_string()));
            details.push(("prompt version".into(), model.prompt_version.to_string()));
            if let Some(engine) = &model.engine {
                details.push(("engine".into(), engine.clone()));
            }
            if let Some(c) = cohort {
                details.push(("cohort".into(), cohort_text(c)));
            }
            details.push(("answer".into(), answer.clone()));
            "Answer".into()
        }
        _ => summary_of(e),
    };
    Step {
        seq: e.seq.0,
        kind: e.kind().as_str().to_owned(),
        time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
        title,
        details,
        is_focus: e.seq == focus,
    }
}

fn cohort_text(c: &audit_log::CohortRecord) -> String {
    let ns: Vec<String> = c.neighbours.iter().map(|n| format!("{} ({:.3})", n.id, n.distance)).collect();
    format!("index {}, encoder {}; neighbours: {}", c.index_version, c.encoder_version.short(), ns.join(", "))
}

/// The exchange an entry belongs to: entries of its session from the question before
/// it to the answer after it (or the entry alone when it has no session).
fn exchange(entries: &[AuditEntry], focus: &AuditEntry) -> Vec<AuditEntry> {
    let Some(session) = &focus.session else { return vec![focus.clone()] };
    let same: Vec<&AuditEntry> = entries.iter().filter(|e| e.session.as_ref() == Some(session)).collect();
    let Some(at) = same.iter().position(|e| e.seq == focus.seq) else { return vec![focus.clone()] };
    let start = same[..=at].iter().rposition(|e| e.kind() == EntryKind::Question).unwrap_or(at);
    let end = same[at..]
        .iter()
        .position(|e| matches!(e.kind(), EntryKind::Answer | EntryKind::Refusal))
        .map(|i| at + i)
        .unwrap_or(at);
    // An exchange is question..answer; an entry outside one (a page view) stands alone.
    if same[start].kind() != EntryKind::Question {
        return vec![focus.clone()];
    }
    same[start..=end].iter().map(|e| (*e).clone()).collect()
}

pub async fn audit_trace(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(seq): Path<u64>,
) -> Result<Response, AppError> {
    let log = state.audit();
    let not_found = || AppError::NotFound { what: "audit entry", id: seq.to_string() };
    let proved = log.entry_proof(Seq(seq), None).await?.ok_or_else(not_found)?;
    let entry = proved.stored.parse()?;
    // A trace shows tool results and neighbours' ids: opening one is itself recorded.
    let viewed = audit_log::NewEntry::new(
        user.principal(),
        EntryBody::Access { action: "audit_trace".into(), detail: Some(format!("entry #{seq}")) },
    )
    .session(user.session.clone())
    .patients(entry.patients.clone());
    log.append(viewed).await?;
    let around = log.range(seq.saturating_sub(TRACE_WINDOW), seq + TRACE_WINDOW).await?;
    let entries: Vec<AuditEntry> = around.iter().filter_map(|s| s.parse().ok()).collect();
    let steps = exchange(&entries, &entry).iter().map(|e| step_of(e, entry.seq)).collect();

    // The proof against the latest signed head that covers the entry, else the whole
    // log; the head counts only when its key is one the install trusts.
    let head_ok = proved.head_ok(state.trusted());
    let head_view = proved.head.as_ref().map(|h| HeadView {
        size: h.head.size,
        root: h.head.root.to_string(),
        time: audit_log::time_format::format(&h.head.time),
        trusted: state.trusted().contains(&h.public_key),
        signature_ok: h.signature_valid(),
        key: h.public_key.clone(),
    });
    let page = TracePage {
        chrome: Chrome::new(&user, "/audit"),
        seq,
        row: row_of(&entry),
        steps,
        proof: ProofView {
            leaf_hash: proved.leaf.to_string(),
            leaf_matches: proved.leaf_matches,
            tree_size: proved.tree_size,
            root: proved.root.to_string(),
            path: proved.proof.path.iter().map(ToString::to_string).collect(),
            proof_ok: proved.proof_ok,
            head: head_view,
            head_ok,
            verified: proved.leaf_matches && proved.proof_ok && head_ok,
        },
        canonical: proved.stored.text,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Template)]
#[template(path = "audit_verify.html")]
struct VerifyFragment {
    ok: bool,
    size: u64,
    root: String,
    heads_checked: usize,
    unsigned_tail: u64,
    problems: Vec<String>,
    problem_count: usize,
    first_bad: Option<u64>,
}

/// Verify all: the whole log recomputed against the install's trusted keys.
pub async fn audit_verify(State(state): State<AppState>, _user: CurrentUser) -> Result<Response, AppError> {
    let report = state.audit().verify(state.trusted()).await?;
    let fragment = VerifyFragment {
        ok: report.is_ok(),
        size: report.size,
        root: report.root.to_string(),
        heads_checked: report.heads_checked,
        unsigned_tail: report.unsigned_tail,
        problems: report.problems.iter().take(20).map(|p| format!("{:?}: {}", p.kind, p.message)).collect(),
        problem_count: report.problem_count,
        first_bad: report.first_bad_entry().map(|s| s.0),
    };
    Ok(render(&fragment)?.into_response())
}

/// Signs a tree head over the log as it stands (then the trail up to here is covered
/// by a signature, not only by the hash chain).
pub async fn audit_sign(State(state): State<AppState>, _user: CurrentUser) -> Result<Response, AppError> {
    let head = state.audit().sign_head().await?;
    Ok(axum::response::Redirect::to(&format!("/audit?signed={}", head.head.size)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_log::{NewEntry, Principal, Role, ToolCall};

    fn entry(seq: u64, session: Option<&str>, body: EntryBody) -> AuditEntry {
        let mut e = NewEntry::new(Principal::new("ana", Role::Clinician), body);
        if let Some(s) = session {
            e = e.session(s);
        }
        AuditEntry::place(e, Seq(seq), None, chrono::Utc::now())
    }

    #[test]
    fn a_trace_runs_from_the_question_to_the_answer_of_its_session() {
        let q = |s| EntryBody::Question { question: s, reading: None, follows: None };
        let call = EntryBody::ToolCall {
            tool: ToolCall::bounded("patient_summary", serde_json::json!({"patient": "p1"}), serde_json::json!({}), 1000),
            cohort: None,
        };
        let entries = vec![
            entry(0, Some("s1"), q("earlier?".into())),
            entry(1, Some("s1"), EntryBody::Refusal { reason: "no".into() }),
            entry(2, Some("s1"), q("how is p1?".into())),
            entry(3, Some("s2"), q("other session".into())),
            entry(4, Some("s1"), call),
            entry(5, Some("s1"), EntryBody::Refusal { reason: "ungrounded".into() }),
            entry(6, Some("s1"), q("later".into())),
        ];
        let seqs = |v: Vec<AuditEntry>| v.iter().map(|e| e.seq.0).collect::<Vec<_>>();
        assert_eq!(seqs(exchange(&entries, &entries[4])), vec![2, 4, 5]);
        assert_eq!(seqs(exchange(&entries, &entries[2])), vec![2, 4, 5]);
        let lone = entry(9, None, EntryBody::Access { action: "journey".into(), detail: None });
        assert_eq!(seqs(exchange(&entries, &lone)), vec![9]);
    }
}
