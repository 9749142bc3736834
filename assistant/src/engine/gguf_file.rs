//! A GGUF file opened once, hashed through that open descriptor, and handed to an
//! engine as the same open file: the bytes hashed are the bytes loaded.
//!
//! Neither engine loads from memory: llama.cpp (`llama-cpp-2`) and mistralrs take a
//! path. So the file is opened once, its whole content hashed through that
//! descriptor, and the engine is given `/proc/self/fd/N` (Linux), which opens the
//! very inode that was hashed even when the path has since been renamed over,
//! replaced or deleted. mistralrs is given `/proc/self/fd` as its directory and `N`
//! as the file name. On other systems there is no such path, so the engine gets the
//! original path and a file swapped between hash and load could go unnoticed; RDT
//! deploys on Linux.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use audit_log::Digest;
use sha2::{Digest as _, Sha256};

/// Opening or hashing a GGUF failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path} to hash it: {source}")]
pub struct HashError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// An open GGUF and the sha256 of the bytes read through it. Keep it alive until
/// the engine has loaded from [`OpenedGguf::load_path`].
#[derive(Debug)]
pub struct OpenedGguf {
    file: File,
    sha256: Digest,
    path: PathBuf,
}

impl OpenedGguf {
    /// Opens `path` and hashes it through the open file, on a blocking thread (a
    /// GGUF is gigabytes).
    pub async fn open(path: &Path) -> Result<Self, HashError> {
        let owned = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&owned))
            .await
            .map_err(|e| HashError { path: path.to_owned(), source: std::io::Error::other(e) })?
    }

    pub fn open_blocking(path: &Path) -> Result<Self, HashError> {
        let err = |source| HashError { path: path.to_owned(), source };
        let mut file = File::open(path).map_err(err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let sha256 = Digest::from_slice(&hasher.finalize()).expect("a sha256 is 32 bytes");
        Ok(OpenedGguf { file, sha256, path: path.to_owned() })
    }

    /// The sha256 of the bytes read through the open file.
    pub fn sha256(&self) -> &Digest {
        &self.sha256
    }

    /// The path an engine opens to read the file that was hashed.
    #[cfg(target_os = "linux")]
    pub fn load_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// Without `/proc/self/fd`, the original path (see the module doc).
    #[cfg(not(target_os = "linux"))]
    pub fn load_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The path it was opened at, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The descriptor path reads the bytes that were hashed even after the file at
    /// the original path is replaced by another one (a rename over it, as a swap
    /// would be done).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_open_file_is_what_loads_even_after_a_swap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.gguf");
        std::fs::write(&path, b"GGUF pinned bytes").unwrap();
        let opened = OpenedGguf::open_blocking(&path).unwrap();
        assert_eq!(*opened.sha256(), Digest::of(b"GGUF pinned bytes"));
        let other = dir.path().join("other.gguf");
        std::fs::write(&other, b"GGUF swapped bytes").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(std::fs::read(opened.load_path()).unwrap(), b"GGUF pinned bytes");
        assert_eq!(std::fs::read(&path).unwrap(), b"GGUF swapped bytes");
    }
}
