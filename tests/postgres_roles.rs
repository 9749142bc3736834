//! PostgreSQL with two roles, through the binary: the schema owner migrates with
//! `rdt db migrate`, the product serves as an application role that can import,
//! answer and append to the audit trail, and cannot delete, change, truncate, drop or
//! alter the trail. An application role on an unmigrated database is told to have the
//! owner migrate; a single-role install is warned by `rdt doctor`.

mod common;

use common::Rdt;
use sqlx::Connection as _;

/// Replaces the user and password of a PostgreSQL URL.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{}{user}:{password}@{host_and_path}", &url[..scheme_end])
}

fn one_fixture() -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(common::fixtures_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.remove(0)
}

fn audit_roles_status(rdt: &Rdt) -> String {
    let (doctor, _) = rdt.run_json(&["doctor", "--json"]);
    let check = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "audit roles").cloned();
    check.unwrap_or_else(|| panic!("no audit roles check: {doctor}"))["status"].as_str().unwrap().to_owned()
}

#[test]
fn the_application_role_can_append_to_the_trail_and_never_remove_from_it() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (owner_url, name) = runtime.block_on(common::create_postgres_database(&admin));
    let role = format!("rdt_app_{}", std::process::id());
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&mut conn).await.unwrap();
        sqlx::query(&format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'app'"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let app_url = with_user(&owner_url, &role, "app");
    let app = Rdt::new().with_database_url(&app_url);
    let fixture = one_fixture();

    // Before the owner migrates, the application role cannot, and is told who can.
    let out = app.run(&["import", fixture.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rdt db migrate --owner-url"), "{stderr}");

    // The owner migrates and grants; a role name that is not an identifier is refused.
    let bad = app.run(&["db", "migrate", "--owner-url", &owner_url, "--app-role", "x; DROP TABLE events"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a PostgreSQL role name"));
    let (setup, code) = app.run_json(&["db", "migrate", "--owner-url", &owner_url, "--app-role", &role, "--json"]);
    assert_eq!(code, 0, "{setup}");
    assert_eq!(setup["app_role"], role.as_str());
    assert!(!setup["database"].as_str().unwrap().contains(":rdt@"), "password shown: {setup}");

    // The application role serves: it imports (journey writes, audit appends) and
    // the trail verifies; doctor sees it does not own the trail.
    let out = app.run(&["import", fixture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = app.run(&["import", fixture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a re-import replaces: {}", String::from_utf8_lossy(&out.stderr));
    let out = app.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(audit_roles_status(&app), "ok");

    let refused = runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&app_url).await.unwrap();
        let mut refused = Vec::new();
        for sql in [
            "UPDATE audit_entries SET entry = 'x' WHERE seq = 0",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
            "DELETE FROM audit_tree_heads",
            "ALTER TABLE audit_entries DISABLE TRIGGER USER",
            "DROP TRIGGER audit_entries_no_change ON audit_entries",
            "DROP TABLE audit_tree_heads",
            "DELETE FROM _sqlx_migrations",
            "CREATE TABLE shadow (x int)",
        ] {
            let err = sqlx::query(sql).execute(&mut conn).await.expect_err(sql).to_string();
            assert!(err.contains("permission denied") || err.contains("must be owner"), "`{sql}`: {err}");
            refused.push(sql);
        }
        // What serving needs still works.
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries").fetch_one(&mut conn).await.unwrap();
        assert!(entries >= 2, "two imports were audited: {entries}");
        refused.len()
    });
    assert_eq!(refused, 9);
    let out = app.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // The owner serving alone is warned.
    let single = Rdt::new().with_database_url(&owner_url);
    assert_eq!(audit_roles_status(&single), "warning");

    runtime.block_on(async {
        common::drop_postgres_database(&admin, &name).await;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&mut conn).await.unwrap();
    });
}
