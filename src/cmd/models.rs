//! `rdt models list|pin|activate|rollback|retire|check`: the model registry.
//!
//! Every change is an audit entry with who (`--as`/`RDT_USER`, `--role`) and why
//! (`--reason`, required), and is put under a freshly signed tree head at once.
//! Exit codes: 0 done; 1 the registry refused (wrong role, not pinned, nothing to
//! roll back to, ...); 2 the registry could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::{ArtifactKind, Digest, GovernanceError, ModelRegistry, Principal, RegistryOutcome, Role};
use clap::{Args, Subcommand};

use crate::context::Context;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    /// Print the result as JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    #[command(flatten)]
    Registry(RegistryCommand),
    /// Propose a recalibration of the active twin head from the outcomes of the
    /// snapshots on or after a date: pinned, not activated; activating it (`rdt models
    /// activate SHA --kind twin_head`) adopts it.
    RecalibrateHead(RecalibrateArgs),
}

/// The commands on the registry alone.
#[derive(Debug, Subcommand)]
enum RegistryCommand {
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

#[derive(Debug, Args)]
struct RecalibrateArgs {
    /// Read the snapshots on or after this day (their outcomes as the record shows them now).
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: chrono::NaiveDate,
    /// The governance user proposing it.
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: String,
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
}

#[derive(Debug, Args)]
struct ActivateArgs {
    /// The artifact's sha256 (as `rdt models list` shows it).
    sha256: Digest,
    #[arg(long)]
    kind: ArtifactKind,
    #[command(flatten)]
    actor: Actor,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    #[arg(long)]
    kind: ArtifactKind,
    #[command(flatten)]
    actor: Actor,
}

#[derive(Debug, Args)]
struct CheckArgs {
    path: PathBuf,
    #[arg(long)]
    kind: ArtifactKind,
}

pub async fn run(ctx: &Context, args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let command = match args.command {
        ModelsCommand::Registry(command) => command,
        ModelsCommand::RecalibrateHead(a) => return recalibrate(ctx, a, args.json).await,
    };
    let log = ctx.audit_log().await?;
    let result = dispatch(&ModelRegistry::new(log.clone()), command).await;
    // Put a change under a signed head now, not at the next interval.
    let signed = match &result {
        Ok(done) if done.changed() => log.sign_head().await.map(|_| ()),
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
    super::print(args.json, &done.json(), || format!("{}\n", done.text()))?;
    Ok(ExitCode::SUCCESS)
}

/// `rdt models recalibrate-head`: a proposal, pinned and not active.
async fn recalibrate(ctx: &Context, a: RecalibrateArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (store, registry) = (ctx.store().await?, ctx.registry().await?);
    let by = Principal::new(a.user, Role::Governance);
    let proposed = twin_core::heads::propose_recalibration(&store, &ctx.data_dir, &registry, a.since, &by).await;
    store.close().await;
    let proposed = proposed?;
    let text = match proposed.version {
        Some(v) => format!(
            "{}\nproposed twin head {v}: pinned, not active; `rdt models activate {v} --kind twin_head --as USER --reason ...` adopts it",
            proposed.text()
        ),
        None => format!("{}\nnothing to propose", proposed.text()),
    };
    super::print(json, &serde_json::to_value(&proposed)?, || format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs one subcommand: what it did.
async fn dispatch(registry: &ModelRegistry, command: RegistryCommand) -> Result<RegistryOutcome, GovernanceError> {
    use RegistryOutcome as Did;
    Ok(match command {
        RegistryCommand::List(a) => {
            let state = registry.state().await?;
            Did::Listed(state.list().into_iter().filter(|x| a.kind.is_none_or(|k| x.kind == k)).cloned().collect())
        }
        RegistryCommand::Pin(a) => {
            let (artifact, seq) = registry.pin_file(&a.actor.principal(), a.kind, &a.path, a.name, &a.actor.reason).await?;
            Did::Pinned { artifact, seq }
        }
        RegistryCommand::Activate(a) => {
            let seq = registry.activate(&a.actor.principal(), a.kind, &a.sha256, &a.actor.reason).await?;
            Did::Activated { kind: a.kind, sha256: a.sha256, seq }
        }
        RegistryCommand::Rollback(a) => {
            let (restored, seq) = registry.rollback(&a.actor.principal(), a.kind, &a.actor.reason).await?;
            Did::RolledBack { kind: a.kind, restored, seq }
        }
        RegistryCommand::Retire(a) => {
            let seq = registry.retire(&a.actor.principal(), a.kind, &a.sha256, &a.actor.reason).await?;
            Did::Retired { kind: a.kind, sha256: a.sha256, seq }
        }
        RegistryCommand::Check(a) => Did::Checked { artifact: registry.verify_file(a.kind, &a.path).await?, path: a.path },
    })
}
