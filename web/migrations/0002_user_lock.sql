-- An account locked after too many failed logins (auth/throttle.rs) until an admin
-- unlocks it: the time it was locked, NULL when it is not.
ALTER TABLE users ADD COLUMN locked_at TEXT;
