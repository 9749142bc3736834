//! `rdt serve`: the web pages on this install (see the `web` crate). Thin: it builds a
//! `web::WebConfig` from flags, starts serving, loads the assistant behind the chat
//! panel in the background (a GGUF model takes seconds; the pages work meanwhile) and
//! waits until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use twin_core::index::IndexConfig;

use crate::context::Context;
use crate::llm::ModelArgs;

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
    /// The largest FHIR upload the admin page accepts, in MiB (streamed to disk).
    #[arg(long, env = "RDT_MAX_UPLOAD_MIB", default_value_t = 1024)]
    pub max_upload_mib: u64,
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
    config.session_ttl = Duration::from_secs(args.session_minutes.saturating_mul(60));
    config.max_upload_bytes = args.max_upload_mib.saturating_mul(1 << 20);
    config.index = IndexConfig::from_env(&ctx.data_dir);
    config
}

/// Binds, prints the URL once the port is open, serves until Ctrl-C or SIGTERM.
pub async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(ctx, &args);
    let listener = web::bind(config.addr).await?;
    let state = web::AppState::open(config).await.context("opening the install for the web pages")?;
    let off = "this server was started with --no-assistant";
    let model = if args.no_assistant { Err(off.to_owned()) } else { Ok(args.model.choice()) };
    let (loader, index) = (state.clone(), state.config().index.clone());
    tokio::spawn(async move { loader.load_assistant(&index, model).await });
    let addr = listener.local_addr()?;
    let users = state.users().count().await?;
    println!("Serving on http://{addr}/  (Ctrl-C stops)");
    if users == 0 {
        println!("No users yet: add one with `rdt user add NAME --role clinician|auditor|governance|admin --all-patients` (or --patient ID...).");
    }
    web::serve_on(listener, state).await?;
    Ok(ExitCode::SUCCESS)
}
