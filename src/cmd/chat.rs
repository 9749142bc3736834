//! `rdt chat [--patient ID] --as USER`: a conversation with the assistant in the
//! terminal. Reads one question a line from stdin (a terminal or a pipe), answers each
//! as `rdt ask` does — the model's tokens on stderr as they come, then the answer, the
//! tools it called and its audit entry on stdout (`--json`: one JSON answer a line) —
//! and ends at the end of input or on a line `exit` (or `quit`).
//!
//! A follow-up ("and the ESR?", "over the last 5 visits?") is read against the turn
//! before it (`assistant::Conversation`); every turn is about the `--patient` given
//! here and no other, and each question's audit entry links the one before. The model
//! is the registry's active LLM, checked before every question, unless
//! `--model`/`--gguf` names one.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use assistant::Conversation;
use clap::Args;

use super::ask::{token_printer, AskerArgs, Asking};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    asker: AskerArgs,
    /// Print each answer (tools, results, versions, audit entries) as one line of JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let asking = Asking::open(ctx, args.asker).await?;
    let terminal = std::io::stdin().is_terminal();
    if terminal {
        eprintln!("Ask about the patient; follow-ups read against the question before. `exit` or Ctrl-D ends.");
    }
    let mut conversation = Conversation::new();
    while let Some(question) = next_question(terminal).await? {
        let assistant = asking.governed.for_question().await?;
        let (sink, printer) = token_printer(!args.json);
        let answer = conversation.ask(&assistant, &question, &asking.ask, sink).await?;
        if let Some(p) = printer {
            let _ = p.await;
        }
        if args.json {
            println!("{}", serde_json::to_string(&answer)?);
        } else {
            println!("{}", answer.text_report());
        }
        std::io::stdout().flush()?;
    }
    asking.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The next question from stdin: `None` at the end of input or on `exit`/`quit`; blank
/// lines are skipped. On a terminal, a prompt on stderr first.
async fn next_question(terminal: bool) -> anyhow::Result<Option<String>> {
    loop {
        if terminal {
            eprint!("> ");
            std::io::stderr().flush()?;
        }
        // Reading stdin blocks; it runs beside the runtime's workers.
        let (read, line) = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|n| (n, line))
        })
        .await??;
        let question = line.trim();
        match question {
            _ if read == 0 => return Ok(None),
            "exit" | "quit" => return Ok(None),
            "" => continue,
            q => return Ok(Some(q.to_owned())),
        }
    }
}
