//! Early alerts: a patient whose course departs from what the twin expected.
//!
//! Two rules, each a pure function of the record (and the models it reads), each
//! saying why with the numbers:
//!
//! - [`activity_above_band`]: the latest DAS28 is worse than the state model's 90%
//!   forecast band from the reading before it, under the treatment then in force
//!   (the band: the states from remission upwards that hold 90% of the forecast).
//! - [`failing_course`]: on methotrexate for [`COURSE_CHECK_DAYS`] days, the twin head
//!   (calibrated, with its interval) gives a response at 6 months a probability below
//!   [`FAILING_RESPONSE_BELOW`]; the CRP since the start is quoted beside it.
//!
//! [`compute`] applies both to a journey as of a time; `crate::index::catch_up` runs it
//! for every patient it re-embeds and stores the alerts (`journey`'s `patient_alerts`),
//! `rdt eval alerts` ([`eval`]) replays journeys visit by visit to measure how early
//! they come for patients who fail methotrexate and how often they fire for those
//! who respond.

pub mod eval;

use chrono::{DateTime, NaiveDate, Utc};
use journey::event::Event;
use serde::{Deserialize, Serialize};

use crate::cohort::outcomes::Outcome;
use crate::cohort::record::ClinicalRecord;
use crate::heads::TwinHead;
use crate::state::{distribution_at, point_mass, readings, state_index, state_name, StateModel, Treatment, STATES};

/// The forecast band's coverage.
pub const BAND_COVERAGE: f64 = 0.90;
/// Readings further apart than this are not compared (the forecast would say little).
pub const MAX_READING_GAP_DAYS: i64 = 365;
/// Readings closer than this are not compared (a repeat at the same visit).
pub const MIN_READING_GAP_DAYS: i64 = 28;
/// Days on methotrexate before its course is judged (the treat-to-target check).
pub const COURSE_CHECK_DAYS: std::ops::RangeInclusive<i64> = 60..=240;
/// A probability of response at 6 months below this is a failing course.
pub const FAILING_RESPONSE_BELOW: f64 = 0.35;

/// Which rule raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    ActivityAboveBand,
    FailingCourse,
}

impl AlertKind {
    pub const ALL: [AlertKind; 2] = [AlertKind::ActivityAboveBand, AlertKind::FailingCourse];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ActivityAboveBand => "activity_above_band",
            AlertKind::FailingCourse => "failing_course",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            AlertKind::ActivityAboveBand => "Disease activity above the forecast",
            AlertKind::FailingCourse => "Methotrexate course failing",
        }
    }
}

/// One alert: what, on which date's data, and why in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// The date of the reading (or check) that raised it: an alert is the same alert
    /// while this date is.
    pub raised_on: NaiveDate,
    pub message: String,
}

/// The latest DAS28 by `at` against the 90% forecast band from the reading before it.
pub fn activity_above_band(model: &StateModel, events: &[Event], at: DateTime<Utc>) -> Option<Alert> {
    let series: Vec<_> = readings(events).into_iter().filter(|r| r.time <= at).collect();
    let [.., before, latest] = series.as_slice() else { return None };
    let gap = (latest.time - before.time).num_days();
    if !(MIN_READING_GAP_DAYS..=MAX_READING_GAP_DAYS).contains(&gap) {
        return None;
    }
    let forecast =
        distribution_at(&model.matrix(before.treatment), point_mass(before.state), gap as f64, model.config.step_days);
    // The band: states from the best upwards until they hold 90% of the forecast.
    let mut held = 0.0;
    let mut top = STATES.len() - 1;
    for (i, p) in forecast.iter().enumerate() {
        held += p;
        if held >= BAND_COVERAGE {
            top = i;
            break;
        }
    }
    if state_index(latest.state) <= top {
        return None;
    }
    let p = forecast[state_index(latest.state)];
    Some(Alert {
        kind: AlertKind::ActivityAboveBand,
        raised_on: latest.time.date_naive(),
        message: format!(
            "DAS28 {:.1} ({}) on {} is above the state model's 90% forecast band ({} to {}) from DAS28 {:.1} ({}) \
             on {} under {}, {gap} days earlier: the model gave {} {:.0}%.",
            latest.das28,
            state_name(latest.state),
            latest.time.date_naive(),
            state_name(STATES[0]),
            state_name(STATES[top]),
            before.das28,
            state_name(before.state),
            before.time.date_naive(),
            treatment_words(before.treatment),
            state_name(latest.state),
            100.0 * p
        ),
    })
}

fn treatment_words(t: Treatment) -> &'static str {
    match t {
        Treatment::None => "no DMARD",
        Treatment::Csdmard => "a csDMARD",
        Treatment::TnfInhibitor => "a TNF inhibitor",
        Treatment::OtherAdvanced => "another advanced therapy",
    }
}

/// The twin head's view of a methotrexate course by `at`: a probability of response at
/// 6 months below [`FAILING_RESPONSE_BELOW`] while on it for [`COURSE_CHECK_DAYS`]. The
/// head's figure is read only where the head is calibrated (else no alert: a figure
/// without an honest interval is not shown); `twin` is the patient's twin at `at`.
pub fn failing_course(head: &TwinHead, events: &[Event], at: DateTime<Utc>, twin: Vec<f32>) -> Option<Alert> {
    let record = ClinicalRecord::read(events);
    let on_mtx = record
        .courses
        .iter()
        .filter(|c| c.drug.is_some_and(|d| d.is_methotrexate()) && c.start <= at && c.ongoing_on(at.date_naive()))
        .map(|c| c.start)
        .min()?;
    let days = (at - on_mtx).num_days();
    if !COURSE_CHECK_DAYS.contains(&days) {
        return None;
    }
    let inputs = head.inputs(&record, events, at, twin);
    let figure = head.figure(Outcome::MtxResponse6m, &inputs)?;
    if figure.value >= FAILING_RESPONSE_BELOW {
        return None;
    }
    let interval = figure
        .interval
        .map(|i| format!(" (patients given a similar figure: {:.0}% responded, 95% {:.0}-{:.0}%, n {})", 100.0 * figure.observed.unwrap_or(0.0), 100.0 * i.low, 100.0 * i.high, figure.n))
        .unwrap_or_default();
    let crp_start = record.crp.iter().rev().find(|v| v.time <= on_mtx && (on_mtx - v.time).num_days() <= 30);
    let crp_now = record.crp.iter().rev().find(|v| v.time <= at && v.time > on_mtx);
    let crp = match (crp_start, crp_now) {
        (Some(a), Some(b)) => format!(" CRP {:.0} mg/L at the start, {:.0} mg/L on {}.", a.value, b.value, b.time.date_naive()),
        (None, Some(b)) => format!(" CRP {:.0} mg/L on {}.", b.value, b.time.date_naive()),
        _ => String::new(),
    };
    Some(Alert {
        kind: AlertKind::FailingCourse,
        raised_on: at.date_naive(),
        message: format!(
            "On methotrexate since {} ({days} days): the twin head gives a EULAR response at 6 months {:.0}%{interval}.{crp}",
            on_mtx.date_naive(),
            100.0 * figure.value
        ),
    })
}

/// Both rules on a journey as of `at` (time-ordered events, all by `at` or not: later
/// ones are not read), with what the install has: the state model, and the twin head
/// with the patient's twin at `at`.
pub fn compute(
    events: &[Event],
    at: DateTime<Utc>,
    state_model: Option<&StateModel>,
    head: Option<(&TwinHead, Vec<f32>)>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    if let Some(model) = state_model {
        out.extend(activity_above_band(model, events, at));
    }
    if let Some((head, twin)) = head {
        out.extend(failing_course(head, events, at, twin));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{PatientSteps, StateModelConfig, Step};
    use crate::state::testutil::{das28, day};
    use crate::state::DiseaseState;
    use journey::event::PatientId;

    /// A chain fitted on patients who stay in low activity untreated: from low, high
    /// is outside the 90% band 90 days later, low is inside it.
    #[test]
    fn a_reading_outside_the_band_raises_an_alert_with_its_numbers() {
        let stay = Step { treatment: Treatment::None, from: DiseaseState::Low, to: DiseaseState::Low };
        let data: Vec<PatientSteps> =
            (0..20).map(|i| PatientSteps { patient: PatientId::new(format!("p{i}")).unwrap(), steps: vec![stay; 10] }).collect();
        let model = StateModel::fit(&data, StateModelConfig { resamples: 2, ..Default::default() });
        let rising = vec![das28(0, 3.0), das28(90, 6.1)];
        let alert = activity_above_band(&model, &rising, day(90)).expect("high after low is outside the band");
        assert_eq!((alert.kind, alert.raised_on), (AlertKind::ActivityAboveBand, day(90).date_naive()));
        assert!(alert.message.starts_with("DAS28 6.1 (high) on"), "{}", alert.message);
        assert!(alert.message.contains("from DAS28 3.0 (low)") && alert.message.contains("90 days earlier"), "{}", alert.message);
        // As of before the second reading, or with a steady one, nothing.
        assert_eq!(activity_above_band(&model, &rising, day(89)), None);
        assert_eq!(activity_above_band(&model, &[das28(0, 3.0), das28(90, 3.1)], day(90)), None);
        // Readings a week apart, or two years apart, are not compared.
        assert_eq!(activity_above_band(&model, &[das28(0, 3.0), das28(7, 6.1)], day(7)), None);
        assert_eq!(activity_above_band(&model, &[das28(0, 3.0), das28(700, 6.1)], day(700)), None);
    }
}
