//! Inclusion and consistency proofs (RFC 6962 §2.1.1–2.1.2; verification as in
//! RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! An inclusion proof shows that an entry is leaf `index` of the tree whose signed
//! root an auditor holds; a consistency proof shows that a later tree head extends an
//! earlier one, so nothing signed before was changed. Both are lists of node hashes,
//! deepest first, and a verifier needs only the hashes and the two tree sizes.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::merkle::{node_hash, split_point, MerkleTree};

/// Proof that the leaf at `leaf_index` is in the tree of `tree_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Digest>,
}

/// Proof that the tree of `new_size` leaves extends the tree of `old_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub path: Vec<Digest>,
}

/// Why a proof cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("entry {index} is not in a tree of {size} entries")]
    LeafOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than the log ({len} entries)")]
    SizeBeyondLog { size: u64, len: u64 },
    #[error("no consistency proof from size {old} to the smaller size {new}")]
    Shrinking { old: u64, new: u64 },
}

impl MerkleTree {
    /// `PATH(m, D[n])` of RFC 6962 §2.1.1.
    pub fn inclusion_proof(&self, leaf_index: u64, tree_size: u64) -> Result<InclusionProof, ProofError> {
        if tree_size > self.len() {
            return Err(ProofError::SizeBeyondLog { size: tree_size, len: self.len() });
        }
        if leaf_index >= tree_size {
            return Err(ProofError::LeafOutOfRange { index: leaf_index, size: tree_size });
        }
        let mut path = Vec::new();
        self.path(leaf_index, 0, tree_size, &mut path);
        Ok(InclusionProof { leaf_index, tree_size, path })
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Digest>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// `PROOF(m, D[n])` of RFC 6962 §2.1.2.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof, ProofError> {
        if new_size > self.len() {
            return Err(ProofError::SizeBeyondLog { size: new_size, len: self.len() });
        }
        if old_size > new_size {
            return Err(ProofError::Shrinking { old: old_size, new: new_size });
        }
        let mut path = Vec::new();
        if old_size > 0 {
            self.subproof(old_size, 0, new_size, true, &mut path);
        }
        Ok(ConsistencyProof { old_size, new_size, path })
    }

    fn subproof(&self, m: u64, start: u64, n: u64, complete: bool, out: &mut Vec<Digest>) {
        if m == n {
            if !complete {
                out.push(self.subtree(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, complete, out);
            out.push(self.subtree(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

impl InclusionProof {
    /// RFC 9162 §2.1.3.2: does `leaf` with this path hash up to `root`?
    pub fn verify(&self, leaf: &Digest, root: &Digest) -> bool {
        if self.leaf_index >= self.tree_size {
            return false;
        }
        let (mut fnode, mut snode) = (self.leaf_index, self.tree_size - 1);
        let mut r = *leaf;
        for p in &self.path {
            if snode == 0 {
                return false;
            }
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                if fnode & 1 == 0 {
                    while fnode & 1 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        snode == 0 && r == *root
    }
}

impl ConsistencyProof {
    /// RFC 9162 §2.1.4.2: is the tree with `new_root` an extension of the one with
    /// `old_root`? Equal sizes need an empty path and equal roots; an empty old
    /// tree is extended by every tree.
    pub fn verify(&self, old_root: &Digest, new_root: &Digest) -> bool {
        let (first, second) = (self.old_size, self.new_size);
        if first > second {
            return false;
        }
        if first == second {
            return self.path.is_empty() && old_root == new_root;
        }
        if first == 0 {
            return self.path.is_empty();
        }
        if self.path.is_empty() {
            return false;
        }
        let mut path = self.path.clone();
        if first.is_power_of_two() {
            path.insert(0, *old_root);
        }
        let (mut fnode, mut snode) = (first - 1, second - 1);
        while fnode & 1 == 1 {
            fnode >>= 1;
            snode >>= 1;
        }
        let (mut fr, mut sr) = (path[0], path[0]);
        for c in &path[1..] {
            if snode == 0 {
                return false;
            }
            if fnode & 1 == 1 || fnode == snode {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                if fnode & 1 == 0 {
                    while fnode & 1 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                }
            } else {
                sr = node_hash(&sr, c);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        fr == *old_root && sr == *new_root && snode == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn tree(n: u64) -> (MerkleTree, Vec<Digest>) {
        let leaves: Vec<Digest> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        (MerkleTree::from_leaves(leaves.iter().copied()), leaves)
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_leaf_or_root_fails() {
        let (t, leaves) = tree(33);
        for n in 1..=33 {
            let root = t.root(n);
            for m in 0..n {
                let p = t.inclusion_proof(m, n).unwrap();
                assert!(p.verify(&leaves[m as usize], &root), "m={m} n={n}");
                let other = leaves[((m + 1) % 33) as usize];
                assert!(!p.verify(&other, &root), "wrong leaf m={m} n={n}");
                assert!(!p.verify(&leaves[m as usize], &leaves[0]) || n == 1, "wrong root m={m} n={n}");
                let mut moved = p.clone();
                moved.leaf_index = (m + 1) % n;
                assert!(n == 1 || !moved.verify(&leaves[m as usize], &root), "wrong index m={m} n={n}");
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_changed_history_fails() {
        let (t, leaves) = tree(33);
        for n in 0..=33 {
            for m in 0..=n {
                let p = t.consistency_proof(m, n).unwrap();
                assert!(p.verify(&t.root(m), &t.root(n)), "m={m} n={n}");
            }
        }
        // A log whose leaf 2 was rewritten after size 5 was signed.
        let mut forged = leaves.clone();
        forged[2] = leaf_hash(b"rewritten");
        let f = MerkleTree::from_leaves(forged);
        for m in 3..=20 {
            let p = f.consistency_proof(m, 20).unwrap();
            assert!(!p.verify(&t.root(m), &f.root(20)), "m={m}");
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let (t, _) = tree(4);
        assert_eq!(t.inclusion_proof(4, 4), Err(ProofError::LeafOutOfRange { index: 4, size: 4 }));
        assert_eq!(t.inclusion_proof(0, 5), Err(ProofError::SizeBeyondLog { size: 5, len: 4 }));
        assert_eq!(t.consistency_proof(3, 2), Err(ProofError::Shrinking { old: 3, new: 2 }));
    }
}
