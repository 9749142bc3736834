//! [`DigestRecords`]: the sha256 of a model file, computed in full once and then
//! reused while the file provably has not changed: the one way every weight file is
//! hashed before the registry checks it (GGUF, MiniLM, twin checkpoints, any
//! [`crate::ModelRegistry::verify_file`]).
//!
//! Hashing a 1.1 GB GGUF costs seconds on every cold `rdt ask`. A record keeps the
//! digest of one file together with what any write to it changes: its canonical
//! path, size, modification and status-change times (ns), inode and device. A later
//! open whose file — the open descriptor's `fstat`, not the path's — matches every
//! field reuses the digest; any difference hashes the whole file again. The
//! registry's check of the digest runs either way, so a record never lets an
//! unpinned file load: it only says what the bytes hash to.
//!
//! Why this is sound: writing to a file, in place or by renaming another over it,
//! changes its ctime (or inode), and ctime cannot be set back by the file's owner
//! (restoring the mtime with `touch -d` still moves ctime). Two guards keep a record
//! from describing other bytes:
//! - a record is written only after a full hash the caller accepted
//!   ([`DigestRecords::remember`]), and only when the file's identity was the same
//!   before and after that hash (no write raced it);
//! - and only when the file's last change is older than [`SETTLE`]: a write in the
//!   same coarse clock tick as the hash could otherwise leave mtime and ctime
//!   unchanged (git's "racy clean" problem). A file that fresh is hashed again next
//!   time and recorded then.
//!
//! Records live in `<data-dir>/cache/verified-digests/`, one JSON file per canonical
//! path (named by its sha256), written beside and renamed into place. A record that
//! does not read is ignored (the file is hashed). On systems without inode and ctime
//! (not Unix) nothing is recorded and every open hashes in full.

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Where records live under a data directory.
pub const RECORDS_DIR: &str = "cache/verified-digests";

/// How old a file's last change must be before its digest is recorded (see the
/// module doc: coarse file-system clocks).
pub const SETTLE: Duration = Duration::from_secs(2);

/// What any write to a file changes, read from an open descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
    pub device: u64,
}

impl FileIdentity {
    /// The identity of `file`, opened at `canonical`; `None` where the system has no
    /// inode and ctime to read.
    #[cfg(unix)]
    fn of(file: &File, canonical: &Path) -> io::Result<Option<Self>> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = file.metadata()?;
        let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        Ok(Some(FileIdentity {
            path: canonical.to_path_buf(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }))
    }

    #[cfg(not(unix))]
    fn of(_file: &File, _canonical: &Path) -> io::Result<Option<Self>> {
        Ok(None)
    }

    /// The latest of mtime and ctime, as a time.
    fn last_change(&self) -> SystemTime {
        let ns = self.mtime_ns.max(self.ctime_ns).max(0);
        let ns = u64::try_from(ns).unwrap_or(u64::MAX);
        SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
    }
}

/// One record: a file as it stood and the sha256 of its bytes then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    file: FileIdentity,
    sha256: Digest,
}

/// Where the digest of a [`HashedFile`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestSource {
    /// A record of this very file as it stands (no byte was hashed).
    Recorded,
    /// A full hash of the bytes just now.
    Hashed,
}

/// An open file and the sha256 of its bytes. Keep it open while loading from it
/// (`/proc/self/fd/N`), so the inode checked is the inode loaded.
#[derive(Debug)]
pub struct HashedFile {
    pub file: File,
    pub sha256: Digest,
    pub source: DigestSource,
    pub path: PathBuf,
    /// The identity to record: `None` when the file changed while it was hashed,
    /// when it came from a record already, or where identities are not available.
    to_record: Option<FileIdentity>,
}

/// A file's bytes in memory and their sha256 (the bytes hashed are the bytes used).
#[derive(Debug)]
pub struct ReadFile {
    pub bytes: Vec<u8>,
    pub hashed: HashedFile,
}

/// The digest records of one install, or none (every open hashes in full).
#[derive(Debug, Clone)]
pub struct DigestRecords {
    dir: Option<PathBuf>,
    settle: Duration,
}

impl Default for DigestRecords {
    fn default() -> Self {
        Self::none()
    }
}

impl DigestRecords {
    /// Records kept under `<data_dir>/cache/verified-digests`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::at(data_dir.join(RECORDS_DIR))
    }

    /// Records kept in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        DigestRecords { dir: Some(dir.into()), settle: SETTLE }
    }

    /// No records: every open hashes the whole file.
    pub fn none() -> Self {
        DigestRecords { dir: None, settle: SETTLE }
    }

    /// The same records with another settle time (tests write a file and check it in
    /// the same second).
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Opens `path` and gives the sha256 of its bytes: recorded when a record names
    /// this very file as it stands, else hashed in full through the open descriptor.
    pub fn open(&self, path: &Path) -> io::Result<HashedFile> {
        let (mut file, canonical, before, recorded) = self.open_with_record(path)?;
        if let Some(sha256) = recorded {
            return Ok(HashedFile { file, sha256, source: DigestSource::Recorded, path: path.to_path_buf(), to_record: None });
        }
        let sha256 = Digest::of_reader(&mut file)?;
        let after = FileIdentity::of(&file, &canonical)?;
        let to_record = before.filter(|b| after.as_ref() == Some(b));
        Ok(HashedFile { file, sha256, source: DigestSource::Hashed, path: path.to_path_buf(), to_record })
    }

    /// Reads the whole of `path` into memory with the sha256 of those bytes: the
    /// recorded one when a record names this very file as it stood before and still
    /// stands after the read, else the hash of the bytes read.
    pub fn read(&self, path: &Path) -> io::Result<ReadFile> {
        let (mut file, canonical, before, recorded) = self.open_with_record(path)?;
        let mut bytes = Vec::with_capacity(before.as_ref().map_or(0, |b| b.size as usize));
        file.read_to_end(&mut bytes)?;
        let after = FileIdentity::of(&file, &canonical)?;
        let unchanged = before.is_some() && before == after;
        let (sha256, source, to_record) = match recorded {
            Some(sha256) if unchanged => (sha256, DigestSource::Recorded, None),
            _ => (Digest::of(&bytes), DigestSource::Hashed, if unchanged { before } else { None }),
        };
        Ok(ReadFile { bytes, hashed: HashedFile { file, sha256, source, path: path.to_path_buf(), to_record } })
    }

    /// Records `hashed`'s digest, once the caller has accepted it (the registry pins
    /// it, or it is the packaged file's expected hash). Nothing is written when the
    /// digest came from a record, when the file changed while it was hashed, or when
    /// its last change is younger than the settle time. A record that cannot be
    /// written costs only a full hash next time, so the error is the caller's to log.
    pub fn remember(&self, hashed: &HashedFile) -> io::Result<()> {
        let (Some(dir), Some(identity)) = (&self.dir, &hashed.to_record) else { return Ok(()) };
        let age = SystemTime::now().duration_since(identity.last_change()).unwrap_or(Duration::ZERO);
        if age < self.settle {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        let record = Record { file: identity.clone(), sha256: hashed.sha256 };
        let json = serde_json::to_vec(&record).map_err(io::Error::other)?;
        let path = record_path(dir, &identity.path);
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        fs::write(&partial, json)?;
        fs::rename(&partial, &path)
    }

    /// The open file, its canonical path, its identity and the recorded digest when a
    /// record matches that identity.
    fn open_with_record(&self, path: &Path) -> io::Result<(File, PathBuf, Option<FileIdentity>, Option<Digest>)> {
        let file = File::open(path)?;
        let canonical = fs::canonicalize(path)?;
        let identity = FileIdentity::of(&file, &canonical)?;
        let recorded = match (&self.dir, &identity) {
            (Some(dir), Some(identity)) => read_record(&record_path(dir, &canonical))
                .filter(|r| r.file == *identity)
                .map(|r| r.sha256),
            _ => None,
        };
        Ok((file, canonical, identity, recorded))
    }
}

/// `<dir>/<sha256 of the canonical path>.json`.
fn record_path(dir: &Path, canonical: &Path) -> PathBuf {
    let name = Digest::of(canonical.as_os_str().as_encoded_bytes()).to_hex();
    dir.join(format!("{name}.json"))
}

/// The record at `path`, or `None` when there is none or it does not read.
fn read_record(path: &Path) -> Option<Record> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Seek as _, SeekFrom, Write as _};

    fn records(dir: &Path) -> DigestRecords {
        DigestRecords::at(dir.join("records")).with_settle(Duration::ZERO)
    }

    /// A temporary directory holding `weights.bin` = "pinned weights".
    fn weights_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weights.bin");
        fs::write(&path, b"pinned weights").unwrap();
        (dir, path)
    }

    /// A full hash is recorded once accepted and then reused for the same file.
    #[test]
    fn an_accepted_hash_is_reused_while_the_file_is_unchanged() {
        let (dir, path) = weights_file();
        let records = records(dir.path());
        let first = records.open(&path).unwrap();
        assert_eq!((first.sha256, first.source), (Digest::of(b"pinned weights"), DigestSource::Hashed));
        // Not remembered yet: hashed again.
        assert_eq!(records.open(&path).unwrap().source, DigestSource::Hashed);
        records.remember(&first).unwrap();
        let second = records.open(&path).unwrap();
        assert_eq!((second.sha256, second.source), (Digest::of(b"pinned weights"), DigestSource::Recorded));
        let read = records.read(&path).unwrap();
        assert_eq!((read.bytes.as_slice(), read.hashed.source), (&b"pinned weights"[..], DigestSource::Recorded));
        // Through another spelling of the same path too.
        let other = dir.path().join(".").join("weights.bin");
        assert_eq!(records.open(&other).unwrap().source, DigestSource::Recorded);
    }

    /// One byte edited in place, with the modification time set back to what it
    /// was: ctime still moves, so the whole file is hashed again and the new digest
    /// is what the caller checks.
    #[test]
    fn an_in_place_edit_with_the_mtime_restored_is_hashed_again() {
        let (dir, path) = weights_file();
        let records = records(dir.path());
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        records.remember(&records.open(&path).unwrap()).unwrap();
        let ctime_before = ctime_ns(&path);
        // The kernel stamps ctime from a coarse clock (a tick of a few ms): an edit in
        // the tick of the recorded write would keep its stamp, the race `SETTLE`
        // guards against in the product. The test removes that chance by waiting,
        // on the file system's own clock, for the next tick: it writes a probe file
        // until the probe's ctime is past the recorded one.
        let probe = dir.path().join("probe");
        loop {
            fs::write(&probe, b"tick").unwrap();
            if ctime_ns(&probe) > ctime_before {
                break;
            }
        }
        let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"P").unwrap();
        file.set_modified(mtime).unwrap();
        drop(file);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime, "mtime restored");
        let reopened = records.open(&path).unwrap();
        assert_eq!((reopened.sha256, reopened.source), (Digest::of(b"Pinned weights"), DigestSource::Hashed));
        let read = records.read(&path).unwrap();
        assert_eq!((read.hashed.sha256, read.hashed.source), (Digest::of(b"Pinned weights"), DigestSource::Hashed));
    }

    /// A file renamed over the recorded one (another inode) is hashed again.
    #[test]
    fn a_file_renamed_over_is_hashed_again() {
        let (dir, path) = weights_file();
        let records = records(dir.path());
        records.remember(&records.open(&path).unwrap()).unwrap();
        let other = dir.path().join("other.bin");
        fs::write(&other, b"swapped weights").unwrap();
        fs::rename(&other, &path).unwrap();
        let reopened = records.open(&path).unwrap();
        assert_eq!((reopened.sha256, reopened.source), (Digest::of(b"swapped weights"), DigestSource::Hashed));
    }

    /// Too fresh a file, no records directory, or a record that does not read: no
    /// reuse, always a full hash.
    #[test]
    fn fresh_files_unreadable_records_and_no_records_mean_a_full_hash() {
        let (dir, path) = weights_file();
        let settling = DigestRecords::at(dir.path().join("records")).with_settle(Duration::from_secs(3600));
        settling.remember(&settling.open(&path).unwrap()).unwrap();
        assert_eq!(settling.open(&path).unwrap().source, DigestSource::Hashed);

        let none = DigestRecords::none();
        none.remember(&none.open(&path).unwrap()).unwrap();
        assert_eq!(none.open(&path).unwrap().source, DigestSource::Hashed);

        let records = records(dir.path());
        records.remember(&records.open(&path).unwrap()).unwrap();
        let record = record_path(&dir.path().join("records"), &fs::canonicalize(&path).unwrap());
        fs::write(&record, b"{not json").unwrap();
        assert_eq!(records.open(&path).unwrap().source, DigestSource::Hashed);
    }

    fn ctime_ns(path: &Path) -> i128 {
        let file = File::open(path).unwrap();
        FileIdentity::of(&file, path).unwrap().unwrap().ctime_ns
    }
}
