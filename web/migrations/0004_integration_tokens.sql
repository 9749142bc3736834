-- Integration tokens: a hospital system that pushes records to `POST /fhir` presents
-- one as `Authorization: Bearer ...`. Only the token's SHA-256 is stored (a token is
-- 256 random bits, so a fast hash is as safe as a slow one); the token itself is shown
-- once, when it is made. Each token writes as one import source: the ids it posts are
-- read within that source, as `rdt import --source` reads a file's.
CREATE TABLE integration_tokens (
    name        TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    disabled_at TEXT
);
