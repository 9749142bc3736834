//! `rdt serve`: the web pages on this install (see the `web` crate). Thin: it builds a
//! `web::WebConfig` from flags and waits until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

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
}

pub fn config(ctx: &Context, args: &ServeArgs) -> web::WebConfig {
    let mut config = web::WebConfig::new(ctx.data_dir.clone(), ctx.database.clone());
    config.addr = args.addr;
    config.secure_cookies = args.secure_cookies;
    config.session_ttl = Duration::from_secs(args.session_minutes * 60);
    config
}

pub async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    serve(config(ctx, &args)).await
}

/// Binds, prints the URL once the port is open, serves until Ctrl-C or SIGTERM.
pub async fn serve(config: web::WebConfig) -> anyhow::Result<ExitCode> {
    let listener = web::bind(config.addr).await?;
    let state = web::AppState::open(config).await.context("opening the install for the web pages")?;
    let addr = listener.local_addr()?;
    let users = state.users().count().await?;
    println!("Serving on http://{addr}/  (Ctrl-C stops)");
    if users == 0 {
        println!("No users yet: add one with `rdt user add NAME --role clinician|auditor|governance|admin`.");
    }
    web::serve_on(listener, state).await?;
    Ok(ExitCode::SUCCESS)
}
