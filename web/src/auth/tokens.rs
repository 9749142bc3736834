//! Integration tokens: how a hospital system authenticates to `POST /fhir`.
//!
//! A token is `rdt_it_` and 64 hex digits (256 random bits), shown once when made
//! (`rdt user token add`); the users file keeps its SHA-256 only. A request presents
//! it as `Authorization: Bearer ...` and acts as [`Role::Integration`], which may
//! write records and nothing else: no page, no tool, no session, no cookie (so no
//! CSRF surface). Each token writes as one import source ([`SourceName`]).

use audit_log::{Principal, Role};
use chrono::Utc;
use journey::SourceName;
use sqlx::Row;

use super::store::{check_name, now_text, random_hex, sha256_hex};
use super::{AuthError, UserStore};

/// The prefix every token starts with (so a leaked one is recognisable in a scan).
pub const TOKEN_PREFIX: &str = "rdt_it_";

/// A token's holder as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationToken {
    /// Who the audit trail names.
    pub name: String,
    /// Whose ids the posted resources carry.
    pub source: SourceName,
    pub created_at: String,
    pub disabled: bool,
}

impl IntegrationToken {
    pub fn principal(&self) -> Principal {
        Principal::new(self.name.clone(), Role::Integration)
    }

    /// One line for `rdt user token list`.
    pub fn line(&self) -> String {
        let state = if self.disabled { "disabled" } else { "active" };
        format!("{:<24} source {:<16} {state:<8} made {}", self.name, self.source.as_str(), self.created_at)
    }
}

impl UserStore {
    /// Makes a token for the system `name` writing as `source`; returns the token,
    /// which is not stored and cannot be shown again. A name already in use is refused.
    pub async fn add_token(&self, name: &str, source: &SourceName) -> Result<String, AuthError> {
        check_name(name)?;
        let token = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        let inserted = sqlx::query(
            "INSERT INTO integration_tokens (name, sha256, source, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(name)
        .bind(sha256_hex(&token))
        .bind(source.as_str())
        .bind(now_text(Utc::now()))
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(AuthError::TokenExists(name.to_owned()));
        }
        Ok(token)
    }

    /// The active token a bearer value is, if any.
    pub async fn token(&self, bearer: &str) -> Result<Option<IntegrationToken>, AuthError> {
        if !bearer.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT name, source, created_at, disabled_at FROM integration_tokens \
             WHERE sha256 = ? AND disabled_at IS NULL",
        )
        .bind(sha256_hex(bearer))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| token_from_row(&r)).transpose()
    }

    /// Every token, by name.
    pub async fn tokens(&self) -> Result<Vec<IntegrationToken>, AuthError> {
        let rows =
            sqlx::query("SELECT name, source, created_at, disabled_at FROM integration_tokens ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Disables a token (its next request is refused); false when there is none.
    pub async fn disable_token(&self, name: &str) -> Result<bool, AuthError> {
        let done = sqlx::query("UPDATE integration_tokens SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL")
            .bind(now_text(Utc::now()))
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn token_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<IntegrationToken, AuthError> {
    let source: String = row.get("source");
    Ok(IntegrationToken {
        name: row.get("name"),
        source: source.parse().map_err(|e: journey::event::InvalidSourceName| AuthError::Corrupt(e.to_string()))?,
        created_at: row.get("created_at"),
        disabled: row.get::<Option<String>, _>("disabled_at").is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token is shown once and found by its bearer value; the store holds only its
    /// hash; a second token of the same name is refused; a disabled token, a wrong
    /// value or another scheme's value finds nothing.
    #[tokio::test]
    async fn tokens_are_found_by_value_and_stored_as_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let users = UserStore::open(&dir.path().join("web.sqlite")).await.unwrap();
        let source: SourceName = "lab-feed".parse().unwrap();
        let token = users.add_token("lab", &source).await.unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64, "{token}");
        let found = users.token(&token).await.unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.source.as_str()), ("lab", "lab-feed"));
        assert_eq!(found.principal().role, Role::Integration);
        let stored: String = sqlx::query_scalar("SELECT sha256 FROM integration_tokens").fetch_one(users.pool()).await.unwrap();
        assert_eq!(stored, sha256_hex(&token));
        assert!(matches!(users.add_token("lab", &source).await, Err(AuthError::TokenExists(_))));
        assert_eq!(users.token(&format!("{TOKEN_PREFIX}{}", "0".repeat(64))).await.unwrap(), None);
        assert_eq!(users.token("Basic abc").await.unwrap(), None);
        assert!(users.disable_token("lab").await.unwrap());
        assert_eq!(users.token(&token).await.unwrap(), None);
        assert!(users.tokens().await.unwrap()[0].disabled);
    }
}
