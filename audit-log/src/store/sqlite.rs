//! The SQLite backend: the journey store's file, WAL journal, `synchronous = FULL`.
//!
//! Appends take the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction
//! that reads the tail and then writes could find another writer committed in
//! between and fail with SQLITE_BUSY instead of waiting.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::{parse_head_row, EntryRow, HeadRow, StoredEntry};
use crate::digest::Digest;
use crate::entry::Seq;
use crate::error::AuditError;
use crate::signing::SignedTreeHead;

/// 4 parameters a row: far below SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 1_000;

pub(super) async fn open(url: &str, migrate: bool) -> Result<SqlitePool, AuditError> {
    let database = url.to_owned();
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| AuditError::Open { database: database.clone(), source })?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !in_memory {
        let path = options.get_filename();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| AuditError::Directory { path: dir.to_owned(), source })?;
        }
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed audit entry must survive power loss (see store/mod.rs).
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        // Each in-memory connection would be its own database.
        .max_connections(if in_memory { 1 } else { 4 })
        .connect_with(options)
        .await
        .map_err(|source| AuditError::Open { database: database.clone(), source })?;
    if migrate {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        // The journey store keeps its own migrations (versions below 1000) in the same table.
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await.map_err(|source| AuditError::Migrate { database, source })?;
    }
    Ok(pool)
}

pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, AuditError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

pub(super) async fn tail(conn: &mut SqliteConnection) -> Result<Option<(u64, Digest)>, AuditError> {
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

pub(super) async fn insert_entries(conn: &mut SqliteConnection, rows: &[EntryRow]) -> Result<(), AuditError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO audit_entries (seq, kind, entry, leaf_hash) ");
        q.push_values(chunk, |mut b, row| {
            b.push_bind(row.seq).push_bind(row.kind).push_bind(row.text.as_str()).push_bind(row.leaf_hash.0.to_vec());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

const HEAD_COLUMNS: &str = "id, size, time, root, frontier, public_key, signature";

fn head_from_row(r: &SqliteRow) -> Result<HeadRow, AuditError> {
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

pub(super) async fn last_head(conn: &mut SqliteConnection) -> Result<Option<HeadRow>, AuditError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id DESC LIMIT 1");
    let row = sqlx::query(&sql).fetch_optional(conn).await?;
    row.as_ref().map(head_from_row).transpose()
}

pub(super) async fn heads(pool: &SqlitePool) -> Result<Vec<HeadRow>, AuditError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter().map(head_from_row).collect()
}

pub(super) async fn insert_head(
    conn: &mut SqliteConnection,
    id: i64,
    sth: &SignedTreeHead,
    frontier: &[u8],
) -> Result<(), AuditError> {
    sqlx::query(
        "INSERT INTO audit_tree_heads (id, size, time, root, frontier, public_key, signature) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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
pub(super) async fn leaves(conn: &mut SqliteConnection, from: u64, to: u64) -> Result<Vec<Digest>, AuditError> {
    let rows = sqlx::query("SELECT seq, leaf_hash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq")
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

fn stored(r: &SqliteRow) -> StoredEntry {
    StoredEntry { seq: Seq(r.get::<i64, _>(0) as u64), kind: r.get(1), text: r.get(2), leaf_hash: r.get(3) }
}

pub(super) async fn page(pool: &SqlitePool, after: i64, limit: i64) -> Result<Vec<StoredEntry>, AuditError> {
    let rows = sqlx::query("SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?")
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(stored).collect())
}

/// Entries with `from <= seq < to`, in order.
pub(super) async fn range(pool: &SqlitePool, from: i64, to: i64) -> Result<Vec<StoredEntry>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(stored).collect())
}

pub(super) async fn entries_of_kinds(pool: &SqlitePool, kinds: &[String]) -> Result<Vec<StoredEntry>, AuditError> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT seq, kind, entry, leaf_hash FROM audit_entries WHERE kind IN (");
    let mut list = q.separated(", ");
    for kind in kinds {
        list.push_bind(kind.as_str());
    }
    q.push(") ORDER BY seq");
    let rows = q.build().fetch_all(pool).await?;
    Ok(rows.iter().map(stored).collect())
}
