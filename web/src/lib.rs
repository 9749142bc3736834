//! RDT web: server-rendered pages (axum + askama + htmx, no SPA build) for the four
//! roles: clinicians (patients, journeys with plots, consult summaries), auditors (the
//! trail, traces with verified inclusion proofs), governance (the model registry) and
//! admins (users, FHIR import, backups), plus `/metrics` and `/healthz`.
//!
//! Map:
//! - `app.rs`: [`WebConfig`], [`AppState`], [`app`] (the router; every route with the
//!   role it needs) and the security headers.
//! - `auth/`: argon2 passwords, users and server-side sessions (`web.sqlite`), the
//!   `authenticate` (session + CSRF) and `require_role` middleware, [`CurrentUser`].
//! - One file per page group: `login.rs`, `patients.rs`, `journey.rs`, `chat.rs` (the
//!   chat panel: a question, then its answer streamed over SSE), `consult.rs`,
//!   `audit.rs`, `governance.rs`, `admin.rs`, `metrics.rs`; `plot.rs` draws the
//!   journey SVG, `options_plot.rs` the consult's treatment options; `backup.rs` is shared with `rdt backup`; `error.rs` holds [`AppError`].
//! - Templates in `templates/` (askama, compiled in); `static/` (CSS, htmx from its npm
//!   package) served from the binary.
//!
//! Architecture invariants: no route but `/login`, `/healthz` and `/static/*` answers
//! without a session; every non-GET request carries the session's CSRF token; a
//! clinician reads only the patients in their scope, and an out-of-scope patient looks
//! exactly like a missing one; every journey read, tool call and registry change is an
//! audit entry.

mod admin;
mod app;
mod audit;
pub mod auth;
pub mod chat;
pub mod backup;
mod consult;
mod error;
pub mod fhir;
mod governance;
mod href;
mod journey;
mod layout;
mod login;
mod metrics;
pub mod options_plot;
mod patients;
pub mod plot;
mod statics;
pub mod twins;

pub use app::{app, AppState, WebConfig};
pub use auth::{CurrentUser, UserStore};
pub use chat::AssistantSlot;
pub use error::{AppError, WebError};

/// Serves the app on `config.addr` until Ctrl-C (or SIGTERM), then closes the stores.
pub async fn serve(config: WebConfig) -> Result<(), WebError> {
    let listener = bind(config.addr).await?;
    let state = AppState::open(config).await?;
    serve_on(listener, state).await
}

/// Binds first, so a caller can print the URL only once the port is really open.
pub async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, WebError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })
}

/// Serves on a listener already bound (tests bind port 0 and read the address).
pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState) -> Result<(), WebError> {
    tracing::info!(addr = ?listener.local_addr().ok(), "serving");
    // A quiet log's tail is signed (and witnessed) within a minute, not only on append.
    let log = state.audit().clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = log.sign_if_behind().await {
                tracing::warn!(error = %e, "audit log: the periodic tree head was not signed");
            }
        }
    });
    // The client's address is what login throttling counts per client.
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await.map_err(WebError::Serve)?;
    state.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
