//! One error type for every handler: [`AppError`] turns into a page (or a short text
//! for htmx and API calls) with the right status. Bad input gets its message back;
//! internal faults are logged and the user sees a generic sentence.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid session: pages redirect to the login form.
    #[error("log in first")]
    Unauthenticated { next: Option<String> },
    /// Logged in, but the role does not open this page.
    #[error("your role ({role}) does not open this page")]
    Forbidden { role: String },
    /// A form or htmx request without the session's CSRF token.
    #[error("the form's security token is missing or stale; reload the page and try again")]
    Csrf,
    /// A patient outside the user's scope is refused the same way as one that does not exist.
    #[error("no such {what}: {id}")]
    NotFound { what: &'static str, id: String },
    /// Bad input, with what and where.
    #[error("{0}")]
    BadRequest(String),
    /// The request is sound but collides with work in progress (one import at a time).
    #[error("{0}")]
    Conflict(String),
    /// An upload over the install's limit.
    #[error("{0}")]
    TooLarge(String),
    /// Anything else: logged, shown generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                AppError::Internal(e.to_string())
            }
        }
    )*};
}
internal_from!(
    journey::StoreError,
    audit_log::AuditError,
    askama::Error,
    sqlx::Error,
    std::io::Error,
    tokio::task::JoinError,
    crate::auth::AuthError,
    crate::backup::BackupError
);

impl From<audit_log::GovernanceError> for AppError {
    /// Governance refusals (unknown artifact, nothing to roll back to) are the user's to fix.
    fn from(e: audit_log::GovernanceError) -> Self {
        match e {
            audit_log::GovernanceError::Audit(inner) => AppError::Internal(inner.to_string()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Unauthenticated { next } => {
                if let Some(next) = next {
                    let target = format!("/login?next={}", url_escape(next));
                    return Redirect::to(&target).into_response();
                }
                self.to_string()
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "Something went wrong on the server; the error has been logged.".to_owned()
            }
            _ => self.to_string(),
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>{code} · RDT</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
             <h1>{code} {reason}</h1><p class=\"error\" role=\"alert\">{msg}</p>\
             <p><a href=\"/\">Home</a></p></main></body></html>",
            code = status.as_u16(),
            reason = status.canonical_reason().unwrap_or(""),
            msg = html_escape(&message)
        );
        (status, Html(body)).into_response()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Errors of starting the server (the binary reports them).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot open the journey store: {0}")]
    Store(#[from] journey::StoreError),
    #[error("cannot open the audit log: {0}")]
    Audit(#[from] audit_log::AuditError),
    #[error("cannot read the audit log's trusted keys: {0}")]
    Keys(#[from] audit_log::KeyError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("server stopped: {0}")]
    Serve(std::io::Error),
}

/// Render a template into a page, a render failure becoming a 500.
pub fn render<T: askama::Template>(t: &T) -> Result<Html<String>, AppError> {
    Ok(Html(t.render()?))
}
