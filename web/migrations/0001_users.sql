-- The web's own tables, in <data-dir>/web.sqlite: who may log in, and their sessions.
CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clinician', 'auditor', 'governance', 'admin')),
    -- argon2id in PHC string form (salt and parameters inside).
    password_hash TEXT NOT NULL,
    -- 1: a clinician may read every patient; 0: only those in user_patients.
    all_patients  INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE user_patients (
    user    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    patient TEXT NOT NULL,
    PRIMARY KEY (user, patient)
);

-- A session is stored by the SHA-256 of its id: whoever reads this table cannot
-- present the cookie.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);
