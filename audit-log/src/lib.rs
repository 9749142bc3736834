//! `audit-log`: the tamper-evident trail of RDT and the model registry it governs.
//!
//! Who asked what, which tools ran on which data, which model and prompt versions
//! answered and which cohort was retrieved: every step is an [`AuditEntry`] appended
//! to an RFC 6962 Merkle tree, stored in the install's database (SQLite or
//! PostgreSQL) beside the journey store, with signed tree heads that let an auditor
//! trust the trail years later.
//!
//! Map (one idea per file):
//! - `digest.rs`: [`Digest`], the SHA-256 value used for every hash.
//! - `entry.rs`: [`AuditEntry`], [`NewEntry`], [`EntryBody`], [`EntryKind`],
//!   [`Principal`], [`Role`], [`Seq`] and the typed parts (tool call, cohort, ...).
//! - `canonical.rs`: the canonical byte form an entry is stored and hashed in
//!   (sorted-key compact JSON with `"v": 1`; specified there).
//! - `merkle.rs`: leaf/node hashes, [`MerkleTree`] and the compact [`Frontier`].
//! - `proof.rs`: [`InclusionProof`], [`ConsistencyProof`]: making and checking them.
//! - `signing.rs`: [`TreeHead`], [`SignedTreeHead`], the ed25519 [`HeadSigner`] and
//!   its key file, [`TrustedKeys`].
//! - `store/`: [`AuditLog`]: open, append, sign, read, prove, verify;
//!   `sqlite.rs` and `postgres.rs` hold the SQL.
//! - `verify.rs`: [`VerifyReport`]: the whole log recomputed, the first bad entry named.
//! - `export_fhir.rs`: FHIR R4 AuditEvent + Provenance.
//! - `governance.rs`: [`ModelRegistry`]: pin / activate / roll back / retire model
//!   artifacts, and the check that only pinned artifacts load.
//! - `file_digest.rs`: [`DigestRecords`]: a model file's sha256, hashed in full once
//!   and reused while the file provably has not changed (every weight check uses it).
//!
//! Architecture invariants: this crate depends on no other RDT crate; nothing but
//! [`AuditLog::append_batch`] and [`AuditLog::sign_head`] writes to its tables, and
//! they only insert (the database refuses UPDATE and DELETE by trigger).

mod canonical;
mod digest;
mod entry;
mod error;
pub mod file_digest;
pub mod export_fhir;
pub mod governance;
mod merkle;
mod proof;
mod signing;
mod store;
mod verify;
pub mod witness;

pub use canonical::{canonical_bytes_of, entry_text, to_canonical_bytes};
pub use digest::{BadDigest, Digest};
pub use entry::{
    time_format, ArtifactKind, ArtifactRef, AuditEntry, CohortRecord, DriftNoticeRecord, EntryBody, EntryKind, GovernanceChange,
    ImportRecord, TerminologyRecord, ImportedFile, ModelLoad, ModelVersions, Neighbour, NewEntry, Principal, Role, Seq, SessionId, ToolCall, TurnLink,
    UnknownArtifactKind, UnknownRole, FORMAT_VERSION,
};
pub use error::AuditError;
pub use file_digest::{DigestRecords, DigestSource, HashedFile, ReadFile};
pub use governance::{Artifact, ArtifactStatus, GovernanceError, ModelRegistry, RegistryOutcome, RegistryState};
pub use merkle::{empty_root, leaf_hash, node_hash, Frontier, MerkleTree};
pub use proof::{ConsistencyProof, InclusionProof, ProofError};
pub use signing::{key_path, public_key_path, HeadSigner, KeyError, SignedTreeHead, TreeHead, TrustedKeys, TRUSTED_KEYS_ENV};
pub use store::{postgres_append_only_grants, postgres_migrations_pending, AuditLog, EntryProof, SigningPolicy, StoredEntry};
pub use verify::{Problem, ProblemKind, VerifyReport};
pub use witness::{HeadWitness, WITNESS_FILE};
