//! Where one install lives: its data directory and its database; and who runs a command.

use std::path::PathBuf;

use anyhow::Context as _;
use audit_log::{AuditLog, ModelRegistry};
use journey::store::{Database, JourneyStore};
use twin_core::index::IndexConfig;

/// Resolved once per run from `--data-dir`/`RDT_DATA_DIR` and
/// `--database-url`/`RDT_DATABASE_URL`.
#[derive(Debug, Clone)]
pub struct Context {
    pub data_dir: PathBuf,
    pub database: Database,
}

/// Creates the data directory owner-only (0700, the process umask), and narrows an
/// existing install's (one holding `journey.sqlite`) that an earlier version left
/// readable by others. A directory that is not an install is left as it is.
fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && dir.join("journey.sqlite").exists() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making the data directory {} private", dir.display()))?;
        }
    }
    Ok(())
}

impl Context {
    pub fn resolve(data_dir: Option<PathBuf>, database_url: Option<String>) -> anyhow::Result<Self> {
        let data_dir = match data_dir {
            Some(dir) => dir,
            None => directories::ProjectDirs::from("org", "rdt", "rdt")
                .map(|dirs| dirs.data_dir().to_path_buf())
                .context("no home directory to put the default data directory in; pass --data-dir")?,
        };
        let database = Database::resolve(database_url.as_deref(), &data_dir)?;
        private_dir(&data_dir)?;
        Ok(Context { data_dir, database })
    }

    /// Opens the journey store, creating it on first use.
    pub async fn store(&self) -> anyhow::Result<JourneyStore> {
        Ok(JourneyStore::open(&self.database).await?)
    }

    /// The install's audit log, with its signing key (created on first use).
    pub async fn audit_log(&self) -> anyhow::Result<AuditLog> {
        AuditLog::open_for_data_dir(&self.database.url(), &self.data_dir)
            .await
            .with_context(|| format!("opening the audit log in {}", self.database))
    }

    /// The install's model registry (over its audit log).
    pub async fn registry(&self) -> anyhow::Result<ModelRegistry> {
        Ok(ModelRegistry::new(self.audit_log().await?))
    }

    /// The install's neighbour index (`RDT_QDRANT_URL`, else `<data-dir>/index/`).
    pub fn index(&self) -> IndexConfig {
        IndexConfig::from_env(&self.data_dir)
    }
}

/// Who runs a command, for the audit trail: `--as` when given, else the login name.
pub fn user_name(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
