//! Proofs and signed heads from a log in a real database check against an
//! independent verifier written here from the RFCs alone:
//! - `mth`, `path`, `proof`: RFC 6962 §2.1 / §2.1.1 / §2.1.2, recursive, over leaf
//!   hashes computed here from the stored bytes (SHA-256(0x00 || entry));
//! - `verify_inclusion`, `verify_consistency`: RFC 9162 §2.1.3.2 / §2.1.4.2;
//! - the head signature: ed25519 over the byte layout documented in `signing.rs`.
//!
//! Runs on SQLite and PostgreSQL.

mod common;

use audit_log::{EntryBody, NewEntry, Principal, Role, Seq};
use common::{backends, signer, TestDb};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest as _, Sha256};

type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn leaf(entry: &[u8]) -> H {
    sha(&[&[0x00], entry])
}

fn node(l: &H, r: &H) -> H {
    sha(&[&[0x01], l, r])
}

/// k: the largest power of two smaller than n.
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[H]) -> H {
    match d.len() {
        0 => sha(&[]),
        1 => d[0],
        n => {
            let k = k_of(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[H]) -> Vec<H> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn proof(m: usize, d: &[H]) -> Vec<H> {
    if m == 0 { vec![] } else { subproof(m, d, true) }
}

fn verify_inclusion(index: u64, size: u64, leaf: H, path: &[H], root: H) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            r = node(p, &r);
            while f % 2 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

fn verify_consistency(first: u64, second: u64, first_hash: H, second_hash: H, path: &[H]) -> bool {
    if first == second {
        return path.is_empty() && first_hash == second_hash;
    }
    if first == 0 {
        return path.is_empty();
    }
    if path.is_empty() {
        return false;
    }
    let mut p = path.to_vec();
    if first.is_power_of_two() {
        p.insert(0, first_hash);
    }
    let (mut f, mut s) = (first - 1, second - 1);
    while f % 2 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (p[0], p[0]);
    for c in &p[1..] {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while f % 2 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == first_hash && sr == second_hash && s == 0
}

fn hashes(v: &[audit_log::Digest]) -> Vec<H> {
    v.iter().map(|d| d.0).collect()
}

#[tokio::test]
async fn proofs_and_heads_check_against_an_independent_verifier() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let log = db.log().await;
        let sizes = [1u64, 2, 3, 4, 7, 8, 13, 16, 21];
        for i in 0..21u64 {
            let who = Principal::new("dr.a", Role::Clinician);
            log.append(NewEntry::new(who, EntryBody::Question { question: format!("q{i}: ü \"quoted\"\n"), reading: None, follows: None })).await.unwrap();
            if sizes.contains(&(i + 1)) {
                log.sign_head().await.unwrap();
            }
        }
        let stored = log.page(-1, 100).await.unwrap();
        let leaves: Vec<H> = stored.iter().map(|e| leaf(e.text.as_bytes())).collect();
        let heads = log.heads().await.unwrap();
        assert_eq!(heads.len(), sizes.len());

        let key_bytes: [u8; 32] = hex::decode(signer().public_key_hex()).unwrap().try_into().unwrap();
        let key = VerifyingKey::from_bytes(&key_bytes).unwrap();
        for sth in &heads {
            let n = sth.head.size as usize;
            assert_eq!(sth.head.root.0, mth(&leaves[..n]), "{backend:?}: head root at {n}");
            let mut msg = b"RDT-AUDIT-TREE-HEAD-v1\0".to_vec();
            msg.extend_from_slice(&sth.head.size.to_be_bytes());
            msg.extend_from_slice(&sth.head.time.timestamp_micros().to_be_bytes());
            msg.extend_from_slice(&sth.head.root.0);
            let sig = Signature::from_slice(&hex::decode(&sth.signature).unwrap()).unwrap();
            assert!(key.verify(&msg, &sig).is_ok(), "{backend:?}: signature of head {n}");
        }

        for &n in &sizes {
            let root = mth(&leaves[..n as usize]);
            for m in 0..n {
                let p = log.inclusion_proof(Seq(m), n).await.unwrap();
                assert_eq!(hashes(&p.path), path(m as usize, &leaves[..n as usize]), "{backend:?} PATH({m}, {n})");
                assert!(verify_inclusion(m, n, leaves[m as usize], &hashes(&p.path), root), "{backend:?} {m} in {n}");
                assert!(!verify_inclusion(m, n, leaf(b"other"), &hashes(&p.path), root));
            }
            for &old in sizes.iter().filter(|&&s| s <= n) {
                let c = log.consistency_proof(old, n).await.unwrap();
                let old_root = mth(&leaves[..old as usize]);
                assert_eq!(hashes(&c.path), proof(old as usize, &leaves[..n as usize]), "{backend:?} PROOF({old}, {n})");
                assert!(verify_consistency(old, n, old_root, root, &hashes(&c.path)), "{backend:?} {old} -> {n}");
                if old < n {
                    assert!(!verify_consistency(old, n, leaf(b"x"), root, &hashes(&c.path)));
                }
            }
        }
        log.close().await;
        db.drop_db().await;
    }
}
