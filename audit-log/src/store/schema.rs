//! Whether the install's PostgreSQL schema is current, shared by every crate that
//! keeps migrations in it (the journey store and this log).
//!
//! On PostgreSQL the schema owner migrates (`rdt db migrate --owner-url`) and the
//! product serves as an application role that may not change the schema. So a crate
//! opening the database runs its migrator only when one of its migrations is missing:
//! a current schema is opened without a single DDL statement, and a single-role
//! install (the owner serves) still migrates itself on first use.

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// PostgreSQL's `undefined_table`: no migration has ever run in this database.
const UNDEFINED_TABLE: &str = "42P01";

/// True when one of `migrator`'s migrations has not been applied successfully.
pub async fn postgres_migrations_pending(pool: &PgPool, migrator: &Migrator) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await {
            Ok(versions) => versions,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNDEFINED_TABLE) => return Ok(true),
            Err(e) => return Err(e),
        };
    Ok(migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .any(|m| !applied.contains(&m.version)))
}
