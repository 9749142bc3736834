-- A disabled user (an admin's decision, `rdt user disable`) cannot log in and has no
-- sessions, until enabled again: the time it was disabled, NULL when it is not.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
-- The last request of a session: an idle session ends (auth/store.rs IDLE_TIMEOUT).
ALTER TABLE sessions ADD COLUMN last_seen_at TEXT;
