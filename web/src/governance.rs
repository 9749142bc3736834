//! The governance console: the model registry (pinned, active, retired artifacts per
//! kind), pin / activate / roll back / retire with a required reason, the LLM version
//! this server answers with, and the history of changes. The registry is a fold over
//! the audit log's governance entries, so the history shown is the registry's own
//! source. The chat follows the active LLM from its next question
//! (`assistant::GovernedAssistant`), so a change here is what answers next.

use std::str::FromStr;

use askama::Template;
use audit_log::{ArtifactKind, ArtifactRef, ArtifactStatus, Digest, EntryBody, EntryKind};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, url_escape, AppError};
use crate::layout::Chrome;

pub struct ArtifactRow {
    pub kind: String,
    pub name: String,
    pub sha256: String,
    pub status: String,
    pub pinned_by: String,
    pub pinned_at: u64,
    pub can_activate: bool,
    pub can_retire: bool,
}

pub struct KindRow {
    pub kind: String,
    pub active: String,
    pub rollback_to: String,
    /// For `llm`: the version this server's chat answers with now (empty: none loaded).
    pub running: Option<String>,
}

/// A drift notice (`rdt eval drift`): new patients unlike the twin's population.
pub struct NoticeRow {
    pub seq: u64,
    pub time: String,
    pub twin: String,
    pub notice: String,
}

pub struct ChangeRow {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub change: String,
    pub kind: String,
    pub artifact: String,
    pub reason: String,
}

/// Drift notices shown on the page (the audit trail holds them all).
const NOTICES_SHOWN: usize = 5;

#[derive(Template)]
#[template(path = "governance.html")]
struct RegistryPage {
    chrome: Chrome,
    kinds: Vec<KindRow>,
    artifacts: Vec<ArtifactRow>,
    history: Vec<ChangeRow>,
    /// The latest drift notices first (at most [`NOTICES_SHOWN`]).
    notices: Vec<NoticeRow>,
    done: String,
    error: String,
}

#[derive(Deserialize, Default)]
pub struct Outcome {
    #[serde(default)]
    done: String,
}

async fn page(state: &AppState, user: &CurrentUser, done: String, error: String) -> Result<RegistryPage, AppError> {
    let registry = state.registry();
    let reg = registry.state().await?;
    let running_llm = match state.assistant() {
        crate::chat::AssistantSlot::Ready(governed) => Some(
            governed
                .running()
                .map(|a| a.model().model_sha256().chars().take(12).collect::<String>())
                .unwrap_or_default(),
        ),
        _ => None,
    };
    let kinds = ArtifactKind::ALL
        .iter()
        .map(|k| KindRow {
            kind: k.as_str().to_owned(),
            active: reg.active(*k).map(|a| format!("{} {}", a.name, a.sha256.short())).unwrap_or_default(),
            rollback_to: reg.rollback_target(*k).map(|a| format!("{} {}", a.name, a.sha256.short())).unwrap_or_default(),
            running: if *k == ArtifactKind::Llm { running_llm.clone() } else { None },
        })
        .collect();
    let mut artifacts: Vec<ArtifactRow> = reg
        .list()
        .into_iter()
        .map(|a| ArtifactRow {
            kind: a.kind.as_str().to_owned(),
            name: a.name.clone(),
            sha256: a.sha256.to_string(),
            status: a.status.as_str().to_owned(),
            pinned_by: a.pinned_by.clone(),
            pinned_at: a.pinned_at.0,
            can_activate: a.status == ArtifactStatus::Pinned,
            can_retire: a.status != ArtifactStatus::Retired,
        })
        .collect();
    artifacts.sort_by(|a, b| (&a.kind, b.pinned_at).cmp(&(&b.kind, a.pinned_at)));
    let kinds_of_change: Vec<EntryKind> = EntryKind::ALL.into_iter().filter(|k| k.is_governance()).collect();
    let mut history = Vec::new();
    for stored in state.audit().entries_of_kinds(&kinds_of_change).await?.iter().rev() {
        let e = stored.parse()?;
        let (EntryBody::ModelPinned { change }
        | EntryBody::ModelActivated { change }
        | EntryBody::ModelRolledBack { change }
        | EntryBody::ModelRetired { change }) = &e.body
        else {
            continue;
        };
        history.push(ChangeRow {
            seq: e.seq.0,
            time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
            user: e.principal.user.clone(),
            change: e.kind().as_str().trim_start_matches("model_").replace('_', " "),
            kind: change.artifact.kind.as_str().to_owned(),
            artifact: format!("{} {}", change.artifact.name, change.artifact.sha256.short()),
            reason: change.reason.clone(),
        });
    }
    let mut notices = Vec::new();
    for stored in state.audit().entries_of_kinds(&[EntryKind::DriftNotice]).await?.iter().rev().take(NOTICES_SHOWN) {
        let e = stored.parse()?;
        if let EntryBody::DriftNotice { drift } = &e.body {
            notices.push(NoticeRow {
                seq: e.seq.0,
                time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                twin: drift.twin_version.short().to_string(),
                notice: drift.notice.clone(),
            });
        }
    }
    Ok(RegistryPage { chrome: Chrome::new(user, "/governance"), kinds, artifacts, history, notices, done, error })
}

pub async fn registry_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(outcome): Query<Outcome>,
) -> Result<Response, AppError> {
    Ok(render(&page(&state, &user, outcome.done, String::new()).await?)?.into_response())
}

/// A refused change shows the page again with the reason, status 400.
async fn refused(state: &AppState, user: &CurrentUser, e: AppError) -> Result<Response, AppError> {
    match e {
        AppError::BadRequest(msg) => {
            let body = render(&page(state, user, String::new(), msg).await?)?;
            Ok((StatusCode::BAD_REQUEST, body).into_response())
        }
        other => Err(other),
    }
}

fn done(text: String) -> Response {
    Redirect::to(&format!("/governance?done={}", url_escape(&text))).into_response()
}

fn kind_of(s: &str) -> Result<ArtifactKind, AppError> {
    ArtifactKind::from_str(s).map_err(|e| AppError::BadRequest(format!("`kind`: {e}")))
}

fn digest_of(s: &str) -> Result<Digest, AppError> {
    Digest::from_str(s.trim()).map_err(|e| AppError::BadRequest(format!("`sha256`: {e}")))
}

#[derive(Deserialize)]
pub struct RollbackForm {
    kind: String,
    #[serde(default)]
    reason: String,
}

pub async fn registry_rollback(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<RollbackForm>,
) -> Result<Response, AppError> {
    let result = async {
        let kind = kind_of(&form.kind)?;
        let (artifact, seq) = state.registry().rollback(&user.principal(), kind, &form.reason).await?;
        Ok::<_, AppError>(format!("Rolled {kind} back to {} {} (audit entry {seq}).", artifact.name, artifact.sha256.short()))
    }
    .await;
    match result {
        Ok(text) => Ok(done(text)),
        Err(e) => refused(&state, &user, e).await,
    }
}

#[derive(Deserialize)]
pub struct ActivateForm {
    kind: String,
    sha256: String,
    #[serde(default)]
    reason: String,
}

pub async fn registry_activate(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ActivateForm>,
) -> Result<Response, AppError> {
    change(&state, &user, &form, Change::Activate).await
}

/// What a form does to the artifact it names.
#[derive(Clone, Copy)]
enum Change {
    Activate,
    Retire,
}

/// Applies `what` to the form's artifact (audited by the registry) and answers with
/// what happened, or with the refusal.
async fn change(state: &AppState, user: &CurrentUser, form: &ActivateForm, what: Change) -> Result<Response, AppError> {
    let result = async {
        let (kind, sha) = (kind_of(&form.kind)?, digest_of(&form.sha256)?);
        let registry = state.registry();
        let (by, reason) = (user.principal(), form.reason.as_str());
        let (seq, done_word) = match what {
            Change::Activate => (registry.activate(&by, kind, &sha, reason).await?, "Activated"),
            Change::Retire => (registry.retire(&by, kind, &sha, reason).await?, "Retired"),
        };
        Ok::<_, AppError>(format!("{done_word} {kind} {} (audit entry {seq}).", sha.short()))
    }
    .await;
    match result {
        Ok(text) => Ok(done(text)),
        Err(e) => refused(state, user, e).await,
    }
}

#[derive(Deserialize)]
pub struct PinForm {
    kind: String,
    sha256: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reason: String,
}

pub async fn registry_pin(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<PinForm>,
) -> Result<Response, AppError> {
    let result = async {
        let (kind, sha256) = (kind_of(&form.kind)?, digest_of(&form.sha256)?);
        let name = form.name.trim();
        if name.is_empty() {
            return Err(AppError::BadRequest("`name`: give the artifact a name".into()));
        }
        let artifact = ArtifactRef { kind, sha256, name: name.to_owned(), size_bytes: None };
        let seq = state.registry().pin(&user.principal(), artifact, &form.reason).await?;
        Ok(format!("Pinned {kind} {name} {} (audit entry {seq}).", sha256.short()))
    }
    .await;
    match result {
        Ok(text) => Ok(done(text)),
        Err(e) => refused(&state, &user, e).await,
    }
}

/// `POST /governance/retire`: the artifact can no longer be loaded; retiring the
/// active LLM stops this server's chat answering with it until another is activated.
pub async fn registry_retire(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ActivateForm>,
) -> Result<Response, AppError> {
    change(&state, &user, &form, Change::Retire).await
}
