//! `rdt serve`: the web pages on this install (see the `web` crate). Thin: it builds a
//! `web::WebConfig` from flags, starts serving, loads the assistant behind the chat
//! panel in the background (a GGUF model takes seconds; the pages work meanwhile) and
//! waits until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use web::AssistantSlot;

use twin_core::index::IndexConfig;

use crate::llm::{build_assistant, ModelArgs};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: put a TLS proxy in front to serve others.
    #[arg(long, env = "RDT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Mark session cookies `Secure` (set when the pages are reached over HTTPS).
    #[arg(long, env = "RDT_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// How long a login lasts, in minutes.
    #[arg(long, env = "RDT_SESSION_MINUTES", default_value_t = 480)]
    pub session_minutes: u64,
    /// Serve without the chat panel's assistant (no model is loaded).
    #[arg(long)]
    pub no_assistant: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn config(ctx: &Context, args: &ServeArgs) -> web::WebConfig {
    let mut config = web::WebConfig::new(ctx.data_dir.clone(), ctx.database.clone());
    config.addr = args.addr;
    config.secure_cookies = args.secure_cookies;
    config.session_ttl = Duration::from_secs(args.session_minutes * 60);
    config
}

/// Binds, prints the URL once the port is open, serves until Ctrl-C or SIGTERM.
pub async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(ctx, &args);
    let listener = web::bind(config.addr).await?;
    let state = web::AppState::open(config).await.context("opening the install for the web pages")?;
    tokio::spawn(load_assistant(ctx.clone(), state.clone(), Loading { no_assistant: args.no_assistant, model: args.model }));
    let addr = listener.local_addr()?;
    let users = state.users().count().await?;
    println!("Serving on http://{addr}/  (Ctrl-C stops)");
    if users == 0 {
        println!("No users yet: add one with `rdt user add NAME --role clinician|auditor|governance|admin`.");
    }
    web::serve_on(listener, state).await?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the tools' state model and cohort (twin, index) and then the engine and
/// MiniLM (as `rdt ask` does) over the server's own store and audit log, then opens
/// the chat panel; a failure is shown on the panel.
async fn load_assistant(ctx: Context, state: web::AppState, model: Loading) {
    let registry = state.registry();
    let index = IndexConfig::from_env(&ctx.data_dir);
    match tools::ToolContext::for_install(state.store().clone(), &ctx.data_dir, &index, &registry).await {
        Ok(tools) => state.set_tools(tools),
        Err(e) => eprintln!("The pages' cohort and forecast tools are off: {e:#}"),
    }
    if model.no_assistant {
        state.set_assistant(AssistantSlot::Unavailable("this server was started with --no-assistant".into()));
        return;
    }
    let slot = match build_assistant(&ctx, state.tools(), state.audit().clone(), &model.model).await {
        Ok(assistant) => {
            tracing::info!("assistant ready");
            AssistantSlot::Ready(Arc::new(assistant))
        }
        Err(e) => {
            eprintln!("The chat panel is off: {e:#}");
            AssistantSlot::Unavailable(format!("{e:#}"))
        }
    };
    state.set_assistant(slot);
}

/// What the background loader is asked for.
struct Loading {
    no_assistant: bool,
    model: ModelArgs,
}
