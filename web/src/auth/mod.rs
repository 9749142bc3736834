//! Who is asking: logins (argon2 passwords), server-side sessions behind an HttpOnly,
//! SameSite=Strict cookie, the per-session CSRF token every non-GET request must carry,
//! and the role each group of routes needs.
//!
//! Order of the checks on a protected route (see `app.rs`): [`authenticate`] finds the
//! session (else redirect to the login page, or 401 for htmx and API calls) and checks
//! the CSRF token on every request that is not GET or HEAD (else 403); then
//! [`require_role`] compares the session's role with the route group's (else 403).

pub mod demo;
pub mod password;
pub mod store;
pub mod throttle;
pub mod tokens;

use audit_log::{Principal, Role};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use journey::PatientId;

pub use store::{NewSession, PatientAccess, Session, User, UserStore, LOGIN_ROLES};

use crate::app::AppState;
use crate::error::AppError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rdt_session";
/// The login form's double-submit cookie (there is no session yet to hold a token).
pub const LOGIN_CSRF_COOKIE: &str = "rdt_login_csrf";
/// The header htmx sends the token in (set once on `<body hx-headers=...>`).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain forms send the token in.
pub const CSRF_FIELD: &str = "csrf";
/// Largest form body read for its CSRF field (uploads send the header instead).
const MAX_FORM_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot open the users database {0}")]
    Open(String),
    #[error("users database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("users database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("user `{0}` already exists (pass --replace to change their password and role)")]
    UserExists(String),
    #[error("user name `{0}`: use 1-64 letters, digits, `.`, `_`, `-` or `@`")]
    BadName(String),
    #[error("role `{0}` cannot log in; use clinician, auditor, governance or admin")]
    NotALoginRole(String),
    #[error("the password is too short: at least {min} characters")]
    WeakPassword { min: usize },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("say which patients the user may read: name them (--patient ID, repeatable) or choose all patients (--all-patients)")]
    ScopeNotChosen,
    #[error("choose either named patients or all patients, not both")]
    ScopeConflict,
    #[error("an integration token named `{0}` already exists (disable it and choose another name)")]
    TokenExists(String),
}

/// The logged-in user of a request, put there by [`authenticate`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub name: String,
    pub role: Role,
    pub access: PatientAccess,
    pub csrf: String,
    /// SHA-256 of the session cookie: recorded in audit entries as the session.
    pub session: String,
}

impl CurrentUser {
    pub fn principal(&self) -> Principal {
        Principal::new(self.name.clone(), self.role)
    }

    /// Whether this user may read `patient`: clinicians in their scope only.
    pub fn may_read(&self, patient: &PatientId) -> bool {
        self.role == Role::Clinician && self.access.permits(patient)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentUser>().cloned().ok_or(AppError::Unauthenticated { next: None })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, `Secure` when configured.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Compares tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Finds the session of the request and checks its CSRF token on every non-GET.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, AppError> {
    let session = match cookie(req.headers(), SESSION_COOKIE) {
        Some(value) => state.users().session(&value).await?,
        None => None,
    };
    let Some(session) = session else {
        let page_view = req.method() == Method::GET && !is_htmx(req.headers());
        let next = page_view.then(|| req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default());
        return Err(AppError::Unauthenticated { next });
    };
    let req = if matches!(*req.method(), Method::GET | Method::HEAD) {
        req
    } else {
        check_csrf(req, &session.csrf).await?
    };
    let user = CurrentUser {
        name: session.user.name,
        role: session.user.role,
        access: session.user.access,
        csrf: session.csrf,
        session: session.id_hash,
    };
    let mut req = req;
    req.extensions_mut().insert(user);
    Ok(next.run(req).await)
}

/// The token must come in the `x-csrf-token` header (htmx) or, for a URL-encoded form,
/// in its `csrf` field; the body is read and put back for the handler.
async fn check_csrf(req: Request, expected: &str) -> Result<Request, AppError> {
    if let Some(sent) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if tokens_match(sent, expected) { Ok(req) } else { Err(AppError::Csrf) };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::Csrf);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| AppError::BadRequest(format!("the form is larger than {MAX_FORM_BYTES} bytes")))?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| AppError::Csrf)?;
    let sent = fields.iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.as_str());
    match sent {
        Some(sent) if tokens_match(sent, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(AppError::Csrf),
    }
}

/// Lets the request through only for `role` (the state of this middleware).
pub async fn require_role(State(role): State<Role>, req: Request, next: Next) -> Result<Response, AppError> {
    let user = req.extensions().get::<CurrentUser>().ok_or(AppError::Unauthenticated { next: None })?;
    if user.role != role {
        return Err(AppError::Forbidden { role: user.role.as_str().to_owned() });
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; rdt_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(tokens_match("abcd", "abcd"));
        assert!(!tokens_match("abcd", "abce"));
        assert!(!tokens_match("abcd", "abc"));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie(SESSION_COOKIE, "v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }
}
