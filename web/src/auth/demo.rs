//! The demo's logins (`rdt demo`): one user per role, created on first start with fresh
//! random passwords, kept in `<data-dir>/demo-logins.txt` (mode 0600) so later starts
//! can print them again.

use std::path::Path;

use audit_log::Role;

use super::{AuthError, PatientAccess, UserStore};

/// The demo's users, one per role.
const DEMO_USERS: [(&str, Role); 4] =
    [("clinician", Role::Clinician), ("auditor", Role::Auditor), ("governance", Role::Governance), ("admin", Role::Admin)];

/// One demo login: user name, role, password.
pub type DemoLogin = (String, String, String);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{path}: {source}")]
    File { path: std::path::PathBuf, source: std::io::Error },
}

/// The logins for a terminal (`rdt demo`): where the pages are served (`addr`), or
/// that `rdt serve` will serve them, then one line per login (role, user, password).
pub fn logins_text(logins: &[DemoLogin], addr: Option<std::net::SocketAddr>) -> String {
    let mut out = match addr {
        Some(a) => format!("\nRDT demo at http://{a}/ — demo logins (user / password):\n"),
        None => "\nDemo logins for `rdt serve` (user / password):\n".to_owned(),
    };
    for (name, role, password) in logins {
        out += &format!("  {role:<11} {name:<11} {password}\n");
    }
    out
}

/// The demo logins of the install at `data_dir`: read from its file, or created (users
/// added to the users database, the file written) on first start.
pub async fn demo_logins(data_dir: &Path) -> Result<Vec<DemoLogin>, DemoError> {
    let file = data_dir.join("demo-logins.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let rows: Vec<DemoLogin> = text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((it.next()?.to_owned(), it.next()?.to_owned(), it.next()?.to_owned()))
            })
            .collect();
        if rows.len() == DEMO_USERS.len() {
            return Ok(rows);
        }
    }
    let users = UserStore::open(&UserStore::path_in(data_dir)).await?;
    let mut rows = Vec::new();
    for (name, role) in DEMO_USERS {
        let mut bytes = [0u8; 9];
        getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
        let password = format!("demo-{}", hex::encode(bytes));
        users.add(name, role, &password, &PatientAccess::All, true).await?;
        rows.push((name.to_owned(), role.as_str().to_owned(), password));
    }
    users.close().await;
    let text: String = rows.iter().map(|(n, r, p)| format!("{n} {r} {p}\n")).collect();
    let io = |source| DemoError::File { path: file.clone(), source };
    std::fs::write(&file, text).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logins_text_says_where_and_lists_each_login() {
        let logins = vec![("clinician".to_owned(), "clinician".to_owned(), "pw1".to_owned())];
        let served = logins_text(&logins, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(served, format!("\nRDT demo at http://127.0.0.1:8080/ — demo logins (user / password):\n  {:<11} {:<11} pw1\n", "clinician", "clinician"));
        assert!(logins_text(&logins, None).starts_with("\nDemo logins for `rdt serve` (user / password):\n  clinician"));
    }
}
