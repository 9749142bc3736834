//! The Merkle tree of RFC 6962 §2.1 (RFC 9162 §2.1): hashes, an in-memory tree that
//! answers any subtree hash in O(log n), and the compact [`Frontier`] that signing
//! keeps between tree heads.
//!
//! - leaf hash: `SHA-256(0x00 || entry bytes)`
//! - node hash: `SHA-256(0x01 || left || right)`
//! - `MTH({})` = `SHA-256()`; `MTH(D[n])` splits at `k`, the largest power of two
//!   smaller than `n`: `node(MTH(D[0:k]), MTH(D[k:n]))`.
//!
//! The domain-separation bytes make a leaf never collide with an inner node, so a
//! proof cannot pass an inner node off as an entry.

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Digest(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of no bytes.
pub fn empty_root() -> Digest {
    Digest(Sha256::digest([]).into())
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Every perfect subtree of the leaves appended so far: level `j` holds the hashes
/// of the aligned runs of `2^j` leaves. About `2n` hashes (64 MB for a million
/// entries); in exchange any `MTH(D[a:b])` on the RFC's split points costs O(log n),
/// so `verify` can build a consistency proof for every pair of signed heads.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    pub fn new() -> Self {
        MerkleTree { levels: vec![Vec::new()] }
    }

    /// A tree over the given leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Digest>) -> Self {
        let mut tree = MerkleTree::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    pub fn leaf(&self, index: u64) -> Option<Digest> {
        self.levels[0].get(index as usize).copied()
    }

    /// Appends a leaf hash, completing every perfect subtree it closes.
    pub fn push(&mut self, leaf: Digest) {
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len() % 2 == 0 {
            let row = &self.levels[level];
            let parent = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
    }

    /// `MTH(D[start:start+len])`. Panics when the range passes the end of the tree.
    pub fn subtree(&self, start: u64, len: u64) -> Digest {
        assert!(start + len <= self.len(), "subtree {start}+{len} beyond a tree of {}", self.len());
        if len == 0 {
            return empty_root();
        }
        if len.is_power_of_two() && start % len == 0 {
            let level = len.trailing_zeros() as usize;
            return self.levels[level][(start / len) as usize];
        }
        let k = split_point(len);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, len - k))
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Digest {
        self.subtree(0, size)
    }

    /// The frontier of the first `size` leaves.
    pub fn frontier(&self, size: u64) -> Frontier {
        let mut hashes = Vec::new();
        let mut start = 0;
        for bit in (0..64).rev() {
            let len = 1u64 << bit;
            if size & len != 0 {
                hashes.push(self.subtree(start, len));
                start += len;
            }
        }
        Frontier { size, hashes }
    }
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves, largest
/// first (one per set bit of `size`): all that is needed to extend the tree and
/// compute its root without the leaves before. Stored beside each signed tree head,
/// so signing the next head reads only the entries appended since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Digest>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Digest) {
        let mut carry = leaf;
        let mut bit = 0;
        // Like binary addition: each trailing set bit of the old size is a subtree
        // of the same height as `carry`, merged into one twice as large.
        while self.size & (1 << bit) != 0 {
            // unwrap: one hash per set bit, so a set bit has its hash.
            let left = self.hashes.pop().unwrap();
            carry = node_hash(&left, &carry);
            bit += 1;
        }
        self.hashes.push(carry);
        self.size += 1;
    }

    /// `MTH` of the tree: the subtrees folded from the right.
    pub fn root(&self) -> Digest {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else { return empty_root() };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The bytes stored in the database: the hashes concatenated.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|h| h.0).collect()
    }

    /// Reads stored bytes back; `None` when they do not fit a tree of `size` leaves.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size.count_ones() as usize * 32 {
            return None;
        }
        let hashes = bytes.chunks_exact(32).map(|c| Digest::from_slice(c).expect("32-byte chunk")).collect();
        Some(Frontier { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    /// MTH straight from the RFC's recursive definition, as the reference.
    fn mth(d: &[Digest]) -> Digest {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    /// The empty root and the hash prefixes are RFC 6962's: the empty root is
    /// SHA-256 of nothing, and a leaf differs from hashing the bare entry.
    #[test]
    fn empty_root_and_domain_separation() {
        assert_eq!(empty_root().to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_ne!(leaf_hash(b"a"), Digest::of(b"a"));
        let l = leaf_hash(b"a");
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(&l.0);
        bytes.extend_from_slice(&l.0);
        assert_eq!(node_hash(&l, &l), Digest::of(&bytes));
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1025, 1024)] {
            assert_eq!(split_point(n), k, "n={n}");
        }
    }

    #[test]
    fn tree_and_frontier_roots_match_the_definition_for_every_size() {
        let all = leaves(70);
        let tree = MerkleTree::from_leaves(all.iter().copied());
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), mth(&[]));
        for n in 1..=70u64 {
            frontier.push(all[n as usize - 1]);
            let expect = mth(&all[..n as usize]);
            assert_eq!(tree.root(n), expect, "tree root at {n}");
            assert_eq!(frontier.root(), expect, "frontier root at {n}");
            assert_eq!(tree.frontier(n), frontier, "frontier at {n}");
            let stored = Frontier::from_bytes(n, &frontier.to_bytes()).unwrap();
            assert_eq!(stored.root(), expect);
        }
        assert!(Frontier::from_bytes(3, &[0u8; 32]).is_none());
    }

    #[test]
    fn unaligned_subtrees_follow_the_definition() {
        let all = leaves(37);
        let tree = MerkleTree::from_leaves(all.iter().copied());
        for start in 0..37u64 {
            for len in 0..=(37 - start) {
                let expect = mth(&all[start as usize..(start + len) as usize]);
                assert_eq!(tree.subtree(start, len), expect, "{start}+{len}");
            }
        }
    }
}
