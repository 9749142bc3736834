//! A witness of the signed tree heads outside the database: an append-only file of
//! heads, one JSON line each.
//!
//! Heads stored only in the database can be deleted with the entries they cover, and
//! then the trail verifies as a shorter, consistent log. Every head the log signs is
//! also appended here (and fsynced), and `verify` checks the stored entries against
//! these heads too: a witnessed head that covers more entries than the database holds
//! names the removed range. The file can live on another volume or be shipped off the
//! machine; `rdt audit export-head` prints the latest head for an auditor to keep.
//!
//! A torn last line (a crash mid-append) is ignored; any other unreadable line is an
//! error naming the file and line.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::signing::SignedTreeHead;

/// The head log of an install (`<data-dir>/audit-heads.jsonl` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadWitness {
    path: PathBuf,
}

/// The default witness file name inside a data directory.
pub const WITNESS_FILE: &str = "audit-heads.jsonl";

impl HeadWitness {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        HeadWitness { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one head and makes it durable before returning.
    pub fn append(&self, head: &SignedTreeHead) -> Result<(), AuditError> {
        let io = |e: std::io::Error| AuditError::Witness(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut line = serde_json::to_string(head).map_err(|e| AuditError::Witness(e.to_string()))?;
        line.push('\n');
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Every witnessed head, in the order written; none when the file does not exist.
    pub fn heads(&self) -> Result<Vec<SignedTreeHead>, AuditError> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AuditError::Witness(format!("{}: {e}", self.path.display()))),
        };
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| AuditError::Witness(format!("{}: {e}", self.path.display())))?;
        let mut heads = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SignedTreeHead>(line) {
                Ok(h) => heads.push(h),
                // A torn last line: the append that wrote it did not finish.
                Err(_) if i + 1 == lines.len() => {}
                Err(e) => {
                    return Err(AuditError::Witness(format!("{} line {}: {e}", self.path.display(), i + 1)));
                }
            }
        }
        Ok(heads)
    }
}
