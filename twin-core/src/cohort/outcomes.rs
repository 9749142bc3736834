//! The cohort's outcomes of one patient at an index date, from the record after it.
//!
//! A neighbour's outcomes are read after *its own* index time (the snapshot's), the
//! query patient's (in evaluation) after the query's index date. Conventions beyond
//! [`journey::clinical::outcomes`]:
//! - **response to a drug** (methotrexate; a TNF inhibitor) is read for the first
//!   course of that drug starting in the [`RESPONSE_LOOKBACK_DAYS`] up to the index
//!   date or the [`RESPONSE_LOOKAHEAD_DAYS`] after it ("started around or after the
//!   index"): EULAR at 6 months from that course's start, with non-responder
//!   imputation when the drug was stopped or another DMARD started before the reading.
//!   A 6-month response of a course started earlier than the look-back was already
//!   known at the index date, so it is not a future outcome; without such a course
//!   the outcome is `None` (the patient did not take the drug then);
//! - **flare within 6 months**: [`flare_within`] from the index date;
//! - **DAS28 at 150/270/360 days**: the reading nearest that day, within
//!   +/-[`POINT_TOLERANCE_DAYS`];
//! - **switch within 12 months** (csDMARD failure): another DMARD started in the 365
//!   days after the index date, for a patient on a DMARD at the index date (a switch
//!   needs a therapy to switch from; `None` otherwise).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::record::ClinicalRecord;
use journey::clinical::drugs::DrugClass;
use journey::clinical::outcomes::{
    flare_time, flare_within, reading_near, response_at, switch_time, switch_within, TimeToEvent, Window,
    FLARE_WINDOW_DAYS, POINT_TOLERANCE_DAYS, SIX_MONTHS, SWITCH_WINDOW_DAYS,
};
use journey::clinical::{Course, EularResponse, Scale};

/// A drug course started up to this many days before the index date still counts as
/// "the drug started around the index" (its 6-month response is still ahead).
pub const RESPONSE_LOOKBACK_DAYS: i64 = 182;
/// ... and one started up to this many days after it.
pub const RESPONSE_LOOKAHEAD_DAYS: i64 = 90;

/// The outcomes a cohort reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// EULAR good or moderate response to methotrexate at 6 months.
    #[serde(rename = "mtx_response_6m")]
    MtxResponse6m,
    /// EULAR good or moderate response to a TNF inhibitor at 6 months.
    #[serde(rename = "tnfi_response_6m")]
    TnfiResponse6m,
    /// A DAS28 flare within 6 months.
    #[serde(rename = "flare_6m")]
    Flare6m,
    #[serde(rename = "das28_day_150")]
    Das28Day150,
    #[serde(rename = "das28_day_270")]
    Das28Day270,
    #[serde(rename = "das28_day_360")]
    Das28Day360,
    /// Another DMARD started within 12 months (csDMARD failure).
    #[serde(rename = "switch_12m")]
    Switch12m,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::MtxResponse6m,
        Outcome::TnfiResponse6m,
        Outcome::Flare6m,
        Outcome::Das28Day150,
        Outcome::Das28Day270,
        Outcome::Das28Day360,
        Outcome::Switch12m,
    ];

    /// Yes/no outcomes are reported as rates; the DAS28 values as means.
    pub fn is_rate(self) -> bool {
        !matches!(self, Outcome::Das28Day150 | Outcome::Das28Day270 | Outcome::Das28Day360)
    }

    /// The day after the index a DAS28 outcome is read at (150, 270, 360); `None` for
    /// the others. The one place the days are written: the outcomes, the labels' readers
    /// and the question reader ("DAS28 at 9 months") take them from here.
    pub fn das28_day(self) -> Option<u32> {
        match self {
            Outcome::Das28Day150 => Some(150),
            Outcome::Das28Day270 => Some(270),
            Outcome::Das28Day360 => Some(360),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Outcome::MtxResponse6m => "mtx_response_6m",
            Outcome::TnfiResponse6m => "tnfi_response_6m",
            Outcome::Flare6m => "flare_6m",
            Outcome::Das28Day150 => "das28_day_150",
            Outcome::Das28Day270 => "das28_day_270",
            Outcome::Das28Day360 => "das28_day_360",
            Outcome::Switch12m => "switch_12m",
        }
    }

    /// What a reader sees in a table.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::MtxResponse6m => "MTX response at 6 months (EULAR good/moderate)",
            Outcome::TnfiResponse6m => "TNFi response at 6 months (EULAR good/moderate)",
            Outcome::Flare6m => "flare within 6 months",
            Outcome::Das28Day150 => "DAS28 at day 150",
            Outcome::Das28Day270 => "DAS28 at day 270",
            Outcome::Das28Day360 => "DAS28 at day 360",
            Outcome::Switch12m => "treatment switch within 12 months",
        }
    }
}

/// One patient's outcomes at an index date; `None` where the record cannot tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientOutcomes {
    pub mtx_response_6m: Option<EularResponse>,
    pub tnfi_response_6m: Option<EularResponse>,
    pub flare_6m: Option<bool>,
    pub das28_day_150: Option<f64>,
    pub das28_day_270: Option<f64>,
    pub das28_day_360: Option<f64>,
    pub switch_12m: Option<bool>,
    /// Flare and switch as times (event or censored within their windows): a
    /// cohort's Kaplan-Meier figure counts a patient for the time it was seen.
    #[serde(default)]
    pub flare_time: Option<TimeToEvent>,
    #[serde(default)]
    pub switch_time: Option<TimeToEvent>,
}

impl PatientOutcomes {
    /// The outcome as a number: 1/0 for yes/no (a response counts as yes when good or
    /// moderate), the DAS28 itself for values.
    pub fn get(&self, outcome: Outcome) -> Option<f64> {
        let yes = |b: bool| if b { 1.0 } else { 0.0 };
        match outcome {
            Outcome::MtxResponse6m => self.mtx_response_6m.map(|r| yes(r.responded())),
            Outcome::TnfiResponse6m => self.tnfi_response_6m.map(|r| yes(r.responded())),
            Outcome::Flare6m => self.flare_6m.map(yes),
            Outcome::Das28Day150 => self.das28_day_150,
            Outcome::Das28Day270 => self.das28_day_270,
            Outcome::Das28Day360 => self.das28_day_360,
            Outcome::Switch12m => self.switch_12m.map(yes),
        }
    }

    /// The outcome as a time to event and its window in days, for the outcomes that
    /// have one (flare within 6 months, switch within 12).
    pub fn time_to(&self, outcome: Outcome) -> Option<(TimeToEvent, u32)> {
        match outcome {
            Outcome::Flare6m => self.flare_time.map(|t| (t, FLARE_WINDOW_DAYS as u32)),
            Outcome::Switch12m => self.switch_time.map(|t| (t, SWITCH_WINDOW_DAYS as u32)),
            _ => None,
        }
    }
}

impl ClinicalRecord {
    /// The outcomes after `index`.
    pub fn outcomes_at(&self, index: NaiveDate) -> PatientOutcomes {
        let series = &self.activity;
        // DAS28 figures are DAS28's: a CDAI or SDAI series gives none.
        let das28_at = |day: i64| {
            reading_near(series, index, Window { day, tolerance: POINT_TOLERANCE_DAYS })
                .filter(|r| r.scale == Scale::Das28)
                .map(|r| r.score)
        };
        let dmard_starts: Vec<NaiveDate> =
            self.courses.iter().filter(|c| c.is_dmard()).map(|c| c.start.date_naive()).collect();
        let on_dmard = self.courses.iter().any(|c| c.is_dmard() && c.ongoing_on(index));
        let switch_12m = match (on_dmard, self.last_date) {
            (true, Some(end)) => switch_within(&dmard_starts, index, SWITCH_WINDOW_DAYS, end),
            _ => None,
        };
        let switch_time = match (on_dmard, self.last_date) {
            (true, Some(end)) => switch_time(&dmard_starts, index, SWITCH_WINDOW_DAYS, end),
            _ => None,
        };
        PatientOutcomes {
            mtx_response_6m: self.response_to(index, &|c| c.drug.is_some_and(|d| d.is_methotrexate())),
            tnfi_response_6m: self.response_to(index, &|c| c.drug.is_some_and(|d| d.class == DrugClass::TnfInhibitor)),
            flare_6m: flare_within(series, index, FLARE_WINDOW_DAYS),
            das28_day_150: Outcome::Das28Day150.das28_day().and_then(|d| das28_at(d.into())),
            das28_day_270: Outcome::Das28Day270.das28_day().and_then(|d| das28_at(d.into())),
            das28_day_360: Outcome::Das28Day360.das28_day().and_then(|d| das28_at(d.into())),
            switch_12m,
            flare_time: flare_time(series, index, FLARE_WINDOW_DAYS),
            switch_time,
        }
    }

    /// EULAR response at 6 months to the first course of a drug `is_drug` picks that
    /// started around `index` (see the module's conventions).
    fn response_to(&self, index: NaiveDate, is_drug: &dyn Fn(&Course) -> bool) -> Option<EularResponse> {
        let from = index - Days::new(RESPONSE_LOOKBACK_DAYS as u64);
        let to = index + Days::new(RESPONSE_LOOKAHEAD_DAYS as u64);
        let start = self
            .courses
            .iter()
            .filter(|c| is_drug(c))
            .map(|c| c.start.date_naive())
            .filter(|d| *d >= from && *d <= to)
            .min()?;
        // The therapy fails when a course of it started that day stops, or another
        // DMARD starts after it (as the ground truth counts it).
        let stopped = self
            .courses
            .iter()
            .filter(|c| is_drug(c) && c.start.date_naive() == start)
            .filter_map(|c| c.stop.map(|s| s.date_naive()))
            .min();
        let other = self
            .courses
            .iter()
            .filter(|c| c.is_dmard() && !is_drug(c) && c.start.date_naive() > start)
            .map(|c| c.start.date_naive())
            .min();
        let failed_on = [stopped, other].into_iter().flatten().min();
        response_at(&self.activity, start, SIX_MONTHS, failed_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::drugs::METHOTREXATE;
    use crate::cohort::testutil::{das28, drug, Journey};

    const ADALIMUMAB: &str = "327361";
    const LEFLUNOMIDE: &str = "27169";

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(n)
    }

    #[test]
    fn mtx_response_reads_the_course_started_around_the_index() {
        // MTX from day 0 (DAS28 5.8), 3.0 at day 182: good response.
        let j = Journey::new(vec![das28(0, 5.8), das28(90, 4.5), das28(182, 3.0), drug(0, None, METHOTREXATE)]);
        let r = ClinicalRecord::read(&j.events);
        // Index 90 days into the course: the course started within the look-back.
        assert_eq!(r.outcomes_at(day(90)).mtx_response_6m, Some(EularResponse::Good));
        // Index 182 days into the course: still counts; 183 days: already known, not a future outcome.
        assert_eq!(r.outcomes_at(day(182)).mtx_response_6m, Some(EularResponse::Good));
        assert_eq!(r.outcomes_at(day(183)).mtx_response_6m, None);
        // Index 90 days before the start: started within the look-ahead; 91 days: not.
        assert_eq!(r.outcomes_at(day(-90)).mtx_response_6m, Some(EularResponse::Good));
        assert_eq!(r.outcomes_at(day(-91)).mtx_response_6m, None);
        // No TNF inhibitor: no TNFi response.
        assert_eq!(r.outcomes_at(day(90)).tnfi_response_6m, None);
    }

    /// A clinic that records CDAI only: response (CDAI70/50) and flare read on CDAI's
    /// own definitions, and no DAS28 figure made up from CDAI values.
    #[test]
    fn cdai_records_give_response_and_flare_on_their_own_scale() {
        use crate::cohort::testutil::cdai;
        // 30 -> 8 at day 182: 73% better, a good response; then 8 -> 21 at day 270: a flare
        // (+13 > 12).
        let j = Journey::new(vec![cdai(0, 30.0), cdai(90, 16.0), cdai(182, 8.0), cdai(270, 21.0), drug(0, None, METHOTREXATE)]);
        let r = ClinicalRecord::read(&j.events);
        let o = r.outcomes_at(day(0));
        assert_eq!(o.mtx_response_6m, Some(EularResponse::Good));
        assert_eq!(r.outcomes_at(day(182)).flare_6m, Some(true));
        assert_eq!(o.das28_day_150, None, "a CDAI is not a DAS28");
        let moderate = Journey::new(vec![cdai(0, 30.0), cdai(182, 14.0), drug(0, None, METHOTREXATE)]);
        assert_eq!(ClinicalRecord::read(&moderate.events).outcomes_at(day(0)).mtx_response_6m, Some(EularResponse::Moderate));
    }

    #[test]
    fn a_stop_or_an_added_dmard_before_the_reading_is_no_response() {
        let stopped = Journey::new(vec![das28(0, 5.8), das28(182, 3.0), drug(0, Some(100), METHOTREXATE)]);
        let r = ClinicalRecord::read(&stopped.events);
        assert_eq!(r.outcomes_at(day(0)).mtx_response_6m, Some(EularResponse::NoResponse));
        let added = Journey::new(vec![
            das28(0, 5.8),
            das28(182, 3.0),
            drug(0, None, METHOTREXATE),
            drug(120, None, ADALIMUMAB),
        ]);
        let r = ClinicalRecord::read(&added.events);
        assert_eq!(r.outcomes_at(day(0)).mtx_response_6m, Some(EularResponse::NoResponse));
        // The TNF inhibitor's own response: baseline needs a DAS28 in the 30 days before day 120.
        assert_eq!(r.outcomes_at(day(120)).tnfi_response_6m, None);
    }

    #[test]
    fn switch_needs_a_current_dmard_and_follow_up() {
        let j = Journey::new(vec![
            das28(0, 5.0),
            drug(0, None, METHOTREXATE),
            drug(365, None, LEFLUNOMIDE),
            das28(800, 3.0),
        ]);
        let r = ClinicalRecord::read(&j.events);
        assert_eq!(r.outcomes_at(day(0)).switch_12m, Some(true)); // day 365 is inside
        assert_eq!(r.outcomes_at(day(-1)).switch_12m, None); // not on a DMARD yet
        assert_eq!(r.outcomes_at(day(1)).switch_12m, Some(true));
        assert_eq!(r.outcomes_at(day(400)).switch_12m, Some(false));
        // 365 days of follow-up needed for a "no": day 800 is the last event.
        assert_eq!(r.outcomes_at(day(435)).switch_12m, Some(false));
        assert_eq!(r.outcomes_at(day(436)).switch_12m, None);
    }

    #[test]
    fn serialised_names_are_the_keys() {
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.key());
        }
    }

    #[test]
    fn das28_points_and_flare_after_the_index() {
        let j = Journey::new(vec![das28(0, 3.0), das28(105, 3.1), das28(150, 4.0), das28(196, 3.0), das28(315, 2.9)]);
        let r = ClinicalRecord::read(&j.events);
        let o = r.outcomes_at(day(0));
        assert_eq!(o.das28_day_150, Some(4.0));
        assert_eq!(o.das28_day_270, Some(2.9)); // day 315 is 45 days off: in
        assert_eq!(o.das28_day_360, Some(2.9));
        assert_eq!(o.flare_6m, Some(true)); // 3.1 -> 4.0 is > 0.6 to above 3.2
        assert_eq!(o.get(Outcome::Flare6m), Some(1.0));
        assert_eq!(r.outcomes_at(day(400)).das28_day_150, None); // no reading near day 550
    }
}
