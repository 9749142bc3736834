//! The PostgreSQL backend.
//!
//! Appends serialise on a transaction-scoped advisory lock (needs no privilege, so
//! an append-only application role can take it), then insert a batch with one
//! `UNNEST` statement.

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use super::{parse_head_row, redact, EntryRow, HeadRow, StoredEntry};
use crate::digest::Digest;
use crate::entry::Seq;
use crate::error::AuditError;
use crate::signing::SignedTreeHead;

/// The advisory lock key of the log's writers: "RDTAUDIT" in ASCII.
const APPEND_LOCK: i64 = 0x5244_5441_5544_4954;

pub(super) async fn open(url: &str, migrate: bool) -> Result<PgPool, AuditError> {
    let database = redact(url);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .map_err(|source| AuditError::Open { database: database.clone(), source })?;
    if migrate {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        // The journey store keeps its own migrations (versions below 1000) in the same table.
        migrator.set_ignore_missing(true);
        // A current schema is opened without DDL, so an application role that may
        // only read and append (the owner migrated) opens it too.
        if super::postgres_migrations_pending(&pool, &migrator).await? {
            migrator.run(&pool).await.map_err(|source| AuditError::Migrate { database, source })?;
        }
    }
    Ok(pool)
}

pub(super) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, AuditError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
    Ok(tx)
}

pub(super) async fn tail(conn: &mut PgConnection) -> Result<Option<(u64, Digest)>, AuditError> {
    let row = sqlx::query("SELECT seq, leaf_hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        let seq: i64 = r.get(0);
        let leaf: Vec<u8> = r.get(1);
        let leaf = Digest::from_slice(&leaf)
            .ok_or(AuditError::Corrupt { seq: seq as u64, message: "leaf hash is not 32 bytes".into() })?;
        Ok((seq as u64, leaf))
    })
    .transpose()
}

pub(super) async fn insert_entries(conn: &mut PgConnection, rows: &[EntryRow]) -> Result<(), AuditError> {
    // UNNEST keeps array order, so the append trigger sees the seqs ascending.
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let leaves: Vec<Vec<u8>> = rows.iter().map(|r| r.leaf_hash.0.to_vec()).collect();
    sqlx::query(
        "INSERT INTO audit_entries (seq, kind, entry, leaf_hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[]) ORDER BY 1",
    )
    .bind(seqs)
    .bind(kinds)
    .bind(texts)
    .bind(leaves)
    .execute(conn)
    .await?;
    Ok(())
}

const HEAD_COLUMNS: &str = "id, size, time, root, frontier, public_key, signature";

fn head_from_row(r: &PgRow) -> Result<HeadRow, AuditError> {
    parse_head_row(
        r.get(0),
        r.get(1),
        r.get::<&str, _>(2),
        r.get::<&[u8], _>(3),
        r.get(4),
        r.get(5),
        r.get(6),
    )
}

pub(super) async fn last_head(conn: &mut PgConnection) -> Result<Option<HeadRow>, AuditError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id DESC LIMIT 1");
    let row = sqlx::query(&sql).fetch_optional(conn).await?;
    row.as_ref().map(head_from_row).transpose()
}

pub(super) async fn heads(pool: &PgPool) -> Result<Vec<HeadRow>, AuditError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter().map(head_from_row).collect()
}

pub(super) async fn insert_head(
    conn: &mut PgConnection,
    id: i64,
    sth: &SignedTreeHead,
    frontier: &[u8],
) -> Result<(), AuditError> {
    sqlx::query(
        "INSERT INTO audit_tree_heads (id, size, time, root, frontier, public_key, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(sth.head.size as i64)
    .bind(crate::entry::time_format::format(&sth.head.time))
    .bind(sth.head.root.0.to_vec())
    .bind(frontier)
    .bind(&sth.public_key)
    .bind(&sth.signature)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stored leaf hashes of entries `from..to`.
pub(super) async fn leaves(conn: &mut PgConnection, from: u64, to: u64) -> Result<Vec<Digest>, AuditError> {
    let rows = sqlx::query("SELECT seq, leaf_hash FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq")
        .bind(from as i64)
        .bind(to as i64)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.get(0);
            Digest::from_slice(r.get::<&[u8], _>(1))
                .ok_or(AuditError::Corrupt { seq: seq as u64, message: "leaf hash is not 32 bytes".into() })
        })
        .collect()
}

fn stored(r: &PgRow) -> StoredEntry {
    StoredEntry { seq: Seq(r.get::<i64, _>(0) as u64), kind: r.get(1), text: r.get(2), leaf_hash: r.get(3) }
}

pub(super) async fn page(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<StoredEntry>, AuditError> {
    let rows =
        sqlx::query("SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
    Ok(rows.iter().map(stored).collect())
}

/// Entries with `from <= seq < to`, in order.
pub(super) async fn range(pool: &PgPool, from: i64, to: i64) -> Result<Vec<StoredEntry>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(stored).collect())
}

pub(super) async fn entries_of_kinds(pool: &PgPool, kinds: &[String]) -> Result<Vec<StoredEntry>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE kind = ANY($1) ORDER BY seq",
    )
    .bind(kinds)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(stored).collect())
}
