//! Login throttling: how many wrong passwords an account and a client may try, and how
//! many password hashes run at once.
//!
//! Every attempt that fails (or is refused for coming too soon) counts against the
//! account and the client address within [`WINDOW`]. Up to [`FREE_ATTEMPTS`] per account
//! ([`FREE_ATTEMPTS_PER_CLIENT`] per client) are answered at once; after that each next
//! attempt must wait 2, 4, 8... seconds after the previous one (at most
//! [`MAX_BACKOFF`]), and is refused unhashed (HTTP 429, `Retry-After`) when it comes
//! sooner. At [`LOCK_AFTER`] attempts in the window the account is locked in the users
//! database until an admin unlocks it (`rdt user unlock`, or the admin page). A password
//! hash (argon2, tens of milliseconds on the blocking pool) runs under a semaphore of
//! [`CONCURRENT_HASHES`] permits, so a flood of logins cannot starve other requests.
//!
//! In memory, per server: a restart forgets backoffs (the lock persists). The clock is
//! passed in, so tests step it instead of sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back attempts count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Attempts per account answered without waiting.
pub const FREE_ATTEMPTS: usize = 5;
/// Attempts per client address answered without waiting (many users may share one).
pub const FREE_ATTEMPTS_PER_CLIENT: usize = 20;
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Attempts on one account in the window that lock it.
pub const LOCK_AFTER: usize = 20;
/// Password hashes at once.
pub const CONCURRENT_HASHES: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Client(IpAddr),
}

/// What to do with an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hash the password.
    Check,
    /// Too soon after the last failure: refuse unhashed, retry after this long.
    Wait(Duration),
}

pub struct LoginThrottle {
    attempts: Mutex<HashMap<Key, Vec<Instant>>>,
    hashing: tokio::sync::Semaphore,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle { attempts: Mutex::default(), hashing: tokio::sync::Semaphore::new(CONCURRENT_HASHES) }
    }
}

/// The wait after `attempts` counted attempts: none below `free`, then 2, 4, 8... s.
fn backoff(attempts: usize, free: usize) -> Duration {
    if attempts < free {
        return Duration::ZERO;
    }
    let over = (attempts - free + 1).min(20) as u32;
    Duration::from_secs(1u64 << over).min(MAX_BACKOFF)
}

impl LoginThrottle {
    fn keys(account: &str, client: Option<IpAddr>) -> Vec<(Key, usize)> {
        let mut keys = vec![(Key::Account(account.to_owned()), FREE_ATTEMPTS)];
        if let Some(ip) = client {
            keys.push((Key::Client(ip), FREE_ATTEMPTS_PER_CLIENT));
        }
        keys
    }

    /// Whether an attempt on `account` from `client` at `now` may be checked.
    pub fn verdict(&self, account: &str, client: Option<IpAddr>, now: Instant) -> Verdict {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for (key, free) in Self::keys(account, client) {
            let Some(times) = attempts.get_mut(&key) else { continue };
            times.retain(|t| now.duration_since(*t) < WINDOW);
            if let Some(last) = times.last() {
                let ready = *last + backoff(times.len(), free);
                wait = wait.max(ready.saturating_duration_since(now));
            }
        }
        if wait.is_zero() {
            Verdict::Check
        } else {
            Verdict::Wait(wait)
        }
    }

    /// Counts a failed or refused attempt; returns the account's attempts in the window.
    pub fn failed(&self, account: &str, client: Option<IpAddr>, now: Instant) -> usize {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let mut on_account = 0;
        for (key, _) in Self::keys(account, client) {
            let times = attempts.entry(key.clone()).or_default();
            times.retain(|t| now.duration_since(*t) < WINDOW);
            times.push(now);
            if matches!(key, Key::Account(_)) {
                on_account = times.len();
            }
        }
        on_account
    }

    /// A successful login or an admin's unlock clears the account's attempts.
    pub fn clear(&self, account: &str) {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner()).remove(&Key::Account(account.to_owned()));
    }

    /// A permit to run one password hash (at most [`CONCURRENT_HASHES`] at once).
    pub async fn hash_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.hashing.acquire().await.expect("the semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_attempts_then_doubling_waits() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..FREE_ATTEMPTS {
            assert_eq!(t.verdict("ann", Some(ip), start), Verdict::Check, "attempt {i}");
            t.failed("ann", Some(ip), start);
        }
        assert_eq!(t.verdict("ann", Some(ip), start), Verdict::Wait(Duration::from_secs(2)), "the sixth waits");
        assert_eq!(t.verdict("ann", Some(ip), start + Duration::from_secs(2)), Verdict::Check);
        assert_eq!(t.failed("ann", Some(ip), start + Duration::from_secs(2)), 6);
        assert_eq!(t.verdict("ann", Some(ip), start + Duration::from_secs(3)), Verdict::Wait(Duration::from_secs(3)));
        // Another account from another client is not slowed.
        assert_eq!(t.verdict("bob", Some("10.0.0.7".parse().unwrap()), start), Verdict::Check);
        // The window forgets.
        assert_eq!(t.verdict("ann", Some(ip), start + WINDOW + Duration::from_secs(3)), Verdict::Check);
        t.clear("ann");
        assert_eq!(t.verdict("ann", None, start + Duration::from_secs(3)), Verdict::Check);
        assert_eq!(backoff(100, 5), MAX_BACKOFF);
    }
}
