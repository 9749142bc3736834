//! Is the state model's forecast better than the cohort's rates? On held-out
//! patients, from each DAS28 reading (the origin, with its state and treatment), the
//! observed state 150, 270 and 360 days later (the reading nearest that day within
//! +/-45 days) is scored against:
//! - the **state model** fitted on the training patients (from the origin's state,
//!   under its treatment);
//! - the **empirical rate**: the training patients' distribution of observed states at
//!   that horizon, the same for everyone (what a forecast must beat to add anything);
//! - **persistence**: the origin's state, unchanged (one-hot; Brier only).
//!
//! Scores: the multi-class Brier score (sum over states of (p - observed)^2, 0 to 2)
//! and the log loss (-ln p of the observed state). Every reading is an origin, so a
//! patient contributes several correlated rows: the scores compare methods on the same
//! rows; they are not independent samples.

use std::fmt::Write as _;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use journey::clinical::outcomes::POINT_TOLERANCE_DAYS;
use journey::event::PatientId;
use crate::state::{
    align, distribution_at, point_mass, state_index, steps, PatientSteps, Reading, StateDistribution, StateModel,
    StateModelConfig, HORIZONS_DAYS, N_STATES,
};

/// Multi-class Brier score and log loss, averaged over rows.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ProbabilityScores {
    pub brier: f64,
    pub log_loss: f64,
}

/// One horizon's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonScores {
    pub days: i64,
    /// Origins with an observed state at this horizon.
    pub n: usize,
    pub state_model: ProbabilityScores,
    pub empirical_rate: ProbabilityScores,
    pub persistence_brier: f64,
    /// Observed share of each state (remission, low, moderate, high).
    pub observed: StateDistribution,
    /// Mean forecast of each state over the same rows.
    pub forecast_mean: StateDistribution,
    /// Share of rows whose most probable forecast state is the observed one.
    pub state_model_accuracy: f64,
}

/// The state model's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateEvaluation {
    pub config: StateModelConfig,
    pub train_patients: usize,
    pub test_patients: usize,
    pub train_transitions: u32,
    pub horizons: Vec<HorizonScores>,
}

/// `(origin, observed)` pairs at `days` after each reading: the reading nearest
/// `origin + days` within the tolerance (the earlier on a tie).
fn pairs(readings: &[Reading], days: i64) -> Vec<(Reading, Reading)> {
    readings
        .iter()
        .filter_map(|origin| {
            let target = origin.time + Duration::days(days);
            let tolerance = Duration::days(POINT_TOLERANCE_DAYS);
            readings
                .iter()
                .filter(|r| (r.time - target).abs() <= tolerance)
                .min_by_key(|r| ((r.time - target).abs(), r.time))
                .map(|observed| (*origin, *observed))
        })
        .collect()
}

fn score(p: &StateDistribution, observed: usize) -> (f64, f64) {
    let brier = (0..N_STATES).map(|k| (p[k] - f64::from(u8::from(k == observed))).powi(2)).sum();
    (brier, -p[observed].max(1e-12).ln())
}

/// Fits on the training patients' readings and scores on the held-out ones.
pub fn evaluate_state_model(
    train: &[(PatientId, Vec<Reading>)],
    test: &[(PatientId, Vec<Reading>)],
    config: StateModelConfig,
) -> StateEvaluation {
    let data: Vec<PatientSteps> = train
        .iter()
        .map(|(id, r)| PatientSteps { patient: id.clone(), steps: steps(&align(r, config.step_days)) })
        .collect();
    let model = StateModel::fit(&data, config);
    let matrices: Vec<_> = crate::state::Treatment::ALL.iter().map(|t| model.matrix(*t)).collect();
    let horizons = HORIZONS_DAYS
        .iter()
        .map(|&days| {
            let mut rate = [0.0; N_STATES];
            let mut n_train = 0.0;
            for (_, r) in train {
                for (_, observed) in pairs(r, days) {
                    rate[state_index(observed.state)] += 1.0;
                    n_train += 1.0;
                }
            }
            // Add-one, as in the model, so a state never seen at this horizon is not impossible.
            let rate: StateDistribution = std::array::from_fn(|k| (rate[k] + 1.0) / (n_train + N_STATES as f64));
            let (mut model_sum, mut rate_sum) = ((0.0, 0.0), (0.0, 0.0));
            let (mut persistence, mut hits, mut n) = (0.0, 0.0, 0usize);
            let (mut observed_share, mut forecast_mean) = ([0.0; N_STATES], [0.0; N_STATES]);
            for (_, r) in test {
                for (origin, observed) in pairs(r, days) {
                    let k = state_index(observed.state);
                    let m = &matrices[origin.treatment.index()];
                    let p = distribution_at(m, point_mass(origin.state), days as f64, config.step_days);
                    let (b, l) = score(&p, k);
                    model_sum = (model_sum.0 + b, model_sum.1 + l);
                    let (b, l) = score(&rate, k);
                    rate_sum = (rate_sum.0 + b, rate_sum.1 + l);
                    persistence += score(&point_mass(origin.state), k).0;
                    let best = (0..N_STATES).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0);
                    hits += f64::from(u8::from(best == k));
                    observed_share[k] += 1.0;
                    for (f, pk) in forecast_mean.iter_mut().zip(p) {
                        *f += pk;
                    }
                    n += 1;
                }
            }
            let d = n.max(1) as f64;
            HorizonScores {
                days,
                n,
                state_model: ProbabilityScores { brier: model_sum.0 / d, log_loss: model_sum.1 / d },
                empirical_rate: ProbabilityScores { brier: rate_sum.0 / d, log_loss: rate_sum.1 / d },
                persistence_brier: persistence / d,
                observed: observed_share.map(|x| x / d),
                forecast_mean: forecast_mean.map(|x| x / d),
                state_model_accuracy: hits / d,
            }
        })
        .collect();
    StateEvaluation {
        config,
        train_patients: model.patients,
        test_patients: test.iter().filter(|(_, r)| !r.is_empty()).count(),
        train_transitions: crate::state::Treatment::ALL.iter().map(|t| model.counts.total(*t)).sum(),
        horizons,
    }
}

/// The report section.
pub fn markdown(e: &StateEvaluation) -> String {
    let mut md = String::new();
    let pct = |d: &StateDistribution| d.iter().map(|x| format!("{:.0}%", 100.0 * x)).collect::<Vec<_>>().join(" / ");
    let _ = writeln!(
        md,
        "## State model (tuning part)
"
    );
    let _ = writeln!(
        md,
        "Markov chain over DAS28 states, {}-day step, add-{} smoothing, one matrix per treatment; fitted on {} \
         training patients ({} transitions), scored on {} patients of the tuning part from every reading. Multi-class Brier \
         (0 to 2) and log loss; lower is better.\n",
        e.config.step_days, e.config.alpha, e.train_patients, e.train_transitions, e.test_patients
    );
    let _ = writeln!(
        md,
        "| days | n | Brier: state model | empirical rate | persistence | log loss: state model | empirical rate | \
         top state right |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for h in &e.horizons {
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1}% |",
            h.days,
            h.n,
            h.state_model.brier,
            h.empirical_rate.brier,
            h.persistence_brier,
            h.state_model.log_loss,
            h.empirical_rate.log_loss,
            100.0 * h.state_model_accuracy
        );
    }
    let _ = writeln!(md, "\nObserved vs mean forecast distribution (remission / low / moderate / high):\n");
    let _ = writeln!(md, "| days | observed | state model |\n|---|---|---|");
    for h in &e.horizons {
        let _ = writeln!(md, "| {} | {} | {} |", h.days, pct(&h.observed), pct(&h.forecast_mean));
    }
    let _ = writeln!(md);
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DiseaseState, Treatment};

    fn reading(day: i64, state: DiseaseState) -> Reading {
        let das28 = match state {
            DiseaseState::Remission => 2.0,
            DiseaseState::Low => 3.0,
            DiseaseState::Moderate => 4.0,
            DiseaseState::High => 6.0,
        };
        Reading { time: crate::state::testutil::day(day), das28, state, treatment: Treatment::Csdmard }
    }

    /// Half the patients improve high -> moderate -> low -> remission, 90 days apart,
    /// and stay in remission; the other half stay high. The chain learns both from the
    /// current state and beats the flat rate (a mix of remission and high at every
    /// horizon) on patients it has not seen.
    #[test]
    fn a_learnable_course_beats_the_empirical_rate() {
        use DiseaseState::*;
        let course = |states: &[DiseaseState]| -> Vec<Reading> {
            states.iter().enumerate().map(|(i, s)| reading(90 * i as i64, *s)).collect()
        };
        let improver = course(&[High, Moderate, Low, Remission, Remission, Remission, Remission, Remission]);
        let stayer = course(&[High; 8]);
        let cohort: Vec<(PatientId, Vec<Reading>)> = (0..30)
            .map(|i| (PatientId::new(format!("p{i}")).unwrap(), if i % 2 == 0 { improver.clone() } else { stayer.clone() }))
            .collect();
        let (train, test) = cohort.split_at(20);
        let e = evaluate_state_model(train, test, StateModelConfig { resamples: 0, ..Default::default() });
        assert_eq!((e.train_patients, e.test_patients), (20, 10));
        for h in &e.horizons {
            assert!(h.n > 0);
            assert!(h.state_model.brier < h.empirical_rate.brier, "{h:?}");
            assert!(h.state_model.log_loss < h.empirical_rate.log_loss, "{h:?}");
            assert!((h.observed.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!((h.forecast_mean.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
