//! The treatment options a rheumatologist weighs at a decision, what a started course
//! counts as among them, and the outcomes of an option from the day it started.
//!
//! One definition for every crate: the virtual cohort's counterfactual truth
//! (`synth`), the neighbours' observed outcomes per option (`twin-core::options`) and
//! the tools read an option and its outcomes here, so an estimate and the truth it is
//! scored against mean the same thing.
//!
//! Conventions:
//! - a DMARD started at a decision counts as the option of its target
//!   ([`TreatmentOption::of_drug`]): methotrexate; another csDMARD (added to one or
//!   replacing it); a TNF inhibitor; an IL-6 receptor blocker; a JAK inhibitor;
//!   rituximab (anti-CD20); abatacept (co-stimulation blockade). Other drugs (IL-1
//!   blockers, immunosuppressants) are no RA option here;
//! - **continue** is a decision too: no DMARD started, the running one kept;
//! - an option's outcomes are read from the day it started (for continue, from the
//!   decision day) with the definitions of [`super::outcomes`]: EULAR response at 6
//!   months (non-response when the option's drug is stopped or another DMARD starts
//!   before the reading), a flare within 6 months, DAS28 at 150/270/360 days, and a
//!   DMARD stopped for an adverse event within 6 months.

use chrono::{Days, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::activity::Scale;
use super::drugs::{Drug, DrugClass, Target};
use super::outcomes::{flare_within, reading_near, response_at, ActivityPoint, Window, FLARE_WINDOW_DAYS, POINT_TOLERANCE_DAYS, SIX_MONTHS};
use super::record::{Course, StopCause};
use super::EularResponse;

/// Days after an option's start within which a DMARD stopped for an adverse event
/// counts against it (the same 6 months as response and flare).
pub const ADVERSE_STOP_WINDOW_DAYS: i64 = 182;

/// A treatment option at a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentOption {
    /// Keep the current treatment: no DMARD started at the decision.
    Continue,
    /// Start methotrexate.
    Methotrexate,
    /// Another conventional synthetic DMARD (hydroxychloroquine, sulfasalazine,
    /// leflunomide), added or instead.
    CsdmardCombination,
    TnfInhibitor,
    Il6Inhibitor,
    JakInhibitor,
    Rituximab,
    Abatacept,
}

impl TreatmentOption {
    pub const ALL: [TreatmentOption; 8] = [
        TreatmentOption::Continue,
        TreatmentOption::Methotrexate,
        TreatmentOption::CsdmardCombination,
        TreatmentOption::TnfInhibitor,
        TreatmentOption::Il6Inhibitor,
        TreatmentOption::JakInhibitor,
        TreatmentOption::Rituximab,
        TreatmentOption::Abatacept,
    ];

    /// The snake_case key (as serialised, and as `synth`'s counterfactual file names it).
    pub fn key(self) -> &'static str {
        match self {
            TreatmentOption::Continue => "continue",
            TreatmentOption::Methotrexate => "methotrexate",
            TreatmentOption::CsdmardCombination => "csdmard_combination",
            TreatmentOption::TnfInhibitor => "tnf_inhibitor",
            TreatmentOption::Il6Inhibitor => "il6_inhibitor",
            TreatmentOption::JakInhibitor => "jak_inhibitor",
            TreatmentOption::Rituximab => "rituximab",
            TreatmentOption::Abatacept => "abatacept",
        }
    }

    /// What a clinician reads.
    pub fn label(self) -> &'static str {
        match self {
            TreatmentOption::Continue => "continue the current treatment",
            TreatmentOption::Methotrexate => "methotrexate",
            TreatmentOption::CsdmardCombination => "another csDMARD (added or instead)",
            TreatmentOption::TnfInhibitor => "TNF inhibitor",
            TreatmentOption::Il6Inhibitor => "IL-6 inhibitor",
            TreatmentOption::JakInhibitor => "JAK inhibitor",
            TreatmentOption::Rituximab => "rituximab",
            TreatmentOption::Abatacept => "abatacept",
        }
    }

    /// The option a started drug counts as; `None` for a drug that is no RA option
    /// here (glucocorticoids, supportive drugs, IL-1 blockers, immunosuppressants).
    pub fn of_drug(drug: &Drug) -> Option<TreatmentOption> {
        match (drug.class, drug.target) {
            _ if drug.is_methotrexate() => Some(TreatmentOption::Methotrexate),
            (DrugClass::Csdmard, _) => Some(TreatmentOption::CsdmardCombination),
            (_, Target::Tnf) => Some(TreatmentOption::TnfInhibitor),
            (_, Target::Il6Receptor) => Some(TreatmentOption::Il6Inhibitor),
            (_, Target::Jak) => Some(TreatmentOption::JakInhibitor),
            (_, Target::Cd20) => Some(TreatmentOption::Rituximab),
            (_, Target::Costimulation) => Some(TreatmentOption::Abatacept),
            _ => None,
        }
    }

    /// Whether `course` is a course of this option's drugs (never for continue).
    pub fn is_course_of(self, course: &Course) -> bool {
        course.drug.and_then(TreatmentOption::of_drug) == Some(self) && self != TreatmentOption::Continue
    }
}

impl std::fmt::Display for TreatmentOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

impl std::str::FromStr for TreatmentOption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TreatmentOption::ALL.into_iter().find(|o| o.key() == s).ok_or_else(|| {
            let keys: Vec<&str> = TreatmentOption::ALL.iter().map(|o| o.key()).collect();
            format!("`{s}` is no treatment option: expected one of {}", keys.join(", "))
        })
    }
}

/// What followed an option, from the day it started; `None` where the record cannot tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OptionOutcomes {
    /// EULAR response 6 months after the start (good or moderate counts as a response).
    pub response_6m: Option<EularResponse>,
    pub flare_6m: Option<bool>,
    pub das28_day_150: Option<f64>,
    pub das28_day_270: Option<f64>,
    pub das28_day_360: Option<f64>,
    /// A DMARD stopped for an adverse event within [`ADVERSE_STOP_WINDOW_DAYS`].
    pub adverse_event_stop_6m: Option<bool>,
}

/// The outcomes of `option` started (or, for continue, decided) on `start`, read from
/// a journey's activity series and medication courses; `last` is the last day the
/// record covers (a "no" needs the window to be seen).
pub fn option_outcomes(
    option: TreatmentOption,
    start: NaiveDate,
    activity: &[ActivityPoint],
    courses: &[Course],
    last: NaiveDate,
) -> OptionOutcomes {
    // The regimen fails when the option's course started then is stopped, or another
    // DMARD starts after it; for continue, when a running DMARD stops or any starts.
    let failed_on = if option == TreatmentOption::Continue {
        let started = courses.iter().filter(|c| c.is_dmard() && c.start.date_naive() > start).map(|c| c.start.date_naive());
        let stopped = courses
            .iter()
            .filter(|c| c.is_dmard() && c.ongoing_on(start))
            .filter_map(|c| c.stop.map(|s| s.date_naive()));
        started.chain(stopped).min()
    } else {
        let stopped = courses
            .iter()
            .filter(|c| option.is_course_of(c) && c.start.date_naive() == start)
            .filter_map(|c| c.stop.map(|s| s.date_naive()));
        let other = courses
            .iter()
            .filter(|c| c.is_dmard() && !option.is_course_of(c) && c.start.date_naive() > start)
            .map(|c| c.start.date_naive());
        stopped.chain(other).min()
    };
    let das28_at = |day: i64| {
        reading_near(activity, start, Window { day, tolerance: POINT_TOLERANCE_DAYS })
            .filter(|r| r.scale == Scale::Das28)
            .map(|r| r.score)
    };
    let window_end = start + Days::new(ADVERSE_STOP_WINDOW_DAYS as u64);
    let adverse = courses.iter().any(|c| {
        c.is_dmard()
            && c.stop_cause() == Some(StopCause::AdverseEvent)
            && c.stop.is_some_and(|s| s.date_naive() > start && s.date_naive() <= window_end)
    });
    let adverse_event_stop_6m = if adverse { Some(true) } else { (last >= window_end).then_some(false) };
    OptionOutcomes {
        response_6m: response_at(activity, start, SIX_MONTHS, failed_on),
        flare_6m: flare_within(activity, start, FLARE_WINDOW_DAYS),
        das28_day_150: das28_at(150),
        das28_day_270: das28_at(270),
        das28_day_360: das28_at(360),
        adverse_event_stop_6m,
    }
}

/// The option a journey took at a decision on `day`: the first DMARD started in
/// `[day, day + within_days]` that is an option, else continue when a DMARD runs on
/// `day` and none started, else `None` (no DMARD and nothing started: no decision to
/// compare). Returns the option and the day it started.
pub fn option_taken(courses: &[Course], day: NaiveDate, within_days: u64) -> Option<(TreatmentOption, NaiveDate)> {
    let until = day + Days::new(within_days);
    let mut started: Vec<&Course> = courses
        .iter()
        .filter(|c| c.is_dmard() && c.start.date_naive() >= day && c.start.date_naive() <= until)
        .collect();
    started.sort_by_key(|c| c.start);
    if let Some(first) = started.first() {
        return first.drug.and_then(TreatmentOption::of_drug).map(|o| (o, first.start.date_naive()));
    }
    courses.iter().any(|c| c.is_dmard() && c.ongoing_on(day)).then_some((TreatmentOption::Continue, day))
}

impl OptionOutcomes {
    /// An outcome as a number: 1/0 for yes/no (a response counts when good or
    /// moderate), the DAS28 itself for values.
    pub fn get(&self, outcome: OptionOutcome) -> Option<f64> {
        let yes = |b: bool| if b { 1.0 } else { 0.0 };
        match outcome {
            OptionOutcome::Response6m => self.response_6m.map(|r| yes(r.responded())),
            OptionOutcome::Flare6m => self.flare_6m.map(yes),
            OptionOutcome::Das28Day150 => self.das28_day_150,
            OptionOutcome::Das28Day270 => self.das28_day_270,
            OptionOutcome::Das28Day360 => self.das28_day_360,
            OptionOutcome::AdverseEventStop6m => self.adverse_event_stop_6m.map(yes),
        }
    }
}

/// The outcomes an option comparison reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptionOutcome {
    Response6m,
    Flare6m,
    Das28Day150,
    Das28Day270,
    Das28Day360,
    AdverseEventStop6m,
}

impl OptionOutcome {
    pub const ALL: [OptionOutcome; 6] = [
        OptionOutcome::Response6m,
        OptionOutcome::Flare6m,
        OptionOutcome::Das28Day150,
        OptionOutcome::Das28Day270,
        OptionOutcome::Das28Day360,
        OptionOutcome::AdverseEventStop6m,
    ];

    /// Yes/no outcomes are rates; the DAS28 values are means on 0-10.
    pub fn is_rate(self) -> bool {
        !matches!(self, OptionOutcome::Das28Day150 | OptionOutcome::Das28Day270 | OptionOutcome::Das28Day360)
    }

    /// Whether a higher figure is better for the patient (only response).
    pub fn higher_is_better(self) -> bool {
        self == OptionOutcome::Response6m
    }

    pub fn key(self) -> &'static str {
        match self {
            OptionOutcome::Response6m => "response_6m",
            OptionOutcome::Flare6m => "flare_6m",
            OptionOutcome::Das28Day150 => "das28_day_150",
            OptionOutcome::Das28Day270 => "das28_day_270",
            OptionOutcome::Das28Day360 => "das28_day_360",
            OptionOutcome::AdverseEventStop6m => "adverse_event_stop_6m",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OptionOutcome::Response6m => "EULAR response at 6 months (good/moderate)",
            OptionOutcome::Flare6m => "flare within 6 months",
            OptionOutcome::Das28Day150 => "DAS28 at day 150",
            OptionOutcome::Das28Day270 => "DAS28 at day 270",
            OptionOutcome::Das28Day360 => "DAS28 at day 360",
            OptionOutcome::AdverseEventStop6m => "stopped for an adverse event within 6 months",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::drugs::{lookup, RXNORM};
    use crate::event::Code;
    use chrono::{TimeZone, Utc};

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Duration::days(n)
    }

    fn course(rxnorm: &str, start: i64, stop: Option<(i64, &str)>) -> Course {
        let code = Code { system: RXNORM.into(), code: rxnorm.into(), display: None };
        let at = |d: i64| Utc.from_utc_datetime(&day(d).and_hms_opt(10, 0, 0).unwrap());
        Course {
            drug: lookup(&code),
            code,
            start: at(start),
            stop: stop.map(|(d, _)| at(d)),
            dosage: None,
            stop_reason: stop.map(|(_, r)| r.to_owned()),
        }
    }

    fn das(d: i64, score: f64) -> ActivityPoint {
        ActivityPoint { date: day(d), score, scale: Scale::Das28 }
    }

    #[test]
    fn a_started_drug_counts_as_the_option_of_its_target() {
        let option = |rx: &str| {
            TreatmentOption::of_drug(lookup(&Code { system: RXNORM.into(), code: rx.into(), display: None }).unwrap())
        };
        assert_eq!(option("6851"), Some(TreatmentOption::Methotrexate));
        assert_eq!(option("9524"), Some(TreatmentOption::CsdmardCombination));
        assert_eq!(option("191831"), Some(TreatmentOption::TnfInhibitor)); // infliximab
        assert_eq!(option("1923319"), Some(TreatmentOption::Il6Inhibitor)); // sarilumab
        assert_eq!(option("2196092"), Some(TreatmentOption::JakInhibitor)); // upadacitinib
        assert_eq!(option("121191"), Some(TreatmentOption::Rituximab));
        assert_eq!(option("614391"), Some(TreatmentOption::Abatacept));
        assert_eq!(option("8640"), None); // prednisone
        assert_eq!(option("72435"), None); // anakinra: no RA option here
        for o in TreatmentOption::ALL {
            assert_eq!(o.key().parse::<TreatmentOption>(), Ok(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.key());
        }
        assert!("tnfi".parse::<TreatmentOption>().unwrap_err().contains("tnf_inhibitor"));
    }

    #[test]
    fn the_option_taken_is_the_first_dmard_started_or_continue() {
        let courses = vec![course("6851", 0, None), course("327361", 100, None)];
        assert_eq!(option_taken(&courses, day(90), 30), Some((TreatmentOption::TnfInhibitor, day(100))));
        assert_eq!(option_taken(&courses, day(40), 30), Some((TreatmentOption::Continue, day(40))));
        assert_eq!(option_taken(&courses[..0], day(40), 30), None);
    }

    #[test]
    fn an_options_outcomes_are_read_from_its_start() {
        // MTX from day 0; adalimumab from day 100 (DAS28 5.6), 2.9 at day 280: good.
        let courses = vec![course("6851", 0, None), course("327361", 100, None)];
        let series = vec![das(0, 6.0), das(100, 5.6), das(250, 3.0), das(280, 2.9), das(370, 3.0), das(460, 3.1)];
        let o = option_outcomes(TreatmentOption::TnfInhibitor, day(100), &series, &courses, day(500));
        assert_eq!(o.response_6m, Some(EularResponse::Good));
        assert_eq!(o.flare_6m, Some(false));
        assert_eq!(o.das28_day_150, Some(3.0));
        assert_eq!(o.das28_day_360, Some(3.1));
        assert_eq!(o.adverse_event_stop_6m, Some(false));
        assert_eq!(o.get(OptionOutcome::Response6m), Some(1.0));
        // Continue at day 40: adalimumab started at day 100, before the 6-month reading.
        let kept = option_outcomes(TreatmentOption::Continue, day(40), &[das(40, 5.8), das(220, 3.0)], &courses, day(500));
        assert_eq!(kept.response_6m, Some(EularResponse::NoResponse));
    }

    #[test]
    fn a_stop_for_an_adverse_event_counts_in_its_window_only() {
        let courses = vec![course("6851", 0, Some((60, "Discontinued: raised transaminases (hepatotoxicity)")))];
        let o = option_outcomes(TreatmentOption::Methotrexate, day(0), &[das(0, 5.0)], &courses, day(30));
        assert_eq!(o.adverse_event_stop_6m, Some(true));
        let stopped_late = vec![course("6851", 0, Some((300, "Side effects: nausea")))];
        let seen = option_outcomes(TreatmentOption::Methotrexate, day(0), &[das(0, 5.0)], &stopped_late, day(400));
        assert_eq!(seen.adverse_event_stop_6m, Some(false));
        // Too little follow-up for a "no".
        let short = option_outcomes(TreatmentOption::Methotrexate, day(0), &[das(0, 5.0)], &[], day(100));
        assert_eq!(short.adverse_event_stop_6m, None);
    }
}
