//! One writer of an install's neighbour index at a time.
//!
//! The index is written by a rebuild (`rdt embed`), by `rdt event add` and by the
//! catch-up after every write to the store ([`super::catch_up`]), from the CLI and
//! from the server at once. Each writer replaces a patient's points as remove + upsert
//! + flush over its own view of the index: two interleaved writers could each flush a
//! view missing the other's points. [`IndexWriter::acquire`] takes an exclusive
//! advisory lock on `<data-dir>/index.lock` (held until dropped; the operating system
//! releases it when a process dies, so a killed writer never blocks the next one).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::error::io;
use super::IndexError;

/// The install's index write lock, held while this value lives.
#[derive(Debug)]
pub struct IndexWriter {
    _file: File,
}

impl IndexWriter {
    /// The lock file of the install at `data_dir`.
    pub fn lock_path(data_dir: &Path) -> PathBuf {
        data_dir.join("index.lock")
    }

    /// Waits for the lock (off the async workers) and holds it.
    pub async fn acquire(data_dir: &Path) -> Result<IndexWriter, IndexError> {
        let path = Self::lock_path(data_dir);
        std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| IndexError::Io { path: path.clone(), source: std::io::Error::other(e) })?;
        Ok(IndexWriter { _file: locked.map_err(io(&path))? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While one writer holds the lock another cannot take it; dropping it frees it.
    #[tokio::test]
    async fn one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = IndexWriter::acquire(dir.path()).await.unwrap();
        let other = File::options().write(true).open(IndexWriter::lock_path(dir.path())).unwrap();
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().unwrap();
    }
}
