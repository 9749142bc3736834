//! Model governance: the registry of model artifacts (LLM weights, encoder
//! checkpoints, prompt templates) and the rule that only a pinned artifact loads.
//!
//! The registry has no table of its own: its state is a fold over the log's
//! governance entries (`model_pinned`, `model_activated`, `model_rolled_back`,
//! `model_retired`). So every change is an audit entry with who and why by
//! construction, the registry is as tamper-evident as the log, and "what was active
//! on 3 May" is answered by folding the entries up to that day.
//!
//! Per kind, activations form a stack: activating pushes, rolling back pops and
//! re-activates the artifact that was active before (retired ones are skipped).
//! Retiring the active artifact leaves its kind with none active (nothing is
//! activated silently in its place) until a governance user activates one or rolls
//! back; a running server then refuses to answer with the retired one.
//!
//! Loaders call [`ModelRegistry::verify_file`], [`ModelRegistry::open_pinned`] or
//! [`ModelRegistry::read_pinned`] (the file's sha256, hashed or from the install's
//! verified-digest record of that very file, refused unless pinned) or
//! [`ModelRegistry::require_pinned`] when they already have the digest.
//!
//! Limit: two governance users changing the same kind at the same instant are
//! checked against the state each read; the log keeps both entries in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::entry::{
    ArtifactKind, ArtifactRef, AuditEntry, EntryBody, EntryKind, GovernanceChange, NewEntry, Principal, Role, Seq,
};
use crate::error::AuditError;
use crate::file_digest::{HashedFile, ReadFile};
use crate::store::AuditLog;

/// Where an artifact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactStatus {
    /// May be loaded and activated.
    Pinned,
    /// Pinned and the one in use for its kind.
    Active,
    /// No longer loadable.
    Retired,
}

impl ArtifactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactStatus::Pinned => "pinned",
            ArtifactStatus::Active => "active",
            ArtifactStatus::Retired => "retired",
        }
    }
}

/// One artifact of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub sha256: Digest,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    pub status: ArtifactStatus,
    /// The entry that pinned it, and by whom.
    pub pinned_at: Seq,
    pub pinned_by: String,
}

/// One line per artifact (`rdt models list`): kind, status, sha256, name, who pinned
/// it and in which entry.
impl std::fmt::Display for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<8} {:<8} {}  {}  pinned by {} at #{}",
            self.kind.as_str(),
            self.status.as_str(),
            self.sha256,
            self.name,
            self.pinned_by,
            self.pinned_at.0
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error(
        "refusing to load {what}: sha256 {sha256} is not pinned in the model registry as an artifact of kind `{kind}`; \
         a governance user must pin it first (`rdt models pin --kind {kind} <file> --reason ...`)"
    )]
    NotPinned { kind: ArtifactKind, sha256: Digest, what: String },
    #[error("refusing to load {what}: {kind} artifact {sha256} was retired")]
    Retired { kind: ArtifactKind, sha256: Digest, what: String },
    #[error(
        "refusing to load {what}: sha256 {sha256} is not the active `{kind}` artifact of the model registry ({}); \
         a governance user must activate it (`rdt models activate --kind {kind} {sha256} --reason ...`)",
        match active { Some(a) => format!("the active one is {a}"), None => "none is active".to_owned() }
    )]
    NotActive { kind: ArtifactKind, sha256: Digest, what: String, active: Option<Digest> },
    #[error("{kind} artifact {sha256} is already pinned")]
    AlreadyPinned { kind: ArtifactKind, sha256: Digest },
    #[error("{kind} artifact {sha256} is already the active one")]
    AlreadyActive { kind: ArtifactKind, sha256: Digest },
    #[error("no earlier {kind} activation to roll back to")]
    NothingToRollBack { kind: ArtifactKind },
    #[error("{principal} may not {action}: only the governance role changes the model registry")]
    RoleNotAllowed { principal: Principal, action: &'static str },
    #[error("a reason is required for every change to the model registry")]
    ReasonRequired,
    #[error("cannot read the artifact {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// The registry as of some point of the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryState {
    artifacts: BTreeMap<(ArtifactKind, Digest), Artifact>,
    /// Per kind, the activation stack; the last is active unless the kind is in
    /// `none_active`.
    activations: BTreeMap<ArtifactKind, Vec<Digest>>,
    /// Kinds whose active artifact was retired and that nothing was activated for since.
    none_active: BTreeMap<ArtifactKind, Digest>,
    /// Per kind, the entry that last changed which artifact is active (activation,
    /// rollback, retirement of the active one).
    last_change: BTreeMap<ArtifactKind, Seq>,
}

impl RegistryState {
    /// Folds governance entries, in log order; other kinds are ignored.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> Self {
        let mut state = RegistryState::default();
        for entry in entries {
            state.apply(entry);
        }
        state
    }

    pub fn apply(&mut self, entry: &AuditEntry) {
        match &entry.body {
            EntryBody::ModelPinned { change } => {
                let a = &change.artifact;
                self.artifacts.insert(
                    (a.kind, a.sha256),
                    Artifact {
                        kind: a.kind,
                        sha256: a.sha256,
                        name: a.name.clone(),
                        size_bytes: a.size_bytes,
                        status: ArtifactStatus::Pinned,
                        pinned_at: entry.seq,
                        pinned_by: entry.principal.user.clone(),
                    },
                );
            }
            EntryBody::ModelActivated { change } => {
                let kind = change.artifact.kind;
                self.activations.entry(kind).or_default().push(change.artifact.sha256);
                self.none_active.remove(&kind);
                self.last_change.insert(kind, entry.seq);
            }
            EntryBody::ModelRolledBack { change } => {
                let kind = change.artifact.kind;
                let stack = self.activations.entry(kind).or_default();
                // With none active (the active one was retired) the target is already
                // on top: popping it and pushing it back leaves it there.
                stack.pop();
                if stack.last() != Some(&change.artifact.sha256) {
                    stack.push(change.artifact.sha256);
                }
                self.none_active.remove(&kind);
                self.last_change.insert(kind, entry.seq);
            }
            EntryBody::ModelRetired { change } => {
                let kind = change.artifact.kind;
                let key = (kind, change.artifact.sha256);
                if let Some(a) = self.artifacts.get_mut(&key) {
                    a.status = ArtifactStatus::Retired;
                }
                if let Some(stack) = self.activations.get_mut(&kind) {
                    let was_active = stack.last() == Some(&change.artifact.sha256) && !self.none_active.contains_key(&kind);
                    stack.retain(|d| *d != change.artifact.sha256);
                    if was_active {
                        self.none_active.insert(kind, change.artifact.sha256);
                        self.last_change.insert(kind, entry.seq);
                    }
                }
            }
            _ => {}
        }
        let actives: Vec<(ArtifactKind, Digest)> = self
            .activations
            .iter()
            .filter(|(k, _)| !self.none_active.contains_key(k))
            .filter_map(|(k, s)| s.last().map(|d| (*k, *d)))
            .collect();
        for a in self.artifacts.values_mut() {
            if a.status != ArtifactStatus::Retired {
                a.status = if actives.contains(&(a.kind, a.sha256)) {
                    ArtifactStatus::Active
                } else {
                    ArtifactStatus::Pinned
                };
            }
        }
    }

    pub fn get(&self, kind: ArtifactKind, sha256: &Digest) -> Option<&Artifact> {
        self.artifacts.get(&(kind, *sha256))
    }

    pub fn active(&self, kind: ArtifactKind) -> Option<&Artifact> {
        if self.none_active.contains_key(&kind) {
            return None;
        }
        let sha = self.activations.get(&kind)?.last()?;
        self.get(kind, sha)
    }

    /// The artifact whose retirement left `kind` with none active, while none is.
    pub fn retired_active(&self, kind: ArtifactKind) -> Option<&Artifact> {
        self.get(kind, self.none_active.get(&kind)?)
    }

    /// The entry that last changed which `kind` artifact is active (an activation, a
    /// rollback, or the retirement of the active one); `None` when none ever did.
    pub fn last_change(&self, kind: ArtifactKind) -> Option<Seq> {
        self.last_change.get(&kind).copied()
    }

    /// The artifact a rollback of `kind` would re-activate: the one before the active
    /// one, or, when the active one was retired, the one active before it.
    pub fn rollback_target(&self, kind: ArtifactKind) -> Option<&Artifact> {
        let stack = self.activations.get(&kind)?;
        let back = if self.none_active.contains_key(&kind) { 1 } else { 2 };
        let sha = stack.len().checked_sub(back).map(|i| &stack[i])?;
        self.get(kind, sha)
    }

    /// Every artifact, by kind then digest.
    pub fn list(&self) -> Vec<&Artifact> {
        self.artifacts.values().collect()
    }
}

/// The model registry of one install, kept in its audit log.
#[derive(Clone)]
pub struct ModelRegistry {
    log: AuditLog,
}

impl ModelRegistry {
    pub fn new(log: AuditLog) -> Self {
        ModelRegistry { log }
    }

    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// The registry now.
    pub async fn state(&self) -> Result<RegistryState, GovernanceError> {
        let kinds: Vec<EntryKind> = EntryKind::ALL.into_iter().filter(|k| k.is_governance()).collect();
        let rows = self.log.entries_of_kinds(&kinds).await?;
        let entries = rows.iter().map(|r| r.parse()).collect::<Result<Vec<_>, _>>()?;
        Ok(RegistryState::from_entries(&entries))
    }

    /// Refuses `sha256` unless it is pinned (or active) for `kind`.
    pub async fn require_pinned(&self, kind: ArtifactKind, sha256: &Digest) -> Result<Artifact, GovernanceError> {
        let what = format!("{kind} artifact {}", sha256.short());
        check_loadable(&self.state().await?, kind, sha256, what)
    }

    /// Refuses `sha256` unless it is the active artifact of `kind` (what a loader of
    /// the one version in use checks, after hashing the bytes it will load).
    pub async fn require_active(
        &self,
        kind: ArtifactKind,
        sha256: &Digest,
        what: impl Into<String>,
    ) -> Result<Artifact, GovernanceError> {
        let state = self.state().await?;
        let what = what.into();
        let artifact = check_loadable(&state, kind, sha256, what.clone())?;
        match state.active(kind) {
            Some(active) if active.sha256 == *sha256 => Ok(artifact),
            other => Err(GovernanceError::NotActive { kind, sha256: *sha256, what, active: other.map(|a| a.sha256) }),
        }
    }

    /// Hashes the file at `path` and refuses it unless that digest is pinned for `kind`.
    pub async fn verify_file(&self, kind: ArtifactKind, path: &Path) -> Result<Artifact, GovernanceError> {
        Ok(self.open_pinned(kind, path).await?.1)
    }

    /// Opens the file at `path` with the sha256 of its bytes and refuses it unless
    /// that digest is pinned for `kind`: the one check of every weight file. The
    /// digest comes from the install's [`crate::DigestRecords`] when a record names this very
    /// file as it stands, else from a full hash through the open descriptor, which is
    /// recorded once the registry accepted it. Load from the returned open file
    /// (`/proc/self/fd/N`) so the inode checked is the inode loaded.
    pub async fn open_pinned(&self, kind: ArtifactKind, path: &Path) -> Result<(HashedFile, Artifact), GovernanceError> {
        let records = self.log.digest_records().clone();
        let opened = blocking(path, move |p| records.open(p)).await?;
        let artifact = check_loadable(&self.state().await?, kind, &opened.sha256, path.display().to_string())?;
        self.remember(&opened);
        Ok((opened, artifact))
    }

    /// Reads the whole file at `path` into memory with the sha256 of those bytes
    /// (recorded or hashed, as [`Self::open_pinned`]) and refuses it unless that
    /// digest is pinned for `kind`: for models built from bytes in memory.
    pub async fn read_pinned(&self, kind: ArtifactKind, path: &Path) -> Result<(ReadFile, Artifact), GovernanceError> {
        let records = self.log.digest_records().clone();
        let read = blocking(path, move |p| records.read(p)).await?;
        let artifact = check_loadable(&self.state().await?, kind, &read.hashed.sha256, path.display().to_string())?;
        self.remember(&read.hashed);
        Ok((read, artifact))
    }

    /// Reads the whole file at `path` into memory with the sha256 of those bytes
    /// (recorded or hashed, as [`Self::open_pinned`]) and refuses it unless that digest
    /// is the active artifact of `kind` (`what` names it in the refusal): for the one
    /// version in use of a fitted model file.
    pub async fn read_active(
        &self,
        kind: ArtifactKind,
        path: &Path,
        what: impl Into<String>,
    ) -> Result<(ReadFile, Artifact), GovernanceError> {
        let records = self.log.digest_records().clone();
        let read = blocking(path, move |p| records.read(p)).await?;
        let artifact = self.require_active(kind, &read.hashed.sha256, what).await?;
        self.remember(&read.hashed);
        Ok((read, artifact))
    }

    /// Records an accepted full hash; a record that cannot be written costs only a
    /// full hash next time, so it is logged, not returned.
    fn remember(&self, hashed: &HashedFile) {
        if let Err(e) = self.log.digest_records().remember(hashed) {
            tracing::warn!(path = %hashed.path.display(), error = %e, "cannot record the verified digest");
        }
    }

    /// Pins an artifact: it may be loaded from now on.
    pub async fn pin(&self, by: &Principal, artifact: ArtifactRef, reason: &str) -> Result<Seq, GovernanceError> {
        check_actor(by, "pin a model artifact", reason)?;
        let state = self.state().await?;
        if state.get(artifact.kind, &artifact.sha256).is_some_and(|a| a.status != ArtifactStatus::Retired) {
            return Err(GovernanceError::AlreadyPinned { kind: artifact.kind, sha256: artifact.sha256 });
        }
        let change = GovernanceChange { artifact, previous_active: None, reason: reason.trim().to_owned() };
        Ok(self.log.append(NewEntry::new(by.clone(), EntryBody::ModelPinned { change })).await?)
    }

    /// Hashes a file and pins it under `name` (its file name when `None`).
    pub async fn pin_file(
        &self,
        by: &Principal,
        kind: ArtifactKind,
        path: &Path,
        name: Option<String>,
        reason: &str,
    ) -> Result<(ArtifactRef, Seq), GovernanceError> {
        check_actor(by, "pin a model artifact", reason)?;
        let sha256 = hash_file(path).await?;
        let size_bytes = std::fs::metadata(path).ok().map(|m| m.len());
        let name = name.unwrap_or_else(|| {
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
        });
        let artifact = ArtifactRef { kind, sha256, name, size_bytes };
        let seq = self.pin(by, artifact.clone(), reason).await?;
        Ok((artifact, seq))
    }

    /// Makes a pinned artifact the active one of its kind.
    pub async fn activate(
        &self,
        by: &Principal,
        kind: ArtifactKind,
        sha256: &Digest,
        reason: &str,
    ) -> Result<Seq, GovernanceError> {
        check_actor(by, "activate a model artifact", reason)?;
        let state = self.state().await?;
        let artifact = check_loadable(&state, kind, sha256, format!("{kind} artifact {}", sha256.short()))?;
        if artifact.status == ArtifactStatus::Active {
            return Err(GovernanceError::AlreadyActive { kind, sha256: *sha256 });
        }
        let change = GovernanceChange {
            artifact: artifact_ref(&artifact),
            previous_active: state.active(kind).map(|a| a.sha256),
            reason: reason.trim().to_owned(),
        };
        Ok(self.log.append(NewEntry::new(by.clone(), EntryBody::ModelActivated { change })).await?)
    }

    /// Pins `artifact` unless it is pinned already, then makes it the active one of
    /// its kind unless it already is: what an install does with a file it has just
    /// fitted (the state model, the twin head). A retired artifact is refused by
    /// [`Self::activate`], with its own message.
    pub async fn pin_and_activate(&self, by: &Principal, artifact: ArtifactRef, reason: &str) -> Result<(), GovernanceError> {
        let (kind, sha256) = (artifact.kind, artifact.sha256);
        let status = self.state().await?.get(kind, &sha256).map(|a| a.status);
        if status.is_none() {
            self.pin(by, artifact, reason).await?;
        }
        if status != Some(ArtifactStatus::Active) {
            self.activate(by, kind, &sha256, reason).await?;
        }
        Ok(())
    }

    /// Re-activates the artifact that was active before the current one.
    /// Returns the restored artifact.
    pub async fn rollback(&self, by: &Principal, kind: ArtifactKind, reason: &str) -> Result<(Artifact, Seq), GovernanceError> {
        check_actor(by, "roll back a model artifact", reason)?;
        let state = self.state().await?;
        let target = state.rollback_target(kind).ok_or(GovernanceError::NothingToRollBack { kind })?.clone();
        let change = GovernanceChange {
            artifact: artifact_ref(&target),
            previous_active: state.active(kind).map(|a| a.sha256),
            reason: reason.trim().to_owned(),
        };
        let seq = self.log.append(NewEntry::new(by.clone(), EntryBody::ModelRolledBack { change })).await?;
        Ok((Artifact { status: ArtifactStatus::Active, ..target }, seq))
    }

    /// Retires a pinned artifact: it can no longer be loaded. Retiring the active one
    /// leaves its kind with none active (recorded as `previous_active`), so whatever
    /// runs it must stop answering with it until another is activated.
    pub async fn retire(
        &self,
        by: &Principal,
        kind: ArtifactKind,
        sha256: &Digest,
        reason: &str,
    ) -> Result<Seq, GovernanceError> {
        check_actor(by, "retire a model artifact", reason)?;
        let state = self.state().await?;
        let artifact = check_loadable(&state, kind, sha256, format!("{kind} artifact {}", sha256.short()))?;
        let previous_active = (artifact.status == ArtifactStatus::Active).then_some(artifact.sha256);
        let change =
            GovernanceChange { artifact: artifact_ref(&artifact), previous_active, reason: reason.trim().to_owned() };
        Ok(self.log.append(NewEntry::new(by.clone(), EntryBody::ModelRetired { change })).await?)
    }
}

fn artifact_ref(a: &Artifact) -> ArtifactRef {
    ArtifactRef { kind: a.kind, sha256: a.sha256, name: a.name.clone(), size_bytes: a.size_bytes }
}

fn check_actor(by: &Principal, action: &'static str, reason: &str) -> Result<(), GovernanceError> {
    if by.role != Role::Governance {
        return Err(GovernanceError::RoleNotAllowed { principal: by.clone(), action });
    }
    if reason.trim().is_empty() {
        return Err(GovernanceError::ReasonRequired);
    }
    Ok(())
}

fn check_loadable(
    state: &RegistryState,
    kind: ArtifactKind,
    sha256: &Digest,
    what: String,
) -> Result<Artifact, GovernanceError> {
    match state.get(kind, sha256) {
        None => Err(GovernanceError::NotPinned { kind, sha256: *sha256, what }),
        Some(a) if a.status == ArtifactStatus::Retired => Err(GovernanceError::Retired { kind, sha256: *sha256, what }),
        Some(a) => Ok(a.clone()),
    }
}

/// Hashes on a blocking thread: a GGUF is gigabytes.
async fn hash_file(path: &Path) -> Result<Digest, GovernanceError> {
    blocking(path, |p| Digest::of_file(p)).await
}

/// `read(path)` on a blocking thread (a weight file is up to gigabytes), its error
/// naming the path.
async fn blocking<T: Send + 'static>(
    path: &Path,
    read: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
) -> Result<T, GovernanceError> {
    let owned = path.to_owned();
    let result = tokio::task::spawn_blocking(move || read(&owned)).await;
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(GovernanceError::Read { path: path.to_owned(), source }),
        Err(join) => Err(GovernanceError::Read { path: path.to_owned(), source: std::io::Error::other(join) }),
    }
}

/// What one registry command did (`rdt models`), for its JSON and its terminal line.
#[derive(Debug, Clone)]
pub enum RegistryOutcome {
    /// The artifacts listed (of one kind, or all).
    Listed(Vec<Artifact>),
    Pinned { artifact: ArtifactRef, seq: Seq },
    Activated { kind: ArtifactKind, sha256: Digest, seq: Seq },
    RolledBack { kind: ArtifactKind, restored: Artifact, seq: Seq },
    Retired { kind: ArtifactKind, sha256: Digest, seq: Seq },
    /// A file checked against the registry, and the pinned artifact it is.
    Checked { path: PathBuf, artifact: Artifact },
}

impl RegistryOutcome {
    /// Whether the registry changed (so a tree head should be signed over it now).
    pub fn changed(&self) -> bool {
        !matches!(self, RegistryOutcome::Listed(_) | RegistryOutcome::Checked { .. })
    }

    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            RegistryOutcome::Listed(list) => json!(list),
            RegistryOutcome::Pinned { artifact, seq } => json!({"pinned": artifact, "audit_seq": seq}),
            RegistryOutcome::Activated { kind, sha256, seq } => json!({"activated": sha256, "kind": kind, "audit_seq": seq}),
            RegistryOutcome::RolledBack { restored, seq, .. } => json!({"active": restored, "audit_seq": seq}),
            RegistryOutcome::Retired { kind, sha256, seq } => json!({"retired": sha256, "kind": kind, "audit_seq": seq}),
            RegistryOutcome::Checked { artifact, .. } => json!(artifact),
        }
    }

    /// One line per listed artifact, or one line saying what changed and its entry.
    pub fn text(&self) -> String {
        match self {
            RegistryOutcome::Listed(list) if list.is_empty() => "no model artifacts pinned".to_owned(),
            RegistryOutcome::Listed(list) => list.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            RegistryOutcome::Pinned { artifact: a, seq } => {
                format!("pinned {} {} ({}) as audit entry #{}", a.kind, a.sha256, a.name, seq.0)
            }
            RegistryOutcome::Activated { kind, sha256, seq } => format!("activated {kind} {sha256} (audit entry #{})", seq.0),
            RegistryOutcome::RolledBack { kind, restored: r, seq } => {
                format!("rolled back {kind}: {} ({}) is active again (audit entry #{})", r.sha256, r.name, seq.0)
            }
            RegistryOutcome::Retired { kind, sha256, seq } => format!("retired {kind} {sha256} (audit entry #{})", seq.0),
            RegistryOutcome::Checked { path, artifact: a } => {
                format!("ok: {} is pinned ({} {}, {})", path.display(), a.kind, a.sha256, a.status.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(seq: u64, body: EntryBody) -> AuditEntry {
        AuditEntry::place(NewEntry::new(Principal::new("gov", Role::Governance), body), Seq(seq), None, Utc::now())
    }

    fn art(kind: ArtifactKind, name: &str) -> ArtifactRef {
        ArtifactRef { kind, sha256: Digest::of(name.as_bytes()), name: name.into(), size_bytes: None }
    }

    fn change(a: &ArtifactRef) -> GovernanceChange {
        GovernanceChange { artifact: a.clone(), previous_active: None, reason: "r".into() }
    }

    #[test]
    fn outcomes_say_what_changed_and_where_it_is_recorded() {
        let a = art(ArtifactKind::Llm, "m.gguf");
        let pinned = RegistryOutcome::Pinned { artifact: a.clone(), seq: Seq(4) };
        assert!(pinned.changed());
        assert_eq!(pinned.text(), format!("pinned llm {} (m.gguf) as audit entry #4", a.sha256));
        assert_eq!(pinned.json()["audit_seq"], 4);
        let retired = RegistryOutcome::Retired { kind: ArtifactKind::Llm, sha256: a.sha256, seq: Seq(5) };
        assert_eq!(retired.text(), format!("retired llm {} (audit entry #5)", a.sha256));
        assert_eq!(retired.json()["retired"], a.sha256.to_hex());
        let listed = RegistryOutcome::Listed(Vec::new());
        assert!(!listed.changed());
        assert_eq!(listed.text(), "no model artifacts pinned");
        assert_eq!(listed.json(), serde_json::json!([]));
    }

    /// Activations stack per kind; rollback pops to the previous; a retired
    /// artifact is skipped by rollback and refused for loading.
    #[test]
    fn fold_tracks_active_rollback_and_retire() {
        let (a, b, c) = (art(ArtifactKind::Llm, "a"), art(ArtifactKind::Llm, "b"), art(ArtifactKind::Llm, "c"));
        let p = art(ArtifactKind::Prompt, "p");
        let mut entries = vec![
            entry(0, EntryBody::ModelPinned { change: change(&a) }),
            entry(1, EntryBody::ModelPinned { change: change(&b) }),
            entry(2, EntryBody::ModelPinned { change: change(&c) }),
            entry(3, EntryBody::ModelPinned { change: change(&p) }),
            entry(4, EntryBody::ModelActivated { change: change(&a) }),
            entry(5, EntryBody::ModelActivated { change: change(&p) }),
            entry(6, EntryBody::ModelActivated { change: change(&b) }),
            entry(7, EntryBody::ModelActivated { change: change(&c) }),
        ];
        let s = RegistryState::from_entries(&entries);
        assert_eq!(s.active(ArtifactKind::Llm).unwrap().sha256, c.sha256);
        assert_eq!(s.active(ArtifactKind::Prompt).unwrap().sha256, p.sha256);
        assert_eq!(s.rollback_target(ArtifactKind::Llm).unwrap().sha256, b.sha256);
        assert_eq!(s.get(ArtifactKind::Llm, &a.sha256).unwrap().status, ArtifactStatus::Pinned);

        entries.push(entry(8, EntryBody::ModelRetired { change: change(&b) }));
        entries.push(entry(9, EntryBody::ModelRolledBack { change: change(&a) }));
        let s = RegistryState::from_entries(&entries);
        assert_eq!(s.active(ArtifactKind::Llm).unwrap().sha256, a.sha256);
        assert_eq!(s.get(ArtifactKind::Llm, &c.sha256).unwrap().status, ArtifactStatus::Pinned);
        assert!(s.rollback_target(ArtifactKind::Llm).is_none());
        assert!(matches!(
            check_loadable(&s, ArtifactKind::Llm, &b.sha256, "b".into()),
            Err(GovernanceError::Retired { .. })
        ));
        // Pinned as a prompt is not pinned as an LLM.
        assert!(matches!(
            check_loadable(&s, ArtifactKind::Llm, &p.sha256, "p".into()),
            Err(GovernanceError::NotPinned { .. })
        ));
    }

    /// Retiring the active artifact leaves none active (nothing is activated in its
    /// place without an entry saying so); a rollback or activation ends that.
    #[test]
    fn retiring_the_active_artifact_leaves_none_active() {
        let (a, b) = (art(ArtifactKind::Llm, "a"), art(ArtifactKind::Llm, "b"));
        let mut entries = vec![
            entry(0, EntryBody::ModelPinned { change: change(&a) }),
            entry(1, EntryBody::ModelPinned { change: change(&b) }),
            entry(2, EntryBody::ModelActivated { change: change(&a) }),
            entry(3, EntryBody::ModelActivated { change: change(&b) }),
            entry(4, EntryBody::ModelRetired { change: change(&b) }),
        ];
        let s = RegistryState::from_entries(&entries);
        assert!(s.active(ArtifactKind::Llm).is_none());
        assert_eq!(s.retired_active(ArtifactKind::Llm).unwrap().sha256, b.sha256);
        assert_eq!(s.last_change(ArtifactKind::Llm), Some(Seq(4)));
        assert_eq!(s.get(ArtifactKind::Llm, &a.sha256).unwrap().status, ArtifactStatus::Pinned);
        assert_eq!(s.rollback_target(ArtifactKind::Llm).unwrap().sha256, a.sha256);
        entries.push(entry(5, EntryBody::ModelRolledBack { change: change(&a) }));
        let s = RegistryState::from_entries(&entries);
        assert_eq!(s.active(ArtifactKind::Llm).unwrap().sha256, a.sha256);
        assert!(s.retired_active(ArtifactKind::Llm).is_none());
        assert_eq!(s.last_change(ArtifactKind::Llm), Some(Seq(5)));
        assert!(s.rollback_target(ArtifactKind::Llm).is_none());
    }

    #[test]
    fn only_governance_with_a_reason_may_change_the_registry() {
        let clinician = Principal::new("dr", Role::Clinician);
        assert!(matches!(check_actor(&clinician, "pin", "why"), Err(GovernanceError::RoleNotAllowed { .. })));
        let gov = Principal::new("g", Role::Governance);
        assert!(matches!(check_actor(&gov, "pin", "  "), Err(GovernanceError::ReasonRequired)));
        assert!(check_actor(&gov, "pin", "validated on cohort v3").is_ok());
    }
}
