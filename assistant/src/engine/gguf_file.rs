//! A GGUF file opened once, hashed through that open descriptor (or known by the
//! install's verified-digest record of that very inode, unchanged since it was hashed
//! in full), and handed to an engine as the same open file: the bytes verified are the
//! bytes loaded.
//!
//! Neither engine loads from memory: llama.cpp (`llama-cpp-2`) and mistralrs take a
//! path. So the file is opened once, its whole content hashed through that
//! descriptor, and the engine is given `/proc/self/fd/N` (Linux), which opens the
//! very inode that was hashed even when the path has since been renamed over,
//! replaced or deleted. mistralrs is given `/proc/self/fd` as its directory and `N`
//! as the file name. On other systems there is no such path, so the engine gets the
//! original path and a file swapped between hash and load could go unnoticed; RDT
//! deploys on Linux.

use std::path::{Path, PathBuf};

use audit_log::{Digest, HashedFile};

/// An open GGUF and the sha256 of its bytes (hashed through that descriptor, or the
/// install's verified-digest record of that very file: `audit_log::file_digest`).
/// Keep it alive until the engine has loaded from [`OpenedGguf::load_path`].
#[derive(Debug)]
pub struct OpenedGguf {
    hashed: HashedFile,
}

impl OpenedGguf {
    /// The GGUF `hashed` opened (`audit_log::ModelRegistry::open_pinned`).
    pub fn new(hashed: HashedFile) -> Self {
        OpenedGguf { hashed }
    }

    /// The sha256 of the bytes read through the open file.
    pub fn sha256(&self) -> &Digest {
        &self.hashed.sha256
    }

    /// The path an engine opens to read the file that was hashed.
    #[cfg(target_os = "linux")]
    pub fn load_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.hashed.file.as_raw_fd()))
    }

    /// Without `/proc/self/fd`, the original path (see the module doc).
    #[cfg(not(target_os = "linux"))]
    pub fn load_path(&self) -> PathBuf {
        self.hashed.path.clone()
    }

    /// The path it was opened at, for messages.
    pub fn path(&self) -> &Path {
        &self.hashed.path
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
        let opened = OpenedGguf::new(audit_log::DigestRecords::none().open(&path).unwrap());
        assert_eq!(*opened.sha256(), Digest::of(b"GGUF pinned bytes"));
        let other = dir.path().join("other.gguf");
        std::fs::write(&other, b"GGUF swapped bytes").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(std::fs::read(opened.load_path()).unwrap(), b"GGUF pinned bytes");
        assert_eq!(std::fs::read(&path).unwrap(), b"GGUF swapped bytes");
    }
}
