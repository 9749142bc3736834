//! [`AuditLog`]: the log in its database, SQLite (embedded default) or PostgreSQL.
//!
//! The log lives in the same database as the journey store, in its own tables
//! (`audit_entries`, `audit_tree_heads`) created by its own migrations (versions
//! 1000 and up, so both crates share sqlx's migration table). Only appends write:
//! the tables refuse `UPDATE` and `DELETE` by trigger on both databases, and on
//! PostgreSQL an application role can be given only `SELECT, INSERT`
//! ([`postgres_append_only_grants`]).
//!
//! One append is one transaction that holds the log's write lock (SQLite
//! `BEGIN IMMEDIATE`; PostgreSQL a transaction-scoped advisory lock), reads the last
//! entry, and inserts the new ones after it. So concurrent writers (the web, a CLI
//! import) interleave whole batches, and a process killed mid-append leaves either
//! the whole batch or nothing: the log keeps verifying.
//!
//! Durability: SQLite runs in WAL mode with `synchronous = FULL` on the log's
//! connections, so a committed entry survives power loss, not just a crash (the
//! journey store's NORMAL would lose the last commits on power loss: re-importable
//! there, not here). Batching (`append_batch`) amortises the fsync.

mod postgres;
mod schema;
mod sqlite;

pub use schema::postgres_migrations_pending;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::canonical::entry_text;
use crate::digest::Digest;
use crate::entry::{AuditEntry, EntryKind, NewEntry, Seq};
use crate::error::AuditError;
use crate::merkle::{leaf_hash, Frontier, MerkleTree};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::signing::{HeadSigner, SignedTreeHead, TreeHead, TrustedKeys};
use crate::verify::{self, VerifyReport};

/// Rows read per query when scanning the whole log.
const PAGE: i64 = 20_000;

/// Entries per range `verify` reads at once.
const VERIFY_PAGE: u64 = 10_000;

/// When `append` signs a tree head by itself (besides [`AuditLog::sign_head`] on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningPolicy {
    /// Sign once this many entries have been appended since the last head.
    pub every_entries: u64,
    /// Sign when the last head is older than this and entries came since.
    pub every: Duration,
}

impl Default for SigningPolicy {
    fn default() -> Self {
        SigningPolicy { every_entries: 1_000, every: Duration::from_secs(60) }
    }
}

impl SigningPolicy {
    /// Sign only when asked ([`AuditLog::sign_head`]): for benchmarks and tests.
    pub fn on_demand() -> Self {
        SigningPolicy { every_entries: u64::MAX, every: Duration::MAX }
    }
}

/// An entry as stored: its bytes (canonical JSON) and the leaf hash stored beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: Seq,
    pub kind: String,
    pub text: String,
    /// The leaf hash as stored (not recomputed: `verify` compares the two).
    pub leaf_hash: Vec<u8>,
}

impl StoredEntry {
    /// The typed entry.
    pub fn parse(&self) -> Result<AuditEntry, AuditError> {
        serde_json::from_str(&self.text).map_err(|e| AuditError::Corrupt { seq: self.seq.0, message: e.to_string() })
    }

    /// The leaf hash of the stored bytes.
    pub fn computed_leaf_hash(&self) -> Digest {
        leaf_hash(self.text.as_bytes())
    }
}

/// An entry with its inclusion proof ([`AuditLog::entry_proof`]).
#[derive(Debug, Clone)]
pub struct EntryProof {
    pub stored: StoredEntry,
    /// The leaf hash of the stored bytes, and whether the stored leaf hash is it.
    pub leaf: Digest,
    pub leaf_matches: bool,
    /// The tree proved against: its size and root.
    pub tree_size: u64,
    pub root: Digest,
    pub proof: InclusionProof,
    /// Whether the proof takes the leaf to the root.
    pub proof_ok: bool,
    /// The signed head of that tree, when there is one.
    pub head: Option<SignedTreeHead>,
}

impl EntryProof {
    /// The head, if any, names this root, its signature is valid and its key is one
    /// `trusted` holds: a head signed by another key proves nothing (anyone can sign).
    pub fn head_ok(&self, trusted: &TrustedKeys) -> bool {
        self.head
            .as_ref()
            .is_none_or(|h| h.head.root == self.root && h.signature_valid() && trusted.contains(&h.public_key))
    }

    /// Leaf, proof and head (by a trusted key) all check.
    pub fn verified(&self, trusted: &TrustedKeys) -> bool {
        self.leaf_matches && self.proof_ok && self.head_ok(trusted)
    }

    /// The proof as JSON (`rdt audit show --json`): the entry, its leaf hash and
    /// whether the stored one matches, the inclusion proof, root, signed head and verdict.
    pub fn json(&self, trusted: &TrustedKeys) -> Result<serde_json::Value, AuditError> {
        let entry: serde_json::Value = serde_json::from_str(&self.stored.text)
            .map_err(|e| AuditError::Corrupt { seq: self.stored.seq.0, message: e.to_string() })?;
        Ok(serde_json::json!({
            "entry": entry,
            "leaf_hash": self.leaf,
            "stored_leaf_hash_matches": self.leaf_matches,
            "inclusion_proof": self.proof,
            "root": self.root,
            "signed_tree_head": self.head,
            "signed_by_trusted_key": self.head.as_ref().map(|h| trusted.contains(&h.public_key)),
            "verified": self.verified(trusted),
        }))
    }

    /// The proof for a terminal (`rdt audit show`): the entry, its leaf hash, the
    /// tree or signed head, the proof's hashes (deepest first) and the verdict.
    pub fn text(&self, trusted: &TrustedKeys) -> Result<String, AuditError> {
        use std::fmt::Write as _;
        let corrupt = |e: serde_json::Error| AuditError::Corrupt { seq: self.stored.seq.0, message: e.to_string() };
        let entry: serde_json::Value = serde_json::from_str(&self.stored.text).map_err(corrupt)?;
        let mut out = serde_json::to_string_pretty(&entry).map_err(corrupt)? + "\n";
        let differs = if self.leaf_matches { "" } else { "  (DIFFERS from the stored leaf hash)" };
        let _ = writeln!(out, "leaf hash   {}{differs}", self.leaf);
        let _ = match &self.head {
            Some(h) => {
                let time = crate::entry::time_format::format(&h.head.time);
                writeln!(out, "tree head   size {} root {} signed {time} by {}", h.head.size, h.head.root, h.public_key)
            }
            None => writeln!(out, "tree        size {} root {} (not a signed head)", self.tree_size, self.root),
        };
        let _ = writeln!(out, "inclusion proof ({} hashes, deepest first):", self.proof.path.len());
        for h in &self.proof.path {
            let _ = writeln!(out, "  {h}");
        }
        if let Some(h) = self.head.as_ref().filter(|h| !trusted.contains(&h.public_key)) {
            let _ = writeln!(out, "the signed head's key {} is not a trusted key", h.public_key);
        }
        let _ = writeln!(out, "{}", if self.verified(trusted) { "proof: verified" } else { "proof: FAILED" });
        Ok(out)
    }
}

/// A stored tree head with the frontier kept beside it.
#[derive(Debug, Clone)]
pub(crate) struct HeadRow {
    pub id: i64,
    pub sth: SignedTreeHead,
    pub frontier: Vec<u8>,
}

/// One entry ready to insert.
pub(crate) struct EntryRow {
    pub seq: i64,
    pub kind: &'static str,
    pub text: String,
    pub leaf_hash: Digest,
}

/// The audit log of one install.
#[derive(Clone)]
pub struct AuditLog {
    backend: Backend,
    signer: Option<HeadSigner>,
    policy: SigningPolicy,
    /// Where signed heads are also written, outside the database.
    witness: Option<crate::witness::HeadWitness>,
    /// The install's verified-digest records, which its model registry hashes weight
    /// files through (none unless opened for a data directory).
    digests: crate::file_digest::DigestRecords,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// An open append transaction holding the log's write lock.
enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl AuditLog {
    /// Opens the log at `url` (`sqlite:///path` or `postgres://...`), creating and
    /// migrating its tables on first use. Without a signer: call
    /// [`AuditLog::with_signer`] to sign heads.
    pub async fn open(url: &str) -> Result<Self, AuditError> {
        Self::connect(url, true).await
    }

    /// Opens the log without running migrations: for a PostgreSQL application role
    /// that may only `SELECT` and `INSERT` (the schema owner migrated).
    pub async fn open_unmigrated(url: &str) -> Result<Self, AuditError> {
        Self::connect(url, false).await
    }

    /// The log of an install: opens `url`, loads (creating on first use) the signing
    /// key under `data_dir/keys`, and witnesses every signed head in
    /// `data_dir/audit-heads.jsonl` ([`crate::witness`]).
    ///
    /// When the trusted keys are pinned outside the data directory
    /// ([`crate::signing::TRUSTED_KEYS_ENV`]), a signing key that is not among them is
    /// refused: heads signed by a key someone put in the data directory would look
    /// valid to anyone who trusts the directory.
    pub async fn open_for_data_dir(url: &str, data_dir: &Path) -> Result<Self, AuditError> {
        let (signer, _created) = HeadSigner::load_or_create(data_dir)?;
        if let Some(pin) = TrustedKeys::pinned()? {
            if !pin.contains(&signer.public_key_hex()) {
                return Err(crate::signing::KeyError::Untrusted {
                    key: signer.public_key_hex(),
                    path: crate::signing::key_path(data_dir),
                }
                .into());
            }
        }
        let witness = crate::witness::HeadWitness::at(data_dir.join(crate::witness::WITNESS_FILE));
        let digests = crate::file_digest::DigestRecords::in_data_dir(data_dir);
        Ok(Self::open(url).await?.with_signer(signer).with_witness(witness).with_digest_records(digests))
    }

    /// Hashes model files through `digests` ([`crate::ModelRegistry::verify_file`] and
    /// the other loaders' checks).
    pub fn with_digest_records(mut self, digests: crate::file_digest::DigestRecords) -> Self {
        self.digests = digests;
        self
    }

    /// The install's verified-digest records (none when opened without a data directory).
    pub fn digest_records(&self) -> &crate::file_digest::DigestRecords {
        &self.digests
    }

    /// Also writes every signed head to `witness`, and verifies against its heads.
    pub fn with_witness(mut self, witness: crate::witness::HeadWitness) -> Self {
        self.witness = Some(witness);
        self
    }

    pub fn witness(&self) -> Option<&crate::witness::HeadWitness> {
        self.witness.as_ref()
    }

    async fn connect(url: &str, migrate: bool) -> Result<Self, AuditError> {
        let url = url.trim();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::open(url, migrate).await?)
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::open(url, migrate).await?)
        } else {
            return Err(AuditError::UnsupportedUrl(redact(url)));
        };
        Ok(AuditLog { backend, signer: None, policy: SigningPolicy::default(), witness: None, digests: Default::default() })
    }

    pub fn with_signer(mut self, signer: HeadSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    pub fn with_policy(mut self, policy: SigningPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn signer(&self) -> Option<&HeadSigner> {
        self.signer.as_ref()
    }

    /// Which database: `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Appends one entry; returns its sequence number.
    pub async fn append(&self, entry: NewEntry) -> Result<Seq, AuditError> {
        let seqs = self.append_batch(vec![entry]).await?;
        Ok(seqs[0])
    }

    /// Appends entries in one transaction (one durable commit), in order.
    pub async fn append_batch(&self, entries: Vec<NewEntry>) -> Result<Vec<Seq>, AuditError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let tail = tx.tail().await?;
        let (mut next, mut prev) = match tail {
            Some((seq, leaf)) => (seq + 1, Some(leaf)),
            None => (0, None),
        };
        let now = Utc::now();
        let mut rows = Vec::with_capacity(entries.len());
        let mut seqs = Vec::with_capacity(entries.len());
        for new in entries {
            let entry = AuditEntry::place(new, Seq(next), prev, now);
            let text = entry_text(&entry);
            let leaf = leaf_hash(text.as_bytes());
            rows.push(EntryRow { seq: next as i64, kind: entry.kind().as_str(), text, leaf_hash: leaf });
            seqs.push(Seq(next));
            prev = Some(leaf);
            next += 1;
        }
        tx.insert_entries(&rows).await?;
        let due = match (&self.signer, tx.last_head().await?) {
            (None, _) => false,
            // No head yet: only the count rule applies (there is no time to age from).
            (Some(_), None) => next >= self.policy.every_entries,
            (Some(_), Some(head)) => {
                let age = (now - head.sth.head.time).to_std().unwrap_or_default();
                next - head.sth.head.size >= self.policy.every_entries || age >= self.policy.every
            }
        };
        tx.commit().await?;
        if due {
            // Signing is its own transaction: an append must not fail because a
            // head could not be signed; the next append (or `verify`) sees it.
            if let Err(e) = self.sign_head().await {
                tracing::warn!("audit log: could not sign a tree head after appending: {e}");
            }
        }
        Ok(seqs)
    }

    /// Signs a tree head over the whole log now and stores it.
    pub async fn sign_head(&self) -> Result<SignedTreeHead, AuditError> {
        let signer = self.signer.as_ref().ok_or(AuditError::NoSigner)?;
        let mut tx = self.begin().await?;
        let size = tx.tail().await?.map_or(0, |(seq, _)| seq + 1);
        let last = tx.last_head().await?;
        let (mut frontier, next_id) = match &last {
            Some(row) => {
                let frontier = Frontier::from_bytes(row.sth.head.size, &row.frontier)
                    .filter(|f| f.root() == row.sth.head.root && row.sth.signature_valid())
                    .ok_or(AuditError::HeadFrontierMismatch { size: row.sth.head.size })?;
                (frontier, row.id + 1)
            }
            None => (Frontier::default(), 1),
        };
        let mut from = frontier.size();
        while from < size {
            let leaves = tx.leaves(from, size.min(from + PAGE as u64)).await?;
            if leaves.is_empty() {
                break;
            }
            from += leaves.len() as u64;
            for leaf in leaves {
                frontier.push(leaf);
            }
        }
        let sth = signer.sign(TreeHead::new(frontier.size(), frontier.root(), Utc::now()));
        tx.insert_head(next_id, &sth, &frontier.to_bytes()).await?;
        tx.commit().await?;
        if let Some(witness) = &self.witness {
            witness.append(&sth)?;
        }
        Ok(sth)
    }

    /// Signs a head when entries came after the latest one (or none is signed yet and
    /// the log is not empty); `None` when the latest head already covers the log. What
    /// a server calls on a timer, so a quiet log's tail does not stay unsigned.
    pub async fn sign_if_behind(&self) -> Result<Option<SignedTreeHead>, AuditError> {
        let size = self.size().await?;
        let signed = self.latest_head().await?.map_or(0, |h| h.head.size);
        if size == 0 || signed >= size {
            return Ok(None);
        }
        self.sign_head().await.map(Some)
    }

    async fn begin(&self) -> Result<Tx, AuditError> {
        Ok(match &self.backend {
            Backend::Sqlite(pool) => Tx::Sqlite(sqlite::begin(pool).await?),
            Backend::Postgres(pool) => Tx::Postgres(postgres::begin(pool).await?),
        })
    }

    /// Number of entries.
    pub async fn size(&self) -> Result<u64, AuditError> {
        let tail = match &self.backend {
            Backend::Sqlite(pool) => sqlite::tail(&mut *pool.acquire().await?).await?,
            Backend::Postgres(pool) => postgres::tail(&mut *pool.acquire().await?).await?,
        };
        Ok(tail.map_or(0, |(seq, _)| seq + 1))
    }

    /// One entry.
    pub async fn entry(&self, seq: Seq) -> Result<Option<StoredEntry>, AuditError> {
        let mut rows = self.page(seq.0 as i64 - 1, 1).await?;
        Ok(rows.pop().filter(|r| r.seq == seq))
    }

    /// Up to `limit` entries with `seq > after` (`after = -1` for the start), in order.
    pub async fn page(&self, after: i64, limit: i64) -> Result<Vec<StoredEntry>, AuditError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::page(pool, after, limit).await,
            Backend::Postgres(pool) => postgres::page(pool, after, limit).await,
        }
    }

    /// Every entry of the given kinds, in order (the registry reads its history so).
    pub async fn entries_of_kinds(&self, kinds: &[EntryKind]) -> Result<Vec<StoredEntry>, AuditError> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.as_str().to_owned()).collect();
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::entries_of_kinds(pool, &kinds).await,
            Backend::Postgres(pool) => postgres::entries_of_kinds(pool, &kinds).await,
        }
    }

    /// Every signed tree head, oldest first.
    pub async fn heads(&self) -> Result<Vec<SignedTreeHead>, AuditError> {
        Ok(self.head_rows().await?.into_iter().map(|r| r.sth).collect())
    }

    pub(crate) async fn head_rows(&self) -> Result<Vec<HeadRow>, AuditError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::heads(pool).await,
            Backend::Postgres(pool) => postgres::heads(pool).await,
        }
    }

    pub async fn latest_head(&self) -> Result<Option<SignedTreeHead>, AuditError> {
        Ok(self.heads().await?.pop())
    }

    /// Every entry in order, page by page (for `verify` and export).
    pub async fn for_each_entry<F>(&self, mut f: F) -> Result<(), AuditError>
    where
        F: FnMut(StoredEntry),
    {
        let mut after = -1i64;
        loop {
            let rows = self.page(after, PAGE).await?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.seq.0 as i64;
            let done = (rows.len() as i64) < PAGE;
            rows.into_iter().for_each(&mut f);
            if done {
                return Ok(());
            }
        }
    }

    /// The Merkle tree over the stored leaf hashes of the first `size` entries.
    /// O(size): proofs are for `rdt audit show` and auditors, not a hot path.
    pub async fn tree(&self, size: u64) -> Result<MerkleTree, AuditError> {
        let mut tree = MerkleTree::new();
        let mut from = 0;
        while from < size {
            let leaves = match &self.backend {
                Backend::Sqlite(pool) => sqlite::leaves(&mut *pool.acquire().await?, from, size.min(from + PAGE as u64)).await?,
                Backend::Postgres(pool) => {
                    postgres::leaves(&mut *pool.acquire().await?, from, size.min(from + PAGE as u64)).await?
                }
            };
            if leaves.is_empty() {
                break;
            }
            from += leaves.len() as u64;
            leaves.into_iter().for_each(|l| tree.push(l));
        }
        Ok(tree)
    }

    /// Proof that entry `seq` is in the tree of `tree_size` entries.
    pub async fn inclusion_proof(&self, seq: Seq, tree_size: u64) -> Result<InclusionProof, AuditError> {
        Ok(self.tree(tree_size).await?.inclusion_proof(seq.0, tree_size)?)
    }

    /// Entry `seq` (`None`: no such entry) with its inclusion proof: against the tree
    /// of `tree_size` entries when given (signed when a head has that size), else the
    /// latest signed head that covers the entry, else the whole log (unsigned, and
    /// said so). What `rdt audit show` and the auditor's trace page show.
    pub async fn entry_proof(&self, seq: Seq, tree_size: Option<u64>) -> Result<Option<EntryProof>, AuditError> {
        let Some(stored) = self.entry(seq).await? else { return Ok(None) };
        let head = self.latest_head().await?;
        let (tree_size, head) = match (tree_size, head) {
            (Some(n), head) => (n, head.filter(|h| h.head.size == n)),
            (None, Some(h)) if h.head.size > seq.0 => (h.head.size, Some(h)),
            _ => (self.size().await?, None),
        };
        let tree = self.tree(tree_size).await?;
        let proof = tree.inclusion_proof(seq.0, tree_size)?;
        let leaf = stored.computed_leaf_hash();
        let root = tree.root(tree_size);
        let leaf_matches = stored.leaf_hash == leaf.0;
        let proof_ok = proof.verify(&leaf, &root);
        Ok(Some(EntryProof { stored, leaf, leaf_matches, tree_size, root, proof, proof_ok, head }))
    }

    /// Proof that the tree of `new_size` entries extends the one of `old_size`.
    pub async fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof, AuditError> {
        Ok(self.tree(new_size).await?.consistency_proof(old_size, new_size)?)
    }

    /// Recomputes the whole tree from the stored entries and checks every entry,
    /// every signed head (against `trusted`) and the consistency between heads.
    ///
    /// Reads pages of entries on several connections at once while checking the
    /// ones already read: reading, not hashing, is what a million entries cost.
    pub async fn verify(&self, trusted: &TrustedKeys) -> Result<VerifyReport, AuditError> {
        const IN_FLIGHT: usize = 3;
        let mut heads = self.heads().await?;
        // The witnessed heads too: a head deleted from the database with the entries it
        // covered is still in the witness, and names the removed range.
        let witnessed = match &self.witness {
            Some(w) => w.heads()?,
            None => Vec::new(),
        };
        let witnessed_count = witnessed.len();
        for w in witnessed {
            if !heads.iter().any(|h| h.head.size == w.head.size && h.head.root == w.head.root) {
                heads.push(w);
            }
        }
        heads.sort_by_key(|h| (h.head.size, h.head.time));
        let size = self.size().await?;
        let mut checker = verify::Checker::new();
        let mut pending = std::collections::VecDeque::new();
        let mut next = 0u64;
        let fetch = |from: u64| {
            let log = self.clone();
            tokio::spawn(async move { log.range(from, from + VERIFY_PAGE).await })
        };
        loop {
            while pending.len() < IN_FLIGHT && next < size {
                pending.push_back(fetch(next));
                next += VERIFY_PAGE;
            }
            let Some(page) = pending.pop_front() else { break };
            let rows = page.await.map_err(|e| AuditError::Corrupt { seq: next, message: format!("reader task failed: {e}") })??;
            for row in rows {
                checker.entry(row);
            }
        }
        let mut report = checker.finish(&heads, trusted);
        report.witnessed_heads = witnessed_count;
        Ok(report)
    }

    /// Entries with `from <= seq < to`, in order.
    pub async fn range(&self, from: u64, to: u64) -> Result<Vec<StoredEntry>, AuditError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::range(pool, from as i64, to as i64).await,
            Backend::Postgres(pool) => postgres::range(pool, from as i64, to as i64).await,
        }
    }

    /// Closes the connections (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    async fn tail(&mut self) -> Result<Option<(u64, Digest)>, AuditError> {
        match self {
            Tx::Sqlite(tx) => sqlite::tail(tx).await,
            Tx::Postgres(tx) => postgres::tail(tx).await,
        }
    }

    async fn insert_entries(&mut self, rows: &[EntryRow]) -> Result<(), AuditError> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert_entries(tx, rows).await,
            Tx::Postgres(tx) => postgres::insert_entries(tx, rows).await,
        }
    }

    async fn last_head(&mut self) -> Result<Option<HeadRow>, AuditError> {
        match self {
            Tx::Sqlite(tx) => sqlite::last_head(tx).await,
            Tx::Postgres(tx) => postgres::last_head(tx).await,
        }
    }

    async fn leaves(&mut self, from: u64, to: u64) -> Result<Vec<Digest>, AuditError> {
        match self {
            Tx::Sqlite(tx) => sqlite::leaves(tx, from, to).await,
            Tx::Postgres(tx) => postgres::leaves(tx, from, to).await,
        }
    }

    async fn insert_head(&mut self, id: i64, sth: &SignedTreeHead, frontier: &[u8]) -> Result<(), AuditError> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert_head(tx, id, sth, frontier).await,
            Tx::Postgres(tx) => postgres::insert_head(tx, id, sth, frontier).await,
        }
    }

    async fn commit(self) -> Result<(), AuditError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The statements that let a PostgreSQL role append to and read the log and do
/// nothing else. Run them as the schema owner after migrating; the role then opens
/// the log with [`AuditLog::open_unmigrated`]. (The triggers refuse `UPDATE` and
/// `DELETE` even to the owner; these grants mean the role could not even drop them.)
pub fn postgres_append_only_grants(role: &str) -> Vec<String> {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    vec![
        format!("GRANT SELECT, INSERT ON audit_entries, audit_tree_heads TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_tree_heads FROM {role}"),
    ]
}

pub(crate) fn parse_head_row(
    id: i64,
    size: i64,
    time: &str,
    root: &[u8],
    frontier: Vec<u8>,
    public_key: String,
    signature: String,
) -> Result<HeadRow, AuditError> {
    let corrupt = |message: String| AuditError::Corrupt { seq: size as u64, message };
    let time: DateTime<Utc> =
        crate::entry::time_format::parse(time).map_err(|e| corrupt(format!("tree head {id} time: {e}")))?;
    let root = Digest::from_slice(root).ok_or_else(|| corrupt(format!("tree head {id} root is not 32 bytes")))?;
    Ok(HeadRow {
        id,
        sth: SignedTreeHead { head: TreeHead { size: size as u64, time, root }, public_key, signature },
        frontier,
    })
}

/// Hides the password of a connection URL, so errors never carry it.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://rdt:secret@h:5432/db"), "postgres://rdt:***@h:5432/db");
        assert_eq!(redact("sqlite:///x/y.sqlite"), "sqlite:///x/y.sqlite");
    }

    #[test]
    fn grants_quote_the_role() {
        let g = postgres_append_only_grants("app\"x");
        assert!(g[0].ends_with("TO \"app\"\"x\""));
    }
}
