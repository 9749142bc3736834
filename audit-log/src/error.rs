//! [`AuditError`]: what can go wrong opening, writing or reading the log.
//!
//! A log that turns out to be tampered with is not an error: `verify` returns a
//! [`crate::VerifyReport`] naming the bad entries. Errors are the cases where the
//! log could not be read or written at all.

use crate::proof::ProofError;
use crate::signing::KeyError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("unsupported database URL `{0}`: expected postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    #[error("cannot create the directory {path} for the audit log: {source}")]
    Directory { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot open the audit log ({database}): {source}")]
    Open { database: String, source: sqlx::Error },
    #[error("cannot migrate the audit log ({database}): {source} (a PostgreSQL role that may not change the schema needs its owner to run `rdt db migrate --owner-url URL --app-role ROLE` first)")]
    Migrate { database: String, source: sqlx::migrate::MigrateError },
    #[error("audit log: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("no signing key: this log was opened read-only (without the key file), so it cannot sign a tree head")]
    NoSigner,
    #[error("the latest signed tree head (size {size}) does not match its stored frontier or signature; run `rdt audit verify`")]
    HeadFrontierMismatch { size: u64 },
    #[error("audit entry {seq} cannot be read: {message}")]
    Corrupt { seq: u64, message: String },
    #[error("audit entry #{0} does not exist")]
    NoSuchEntry(u64),
    #[error("the tree-head witness file {0}")]
    Witness(String),
}
