//! The neighbours' rate as an estimate for *this* patient: their count drawn toward
//! what neighbourhoods of this twin usually show, by how many they are (empirical
//! Bayes, beta-binomial).
//!
//! Why: 20 neighbours are few. "0 of 20 responded" is a fact about those 20, but read
//! as this patient's chance it is over-confident: the neighbour cohort's calibration
//! slope was 0.33 for methotrexate failure and 0.24 for flare on the 10,000-patient
//! store (docs/benchmarks/predictive.md), against 0.97 and 1.05 for the twin head.
//! Much of that is the count's own noise. How much a neighbourhood's rate really
//! varies from one patient to the next is measured, not chosen: the rates of many
//! historical snapshots' own neighbourhoods spread by the true spread plus the
//! binomial noise of `k` patients, and the difference is the true spread
//! ([`NeighbourhoodPrior::fit`], method of moments). Its weight is then the number
//! of patients' worth of evidence the usual rate carries: a count is pooled with it
//! (the beta posterior's mean and its 95% equal-tailed interval, [`Pooled`]).
//!
//! The neighbours' own count and its Wilson or Kaplan-Meier interval stay in the
//! report beside the pooled figure: what the look-alike patients did is never
//! replaced, only read for this patient. A DAS28 mean is not pooled (its error is
//! the mean's t interval, and it is scored by its absolute error, which the
//! pooling would not move much).
//!
//! The weight measures the spread of the neighbourhoods' true rates, the count's noise
//! taken out, so a query with another `k` than the fit's (a tool may ask 5 to 50) reads
//! the same prior; a much larger `k` averages more patients and its true rates spread
//! a little less than the prior assumes (the pooled figure then leans on the count).
//!
//! The prior is fitted where the neighbours come from: at `rdt embed` over the
//! index it just wrote (saved beside the twin head, carrying the twin's version,
//! pinned and active in the model registry like the head: governance sees it, rolls
//! it back, and a hand-edited file is refused), and in `rdt cohort --evaluate` over
//! the train part alone.
//!
//! Each prior also scores its own pooled figure where it is fitted: the sampled
//! points' neighbours pooled with it, against the points' own outcomes (a Cox
//! calibration slope, [`OutcomePrior::calibration_slope`]). A pooled figure is shown
//! only where that slope lies inside the twin head's [`crate::heads::CALIBRATED_SLOPE`]
//! ([`OutcomePrior::withheld`]); otherwise the count alone stays, and says why.
//!
//! Twice: over historical snapshots at the index's cadence, and over decision points
//! (each DMARD start + 90 days, [`crate::heads::decision_times`]), where a clinician
//! asks whether the drug is working and where neighbourhoods' risks spread more than
//! at an arbitrary date. A question asked at a decision point ([`Moment::of`]) is
//! pooled with the decision points' prior: with the cadence's alone the flare figure
//! at methotrexate start + 90 days was drawn too far toward the usual rate
//! (calibration slope 1.84 on the 10,000-patient store's tuning part; 1.40 with the
//! decision points', docs/benchmarks/predictive.md), as the twin head's figures were
//! before its decision stack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, ModelRegistry, Principal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use super::outcomes::{Outcome, PatientOutcomes};
use super::record::ClinicalRecord;
use super::population::estimate_over;
use super::query::{nearest_historical, CohortError, QueryOptions};
use super::stats::Interval;
use crate::heads::{TwinHead, TwinHeadError};
use crate::index::NeighbourIndex;
use crate::twin::TwinModel;
use journey::event::{Event, PatientId};

/// Below this many sampled neighbourhoods with an outcome, its prior is not fitted
/// (the spread of fewer rates is itself too noisy to weigh a count against).
pub const MIN_NEIGHBOURHOODS: usize = 30;

/// How many historical snapshots a fit samples (evenly, in a fixed order): enough for
/// a spread's moment to within a few percent, a few seconds of searches.
pub const SAMPLED_SNAPSHOTS: usize = 600;

/// One yes/no outcome's prior over this twin's neighbourhoods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomePrior {
    pub outcome: Outcome,
    /// The mean rate over the sampled neighbourhoods.
    pub rate: f64,
    /// The prior's weight in patients (beta `a + b`): the usual rate counts as this
    /// many more neighbours. Small when neighbourhoods differ a lot (the twin
    /// separates patients), large when they all look like the population.
    pub weight: f64,
    /// Neighbourhoods the fit read.
    pub neighbourhoods: usize,
    /// Their mean number of neighbours with the outcome.
    pub mean_n: f64,
    /// How the pooled figure read on the sampled points themselves: each point's
    /// neighbours pooled with this prior against what happened to the point's own
    /// patient (Cox calibration slope, [`crate::heads::calibration_line`]), over
    /// `calibration_n` points whose outcome the record tells. `None` when it could not
    /// be measured (a prior written before it was, or too few points): its figures are
    /// then not shown ([`OutcomePrior::withheld`]).
    #[serde(default)]
    pub calibration_slope: Option<f64>,
    #[serde(default)]
    pub calibration_n: usize,
}

impl OutcomePrior {
    /// Why a count pooled with this prior is not shown as the patient's chance: its
    /// calibration slope on the sampled points lies outside
    /// [`crate::heads::CALIBRATED_SLOPE`] (the twin head's rule), or it could not be
    /// measured on [`crate::heads::MIN_CALIBRATION_ROWS`] points. `None` when it may be.
    pub fn withheld(&self) -> Option<String> {
        let range = crate::heads::CALIBRATED_SLOPE;
        match self.calibration_slope {
            None if self.calibration_n == 0 => Some(
                "the pooled figure's calibration was not measured (a prior written before RDT measured it: run \
                 `rdt embed`)"
                    .to_owned(),
            ),
            _ if self.calibration_n < crate::heads::MIN_CALIBRATION_ROWS => Some(format!(
                "the pooled figure's calibration was measured on {} sampled patients with this outcome, fewer than {}",
                self.calibration_n,
                crate::heads::MIN_CALIBRATION_ROWS
            )),
            Some(slope) if range.contains(&slope) => None,
            Some(slope) => Some(format!(
                "the pooled figure is not calibrated: slope {slope:.2} on {} sampled patients, outside {:.1}-{:.1}",
                self.calibration_n,
                range.start(),
                range.end()
            )),
            None => Some("the pooled figure's calibration could not be measured".to_owned()),
        }
    }

    /// A count (`rate` over `n` patients; for Kaplan-Meier the cumulative incidence)
    /// pooled with this prior, whether or not it may be shown.
    fn pooled(&self, rate: f64, n: usize, prior_moment: Moment) -> Option<Pooled> {
        if n == 0 || !rate.is_finite() {
            return None;
        }
        let events = rate.clamp(0.0, 1.0) * n as f64;
        let a = events + self.weight * self.rate;
        let b = (n as f64 - events) + self.weight * (1.0 - self.rate);
        let value = a / (a + b);
        // Both shape parameters are positive: the prior's rate is inside (0, 1) and
        // its weight positive (fit_outcome), and the count adds to them.
        let beta = Beta::new(a, b).ok()?;
        let ci = Interval { low: beta.inverse_cdf(0.025).clamp(0.0, value), high: beta.inverse_cdf(0.975).clamp(value, 1.0) };
        Some(Pooled { value, ci, prior_rate: self.rate, prior_weight: self.weight, prior_moment })
    }
}

/// One sampled point's neighbourhood for a fit: its neighbours' outcomes (each read
/// after the neighbour's own index time) and, when the record tells, the point's own
/// patient's outcomes after the point, which the pooled figure is scored against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbourhood {
    pub neighbours: Vec<PatientOutcomes>,
    pub own: Option<PatientOutcomes>,
}

/// When a cohort question is asked, as far as the prior it is pooled with goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// Any time that is not a decision point.
    #[default]
    Other,
    /// A decision point: the latest DMARD started 60-120 days before
    /// ([`crate::heads::is_decision_point`]).
    Decision,
}

impl Moment {
    /// The moment of `record` at `at`.
    pub fn of(record: &ClinicalRecord, at: DateTime<Utc>) -> Self {
        if crate::heads::is_decision_point(record, at) { Moment::Decision } else { Moment::Other }
    }
}

/// The priors of one twin's neighbourhoods, one per yes/no outcome it could fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourhoodPrior {
    /// The twin whose index the neighbourhoods were read from (hex SHA-256): a
    /// prior of another twin is refused ([`NeighbourhoodPrior::load_active`]).
    pub twin_version: String,
    /// Neighbours per neighbourhood (the cohort's `k`).
    pub k: usize,
    /// Fitted over historical snapshots at the index's cadence: read at any time
    /// but a decision point, and at one for an outcome without a decision prior.
    pub outcomes: Vec<OutcomePrior>,
    /// Fitted over decision points ([`Moment::Decision`]); empty in a prior written
    /// before they were measured, or when too few decision points had neighbours.
    #[serde(default)]
    pub at_decisions: Vec<OutcomePrior>,
}

/// A neighbour count pooled with the prior: the estimate for this patient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pooled {
    /// The beta posterior's mean.
    pub value: f64,
    /// Its 95% equal-tailed interval.
    pub ci: Interval,
    /// The prior's rate and weight it was pooled with.
    pub prior_rate: f64,
    pub prior_weight: f64,
    /// Which prior that was: the decision points' or the cadence's.
    #[serde(default)]
    pub prior_moment: Moment,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolingError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    /// Not the registry's active prior, or unreadable.
    #[error(transparent)]
    Artifact(#[from] crate::artifact::ArtifactFileError),
    #[error("{path} holds the neighbourhood prior of twin {found}, the active twin is {active}: run `rdt embed`")]
    OtherTwin { path: PathBuf, found: String, active: String },
}

impl NeighbourhoodPrior {
    /// Fits the prior of each yes/no outcome from `neighbourhoods` (each the outcomes
    /// of one historical snapshot's neighbours, read after their own index times).
    ///
    /// Method of moments: with true rates of mean `mu` and variance `tau2` across
    /// neighbourhoods, a neighbourhood of `n` shows a rate of variance
    /// `tau2 (1 - 1/n) + mu (1 - mu) / n`; solved for `tau2`, the beta prior of that
    /// mean and variance has weight `mu (1 - mu) / tau2 - 1`. Kaplan-Meier outcomes
    /// (flare, switch) read their cumulative incidence at its `n`. `at_decisions` are
    /// the neighbourhoods of decision points, fitted apart the same way.
    pub fn fit(twin_version: Digest, k: usize, neighbourhoods: &[Neighbourhood], at_decisions: &[Neighbourhood]) -> Self {
        let fit_all = |groups: &[Neighbourhood]| -> Vec<OutcomePrior> {
            Outcome::ALL.into_iter().filter(|o| o.is_rate()).filter_map(|o| fit_outcome(o, groups)).collect()
        };
        NeighbourhoodPrior { twin_version: twin_version.to_hex(), k, outcomes: fit_all(neighbourhoods), at_decisions: fit_all(at_decisions) }
    }

    /// The prior a question at `moment` reads for `outcome`: at a decision point the
    /// decision points' when there is one, else the cadence's.
    pub fn outcome(&self, outcome: Outcome, moment: Moment) -> Option<(&OutcomePrior, Moment)> {
        let at_decision = || self.at_decisions.iter().find(|p| p.outcome == outcome).map(|p| (p, Moment::Decision));
        let cadence = || self.outcomes.iter().find(|p| p.outcome == outcome).map(|p| (p, Moment::Other));
        match moment {
            Moment::Decision => at_decision().or_else(cadence),
            Moment::Other => cadence(),
        }
    }

    /// A neighbour figure (`rate` over `n` patients; for Kaplan-Meier the cumulative
    /// incidence) of a question asked at `moment`, pooled with this outcome's prior
    /// ([`NeighbourhoodPrior::outcome`]); `None` for an outcome without one (a value,
    /// or too few neighbourhoods), without patients, or when the prior's pooled
    /// figure is withheld ([`NeighbourhoodPrior::withheld`]).
    pub fn pool(&self, outcome: Outcome, rate: f64, n: usize, moment: Moment) -> Option<Pooled> {
        let (prior, prior_moment) = self.outcome(outcome, moment)?;
        if prior.withheld().is_some() {
            return None;
        }
        prior.pooled(rate, n, prior_moment)
    }

    /// Why a question at `moment` gets no pooled figure for `outcome` although a prior
    /// was fitted for it ([`OutcomePrior::withheld`]); `None` when it gets one, or has
    /// no prior (a value is never pooled).
    pub fn withheld(&self, outcome: Outcome, moment: Moment) -> Option<String> {
        let (prior, prior_moment) = self.outcome(outcome, moment)?;
        let at = if prior_moment == Moment::Decision { " at decision points" } else { "" };
        prior.withheld().map(|why| format!("{why}{at}"))
    }

    /// Where an install keeps its prior: beside the twin head it is fitted with.
    pub fn install_path(data_dir: &Path) -> PathBuf {
        crate::twin::install::models_dir(data_dir).join("neighbourhood-prior.json")
    }

    /// Writes the prior whole (never half-written), pins its bytes and makes them the
    /// active neighbourhood prior, each step audited as `by`: a figure read for a
    /// patient from it names a version governance pinned, as the twin head's do.
    /// Returns its version (SHA-256 of the bytes).
    pub async fn save_and_register(&self, path: &Path, registry: &ModelRegistry, by: &Principal) -> Result<Digest, PoolingError> {
        let fail = |e: &dyn std::fmt::Display| PoolingError::File { path: path.to_owned(), message: e.to_string() };
        let bytes = crate::artifact::canonical_json(self).map_err(|e| fail(&e))?;
        let reason = "fitted by rdt embed on the index it wrote";
        Ok(crate::artifact::save_pinned(path, &bytes, registry, by, ArtifactKind::NeighbourhoodPrior, reason).await?)
    }

    /// The prior at `path`, refused unless its bytes are the registry's active
    /// neighbourhood prior and it was fitted for the twin `active`.
    pub async fn load_active(path: &Path, registry: &ModelRegistry, active: Digest) -> Result<Self, PoolingError> {
        let (bytes, _) =
            crate::artifact::read_active(path, registry, ArtifactKind::NeighbourhoodPrior, "the neighbourhood prior").await?;
        let prior: NeighbourhoodPrior = serde_json::from_slice(&bytes)
            .map_err(|e| PoolingError::File { path: path.to_owned(), message: e.to_string() })?;
        if prior.twin_version != active.to_hex() {
            return Err(PoolingError::OtherTwin {
                path: path.to_owned(),
                found: prior.twin_version,
                active: active.to_hex(),
            });
        }
        Ok(prior)
    }
}

/// The historical snapshots a fit samples: [`SAMPLED_SNAPSHOTS`] of `snapshots`,
/// evenly spaced in the order given (deterministic: the same index, the same prior).
pub fn sample<T: Clone>(snapshots: &[T]) -> Vec<T> {
    if snapshots.len() <= SAMPLED_SNAPSHOTS {
        return snapshots.to_vec();
    }
    (0..SAMPLED_SNAPSHOTS).map(|i| snapshots[i * snapshots.len() / SAMPLED_SNAPSHOTS].clone()).collect()
}

/// One sampled historical snapshot: whose, when, and its twin.
pub type SampledSnapshot = (PatientId, DateTime<Utc>, Vec<f32>);

/// `points` (whose, when) with each patient's twin as of that time, for a fit: the
/// index holds only its cadence's snapshots, so decision points (and an evaluation's
/// own sampled snapshots) are embedded here, one way for `rdt embed` and the
/// evaluation. A point whose patient `events` lacks is left out.
pub fn embed_points(
    model: &TwinModel,
    events: &HashMap<&PatientId, &[Event]>,
    points: &[(&PatientId, DateTime<Utc>)],
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<Vec<SampledSnapshot>, TwinHeadError> {
    let known: Vec<(&PatientId, DateTime<Utc>, &[Event])> =
        points.iter().filter_map(|(p, t)| Some((*p, *t, *events.get(p)?))).collect();
    let rows: Vec<(&[Event], DateTime<Utc>)> = known.iter().map(|(_, t, e)| (*e, *t)).collect();
    let twins = TwinHead::embed_rows(model, &rows, note_vector)?;
    Ok(known.into_iter().zip(twins).map(|((p, t, _), v)| (p.clone(), t, v)).collect())
}

/// Fits the prior over the neighbourhoods of `sampled` historical snapshots and of
/// `decisions` (sampled decision points, [`decision_points`]), each found in `index`
/// as a query finds a patient's ([`nearest_historical`]: its own patient and every
/// one `excluded` says left out, `options`' k and follow-up), their outcomes read by
/// `outcomes_of` after each neighbour's own index time.
pub async fn fit_from_index(
    twin_version: Digest,
    index: &NeighbourIndex,
    sampled: Vec<SampledSnapshot>,
    decisions: Vec<SampledSnapshot>,
    options: &QueryOptions,
    outcomes_of: &(dyn Fn(&PatientId, DateTime<Utc>) -> Option<PatientOutcomes> + Sync),
    excluded: &(dyn Fn(&PatientId) -> bool + Sync),
) -> Result<NeighbourhoodPrior, CohortError> {
    let mut groups = [Vec::with_capacity(sampled.len()), Vec::with_capacity(decisions.len())];
    for (group, points) in groups.iter_mut().zip([sampled, decisions]) {
        for (patient, at, vector) in points {
            let found = nearest_historical(index, vector, &patient, options, excluded).await?;
            group.push(Neighbourhood {
                neighbours: found.iter().filter_map(|n| outcomes_of(&n.patient, n.index_time)).collect(),
                own: outcomes_of(&patient, at),
            });
        }
    }
    Ok(NeighbourhoodPrior::fit(twin_version, options.k, &groups[0], &groups[1]))
}

/// The decision points a fit samples: each of `records`' DMARD starts + 90 days
/// ([`crate::heads::decision_times`]), in the order given, then [`sample`]d. Their
/// twins are not in the index (it holds the cadence's snapshots and the starts
/// themselves): the caller embeds them.
pub fn decision_points<'a, P: Clone>(records: impl IntoIterator<Item = (P, &'a ClinicalRecord)>) -> Vec<(P, DateTime<Utc>)> {
    let all: Vec<(P, DateTime<Utc>)> = records
        .into_iter()
        .flat_map(|(p, r)| crate::heads::decision_times(r).into_iter().map(move |t| (p.clone(), t)))
        .collect();
    sample(&all)
}

fn fit_outcome(outcome: Outcome, neighbourhoods: &[Neighbourhood]) -> Option<OutcomePrior> {
    // Each neighbourhood's rate and n, read once, with the point's own outcome.
    let read: Vec<(f64, usize, Option<bool>)> = neighbourhoods
        .iter()
        .filter_map(|group| {
            let e = estimate_over(outcome, &group.neighbours, 1);
            let own = group.own.as_ref().and_then(|o| o.get(outcome)).map(|y| y > 0.5);
            Some((e.value()?, e.n(), own))
        })
        .collect();
    let seen: Vec<(f64, f64)> = read.iter().map(|(rate, n, _)| (*rate, *n as f64)).collect();
    if seen.len() < MIN_NEIGHBOURHOODS {
        return None;
    }
    let count = seen.len() as f64;
    let mu = seen.iter().map(|(r, _)| r).sum::<f64>() / count;
    let spread = mu * (1.0 - mu);
    if spread <= 1e-9 {
        return None;
    }
    let observed = seen.iter().map(|(r, _)| (r - mu).powi(2)).sum::<f64>() / (count - 1.0);
    let noise = seen.iter().map(|(_, n)| spread / n).sum::<f64>() / count;
    let kept = seen.iter().map(|(_, n)| 1.0 - 1.0 / n).sum::<f64>() / count;
    // Neighbourhoods of one patient each say nothing of the spread beyond the noise.
    if kept <= 1e-9 {
        return None;
    }
    // The true spread lies between none (every neighbourhood alike: the prior
    // dominates) and the whole Bernoulli variance (neighbourhoods all-or-none: the
    // count dominates); a weight of at least 0.01 patients keeps the beta proper.
    let tau2 = ((observed - noise) / kept).clamp(spread / 10_000.0, spread / 1.01);
    let mut prior = OutcomePrior {
        outcome,
        rate: mu,
        weight: spread / tau2 - 1.0,
        neighbourhoods: seen.len(),
        mean_n: seen.iter().map(|(_, n)| n).sum::<f64>() / count,
        calibration_slope: None,
        calibration_n: 0,
    };
    // The pooled figure against each point's own outcome. The prior's two numbers were
    // fitted on these same neighbourhoods (their rates, never the points' own
    // outcomes), so the slope is read nearly out of sample.
    let (p, y): (Vec<f64>, Vec<bool>) =
        read.iter().filter_map(|&(rate, n, own)| Some((prior.pooled(rate, n, Moment::Other)?.value, own?))).unzip();
    prior.calibration_n = p.len();
    prior.calibration_slope = crate::heads::calibration_line(&p, &y).map(|(_, slope)| slope);
    Some(prior)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::{EularResponse, TimeToEvent};

    /// Outcomes with only methotrexate response known.
    fn responded(yes: bool) -> PatientOutcomes {
        let response = if yes { EularResponse::Good } else { EularResponse::NoResponse };
        PatientOutcomes { mtx_response_6m: Some(response), ..Default::default() }
    }

    /// `k` patients whose response is drawn at `rate` (deterministically: the first
    /// round(rate k) respond); the point's own outcome unknown.
    fn neighbourhood(rate: f64, k: usize) -> Neighbourhood {
        let yes = (rate * k as f64).round() as usize;
        Neighbourhood { neighbours: (0..k).map(|i| responded(i < yes)).collect(), own: None }
    }

    /// The prior as if its pooled figures had been measured calibrated (for tests of
    /// the pooling's arithmetic).
    fn calibrated(mut prior: NeighbourhoodPrior) -> NeighbourhoodPrior {
        for p in prior.outcomes.iter_mut().chain(prior.at_decisions.iter_mut()) {
            (p.calibration_slope, p.calibration_n) = (Some(1.0), 100);
        }
        prior
    }

    /// Neighbourhoods whose rates are all alike carry no spread beyond the count's
    /// noise: the prior weighs heavily. Neighbourhoods that are all-or-none are as
    /// spread as rates can be: the prior weighs next to nothing.
    #[test]
    fn the_prior_weighs_what_the_spread_says() {
        let version = Digest::of(b"twin");
        let alike: Vec<_> = (0..60).map(|_| neighbourhood(0.5, 20)).collect();
        let prior = NeighbourhoodPrior::fit(version, 20, &alike, &[]);
        let p = prior.outcome(Outcome::MtxResponse6m, Moment::Other).map(|(p, _)| p).expect("fitted");
        assert!((p.rate - 0.5).abs() < 1e-12 && p.weight > 1_000.0, "{p:?}");
        let apart: Vec<_> = (0..60).map(|i| neighbourhood(if i % 2 == 0 { 0.0 } else { 1.0 }, 20)).collect();
        let p = NeighbourhoodPrior::fit(version, 20, &apart, &[]).outcome(Outcome::MtxResponse6m, Moment::Other).map(|(p, _)| p).cloned().expect("fitted");
        assert!((p.rate - 0.5).abs() < 1e-12 && p.weight < 0.05, "{p:?}");
        // In between: rates of 0.2 and 0.8 spread with variance 0.09 against a
        // Bernoulli 0.25; less the noise a count of 20 would add, the weight lands
        // near 0.25 / 0.09 - 1 = 1.8.
        let mixed: Vec<_> = (0..60).map(|i| neighbourhood(if i % 2 == 0 { 0.2 } else { 0.8 }, 20)).collect();
        let p = NeighbourhoodPrior::fit(version, 20, &mixed, &[]).outcome(Outcome::MtxResponse6m, Moment::Other).map(|(p, _)| p).cloned().expect("fitted");
        assert!(p.weight > 1.0 && p.weight < 3.0, "{p:?}");
        // No prior for a value, none for an outcome nobody had data on, none below
        // the minimum of neighbourhoods.
        assert!(prior.outcome(Outcome::Das28Day150, Moment::Other).map(|(p, _)| p).is_none() && prior.outcome(Outcome::TnfiResponse6m, Moment::Other).map(|(p, _)| p).is_none());
        let few: Vec<_> = (0..MIN_NEIGHBOURHOODS - 1).map(|_| neighbourhood(0.5, 20)).collect();
        assert!(NeighbourhoodPrior::fit(version, 20, &few, &[]).outcome(Outcome::MtxResponse6m, Moment::Other).map(|(p, _)| p).is_none());
    }

    /// 0 of 20 is not a 0% chance: pooled, the estimate moves toward the usual rate by
    /// the prior's weight, stays inside 0-1 with its interval around it, and a count
    /// far larger than the weight is barely moved.
    #[test]
    fn a_count_is_drawn_toward_the_usual_rate_by_its_weight() {
        let prior = NeighbourhoodPrior {
            twin_version: Digest::of(b"twin").to_hex(),
            k: 20,
            outcomes: vec![OutcomePrior {
                outcome: Outcome::MtxResponse6m,
                rate: 0.4,
                weight: 5.0,
                neighbourhoods: 600,
                mean_n: 20.0,
                calibration_slope: Some(1.05),
                calibration_n: 400,
            }],
            at_decisions: vec![],
        };
        let none = prior.pool(Outcome::MtxResponse6m, 0.0, 20, Moment::Other).expect("pooled");
        assert!((none.value - 2.0 / 25.0).abs() < 1e-12, "{none:?}");
        assert!(0.0 < none.ci.low && none.ci.low < none.value && none.value < none.ci.high && none.ci.high < 0.3, "{none:?}");
        let all = prior.pool(Outcome::MtxResponse6m, 1.0, 20, Moment::Other).expect("pooled");
        assert!((all.value - 22.0 / 25.0).abs() < 1e-12 && all.ci.high <= 1.0 && all.ci.low < all.value, "{all:?}");
        let many = prior.pool(Outcome::MtxResponse6m, 0.9, 2_000, Moment::Other).expect("pooled");
        assert!((many.value - 0.9).abs() < 0.003, "{many:?}");
        assert!(prior.pool(Outcome::Flare6m, 0.5, 20, Moment::Other).is_none(), "no prior for flare here");
        assert!(prior.pool(Outcome::MtxResponse6m, 0.5, 0, Moment::Other).is_none(), "no patients, no figure");
    }

    /// Flare and switch are read by Kaplan-Meier: a patient seen for part of the
    /// window counts for the time it was seen, in the fit as in the report.
    #[test]
    fn time_to_event_outcomes_fit_on_their_cumulative_incidence() {
        let flared = |days: u32, event: bool| PatientOutcomes {
            flare_6m: Some(event),
            flare_time: Some(TimeToEvent { days, event }),
            ..Default::default()
        };
        let groups: Vec<Neighbourhood> = (0..40)
            .map(|i| Neighbourhood {
                neighbours: (0..20).map(|j| if (i + j) % 3 == 0 { flared(60, true) } else { flared(182, false) }).collect(),
                own: None,
            })
            .collect();
        let prior = NeighbourhoodPrior::fit(Digest::of(b"twin"), 20, &groups, &[]);
        let p = prior.outcome(Outcome::Flare6m, Moment::Other).map(|(p, _)| p).expect("a flare prior");
        assert!((0.3..0.37).contains(&p.rate) && p.neighbourhoods == 40, "{p:?}");
    }

    /// A question at a decision point reads the decision points' prior where there
    /// is one (its own rate and weight, and says so), the cadence's where not; any
    /// other time reads the cadence's.
    #[test]
    fn a_decision_point_reads_the_decision_points_prior() {
        let version = Digest::of(b"twin");
        let alike: Vec<_> = (0..60).map(|_| neighbourhood(0.5, 20)).collect();
        let apart: Vec<_> = (0..60).map(|i| neighbourhood(if i % 2 == 0 { 0.2 } else { 0.8 }, 20)).collect();
        let prior = calibrated(NeighbourhoodPrior::fit(version, 20, &alike, &apart));
        let (cadence, at) = prior.outcome(Outcome::MtxResponse6m, Moment::Other).expect("fitted");
        assert_eq!(at, Moment::Other);
        let (decision, at) = prior.outcome(Outcome::MtxResponse6m, Moment::Decision).expect("fitted");
        assert_eq!(at, Moment::Decision);
        assert!(decision.weight < cadence.weight / 100.0, "{decision:?} {cadence:?}");
        let other = prior.pool(Outcome::MtxResponse6m, 0.0, 20, Moment::Other).expect("pooled");
        let asked = prior.pool(Outcome::MtxResponse6m, 0.0, 20, Moment::Decision).expect("pooled");
        assert!(asked.value < 0.1 && other.value > 0.45, "{asked:?} {other:?}");
        assert_eq!((asked.prior_moment, other.prior_moment), (Moment::Decision, Moment::Other));
        // Too few decision points for a prior: the cadence's is read, and named.
        let few: Vec<_> = apart.iter().take(MIN_NEIGHBOURHOODS - 1).cloned().collect();
        let prior = calibrated(NeighbourhoodPrior::fit(version, 20, &alike, &few));
        assert!(prior.at_decisions.is_empty());
        let pooled = prior.pool(Outcome::MtxResponse6m, 0.0, 20, Moment::Decision).expect("pooled");
        assert_eq!(pooled.prior_moment, Moment::Other);
        // A prior written before decision points were measured still reads.
        let mut old = serde_json::to_value(&prior).unwrap();
        old.as_object_mut().unwrap().remove("at_decisions");
        let old: NeighbourhoodPrior = serde_json::from_value(old).unwrap();
        assert_eq!(old, prior);
    }

    /// The pooled figure is scored at the fit against each sampled point's own
    /// outcome, and shown only when calibrated (the twin head's rule, slope 0.8-1.2):
    /// points whose own outcomes follow their neighbourhoods' rates read a slope near
    /// 1; points whose outcomes are more extreme than the pooled figures say read an
    /// under-confident slope, and the figure is withheld with the reason. A prior
    /// written before this was measured pools nothing until `rdt embed` measures it.
    #[test]
    fn the_pooled_figure_is_shown_only_where_it_was_calibrated() {
        let version = Digest::of(b"twin");
        // 80 neighbourhoods at 20% or 80%; of each rate's 40 points, `own_yes` had it.
        let points = |own_yes: [usize; 2]| -> Vec<Neighbourhood> {
            (0..80)
                .map(|i| {
                    let (side, nth) = (i % 2, i / 2);
                    let mut n = neighbourhood(if side == 0 { 0.2 } else { 0.8 }, 20);
                    n.own = Some(responded(nth < own_yes[side]));
                    n
                })
                .collect()
        };
        let follows = NeighbourhoodPrior::fit(version, 20, &points([8, 32]), &[]);
        let p = &follows.outcomes[0];
        assert_eq!(p.calibration_n, 80);
        let slope = p.calibration_slope.expect("measured");
        assert!(crate::heads::CALIBRATED_SLOPE.contains(&slope), "{p:?}");
        assert!(follows.pool(Outcome::MtxResponse6m, 0.2, 20, Moment::Other).is_some());
        assert_eq!(follows.withheld(Outcome::MtxResponse6m, Moment::Other), None);
        // Own outcomes at 5% and 95%: the pooled 23% and 77% are drawn too far in.
        let extreme = NeighbourhoodPrior::fit(version, 20, &points([2, 38]), &[]);
        assert!(extreme.outcomes[0].calibration_slope.unwrap() > 1.2, "{:?}", extreme.outcomes[0]);
        assert!(extreme.pool(Outcome::MtxResponse6m, 0.2, 20, Moment::Other).is_none());
        let why = extreme.withheld(Outcome::MtxResponse6m, Moment::Other).expect("withheld");
        assert!(why.contains("not calibrated: slope") && why.contains("outside 0.8-1.2"), "{why}");
        // At a decision point the reason names the decision points' prior.
        let at_decisions = NeighbourhoodPrior::fit(version, 20, &points([8, 32]), &points([2, 38]));
        let why = at_decisions.withheld(Outcome::MtxResponse6m, Moment::Decision).expect("withheld");
        assert!(why.ends_with("at decision points"), "{why}");
        assert!(at_decisions.pool(Outcome::MtxResponse6m, 0.2, 20, Moment::Other).is_some());
        // Too few points with the outcome known to measure it on.
        let few: Vec<Neighbourhood> = points([8, 32]).into_iter().take(40).collect();
        let why = NeighbourhoodPrior::fit(version, 20, &few, &[]).withheld(Outcome::MtxResponse6m, Moment::Other).expect("withheld");
        assert!(why.contains("measured on 40 sampled patients") && !why.contains("rdt embed"), "{why}");
        // A prior file written before the calibration was measured.
        let mut old = serde_json::to_value(&follows).unwrap();
        for key in ["calibration_slope", "calibration_n"] {
            old["outcomes"][0].as_object_mut().unwrap().remove(key);
        }
        let old: NeighbourhoodPrior = serde_json::from_value(old).unwrap();
        assert!(old.pool(Outcome::MtxResponse6m, 0.2, 20, Moment::Other).is_none());
        assert!(old.withheld(Outcome::MtxResponse6m, Moment::Other).unwrap().contains("rdt embed"));
    }

    /// The decision points sampled: each DMARD start + 90 days while in care, and a
    /// question's moment read from the record.
    #[test]
    fn decision_points_are_read_from_the_record() {
        use crate::cohort::testutil::{das28, drug, Journey};
        use journey::clinical::drugs::METHOTREXATE;
        let journey = Journey::new(vec![das28(0, 5.8), drug(0, None, METHOTREXATE), das28(400, 3.0)]);
        let record = ClinicalRecord::read(&journey.events);
        let points = decision_points([("p", &record)]);
        assert_eq!(points.len(), 1);
        let start = record.courses[0].start;
        assert_eq!(points[0].1.date_naive(), start.date_naive() + chrono::Days::new(90));
        assert_eq!(Moment::of(&record, points[0].1), Moment::Decision);
        assert_eq!(Moment::of(&record, start + chrono::Duration::days(300)), Moment::Other);
    }

    /// The prior is pinned as it is saved and read only while it is the registry's
    /// active one, for its own twin: an edited file, or a prior of another twin, is
    /// refused with what to do.
    #[tokio::test]
    async fn a_prior_reads_only_while_pinned_active_and_for_its_twin() {
        let dir = tempfile::tempdir().unwrap();
        let log = audit_log::AuditLog::open(&format!("sqlite://{}", dir.path().join("a.sqlite").display())).await.unwrap();
        let registry = ModelRegistry::new(log);
        let by = Principal::new("rdt-embed", audit_log::Role::Governance);
        let path = NeighbourhoodPrior::install_path(dir.path());
        let groups: Vec<_> = (0..40).map(|i| neighbourhood(if i % 2 == 0 { 0.3 } else { 0.6 }, 20)).collect();
        let prior = NeighbourhoodPrior::fit(Digest::of(b"twin"), 20, &groups, &[]);
        let version = prior.save_and_register(&path, &registry, &by).await.unwrap();
        assert_eq!(version, Digest::of(&std::fs::read(&path).unwrap()));
        assert_eq!(NeighbourhoodPrior::load_active(&path, &registry, Digest::of(b"twin")).await.unwrap(), prior);
        let err = NeighbourhoodPrior::load_active(&path, &registry, Digest::of(b"another")).await.unwrap_err();
        assert!(err.to_string().contains("rdt embed"), "{err}");
        // The same file edited by hand is not the pinned prior.
        let mut edited = prior.clone();
        edited.outcomes[0].weight *= 10.0;
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let err = NeighbourhoodPrior::load_active(&path, &registry, Digest::of(b"twin")).await.unwrap_err();
        assert!(err.to_string().contains("neighbourhood-prior.json"), "{err}");
    }
}
