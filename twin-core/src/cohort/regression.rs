//! The snapshot baseline's models: ridge-penalised logistic regression (Newton /
//! IRLS) for yes/no outcomes and ridge linear regression for DAS28 values, on
//! standardised features; a least-absolute-deviations fit for the head's DAS28 stack
//! (a median, [`LinearModel::fit_median`]).
//!
//! Hand-written (about a hundred lines) rather than linfa-logistic: the fits have a
//! dozen features, and linfa brings ndarray, argmin and BLAS-shaped APIs for what
//! is here a 20x20 linear solve per Newton step.

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

/// Ridge penalty on the (standardised) weights, not on the intercept: keeps the fit
/// finite when a class is perfectly separated or a feature is constant.
pub const DEFAULT_L2: f64 = 1e-2;
const MAX_NEWTON_STEPS: usize = 50;
const MAX_MEDIAN_STEPS: usize = 200;
/// The smallest absolute residual a median fit's reweighting divides by.
pub const MEDIAN_RESIDUAL_FLOOR: f64 = 1e-6;

/// Per-column standardisation learnt on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scaler {
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl Scaler {
    fn fit(x: &[Vec<f64>]) -> Self {
        let d = x.first().map_or(0, Vec::len);
        let n = x.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        for row in x {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / n;
            }
        }
        let mut sd = vec![0.0; d];
        for row in x {
            for ((s, v), m) in sd.iter_mut().zip(row).zip(&mean) {
                *s += (v - m).powi(2) / n;
            }
        }
        // A constant column becomes all zeros rather than a division by zero.
        let sd = sd.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect();
        Scaler { mean, sd }
    }

    /// `[1, standardised features...]`.
    fn design(&self, row: &[f64]) -> Vec<f64> {
        std::iter::once(1.0).chain(row.iter().zip(&self.mean).zip(&self.sd).map(|((v, m), s)| (v - m) / s)).collect()
    }
}

/// A fitted linear model on standardised features (intercept first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    scaler: Scaler,
    weights: Vec<f64>,
    logistic: bool,
}

impl LinearModel {
    /// Logistic regression of `y` on `x` (rows of equal width), by Newton's method.
    /// `None` without rows.
    pub fn fit_logistic(x: &[Vec<f64>], y: &[bool], l2: f64) -> Option<Self> {
        let (scaler, rows) = standardised(x, y.len())?;
        let p = rows[0].len();
        let mut w = vec![0.0; p];
        for _ in 0..MAX_NEWTON_STEPS {
            let mut grad = vec![0.0; p];
            let mut hess = vec![vec![0.0; p]; p];
            for (row, &label) in rows.iter().zip(y) {
                let mu = sigmoid(dot(row, &w));
                let r = mu - f64::from(u8::from(label));
                let s = (mu * (1.0 - mu)).max(1e-10);
                for i in 0..p {
                    grad[i] += r * row[i];
                    for j in 0..=i {
                        hess[i][j] += s * row[i] * row[j];
                    }
                }
            }
            for i in 0..p {
                for j in 0..i {
                    hess[j][i] = hess[i][j];
                }
            }
            penalise(&mut grad, &mut hess, &w, l2 * rows.len() as f64);
            let step = solve(hess, grad)?;
            let size = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
            for (wi, si) in w.iter_mut().zip(&step) {
                *wi -= si;
            }
            if size < 1e-8 {
                break;
            }
        }
        Some(LinearModel { scaler, weights: w, logistic: true })
    }

    /// Ridge linear regression of `y` on `x`: the conditional mean. `None` without rows.
    pub fn fit_linear(x: &[Vec<f64>], y: &[f64], l2: f64) -> Option<Self> {
        let (scaler, rows) = standardised(x, y.len())?;
        let weights = weighted_least_squares(&rows, y, None, l2)?;
        Some(LinearModel { scaler, weights, logistic: false })
    }

    /// Least-absolute-deviations regression of `y` on `x`: the conditional *median*,
    /// the value that minimises an absolute error. A forecast judged by its mean
    /// absolute error (every DAS28 RDT shows is) should be a median, which a skewed
    /// outcome pulls away from the mean. By iteratively reweighted least squares,
    /// each row weighted by one over its absolute residual (floored at
    /// [`MEDIAN_RESIDUAL_FLOOR`] so a row on the line cannot take all the weight),
    /// from the least-squares fit. `None` without rows.
    pub fn fit_median(x: &[Vec<f64>], y: &[f64], l2: f64) -> Option<Self> {
        let (scaler, rows) = standardised(x, y.len())?;
        let mut weights = weighted_least_squares(&rows, y, None, l2)?;
        for _ in 0..MAX_MEDIAN_STEPS {
            let row_weights: Vec<f64> = rows
                .iter()
                .zip(y)
                .map(|(row, v)| 1.0 / (v - dot(row, &weights)).abs().max(MEDIAN_RESIDUAL_FLOOR))
                .collect();
            let next = weighted_least_squares(&rows, y, Some(&row_weights), l2)?;
            let size = next.iter().zip(&weights).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            weights = next;
            if size < 1e-9 {
                break;
            }
        }
        Some(LinearModel { scaler, weights, logistic: false })
    }

    /// The predicted probability (logistic) or value (linear) for one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let z = dot(&self.scaler.design(row), &self.weights);
        if self.logistic {
            sigmoid(z)
        } else {
            z
        }
    }

    /// The weights on standardised features, intercept first.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// The scaler learnt on `x` and its design rows (`[1, standardised features...]`);
/// `None` without rows. `targets` must be one per row.
fn standardised(x: &[Vec<f64>], targets: usize) -> Option<(Scaler, Vec<Vec<f64>>)> {
    assert_eq!(x.len(), targets, "one target per row");
    if x.is_empty() {
        return None;
    }
    let scaler = Scaler::fit(x);
    let rows = x.iter().map(|r| scaler.design(r)).collect();
    Some((scaler, rows))
}

/// Ridge least squares on design rows (intercept first, not penalised), each row
/// weighted by `row_weights` (all 1 without); the penalty scales with the total weight.
fn weighted_least_squares(rows: &[Vec<f64>], y: &[f64], row_weights: Option<&[f64]>, l2: f64) -> Option<Vec<f64>> {
    let p = rows[0].len();
    let mut xtx = vec![vec![0.0; p]; p];
    let mut xty = vec![0.0; p];
    let mut total = 0.0;
    for (k, (row, target)) in rows.iter().zip(y).enumerate() {
        let w = row_weights.map_or(1.0, |ws| ws[k]);
        total += w;
        for i in 0..p {
            xty[i] += w * row[i] * target;
            for j in 0..p {
                xtx[i][j] += w * row[i] * row[j];
            }
        }
    }
    for (i, r) in xtx.iter_mut().enumerate().skip(1) {
        r[i] += l2 * total;
    }
    solve(xtx, xty)
}

fn penalise(grad: &mut [f64], hess: &mut [Vec<f64>], w: &[f64], lambda: f64) {
    for i in 1..w.len() {
        grad[i] += lambda * w[i];
        hess[i][i] += lambda;
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when `a` is
/// singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers in [0, 1) (no rand dependency here).
    fn uniform(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Label = x0 + 2 x1 > 1.5, with an irrelevant third feature: the fit separates the
    /// classes, puts its weight on x0 and x1 in about a 1:2 ratio, and little on x2.
    #[test]
    fn logistic_regression_recovers_a_separating_rule() {
        let mut seed = 7;
        let x: Vec<Vec<f64>> = (0..400).map(|_| (0..3).map(|_| uniform(&mut seed)).collect()).collect();
        let y: Vec<bool> = x.iter().map(|r| r[0] + 2.0 * r[1] > 1.5).collect();
        let model = LinearModel::fit_logistic(&x, &y, 1e-4).unwrap();
        let correct = x.iter().zip(&y).filter(|(r, &label)| (model.predict(r) > 0.5) == label).count();
        assert!(correct >= 392, "{correct} of 400 classified");
        let w = model.weights();
        let (w0, w1, w2) = (w[1] / model.scaler.sd[0], w[2] / model.scaler.sd[1], w[3] / model.scaler.sd[2]);
        assert!((w1 / w0 - 2.0).abs() < 0.5, "ratio {}", w1 / w0);
        assert!(w2.abs() < 0.2 * w0.abs(), "irrelevant weight {w2} vs {w0}");
        // A point far on either side is near certain.
        assert!(model.predict(&[1.0, 1.0, 0.5]) > 0.99 && model.predict(&[0.0, 0.0, 0.5]) < 0.01);
    }

    #[test]
    fn linear_regression_recovers_coefficients() {
        let mut seed = 11;
        let x: Vec<Vec<f64>> = (0..200).map(|_| (0..2).map(|_| uniform(&mut seed)).collect()).collect();
        let y: Vec<f64> = x.iter().map(|r| 3.0 + 2.0 * r[0] - r[1]).collect();
        let model = LinearModel::fit_linear(&x, &y, 0.0).unwrap();
        assert!((model.predict(&[0.5, 0.5]) - 3.5).abs() < 1e-9);
        assert!((model.predict(&[1.0, 0.0]) - 5.0).abs() < 1e-9);
    }

    /// y = 1 + 2 x plus a skewed error whose median is 0 (an exponential less ln 2):
    /// the median fit finds the line, least squares the line shifted by the error's
    /// mean (1 - ln 2 = 0.31), and the median fit's absolute error is the smaller.
    #[test]
    fn median_regression_finds_the_median_line_under_skewed_error() {
        let mut seed = 5;
        let x: Vec<Vec<f64>> = (0..2000).map(|_| vec![uniform(&mut seed)]).collect();
        let y: Vec<f64> =
            x.iter().map(|r| 1.0 + 2.0 * r[0] - (1.0 - uniform(&mut seed)).ln() - 2f64.ln()).collect();
        let median = LinearModel::fit_median(&x, &y, 0.0).unwrap();
        let mean = LinearModel::fit_linear(&x, &y, 0.0).unwrap();
        assert!((median.predict(&[0.0]) - 1.0).abs() < 0.08, "median intercept {}", median.predict(&[0.0]));
        assert!((median.predict(&[1.0]) - 3.0).abs() < 0.08, "median at 1: {}", median.predict(&[1.0]));
        let shifted = 1.0 + (1.0 - 2f64.ln());
        assert!((mean.predict(&[0.0]) - shifted).abs() < 0.1, "mean intercept {}", mean.predict(&[0.0]));
        let mae = |m: &LinearModel| x.iter().zip(&y).map(|(r, v)| (v - m.predict(r)).abs()).sum::<f64>() / y.len() as f64;
        assert!(mae(&median) < mae(&mean), "{} against {}", mae(&median), mae(&mean));
        assert!(LinearModel::fit_median(&[], &[], 0.0).is_none());
    }

    #[test]
    fn constant_columns_and_one_class_stay_finite() {
        let x = vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![1.0, 2.0]];
        let model = LinearModel::fit_logistic(&x, &[true, true, true], DEFAULT_L2).unwrap();
        let p = model.predict(&[1.0, 1.0]);
        assert!(p.is_finite() && p > 0.9);
        assert!(LinearModel::fit_logistic(&[], &[], DEFAULT_L2).is_none());
    }
}
