//! `rdt user add NAME --role ROLE (--patient ID... | --all-patients)`, `rdt user list`,
//! `unlock`, `disable` and `enable`: the people
//! who may log in to the web pages. The password comes from `RDT_PASSWORD` or one line
//! on standard input (never a flag: flags show in `ps` and shell history).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::Role;
use clap::{Args, Subcommand};
use journey::PatientId;
use web::auth::{PatientAccess, UserStore};

use crate::context::Context;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user (password from RDT_PASSWORD or one line on stdin).
    Add(AddArgs),
    /// List users with their roles and patient scope.
    List(ListArgs),
    /// Lift the lock left by too many failed logins (audited; a running server's
    /// backoff for the account ends within 15 minutes, or at once from the admin page).
    Unlock {
        name: String,
        /// Who unlocks, for the audit trail (default: the login name).
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
    },
    /// Disable a user: their sessions end and their password no longer logs in (audited).
    Disable {
        name: String,
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
    },
    /// Enable a disabled user again (audited).
    Enable {
        name: String,
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
    },
    /// Integration tokens: how a hospital system authenticates to `POST /fhir`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token for a system (printed once; only its hash is kept; audited). The
    /// system writes records as one import source, and nothing else.
    Add {
        /// The system's name, as the audit trail will show it.
        name: String,
        /// The import source whose ids the system's resources carry (as `rdt import --source`).
        #[arg(long, value_name = "NAME")]
        source: journey::SourceName,
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
    },
    /// List the tokens (names, sources, state; never the tokens).
    List,
    /// Disable a token: its next request is refused (audited).
    Disable {
        name: String,
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
    },
}

#[derive(Debug, Args)]
struct AddArgs {
    name: String,
    /// clinician, auditor, governance or admin.
    #[arg(long)]
    role: Role,
    /// A patient the user may read (repeat). Scope is explicit: name patients or
    /// pass --all-patients.
    #[arg(long = "patient", value_name = "ID", conflicts_with = "all_patients")]
    patients: Vec<String>,
    /// The user may read every patient.
    #[arg(long)]
    all_patients: bool,
    /// Replace an existing user's password, role and scope (ends their sessions).
    #[arg(long)]
    replace: bool,
    /// Who adds the user, for the audit trail (default: the login name).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    by: Option<String>,
    #[arg(long, env = "RDT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: UserArgs) -> anyhow::Result<ExitCode> {
    let users = UserStore::open(&UserStore::path_in(&ctx.data_dir)).await?;
    let code = match args.command {
        UserCommand::Add(a) => add(ctx, &users, a).await?,
        UserCommand::List(a) => list(&users, a).await?,
        UserCommand::Unlock { name, user } => {
            if !users.unlock(&name).await? {
                anyhow::bail!("no user `{name}`");
            }
            audit_admin_action(ctx, user, "user_unlocked", &name).await?;
            println!("Unlocked {name}.");
            ExitCode::SUCCESS
        }
        UserCommand::Disable { name, user } => {
            if !users.set_disabled(&name, true).await? {
                anyhow::bail!("no user `{name}`");
            }
            audit_admin_action(ctx, user, "user_disabled", &name).await?;
            println!("Disabled {name}: their sessions ended and their password no longer logs in.");
            ExitCode::SUCCESS
        }
        UserCommand::Token { command: TokenCommand::Add { name, source, user } } => {
            let token = users.add_token(&name, &source).await?;
            audit_admin_action(ctx, user, "integration_token_added", &format!("{name} (source {source})")).await?;
            eprintln!("Integration token for {name}, writing as source `{source}` (shown once; keep it secret):");
            println!("{token}");
            ExitCode::SUCCESS
        }
        UserCommand::Token { command: TokenCommand::List } => {
            for t in users.tokens().await? {
                println!("{}", t.line());
            }
            ExitCode::SUCCESS
        }
        UserCommand::Token { command: TokenCommand::Disable { name, user } } => {
            if !users.disable_token(&name).await? {
                anyhow::bail!("no active integration token `{name}`");
            }
            audit_admin_action(ctx, user, "integration_token_disabled", &name).await?;
            println!("Disabled the integration token {name}: its next request is refused.");
            ExitCode::SUCCESS
        }
        UserCommand::Enable { name, user } => {
            if !users.set_disabled(&name, false).await? {
                anyhow::bail!("no user `{name}`");
            }
            audit_admin_action(ctx, user, "user_enabled", &name).await?;
            println!("Enabled {name}.");
            ExitCode::SUCCESS
        }
    };
    users.close().await;
    Ok(code)
}

/// Appends an admin's access decision about user `name` to the trail.
async fn audit_admin_action(ctx: &Context, by: Option<String>, action: &str, name: &str) -> anyhow::Result<()> {
    let log = ctx.audit_log().await?;
    let by = audit_log::Principal::new(crate::context::user_name(by), audit_log::Role::Admin);
    let detail = Some(name.to_owned());
    log.append(audit_log::NewEntry::new(by, audit_log::EntryBody::Access { action: action.into(), detail })).await?;
    log.close().await;
    Ok(())
}

/// A user's role and scope as the trail records them.
fn described(role: Role, access: &PatientAccess) -> String {
    format!("{} ({})", role.as_str(), access.describe())
}

async fn add(ctx: &Context, users: &UserStore, args: AddArgs) -> anyhow::Result<ExitCode> {
    let password = match args.password {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let mut patients = Vec::new();
    for p in &args.patients {
        patients.push(PatientId::new(p.as_str()).with_context(|| format!("--patient `{p}` is not a patient id"))?);
    }
    let access = PatientAccess::chosen(patients, args.all_patients)?;
    let before = users.user(&args.name).await?;
    users.add(&args.name, args.role, &password, &access, args.replace).await?;
    // Who may read what is an access decision: recorded, with the scope, and for a
    // replacement what it was before.
    let now = described(args.role, &access);
    let (action, detail) = match before {
        Some(old) => ("user_replaced", format!("{}: {} -> {now}", args.name, described(old.role, &old.access))),
        None => ("user_added", format!("{} as {now}", args.name)),
    };
    let log = ctx.audit_log().await?;
    let by = audit_log::Principal::new(crate::context::user_name(args.by), audit_log::Role::Admin);
    log.append(audit_log::NewEntry::new(by, audit_log::EntryBody::Access { action: action.into(), detail: Some(detail) }))
        .await?;
    log.close().await;
    println!("Added {} as {}.", args.name, args.role.as_str());
    Ok(ExitCode::SUCCESS)
}

async fn list(users: &UserStore, args: ListArgs) -> anyhow::Result<ExitCode> {
    let all = users.list().await?;
    let json: Vec<_> = all.iter().map(|u| u.json()).collect();
    super::print(args.json, &json, || all.iter().map(|u| format!("{}\n", u.line())).collect())?;
    Ok(ExitCode::SUCCESS)
}
