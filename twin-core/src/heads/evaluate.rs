//! Training a head and scoring it on held-out patients beside the snapshot baseline.
//!
//! The regression is the cohort's ([`LinearModel::fit_logistic`]: ridge, Newton/IRLS,
//! standardised features) with its default penalty, so the twin head and the
//! snapshot baseline are fitted exactly alike and differ only in their features.

use serde::{Deserialize, Serialize};

use crate::cohort::regression::{LinearModel, DEFAULT_L2};
use crate::heads::label::HeadOutcome;
use crate::heads::metrics::Scores;


/// Why a head could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeadError {
    #[error("{representation}: no training examples for {outcome}")]
    Empty { representation: String, outcome: &'static str },
    #[error("{representation}: only one outcome among the {n} training examples for {outcome}")]
    OneClass { representation: String, outcome: &'static str, n: usize },
    #[error("{representation}: the regression for {outcome} did not solve (singular system)")]
    Singular { representation: String, outcome: &'static str },
}

/// Rows of one representation, split into training and held-out examples.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub train_x: Vec<Vec<f64>>,
    pub train_y: Vec<bool>,
    pub test_x: Vec<Vec<f64>>,
    pub test_y: Vec<bool>,
}

impl Split {
    pub fn push(&mut self, held_out: bool, x: Vec<f64>, y: bool) {
        if held_out {
            self.test_x.push(x);
            self.test_y.push(y);
        } else {
            self.train_x.push(x);
            self.train_y.push(y);
        }
    }

    fn rate(&self) -> f64 {
        self.train_y.iter().filter(|y| **y).count() as f64 / self.train_y.len().max(1) as f64
    }
}

/// One representation's head on held-out patients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadScores {
    pub representation: String,
    pub features: usize,
    pub held_out: Scores,
}

/// Fits a logistic head on the training rows and scores the held-out ones.
pub fn fit_and_score(outcome: HeadOutcome, representation: &str, split: &Split) -> Result<HeadScores, HeadError> {
    let name = || representation.to_owned();
    let n = split.train_y.len();
    if n == 0 {
        return Err(HeadError::Empty { representation: name(), outcome: outcome.as_str() });
    }
    let positives = split.train_y.iter().filter(|y| **y).count();
    if positives == 0 || positives == n {
        return Err(HeadError::OneClass { representation: name(), outcome: outcome.as_str(), n });
    }
    let model = LinearModel::fit_logistic(&split.train_x, &split.train_y, DEFAULT_L2)
        .ok_or_else(|| HeadError::Singular { representation: name(), outcome: outcome.as_str() })?;
    let p: Vec<f64> = split.test_x.iter().map(|x| model.predict(x)).collect();
    Ok(HeadScores {
        representation: name(),
        features: split.train_x[0].len(),
        held_out: Scores::of(&p, &split.test_y, split.rate()),
    })
}

/// Heads for one outcome: each representation's scores on the same patients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadEvaluation {
    pub outcome: HeadOutcome,
    pub train_n: usize,
    pub train_positives: usize,
    pub heads: Vec<HeadScores>,
}

/// Evaluates the same examples under several representations (`(name, split)`, all
/// splits with the same rows and outcomes in the same order).
pub fn evaluate(outcome: HeadOutcome, splits: &[(&str, &Split)]) -> Result<HeadEvaluation, HeadError> {
    let heads = splits.iter().map(|(name, s)| fit_and_score(outcome, name, s)).collect::<Result<Vec<_>, _>>()?;
    let first = splits.first().map(|(_, s)| *s).cloned().unwrap_or_default();
    Ok(HeadEvaluation {
        outcome,
        train_n: first.train_y.len(),
        train_positives: first.train_y.iter().filter(|y| **y).count(),
        heads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::init::SplitMix64;

    /// An informative representation beats chance and an uninformative one by a
    /// margin, on the same held-out rows. Seeded.
    #[test]
    fn informative_features_win_on_held_out_rows() {
        let mut rng = SplitMix64::new(5);
        let (mut signal, mut noise) = (Split::default(), Split::default());
        for i in 0..1000 {
            let y = rng.next_f64() < 0.3;
            let shift = if y { 1.0 } else { 0.0 };
            let held = i % 5 == 0;
            signal.push(held, vec![shift + rng.normal() * 0.7, rng.normal()], y);
            noise.push(held, vec![rng.normal(), rng.normal()], y);
        }
        let e = evaluate(HeadOutcome::Flare6m, &[("signal", &signal), ("noise", &noise)]).unwrap();
        let (s, n) = (e.heads[0].held_out.auroc.unwrap(), e.heads[1].held_out.auroc.unwrap());
        assert!(s > 0.75, "{s}");
        assert!(s > n + 0.15, "{s} vs {n}");
        assert!(e.heads[0].held_out.brier < e.heads[0].held_out.brier_base_rate);
        assert_eq!(e.train_n, 800);
    }

    /// Two separable clusters: the penalised fit stays finite and ranks them apart.
    #[test]
    fn separable_data_beats_chance() {
        let mut rng = SplitMix64::new(3);
        let mut split = Split::default();
        for i in 0..300 {
            let y = i % 2 == 0;
            let centre = if y { 1.0 } else { -1.0 };
            split.push(i % 3 == 0, vec![centre + 0.3 * rng.next_f64(), rng.next_f64()], y);
        }
        let h = fit_and_score(HeadOutcome::MtxFailure12m, "separable", &split).unwrap();
        assert!(h.held_out.auroc.unwrap() > 0.99);
        assert!(h.held_out.brier < 0.1 && h.held_out.brier.is_finite());
    }

    #[test]
    fn refuses_what_cannot_be_fitted() {
        let mut one_class = Split::default();
        one_class.push(false, vec![1.0], true);
        one_class.push(false, vec![2.0], true);
        let err = fit_and_score(HeadOutcome::Flare6m, "twin", &one_class).unwrap_err();
        assert!(matches!(err, HeadError::OneClass { n: 2, .. }), "{err}");
        let err = fit_and_score(HeadOutcome::Flare6m, "twin", &Split::default()).unwrap_err();
        assert!(matches!(err, HeadError::Empty { .. }), "{err}");
    }
}
