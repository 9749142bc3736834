//! `verify`: recompute the whole log from its stored bytes and say exactly where it
//! no longer matches what was written and signed.
//!
//! Three layers, each catching what the one before cannot:
//! 1. per entry: the bytes must hash to the leaf hash stored with them, say the
//!    position they sit at (`seq`), and name the leaf hash of the entry before them
//!    (`prev`). An edit, a deletion, an insertion or a swap done with plain SQL
//!    breaks one of these at the entry concerned, which is named.
//! 2. per signed tree head: its signature must verify under a trusted key, and its
//!    root must equal the root recomputed from the entries. Someone who rewrites
//!    entries *and* every hash and chain link after them still cannot sign, so the
//!    first head over the rewritten range fails (the entry is then known only to lie
//!    between the last good head and that one).
//! 3. between heads: each head must be a consistency-proven extension of the one
//!    before (RFC 9162 §2.1.4), so history signed once is never rewritten later.
//!
//! Entries after the latest signed head are covered by layer 1 only; the report
//! says how many (`unsigned_tail`). A tampered log is a report, not an error.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::entry::Seq;
use crate::merkle::{leaf_hash, MerkleTree};
use crate::signing::{SignedTreeHead, TrustedKeys};
use crate::store::StoredEntry;

/// Problems kept in a report; one tampering can cascade into one per later entry.
const MAX_PROBLEMS: usize = 1_000;

/// What kind of damage a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// No entry is stored at this position.
    Missing,
    /// The entry's bytes do not hash to the leaf hash stored with them.
    Changed,
    /// The entry at this position was written for another position.
    Moved,
    /// This entry was inserted: the entry first written here sits later.
    Inserted,
    /// The next entry recorded a different leaf hash for this one.
    ChainBroken,
    /// The entry's bytes are not a readable entry.
    Unreadable,
    /// The kind column disagrees with the entry's bytes.
    KindMismatch,
    /// A tree head's signature does not verify.
    HeadSignature,
    /// A tree head is signed by a key that is not trusted.
    HeadUntrusted,
    /// A tree head's root differs from the root of the stored entries.
    HeadRootMismatch,
    /// A tree head covers more entries than are stored: entries were removed.
    HeadBeyondLog,
    /// A tree head is not a consistent extension of the one before it.
    HeadsInconsistent,
}

/// One thing that is wrong, with the entry it concerns when that is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<Seq>,
    /// For head problems: the size the head claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_size: Option<u64>,
    pub kind: ProblemKind,
    pub message: String,
}

/// The outcome of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Entries read.
    pub size: u64,
    /// Root recomputed from the stored entries.
    pub root: Digest,
    pub heads_checked: usize,
    /// Size of the latest signed head, if any.
    pub latest_signed_size: Option<u64>,
    /// Entries after the latest signed head (protected by the hash chain only).
    pub unsigned_tail: u64,
    /// Entry problems by position, then head problems; at most 1,000.
    pub problems: Vec<Problem>,
    /// How many problems there were in all (more than `problems.len()` when capped).
    pub problem_count: usize,
    /// Heads read from the witness file outside the database (checked with the rest).
    pub witnessed_heads: usize,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    /// The report as JSON (`rdt audit verify --json`): the verdict and the first bad
    /// entry beside the full report.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"ok": self.is_ok(), "first_bad_entry": self.first_bad_entry(), "report": self})
    }

    /// The first entry known to be bad: the answer to "where was it tampered with?".
    pub fn first_bad_entry(&self) -> Option<Seq> {
        self.problems.iter().filter_map(|p| p.seq).min()
    }

    /// The report for a terminal (`rdt audit verify`): "ok" with the size, root, heads
    /// checked and any unsigned tail; or "FAILED" with the first bad entry and each
    /// problem.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if self.is_ok() {
            let _ = writeln!(
                out,
                "ok: {} entries, root {}, {} signed tree heads checked ({} from the witness file)",
                self.size, self.root, self.heads_checked, self.witnessed_heads
            );
            if self.unsigned_tail > 0 {
                let _ = writeln!(
                    out,
                    "note: the last {} entries are not yet under a signed tree head (`rdt audit sign` signs one now)",
                    self.unsigned_tail
                );
            }
            return out;
        }
        let _ = writeln!(out, "FAILED: {} problem(s) in {} entries", self.problem_count, self.size);
        if let Some(seq) = self.first_bad_entry() {
            let _ = writeln!(out, "first bad entry: {seq}");
        }
        for p in &self.problems {
            let _ = writeln!(out, "  {:?}: {}", p.kind, p.message);
        }
        if self.problem_count > self.problems.len() {
            let _ = writeln!(out, "  ... and {} more", self.problem_count - self.problems.len());
        }
        out
    }

    /// The first problem, in log order.
    pub fn first_problem(&self) -> Option<&Problem> {
        let first = self.first_bad_entry();
        self.problems.iter().find(|p| p.seq == first && first.is_some()).or_else(|| self.problems.first())
    }
}

/// The few fields `verify` reads from each entry; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Header {
    seq: u64,
    #[serde(default)]
    prev: Option<Digest>,
    kind: String,
}

/// Checks entries as they stream past, then the heads.
pub(crate) struct Checker {
    expected: u64,
    prev_leaf: Option<Digest>,
    tree: MerkleTree,
    problems: Vec<Problem>,
    problem_count: usize,
}

impl Checker {
    pub(crate) fn new() -> Self {
        Checker { expected: 0, prev_leaf: None, tree: MerkleTree::new(), problems: Vec::new(), problem_count: 0 }
    }

    fn report(&mut self, seq: Option<u64>, head_size: Option<u64>, kind: ProblemKind, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { seq: seq.map(Seq), head_size, kind, message });
        }
    }

    pub(crate) fn entry(&mut self, row: StoredEntry) {
        let s = row.seq.0;
        if s != self.expected {
            let message = if s == self.expected + 1 {
                format!("entry #{} is missing (the next stored entry is #{s})", self.expected)
            } else {
                format!("entries #{}..#{} are missing (the next stored entry is #{s})", self.expected, s - 1)
            };
            self.report(Some(self.expected), None, ProblemKind::Missing, message);
        }
        let computed = leaf_hash(row.text.as_bytes());
        if row.leaf_hash != computed.0 {
            let message = format!(
                "entry #{s} was changed after it was written: its bytes hash to {}, the leaf hash stored with it is {}",
                computed.short(),
                hex::encode(row.leaf_hash.get(..6).unwrap_or(&row.leaf_hash)),
            );
            self.report(Some(s), None, ProblemKind::Changed, message);
        }
        match serde_json::from_str::<Header>(&row.text) {
            Err(e) => self.report(Some(s), None, ProblemKind::Unreadable, format!("entry #{s} is not a readable entry: {e}")),
            Ok(header) => {
                if header.seq > s {
                    let message = format!(
                        "position #{s} holds entry #{}: entries before it were deleted, or entries were reordered",
                        header.seq
                    );
                    self.report(Some(s), None, ProblemKind::Moved, message);
                } else if header.seq < s {
                    let message = format!(
                        "entry #{} was inserted (or moved): the entry first written at #{} now sits at #{s}",
                        header.seq, header.seq
                    );
                    self.report(Some(header.seq), None, ProblemKind::Inserted, message);
                } else if header.prev != self.prev_leaf {
                    let message = match (s, header.prev) {
                        (0, _) => "entry #0 claims to follow an earlier entry: entries were deleted before it".to_owned(),
                        (_, Some(recorded)) => format!(
                            "entry #{} is not the entry #{s} followed when it was written: it hashes to {}, entry #{s} recorded {}",
                            s - 1,
                            self.prev_leaf.map(|d| d.short()).unwrap_or_else(|| "nothing".into()),
                            recorded.short()
                        ),
                        (_, None) => format!("entry #{s} records no predecessor: it was written as entry #0"),
                    };
                    let named = if s == 0 { 0 } else { s - 1 };
                    self.report(Some(named), None, ProblemKind::ChainBroken, message);
                }
                if header.kind != row.kind {
                    let message = format!(
                        "entry #{s}'s kind column says `{}` but the entry is `{}`",
                        row.kind, header.kind
                    );
                    self.report(Some(s), None, ProblemKind::KindMismatch, message);
                }
            }
        }
        self.tree.push(computed);
        self.prev_leaf = Some(computed);
        self.expected = s + 1;
    }

    pub(crate) fn finish(mut self, heads: &[SignedTreeHead], trusted: &TrustedKeys) -> VerifyReport {
        let len = self.tree.len();
        // The last head whose root matched, and the one before (for consistency).
        let mut last_good: Option<&SignedTreeHead> = None;
        let mut previous: Option<&SignedTreeHead> = None;
        for sth in heads {
            let size = sth.head.size;
            if !trusted.contains(&sth.public_key) {
                let message =
                    format!("the tree head of size {size} is signed by key {}, which is not trusted", sth.public_key);
                self.report(None, Some(size), ProblemKind::HeadUntrusted, message);
            } else if !sth.signature_valid() {
                let message = format!("the tree head of size {size} has a signature that does not verify");
                self.report(None, Some(size), ProblemKind::HeadSignature, message);
            }
            if size > len {
                let message = format!(
                    "a signed tree head covers {size} entries but the log holds {len}: entries #{len}..#{} were removed",
                    size - 1
                );
                self.report(Some(len), Some(size), ProblemKind::HeadBeyondLog, message);
            } else if self.tree.root(size) != sth.head.root {
                let from = last_good.map_or(0, |h| h.head.size);
                let message = format!(
                    "the entries differ from those signed in the tree head of size {size}: an entry in #{from}..#{} was changed, removed or inserted",
                    size.saturating_sub(1)
                );
                self.report(None, Some(size), ProblemKind::HeadRootMismatch, message);
            } else {
                last_good = Some(sth);
            }
            if let Some(prev) = previous {
                let consistent = prev.head.size <= size
                    && size <= len
                    && self
                        .tree
                        .consistency_proof(prev.head.size, size)
                        .is_ok_and(|p| p.verify(&prev.head.root, &sth.head.root));
                if !consistent {
                    let message = format!(
                        "the tree head of size {size} is not a consistent extension of the head of size {}",
                        prev.head.size
                    );
                    self.report(None, Some(size), ProblemKind::HeadsInconsistent, message);
                }
            }
            previous = Some(sth);
        }
        self.problems.sort_by_key(|p| (p.seq.is_none(), p.seq));
        let latest_signed_size = heads.last().map(|h| h.head.size);
        VerifyReport {
            size: len,
            root: self.tree.root(len),
            heads_checked: heads.len(),
            latest_signed_size,
            unsigned_tail: len - latest_signed_size.unwrap_or(0).min(len),
            problems: self.problems,
            problem_count: self.problem_count,
            witnessed_heads: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::entry_text;
    use crate::entry::{AuditEntry, EntryBody, NewEntry, Principal, Role};
    use crate::signing::{HeadSigner, TreeHead};

    /// A well-formed chain of `n` entries, as the store would hold it.
    fn chain(n: u64) -> Vec<StoredEntry> {
        let mut prev = None;
        (0..n)
            .map(|i| {
                let new = NewEntry::new(Principal::new("u", Role::Auditor), EntryBody::Question { question: format!("q{i}"), reading: None, follows: None });
                let entry = AuditEntry::place(new, Seq(i), prev, chrono::Utc::now());
                let text = entry_text(&entry);
                let leaf = leaf_hash(text.as_bytes());
                prev = Some(leaf);
                StoredEntry { seq: Seq(i), kind: "question".into(), text, leaf_hash: leaf.0.to_vec() }
            })
            .collect()
    }

    #[test]
    fn json_carries_the_verdict_and_the_first_bad_entry() {
        let good = check(chain(3), &[], &TrustedKeys::default()).json();
        assert_eq!(good["ok"], true);
        assert!(good["first_bad_entry"].is_null());
        assert_eq!(good["report"]["size"], 3);
        let mut rows = chain(3);
        rows[1].text.push(' ');
        let bad = check(rows, &[], &TrustedKeys::default()).json();
        assert_eq!(bad["ok"], false);
        assert_eq!(bad["first_bad_entry"], 1);
    }

    fn check(rows: Vec<StoredEntry>, heads: &[SignedTreeHead], trusted: &TrustedKeys) -> VerifyReport {
        let mut c = Checker::new();
        rows.into_iter().for_each(|r| c.entry(r));
        c.finish(heads, trusted)
    }

    fn head_over(rows: &[StoredEntry], size: usize, signer: &HeadSigner) -> SignedTreeHead {
        let tree = MerkleTree::from_leaves(rows[..size].iter().map(|r| leaf_hash(r.text.as_bytes())));
        signer.sign(TreeHead::new(size as u64, tree.root(size as u64), chrono::Utc::now()))
    }

    #[test]
    fn a_clean_chain_verifies_and_reports_its_unsigned_tail() {
        let signer = HeadSigner::from_seed([2; 32]);
        let rows = chain(9);
        let heads = [head_over(&rows, 4, &signer), head_over(&rows, 7, &signer)];
        let report = check(rows, &heads, &signer.trusted());
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!((report.size, report.heads_checked, report.unsigned_tail), (9, 2, 2));
    }

    #[test]
    fn edits_gaps_and_kind_changes_are_named() {
        let mut rows = chain(6);
        rows[2].text = rows[2].text.replace("q2", "q9");
        let report = check(rows, &[], &TrustedKeys::new());
        assert_eq!(report.first_bad_entry(), Some(Seq(2)));
        assert_eq!(report.first_problem().unwrap().kind, ProblemKind::Changed);

        let mut rows = chain(6);
        rows.remove(3);
        let report = check(rows, &[], &TrustedKeys::new());
        assert_eq!(report.first_bad_entry(), Some(Seq(3)));
        assert_eq!(report.first_problem().unwrap().kind, ProblemKind::Missing);

        let mut rows = chain(6);
        rows[4].kind = "answer".into();
        let report = check(rows, &[], &TrustedKeys::new());
        assert_eq!(report.first_bad_entry(), Some(Seq(4)));
        assert_eq!(report.first_problem().unwrap().kind, ProblemKind::KindMismatch);
    }

    #[test]
    fn heads_beyond_the_log_or_from_unknown_keys_are_reported() {
        let signer = HeadSigner::from_seed([2; 32]);
        let rows = chain(8);
        let heads = [head_over(&rows, 8, &signer)];
        let report = check(rows[..5].to_vec(), &heads, &signer.trusted());
        assert_eq!(report.first_bad_entry(), Some(Seq(5)));
        assert_eq!(report.first_problem().unwrap().kind, ProblemKind::HeadBeyondLog);

        let report = check(rows, &heads, &HeadSigner::from_seed([3; 32]).trusted());
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].kind, ProblemKind::HeadUntrusted);
    }
}
