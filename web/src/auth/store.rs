//! Users and sessions, in the web's own SQLite file (`<data-dir>/web.sqlite`), kept
//! apart from the journey store so logins work the same whichever database holds the
//! journeys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use audit_log::Role;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use journey::PatientId;

use super::{password, AuthError};

/// Roles a person can log in with (`system` is for batch work, never a login).
pub const LOGIN_ROLES: [Role; 4] = [Role::Clinician, Role::Auditor, Role::Governance, Role::Admin];

/// Which patients a user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientAccess {
    All,
    Only(BTreeSet<PatientId>),
}

impl PatientAccess {
    pub fn permits(&self, patient: &PatientId) -> bool {
        match self {
            PatientAccess::All => true,
            PatientAccess::Only(ids) => ids.contains(patient),
        }
    }
}

/// A user as listed on the admin page.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub access: PatientAccess,
    pub created_at: String,
}

impl User {
    /// The user as JSON (`rdt user list --json`): name, role, patients (`"all"` or the
    /// ids) and when they were added.
    pub fn json(&self) -> serde_json::Value {
        let patients = match &self.access {
            PatientAccess::All => serde_json::Value::String("all".into()),
            PatientAccess::Only(ids) => ids.iter().map(|p| p.as_str()).collect::<Vec<_>>().into(),
        };
        serde_json::json!({"name": self.name, "role": self.role.as_str(), "patients": patients, "created_at": self.created_at})
    }

    /// One line (`rdt user list`): name, role, when added.
    pub fn line(&self) -> String {
        format!("{:<24} {:<11} {}", self.name, self.role.as_str(), self.created_at)
    }
}

/// A live session, found from its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value: what the audit log records as the session.
    pub id_hash: String,
    pub user: User,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// A session just created: the cookie value is shown once, never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie_value: String,
    pub csrf: String,
}

#[derive(Clone)]
pub struct UserStore {
    pool: SqlitePool,
    path: PathBuf,
}

fn now_text(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order.
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl UserStore {
    /// The file of one install.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("web.sqlite")
    }

    /// Opens (and creates and migrates) the users file.
    pub async fn open(path: &Path) -> Result<Self, AuthError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AuthError::Open(format!("{}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| AuthError::Open(format!("{}: {e}", path.display())))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| AuthError::Open(format!("migrating {}: {e}", path.display())))?;
        Ok(UserStore { pool, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Adds a user, or replaces the password, role and access of an existing one when
    /// `replace` is set. `patients` empty means all patients.
    pub async fn add(
        &self,
        name: &str,
        role: Role,
        password: &str,
        patients: &[PatientId],
        replace: bool,
    ) -> Result<(), AuthError> {
        check_name(name)?;
        if !LOGIN_ROLES.contains(&role) {
            return Err(AuthError::NotALoginRole(role.as_str().to_owned()));
        }
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| AuthError::Hash(e.to_string()))??;
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE name = ?").bind(name).fetch_optional(&mut *tx).await?;
        if exists.is_some() && !replace {
            return Err(AuthError::UserExists(name.to_owned()));
        }
        sqlx::query(
            "INSERT INTO users (name, role, password_hash, all_patients, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
             all_patients = excluded.all_patients",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(&hash)
        .bind(patients.is_empty())
        .bind(now_text(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM user_patients WHERE user = ?").bind(name).execute(&mut *tx).await?;
        for p in patients {
            sqlx::query("INSERT INTO user_patients (user, patient) VALUES (?, ?)")
                .bind(name)
                .bind(p.as_str())
                .execute(&mut *tx)
                .await?;
        }
        // A changed password or role ends the user's sessions.
        sqlx::query("DELETE FROM sessions WHERE user = ?").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count(&self) -> Result<u64, AuthError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    pub async fn list(&self) -> Result<Vec<User>, AuthError> {
        let rows = sqlx::query("SELECT name FROM users ORDER BY role, name").fetch_all(&self.pool).await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.get(0);
            if let Some(u) = self.user(&name).await? {
                users.push(u);
            }
        }
        Ok(users)
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, AuthError> {
        let Some(row) = sqlx::query("SELECT name, role, all_patients, created_at FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        self.user_from_row(&row).await.map(Some)
    }

    async fn user_from_row(&self, row: &sqlx::sqlite::SqliteRow) -> Result<User, AuthError> {
        let name: String = row.get("name");
        let role_text: String = row.get("role");
        let role = Role::from_str(&role_text).map_err(|_| AuthError::Corrupt(format!("role `{role_text}`")))?;
        let all: bool = row.get("all_patients");
        let access = if all {
            PatientAccess::All
        } else {
            let ids: Vec<String> = sqlx::query_scalar("SELECT patient FROM user_patients WHERE user = ?")
                .bind(&name)
                .fetch_all(&self.pool)
                .await?;
            PatientAccess::Only(ids.into_iter().filter_map(PatientId::new).collect())
        };
        Ok(User { name, role, access, created_at: row.get("created_at") })
    }

    /// The user when `password` is theirs; `None` for an unknown name or a wrong
    /// password alike (both take one argon2 verification).
    pub async fn check_login(&self, name: &str, password: &str) -> Result<Option<User>, AuthError> {
        let stored: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || match stored {
            Some(hash) => password::verify(&password, &hash),
            None => {
                password::verify_dummy(&password);
                false
            }
        })
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
        if !ok {
            return Ok(None);
        }
        self.user(name).await
    }

    /// A new session for `user`, valid for `ttl`.
    pub async fn create_session(&self, user: &str, ttl: Duration) -> Result<NewSession, AuthError> {
        let cookie_value = random_hex(32)?;
        let csrf = random_hex(32)?;
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        sqlx::query("INSERT INTO sessions (id_hash, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(sha256_hex(&cookie_value))
            .bind(user)
            .bind(&csrf)
            .bind(now_text(now))
            .bind(now_text(expires))
            .execute(&self.pool)
            .await?;
        // Expired sessions are swept on each login; a failure here only leaves rows behind.
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?").bind(now_text(now)).execute(&self.pool).await;
        Ok(NewSession { cookie_value, csrf })
    }

    /// The live session of a cookie value; an expired or unknown one is `None`.
    pub async fn session(&self, cookie_value: &str) -> Result<Option<Session>, AuthError> {
        let id_hash = sha256_hex(cookie_value);
        let Some(row) = sqlx::query(
            "SELECT s.csrf, s.expires_at, u.name, u.role, u.all_patients, u.created_at
             FROM sessions s JOIN users u ON u.name = s.user WHERE s.id_hash = ? AND s.expires_at > ?",
        )
        .bind(&id_hash)
        .bind(now_text(Utc::now()))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let expires_text: String = row.get("expires_at");
        let expires_at = DateTime::parse_from_rfc3339(&expires_text)
            .map_err(|_| AuthError::Corrupt(format!("session expiry `{expires_text}`")))?
            .with_timezone(&Utc);
        let user = self.user_from_row(&row).await?;
        Ok(Some(Session { id_hash, user, csrf: row.get("csrf"), expires_at }))
    }

    /// Whether `name` is locked (too many failed logins) until an admin unlocks it.
    pub async fn is_locked(&self, name: &str) -> Result<bool, AuthError> {
        let locked: Option<Option<String>> =
            sqlx::query_scalar("SELECT locked_at FROM users WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        Ok(matches!(locked, Some(Some(_))))
    }

    /// Locks `name` (a no-op for an unknown name) and ends its sessions.
    pub async fn lock(&self, name: &str) -> Result<(), AuthError> {
        sqlx::query("UPDATE users SET locked_at = ? WHERE name = ? AND locked_at IS NULL")
            .bind(Utc::now().to_rfc3339())
            .bind(name)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user = ?").bind(name).execute(&self.pool).await?;
        Ok(())
    }

    /// Lifts a lock; `false` when `name` is no user.
    pub async fn unlock(&self, name: &str) -> Result<bool, AuthError> {
        let done = sqlx::query("UPDATE users SET locked_at = NULL WHERE name = ?").bind(name).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_session(&self, cookie_value: &str) -> Result<(), AuthError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?").bind(sha256_hex(cookie_value)).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// User names: 1-64 characters of letters, digits, `.`, `_`, `-`, `@`.
fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_user_shows_role_and_scope() {
        let only = PatientAccess::Only([PatientId::new("p1").unwrap()].into());
        let user = User { name: "ana".into(), role: Role::Clinician, access: only, created_at: "2024-01-02".into() };
        assert_eq!(user.line(), format!("{:<24} {:<11} 2024-01-02", "ana", "clinician"));
        let json = user.json();
        assert_eq!(json["patients"], serde_json::json!(["p1"]));
        assert_eq!(json["role"], "clinician");
        let all = User { access: PatientAccess::All, ..user };
        assert_eq!(all.json()["patients"], "all");
    }

    async fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&UserStore::path_in(dir.path())).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn login_needs_the_right_password_and_sessions_find_their_user() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Clinician, "a long password", &[], false).await.unwrap();
        assert!(users.check_login("ana", "wrong password!").await.unwrap().is_none());
        assert!(users.check_login("bob", "a long password").await.unwrap().is_none());
        let user = users.check_login("ana", "a long password").await.unwrap().unwrap();
        assert_eq!((user.role, user.access), (Role::Clinician, PatientAccess::All));
        let s = users.create_session("ana", Duration::from_secs(60)).await.unwrap();
        let found = users.session(&s.cookie_value).await.unwrap().unwrap();
        assert_eq!((found.user.name.as_str(), found.csrf.as_str()), ("ana", s.csrf.as_str()));
        assert!(users.session("not-a-session").await.unwrap().is_none());
        users.delete_session(&s.cookie_value).await.unwrap();
        assert!(users.session(&s.cookie_value).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_expired_session_is_not_found() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Auditor, "a long password", &[], false).await.unwrap();
        let s = users.create_session("ana", Duration::ZERO).await.unwrap();
        assert!(users.session(&s.cookie_value).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn duplicates_bad_names_and_the_system_role_are_refused() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Admin, "a long password", &[], false).await.unwrap();
        assert!(matches!(
            users.add("ana", Role::Admin, "a long password", &[], false).await,
            Err(AuthError::UserExists(_))
        ));
        assert!(matches!(users.add("a b", Role::Admin, "a long password", &[], false).await, Err(AuthError::BadName(_))));
        assert!(matches!(
            users.add("sys", Role::System, "a long password", &[], false).await,
            Err(AuthError::NotALoginRole(_))
        ));
    }

    #[tokio::test]
    async fn a_scoped_clinician_reads_only_their_patients() {
        let (_dir, users) = store().await;
        let p = PatientId::new("p1").unwrap();
        users.add("ana", Role::Clinician, "a long password", std::slice::from_ref(&p), false).await.unwrap();
        let u = users.user("ana").await.unwrap().unwrap();
        assert!(u.access.permits(&p));
        assert!(!u.access.permits(&PatientId::new("p2").unwrap()));
    }
}
