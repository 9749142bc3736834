//! `rdt models list|pin|activate|rollback|retire|check`: the model registry.
//!
//! Every change is an audit entry with who (`--as`/`RDT_USER`, `--role`) and why
//! (`--reason`, required), and is put under a freshly signed tree head at once.
//! Exit codes: 0 done; 1 the registry refused (wrong role, not pinned, nothing to
//! roll back to, ...); 2 the registry could not be read.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::{Artifact, ArtifactKind, Digest, GovernanceError, ModelRegistry, Principal, Role};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// List the registry's artifacts and which is active per kind.
    List(ListArgs),
    /// Hash a file and pin it: from now on it may be loaded.
    Pin(PinArgs),
    /// Make a pinned artifact the active one of its kind.
    Activate(ActivateArgs),
    /// Re-activate the artifact that was active before the current one.
    Rollback(RollbackArgs),
    /// Retire a pinned, inactive artifact: it can no longer be loaded.
    Retire(ActivateArgs),
    /// Check that a file is pinned (what a loader does before loading it).
    Check(CheckArgs),
}

/// Who acts, and why.
#[derive(Debug, Args)]
struct Actor {
    /// The user making the change.
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: String,

    /// Their role; only `governance` may change the registry.
    #[arg(long, default_value = "governance")]
    role: Role,

    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
}

impl Actor {
    fn principal(&self) -> Principal {
        Principal::new(self.user.clone(), self.role)
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this kind (llm, encoder, prompt).
    #[arg(long)]
    kind: Option<ArtifactKind>,

    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PinArgs {
    /// The artifact file (GGUF, safetensors, prompt template).
    path: PathBuf,

    /// llm, encoder or prompt.
    #[arg(long)]
    kind: ArtifactKind,

    /// A name for people (default: the file name).
    #[arg(long)]
    name: Option<String>,

    #[command(flatten)]
    actor: Actor,

    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ActivateArgs {
    /// The artifact's sha256 (as `rdt models list` shows it).
    sha256: Digest,

    #[arg(long)]
    kind: ArtifactKind,

    #[command(flatten)]
    actor: Actor,

    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    #[arg(long)]
    kind: ArtifactKind,

    #[command(flatten)]
    actor: Actor,

    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    path: PathBuf,

    #[arg(long)]
    kind: ArtifactKind,

    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let log = ctx.audit_log().await?;
    let result = dispatch(&ModelRegistry::new(log.clone()), args.command).await;
    // Put a change under a signed head now, not at the next interval.
    let signed = match &result {
        Ok(done) if done.changed => log.sign_head().await.map(|_| ()),
        _ => Ok(()),
    };
    log.close().await;
    signed?;
    let done = match result {
        Ok(done) => done,
        Err(GovernanceError::Audit(e)) => return Err(e.into()),
        Err(refused) => {
            eprintln!("error: {refused}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    if done.json {
        serde_json::to_writer_pretty(&mut out, &done.value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", done.text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a subcommand did: its result as JSON and as text, and whether it changed the registry.
struct Done {
    json: bool,
    value: serde_json::Value,
    text: String,
    changed: bool,
}

async fn dispatch(registry: &ModelRegistry, command: ModelsCommand) -> Result<Done, GovernanceError> {
    Ok(match command {
        ModelsCommand::List(args) => {
            let state = registry.state().await?;
            let list: Vec<&Artifact> =
                state.list().into_iter().filter(|a| args.kind.is_none_or(|k| a.kind == k)).collect();
            let text = if list.is_empty() {
                "no model artifacts pinned".to_owned()
            } else {
                list.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            };
            Done { json: args.json, value: json!(list), text, changed: false }
        }
        ModelsCommand::Pin(args) => {
            let by = args.actor.principal();
            let (artifact, seq) =
                registry.pin_file(&by, args.kind, &args.path, args.name, &args.actor.reason).await?;
            let text = format!("pinned {} {} ({}) as audit entry #{}", artifact.kind, artifact.sha256, artifact.name, seq.0);
            Done { json: args.json, value: json!({"pinned": artifact, "audit_seq": seq}), text, changed: true }
        }
        ModelsCommand::Activate(args) => {
            let by = args.actor.principal();
            let seq = registry.activate(&by, args.kind, &args.sha256, &args.actor.reason).await?;
            let text = format!("activated {} {} (audit entry #{})", args.kind, args.sha256, seq.0);
            let value = json!({"activated": args.sha256, "kind": args.kind, "audit_seq": seq});
            Done { json: args.json, value, text, changed: true }
        }
        ModelsCommand::Rollback(args) => {
            let by = args.actor.principal();
            let (restored, seq) = registry.rollback(&by, args.kind, &args.actor.reason).await?;
            let text =
                format!("rolled back {}: {} ({}) is active again (audit entry #{})", args.kind, restored.sha256, restored.name, seq.0);
            Done { json: args.json, value: json!({"active": restored, "audit_seq": seq}), text, changed: true }
        }
        ModelsCommand::Retire(args) => {
            let by = args.actor.principal();
            let seq = registry.retire(&by, args.kind, &args.sha256, &args.actor.reason).await?;
            let text = format!("retired {} {} (audit entry #{})", args.kind, args.sha256, seq.0);
            let value = json!({"retired": args.sha256, "kind": args.kind, "audit_seq": seq});
            Done { json: args.json, value, text, changed: true }
        }
        ModelsCommand::Check(args) => {
            let artifact = registry.verify_file(args.kind, &args.path).await?;
            let text = format!("ok: {} is pinned ({} {}, {})", args.path.display(), artifact.kind, artifact.sha256, artifact.status.as_str());
            Done { json: args.json, value: json!(artifact), text, changed: false }
        }
    })
}
