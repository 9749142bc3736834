//! PostgreSQL with two roles: the schema owner migrates, the application serves.
//!
//! A role that owns the audit trail's tables can drop their append-only triggers
//! and delete entries. So a hospital install runs `rdt db migrate --owner-url`
//! once per upgrade as the owner, which migrates every crate's tables and grants
//! the application role (the one in `RDT_DATABASE_URL`) what serving needs and no
//! more: read and write the journey tables, read and append the audit trail, read
//! the migration history (to see that the schema is current). The application role
//! then opens the database without a single DDL statement
//! ([`audit_log::postgres_migrations_pending`]).

use serde::Serialize;
use sqlx::{Connection as _, PgConnection};

use super::{redact, Database, JourneyStore, StoreError};

/// The audit trail's tables: read and append only ([`audit_log::postgres_append_only_grants`]).
const AUDIT_TABLES: [&str; 2] = ["audit_entries", "audit_tree_heads"];
/// sqlx's migration history: the application role reads it, never writes it.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What `rdt db migrate` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSetup {
    /// The database, without its password.
    pub database: String,
    /// The role that owns the schema (the owner URL's user).
    pub owner: String,
    /// The application role granted, when one was named.
    pub app_role: Option<String>,
    /// The statements run to grant it, in order.
    pub grants: Vec<String>,
}

impl RoleSetup {
    pub fn text(&self) -> String {
        let mut out = format!("migrated {} as {}\n", self.database, self.owner);
        match &self.app_role {
            Some(role) => {
                out.push_str(&format!(
                    "granted {role}: read and write the journey tables, read and append the audit trail \
                     (no UPDATE, DELETE, TRUNCATE, and as a non-owner no DROP or ALTER)\n"
                ));
                for g in &self.grants {
                    out.push_str(&format!("  {g};\n"));
                }
            }
            None => out.push_str("no --app-role: grant one before serving with a role that is not the owner\n"),
        }
        out
    }
}

/// Errors particular to setting up the roles.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("rdt db migrate is for PostgreSQL (an SQLite store migrates itself); got {0}")]
    NotPostgres(String),
    #[error("`{0}` is not a PostgreSQL role name RDT accepts (letters, digits and _, starting with a letter or _, at most 63)")]
    BadRoleName(String),
    #[error("role `{role}` does not exist in {database}: create it first, e.g. CREATE ROLE {role} LOGIN PASSWORD '...'")]
    NoSuchRole { role: String, database: String },
    #[error("role `{0}` is the owner URL's own user: the application role must be another role, or it could drop the audit trail's triggers")]
    AppRoleIsOwner(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] audit_log::AuditError),
    #[error("granting privileges in {database}: {source}")]
    Grant { database: String, source: sqlx::Error },
}

fn role_name_ok(role: &str) -> bool {
    let mut chars = role.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && role.len() <= 63
}

/// Migrates the journey store and the audit log as the schema owner at `owner_url`,
/// then, when `app_role` is given, grants that role exactly what serving needs.
/// Idempotent: run it again after every upgrade.
pub async fn migrate_as_owner(owner_url: &str, app_role: Option<&str>) -> Result<RoleSetup, RoleError> {
    let database = match Database::resolve(Some(owner_url), std::path::Path::new(".")) {
        Ok(db @ Database::Postgres(_)) => db,
        _ => return Err(RoleError::NotPostgres(redact(owner_url))),
    };
    if let Some(role) = app_role {
        if !role_name_ok(role) {
            return Err(RoleError::BadRoleName(role.to_owned()));
        }
    }
    let shown = redact(owner_url);
    JourneyStore::open(&database).await?.close().await;
    audit_log::AuditLog::open(owner_url).await?.close().await;

    let grant_err = |source| RoleError::Grant { database: shown.clone(), source };
    let mut conn = PgConnection::connect(owner_url).await.map_err(grant_err)?;
    let owner: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut conn).await.map_err(grant_err)?;
    let Some(role) = app_role else {
        conn.close().await.ok();
        return Ok(RoleSetup { database: shown, owner, app_role: None, grants: Vec::new() });
    };
    if role == owner {
        return Err(RoleError::AppRoleIsOwner(role.to_owned()));
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(&mut conn)
        .await
        .map_err(grant_err)?;
    if !exists {
        return Err(RoleError::NoSuchRole { role: role.to_owned(), database: shown });
    }
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut conn).await.map_err(grant_err)?;
    // Every table the owner keeps in the schema, so a table a later migration adds
    // is granted by the next run without a list to keep in step.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 AND tableowner = current_user ORDER BY 1")
            .bind(&schema)
            .fetch_all(&mut conn)
            .await
            .map_err(grant_err)?;
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let (q_role, q_schema) = (quoted(role), quoted(&schema));
    let mut grants = vec![format!("GRANT USAGE ON SCHEMA {q_schema} TO {q_role}")];
    for table in &tables {
        let t = format!("{q_schema}.{}", quoted(table));
        if table == MIGRATIONS_TABLE {
            grants.push(format!("REVOKE ALL ON {t} FROM {q_role}"));
            grants.push(format!("GRANT SELECT ON {t} TO {q_role}"));
        } else if !AUDIT_TABLES.contains(&table.as_str()) {
            grants.push(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {q_role}"));
        }
    }
    grants.push(format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {q_schema} TO {q_role}"));
    grants.extend(audit_log::postgres_append_only_grants(role));
    let mut tx = conn.begin().await.map_err(grant_err)?;
    for statement in &grants {
        sqlx::query(statement).execute(&mut *tx).await.map_err(grant_err)?;
    }
    tx.commit().await.map_err(grant_err)?;
    conn.close().await.ok();
    Ok(RoleSetup { database: shown, owner, app_role: Some(role.to_owned()), grants })
}

/// Whether the role a store connects as owns the audit trail's tables (and so could
/// drop their triggers): `None` on SQLite or before the trail exists.
pub async fn owns_audit_trail(store: &JourneyStore) -> Result<Option<bool>, StoreError> {
    store.owns_table(AUDIT_TABLES[0]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        for ok in ["rdt_app", "_x", "App1"] {
            assert!(role_name_ok(ok), "{ok}");
        }
        for bad in ["", "1app", "app; DROP TABLE x", "a\"b", &"a".repeat(64)] {
            assert!(!role_name_ok(bad), "{bad}");
        }
    }
}
