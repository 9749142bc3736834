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
//! The strata, each its own part at unit length (so each weighs alike):
//! - **Serostatus**, one coordinate: +1 or -1 by the record as of the index date, 0
//!   when never measured.
//! - **Response so far** to the DMARD the patient is on (EULAR for DAS28, its scale's
//!   criteria otherwise: [`journey::clinical::response_so_far`]): the question of a
//!   treat-to-target visit, which EULAR's recommendations put at three months ("no
//!   improvement: change the therapy"). Two patients at one DAS28 three months into
//!   methotrexate, one coming down from 5.8 and one stuck at it, are not alike, and in
//!   the look-alike parts that difference is one reading of about two hundred. Ordinal,
//!   as two coordinates (responded at all; responded well): none (-1, -1), moderate
//!   (+1, -1), good (+1, +1), so good and none lie twice as far apart as either from
//!   moderate.
//!
//! A stratum the record cannot tell (never measured, no DMARD running, too early to
//! judge) is all 0 and pulls no way. Strata are read through the clinical definitions
//! and the terminology (any code system, any unit the lab tables read), never by a
//! cohort's own codes. The spec records which strata a twin reads, so a twin's vectors
//! never change meaning when strata are added later.

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
    /// The response so far to the running DMARD (module doc): none (-1, -1), moderate
    /// (+1, -1), good (+1, +1); (0, 0) when it cannot be read.
    ResponseSoFar,
}

impl Stratum {
    /// Every stratum, in the order a twin reads them.
    pub const ALL: [Stratum; 2] = [Stratum::Serostatus, Stratum::ResponseSoFar];

    /// The stratum by its name ([`Stratum::as_str`]).
    pub fn by_name(name: &str) -> Option<Stratum> {
        Stratum::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Coordinates of the stratum.
    pub fn width(self) -> usize {
        match self {
            Stratum::Serostatus => 1,
            Stratum::ResponseSoFar => 2,
        }
    }

    /// The stratum's coordinates for a journey read at `at` (events time-ordered).
    fn read(self, events: &[Event], at: DateTime<Utc>) -> Vec<f32> {
        use journey::clinical::EularResponse;
        match self {
            Stratum::Serostatus => vec![match journey::clinical::seropositive(events, at) {
                Some(true) => 1.0,
                Some(false) => -1.0,
                None => 0.0,
            }],
            Stratum::ResponseSoFar => match journey::clinical::response_so_far(events, at) {
                Some(EularResponse::Good) => vec![1.0, 1.0],
                Some(EularResponse::Moderate) => vec![1.0, -1.0],
                Some(EularResponse::NoResponse) => vec![-1.0, -1.0],
                None => vec![0.0, 0.0],
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stratum::Serostatus => "serostatus",
            Stratum::ResponseSoFar => "response_so_far",
        }
    }
}

/// The strata a twin reads, in the order of their coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strata {
    pub strata: Vec<Stratum>,
}

impl Strata {
    /// The strata a new twin reads by default: the serostatus. The response so far
    /// is read on request (`TrainOptions::strata`): beside the serostatus it moved
    /// subtype agreement among new patients by 0.7 points at 10,000 patients
    /// (docs/benchmarks/predictive.md, thirteenth session); the twin's look-alike parts
    /// already read most of it in the DAS28 course.
    pub fn clinical() -> Self {
        Strata { strata: vec![Stratum::Serostatus] }
    }

    /// The part's width: every stratum's coordinates.
    pub fn width(&self) -> usize {
        self.strata.iter().map(|s| s.width()).sum()
    }

    /// The part of a journey (time-ordered events) read at `at`: each stratum's
    /// coordinates, in order.
    pub fn part(&self, events: &[Event], at: DateTime<Utc>) -> Vec<f32> {
        self.strata.iter().flat_map(|s| s.read(events, at)).collect()
    }

    /// Each stratum's coordinates of a part read by [`Strata::part`] (or of a twin's
    /// last [`Strata::width`] coordinates), in order: the twin scales each to unit
    /// length on its own.
    pub fn split<'a>(&self, part: &'a [f32]) -> Vec<&'a [f32]> {
        let mut rest = part;
        self.strata
            .iter()
            .map(|s| {
                let (mine, after) = rest.split_at(s.width().min(rest.len()));
                rest = after;
                mine
            })
            .collect()
    }

    /// The strata's names, in the order of their coordinates (for reports).
    pub fn names(&self) -> Vec<&'static str> {
        self.strata.iter().map(|s| s.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{at_day as at, cdai, das28, drug, lab, Journey};

    /// Serostatus is read as of the index date through the lab definitions (LOINC
    /// rheumatoid factor and anti-CCP, UCUM units): positive once either crosses its
    /// cut-off, negative when measured and never positive, unknown (0) when never
    /// measured.
    #[test]
    fn serostatus_is_read_by_the_index_date() {
        let strata = Strata { strata: vec![Stratum::Serostatus] };
        assert_eq!(strata.width(), 1);
        assert_eq!(strata.names(), vec!["serostatus"]);
        let journey = Journey::new(vec![lab(0, "11572-5", 8.0, "[IU]/mL"), lab(100, "32218-0", 180.0, "[arb'U]/mL")]);
        assert_eq!(strata.part(&journey.events, at(10)), vec![-1.0], "a negative rheumatoid factor");
        assert_eq!(strata.part(&journey.events, at(200)), vec![1.0], "a positive anti-CCP since day 100");
        assert_eq!(strata.part(&[], at(200)), vec![0.0], "never measured");
    }

    /// The response so far to the running DMARD, read at a treat-to-target visit:
    /// nothing before four weeks, then the EULAR category as two ordinal coordinates;
    /// each stratum is split out of the part for its own scale.
    #[test]
    fn response_so_far_is_ordinal_and_split_from_serostatus() {
        let strata = Strata { strata: Stratum::ALL.to_vec() };
        assert_eq!(strata.width(), 3);
        assert_eq!(strata.names(), vec!["serostatus", "response_so_far"]);
        // Methotrexate from day 10; DAS28 5.6 at day 8, 5.0 at day 30, 4.8 at day 60,
        // 3.0 at day 100.
        let journey = Journey::new(vec![
            lab(0, "11572-5", 80.0, "[IU]/mL"),
            das28(8, 5.6),
            drug(10, None, "6851"),
            das28(30, 5.0),
            das28(60, 4.8),
            das28(100, 3.0),
        ]);
        let read = |day: i64| strata.part(&journey.events, at(day));
        assert_eq!(read(35), vec![1.0, 0.0, 0.0], "day 30 is too early to judge");
        assert_eq!(read(70), vec![1.0, 1.0, -1.0], "0.8 better at 4.8: moderate");
        assert_eq!(read(110), vec![1.0, 1.0, 1.0], "2.6 better at 3.0: good");
        // A clinic recording CDAI (LOINC 75847-4): 30 -> 25 is 17% better, no response.
        let stuck = Journey::new(vec![cdai(8, 30.0), drug(10, None, "6851"), cdai(60, 25.0)]);
        assert_eq!(strata.part(&stuck.events, at(70)), vec![0.0, -1.0, -1.0], "no response, serostatus unknown");
        let part = read(70);
        assert_eq!(strata.split(&part), vec![&[1.0][..], &[1.0, -1.0][..]]);
    }

    /// A twin's strata are saved by name, so a spec reads back the same strata.
    #[test]
    fn strata_round_trip_by_name() {
        let json = serde_json::to_string(&Strata::clinical()).unwrap();
        assert_eq!(json, r#"{"strata":["serostatus"]}"#);
        assert_eq!(serde_json::from_str::<Strata>(&json).unwrap(), Strata::clinical());
        let both = Strata { strata: Stratum::ALL.to_vec() };
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(json, r#"{"strata":["serostatus","response_so_far"]}"#);
        assert_eq!(serde_json::from_str::<Strata>(&json).unwrap(), both);
        assert_eq!(Stratum::by_name("response_so_far"), Some(Stratum::ResponseSoFar));
    }
}
