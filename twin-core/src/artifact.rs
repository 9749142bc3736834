//! A fitted model's file in an install (the state model, the twin head, the option
//! head): written whole (a temporary file, renamed, so a reader never sees half of
//! one), pinned and activated in the model registry, and read back only as the
//! registry's active version of its kind — a file edited or swapped after it was
//! fitted never reaches a figure. One door for all three, so they cannot drift apart.

use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, ArtifactRef, Digest, GovernanceError, ModelRegistry, Principal};

/// Why a model file could not be written, pinned or read as the active one.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Governance(#[from] GovernanceError),
}

/// `value` as JSON with every object's keys sorted: the same model gives the same
/// bytes, so the same version, whatever order a map inside it (a `HashMap` of a
/// dependency's model) iterates in.
pub fn canonical_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut v = serde_json::to_value(value)?;
    v.sort_all_objects();
    serde_json::to_vec(&v)
}

/// Writes `bytes` to `path` whole (creating its directory) and returns their version
/// (SHA-256).
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<Digest, ArtifactFileError> {
    let io = |source| ArtifactFileError::Io { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(Digest::of(bytes))
}

/// Pins `bytes` as an artifact of `kind` named `name` (unless pinned already) and makes
/// it the active one, each step an audit entry by `by` with `reason`. Returns the version.
pub async fn pin_active(
    registry: &ModelRegistry,
    by: &Principal,
    kind: ArtifactKind,
    name: &str,
    bytes: &[u8],
    reason: &str,
) -> Result<Digest, GovernanceError> {
    let version = Digest::of(bytes);
    let artifact = ArtifactRef { kind, sha256: version, name: name.to_owned(), size_bytes: Some(bytes.len() as u64) };
    registry.pin_and_activate(by, artifact, reason).await?;
    Ok(version)
}

/// Writes `bytes` to `path` whole, then pins and activates them (see [`pin_active`]).
pub async fn save_pinned(
    path: &Path,
    bytes: &[u8],
    registry: &ModelRegistry,
    by: &Principal,
    kind: ArtifactKind,
    reason: &str,
) -> Result<Digest, ArtifactFileError> {
    write_whole(path, bytes)?;
    let name = path.file_name().map_or_else(|| kind.as_str().to_owned(), |n| n.to_string_lossy().into_owned());
    Ok(pin_active(registry, by, kind, &name, bytes, reason).await?)
}

/// The bytes at `path` and their version, refused unless that version is the
/// registry's active artifact of `kind` (read once: the bytes checked are the bytes
/// parsed).
pub async fn read_active(
    path: &Path,
    registry: &ModelRegistry,
    kind: ArtifactKind,
    what: &str,
) -> Result<(Vec<u8>, Digest), ArtifactFileError> {
    // Through the registry's one door for weight files (its verified-digest records).
    match registry.read_active(kind, path, format!("{what} {}", path.display())).await {
        Ok((read, artifact)) => Ok((read.bytes, artifact.sha256)),
        Err(GovernanceError::Read { path, source }) => Err(ArtifactFileError::Io { path, source }),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_log::{AuditLog, Role};

    /// Saved and pinned, a file reads back as the active one; another file of the
    /// same kind, or the same file edited, is refused with its digest named.
    #[tokio::test]
    async fn a_saved_file_reads_back_only_while_it_is_the_active_one() {
        let dir = tempfile::tempdir().unwrap();
        let registry =
            ModelRegistry::new(AuditLog::open(&format!("sqlite://{}", dir.path().join("a.sqlite").display())).await.unwrap());
        let by = Principal::new("gov", Role::Governance);
        let path = dir.path().join("models").join("option-head.json");
        let v = save_pinned(&path, b"{\"a\":1}", &registry, &by, ArtifactKind::OptionHead, "test").await.unwrap();
        let (bytes, read) = read_active(&path, &registry, ArtifactKind::OptionHead, "the option head").await.unwrap();
        assert_eq!((bytes.as_slice(), read), (&b"{\"a\":1}"[..], v));
        assert!(!dir.path().join("models").join("option-head.json.tmp").exists());
        std::fs::write(&path, b"{\"a\":2}").unwrap();
        let err = read_active(&path, &registry, ArtifactKind::OptionHead, "the option head").await.unwrap_err();
        assert!(err.to_string().contains(&Digest::of(b"{\"a\":2}").to_hex()), "{err}");
        let missing = read_active(&dir.path().join("none.json"), &registry, ArtifactKind::OptionHead, "x").await.unwrap_err();
        assert!(matches!(missing, ArtifactFileError::Io { .. }) && missing.to_string().contains("none.json"), "{missing}");
    }
}
