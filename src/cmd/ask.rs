//! `rdt ask "QUESTION" [--patient ID] --as USER`: one question to the assistant. Prints
//! the model's tokens as they come, then the final (grounded) answer, the tools it
//! called and the audit sequence number of the answer. The patient in scope is the
//! `--patient` given here, never one the model names.
//! The tools read the install's state model and cohort (active twin, neighbour
//! index) when it has them; without them the cohort tools say what is missing and
//! which command makes it.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use assistant::{AskContext, Outcome};
use audit_log::{ModelRegistry, Principal, Role};
use clap::Args;
use journey::PatientId;
use tools::ToolContext;

// `rdt serve` and `rdt eval assistant` build the assistant the same way.
pub use crate::llm::{build_assistant, ModelArgs};
use crate::context::{user_name, Context};

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

pub async fn run(ctx: &Context, args: AskArgs) -> anyhow::Result<ExitCode> {
    let user = user_name(args.user);
    let patient = match args.patient {
        Some(p) => Some(PatientId::new(p).context("--patient is empty")?),
        None => None,
    };
    let store = ctx.store().await?;
    if let Some(p) = &patient {
        anyhow::ensure!(store.journey(p).await?.is_some(), "no patient `{p}` in the journey store ({})", ctx.database);
    }
    let log = ctx.audit_log().await?;
    let registry = ModelRegistry::new(log.clone());
    let tools = ToolContext::for_install(store.clone(), &ctx.data_dir, &ctx.index(), &registry).await?;
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
