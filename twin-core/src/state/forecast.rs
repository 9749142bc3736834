//! Forecasting a patient's state distribution from the transition matrices.
//!
//! **Horizons.** A forecast `h` days ahead is `s = h / step` steps of the chain. For a
//! whole `s` it is `p0 * M^s`; for a fractional one (150 days with a 90-day step is
//! 1.67 steps) it is the linear interpolation between the whole steps around it,
//! `(1 - r) p0 M^floor(s) + r p0 M^ceil(s)`. The interpolation is a mixture of two
//! distributions, so it stays a distribution; a fractional matrix power (through an
//! eigendecomposition) can leave the simplex or turn complex for an estimated matrix.
//! The treatment is held fixed over the horizon: the forecast answers "if the current
//! regimen continues".
//!
//! **Time in state.** The expected days in each state over `[0, h]` integrate that same
//! piecewise-linear path (trapezoids between whole steps); the days sum to `h`.
//!
//! **Intervals.** 95% percentile intervals over the bootstrap matrices (patients
//! resampled with replacement, [`crate::state::StateModel`]). A percentile interval can
//! miss the point estimate when smoothing and a skewed resample pull apart; it is then
//! widened to include it, so a range never excludes the figure it is printed beside.

use serde::{Deserialize, Serialize};

use crate::state::activity::{state_index, DiseaseState, N_STATES, STATES};
use crate::state::transition::{point_mass, StateDistribution, TransitionMatrix};
use crate::state::treatment::Treatment;

/// The horizons of the design (DESIGN.md "DAS28 at 150, 270 and 360 days").
pub const HORIZONS_DAYS: [i64; 3] = [150, 270, 360];

/// The state distribution `days` after starting from `start` (see the module doc).
pub fn distribution_at(m: &TransitionMatrix, start: StateDistribution, days: f64, step_days: i64) -> StateDistribution {
    let s = (days / step_days as f64).max(0.0);
    let whole = s.floor() as usize;
    let r = s - whole as f64;
    let mut p = start;
    for _ in 0..whole {
        p = m.step(&p);
    }
    if r == 0.0 {
        return p;
    }
    let next = m.step(&p);
    std::array::from_fn(|i| (1.0 - r) * p[i] + r * next[i])
}

/// Expected days in each state over `[0, horizon_days]`, from `start`.
pub fn expected_days(
    m: &TransitionMatrix,
    start: StateDistribution,
    horizon_days: f64,
    step_days: i64,
) -> [f64; N_STATES] {
    let step = step_days as f64;
    let mut out = [0.0; N_STATES];
    let mut p = start;
    let mut t = 0.0;
    while t < horizon_days {
        let next = m.step(&p);
        let length = step.min(horizon_days - t);
        let r = length / step;
        for i in 0..N_STATES {
            let end = (1.0 - r) * p[i] + r * next[i];
            out[i] += length * (p[i] + end) / 2.0;
        }
        p = next;
        t += step;
    }
    out
}

/// A probability (or a number of days) with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// The point `value` with the 2.5th and 97.5th percentiles of `samples` (linear
    /// between order statistics), widened to include `value` (module doc).
    pub fn with_percentiles(value: f64, samples: &mut [f64]) -> Self {
        if samples.is_empty() {
            return Estimate { value, low: value, high: value };
        }
        samples.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (samples.len() - 1) as f64;
            let (i, r) = (x.floor() as usize, x - x.floor());
            let j = (i + 1).min(samples.len() - 1);
            samples[i] * (1.0 - r) + samples[j] * r
        };
        Estimate { value, low: q(0.025).min(value), high: q(0.975).max(value) }
    }
}

/// The probability of one state at one horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StateProbability {
    pub state: DiseaseState,
    #[serde(flatten)]
    pub probability: Estimate,
}

/// The state distribution at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonForecast {
    pub days: i64,
    /// One per state, in [`crate::state::STATES`] order; the values sum to 1.
    pub states: Vec<StateProbability>,
}

/// Expected days in one state over the longest horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeInState {
    pub state: DiseaseState,
    #[serde(flatten)]
    pub days: Estimate,
}

/// A forecast from a current state under a treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub from: DiseaseState,
    pub treatment: Treatment,
    pub step_days: i64,
    pub horizons: Vec<HorizonForecast>,
    /// Over `[0, time_in_state_days]`.
    pub time_in_state: Vec<TimeInState>,
    pub time_in_state_days: i64,
    /// Transitions observed out of `from` under `treatment`: the data behind the first step.
    pub transitions_from_state: u32,
    /// All transitions observed under `treatment`.
    pub transitions_under_treatment: u32,
    /// Patients the model was estimated from.
    pub patients: usize,
    pub resamples: usize,
}

/// The forecast from `from` with the point matrix `point` and the bootstrap matrices.
pub(crate) fn forecast(
    point: &TransitionMatrix,
    bootstrap: &[TransitionMatrix],
    from: DiseaseState,
    horizons: &[i64],
    step_days: i64,
) -> (Vec<HorizonForecast>, Vec<TimeInState>, i64) {
    let start = point_mass(from);
    let horizon_forecasts = horizons
        .iter()
        .map(|&days| {
            let p = distribution_at(point, start, days as f64, step_days);
            let resampled: Vec<StateDistribution> =
                bootstrap.iter().map(|m| distribution_at(m, start, days as f64, step_days)).collect();
            let states = STATES
                .into_iter()
                .map(|s| {
                    let mut samples: Vec<f64> = resampled.iter().map(|b| b[state_index(s)]).collect();
                    StateProbability {
                        state: s,
                        probability: Estimate::with_percentiles(p[state_index(s)], &mut samples),
                    }
                })
                .collect();
            HorizonForecast { days, states }
        })
        .collect();
    let over = horizons.iter().copied().max().unwrap_or(0);
    let days = expected_days(point, start, over as f64, step_days);
    let resampled: Vec<[f64; N_STATES]> =
        bootstrap.iter().map(|m| expected_days(m, start, over as f64, step_days)).collect();
    let time_in_state = STATES
        .into_iter()
        .map(|s| {
            let mut samples: Vec<f64> = resampled.iter().map(|b| b[state_index(s)]).collect();
            TimeInState { state: s, days: Estimate::with_percentiles(days[state_index(s)], &mut samples) }
        })
        .collect();
    (horizon_forecasts, time_in_state, over)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> TransitionMatrix {
        TransitionMatrix([[0.7, 0.2, 0.1, 0.0], [0.3, 0.4, 0.2, 0.1], [0.1, 0.3, 0.4, 0.2], [0.0, 0.1, 0.4, 0.5]])
    }

    #[test]
    fn whole_steps_are_matrix_powers_and_fractions_interpolate() {
        let m = matrix();
        let start = point_mass(DiseaseState::High);
        let one = distribution_at(&m, start, 90.0, 90);
        assert_eq!(one, m.row(DiseaseState::High));
        let two = distribution_at(&m, start, 180.0, 90);
        // (p0 M) M by hand for the remission column: 0.1*0.3 + 0.4*0.1 + 0.5*0.0 = 0.07.
        assert!((two[0] - 0.07).abs() < 1e-12);
        let half = distribution_at(&m, start, 135.0, 90);
        for i in 0..N_STATES {
            assert!((half[i] - (one[i] + two[i]) / 2.0).abs() < 1e-12);
        }
        assert!((half.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn expected_days_sum_to_the_horizon() {
        let days = expected_days(&matrix(), point_mass(DiseaseState::Moderate), 360.0, 90);
        assert!((days.iter().sum::<f64>() - 360.0).abs() < 1e-9);
        // An absorbing state keeps all the time.
        let mut stay = TransitionMatrix([[0.0; 4]; 4]);
        for i in 0..4 {
            stay.0[i][i] = 1.0;
        }
        let days = expected_days(&stay, point_mass(DiseaseState::Low), 150.0, 90);
        assert_eq!(days, [0.0, 150.0, 0.0, 0.0]);
    }

    #[test]
    fn percentile_interval_brackets_its_point() {
        let mut samples: Vec<f64> = (0..=100).map(|i| i as f64 / 100.0).collect();
        let e = Estimate::with_percentiles(0.5, &mut samples);
        assert!((e.low - 0.025).abs() < 1e-12 && (e.high - 0.975).abs() < 1e-12);
        let e = Estimate::with_percentiles(0.99, &mut samples);
        assert_eq!(e.high, 0.99);
    }
}
