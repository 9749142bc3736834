//! The login form, logout, and `/` (each role's home). Every attempt is audited;
//! failed ones are throttled per account and client (`auth::throttle`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use askama::Template;
use audit_log::{EntryBody, NewEntry, Principal, Role};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::throttle::{Verdict, LOCK_AFTER};
use crate::auth::{self, CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::error::{render, AppError};
use crate::layout::home_of;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginSubmit {
    name: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// Only same-site relative paths are followed after login (no open redirect): one
/// leading `/` not followed by another, and visible ASCII only. Browsers drop tabs and
/// newlines from a URL, so `/\t/evil.example` would become `//evil.example` (another
/// site); CR/LF would split the `Location` header. Anything else goes to the home page.
fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    (local && next.chars().all(|c| c.is_ascii_graphic() && c != '\\')).then_some(next)
}

fn login_page(state: &AppState, next: String, error: Option<String>, status: axum::http::StatusCode) -> Result<Response, AppError> {
    // Before a session exists the token is a double-submit cookie: the form's field must
    // equal the cookie, which another site can neither read nor set (SameSite=Strict).
    let mut token = [0u8; 32];
    getrandom::fill(&mut token).map_err(AppError::internal)?;
    let csrf = hex::encode(token);
    let cookie = auth::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, state.config().secure_cookies);
    let page = render(&LoginPage { csrf, next, error })?;
    Ok((status, [(header::SET_COOKIE, cookie)], page).into_response())
}

pub async fn login_form(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Result<Response, AppError> {
    let next = q.next.as_deref().and_then(safe_next).unwrap_or("").to_owned();
    login_page(&state, next, None, axum::http::StatusCode::OK)
}

/// Records a login attempt in the audit trail: who (the name as typed, with the
/// account's role when it exists; `system` for a name that is no user), what
/// (`login`, `login_failed`, `login_throttled`, `login_locked`, `login_disabled`, `account_locked`) and
/// from where.
async fn audit_login(
    state: &AppState,
    name: &str,
    role: Option<Role>,
    action: &str,
    client: Option<IpAddr>,
) -> Result<(), AppError> {
    let role = match role {
        Some(r) => Some(r),
        None => state.users().user(name).await?.map(|u| u.role),
    };
    let detail = match (role, client) {
        (None, Some(ip)) => format!("no such user; from {ip}"),
        (None, None) => "no such user".to_owned(),
        (Some(_), Some(ip)) => format!("from {ip}"),
        (Some(_), None) => "client address unknown".to_owned(),
    };
    let principal = Principal::new(name, role.unwrap_or(Role::System));
    let entry = NewEntry::new(principal, EntryBody::Access { action: action.to_owned(), detail: Some(detail) });
    state.audit().append(entry).await?;
    Ok(())
}

/// The client's address when the server knows it (`rdt serve` records it per
/// connection; an in-process test router has none).
pub struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// Counts a failed or refused attempt against the account and client, audits it as
/// `action`, and locks the account at [`LOCK_AFTER`] attempts in the window.
async fn count_failure(state: &AppState, name: &str, client: Option<IpAddr>, action: &str) -> Result<(), AppError> {
    let attempts = state.logins().failed(name, client, Instant::now());
    audit_login(state, name, None, action, client).await?;
    if attempts >= LOCK_AFTER {
        state.users().lock(name).await?;
        audit_login(state, name, None, "account_locked", client).await?;
    }
    Ok(())
}

pub async fn login_submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginSubmit>,
) -> Result<Response, AppError> {
    let cookie = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !auth::tokens_match(&cookie, &form.csrf) {
        return Err(AppError::Csrf);
    }
    let name = form.name.trim();
    let next = safe_next(&form.next).unwrap_or("").to_owned();
    let throttle = state.logins();
    if state.users().is_locked(name).await? {
        audit_login(&state, name, None, "login_locked", client).await?;
        let message = "This account is locked after too many failed logins; an administrator can unlock it.";
        return login_page(&state, next, Some(message.into()), axum::http::StatusCode::FORBIDDEN);
    }
    if let Verdict::Wait(wait) = throttle.verdict(name, client, Instant::now()) {
        count_failure(&state, name, client, "login_throttled").await?;
        let seconds = wait.as_secs().max(1);
        let mut res = login_page(
            &state,
            next,
            Some(format!("Too many failed logins: try again in {seconds} s.")),
            axum::http::StatusCode::TOO_MANY_REQUESTS,
        )?;
        res.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(res);
    }
    let checked = {
        let _permit = throttle.hash_permit().await;
        state.users().check_login(name, &form.password).await?
    };
    let Some(user) = checked else {
        tracing::info!(user = %form.name, "login refused");
        count_failure(&state, name, client, "login_failed").await?;
        return login_page(
            &state,
            next,
            Some("Unknown user or wrong password.".into()),
            axum::http::StatusCode::UNAUTHORIZED,
        );
    };
    throttle.clear(name);
    if user.disabled_at.is_some() {
        // Only after the password checked: a stranger learns nothing of the account.
        audit_login(&state, &user.name, Some(user.role), "login_disabled", client).await?;
        let message = "This account is disabled; an administrator can enable it.";
        return login_page(&state, next, Some(message.into()), axum::http::StatusCode::FORBIDDEN);
    }
    audit_login(&state, &user.name, Some(user.role), "login", client).await?;
    let ttl = state.config().session_ttl;
    let session = state.users().create_session(&user.name, ttl).await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), "login");
    let target = safe_next(&form.next).unwrap_or(home_of(user.role)).to_owned();
    let secure = state.config().secure_cookies;
    let mut res = Redirect::to(&target).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(SESSION_COOKIE, &session.cookie_value, ttl.as_secs(), secure).parse().map_err(AppError::internal)?,
    );
    h.append(header::SET_COOKIE, auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure).parse().map_err(AppError::internal)?);
    Ok(res)
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(value) = auth::cookie(&headers, SESSION_COOKIE) {
        state.users().delete_session(&value).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    let cookie = auth::set_cookie(SESSION_COOKIE, "", 0, state.config().secure_cookies);
    res.headers_mut().append(header::SET_COOKIE, cookie.parse().map_err(AppError::internal)?);
    Ok(res)
}

pub async fn home(user: CurrentUser) -> Redirect {
    Redirect::to(home_of(user.role))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    /// The redirect cases of a login's `next`: only same-site paths are followed.
    #[test]
    fn next_is_a_same_site_path_or_nothing() {
        for ok in ["/patients", "/patients/p-1?tab=labs", "/audit/trace/12", "/%2F/x"] {
            assert_eq!(safe_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "evil.example",
            "/patients\r\nSet-Cookie: x=y",
            "/ space",
            "/päth",
            "",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
