//! The twin's strata: clinical facts a rheumatologist matches on before comparing
//! anything else, appended to the twin as their own part.
//!
//! Why: "patients like this one" starts inside a stratum. Seropositive and seronegative
//! rheumatoid arthritis are read as different diseases in the clinic: rheumatoid factor
//! and anti-CCP weigh heavily in the ACR/EULAR 2010 classification, seropositive disease
//! runs a more erosive course, and some drugs (rituximab, abatacept) work better in it.
//! In the look-alike parts the two serology columns are two of about two hundred
//! readings, and at 10,000 patients 58% of a seronegative patient's nearest were of a
//! seropositive subtype (docs/benchmarks/predictive.md, "The twin's strata"). As its own
//! part at unit length, a stratum weighs as much as everything else the twin reads
//! together: neighbours are found inside the stratum first, then by what differs.
//!
//! Each stratum is one coordinate: +1 or -1 by the record as of the index date, 0 when
//! the record cannot tell (never measured), so an unknown stratum pulls no way. Strata
//! are read through the clinical definitions and the terminology
//! ([`journey::clinical::seropositive`]: any code system, any unit the lab tables
//! read), never by a cohort's own codes. The spec records which strata a twin reads,
//! so a twin's vectors never change meaning when strata are added later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::event::Event;

/// One clinical stratum the twin matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stratum {
    /// Seropositive (+1: rheumatoid factor or anti-CCP at or above its cut-off by the
    /// index date) or seronegative (-1: measured, never positive); 0 unmeasured.
    Serostatus,
}

impl Stratum {
    /// Every stratum, in the order a new twin reads them.
    pub const ALL: [Stratum; 1] = [Stratum::Serostatus];

    /// The stratum's coordinate for a journey read at `at` (events time-ordered).
    fn read(self, events: &[Event], at: DateTime<Utc>) -> f32 {
        match self {
            Stratum::Serostatus => match journey::clinical::seropositive(events, at) {
                Some(true) => 1.0,
                Some(false) => -1.0,
                None => 0.0,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stratum::Serostatus => "serostatus",
        }
    }
}

/// The strata a twin reads, in the order of their coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strata {
    pub strata: Vec<Stratum>,
}

impl Strata {
    /// The strata a new twin reads: every [`Stratum`].
    pub fn clinical() -> Self {
        Strata { strata: Stratum::ALL.to_vec() }
    }

    /// The part's width: one coordinate per stratum.
    pub fn width(&self) -> usize {
        self.strata.len()
    }

    /// The part of a journey (time-ordered events) read at `at`: each stratum's
    /// coordinate, in order.
    pub fn part(&self, events: &[Event], at: DateTime<Utc>) -> Vec<f32> {
        self.strata.iter().map(|s| s.read(events, at)).collect()
    }

    /// The strata's names, in the order of their coordinates (for reports).
    pub fn names(&self) -> Vec<&'static str> {
        self.strata.iter().map(|s| s.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{at_day as at, lab, Journey};

    /// Serostatus is read as of the index date through the lab definitions (LOINC
    /// rheumatoid factor and anti-CCP, UCUM units): positive once either crosses its
    /// cut-off, negative when measured and never positive, unknown (0) when never
    /// measured.
    #[test]
    fn serostatus_is_read_by_the_index_date() {
        let strata = Strata::clinical();
        assert_eq!(strata.width(), 1);
        assert_eq!(strata.names(), vec!["serostatus"]);
        let journey = Journey::new(vec![lab(0, "11572-5", 8.0, "[IU]/mL"), lab(100, "32218-0", 180.0, "[arb'U]/mL")]);
        assert_eq!(strata.part(&journey.events, at(10)), vec![-1.0], "a negative rheumatoid factor");
        assert_eq!(strata.part(&journey.events, at(200)), vec![1.0], "a positive anti-CCP since day 100");
        assert_eq!(strata.part(&[], at(200)), vec![0.0], "never measured");
    }

    /// A twin's strata are saved by name, so a spec reads back the same strata.
    #[test]
    fn strata_round_trip_by_name() {
        let json = serde_json::to_string(&Strata::clinical()).unwrap();
        assert_eq!(json, r#"{"strata":["serostatus"]}"#);
        assert_eq!(serde_json::from_str::<Strata>(&json).unwrap(), Strata::clinical());
    }
}
