//! The twin's prognosis part: what the record's aggregated history
//! ([`crate::cohort::history`]) says of each outcome of DESIGN.md (methotrexate and
//! TNF-inhibitor response, flare, switch, DAS28 at days 150, 270 and 360), read by
//! boosted trees fitted once at training and appended to the twin after the fused
//! vector and the clinical-history block.
//!
//! Why: a neighbourhood of look-alike readings still mixes patients whose courses
//! part (a refractory patient and a responder with the same DAS28 at three months).
//! Beside their expected course, look-alike patients of one hidden subtype are found
//! together more often (docs/benchmarks/predictive.md, "The twin's prognosis part"),
//! and the neighbour cohort is then patients who looked alike *and* were expected to
//! fare alike. Fitted with the twin and saved in its spec, the part is versioned with
//! the twin (its sha256 names the trees): the index never depends on the twin head,
//! which is fitted later and governed apart, and a new event updates the part as it
//! updates the rest of the twin, without retraining.
//!
//! Only the train part's outcomes teach the trees ([`crate::eval::split::Part`]), and
//! never a patient's own: the train part is cut in two folds by the split's hash, each
//! fold's trees fitted on the other fold, and a train-part patient is read by the trees
//! that never saw it (everyone else by the mean of both). Otherwise the historical
//! patients of the index would carry their own outcomes, remembered, in their twins,
//! and a model fitted on those twins (the twin head) would learn to trust a reading it
//! never gets for a new patient. Each outcome's prediction (a logit for yes/no, a value
//! for DAS28) is standardised on the fitted rows' out-of-fold predictions; an outcome
//! the trees could not fit reads 0, the middle.
//!
//! The part reads the trees one of two ways ([`PrognosisReading`]): the expected
//! course itself (one number per outcome), or its **reasons**: per outcome, each
//! history column's contribution to the trees' prediction (Saabas' attribution, see
//! [`BoostedBaseline::contributions`]; log-odds for
//! yes/no, DAS28 points for values), each outcome's contributions scaled by their
//! spread on the fitted rows. Patients near in the reasons are expected to fare alike
//! *for the same readings* (a rising CRP and a seropositive record, not a high DAS28
//! alone), and the neighbours share the hidden subtype more often than by the
//! expected course or the look-alike readings (docs/benchmarks/predictive.md, "The
//! prognosis part's reasons"). The contributions sum to the prediction, so the
//! expected course is in the reasons too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::event::Event;

use journey::event::PatientId;

use crate::cohort::boosting::{BoostedBaseline, Budget, ValueForecast};
use crate::cohort::history::history_features;
use crate::cohort::{ClinicalRecord, Outcome, PatientOutcomes};
use crate::eval::split::{bucket, Part};
use crate::heads::DECISION_WINDOW_DAYS;

/// Folds of the train part: each fold's trees are fitted on the other's rows.
const FOLDS: usize = 2;

/// Rows the trees are fitted on at most: every decision moment (a time
/// [`DECISION_WINDOW_DAYS`] after a DMARD start, where a clinician asks how the patient
/// will fare on it), then every n-th other point to fill the rest. Enough for trees on
/// about a hundred columns, and it keeps training at 10,000 patients inside its budget.
const MAX_ROWS: usize = 20_000;

/// One outcome's standardisation: the mean and sd of its fitted rows' predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Scale {
    mean: f64,
    sd: f64,
}

/// Rows the reasons' spread is measured on at most (every n-th fitted row).
const MAX_SPREAD_ROWS: usize = 2_000;

/// How the part reads the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrognosisReading {
    /// One standardised prediction per outcome (a part written before the reasons
    /// existed is this).
    #[default]
    Expected,
    /// Per outcome, each history column's contribution to the prediction.
    Reasons,
}

/// The fitted trees and each outcome's scale ([`Outcome::ALL`] order; `None` where the
/// trees give no prediction).
#[derive(Clone, Serialize, Deserialize)]
pub struct PrognosisPart {
    /// Per fold, trees fitted on the train part's rows *outside* that fold.
    folds: Vec<BoostedBaseline>,
    scales: Vec<Option<Scale>>,
    /// Rows the trees were fitted on.
    rows: usize,
    #[serde(default)]
    reading: PrognosisReading,
    /// For [`PrognosisReading::Reasons`]: the history columns the trees read, and per
    /// outcome the root mean square of its contributions on the fitted rows (`None`
    /// where the trees give none or all are 0).
    #[serde(default)]
    columns: usize,
    #[serde(default)]
    reason_scales: Vec<Option<f64>>,
    /// The trees' complexity budget (a part written before it was chosen: the
    /// baselines').
    #[serde(default)]
    budget: Budget,
}

impl std::fmt::Debug for PrognosisPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrognosisPart")
            .field("reading", &self.reading)
            .field("budget", &self.budget)
            .field("scales", &self.scales)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// A prediction on the part's raw scale: the logit of a probability, a value as is.
fn raw(outcome: Outcome, value: f64) -> f64 {
    if outcome.is_rate() {
        crate::heads::logit(value)
    } else {
        value
    }
}

/// The fold of a train-part patient (`None` outside the train part: never fitted on).
fn fold_of(patient: &PatientId) -> Option<usize> {
    (Part::of(patient) == Part::Train).then(|| bucket(patient) as usize % FOLDS)
}

impl PrognosisPart {
    /// Fits the trees on the train part's journeys (time-ordered) at every day in
    /// `points(record)`, each row the aggregated history as of that day and the
    /// outcomes the record tells after it. `None` when no row has an outcome or an
    /// outcome could be fitted in no fold (too few patients): the twin then has no
    /// prognosis part. `reading` is how [`PrognosisPart::part`] reads the trees;
    /// `budget` how finely they are fitted.
    pub fn fit(
        journeys: &[&[Event]],
        points: &dyn Fn(&ClinicalRecord) -> Vec<DateTime<Utc>>,
        reading: PrognosisReading,
        budget: Budget,
    ) -> Option<PrognosisPart> {
        let records: Vec<(usize, &[Event], ClinicalRecord, Vec<DateTime<Utc>>)> = journeys
            .iter()
            .filter_map(|events| {
                let fold = fold_of(&events.first()?.patient)?;
                let record = ClinicalRecord::read(events);
                let at = points(&record);
                Some((fold, *events, record, at))
            })
            .collect();
        // Decision moments first, all of them (up to the cap); the other points by stride.
        let moment = |record: &ClinicalRecord, t: &DateTime<Utc>| {
            record.courses.iter().filter(|c| c.is_dmard()).any(|c| DECISION_WINDOW_DAYS.contains(&(*t - c.start).num_days()))
        };
        let moments: usize = records.iter().map(|(_, _, r, at)| at.iter().filter(|t| moment(r, t)).count()).sum();
        let others: usize = records.iter().map(|(_, _, _, at)| at.len()).sum::<usize>() - moments;
        let stride = others.div_ceil(MAX_ROWS.saturating_sub(moments).max(1)).max(1);
        let mut rows: Vec<(usize, Vec<f64>, PatientOutcomes)> = Vec::new();
        let mut n = 0usize;
        for (fold, events, record, at) in &records {
            for t in at {
                if !moment(record, t) {
                    n += 1;
                    if n % stride != 0 {
                        continue;
                    }
                }
                if rows.len() == MAX_ROWS {
                    break;
                }
                let outcomes = record.outcomes_at(t.date_naive());
                if Outcome::ALL.iter().any(|o| outcomes.get(*o).is_some()) {
                    rows.push((*fold, history_features(record, events, *t), outcomes));
                }
            }
        }
        let folds: Vec<BoostedBaseline> = (0..FOLDS)
            .map(|f| BoostedBaseline::fit_with(
                    rows.iter().filter(|(g, _, _)| *g != f).map(|(_, x, o)| (x.as_slice(), o)),
                    budget,
                    ValueForecast::Mean,
                ))
            .collect::<Result<_, _>>()
            .ok()?;
        // Each reading measures only its own scale: the predictions' for the expected
        // course, the contributions' for the reasons.
        let scales: Vec<Option<Scale>> = match reading {
            PrognosisReading::Reasons => Vec::new(),
            PrognosisReading::Expected => Outcome::ALL
                .iter()
                .map(|&o| {
                    let values: Vec<f64> =
                        rows.iter().filter_map(|(f, x, _)| folds[*f].predict(o, x)).map(|v| raw(o, v)).collect();
                    if values.len() < 2 {
                        return None;
                    }
                    let mean = values.iter().sum::<f64>() / values.len() as f64;
                    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
                    (sd > 1e-9).then_some(Scale { mean, sd })
                })
                .collect(),
        };
        let columns = rows.first().map_or(0, |(_, x, _)| x.len());
        let reason_scales = match reading {
            PrognosisReading::Expected => Vec::new(),
            PrognosisReading::Reasons => {
                let stride = rows.len().div_ceil(MAX_SPREAD_ROWS).max(1);
                Outcome::ALL
                    .iter()
                    .map(|&o| {
                        let (mut sum, mut n) = (0.0, 0usize);
                        for (f, x, _) in rows.iter().step_by(stride) {
                            if let Some(c) = folds[*f].contributions(o, x) {
                                sum += c.iter().map(|v| v * v).sum::<f64>();
                                n += c.len();
                            }
                        }
                        let rms = (sum / n.max(1) as f64).sqrt();
                        (rms > 1e-12).then_some(rms)
                    })
                    .collect()
            }
        };
        let any = match reading {
            PrognosisReading::Expected => scales.iter().any(Option::is_some),
            PrognosisReading::Reasons => reason_scales.iter().any(Option::is_some),
        };
        any.then_some(PrognosisPart { folds, scales, rows: rows.len(), reading, columns, reason_scales, budget })
    }

    /// What `read` gives of the trees for `patient`: by its fold's trees (fitted without
    /// it) in the train part, the mean of every fold's elsewhere. The one place the
    /// cross-fit is read, for predictions and contributions alike.
    fn by_fold(&self, patient: Option<&PatientId>, read: impl Fn(&BoostedBaseline) -> Option<Vec<f64>>) -> Option<Vec<f64>> {
        if let Some(fold) = patient.and_then(fold_of) {
            return read(self.folds.get(fold)?);
        }
        let each: Vec<Vec<f64>> = self.folds.iter().filter_map(read).collect();
        let first = each.first()?;
        Some((0..first.len()).map(|c| each.iter().map(|v| v[c]).sum::<f64>() / each.len() as f64).collect())
    }

    /// One outcome's raw prediction for `patient` ([`Self::by_fold`]).
    fn predict(&self, outcome: Outcome, patient: Option<&PatientId>, x: &[f64]) -> Option<f64> {
        self.by_fold(patient, |t| t.predict(outcome, x).map(|v| vec![raw(outcome, v)]))?.first().copied()
    }

    /// One outcome's contributions for `patient` ([`Self::by_fold`]).
    fn contributions(&self, outcome: Outcome, patient: Option<&PatientId>, x: &[f64]) -> Option<Vec<f64>> {
        self.by_fold(patient, |t| t.contributions(outcome, x))
    }

    /// The part of a journey (`record` read from `events`, time-ordered) as of `at`.
    /// Expected: each outcome's standardised prediction, 0 where there is none, one
    /// entry per outcome of [`Outcome::ALL`]. Reasons: per outcome in that order, each
    /// history column's scaled contribution, 0s where the outcome has none.
    pub fn part(&self, record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>) -> Vec<f32> {
        let x = history_features(record, events, at);
        let patient = events.first().map(|e| &e.patient);
        if self.reading == PrognosisReading::Reasons {
            let mut out = Vec::with_capacity(self.width());
            for (&o, scale) in Outcome::ALL.iter().zip(&self.reason_scales) {
                match (scale, self.contributions(o, patient, &x)) {
                    (Some(s), Some(c)) if c.len() == self.columns => out.extend(c.iter().map(|v| (v / s) as f32)),
                    _ => out.extend(std::iter::repeat_n(0.0, self.columns)),
                }
            }
            return out;
        }
        Outcome::ALL
            .iter()
            .zip(&self.scales)
            .map(|(&o, scale)| match (scale, self.predict(o, patient, &x)) {
                (Some(s), Some(v)) => ((v - s.mean) / s.sd) as f32,
                _ => 0.0,
            })
            .collect()
    }

    /// Width of the part: one per outcome, or per outcome and history column.
    pub fn width(&self) -> usize {
        match self.reading {
            PrognosisReading::Expected => self.scales.len(),
            PrognosisReading::Reasons => self.reason_scales.len() * self.columns,
        }
    }

    /// How the part reads its trees.
    pub fn reading(&self) -> PrognosisReading {
        self.reading
    }

    /// Rows the trees were fitted on.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The trees' complexity budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use crate::eval::split::Part;
    use journey::event::PatientId;

    fn day(d: i64) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d)
    }

    /// `n` patients of one part of the frozen split.
    fn ids(part: Part, n: usize) -> Vec<PatientId> {
        (0..).map(|i| PatientId::new(format!("p{i}")).unwrap()).filter(|p| Part::of(p) == part).take(n).collect()
    }

    /// Responders (DAS28 falls after methotrexate) and non-responders (it stays high):
    /// the part places a responder and a non-responder apart on methotrexate response,
    /// whether they are new (tuning part) or historical (train part, read by the fold
    /// that never saw them), read as the expected course or as its reasons, and only
    /// the train part's journeys teach it.
    #[test]
    fn the_part_reads_the_expected_course_and_learns_from_the_train_part_only() {
        let journey = |id: &PatientId, responds: bool, k: i64| {
            let after = if responds { 2.4 + 0.01 * k as f64 } else { 5.6 - 0.01 * k as f64 };
            let mut j = Journey::new(vec![
                das28(0, 5.8),
                drug(10, None, "6851"),
                das28(100, if responds { 4.0 } else { 5.7 }),
                das28(190, after),
                das28(280, after),
                das28(400, after),
            ]);
            for e in &mut j.events {
                e.patient = id.clone();
            }
            j
        };
        let train = ids(Part::Train, 120);
        let journeys: Vec<Journey> = train.iter().enumerate().map(|(k, id)| journey(id, k % 2 == 0, k as i64)).collect();
        let slices: Vec<&[Event]> = journeys.iter().map(|j| j.events.as_slice()).collect();
        let points = |_: &ClinicalRecord| vec![day(100)];
        let mtx = Outcome::ALL.iter().position(|o| *o == Outcome::MtxResponse6m).unwrap();
        let columns = history_features(&ClinicalRecord::read(&journeys[0].events), &journeys[0].events, day(100)).len();
        let finer = Budget::new(1.0).unwrap();
        for (reading, budget) in
            [(PrognosisReading::Expected, Budget::BASELINE), (PrognosisReading::Reasons, Budget::BASELINE), (PrognosisReading::Expected, finer)]
        {
            let part = PrognosisPart::fit(&slices, &points, reading, budget).expect("a part");
            assert_eq!(part.reading(), reading);
            assert_eq!(part.budget(), budget);
            assert_eq!(part.rows(), 120);
            // Expected: one entry per outcome; reasons: one per outcome and column,
            // whose sum is the outcome's expected course on the part's scale.
            let (width, outcome) = match reading {
                PrognosisReading::Expected => (Outcome::ALL.len(), mtx..mtx + 1),
                PrognosisReading::Reasons => (Outcome::ALL.len() * columns, mtx * columns..(mtx + 1) * columns),
            };
            assert_eq!(part.width(), width);
            let read = |j: &Journey| {
                let v = part.part(&ClinicalRecord::read(&j.events), &j.events, day(100));
                assert_eq!(v.len(), width);
                v[outcome.clone()].iter().sum::<f32>()
            };
            let (responder, refractory) = (read(&journeys[0]), read(&journeys[1]));
            assert!(responder > refractory + 1.0, "{reading:?}, historical: responder {responder}, refractory {refractory}");
            let new = ids(Part::Tuning, 2);
            let (responder, refractory) = (read(&journey(&new[0], true, 0)), read(&journey(&new[1], false, 1)));
            assert!(responder > refractory + 1.0, "{reading:?}, new: responder {responder}, refractory {refractory}");
        }

        let tuning: Vec<Journey> =
            ids(Part::Tuning, 40).iter().enumerate().map(|(k, id)| journey(id, k % 2 == 0, k as i64)).collect();
        let slices: Vec<&[Event]> = tuning.iter().map(|j| j.events.as_slice()).collect();
        for reading in [PrognosisReading::Expected, PrognosisReading::Reasons] {
            assert!(PrognosisPart::fit(&slices, &points, reading, Budget::BASELINE).is_none(), "no train-part journey, no part");
        }
    }
}
