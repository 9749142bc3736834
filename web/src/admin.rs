//! The admin console: users and roles, FHIR import by upload (with progress, polled by
//! htmx), and backups.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use askama::Template;
use audit_log::{EntryBody, NewEntry, Role};
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use journey::fhir::{FileOutcome, ImportProgress, Importer};
use journey::PatientId;

use crate::app::AppState;
use crate::auth::{CurrentUser, PatientAccess, LOGIN_ROLES};
use crate::error::{render, url_escape, AppError};
use crate::layout::Chrome;

/// The import running or last run (one at a time: imports write the same store).
#[derive(Default)]
pub struct ImportJobs {
    current: Option<Arc<ImportJob>>,
    /// An upload is being received: the slot is taken before the first byte is read,
    /// so two uploads started together cannot both pass the check.
    receiving: bool,
}

impl ImportJobs {
    fn busy(&self) -> bool {
        self.receiving
            || self.current.as_ref().is_some_and(|j| j.finished.lock().unwrap_or_else(|e| e.into_inner()).is_none())
    }
}

/// The import slot held while an upload is received; dropping it (an upload that
/// failed) frees the slot and removes the partly written folder.
struct Reservation {
    state: AppState,
    incoming: PathBuf,
    armed: bool,
}

impl Reservation {
    /// Takes the slot, or says an import is already under way.
    fn take(state: &AppState, incoming: PathBuf) -> Result<Self, AppError> {
        let mut jobs = state.imports().lock().unwrap_or_else(|e| e.into_inner());
        if jobs.busy() {
            return Err(AppError::Conflict("an import is already running; wait for it to finish".into()));
        }
        jobs.receiving = true;
        Ok(Reservation { state: state.clone(), incoming, armed: true })
    }

    /// The upload is complete: the job takes the slot over.
    fn hand_over(mut self, job: Arc<ImportJob>) {
        let mut jobs = self.state.imports().lock().unwrap_or_else(|e| e.into_inner());
        jobs.current = Some(job);
        jobs.receiving = false;
        self.armed = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            self.state.imports().lock().unwrap_or_else(|e| e.into_inner()).receiving = false;
            // Nothing half-written stays behind to be imported later.
            let _ = std::fs::remove_dir_all(&self.incoming);
        }
    }
}

pub struct ImportJob {
    pub dir: PathBuf,
    files_total: AtomicUsize,
    files_done: AtomicUsize,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    finished: std::sync::Mutex<Option<Result<String, String>>>,
}

impl ImportProgress for ImportJob {
    fn begin(&self, files: usize, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn file_done(&self, _outcome: &FileOutcome) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct UserRow {
    pub name: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub disabled: bool,
}

pub struct BackupRow {
    pub folder: String,
    pub created_at: String,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    roles: Vec<&'static str>,
    backups: Vec<BackupRow>,
    status_html: String,
    done: String,
    error: String,
    patients: u64,
    events: u64,
    concept_maps: Vec<::journey::ConceptMapRecord>,
    coverage: ::journey::terminology::Coverage,
}

#[derive(Template)]
#[template(path = "admin_import.html")]
pub struct ImportStatus {
    pub running: bool,
    pub present: bool,
    pub percent: u64,
    pub files_done: usize,
    pub files_total: usize,
    pub result: String,
    pub failed: bool,
}

fn status_of(jobs: &ImportJobs) -> ImportStatus {
    let Some(job) = &jobs.current else {
        return ImportStatus { running: false, present: false, percent: 0, files_done: 0, files_total: 0, result: String::new(), failed: false };
    };
    let finished = job.finished.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (total, done) = (job.bytes_total.load(Ordering::Relaxed), job.bytes_done.load(Ordering::Relaxed));
    ImportStatus {
        running: finished.is_none(),
        present: true,
        percent: if total == 0 { 0 } else { (done * 100 / total).min(100) },
        files_done: job.files_done.load(Ordering::Relaxed),
        files_total: job.files_total.load(Ordering::Relaxed),
        failed: matches!(finished, Some(Err(_))),
        result: match finished {
            Some(Ok(s)) | Some(Err(s)) => s,
            None => String::new(),
        },
    }
}

#[derive(Deserialize, Default)]
pub struct Outcome {
    #[serde(default)]
    done: String,
    #[serde(default)]
    error: String,
}

pub async fn admin_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(outcome): Query<Outcome>,
) -> Result<Response, AppError> {
    let users = state
        .users()
        .list()
        .await?
        .into_iter()
        .map(|u| UserRow {
            scope: u.access.describe(),
            disabled: u.disabled_at.is_some(),
            name: u.name,
            role: u.role.as_str().to_owned(),
            created_at: u.created_at.chars().take(19).collect(),
        })
        .collect();
    let data_dir = state.config().data_dir.clone();
    let backups = tokio::task::spawn_blocking(move || crate::backup::list(&data_dir))
        .await?
        .into_iter()
        .map(|m| BackupRow {
            folder: m.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            created_at: m.created_at.chars().take(19).collect(),
            files: m.files.len(),
            bytes: m.files.iter().map(|f| f.bytes).sum(),
        })
        .collect();
    let status = status_of(&state.imports().lock().unwrap_or_else(|e| e.into_inner()));
    let counts = state.store().counts().await?;
    let concept_maps = state.store().concept_maps().await?;
    let coverage = state.store().coverage().await?;
    let page = AdminPage {
        chrome: Chrome::new(&user, "/admin"),
        users,
        roles: LOGIN_ROLES.iter().map(|r| r.as_str()).collect(),
        backups,
        status_html: status.render()?,
        done: outcome.done,
        error: outcome.error,
        patients: counts.patients,
        events: counts.events,
        concept_maps,
        coverage,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct CreateUser {
    name: String,
    role: String,
    password: String,
    /// Comma- or space-separated patient ids.
    #[serde(default)]
    patients: String,
    /// Checked: all patients. Either this or named patients, never neither.
    #[serde(default)]
    all_patients: Option<String>,
}

fn back(done: &str, error: &str) -> Response {
    Redirect::to(&format!("/admin?done={}&error={}", url_escape(done), url_escape(error))).into_response()
}

pub async fn users_create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CreateUser>,
) -> Result<Response, AppError> {
    let role = match Role::from_str(form.role.trim()) {
        Ok(r) => r,
        Err(e) => return Ok(back("", &format!("`role`: {e}"))),
    };
    let mut patients = Vec::new();
    for id in form.patients.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
        match PatientId::new(id) {
            Some(p) => patients.push(p),
            None => return Ok(back("", &format!("`patients`: `{id}` is not a patient id"))),
        }
    }
    let access = match PatientAccess::chosen(patients, form.all_patients.is_some()) {
        Ok(access) => access,
        Err(e) => return Ok(back("", &format!("`patients`: {e}"))),
    };
    match state.users().add(form.name.trim(), role, &form.password, &access, false).await {
        Ok(()) => {
            let detail = format!("{} as {}, {}", form.name.trim(), role.as_str(), access.describe());
            let entry = NewEntry::new(user.principal(), EntryBody::Access { action: "user_added".into(), detail: Some(detail) })
                .session(user.session.clone());
            state.audit().append(entry).await?;
            Ok(back(&format!("Added {} ({}).", form.name.trim(), role.as_str()), ""))
        }
        Err(e @ (crate::auth::AuthError::UserExists(_)
        | crate::auth::AuthError::BadName(_)
        | crate::auth::AuthError::NotALoginRole(_)
        | crate::auth::AuthError::WeakPassword { .. })) => Ok(back("", &e.to_string())),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct UnlockUser {
    name: String,
}

/// Lifts a lock left by too many failed logins (and the account's backoff), audited.
pub async fn users_unlock(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<UnlockUser>,
) -> Result<Response, AppError> {
    let name = form.name.trim();
    if !state.users().unlock(name).await? {
        return Ok(back("", &format!("`name`: no user {name}")));
    }
    state.logins().clear(name);
    let entry =
        NewEntry::new(user.principal(), EntryBody::Access { action: "user_unlocked".into(), detail: Some(name.to_owned()) })
            .session(user.session.clone());
    state.audit().append(entry).await?;
    Ok(back(&format!("Unlocked {name}."), ""))
}

#[derive(Deserialize)]
pub struct DisableUser {
    name: String,
    /// "disable" or "enable".
    action: String,
}

/// Disables a user (ending their sessions; their password no longer logs in) or
/// enables them again, audited as `user_disabled` / `user_enabled`.
pub async fn users_disable(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<DisableUser>,
) -> Result<Response, AppError> {
    let name = form.name.trim();
    let disable = match form.action.as_str() {
        "disable" => true,
        "enable" => false,
        other => return Ok(back("", &format!("`action`: `{other}` is neither disable nor enable"))),
    };
    if disable && name == user.name {
        return Ok(back("", "`name`: you cannot disable your own account"));
    }
    if !state.users().set_disabled(name, disable).await? {
        return Ok(back("", &format!("`name`: no user {name}")));
    }
    let action = if disable { "user_disabled" } else { "user_enabled" };
    let entry = NewEntry::new(user.principal(), EntryBody::Access { action: action.into(), detail: Some(name.to_owned()) })
        .session(user.session.clone());
    state.audit().append(entry).await?;
    Ok(back(&format!("{} {name}.", if disable { "Disabled" } else { "Enabled" }), ""))
}

/// A file name safe to write under the upload folder (no separators, no dot files).
fn safe_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.trim();
    let clean: String = base.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
    (!clean.is_empty() && !clean.starts_with('.')).then_some(clean)
}

/// Saves the uploaded files under `<data-dir>/uploads/<time>/` and starts the import in
/// the background; the returned fragment polls its progress.
pub async fn import_create(
    State(state): State<AppState>,
    user: CurrentUser,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let uploads = state.config().data_dir.join("uploads");
    let incoming = uploads.join(format!(".incoming-{stamp}"));
    let reservation = Reservation::take(&state, incoming.clone())?;
    tokio::fs::create_dir_all(&incoming).await?;
    let saved = receive(&mut multipart, &incoming, state.config().max_upload_bytes).await?;
    if saved == 0 {
        return Err(AppError::BadRequest("choose one or more FHIR files (.json Bundles or .ndjson)".into()));
    }
    // Only a whole upload gets a name the importer (or a later look) takes for one.
    let dir = uploads.join(stamp);
    tokio::fs::rename(&incoming, &dir).await?;
    let job = Arc::new(ImportJob {
        dir: dir.clone(),
        files_total: AtomicUsize::new(saved),
        files_done: AtomicUsize::new(0),
        bytes_total: AtomicU64::new(0),
        bytes_done: AtomicU64::new(0),
        finished: std::sync::Mutex::new(None),
    });
    reservation.hand_over(job.clone());
    let (task_state, principal, session) = (state.clone(), user.principal(), user.session.clone());
    tokio::spawn(async move {
        let result = run_import(&task_state, &job, principal, session).await;
        *job.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    });
    let status = status_of(&state.imports().lock().unwrap_or_else(|e| e.into_inner()));
    Ok((StatusCode::ACCEPTED, render(&status)?).into_response())
}

/// Writes each uploaded file to `dir` as its bytes arrive, counting them against
/// `limit` (all files together); returns how many files were saved.
async fn receive(multipart: &mut Multipart, dir: &std::path::Path, limit: u64) -> Result<usize, AppError> {
    use tokio::io::AsyncWriteExt as _;
    let too_large = || {
        AppError::TooLarge(format!(
            "the upload is larger than this server's limit of {}; import it with `rdt import` on the server, \
             or start the server with a larger --max-upload-mib",
            if limit < 1 << 20 { format!("{limit} bytes") } else { format!("{} MiB", limit >> 20) }
        ))
    };
    let (mut saved, mut total) = (0usize, 0u64);
    while let Some(mut field) = multipart.next_field().await.map_err(|e| upload_error(e, "upload", &too_large))? {
        let Some(name) = field.file_name().and_then(safe_file_name) else { continue };
        let path = dir.join(&name);
        let mut file = match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(AppError::BadRequest(format!("two files named {name} in one upload")));
            }
            Err(e) => return Err(e.into()),
        };
        let what = format!("upload of {name}");
        while let Some(chunk) = field.chunk().await.map_err(|e| upload_error(e, &what, &too_large))? {
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_large());
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        saved += 1;
    }
    Ok(saved)
}

/// A multipart error as the admin should read it: over the body limit is "too large".
fn upload_error(e: axum::extract::multipart::MultipartError, what: &str, too_large: &dyn Fn() -> AppError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        AppError::BadRequest(format!("{what}: {}", e.body_text()))
    }
}

/// The import's messages name files as the admin uploaded them, not where this server
/// keeps them.
/// A line as a sentence: capitalised, ending in a full stop.
fn sentence(line: &str) -> String {
    let mut chars = line.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

/// `text` (an import's message) without the server folder `dir` it received files in:
/// a file inside it is named alone, the folder itself as `called` ("the upload").
pub(crate) fn without_server_paths_as(text: &str, dir: &std::path::Path, called: &str) -> String {
    text.replace(&format!("{}/", dir.display()), "").replace(&dir.display().to_string(), called)
}

fn without_server_paths(text: &str, dir: &std::path::Path) -> String {
    without_server_paths_as(text, dir, "the upload")
}

async fn run_import(state: &AppState, job: &ImportJob, principal: audit_log::Principal, session: String) -> Result<String, String> {
    let hide = |e: &dyn std::fmt::Display| without_server_paths(&e.to_string(), &job.dir);
    // The store's write turn: one write at a time, its twins caught up before the next.
    let _turn = state.store_writes().lock().await;
    let mut importer = Importer::new(state.store().clone()).await.map_err(|e| hide(&e))?;
    let report = importer.import_paths(std::slice::from_ref(&job.dir), job).await.map_err(|e| hide(&e))?;
    let record = report.audit_record();
    let seq = state
        .audit()
        .append(NewEntry::new(principal, EntryBody::Import { import: record }).session(session))
        .await
        .map_err(|e| e.to_string())?;
    let mut failed: Vec<String> = report.failed().map(|f| hide(&f)).collect();
    // Resources refused one by one (a patient of another source or of no import).
    failed.extend(report.refused.listed.iter().map(|r| hide(&r)));
    let unlisted = report.refused.total - report.refused.listed.len() as u64;
    if unlisted > 0 {
        failed.push(format!("and {unlisted} more refused resources"));
    }
    let mut summary = format!(
        "Imported {} of {} files: {} patients, {} events (audit entry {seq}).",
        report.files.len() - report.failed().count(),
        report.files.len(),
        report.patients,
        report.events
    );
    // The imported patients' twins, before the job says it is done.
    match crate::twins::catch_up_after_write(state).await {
        Ok(twins) => {
            summary.push(' ');
            summary.push_str(&sentence(&twins.text()));
        }
        Err(why) => summary.push_str(&format!(" The twins did not catch up ({why}); the next write or cohort load retries.")),
    }
    // What the terminology reads of the store now, as `rdt import` prints it.
    let coverage = state.store().coverage().await.map_err(|e| e.to_string())?;
    for problem in coverage.problems() {
        summary.push(' ');
        summary.push_str(problem);
    }
    if let Some(u) = coverage.unmapped.first() {
        summary.push_str(&format!(
            " {} codes with values map to no concept (most frequent: {}|{}, {} values); see Terminology below.",
            coverage.unmapped.len(),
            u.system,
            u.code,
            u.values
        ));
    }
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary} Refused: {}", failed.join("; ")))
    }
}

/// Imports an uploaded FHIR ConceptMap through the terminology's one door (validated,
/// stored, audited as this admin) and answers with a fragment saying what happened.
pub async fn terminology_create(
    State(state): State<AppState>,
    user: CurrentUser,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let mut upload: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| AppError::BadRequest(format!("upload: {e}")))? {
        let Some(name) = field.file_name().and_then(safe_file_name) else { continue };
        let bytes = field.bytes().await.map_err(|e| AppError::BadRequest(format!("upload of {name}: {e}")))?;
        upload = Some((name, bytes.to_vec()));
    }
    let Some((name, bytes)) = upload else {
        return Err(AppError::BadRequest("choose a FHIR ConceptMap file (.json)".into()));
    };
    let path = std::path::Path::new(&name);
    let imported =
        ::journey::terminology::import_recorded(state.store(), state.audit(), path, Some(&bytes), user.principal()).await;
    let (class, text) = match imported {
        Ok((record, seq)) => (
            "ok",
            format!(
                "Imported ConceptMap {} ({} mappings, sha256 {}; audit entry {seq}). It applies to all history now.",
                record.url, record.entries, record.sha256
            ),
        ),
        Err(::journey::terminology::TerminologyImportError::Invalid(e)) => ("error", e.to_string()),
        Err(e) => return Err(AppError::BadRequest(e.to_string())),
    };
    let html = format!(
        "<p class=\"{class}\" id=\"terminology-result\" role=\"status\">{}</p>",
        crate::error::html_escape(&text)
    );
    Ok(axum::response::Html(html).into_response())
}

pub async fn import_status(State(state): State<AppState>, _user: CurrentUser) -> Result<Response, AppError> {
    let status = status_of(&state.imports().lock().unwrap_or_else(|e| e.into_inner()));
    Ok(render(&status)?.into_response())
}

pub async fn backup_create(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let config = state.config();
    match crate::backup::create(&config.data_dir, &config.database).await {
        Ok(m) => {
            let folder = m.dir.display().to_string();
            let entry = NewEntry::new(user.principal(), EntryBody::Access { action: "backup".into(), detail: Some(folder.clone()) })
                .session(user.session.clone());
            state.audit().append(entry).await?;
            Ok(back(&format!("Backup written to {folder} ({} files).", m.files.len()), ""))
        }
        Err(e @ crate::backup::BackupError::Postgres(_)) => Ok(back("", &e.to_string())),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_cannot_escape_the_upload_folder() {
        assert_eq!(safe_file_name("Patient.ndjson").as_deref(), Some("Patient.ndjson"));
        assert_eq!(safe_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe_file_name("C:\\x\\b.json").as_deref(), Some("b.json"));
        assert_eq!(safe_file_name(".hidden"), None);
        assert_eq!(safe_file_name(""), None);
    }
}
