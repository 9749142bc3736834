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

/// SmolLM2-135M's file and sha256, as `assistant::gguf::SMOLLM2_135M` pins them: the
/// smallest LLM, enough for the commands' own checks (`rdt setup --llm smallest`).
pub const SMOL_FILE: &str = "smollm2-135m-instruct-q4_1.gguf";
pub const SMOL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The model cache the commands read (`RDT_MODEL_CACHE`, else `~/.cache/rdt/models`).
pub fn model_cache() -> PathBuf {
    match std::env::var_os("RDT_MODEL_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/rdt/models"),
    }
}

/// Whether MiniLM and SmolLM2-135M are in the model cache, so `rdt setup --llm
/// smallest` finds them and downloads nothing. When they are not, the test skips,
/// saying so, unless `RDT_REQUIRE_MODELS=1` makes their absence a failure.
pub fn small_models_present() -> bool {
    let cache = model_cache();
    let needed = [cache.join("llm").join(SMOL_FILE), cache.join("all-minilm-l6-v2")];
    match needed.iter().find(|p| !p.exists()) {
        None => true,
        Some(missing) => {
            assert!(std::env::var("RDT_REQUIRE_MODELS").as_deref() != Ok("1"), "models missing: {}", missing.display());
            eprintln!("skipping: {} is not in the model cache; run `rdt setup --llm smallest`", missing.display());
            false
        }
    }
}
