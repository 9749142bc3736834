//! The counterfactual head: one model of what follows a decision with the option as an
//! input, asked once per option ("what if she started a TNF inhibitor?").
//!
//! Boosted trees (`cohort::boosting`, RDT's fixed budget) on the decision's
//! covariates (`units::covariates`: measurements at the decision, treatment before
//! it), the aggregated history up to the day before (`cohort::history`) and the
//! option taken, one-hot; fitted on the population's decisions (each snapshot with an
//! option taken and the outcome known) for DAS28 at day 270 (squared loss) and EULAR
//! response at 6 months (log loss). Asked for a patient with each option in turn: the
//! differences between the answers are what the record says the options change, for
//! patients like this one; like any model of observational data it adjusts for what
//! its features hold, not for what they do not.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};

use super::units::{covariates, OptionsPopulation};
use crate::cohort::boosting::{fit_booster, BoostingError};
use crate::cohort::history::history_features;
use crate::cohort::population::Population;
use crate::cohort::record::ClinicalRecord;
use journey::clinical::{OptionOutcome, TreatmentOption};
use journey::event::{Event, PatientId};

/// The counterfactual head's two models.
pub struct OptionHead {
    features: usize,
    das28_270: PerpetualBooster,
    response_6m: PerpetualBooster,
}

/// A decision's features: covariates, history up to the day before, option one-hot.
pub fn decision_features(record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>, option: TreatmentOption) -> Vec<f64> {
    let before = crate::cohort::query::end_of_day(at.date_naive() - chrono::Days::new(1));
    let mut x = covariates(record, at);
    x.extend(history_features(record, events, before));
    x.extend(TreatmentOption::ALL.iter().map(|o| if *o == option { 1.0 } else { 0.0 }));
    x
}

impl OptionHead {
    /// Fits on every decision of `decisions` whose patient's record `population` and
    /// events `journeys` hold.
    pub fn fit(
        decisions: &OptionsPopulation,
        population: &Population,
        journeys: &HashMap<&PatientId, &[Event]>,
    ) -> Result<Self, BoostingError> {
        let (mut x_das, mut y_das, mut x_resp, mut y_resp) = (vec![], vec![], vec![], vec![]);
        for unit in decisions.units() {
            let (Some(record), Some(events)) = (population.record(&unit.patient), journeys.get(&unit.patient)) else {
                continue;
            };
            let das = unit.outcomes.get(OptionOutcome::Das28Day270);
            let resp = unit.outcomes.get(OptionOutcome::Response6m);
            if das.is_none() && resp.is_none() {
                continue;
            }
            let x = decision_features(record, events, unit.index_time, unit.option);
            if let Some(v) = das {
                x_das.push(x.clone());
                y_das.push(v);
            }
            if let Some(v) = resp {
                x_resp.push(x);
                y_resp.push(v);
            }
        }
        let features = x_das.first().or(x_resp.first()).map(Vec::len).ok_or(BoostingError::Empty("option head"))?;
        Ok(OptionHead {
            features,
            das28_270: fit_booster(&x_das, &y_das, Objective::SquaredLoss, "option head: DAS28 at day 270")?,
            response_6m: fit_booster(&x_resp, &y_resp, Objective::LogLoss, "option head: response at 6 months")?,
        })
    }

    /// DAS28 at day 270 (kept on 0-10) and the response probability, were the patient
    /// of `features` (from [`decision_features`]) to take the option they name.
    pub fn predict(&self, features: &[f64]) -> Option<(f64, f64)> {
        if features.len() != self.features {
            return None;
        }
        let m = Matrix::new(features, 1, self.features);
        let das = self.das28_270.predict(&m, false).first().copied()?.clamp(0.0, 10.0);
        let p = self.response_6m.predict_proba(&m, false, false).first().copied()?;
        (das.is_finite() && p.is_finite()).then_some((das, p.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::Duration;

    /// 80 patients decided at day 100: those who started adalimumab went from 5.6 to
    /// 2.4, those who kept methotrexate stayed at 5.6. Asked for an active patient,
    /// the head answers inside the scales for every option, and the TNF inhibitor
    /// lower than continuing.
    #[test]
    fn the_head_answers_per_option_inside_the_scales() {
        let journeys: Vec<(PatientId, Vec<Event>)> = (0..80)
            .map(|i| {
                let id = PatientId::new(format!("p{i:02}")).unwrap();
                let mut parts = vec![das28(0, 6.0), drug(0, None, "6851"), das28(100, 5.6)];
                if i % 2 == 0 {
                    parts.extend([drug(100, None, "327361"), das28(282, 2.6), das28(370, 2.4), das28(460, 2.4)]);
                } else {
                    parts.extend([das28(282, 5.5), das28(370, 5.6), das28(460, 5.6)]);
                }
                let mut events = Journey::new(parts).events;
                events.iter_mut().for_each(|e| e.patient = id.clone());
                (id, events)
            })
            .collect();
        let decision = |e: &[Event]| vec![crate::cohort::query::end_of_day(e[0].time.date_naive() + Duration::days(100))];
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &decision);
        let decisions = OptionsPopulation::build(&population);
        let events: HashMap<&PatientId, &[Event]> = journeys.iter().map(|(p, e)| (p, e.as_slice())).collect();
        let head = OptionHead::fit(&decisions, &population, &events).expect("a fitted head");
        let (p, e) = (&journeys[1].0, &journeys[1].1);
        let record = population.record(p).unwrap();
        let at = crate::cohort::query::end_of_day(e[0].time.date_naive() + Duration::days(100));
        let ask = |o| head.predict(&decision_features(record, e, at, o)).unwrap();
        for o in TreatmentOption::ALL {
            let (das, resp) = ask(o);
            assert!((0.0..=10.0).contains(&das) && (0.0..=1.0).contains(&resp), "{o}: {das} {resp}");
        }
        assert!(ask(TreatmentOption::TnfInhibitor).0 < ask(TreatmentOption::Continue).0);
        assert_eq!(head.predict(&[1.0, 2.0]), None, "a row of the wrong width");
    }
}
