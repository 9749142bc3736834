//! `rdt ask "QUESTION" [--patient ID] --as USER`: one question to the assistant. Prints
//! the model's tokens as they come, then the final (grounded) answer, the tools it
//! called and the audit sequence number of the answer. The patient in scope is the
//! `--patient` given here, never one the model names.
//! The tools read the install's state model and cohort (active twin, neighbour
//! index) when it has them; without them the cohort tools say what is missing and
//! which command makes it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use assistant::engine::{self, engine_from_env};
use assistant::{AskContext, Assistant, EngineKind, MiniLm, Outcome, ToolRetriever};
use audit_log::{AuditLog, ModelRegistry, Principal, Role};
use clap::{Args, ValueEnum};
use tools::ToolContext;
use twin_core::encode::NoteVectorCache;
use twin_core::index::IndexConfig;
use twin_core::models::{ModelCache, MINILM};
use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::gguf::GgufCache as _;
use journey::PatientId;

use crate::cmd::audit::open_signing;
use crate::context::Context;

/// Which packaged LLM answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlmModel {
    /// Qwen2.5-Coder-1.5B (the default).
    Default,
    /// Qwen2.5-Coder-0.5B.
    Fast,
    /// SmolLM2-135M (loader checks only; it does not call tools).
    Smallest,
}

impl LlmModel {
    pub fn packaged(self) -> PackagedGguf {
        match self {
            LlmModel::Default => QWEN_CODER_1_5B,
            LlmModel::Fast => QWEN_CODER_0_5B,
            LlmModel::Smallest => SMOLLM2_135M,
        }
    }
}

/// The model choice shared by `rdt ask` and `rdt eval assistant`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Inference engine: `llama-cpp` or `mistralrs` (default: `RDT_LLM_ENGINE`, else llama-cpp).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<EngineKind>,
    /// Which packaged model answers.
    #[arg(long, value_enum, default_value = "default")]
    pub model: LlmModel,
    /// A GGUF file instead of the packaged model (it must still be pinned).
    #[arg(long, value_name = "FILE")]
    pub gguf: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, in quotes.
    question: String,
    /// The open patient: the only patient the assistant may read.
    #[arg(long, value_name = "ID")]
    patient: Option<String>,
    /// Who asks, for the role check and the audit trail (default: the login name).
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    /// The asker's role.
    #[arg(long, default_value = "clinician")]
    role: Role,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the whole answer (tools, results, versions, audit entries) as JSON.
    #[arg(long)]
    json: bool,
}

/// The engine, MiniLM retrieval and `tools`, auditing to `log` (whose registry must
/// have the GGUF and MiniLM pinned).
pub async fn build_assistant(
    ctx: &Context,
    tools: ToolContext,
    log: AuditLog,
    model: &ModelArgs,
) -> anyhow::Result<Assistant> {
    let registry = ModelRegistry::new(log.clone());
    let cache = ModelCache::from_env()?;
    let path = match &model.gguf {
        Some(p) => p.clone(),
        None => cache.gguf_path(&model.model.packaged()),
    };
    let kind = match model.engine {
        Some(k) => k,
        None => engine_from_env()?,
    };
    let chat = engine::load(kind, &path, &registry).await.with_context(|| format!("loading the {kind} engine"))?;
    let files = cache.check(&MINILM).context("MiniLM ranks the tools; run `rdt setup`")?;
    let embedder = MiniLm::load(&files, &registry, Some(NoteVectorCache::for_data_dir(&ctx.data_dir))).await?;
    let retriever = ToolRetriever::new(Arc::new(embedder), &tools::specs())?;
    Ok(Assistant::new(chat, tools, log, retriever))
}

pub async fn run(ctx: &Context, args: AskArgs) -> anyhow::Result<ExitCode> {
    let user = args.user.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let patient = match args.patient {
        Some(p) => Some(PatientId::new(p).context("--patient is empty")?),
        None => None,
    };
    let store = ctx.store().await?;
    if let Some(p) = &patient {
        anyhow::ensure!(store.journey(p).await?.is_some(), "no patient `{p}` in the journey store ({})", ctx.database);
    }
    let log = open_signing(ctx).await?;
    let registry = ModelRegistry::new(log.clone());
    let tools = ToolContext::for_install(store.clone(), &ctx.data_dir, &IndexConfig::from_env(&ctx.data_dir), &registry).await?;
    let assistant = build_assistant(ctx, tools, log, &args.model).await?;
    let session = format!("cli-{}-{}", std::process::id(), chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let ask = AskContext { principal: Principal::new(user, args.role), patient, session };

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = (!args.json).then(|| {
        tokio::spawn(async move {
            let mut out = std::io::stderr();
            while let Some(piece) = rx.recv().await {
                let _ = write!(out, "{piece}");
                let _ = out.flush();
            }
            let _ = writeln!(out);
        })
    });
    let answer = assistant.ask(&args.question, &ask, Some(tx)).await?;
    if let Some(p) = printer {
        let _ = p.await;
    }
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!("{}", answer.text);
        for call in &answer.tools {
            println!("  tool: {} {} (audit {})", call.tool, call.arguments, call.audit_seq);
        }
        let grounding = serde_json::to_value(&answer.grounding)?;
        println!(
            "  engine {} · model {} · prompts {} · grounding {} · {:.1} s",
            answer.engine,
            &answer.model_sha256[..12.min(answer.model_sha256.len())],
            answer.prompt_set_version.short(),
            grounding["grounding"].as_str().unwrap_or_default(),
            answer.timings.total
        );
        println!("  audit entry: {}", answer.answer_seq);
    }
    Ok(match answer.outcome {
        Outcome::Answered => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}
