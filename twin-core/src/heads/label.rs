//! What the heads predict, and from when: each patient's index date (the first
//! methotrexate start) and the outcomes after it, as the cohort analytics read them
//! ([`ClinicalRecord::outcomes_at`], on the definitions of [`journey::clinical`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::cohort::{ClinicalRecord, Outcome, PatientOutcomes};

/// An outcome a head predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadOutcome {
    /// Methotrexate failure within 12 months: another DMARD started in
    /// (index, index + 365 days] after starting methotrexate (the cohort's
    /// `switch_12m`, DESIGN.md's csDMARD failure).
    MtxFailure12m,
    /// A flare within 6 months: a DAS28 rise > 1.2, or > 0.6 to above 3.2, between
    /// consecutive readings, the later in (index, index + 182 days].
    Flare6m,
}

impl HeadOutcome {
    pub const ALL: [HeadOutcome; 2] = [HeadOutcome::MtxFailure12m, HeadOutcome::Flare6m];

    pub fn as_str(self) -> &'static str {
        match self {
            HeadOutcome::MtxFailure12m => "mtx_failure_12m",
            HeadOutcome::Flare6m => "flare_6m",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            HeadOutcome::MtxFailure12m => "methotrexate failure within 12 months",
            HeadOutcome::Flare6m => "flare within 6 months",
        }
    }

    /// The cohort outcome this head predicts.
    pub fn cohort_outcome(self) -> Outcome {
        match self {
            HeadOutcome::MtxFailure12m => Outcome::Switch12m,
            HeadOutcome::Flare6m => Outcome::Flare6m,
        }
    }
}

/// A historical snapshot: a patient cut at the index date, and what happened after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labelled {
    /// The end of the index day: everything recorded up to it is known.
    pub cut: DateTime<Utc>,
    pub outcomes: PatientOutcomes,
}

impl Labelled {
    /// `None` when the record cannot tell (too short a follow-up, no readings).
    pub fn outcome(&self, outcome: HeadOutcome) -> Option<bool> {
        self.outcomes.get(outcome.cohort_outcome()).map(|v| v > 0.5)
    }
}

/// The index date: the day of the first methotrexate start.
pub fn mtx_index(record: &ClinicalRecord) -> Option<NaiveDate> {
    record
        .courses
        .iter()
        .filter(|c| c.drug.is_some_and(|d| d.is_methotrexate()))
        .map(|c| c.start.date_naive())
        .min()
}

/// The snapshot of a record at its first methotrexate start; `None` for a patient
/// never given methotrexate.
pub fn label(record: &ClinicalRecord) -> Option<Labelled> {
    let index = mtx_index(record)?;
    Some(Labelled {
        cut: index.and_hms_opt(23, 59, 59).expect("a valid time").and_utc(),
        outcomes: record.outcomes_at(index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{Event, Phase};
    use crate::state::testutil::{das28, day, med};

    #[test]
    fn labels_after_the_first_methotrexate_start() {
        // MTX on day 0, adalimumab added on day 200 (a switch within 12 months), a flare
        // 2.4 -> 3.3 on day 120; follow-up to day 400.
        let events = vec![
            das28(-5, 5.0),
            med("mtx", "6851", day(0), Phase::Start),
            das28(60, 2.4),
            das28(120, 3.3),
            med("ada", "327361", day(200), Phase::Start),
            das28(400, 2.0),
        ];
        let l = label(&ClinicalRecord::read(&events)).unwrap();
        assert_eq!(l.cut.date_naive(), day(0).date_naive());
        assert_eq!(l.outcome(HeadOutcome::MtxFailure12m), Some(true));
        assert_eq!(l.outcome(HeadOutcome::Flare6m), Some(true));
        // Without the adalimumab start: no switch, and follow-up covers the year.
        let calm: Vec<Event> = events.iter().filter(|e| e.code.code != "327361").cloned().collect();
        assert_eq!(label(&ClinicalRecord::read(&calm)).unwrap().outcome(HeadOutcome::MtxFailure12m), Some(false));
        // Never on methotrexate: no snapshot.
        assert!(label(&ClinicalRecord::read(&[das28(0, 3.0)])).is_none());
    }
}
