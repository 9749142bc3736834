//! Pseudonyms for neighbours: a clinician sees that two rows are the same (or not the
//! same) patient, never who.
//!
//! A pseudonym is HMAC-SHA-256 of the patient id under a per-install secret, cut to 48
//! bits: stable within an install (the same neighbour keeps its pseudonym across
//! queries), unlinkable across installs, and not invertible without the key (a plain
//! hash of a guessable id would be).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use journey::event::PatientId;

/// The per-install secret, 32 random bytes.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PseudonymKey(bytes)
    }

    /// The install's key at `path`, created (32 random bytes, owner-only) on first use.
    pub fn load_or_create(path: &std::path::Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map(PseudonymKey).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: a pseudonym key is 32 bytes, found {}", path.display(), bytes.len()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                std::io::Write::write_all(&mut options.open(path)?, &bytes)?;
                Ok(PseudonymKey(bytes))
            }
            Err(e) => Err(e),
        }
    }

    /// The pseudonym of a patient under this key.
    pub fn pseudonym(&self, patient: &PatientId) -> Pseudonym {
        // HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(patient.as_str().as_bytes());
        let tag = mac.finalize().into_bytes();
        Pseudonym(format!("nb-{}", hex::encode(&tag[..6])))
    }
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// A neighbour's pseudonym, e.g. `nb-3fa9c0e1b2d4`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pseudonym(String);

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_id() {
        let id = PatientId::new("patient-000042").unwrap();
        let a = PseudonymKey::from_bytes([1; 32]);
        let b = PseudonymKey::from_bytes([2; 32]);
        assert_eq!(a.pseudonym(&id), a.pseudonym(&id));
        assert_ne!(a.pseudonym(&id), b.pseudonym(&id));
        assert_ne!(a.pseudonym(&id), a.pseudonym(&PatientId::new("patient-000043").unwrap()));
        assert!(!a.pseudonym(&id).as_str().contains("patient"));
        assert_eq!(a.pseudonym(&id).as_str().len(), 15);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("pseudonym.key");
        let first = PseudonymKey::load_or_create(&path).unwrap();
        let again = PseudonymKey::load_or_create(&path).unwrap();
        assert_eq!(first.pseudonym(&id), again.pseudonym(&id), "the key persists");
    }
}
