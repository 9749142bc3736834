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
//!
//! The temporal split ([`temporal_cut`]) adds time on top: fits read journeys as they
//! stood at the cut date, scored cases start on or after it.

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

/// The share of case index dates that fall before the temporal split's cut.
pub const TEMPORAL_QUANTILE: f64 = 0.7;

/// Days after the first methotrexate start a case is cut (the protocol's index date).
pub const CASE_DAYS_AFTER_MTX: i64 = 90;

/// A patient's case index date: its first methotrexate start + `days_after_mtx`;
/// `None` without methotrexate.
pub fn case_index_date(record: &crate::cohort::ClinicalRecord, days_after_mtx: i64) -> Option<chrono::NaiveDate> {
    let start = record.courses.iter().filter(|c| c.drug.is_some_and(|d| d.is_methotrexate())).map(|c| c.start).min()?;
    Some(start.date_naive() + chrono::Days::new(days_after_mtx.max(0) as u64))
}

/// The temporal split's cut date (the protocol's "C"): the [`TEMPORAL_QUANTILE`] of
/// every patient's case index date, whatever its part; dates only, no outcome.
/// `None` when no patient has a case.
pub fn temporal_cut<'a>(
    journeys: impl IntoIterator<Item = &'a [journey::event::Event]>,
    days_after_mtx: i64,
) -> Option<chrono::NaiveDate> {
    let mut dates: Vec<chrono::NaiveDate> = journeys
        .into_iter()
        .filter_map(|events| case_index_date(&crate::cohort::ClinicalRecord::read(events), days_after_mtx))
        .collect();
    dates.sort();
    let i = ((dates.len() as f64 - 1.0) * TEMPORAL_QUANTILE).round().max(0.0) as usize;
    dates.get(i).copied()
}

/// A journey as it stood at the end of `cut`: the events up to that day.
pub fn journey_until(events: &[journey::event::Event], cut: chrono::NaiveDate) -> Vec<journey::event::Event> {
    let end = crate::cohort::query::end_of_day(cut);
    events.iter().filter(|e| e.time <= end).cloned().collect()
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

    /// Ten patients starting methotrexate on days 0, 100, ..., 900: their case dates
    /// are days 90-990 and the cut is the 70th percentile (day 90 + 600 = 690, index 6
    /// of 0-9 after rounding 6.3). A journey cut there keeps its events up to that day.
    #[test]
    fn the_temporal_cut_is_a_quantile_of_case_dates_and_cuts_journeys() {
        use crate::cohort::testutil::{das28, drug, Journey};
        use journey::clinical::drugs::METHOTREXATE;
        let journeys: Vec<Vec<journey::event::Event>> = (0..10)
            .map(|i| Journey::new(vec![das28(i * 100, 5.0), drug(i * 100, None, METHOTREXATE), das28(i * 100 + 200, 3.0)]).events)
            .collect();
        let day = |n: i64| chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(n);
        let cut = temporal_cut(journeys.iter().map(Vec::as_slice), 90).unwrap();
        assert_eq!(cut, day(690));
        assert_eq!(journey_until(&journeys[4], cut).len(), 3, "days 400 and 600 are before the cut");
        assert_eq!(journey_until(&journeys[5], cut).len(), 2, "day 700 is after it");
        assert_eq!(temporal_cut(std::iter::empty(), 90), None);
    }
}
