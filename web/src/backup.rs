//! Backups of one install: a consistent copy of the SQLite store (journeys and the
//! audit log, which share the file) and of the users database, taken with
//! `VACUUM INTO` while the server runs, plus the keys, the index and the model
//! checkpoints, into `<data-dir>/backups/rdt-backup-<UTC time>/` with a
//! `manifest.json` of every file's size and sha256. `rdt backup` and the admin page's
//! button both call [`create`].

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use journey::Database;

/// Top-level entries of the data directory a backup leaves out: backups themselves,
/// caches that are rebuilt, uploads and generated cohorts (their import is in the
/// store), and the SQLite files that are copied with `VACUUM INTO` instead.
const SKIPPED: [&str; 4] = ["backups", "cache", "uploads", "demo-cohort"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backups copy the embedded SQLite store; {0} is PostgreSQL: back it up with pg_dump")]
    Postgres(String),
    #[error("cannot copy {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot copy the database {path} (VACUUM INTO): {source}")]
    Sqlite { path: PathBuf, source: sqlx::Error },
    #[error("cannot write the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
    #[error("the backup's copying task failed: {0}")]
    Task(String),
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupFile {
    /// Path inside the backup folder, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    pub created_at: String,
    pub rdt_version: String,
    pub files: Vec<BackupFile>,
    #[serde(skip)]
    pub dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_owned(), source }
}

/// Copies an SQLite database consistently (a snapshot inside one read transaction),
/// also while other connections write.
async fn vacuum_into(from: &Path, to: &Path) -> Result<(), BackupError> {
    let err = |source| BackupError::Sqlite { path: from.to_owned(), source };
    let mut conn = SqliteConnectOptions::new().filename(from).create_if_missing(false).connect().await.map_err(err)?;
    sqlx::query("VACUUM INTO ?").bind(to.to_string_lossy().into_owned()).execute(&mut conn).await.map_err(err)?;
    conn.close().await.map_err(err)?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            // `fs::copy` keeps the permission bits: the signing key stays 0600.
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<BackupFile>) -> Result<(), BackupError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io(dir))?.collect::<Result<_, _>>().map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            list_files(root, &path, out)?;
        } else if path.file_name().is_some_and(|n| n != "manifest.json") {
            let (bytes, sha256) = sha256_file(&path)?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push(BackupFile { path: rel, bytes, sha256 });
        }
    }
    Ok(())
}

/// Where backups go.
pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// Takes a backup of the install in `data_dir` (store in `database`).
pub async fn create(data_dir: &Path, database: &Database) -> Result<BackupManifest, BackupError> {
    let Database::Sqlite(store_path) = database else {
        return Err(BackupError::Postgres(database.to_string()));
    };
    let now = Utc::now();
    let base = backups_dir(data_dir);
    let mut dir = base.join(format!("rdt-backup-{}", now.format("%Y%m%dT%H%M%SZ")));
    // Two backups in one second get distinct folders.
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("rdt-backup-{}-{n}", now.format("%Y%m%dT%H%M%SZ")));
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;

    vacuum_into(store_path, &dir.join("journey.sqlite")).await?;
    let users = crate::auth::UserStore::path_in(data_dir);
    if users.exists() {
        vacuum_into(&users, &dir.join("web.sqlite")).await?;
    }
    // Copying the index and models and hashing every file is long, blocking work:
    // on a blocking thread, so a server keeps answering requests meanwhile.
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || {
        if data_dir.exists() {
            for entry in std::fs::read_dir(&data_dir).map_err(io(&data_dir))? {
                let entry = entry.map_err(io(&data_dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && !SKIPPED.contains(&name.as_str()) {
                    copy_tree(&entry.path(), &dir.join(&name))?;
                }
            }
        }
        let mut files = Vec::new();
        list_files(&dir, &dir, &mut files)?;
        let manifest = BackupManifest {
            created_at: now.to_rfc3339(),
            rdt_version: env!("CARGO_PKG_VERSION").to_owned(),
            files,
            dir: dir.clone(),
        };
        let text = serde_json::to_string_pretty(&manifest)?;
        let path = dir.join("manifest.json");
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(manifest)
    })
    .await
    .map_err(|e| BackupError::Task(e.to_string()))?
}

/// The backups under the data directory, newest first, with their manifests.
pub fn list(data_dir: &Path) -> Vec<BackupManifest> {
    let Ok(entries) = std::fs::read_dir(backups_dir(data_dir)) else { return Vec::new() };
    let mut out: Vec<BackupManifest> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("manifest.json")).ok()?;
            let mut m: BackupManifest = serde_json::from_str(&text).ok()?;
            m.dir = e.path();
            Some(m)
        })
        .collect();
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    out
}

/// Checks a backup folder against its manifest: every file present with its sha256.
pub fn verify(dir: &Path) -> Result<Vec<String>, BackupError> {
    let path = dir.join("manifest.json");
    let manifest: BackupManifest = serde_json::from_str(&std::fs::read_to_string(&path).map_err(io(&path))?)?;
    let mut problems = Vec::new();
    for f in &manifest.files {
        match sha256_file(&dir.join(&f.path)) {
            Ok((_, sha)) if sha == f.sha256 => {}
            Ok(_) => problems.push(format!("{}: sha256 differs from the manifest", f.path)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_copies_the_store_keys_and_index_with_a_verifiable_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let database = Database::Sqlite(data.join("journey.sqlite"));
        journey::JourneyStore::open(&database).await.unwrap().close().await;
        std::fs::create_dir_all(data.join("keys")).unwrap();
        std::fs::write(data.join("keys/audit-ed25519.pub"), "abcd").unwrap();
        std::fs::create_dir_all(data.join("index/seg")).unwrap();
        std::fs::write(data.join("index/seg/0.bin"), [1u8, 2, 3]).unwrap();
        std::fs::create_dir_all(data.join("cache")).unwrap();
        std::fs::write(data.join("cache/x"), "rebuilt").unwrap();

        let m = create(data, &database).await.unwrap();
        let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"journey.sqlite"));
        assert!(paths.contains(&"keys/audit-ed25519.pub"));
        assert!(paths.contains(&"index/seg/0.bin"));
        assert!(!paths.iter().any(|p| p.starts_with("cache")));
        let expected = hex::encode(Sha256::digest([1u8, 2, 3]));
        assert_eq!(m.files.iter().find(|f| f.path == "index/seg/0.bin").unwrap().sha256, expected);
        assert!(verify(&m.dir).unwrap().is_empty());
        assert_eq!(list(data).len(), 1);

        std::fs::write(m.dir.join("index/seg/0.bin"), [9u8]).unwrap();
        assert_eq!(verify(&m.dir).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn postgres_stores_are_refused_with_a_pointer_to_pg_dump() {
        let dir = tempfile::tempdir().unwrap();
        let err = create(dir.path(), &Database::Postgres("postgres://u:secret@h/db".into())).await.unwrap_err();
        assert!(err.to_string().contains("pg_dump") && !err.to_string().contains("secret"));
    }
}
