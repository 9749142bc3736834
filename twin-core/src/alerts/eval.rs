//! How early and how often the alerts come, replayed on a scored part of the frozen
//! split (`rdt eval alerts`).
//!
//! Each scored patient who started methotrexate is replayed visit by visit (every day
//! with a DAS28 reading or a CRP) from the start for a year, or until the day before
//! the next DMARD starts (the switch visit's own data is what the switch was decided
//! on): at each visit the alerts are computed from the journey as it stood that
//! day, with the twin of that day, the install's twin head (fitted on the train part)
//! and a state model fitted on the train part here (the install's may have seen the
//! scored patients). Outcomes are read from the record as `rdt cohort --evaluate`
//! reads them (EULAR response at 6 months after the start, non-responder imputation):
//! for patients who failed and switched, the days from the first alert to the switch;
//! for responders, the share with any alert in the year.

use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, Utc};
use journey::event::Event;
use journey::store::JourneyStore;
use journey::PatientId;
use serde::Serialize;

use super::{compute, Alert, AlertKind};
use crate::cohort::query::end_of_day;
use crate::cohort::record::ClinicalRecord;
use crate::eval::split::Part;
use crate::eval::{EvalError, EvalReport};
use crate::heads::TwinHead;
use crate::index::build::load_journeys_with;
use crate::progress::Progress;
use crate::state::{patient_steps, StateModel, StateModelConfig};
use crate::twin::TwinModel;

/// Days of a methotrexate course replayed.
pub const REPLAY_DAYS: u64 = 365;

/// One replayed patient.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    pub mtx_start: NaiveDate,
    /// `Some(true)` responded at 6 months, `Some(false)` did not, `None` unknown.
    pub responded: Option<bool>,
    /// The next DMARD's start after methotrexate's, if any.
    pub switch: Option<NaiveDate>,
    /// The first alert of each rule, with its date.
    pub first: Vec<(AlertKind, NaiveDate)>,
    pub visits: usize,
}

impl Replayed {
    fn first_of(&self, rule: Option<AlertKind>) -> Option<NaiveDate> {
        self.first.iter().filter(|(k, _)| rule.is_none_or(|r| r == *k)).map(|(_, d)| *d).min()
    }
}

/// One rule's (or all rules') figures.
#[derive(Debug, Clone, Serialize)]
pub struct RuleFigures {
    /// `any` or the rule's name.
    pub rule: String,
    /// Failures (no response at 6 months) who switched, and of them alerted before the switch.
    pub failures_switched: usize,
    pub alerted_before_switch: usize,
    /// Days from the first alert to the switch among those: median and quartiles.
    pub lead_days: Option<[f64; 3]>,
    pub responders: usize,
    pub responders_alerted: usize,
    /// The alert rate among responders with its Wilson 95% interval.
    pub responder_rate: Option<[f64; 3]>,
}

/// The evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvaluation {
    pub scored: &'static str,
    pub patients: usize,
    pub replayed: usize,
    pub failures_without_switch: usize,
    pub visits: usize,
    pub head: Option<String>,
    pub figures: Vec<RuleFigures>,
}

fn quartiles(values: &mut [f64]) -> Option<[f64; 3]> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Some([at(0.5), at(0.25), at(0.75)])
}

/// The share `k / n` with its Wilson interval ([`crate::cohort::stats::wilson`]).
fn wilson(k: usize, n: usize) -> Option<[f64; 3]> {
    (n > 0).then(|| {
        let i = crate::cohort::stats::wilson(k, n);
        [k as f64 / n as f64, i.low, i.high]
    })
}

fn figures(rule: Option<AlertKind>, cases: &[Replayed]) -> RuleFigures {
    let failed: Vec<&Replayed> = cases.iter().filter(|c| c.responded == Some(false) && c.switch.is_some()).collect();
    let mut leads: Vec<f64> = failed
        .iter()
        .filter_map(|c| Some((c.switch? - c.first_of(rule)?).num_days() as f64))
        .filter(|d| *d > 0.0)
        .collect();
    let responders: Vec<&Replayed> = cases.iter().filter(|c| c.responded == Some(true)).collect();
    let responders_alerted = responders.iter().filter(|c| c.first_of(rule).is_some()).count();
    RuleFigures {
        rule: rule.map_or("any", AlertKind::as_str).to_owned(),
        failures_switched: failed.len(),
        alerted_before_switch: leads.len(),
        lead_days: quartiles(&mut leads),
        responders: responders.len(),
        responders_alerted,
        responder_rate: wilson(responders_alerted, responders.len()),
    }
}

/// Replays one journey (time-ordered); `None` when methotrexate never started.
fn replay(
    events: &[Event],
    model: &TwinModel,
    state: &StateModel,
    head: Option<&TwinHead>,
) -> Result<Option<Replayed>, EvalError> {
    let record = ClinicalRecord::read(events);
    let Some(start) =
        record.courses.iter().filter(|c| c.drug.is_some_and(|d| d.is_methotrexate())).map(|c| c.start).min()
    else {
        return Ok(None);
    };
    let switch = record
        .courses
        .iter()
        .filter(|c| c.is_dmard() && c.start > start && !c.drug.is_some_and(|d| d.is_methotrexate()))
        .map(|c| c.start.date_naive())
        .min();
    let cut = start.date_naive() + Days::new(90);
    let responded = record.outcomes_at(cut).mtx_response_6m.map(|r| r.responded());
    // Visits before the switch only: the switch visit's own data is what the switch
    // was decided on, so an alert that day is not early.
    let end = start.date_naive() + Days::new(REPLAY_DAYS);
    let mut days: Vec<NaiveDate> = record
        .das28
        .iter()
        .map(|r| r.time)
        .chain(record.crp.iter().map(|v| v.time))
        .map(|t| t.date_naive())
        .filter(|d| *d >= start.date_naive() && *d <= end && switch.is_none_or(|s| *d < s))
        .collect();
    days.sort();
    days.dedup();
    let mut first: Vec<(AlertKind, NaiveDate)> = Vec::new();
    for day in &days {
        let at: DateTime<Utc> = end_of_day(*day);
        let until: Vec<Event> = events.iter().filter(|e| e.time <= at).cloned().collect();
        let twin = match head {
            Some(_) => {
                let inputs = model.manifest.spec.inputs(&until, Some(at), &|_| None);
                Some(model.embed(std::slice::from_ref(&inputs), None)?.remove(0))
            }
            None => None,
        };
        let alerts: Vec<Alert> = compute(&until, at, Some(state), head.zip(twin));
        for a in alerts {
            if !first.iter().any(|(k, _)| *k == a.kind) {
                first.push((a.kind, *day));
            }
        }
    }
    Ok(Some(Replayed { mtx_start: start.date_naive(), responded, switch, first, visits: days.len() }))
}

/// Runs the evaluation on `scored` (never `Part::Train`) of the install's journeys.
pub async fn run_alert_evaluation(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &audit_log::ModelRegistry,
    scored: Part,
    max_cases: Option<usize>,
    progress: &dyn Progress,
) -> Result<EvalReport, EvalError> {
    let model = crate::twin::load_active(data_dir, registry).await?;
    let head_path = TwinHead::install_path(data_dir);
    let head = match head_path.exists() {
        true => Some(TwinHead::load_active(&head_path, registry, model.version).await?),
        false => None,
    };
    let journeys = load_journeys_with(store, None, progress).await?;
    let config = StateModelConfig::default();
    let train: Vec<PatientId> = journeys.iter().filter(|(p, _)| Part::of(p) == Part::Train).map(|(p, _)| p.clone()).collect();
    let steps: Vec<_> = journeys.iter().map(|(p, e)| patient_steps(p.clone(), e, config.step_days)).collect();
    let state = StateModel::fit_subset(&steps, &train, config);

    let mut chosen: Vec<&(PatientId, Vec<Event>)> = journeys.iter().filter(|(p, _)| Part::of(p) == scored).collect();
    let patients = chosen.len();
    if let Some(max) = max_cases {
        chosen.truncate(max);
    }
    progress.stage("replaying the alerts", chosen.len() as u64);
    let mut cases = Vec::new();
    for (_, events) in chosen {
        if let Some(r) = replay(events, &model, &state, head.as_ref())? {
            cases.push(r);
        }
        progress.advance(1);
    }
    progress.done();
    let mut all = vec![figures(None, &cases)];
    all.extend(AlertKind::ALL.into_iter().map(|k| figures(Some(k), &cases)));
    let evaluation = AlertEvaluation {
        scored: scored.as_str(),
        patients,
        replayed: cases.len(),
        failures_without_switch: cases.iter().filter(|c| c.responded == Some(false) && c.switch.is_none()).count(),
        visits: cases.iter().map(|c| c.visits).sum(),
        head: head.as_ref().map(|_| format!("twin head at {}", head_path.display())),
        figures: all,
    };
    Ok(EvalReport {
        json: serde_json::to_value(&evaluation).expect("an evaluation serialises"),
        markdown: markdown(&evaluation),
        figures: Vec::new(),
    })
}

fn markdown(e: &AlertEvaluation) -> String {
    use std::fmt::Write as _;
    let mut md = format!(
        "## Early alerts replayed on the {} part\n\n{} patients of the part, {} started methotrexate and were replayed \
         over {} visits (a year from the start, or to the day before the next DMARD); {} did not respond at 6 months and have no \
         switch on record (not in the lead times). Twin head: {}; state model fitted on the train part here.\n\n\
         | rule | failed and switched | alerted before the switch | days from first alert to switch, median (IQR) | \
         responders | responders alerted (95% CI) |\n|---|---|---|---|---|---|\n",
        e.scored,
        e.patients,
        e.replayed,
        e.visits,
        e.failures_without_switch,
        e.head.as_deref().unwrap_or("none (no failing-course alerts)")
    );
    for f in &e.figures {
        let lead = f.lead_days.map_or("-".to_owned(), |[m, lo, hi]| format!("{m:.0} ({lo:.0}-{hi:.0})"));
        let rate = f.responder_rate.map_or("-".to_owned(), |[p, lo, hi]| {
            format!("{} ({:.0}%, {:.0}-{:.0}%)", f.responders_alerted, 100.0 * p, 100.0 * lo, 100.0 * hi)
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {lead} | {} | {rate} |",
            f.rule, f.failures_switched, f.alerted_before_switch, f.responders
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(responded: Option<bool>, switch: Option<i64>, first: &[(AlertKind, i64)]) -> Replayed {
        let day = |d: i64| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(d);
        Replayed {
            mtx_start: day(0),
            responded,
            switch: switch.map(day),
            first: first.iter().map(|(k, d)| (*k, day(*d))).collect(),
            visits: 4,
        }
    }

    /// Lead times count failures alerted before their switch; responders' rate
    /// counts any alert; each rule on its own alerts.
    #[test]
    fn figures_count_leads_and_responder_alerts() {
        use AlertKind::*;
        let cases = [
            case(Some(false), Some(200), &[(ActivityAboveBand, 90), (FailingCourse, 120)]),
            case(Some(false), Some(150), &[(FailingCourse, 180)]), // after the switch: not a lead
            case(Some(false), Some(300), &[]),
            case(Some(false), None, &[(FailingCourse, 100)]),
            case(Some(true), None, &[(ActivityAboveBand, 40)]),
            case(Some(true), None, &[]),
            case(None, None, &[(FailingCourse, 50)]),
        ];
        let any = figures(None, &cases);
        assert_eq!((any.failures_switched, any.alerted_before_switch), (3, 1));
        assert_eq!(any.lead_days, Some([110.0, 110.0, 110.0]));
        assert_eq!((any.responders, any.responders_alerted), (2, 1));
        assert_eq!(any.responder_rate.unwrap()[0], 0.5);
        let course = figures(Some(FailingCourse), &cases);
        assert_eq!((course.alerted_before_switch, course.lead_days), (1, Some([80.0, 80.0, 80.0])));
        assert_eq!(course.responders_alerted, 0);
    }
}
