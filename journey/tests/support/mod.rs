//! Runs one store check on SQLite and on PostgreSQL, each in a fresh database.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;
use journey::store::Database;
use journey::JourneyStore;

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The PostgreSQL admin URL for tests, or `None` with a loud note when it is not set.
/// With `RDT_REQUIRE_POSTGRES=1` (CI) a missing server is a failure, not a skip.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("RDT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("RDT_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("RDT_REQUIRE_POSTGRES=1 but RDT_TEST_POSTGRES_URL is not set")
        }
        _ => {
            eprintln!("PostgreSQL part skipped: RDT_TEST_POSTGRES_URL is not set (scripts/postgres.sh prints one)");
            None
        }
    }
}

/// A fresh PostgreSQL database; dropped again by [`drop_postgres_database`].
pub async fn create_postgres_database(admin_url: &str) -> (String, String) {
    let name = format!("rdt_test_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(admin_url).await.expect("connect to the PostgreSQL test server");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let (base, _) = admin_url.rsplit_once('/').expect("URL ends in /database");
    (format!("{base}/{name}"), name)
}

pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
}

/// Runs `check` against a new SQLite store, then a new PostgreSQL store.
pub async fn on_every_backend<F, Fut>(check: F)
where
    F: Fn(JourneyStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    check(store.clone()).await;
    store.close().await;

    if let Some(admin) = postgres_admin_url() {
        let (url, name) = create_postgres_database(&admin).await;
        let store = JourneyStore::open(&Database::Postgres(url)).await.unwrap();
        check(store.clone()).await;
        store.close().await;
        drop_postgres_database(&admin, &name).await;
    }
}
