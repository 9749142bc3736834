//! The treatment a transition happens under: the regimen's most advanced line, read
//! from the medication events active at a time.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::clinical::{Course, DrugClass};

/// The treatment classes the state model keeps a transition matrix for.
///
/// A combination counts as its most advanced part (methotrexate with adalimumab is a
/// TNF inhibitor regimen): the advanced drug is the one that changes the course, and
/// four classes keep every matrix estimable on a few thousand patients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// No disease-modifying drug (glucocorticoids and supportive drugs alone count as none).
    None,
    /// Conventional synthetic DMARD (methotrexate, hydroxychloroquine, sulfasalazine,
    /// leflunomide) or conventional immunosuppressant (mycophenolate, azathioprine).
    Csdmard,
    /// TNF inhibitor (adalimumab, etanercept).
    TnfInhibitor,
    /// Another biologic (tocilizumab, rituximab) or a targeted synthetic DMARD (JAK
    /// inhibitors). Classes as `journey::clinical::drugs` gives them.
    OtherAdvanced,
}

/// How many treatment classes there are.
pub const N_TREATMENTS: usize = 4;

impl Treatment {
    /// In index order: matrix `i` of a model is `ALL[i]`'s.
    pub const ALL: [Treatment; N_TREATMENTS] =
        [Treatment::None, Treatment::Csdmard, Treatment::TnfInhibitor, Treatment::OtherAdvanced];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::None => "none",
            Treatment::Csdmard => "csdmard",
            Treatment::TnfInhibitor => "tnf_inhibitor",
            Treatment::OtherAdvanced => "other_advanced",
        }
    }

    /// The treatment class a drug class belongs to (`None`: not disease-modifying).
    /// Conventional immunosuppressants (mycophenolate, azathioprine) go with the
    /// csDMARDs; JAK inhibitors with the other advanced therapies.
    pub fn of_class(class: DrugClass) -> Option<Treatment> {
        match class {
            DrugClass::Csdmard | DrugClass::Immunosuppressant => Some(Treatment::Csdmard),
            DrugClass::TnfInhibitor => Some(Treatment::TnfInhibitor),
            DrugClass::OtherBiologic | DrugClass::JakInhibitor => Some(Treatment::OtherAdvanced),
            DrugClass::Glucocorticoid | DrugClass::Supportive => None,
        }
    }

    /// The class of a course's drug (`None` for a drug outside the vetted table, which
    /// is not guessed at).
    pub fn of_course(course: &Course) -> Option<Treatment> {
        course.drug.and_then(|d| Self::of_class(d.class))
    }
}

impl fmt::Display for Treatment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether `course` runs at `time`: `[start, stop)`, open while no stop is recorded.
fn active_at(course: &Course, time: DateTime<Utc>) -> bool {
    course.start <= time && course.stop.is_none_or(|s| s > time)
}

/// The treatment in force at `time`: the most advanced class among active courses.
/// `courses` are a journey's ([`journey::clinical::courses`]); unclassified drugs are skipped.
pub fn treatment_at(courses: &[Course], time: DateTime<Utc>) -> Treatment {
    courses.iter().filter(|c| active_at(c, time)).filter_map(Treatment::of_course).max().unwrap_or(Treatment::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::courses;
    use journey::event::Phase;
    use crate::state::testutil::{day, med};

    #[test]
    fn most_advanced_active_course_wins() {
        let events = vec![
            med("mtx", "6851", day(0), Phase::Start),
            med("pred", "8640", day(10), Phase::Start),
            med("ada", "327361", day(100), Phase::Start),
            med("ada", "327361", day(200), Phase::Stop),
            med("toc", "612865", day(300), Phase::Start),
        ];
        let c = courses(&events);
        assert_eq!(treatment_at(&c, day(-1)), Treatment::None);
        assert_eq!(treatment_at(&c, day(50)), Treatment::Csdmard);
        assert_eq!(treatment_at(&c, day(150)), Treatment::TnfInhibitor);
        // stopped on day 200: from then on methotrexate alone
        assert_eq!(treatment_at(&c, day(200)), Treatment::Csdmard);
        assert_eq!(treatment_at(&c, day(400)), Treatment::OtherAdvanced);
    }

    #[test]
    fn every_drug_class_has_its_treatment() {
        for class in DrugClass::ALL {
            assert_eq!(Treatment::of_class(class).is_some(), class.is_dmard(), "{class:?}");
        }
        assert_eq!(Treatment::of_class(DrugClass::JakInhibitor), Some(Treatment::OtherAdvanced));
        // A drug outside the table (or coded outside RxNorm) is not guessed at.
        let mut e = med("x", "6851", day(0), Phase::Start);
        e.code.system = "urn:oid:1.2.3".into();
        assert_eq!(treatment_at(&courses(&[e]), day(1)), Treatment::None);
    }
}
