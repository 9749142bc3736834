//! Helpers for the end-to-end tests: a fresh install to run `rdt` in, fixtures, and
//! (shared with the journey crate's store suite) fresh PostgreSQL databases.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

#[path = "../../journey/tests/support/mod.rs"]
mod store_support;
#[allow(unused_imports)] // only some test files use PostgreSQL
pub use store_support::{create_postgres_database, drop_postgres_database, postgres_admin_url};

/// The Synthea R4 fixtures in `../shared`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/synthea-r4")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// One install of RDT in a temporary data directory.
pub struct Rdt {
    data_dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Rdt {
    pub fn new() -> Self {
        Rdt { data_dir: tempfile::tempdir().unwrap(), database_url: None }
    }

    pub fn with_database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rdt"));
        cmd.arg("--data-dir").arg(self.data_dir.path());
        // Nothing from the developer's environment leaks into a test install.
        cmd.env_remove("RDT_DATABASE_URL").env_remove("RDT_DATA_DIR");
        if let Some(url) = &self.database_url {
            cmd.env("RDT_DATABASE_URL", url);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run rdt")
    }

    /// Runs a `--json` command; returns its parsed stdout and exit code.
    pub fn run_json(&self, args: &[&str]) -> (Value, i32) {
        let out = self.run(args);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "rdt {args:?} printed no JSON ({e}); stdout: {} stderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (value, out.status.code().unwrap_or(-1))
    }
}
