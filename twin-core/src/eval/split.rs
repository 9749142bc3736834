//! The frozen split of the prediction benchmark (`docs/benchmarks/predictive-protocol.md`).
//!
//! Every patient falls in one part by the first 8 bytes of SHA-256 of its id, mod
//! 100: the same patient is in the same part in every run, whatever the cohort's size
//! or order. The test part is the existing held-out fifth ([`super::cohort::is_held_out`]
//! at 20%), so figures reported before this split stay comparable.
//!
//! - **test** (buckets 0-19): scored for the report only; never used to choose
//!   anything (a setting, a feature, a model).
//! - **tuning** (buckets 20-34): where choices are scored while developing.
//! - **train** (buckets 35-99): what every model and the population are fitted on.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use journey::event::PatientId;

/// Buckets below this are the test part.
pub const TEST_BELOW: u64 = 20;
/// Buckets from [`TEST_BELOW`] up to this are the tuning part.
pub const TUNING_BELOW: u64 = 35;

/// Which part of the split a patient is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Train,
    Tuning,
    Test,
}

/// A patient's bucket, 0-99: the first 8 bytes of SHA-256 of its id, mod 100. The one
/// hash every split of patients reads (this one and `cohort::is_held_out`).
pub fn bucket(patient: &PatientId) -> u64 {
    let digest = Sha256::digest(patient.as_str().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) % 100
}

impl Part {
    /// The part of `patient`.
    pub fn of(patient: &PatientId) -> Part {
        match bucket(patient) {
            b if b < TEST_BELOW => Part::Test,
            b if b < TUNING_BELOW => Part::Tuning,
            _ => Part::Train,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Tuning => "tuning",
            Part::Test => "test",
        }
    }
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Part::Train),
            "tuning" => Ok(Part::Tuning),
            "test" => Ok(Part::Test),
            other => Err(format!("`{other}` is not a part of the split: train, tuning or test")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_are_disjoint_deterministic_and_near_their_shares() {
        let ids: Vec<PatientId> = (0..4000).map(|i| PatientId::new(format!("p{i}")).unwrap()).collect();
        let count = |part: Part| ids.iter().filter(|p| Part::of(p) == part).count();
        let (test, tuning, train) = (count(Part::Test), count(Part::Tuning), count(Part::Train));
        assert_eq!(test + tuning + train, ids.len());
        assert!((680..920).contains(&test), "{test}");
        assert!((480..720).contains(&tuning), "{tuning}");
        // The test part is the cohort evaluation's held-out fifth, patient by patient.
        assert!(ids.iter().all(|p| (Part::of(p) == Part::Test) == crate::eval::cohort::is_held_out(p, 20)));
    }
}
