//! Counting transitions and turning counts into probabilities.

use serde::{Deserialize, Serialize};

use crate::state::activity::{state_index, DiseaseState, N_STATES};
use crate::state::series::Step;
use crate::state::treatment::{Treatment, N_TREATMENTS};

/// Observed transitions: `counts[treatment][from][to]`. Kept next to every estimate,
/// so a reader sees how much data a probability rests on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionCounts(pub [[[u32; N_STATES]; N_STATES]; N_TREATMENTS]);

impl TransitionCounts {
    pub fn add(&mut self, step: &Step) {
        self.0[step.treatment.index()][state_index(step.from)][state_index(step.to)] += 1;
    }

    /// Adds every count of `other` `times` times (a patient drawn `times` times in a
    /// bootstrap resample).
    pub fn add_counts(&mut self, other: &TransitionCounts, times: u32) {
        for (a, b) in self.0.iter_mut().flatten().flatten().zip(other.0.iter().flatten().flatten()) {
            *a += b * times;
        }
    }

    pub fn of_steps<'a>(steps: impl IntoIterator<Item = &'a Step>) -> Self {
        let mut c = TransitionCounts::default();
        for s in steps {
            c.add(s);
        }
        c
    }

    /// Transitions observed out of `from` under `treatment` (a matrix row's support).
    pub fn row_total(&self, treatment: Treatment, from: DiseaseState) -> u32 {
        self.0[treatment.index()][state_index(from)].iter().sum()
    }

    /// All transitions under `treatment`.
    pub fn total(&self, treatment: Treatment) -> u32 {
        self.0[treatment.index()].iter().flatten().sum()
    }

    /// The smoothed transition matrix under `treatment`: `(n_ij + alpha) / (n_i + 4 alpha)`,
    /// the posterior mean under a symmetric Dirichlet(`alpha`) prior on each row. With
    /// `alpha` = 1 (add-one) an unseen transition keeps a small probability and a row
    /// with no data is uniform, never undefined. `alpha` must be positive.
    pub fn matrix(&self, treatment: Treatment, alpha: f64) -> TransitionMatrix {
        assert!(alpha > 0.0, "the Dirichlet prior must be positive");
        let mut m = [[0.0; N_STATES]; N_STATES];
        for (i, row) in self.0[treatment.index()].iter().enumerate() {
            let total = row.iter().sum::<u32>() as f64 + N_STATES as f64 * alpha;
            for (j, n) in row.iter().enumerate() {
                m[i][j] = (*n as f64 + alpha) / total;
            }
        }
        TransitionMatrix(m)
    }
}

/// A row-stochastic matrix: `m[i][j]` = P(state j one step later | state i now).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransitionMatrix(pub [[f64; N_STATES]; N_STATES]);

/// A distribution over the states, in [`DiseaseState::ALL`] order.
pub type StateDistribution = [f64; N_STATES];

impl TransitionMatrix {
    /// One step on: `p * M`.
    pub fn step(&self, p: &StateDistribution) -> StateDistribution {
        let mut out = [0.0; N_STATES];
        for (i, pi) in p.iter().enumerate() {
            for (j, o) in out.iter_mut().enumerate() {
                *o += pi * self.0[i][j];
            }
        }
        out
    }

    pub fn row(&self, from: DiseaseState) -> StateDistribution {
        self.0[state_index(from)]
    }
}

/// All mass on one state.
pub fn point_mass(state: DiseaseState) -> StateDistribution {
    let mut p = [0.0; N_STATES];
    p[state_index(state)] = 1.0;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::activity::DiseaseState::*;

    fn step(treatment: Treatment, from: DiseaseState, to: DiseaseState) -> Step {
        Step { treatment, from, to }
    }

    #[test]
    fn counted_probabilities_with_and_without_smoothing() {
        // Under methotrexate, from high: 3 to moderate, 1 stays high; from moderate: 2 to low.
        let steps = [
            step(Treatment::Csdmard, High, Moderate),
            step(Treatment::Csdmard, High, Moderate),
            step(Treatment::Csdmard, High, Moderate),
            step(Treatment::Csdmard, High, High),
            step(Treatment::Csdmard, Moderate, Low),
            step(Treatment::Csdmard, Moderate, Low),
        ];
        let counts = TransitionCounts::of_steps(&steps);
        assert_eq!(counts.row_total(Treatment::Csdmard, High), 4);
        assert_eq!(counts.total(Treatment::Csdmard), 6);
        assert_eq!(counts.total(Treatment::None), 0);
        // With a vanishing prior the estimate is the counted share.
        let m = counts.matrix(Treatment::Csdmard, 1e-12);
        assert!((m.0[state_index(High)][state_index(Moderate)] - 0.75).abs() < 1e-9);
        assert!((m.0[state_index(High)][state_index(High)] - 0.25).abs() < 1e-9);
        assert!((m.0[state_index(Moderate)][state_index(Low)] - 1.0).abs() < 1e-9);
        // Add-one: (3 + 1) / (4 + 4) and (0 + 1) / (4 + 4); an empty row is uniform.
        let m = counts.matrix(Treatment::Csdmard, 1.0);
        assert_eq!(m.0[state_index(High)][state_index(Moderate)], 0.5);
        assert_eq!(m.0[state_index(High)][state_index(Remission)], 0.125);
        assert_eq!(m.0[state_index(Remission)], [0.25; 4]);
        for row in m.0 {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}
