//! Signed tree heads and the ed25519 key that signs them.
//!
//! A tree head commits to the whole log up to `size`; its signature lets an auditor
//! trust that root years later. The private key lives in a file outside the
//! database (`<data-dir>/keys/audit-ed25519.key`, mode 0600), so someone who can
//! rewrite the database still cannot sign a head over a rewritten log.
//!
//! # What is signed
//!
//! A fixed byte layout (no serialiser involved, so it cannot drift):
//! `b"RDT-AUDIT-TREE-HEAD-v1\0"` (23 bytes) `|| size` (u64, big-endian)
//! `|| time` (i64 microseconds since 1970-01-01T00:00:00Z, big-endian) `|| root` (32 bytes).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;

const DOMAIN: &[u8; 23] = b"RDT-AUDIT-TREE-HEAD-v1\0";

/// The key file under a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("audit-ed25519.key")
}

/// The public half, beside the key, for auditors on other machines.
pub fn public_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("audit-ed25519.pub")
}

/// A tree head: the log's size and root at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    pub size: u64,
    #[serde(with = "crate::entry::time_format")]
    pub time: DateTime<Utc>,
    pub root: Digest,
}

impl TreeHead {
    pub fn new(size: u64, root: Digest, time: DateTime<Utc>) -> Self {
        TreeHead { size, time: time.trunc_subsecs(6), root }
    }

    /// The bytes the signature covers (see the module doc).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DOMAIN.len() + 8 + 8 + 32);
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.time.timestamp_micros().to_be_bytes());
        out.extend_from_slice(&self.root.0);
        out
    }
}

/// A tree head with the signature over it and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTreeHead {
    #[serde(flatten)]
    pub head: TreeHead,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// ed25519 signature, hex.
    pub signature: String,
}

impl SignedTreeHead {
    /// One line for a terminal (`rdt audit sign`): size, root and signing key.
    pub fn text(&self) -> String {
        format!("signed tree head: size {} root {} key {}", self.head.size, self.head.root, self.public_key)
    }

    /// Does the signature verify under the key it names? Whether that key is
    /// trusted is a separate question ([`TrustedKeys`]).
    pub fn signature_valid(&self) -> bool {
        let Some(key) = parse_public_key(&self.public_key) else { return false };
        let Ok(sig) = hex::decode(&self.signature) else { return false };
        let Ok(sig) = Signature::from_slice(&sig) else { return false };
        key.verify(&self.head.signed_bytes(), &sig).is_ok()
    }
}

fn parse_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The key that signs tree heads.
#[derive(Clone)]
pub struct HeadSigner {
    key: SigningKey,
}

impl std::fmt::Debug for HeadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "HeadSigner({})", self.public_key_hex())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the audit signing key {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot create the audit signing key {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the audit signing key {path} is not 64 hex digits")]
    Malformed { path: PathBuf },
    #[error("the audit signing key {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("no randomness for a new signing key: {0}")]
    Random(String),
    #[error("`{0}` is not an ed25519 public key (64 hex digits)")]
    BadPublicKey(String),
    #[error("{path}, line {line}: `{text}` is not an ed25519 public key (64 hex digits)")]
    BadPinnedKey { path: PathBuf, line: usize, text: String },
    #[error("the trusted keys file {0} (RDT_AUDIT_TRUSTED_KEYS) holds no key")]
    EmptyPin(PathBuf),
    #[error("the audit signing key {path} (public key {key}) is not among the pinned trusted keys (RDT_AUDIT_TRUSTED_KEYS): refusing to sign heads with it")]
    Untrusted { key: String, path: PathBuf },
}

impl HeadSigner {
    /// A signer from a 32-byte seed (tests, or a key kept in an HSM export).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        HeadSigner { key: SigningKey::from_bytes(&seed) }
    }

    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(HeadSigner::from_seed(seed))
    }

    /// Loads the key of a data directory, creating it (and `keys/`, mode 0700) on
    /// first use. Returns whether it was created.
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, bool), KeyError> {
        let path = key_path(data_dir);
        if path.exists() {
            return Ok((HeadSigner::load(&path)?, false));
        }
        let dir = path.parent().expect("key path has a parent");
        fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.to_owned(), source })?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|source| KeyError::Write { path: dir.to_owned(), source })?;
        let signer = HeadSigner::generate()?;
        // create_new: two processes starting at once must not both write a key; the
        // loser reads the winner's.
        let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
        match file {
            Ok(mut f) => {
                let text = format!("{}\n", hex::encode(signer.key.to_bytes()));
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|source| KeyError::Write { path: path.clone(), source })?;
                let pub_path = public_key_path(data_dir);
                fs::write(&pub_path, format!("{}\n", signer.public_key_hex()))
                    .map_err(|source| KeyError::Write { path: pub_path, source })?;
                Ok((signer, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((HeadSigner::load(&path)?, false)),
            Err(source) => Err(KeyError::Write { path, source }),
        }
    }

    /// Loads a key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let meta = fs::metadata(path).map_err(|source| KeyError::Read { path: path.to_owned(), source })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen { path: path.to_owned(), mode });
        }
        let text = fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.to_owned(), source })?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::Malformed { path: path.to_owned() })?;
        Ok(HeadSigner::from_seed(seed))
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, head: TreeHead) -> SignedTreeHead {
        let signature = self.key.sign(&head.signed_bytes());
        SignedTreeHead { head, public_key: self.public_key_hex(), signature: hex::encode(signature.to_bytes()) }
    }

    pub fn trusted(&self) -> TrustedKeys {
        TrustedKeys { keys: vec![self.public_key_hex()] }
    }
}

/// Names a file of trusted public keys kept outside the data directory. When set,
/// only those keys are trusted (verify, show, the trace page) and the install refuses
/// to sign with any other: whoever can write the data directory cannot swap the key
/// and re-sign a rewritten trail.
pub const TRUSTED_KEYS_ENV: &str = "RDT_AUDIT_TRUSTED_KEYS";

/// The public keys whose heads `verify` accepts. A head signed by any other key,
/// however valid its signature, is reported: a forger can sign with their own key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<String>,
}

impl TrustedKeys {
    pub fn new() -> Self {
        TrustedKeys::default()
    }

    /// Adds a hex public key.
    pub fn add_hex(&mut self, hex_key: &str) -> Result<(), KeyError> {
        let key = parse_public_key(hex_key.trim()).ok_or_else(|| KeyError::BadPublicKey(hex_key.to_owned()))?;
        let hex_key = hex::encode(key.to_bytes());
        if !self.keys.contains(&hex_key) {
            self.keys.push(hex_key);
        }
        Ok(())
    }

    /// The keys an install trusts: the pinned file when [`TRUSTED_KEYS_ENV`] names one
    /// (and then only those), else the data directory's own key.
    pub fn of_install(data_dir: &Path) -> Result<Self, KeyError> {
        match Self::pinned()? {
            Some(pin) => Ok(pin),
            None => Self::of_data_dir(data_dir),
        }
    }

    /// The keys pinned outside the data directory, when [`TRUSTED_KEYS_ENV`] is set.
    pub fn pinned() -> Result<Option<Self>, KeyError> {
        match std::env::var_os(TRUSTED_KEYS_ENV).filter(|v| !v.is_empty()) {
            Some(path) => Self::from_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// One hex public key per line; blank lines and `#` comments are skipped. The
    /// file an auditor keeps (e.g. on a read-only mount) with the install's key.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.to_owned(), source })?;
        let mut trusted = TrustedKeys::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            trusted.add_hex(line).map_err(|_| KeyError::BadPinnedKey {
                path: path.to_owned(),
                line: i + 1,
                text: line.chars().take(80).collect(),
            })?;
        }
        if trusted.is_empty() {
            return Err(KeyError::EmptyPin(path.to_owned()));
        }
        Ok(trusted)
    }

    /// The keys of a data directory: its `.pub` file, else the private key's half.
    pub fn of_data_dir(data_dir: &Path) -> Result<Self, KeyError> {
        let mut trusted = TrustedKeys::new();
        let pub_path = public_key_path(data_dir);
        if pub_path.exists() {
            let text =
                fs::read_to_string(&pub_path).map_err(|source| KeyError::Read { path: pub_path.clone(), source })?;
            trusted.add_hex(&text)?;
        } else if key_path(data_dir).exists() {
            trusted.add_hex(&HeadSigner::load(&key_path(data_dir))?.public_key_hex())?;
        }
        Ok(trusted)
    }

    pub fn contains(&self, hex_key: &str) -> bool {
        self.keys.iter().any(|k| k.eq_ignore_ascii_case(hex_key))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn head() -> TreeHead {
        TreeHead::new(7, Digest::of(b"root"), Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap())
    }

    #[test]
    fn signed_bytes_follow_the_documented_layout() {
        let h = head();
        let bytes = h.signed_bytes();
        assert_eq!(&bytes[..23], DOMAIN);
        assert_eq!(&bytes[23..31], &7u64.to_be_bytes());
        assert_eq!(&bytes[31..39], &h.time.timestamp_micros().to_be_bytes());
        assert_eq!(&bytes[39..], h.root.as_bytes());
    }

    #[test]
    fn text_names_size_root_and_key() {
        let sth = HeadSigner::from_seed([7; 32]).sign(head());
        let text = sth.text();
        assert_eq!(text, format!("signed tree head: size 7 root {} key {}", Digest::of(b"root"), sth.public_key));
    }

    #[test]
    fn a_signature_fails_after_any_field_changes() {
        let signer = HeadSigner::from_seed([7; 32]);
        let sth = signer.sign(head());
        assert!(sth.signature_valid());
        let mut bigger = sth.clone();
        bigger.head.size += 1;
        assert!(!bigger.signature_valid());
        let mut other_root = sth.clone();
        other_root.head.root = Digest::of(b"other");
        assert!(!other_root.signature_valid());
        let mut other_key = sth.clone();
        other_key.public_key = HeadSigner::from_seed([8; 32]).public_key_hex();
        assert!(!other_key.signature_valid());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = HeadSigner::load_or_create(dir.path()).unwrap();
        assert!(created);
        let mode = fs::metadata(key_path(dir.path())).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (b, created) = HeadSigner::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(a.public_key_hex(), b.public_key_hex());
        let trusted = TrustedKeys::of_data_dir(dir.path()).unwrap();
        assert!(trusted.contains(&a.public_key_hex()));

        fs::set_permissions(key_path(dir.path()), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(HeadSigner::load(&key_path(dir.path())), Err(KeyError::TooOpen { .. })));
    }
}
