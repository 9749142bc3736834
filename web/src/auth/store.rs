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

    /// The scope an admin chose: named patients, or all patients, and never by
    /// omission (an empty list once meant "all", so a forgotten field widened access).
    pub fn chosen(patients: Vec<PatientId>, all: bool) -> Result<Self, AuthError> {
        match (all, patients.is_empty()) {
            (true, true) => Ok(PatientAccess::All),
            (false, false) => Ok(PatientAccess::Only(patients.into_iter().collect())),
            (false, true) => Err(AuthError::ScopeNotChosen),
            (true, false) => Err(AuthError::ScopeConflict),
        }
    }

    /// The scope as the audit trail records it: "all patients" or "patients: a, b".
    pub fn describe(&self) -> String {
        match self {
            PatientAccess::All => "all patients".to_owned(),
            PatientAccess::Only(ids) => {
                format!("patients: {}", ids.iter().map(PatientId::as_str).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// A session with no request for this long ends: a workstation left logged in on a
/// ward is not an open door for the rest of the shift.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A session's last-seen time is written at most this often (not on every request).
const SEEN_RESOLUTION: chrono::Duration = chrono::Duration::seconds(60);

/// A user as listed on the admin page.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub access: PatientAccess,
    pub created_at: String,
    /// When an admin disabled the user; `None` when they may log in.
    pub disabled_at: Option<String>,
}

impl User {
    /// The user as JSON (`rdt user list --json`): name, role, patients (`"all"` or the
    /// ids) and when they were added.
    pub fn json(&self) -> serde_json::Value {
        let patients = match &self.access {
            PatientAccess::All => serde_json::Value::String("all".into()),
            PatientAccess::Only(ids) => ids.iter().map(|p| p.as_str()).collect::<Vec<_>>().into(),
        };
        serde_json::json!({
            "name": self.name,
            "role": self.role.as_str(),
            "patients": patients,
            "created_at": self.created_at,
            "disabled_at": self.disabled_at,
        })
    }

    /// One line (`rdt user list`): name, role, when added, and whether disabled.
    pub fn line(&self) -> String {
        let disabled = self.disabled_at.as_ref().map(|t| format!("  disabled {t}")).unwrap_or_default();
        format!("{:<24} {:<11} {}{disabled}", self.name, self.role.as_str(), self.created_at)
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
    idle_timeout: Duration,
}

pub(super) fn now_text(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order.
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

pub(super) fn sha256_hex(s: &str) -> String {
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
        Ok(UserStore { pool, path: path.to_owned(), idle_timeout: IDLE_TIMEOUT })
    }

    /// Ends sessions idle for `idle` instead of [`IDLE_TIMEOUT`].
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Adds a user, or replaces the password, role and access of an existing one when
    /// `replace` is set.
    pub async fn add(
        &self,
        name: &str,
        role: Role,
        password: &str,
        access: &PatientAccess,
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
        .bind(matches!(access, PatientAccess::All))
        .bind(now_text(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM user_patients WHERE user = ?").bind(name).execute(&mut *tx).await?;
        let patients = match access {
            PatientAccess::All => Vec::new(),
            PatientAccess::Only(ids) => ids.iter().collect(),
        };
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
        let Some(row) = sqlx::query("SELECT name, role, all_patients, created_at, disabled_at FROM users WHERE name = ?")
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
        Ok(User { name, role, access, created_at: row.get("created_at"), disabled_at: row.get("disabled_at") })
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

    /// A new session for `user`, valid for `ttl` (and while not idle). It replaces the
    /// user's older sessions: one login, one live session, so a session left open on
    /// another workstation ends when its owner logs in elsewhere.
    pub async fn create_session(&self, user: &str, ttl: Duration) -> Result<NewSession, AuthError> {
        let cookie_value = random_hex(32)?;
        let csrf = random_hex(32)?;
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user = ?").bind(user).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user, csrf, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(sha256_hex(&cookie_value))
        .bind(user)
        .bind(&csrf)
        .bind(now_text(now))
        .bind(now_text(expires))
        .bind(now_text(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Expired sessions are swept on each login; a failure here only leaves rows behind.
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?").bind(now_text(now)).execute(&self.pool).await;
        Ok(NewSession { cookie_value, csrf })
    }

    /// The live session of a cookie value: `None` when unknown, expired, idle longer
    /// than the idle timeout, or its user is disabled. Finding it marks it seen.
    pub async fn session(&self, cookie_value: &str) -> Result<Option<Session>, AuthError> {
        let id_hash = sha256_hex(cookie_value);
        let now = Utc::now();
        let idle_since = now - chrono::Duration::from_std(self.idle_timeout).unwrap_or(chrono::Duration::minutes(30));
        let Some(row) = sqlx::query(
            "SELECT s.csrf, s.expires_at, COALESCE(s.last_seen_at, s.created_at) AS seen,
                    u.name, u.role, u.all_patients, u.created_at, u.disabled_at
             FROM sessions s JOIN users u ON u.name = s.user
             WHERE s.id_hash = ? AND s.expires_at > ? AND COALESCE(s.last_seen_at, s.created_at) > ?
               AND u.disabled_at IS NULL",
        )
        .bind(&id_hash)
        .bind(now_text(now))
        .bind(now_text(idle_since))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let seen: String = row.get("seen");
        if seen < now_text(now - SEEN_RESOLUTION) {
            sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?")
                .bind(now_text(now))
                .bind(&id_hash)
                .execute(&self.pool)
                .await?;
        }
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

    /// Disables `name` (ending its sessions) or enables it again; `false` when `name`
    /// is no user. A disabled user's correct password still does not log in.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, AuthError> {
        let mut tx = self.pool.begin().await?;
        let done = if disabled {
            sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE name = ?")
                .bind(now_text(Utc::now()))
                .bind(name)
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("UPDATE users SET disabled_at = NULL WHERE name = ?").bind(name).execute(&mut *tx).await?
        };
        sqlx::query("DELETE FROM sessions WHERE user = ?").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
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
pub(super) fn check_name(name: &str) -> Result<(), AuthError> {
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
        let user = User { name: "ana".into(), role: Role::Clinician, access: only, created_at: "2024-01-02".into(), disabled_at: None };
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
        users.add("ana", Role::Clinician, "a long password", &PatientAccess::All, false).await.unwrap();
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
        users.add("ana", Role::Auditor, "a long password", &PatientAccess::All, false).await.unwrap();
        let s = users.create_session("ana", Duration::ZERO).await.unwrap();
        assert!(users.session(&s.cookie_value).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn duplicates_bad_names_and_the_system_role_are_refused() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Admin, "a long password", &PatientAccess::All, false).await.unwrap();
        assert!(matches!(
            users.add("ana", Role::Admin, "a long password", &PatientAccess::All, false).await,
            Err(AuthError::UserExists(_))
        ));
        assert!(matches!(users.add("a b", Role::Admin, "a long password", &PatientAccess::All, false).await, Err(AuthError::BadName(_))));
        assert!(matches!(
            users.add("sys", Role::System, "a long password", &PatientAccess::All, false).await,
            Err(AuthError::NotALoginRole(_))
        ));
    }

    #[tokio::test]
    async fn a_scoped_clinician_reads_only_their_patients() {
        let (_dir, users) = store().await;
        let p = PatientId::new("p1").unwrap();
        users.add("ana", Role::Clinician, "a long password", &PatientAccess::Only([p.clone()].into()), false).await.unwrap();
        let u = users.user("ana").await.unwrap().unwrap();
        assert!(u.access.permits(&p));
        assert!(!u.access.permits(&PatientId::new("p2").unwrap()));
    }

    #[test]
    fn scope_is_chosen_never_implied() {
        let p = PatientId::new("p1").unwrap();
        assert_eq!(PatientAccess::chosen(vec![], true).unwrap(), PatientAccess::All);
        assert_eq!(PatientAccess::chosen(vec![p.clone()], false).unwrap().describe(), "patients: p1");
        assert!(matches!(PatientAccess::chosen(vec![], false), Err(AuthError::ScopeNotChosen)));
        assert!(matches!(PatientAccess::chosen(vec![p], true), Err(AuthError::ScopeConflict)));
    }

    #[tokio::test]
    async fn a_new_login_ends_the_older_session() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Clinician, "a long password", &PatientAccess::All, false).await.unwrap();
        let first = users.create_session("ana", Duration::from_secs(600)).await.unwrap();
        let second = users.create_session("ana", Duration::from_secs(600)).await.unwrap();
        assert!(users.session(&first.cookie_value).await.unwrap().is_none());
        assert!(users.session(&second.cookie_value).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_idle_session_ends_and_a_used_one_is_marked_seen() {
        let (_dir, users) = store().await;
        let users = users.with_idle_timeout(Duration::from_secs(15 * 60));
        users.add("ana", Role::Clinician, "a long password", &PatientAccess::All, false).await.unwrap();
        let s = users.create_session("ana", Duration::from_secs(8 * 3600)).await.unwrap();
        let set_seen = |minutes_ago: i64| {
            let seen = now_text(Utc::now() - chrono::Duration::minutes(minutes_ago));
            sqlx::query("UPDATE sessions SET last_seen_at = ?").bind(seen).execute(users.pool())
        };
        // Used 10 minutes ago: still live, and using it moves its last-seen time.
        set_seen(10).await.unwrap();
        assert!(users.session(&s.cookie_value).await.unwrap().is_some());
        let seen: String = sqlx::query_scalar("SELECT last_seen_at FROM sessions").fetch_one(users.pool()).await.unwrap();
        assert!(seen > now_text(Utc::now() - chrono::Duration::minutes(1)), "{seen}");
        // Idle 16 minutes: gone, though far from its 8-hour expiry.
        set_seen(16).await.unwrap();
        assert!(users.session(&s.cookie_value).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_disabled_user_has_no_sessions_until_enabled() {
        let (_dir, users) = store().await;
        users.add("ana", Role::Clinician, "a long password", &PatientAccess::All, false).await.unwrap();
        let s = users.create_session("ana", Duration::from_secs(600)).await.unwrap();
        assert!(users.set_disabled("ana", true).await.unwrap());
        assert!(users.session(&s.cookie_value).await.unwrap().is_none());
        let u = users.check_login("ana", "a long password").await.unwrap().unwrap();
        assert!(u.disabled_at.is_some(), "the login page refuses a disabled user after the password");
        let later = users.create_session("ana", Duration::from_secs(600)).await.unwrap();
        assert!(users.session(&later.cookie_value).await.unwrap().is_none());
        assert!(users.set_disabled("ana", false).await.unwrap());
        assert!(users.user("ana").await.unwrap().unwrap().disabled_at.is_none());
        assert!(!users.set_disabled("nobody", true).await.unwrap());
    }
}
