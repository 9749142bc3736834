//! How good a probability is: discrimination (AUROC, the one of
//! [`crate::eval::cohort::auroc`], with a bootstrap interval) and calibration
//! (reliability bins, Brier score, calibration slope and intercept).

use serde::{Deserialize, Serialize};

use crate::cohort::regression::LinearModel;
use crate::encode::init::SplitMix64;
pub use crate::eval::cohort::auroc;

/// A 95% percentile interval of a metric over `resamples` bootstrap resamples of `n`
/// examples (seeded: the same examples give the same interval). `metric` gets each
/// resample's example indices; resamples where it is undefined (`None`) are skipped.
pub fn bootstrap_interval(
    n: usize,
    resamples: usize,
    seed: u64,
    mut metric: impl FnMut(&[usize]) -> Option<f64>,
) -> Option<(f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    let mut values: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
            metric(&idx)
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let q = |p: f64| values[((p * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    Some((q(0.025), q(0.975)))
}

/// A 95% percentile interval of the AUROC over `resamples` bootstrap resamples of
/// the examples (seeded); resamples with one outcome only are skipped.
pub fn auroc_interval(scores: &[f64], labels: &[bool], resamples: usize, seed: u64) -> Option<(f64, f64)> {
    bootstrap_interval(scores.len(), resamples, seed, |idx| {
        let s: Vec<f64> = idx.iter().map(|&i| scores[i]).collect();
        let l: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
        auroc(&s, &l)
    })
}

/// Mean squared difference between the probability and the outcome (0 is perfect;
/// always answering the base rate `r` scores `r (1 - r)`).
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(probabilities.len(), labels.len(), "one label per probability");
    let n = probabilities.len().max(1) as f64;
    probabilities.iter().zip(labels).map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2)).sum::<f64>() / n
}

/// One reliability bin: predictions in `[low, high)` (the last bin includes 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub low: f64,
    pub high: f64,
    pub n: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// `bins` equal-width reliability bins over [0, 1]; empty bins are left out.
pub fn reliability(probabilities: &[f64], labels: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let mut sums = vec![(0usize, 0.0, 0usize); bins];
    for (p, y) in probabilities.iter().zip(labels) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += usize::from(*y);
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(b, (n, sum_p, pos))| ReliabilityBin {
            low: b as f64 / bins as f64,
            high: (b + 1) as f64 / bins as f64,
            n,
            mean_predicted: sum_p / n as f64,
            observed_rate: pos as f64 / n as f64,
        })
        .collect()
}

/// Cox calibration: the fit of `logit P(y) = intercept + slope * logit(p)`. A calibrated
/// model has intercept 0 and slope 1; a slope below 1 means over-confident
/// predictions. `None` when the outcomes are all alike.
pub fn calibration_line(probabilities: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let logits: Vec<f64> = probabilities
        .iter()
        .map(|p| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            (p / (1.0 - p)).ln()
        })
        .collect();
    if labels.iter().all(|y| *y) || !labels.iter().any(|y| *y) {
        return None;
    }
    // The regression standardises its feature; its weights are read back on the
    // logit scale with the same mean and standard deviation (a vanishing penalty).
    let n = logits.len() as f64;
    let mean = logits.iter().sum::<f64>() / n;
    let sd = (logits.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd = if sd > 1e-12 { sd } else { 1.0 };
    let x: Vec<Vec<f64>> = logits.iter().map(|l| vec![(l - mean) / sd]).collect();
    let m = LinearModel::fit_logistic(&x, labels, 1e-12)?;
    let (w0, w1) = (m.weights()[0], m.weights()[1]);
    let slope = w1 / sd;
    Some((w0 - slope * mean, slope))
}

/// Discrimination and calibration of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub n: usize,
    pub positives: usize,
    pub auroc: Option<f64>,
    /// 95% bootstrap interval of the AUROC (200 resamples, seeded).
    pub auroc_95: Option<(f64, f64)>,
    pub brier: f64,
    /// Brier score of always predicting the rate of the training set.
    pub brier_base_rate: f64,
    pub calibration_intercept: Option<f64>,
    pub calibration_slope: Option<f64>,
    pub reliability: Vec<ReliabilityBin>,
}

impl Scores {
    pub fn of(probabilities: &[f64], labels: &[bool], training_rate: f64) -> Self {
        let line = calibration_line(probabilities, labels);
        Scores {
            n: labels.len(),
            positives: labels.iter().filter(|l| **l).count(),
            auroc: auroc(probabilities, labels),
            auroc_95: auroc_interval(probabilities, labels, 200, 42),
            brier: brier(probabilities, labels),
            brier_base_rate: brier(&vec![training_rate; labels.len()], labels),
            calibration_intercept: line.map(|l| l.0),
            calibration_slope: line.map(|l| l.1),
            reliability: reliability(probabilities, labels, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUROC by hand: positives score 0.35 and 0.8, negatives 0.1 and 0.4. Of the four
    /// (positive, negative) pairs, the positive is higher in (0.35, 0.1), (0.8, 0.1),
    /// (0.8, 0.4): 3 of 4.
    #[test]
    fn auroc_hand_example() {
        let labels = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.4, 0.35, 0.8], &labels), Some(0.75));
        // A tie between a positive and a negative counts one half: pairs (0.4 vs 0.1),
        // (0.4 vs 0.4) = 1/2, (0.8 vs 0.1), (0.8 vs 0.4): 3.5 of 4.
        assert_eq!(auroc(&[0.1, 0.4, 0.4, 0.8], &labels), Some(0.875));
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn brier_and_bins_by_hand() {
        let p = [0.05, 0.15, 0.95, 0.9];
        let y = [false, true, true, true];
        // (0.05^2 + 0.85^2 + 0.05^2 + 0.1^2) / 4
        assert!((brier(&p, &y) - (0.0025 + 0.7225 + 0.0025 + 0.01) / 4.0).abs() < 1e-12);
        let bins = reliability(&p, &y, 10);
        assert_eq!(bins.iter().map(|b| b.n).collect::<Vec<_>>(), vec![1, 1, 2]);
        assert_eq!(bins[2].observed_rate, 1.0);
        assert!((bins[2].mean_predicted - 0.925).abs() < 1e-12);
    }

    /// Outcomes drawn with exactly the predicted probabilities are calibrated:
    /// slope near 1, intercept near 0. Seeded.
    #[test]
    fn calibrated_predictions_have_unit_slope() {
        let mut rng = SplitMix64::new(11);
        let p: Vec<f64> = (0..5000).map(|_| 0.05 + 0.9 * rng.next_f64()).collect();
        let y: Vec<bool> = p.iter().map(|p| rng.next_f64() < *p).collect();
        let (intercept, slope) = calibration_line(&p, &y).unwrap();
        assert!((slope - 1.0).abs() < 0.15 && intercept.abs() < 0.15, "{intercept} {slope}");
    }
}
