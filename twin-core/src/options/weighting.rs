//! Weighting for who got an option, inside a neighbourhood.
//!
//! Patients who took a TNF inhibitor are those whose methotrexate failed: their
//! outcomes say what happens to such patients on it, not to everyone. A propensity
//! model (ridge logistic regression of "took this option" on the covariates at the
//! decision, over the neighbourhood's patients) gives each patient who took it the
//! weight 1 / P(took it): the weighted figure estimates what the whole neighbourhood
//! would have had on that option. Propensities are clipped to
//! [`PROPENSITY_FLOOR`]..(1 - floor) so no patient weighs more than 1 / floor, and the
//! balance table shows how far the weighting brought the takers' covariates to the
//! neighbourhood's.

use crate::cohort::regression::LinearModel;

/// Lowest propensity a weight is computed from (a weight is at most 20).
pub const PROPENSITY_FLOOR: f64 = 0.05;
/// The propensity model's default ridge penalty (per row, on standardised covariates):
/// strong, because a neighbourhood holds a few dozen takers
/// ([`super::OptionsQuery::propensity_l2`] sets another).
pub const PROPENSITY_L2: f64 = 0.1;

/// Inverse-propensity weights of the takers among `rows` (covariates, took it), in
/// the order of the takers; `None` when the model cannot be fitted (nobody or
/// everybody took it).
pub fn takers_weights(rows: &[(&[f64], bool)], l2: f64) -> Option<Vec<f64>> {
    let takers = rows.iter().filter(|(_, t)| *t).count();
    if takers == 0 || takers == rows.len() {
        return None;
    }
    let x: Vec<Vec<f64>> = rows.iter().map(|(c, _)| c.to_vec()).collect();
    let y: Vec<bool> = rows.iter().map(|(_, t)| *t).collect();
    let model = LinearModel::fit_logistic(&x, &y, l2)?;
    let weights: Vec<f64> = rows
        .iter()
        .filter(|(_, t)| *t)
        .map(|(c, _)| 1.0 / model.predict(c).clamp(PROPENSITY_FLOOR, 1.0 - PROPENSITY_FLOOR))
        .collect();
    weights.iter().all(|w| w.is_finite() && *w > 0.0).then_some(weights)
}

/// Standardised mean difference of one covariate between the takers (weighted by
/// `weights`, or equally) and the whole neighbourhood: (mean takers - mean all) /
/// sd all. 0 when the neighbourhood does not vary in it.
pub fn standardised_difference(takers: &[f64], weights: Option<&[f64]>, all: &[f64]) -> f64 {
    let n = all.len() as f64;
    let mean_all = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|v| (v - mean_all).powi(2)).sum::<f64>() / n).sqrt();
    if sd < 1e-12 || takers.is_empty() {
        return 0.0;
    }
    let mean_takers = match weights {
        Some(w) => takers.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / w.iter().sum::<f64>(),
        None => takers.iter().sum::<f64>() / takers.len() as f64,
    };
    (mean_takers - mean_all) / sd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takers are the high-DAS28 patients: weighting moves their mean DAS28 towards
    /// the neighbourhood's.
    #[test]
    fn weights_bring_the_takers_towards_the_neighbourhood() {
        let das: Vec<f64> = (0..200).map(|i| 2.0 + (i % 50) as f64 * 0.1).collect();
        // Took it: every patient above 5.5 and one in four below.
        let took: Vec<bool> = das.iter().enumerate().map(|(i, d)| *d > 5.5 || i % 4 == 0).collect();
        let covariates: Vec<Vec<f64>> = das.iter().map(|d| vec![*d]).collect();
        let rows: Vec<(&[f64], bool)> = covariates.iter().map(|c| c.as_slice()).zip(took.iter().copied()).collect();
        let weights = takers_weights(&rows, PROPENSITY_L2).expect("a fitted model");
        let takers: Vec<f64> = das.iter().zip(&took).filter(|(_, t)| **t).map(|(d, _)| *d).collect();
        assert_eq!(weights.len(), takers.len());
        assert!(weights.iter().all(|w| (1.0..=1.0 / PROPENSITY_FLOOR + 1e-9).contains(w)), "{weights:?}");
        let before = standardised_difference(&takers, None, &das);
        let after = standardised_difference(&takers, Some(&weights), &das);
        assert!(before > 0.3 && after.abs() < before / 2.0, "before {before}, after {after}");
        assert_eq!(takers_weights(&rows[..0], PROPENSITY_L2), None);
        let all_took: Vec<(&[f64], bool)> = rows.iter().map(|(c, _)| (*c, true)).collect();
        assert_eq!(takers_weights(&all_took, PROPENSITY_L2), None);
    }
}
