//! `rdt tool NAME` and `rdt tools list`: run one typed tool as a given user and role,
//! or list the tools with their JSON schemas. Through the one audited door
//! (`tools::invoke`); the session scope is the `--patient` ids given here, and every
//! call is appended to the audit log (a refused one as a refusal).

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use audit_log::{Principal, Role};
use clap::{Args, Subcommand};
use serde_json::Value;
use tools::{invoke, specs, Caller, InvokeError, Scope, ToolContext};

use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct ToolArgs {
    /// The tool's name (`rdt tools list` shows them).
    name: String,
    /// A patient in this session's scope (repeat for several). Without any, the scope
    /// is empty, or every patient for `--role system`.
    #[arg(long = "patient", value_name = "ID")]
    patients: Vec<String>,
    /// Who runs the tool, for the role check and the audit trail (default: the login name).
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    /// The caller's role.
    #[arg(long, default_value = "clinician")]
    role: Role,
    /// The tool's arguments as JSON; a lone `--patient` fills a missing "patient".
    #[arg(long = "json", value_name = "ARGUMENTS", default_value = "{}")]
    arguments: String,
}

#[derive(Debug, Args)]
pub struct ToolsArgs {
    #[command(subcommand)]
    command: ToolsCommand,
}

#[derive(Debug, Subcommand)]
enum ToolsCommand {
    /// List the tools: name, role, bounds, description (with --json: also examples and schemas).
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn list(args: ToolsArgs) -> anyhow::Result<ExitCode> {
    let ToolsCommand::List { json } = args.command;
    let specs = specs();
    super::print(json, &specs, || specs.iter().map(|s| format!("{}\n", s.list_line())).collect())?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run(ctx: &Context, args: ToolArgs) -> anyhow::Result<ExitCode> {
    let principal = Principal::new(user_name(args.user), args.role);
    let Some(scope) = Scope::of_ids(&args.patients, args.role) else { bail!("a --patient id is empty") };
    let mut arguments: Value = serde_json::from_str(&args.arguments).context("--json is not valid JSON")?;
    if let (Value::Object(map), [only]) = (&mut arguments, args.patients.as_slice()) {
        map.entry("patient").or_insert_with(|| Value::String(only.clone()));
    }
    let store = ctx.store().await?;
    let log = ctx.audit_log().await?;
    // The cohort tools read the twin, the index and the whole population: loaded
    // only when one of them runs.
    let registry = audit_log::ModelRegistry::new(log.clone());
    let tools = ToolContext::for_install_on_demand(store.clone(), &ctx.data_dir, &ctx.index(), &registry).await?;
    let caller = Caller { principal: &principal, scope: &scope, session: None };
    let outcome = invoke(&tools, &log, caller, &args.name, &arguments).await;
    store.close().await;
    match outcome {
        Ok(done) => println!("{}", serde_json::to_string_pretty(&done.result.result)?),
        Err(InvokeError::Tool { error, .. }) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}
