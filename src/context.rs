//! Where one install lives: its data directory and its database.

use std::path::PathBuf;

use anyhow::Context as _;
use journey::store::{Database, JourneyStore};

/// Resolved once per run from `--data-dir`/`RDT_DATA_DIR` and
/// `--database-url`/`RDT_DATABASE_URL`.
#[derive(Debug, Clone)]
pub struct Context {
    pub data_dir: PathBuf,
    pub database: Database,
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
        Ok(Context { data_dir, database })
    }

    /// Opens the journey store, creating it on first use.
    pub async fn store(&self) -> anyhow::Result<JourneyStore> {
        Ok(JourneyStore::open(&self.database).await?)
    }
}
