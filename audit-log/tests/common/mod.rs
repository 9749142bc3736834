//! Test databases for the audit-log suite: every test runs on SQLite and, when
//! `RDT_TEST_POSTGRES_URL` names an admin URL, on PostgreSQL too, each in a fresh
//! database of its own. `RDT_REQUIRE_POSTGRES=1` (CI) turns a missing URL into a
//! failure instead of a skip.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use audit_log::{AuditLog, Digest, HeadSigner, SigningPolicy};
use sqlx::{PgPool, SqlitePool};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run on: SQLite always; PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// The PostgreSQL admin URL, or `None` after printing why the PostgreSQL half is skipped.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("RDT_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty()) {
        Some(url) => Some(url),
        None => {
            if std::env::var("RDT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("RDT_REQUIRE_POSTGRES=1 but RDT_TEST_POSTGRES_URL is not set (scripts/postgres.sh prints it)");
            }
            eprintln!("skipped: RDT_TEST_POSTGRES_URL not set (PostgreSQL half of this test)");
            None
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    format!("{host}/{db}{query}")
}

/// Replaces the user and password of a PostgreSQL URL.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{}{user}:{password}@{host_and_path}", &url[..scheme_end])
}

/// A fresh, empty database; dropped by [`TestDb::drop_db`].
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("journey.sqlite").display());
                TestDb { backend, url, dir, pg_name: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url().expect("postgres backend without URL");
                let name = format!("rdt_audit_test_{}_{n}", std::process::id());
                let pool = PgPool::connect(&admin).await.expect("connect to the PostgreSQL admin URL");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
                pool.close().await;
                TestDb { backend, url: with_database(&admin, &name), dir, pg_name: Some(name) }
            }
        }
    }

    /// The log, signing with a fixed key (seed 1) and heads only on demand.
    pub async fn log(&self) -> AuditLog {
        AuditLog::open(&self.url)
            .await
            .unwrap()
            .with_signer(signer())
            .with_policy(SigningPolicy::on_demand())
    }

    /// A direct connection, as someone with database access (not the log) has.
    pub async fn raw(&self) -> Raw {
        match self.backend {
            Backend::Sqlite => Raw::Sqlite(SqlitePool::connect(&self.url).await.unwrap()),
            Backend::Postgres => Raw::Postgres(PgPool::connect(&self.url).await.unwrap()),
        }
    }

    pub async fn drop_db(self) {
        if let Some(name) = &self.pg_name {
            let admin = postgres_admin_url().unwrap();
            let pool = PgPool::connect(&admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

pub fn signer() -> HeadSigner {
    HeadSigner::from_seed([1; 32])
}

/// Raw SQL access for tampering.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    pub async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Raw::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            Raw::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        }
    }

    /// Removes the append-only triggers, as an attacker with the file or a
    /// superuser could.
    pub async fn disable_guards(&self) {
        match self {
            Raw::Sqlite(_) => {
                for t in [
                    "audit_entries_no_update",
                    "audit_entries_no_delete",
                    "audit_entries_append_at_end",
                    "audit_tree_heads_no_update",
                    "audit_tree_heads_no_delete",
                    "audit_tree_heads_grow",
                ] {
                    self.exec(&format!("DROP TRIGGER {t}")).await.unwrap();
                }
            }
            Raw::Postgres(_) => {
                self.exec("ALTER TABLE audit_entries DISABLE TRIGGER USER; ALTER TABLE audit_tree_heads DISABLE TRIGGER USER")
                    .await
                    .unwrap();
            }
        }
    }

    /// Overwrites an entry's bytes, and its stored leaf hash when given.
    pub async fn set_entry(&self, seq: u64, text: &str, leaf: Option<Digest>) {
        match self {
            Raw::Sqlite(p) => {
                sqlx::query("UPDATE audit_entries SET entry = ? WHERE seq = ?").bind(text).bind(seq as i64).execute(p).await.unwrap();
                if let Some(l) = leaf {
                    sqlx::query("UPDATE audit_entries SET leaf_hash = ? WHERE seq = ?").bind(l.0.to_vec()).bind(seq as i64).execute(p).await.unwrap();
                }
            }
            Raw::Postgres(p) => {
                sqlx::query("UPDATE audit_entries SET entry = $1 WHERE seq = $2").bind(text).bind(seq as i64).execute(p).await.unwrap();
                if let Some(l) = leaf {
                    sqlx::query("UPDATE audit_entries SET leaf_hash = $1 WHERE seq = $2").bind(l.0.to_vec()).bind(seq as i64).execute(p).await.unwrap();
                }
            }
        }
    }

    pub async fn insert_entry(&self, seq: u64, kind: &str, text: &str, leaf: Digest) {
        match self {
            Raw::Sqlite(p) => {
                sqlx::query("INSERT INTO audit_entries (seq, kind, entry, leaf_hash) VALUES (?, ?, ?, ?)")
                    .bind(seq as i64).bind(kind).bind(text).bind(leaf.0.to_vec()).execute(p).await.unwrap();
            }
            Raw::Postgres(p) => {
                sqlx::query("INSERT INTO audit_entries (seq, kind, entry, leaf_hash) VALUES ($1, $2, $3, $4)")
                    .bind(seq as i64).bind(kind).bind(text).bind(leaf.0.to_vec()).execute(p).await.unwrap();
            }
        }
    }

    /// Moves the row at `from` to `to` (which must be free).
    pub async fn move_row(&self, from: u64, to: u64) {
        self.exec(&format!("UPDATE audit_entries SET seq = {to} WHERE seq = {from}")).await.unwrap();
    }

    pub async fn close(self) {
        match self {
            Raw::Sqlite(p) => p.close().await,
            Raw::Postgres(p) => p.close().await,
        }
    }
}
