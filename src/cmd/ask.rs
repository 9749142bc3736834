//! `rdt ask "QUESTION" [--patient ID] --as USER`: one question to the assistant. Prints
//! the model's tokens as they come, then the final (grounded) answer, the tools it
//! called and the audit sequence number of the answer. The patient in scope is the
//! `--patient` given here, never one the model names.
//! The model is the registry's active LLM unless `--model`/`--gguf` names one (pinned,
//! not retired); which version answered is printed and recorded in the answer's entry.
//! The tools read the install's state model and cohort (active twin, neighbour
//! index) when it has them; without them the cohort tools say what is missing and
//! which command makes it.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use assistant::{AskContext, GovernedAssistant, Outcome, TokenSink};
use audit_log::{ModelRegistry, Principal, Role};
use clap::Args;
use journey::{JourneyStore, PatientId};
use tools::ToolContext;

// `rdt serve` and `rdt eval assistant` build the assistant the same way.
pub use crate::llm::{build_assistant, ModelArgs};
use crate::llm::build_governed_assistant;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, in quotes.
    question: String,
    #[command(flatten)]
    asker: AskerArgs,
    /// Print the whole answer (tools, results, versions, audit entries) as JSON.
    #[arg(long)]
    json: bool,
}

/// Who asks about which patient, answered by which model: `rdt ask`'s and `rdt chat`'s.
#[derive(Debug, Args)]
pub struct AskerArgs {
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
}

pub async fn run(ctx: &Context, args: AskArgs) -> anyhow::Result<ExitCode> {
    let asking = Asking::open(ctx, args.asker).await?;
    let assistant = asking.governed.for_question().await?;
    let (sink, printer) = token_printer(!args.json);
    let answer = assistant.ask(&args.question, &asking.ask, sink).await?;
    if let Some(p) = printer {
        let _ = p.await;
    }
    asking.store.close().await;
    super::print(args.json, &answer, || answer.text_report())?;
    Ok(match answer.outcome {
        Outcome::Answered => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// What `rdt ask` and `rdt chat` ask with: the install's store (closed at the end),
/// its governed assistant and the asker's context.
pub struct Asking {
    pub store: JourneyStore,
    pub governed: GovernedAssistant,
    pub ask: AskContext,
}

impl Asking {
    /// The install's assistant for the asker in their role about their patient (which
    /// must be in the store), on the registry's active LLM or the flags' model (said on
    /// stderr), in a session of its own.
    pub async fn open(ctx: &Context, args: AskerArgs) -> anyhow::Result<Asking> {
        let AskerArgs { patient, user, role, model } = args;
        let user = user_name(user);
        let patient = match patient {
            Some(p) => Some(PatientId::new(p).context("--patient is empty")?),
            None => None,
        };
        let store = ctx.store().await?;
        if let Some(p) = &patient {
            anyhow::ensure!(store.journey(p).await?.is_some(), "no patient `{p}` in the journey store ({})", ctx.database);
        }
        let log = ctx.audit_log().await?;
        let registry = ModelRegistry::new(log.clone());
        // The cohort (every journey, the index) loads only if a cohort tool runs.
        let tools = ToolContext::for_install_on_demand(store.clone(), &ctx.data_dir, &ctx.index(), &registry).await?;
        let governed = build_governed_assistant(ctx, tools, log, &model).await?;
        // The same door as the web's chat: the registry's active version, or the
        // explicit one unless retired since.
        let version = governed.for_question().await?.model().model_sha256().to_owned();
        match governed.policy() {
            assistant::ModelPolicy::FollowActive => eprintln!("answering with the active llm {version}"),
            assistant::ModelPolicy::Explicit => {
                eprintln!("answering with llm {version}, chosen with --model/--gguf instead of the registry's active one")
            }
        }
        let session = format!("cli-{}-{}", std::process::id(), chrono::Utc::now().format("%Y%m%dT%H%M%S"));
        let ask = AskContext { principal: Principal::new(user, role), patient, session };
        Ok(Asking { store, governed, ask })
    }
}

/// A sink printing the model's tokens on stderr as they come (`show`), and the task
/// doing it (await it once the answer is in, for the newline it ends with).
pub fn token_printer(show: bool) -> (TokenSink, Option<tokio::task::JoinHandle<()>>) {
    if !show {
        return (None, None);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        let mut out = std::io::stderr();
        while let Some(piece) = rx.recv().await {
            let _ = write!(out, "{piece}");
            let _ = out.flush();
        }
        let _ = writeln!(out);
    });
    (Some(tx), Some(printer))
}
