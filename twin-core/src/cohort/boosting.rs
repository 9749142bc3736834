//! The gradient-boosted baseline: boosted trees on the aggregated history
//! ([`super::history`]), one model per outcome, fitted on the population's snapshots.
//!
//! The paper names gradient-boosted trees on aggregated history as the baseline a
//! twin must beat. The trees come from `perpetual` (pure Rust, Apache-2.0 from its 3.x
//! line; the 1.x line is GPL-3.0), whose one complexity knob, the budget, replaces a
//! hyperparameter search: RDT fixes it ([`BUDGET`]) instead of tuning it on anything
//! the evaluation scores. Missing values stay NaN; the trees route them.

use std::collections::BTreeMap;

use perpetual::booster::config::ContributionsMethod;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};

use super::outcomes::Outcome;

/// The booster's complexity budget: perpetual's documented default.
pub const BUDGET: f32 = 0.5;

/// A booster's complexity budget, perpetual's one knob (a larger budget fits finer
/// trees with a smaller step; docs/benchmarks/predictive.md measures 1.0 beside 0.5). The
/// baselines keep [`Budget::BASELINE`], never tuned on what the evaluation scores; the
/// twin's own trees (its prognosis part) may be given another, chosen on the tuning
/// part.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "f32", into = "f32")]
pub struct Budget(f32);

impl Budget {
    /// The baselines' fixed budget ([`BUDGET`]).
    pub const BASELINE: Budget = Budget(BUDGET);
    /// Largest budget accepted: beyond it a fit at 10,000 patients takes hours here.
    pub const MAX: f32 = 3.0;

    /// A budget in (0, [`Budget::MAX`]]; anything else is refused by name.
    pub fn new(value: f32) -> Result<Budget, BoostingError> {
        if value.is_finite() && value > 0.0 && value <= Self::MAX {
            Ok(Budget(value))
        } else {
            Err(BoostingError::Budget(value))
        }
    }

    /// The number perpetual is given.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::BASELINE
    }
}

impl TryFrom<f32> for Budget {
    type Error = BoostingError;
    fn try_from(value: f32) -> Result<Self, Self::Error> {
        Budget::new(value)
    }
}

impl From<Budget> for f32 {
    fn from(budget: Budget) -> f32 {
        budget.0
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What boosted trees forecast for a value (a DAS28): its mean, by squared loss, or
/// its median, by absolute loss. A forecast judged by its absolute error, as every
/// DAS28 RDT shows is (the report's MAE, the range of what followed beside it),
/// should be the median: where the outcome is skewed (responders near remission,
/// the rest spread upwards) the mean costs absolute error for nothing a clinician
/// asked for. Yes/no outcomes are probabilities either way (log loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForecast {
    /// Squared loss: the boosted-trees baseline (the stronger of the two there) and
    /// the twin's prognosis part (a direction in the twin's space, not a figure shown).
    Mean,
    /// Absolute loss: the twin head's trees, under its least-absolute-deviations
    /// stack (docs/benchmarks/predictive.md, "DAS28 forecast as a median").
    Median,
}

impl ValueForecast {
    fn objective(self) -> Objective {
        match self {
            ValueForecast::Mean => Objective::SquaredLoss,
            ValueForecast::Median => Objective::AbsoluteLoss,
        }
    }
}

/// Fixed, so the baseline is the same model on the same rows in every run.
const SEED: u64 = 19;
/// Memory (GB) each booster may size its histogram arena to. Without it perpetual
/// takes 70% of the machine's free memory per fit (8 GB at 2,000 patients here), and
/// two fits side by side, or a 10,000-patient evaluation, can exhaust it.
const MEMORY_LIMIT_GB: f32 = 3.0;

/// Why a boosted model could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum BoostingError {
    #[error("no training rows for {0}")]
    Empty(&'static str),
    #[error("rows of {got} features where the first has {expected}")]
    Ragged { expected: usize, got: usize },
    #[error("boosting budget {0}: expected a number above 0 and at most 3")]
    Budget(f32),
    #[error("boosting {outcome}: {message}")]
    Fit { outcome: &'static str, message: String },
}

/// One boosted model per outcome (serialisable: the twin head and the twin's
/// prognosis part are saved with them).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct BoostedBaseline {
    features: usize,
    models: BTreeMap<Outcome, PerpetualBooster>,
}

/// Column-major copy of `rows` (perpetual's layout).
fn columns(rows: &[Vec<f64>], features: usize) -> Vec<f64> {
    let mut data = Vec::with_capacity(rows.len() * features);
    for j in 0..features {
        data.extend(rows.iter().map(|r| r[j]));
    }
    data
}

/// One booster on `x` (rows of equal width) and `y` under `objective`, with RDT's
/// fixed budget, seed and memory cap: the one place a boosted model is configured.
pub fn fit_booster(
    x: &[Vec<f64>],
    y: &[f64],
    objective: Objective,
    what: &'static str,
) -> Result<PerpetualBooster, BoostingError> {
    fit_booster_with(x, y, objective, what, Budget::BASELINE)
}

/// [`fit_booster`] with another `budget` (the twin's own trees).
pub fn fit_booster_with(
    x: &[Vec<f64>],
    y: &[f64],
    objective: Objective,
    what: &'static str,
    budget: Budget,
) -> Result<PerpetualBooster, BoostingError> {
    let features = x.first().map(Vec::len).ok_or(BoostingError::Empty(what))?;
    let data = columns(x, features);
    fit_on(&Matrix::new(&data, x.len(), features), y, objective, what, budget)
}

/// One booster on a matrix already in perpetual's layout (several targets on the same
/// rows copy them once), configured as [`fit_booster_with`] says.
fn fit_on(
    matrix: &Matrix<'_, f64>,
    y: &[f64],
    objective: Objective,
    what: &'static str,
    budget: Budget,
) -> Result<PerpetualBooster, BoostingError> {
    let mut booster = PerpetualBooster::default()
        .set_objective(objective)
        .set_budget(budget.get())
        .set_seed(SEED)
        .set_memory_limit(Some(MEMORY_LIMIT_GB));
    booster.fit(matrix, y, None, None).map_err(|e| BoostingError::Fit { outcome: what, message: e.to_string() })?;
    Ok(booster)
}

impl BoostedBaseline {
    /// Fits each outcome on the rows that have it: `rows` are `(features, outcomes)`;
    /// a yes/no outcome by log loss (a probability), a value as `values` says. An
    /// outcome with fewer than two classes or no rows is left out (`predict` gives
    /// `None` for it).
    pub fn fit<'a>(
        rows: impl IntoIterator<Item = (&'a [f64], &'a super::PatientOutcomes)>,
        values: ValueForecast,
    ) -> Result<Self, BoostingError> {
        Self::fit_with(rows, Budget::BASELINE, values)
    }

    /// [`BoostedBaseline::fit`] with another `budget` (the twin's prognosis part).
    pub fn fit_with<'a>(
        rows: impl IntoIterator<Item = (&'a [f64], &'a super::PatientOutcomes)>,
        budget: Budget,
        values: ValueForecast,
    ) -> Result<Self, BoostingError> {
        let rows: Vec<(&[f64], &super::PatientOutcomes)> = rows.into_iter().collect();
        let features = rows.first().map(|(x, _)| x.len()).ok_or(BoostingError::Empty("any outcome"))?;
        if let Some((x, _)) = rows.iter().find(|(x, _)| x.len() != features) {
            return Err(BoostingError::Ragged { expected: features, got: x.len() });
        }
        let mut models = BTreeMap::new();
        for outcome in Outcome::ALL {
            let (x, y): (Vec<Vec<f64>>, Vec<f64>) =
                rows.iter().filter_map(|(x, o)| o.get(outcome).map(|v| (x.to_vec(), v))).unzip();
            if x.is_empty() {
                continue;
            }
            let objective = if outcome.is_rate() {
                let positives = y.iter().filter(|v| **v > 0.5).count();
                if positives == 0 || positives == y.len() {
                    continue;
                }
                Objective::LogLoss
            } else {
                values.objective()
            };
            let y: Vec<f64> = if outcome.is_rate() { y.iter().map(|v| if *v > 0.5 { 1.0 } else { 0.0 }).collect() } else { y };
            models.insert(outcome, fit_booster_with(&x, &y, objective, outcome.key(), budget)?);
        }
        Ok(BoostedBaseline { features, models })
    }

    /// The prediction for one row: a probability for yes/no outcomes, a value
    /// otherwise; `None` when the outcome was not fitted or the row is malformed.
    pub fn predict(&self, outcome: Outcome, x: &[f64]) -> Option<f64> {
        let model = self.models.get(&outcome)?;
        if x.len() != self.features {
            return None;
        }
        let matrix = Matrix::new(x, 1, self.features);
        let value = if outcome.is_rate() {
            model.predict_proba(&matrix, false, false).first().copied()
        } else {
            model.predict(&matrix, false).first().copied()
        }?;
        value.is_finite().then_some(value)
    }

    /// Each feature's contribution to one outcome's prediction for one row, on the
    /// model's raw scale (log-odds for yes/no outcomes, the value otherwise), the base
    /// score left out: why the trees expect what they expect, one entry per feature.
    /// Saabas' attribution (each split's change of the expected value along the row's
    /// path, credited to the split's feature): the contributions sum to the prediction
    /// at the cost of one prediction. Exact Shapley values (perpetual's tree SHAP) were
    /// too slow to read every twin of an index: with them the 10,000-patient twin
    /// evaluation had not finished after 40 minutes, against about 5 without the part
    /// (docs/benchmarks/predictive.md). `None` when the outcome was not fitted or the
    /// row is malformed.
    pub fn contributions(&self, outcome: Outcome, x: &[f64]) -> Option<Vec<f64>> {
        let model = self.models.get(&outcome)?;
        if x.len() != self.features {
            return None;
        }
        let matrix = Matrix::new(x, 1, self.features);
        // One row: the features' contributions, then the base score.
        let mut contributions = model.predict_contributions(&matrix, ContributionsMethod::Weight, false);
        contributions.truncate(self.features);
        (contributions.len() == self.features && contributions.iter().all(|v| v.is_finite())).then_some(contributions)
    }
}

/// Boosted trees that name one of several classes (one log-loss model per class, the
/// most probable wins): the subtype classifier that measures how much of a hidden
/// subtype the record allows anyone to read ([`crate::eval::twin`]'s ceiling).
pub struct BoostedClassifier {
    features: usize,
    models: Vec<PerpetualBooster>,
}

impl BoostedClassifier {
    /// Fits `classes` one-vs-rest models on `x` (one row per example) and `labels`
    /// (each below `classes`).
    pub fn fit(x: &[Vec<f64>], labels: &[usize], classes: usize) -> Result<Self, BoostingError> {
        let features = x.first().map(Vec::len).ok_or(BoostingError::Empty("a classifier"))?;
        if let Some(row) = x.iter().find(|r| r.len() != features) {
            return Err(BoostingError::Ragged { expected: features, got: row.len() });
        }
        let data = columns(x, features);
        let matrix = Matrix::new(&data, x.len(), features);
        let models = (0..classes)
            .map(|class| {
                let y: Vec<f64> = labels.iter().map(|l| if *l == class { 1.0 } else { 0.0 }).collect();
                fit_on(&matrix, &y, Objective::LogLoss, "subtype", Budget::BASELINE)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BoostedClassifier { features, models })
    }

    /// The most probable class of a row; `None` for a malformed row.
    pub fn predict(&self, x: &[f64]) -> Option<usize> {
        self.scores(x)?
            .into_iter()
            .enumerate()
            .filter(|(_, p)| p.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(class, _)| class)
    }

    /// Each class's one-vs-rest probability, normalised to sum to 1; `None` for a
    /// malformed row or when no model gives a finite probability.
    pub fn probabilities(&self, x: &[f64]) -> Option<Vec<f64>> {
        let scores: Vec<f64> = self.scores(x)?.into_iter().map(|p| if p.is_finite() { p.max(0.0) } else { 0.0 }).collect();
        let total: f64 = scores.iter().sum();
        (total > 0.0).then(|| scores.iter().map(|p| p / total).collect())
    }

    /// Each class's one-vs-rest probability as its model gives it (not normalised):
    /// what a recalibration reads ([`StackedClassifier`]).
    fn scores(&self, x: &[f64]) -> Option<Vec<f64>> {
        if x.len() != self.features {
            return None;
        }
        let matrix = Matrix::new(x, 1, self.features);
        Some(
            self.models
                .iter()
                .map(|m| m.predict_proba(&matrix, false, false).first().copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }
}

/// The subtype classifier recalibrated, for a ceiling that reads its probabilities.
///
/// One-vs-rest probabilities normalised to sum to 1 rank well but are not calibrated
/// (at 10,000 patients their multiclass Brier score made the neighbour ceiling read
/// below what the twin's neighbours reach: docs/benchmarks/predictive.md, fourteenth
/// session). So the rows are cut in folds; each fold's one-vs-rest trees are fitted on
/// the other folds' rows, and per class a logistic regression reads every class's
/// out-of-fold logit (a stack, fitted on the training labels only). A new row is read
/// by the mean of the folds' scores through the stack, normalised.
pub struct StackedClassifier {
    folds: Vec<BoostedClassifier>,
    stack: Vec<super::regression::LinearModel>,
}

/// The logit of each class's score, clamped away from 0 and 1 ([`crate::heads::logit`]).
fn logits(scores: &[f64]) -> Vec<f64> {
    scores.iter().map(|p| crate::heads::logit(*p)).collect()
}

impl StackedClassifier {
    /// Fits on `x` and `labels` (each below `classes`), row `i` in fold `fold[i]`
    /// (below `folds`, at least 2; every fold needs rows of its own and outside it).
    pub fn fit(x: &[Vec<f64>], labels: &[usize], classes: usize, fold: &[usize], folds: usize) -> Result<Self, BoostingError> {
        assert_eq!(x.len(), fold.len(), "one fold per row");
        let mut models = Vec::with_capacity(folds);
        let mut out_of_fold: Vec<Option<Vec<f64>>> = vec![None; x.len()];
        for held in 0..folds {
            let (fit_x, fit_y): (Vec<Vec<f64>>, Vec<usize>) =
                x.iter().zip(labels).zip(fold).filter(|(_, f)| **f != held).map(|((x, y), _)| (x.clone(), *y)).unzip();
            let model = BoostedClassifier::fit(&fit_x, &fit_y, classes)?;
            for (i, _) in fold.iter().enumerate().filter(|(_, f)| **f == held) {
                out_of_fold[i] = model.scores(&x[i]).map(|s| logits(&s));
            }
            models.push(model);
        }
        let (stack_x, stack_y): (Vec<Vec<f64>>, Vec<usize>) =
            out_of_fold.into_iter().zip(labels).filter_map(|(s, y)| Some((s?, *y))).unzip();
        let stack = (0..classes)
            .map(|class| {
                let is: Vec<bool> = stack_y.iter().map(|y| *y == class).collect();
                super::regression::LinearModel::fit_logistic(&stack_x, &is, super::regression::DEFAULT_L2)
                    .ok_or(BoostingError::Empty("a recalibration"))
            })
            .collect::<Result<_, _>>()?;
        Ok(StackedClassifier { folds: models, stack })
    }

    /// Fold `fold`'s own normalised probabilities for a row it was not fitted on.
    pub fn fold_probabilities(&self, fold: usize, x: &[f64]) -> Option<Vec<f64>> {
        self.folds.get(fold)?.probabilities(x)
    }

    /// The recalibrated probabilities of a new row (summing to 1); `None` for a
    /// malformed row.
    pub fn probabilities(&self, x: &[f64]) -> Option<Vec<f64>> {
        let each: Vec<Vec<f64>> = self.folds.iter().map(|m| m.scores(x)).collect::<Option<_>>()?;
        let mean: Vec<f64> = (0..self.stack.len()).map(|c| each.iter().map(|s| s[c]).sum::<f64>() / each.len() as f64).collect();
        let z = logits(&mean);
        let p: Vec<f64> = self.stack.iter().map(|m| m.predict(&z)).collect();
        let total: f64 = p.iter().sum();
        (total > 0.0 && total.is_finite()).then(|| p.iter().map(|v| v / total).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::PatientOutcomes;
    use crate::encode::init::SplitMix64;

    /// A budget is a positive number up to the cap, read and written as a plain
    /// number; a saved spec with a wrong one is refused when it is read.
    #[test]
    fn a_budget_is_positive_and_capped() {
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY, 3.5] {
            assert!(matches!(Budget::new(bad), Err(BoostingError::Budget(_))), "{bad}");
        }
        let budget = Budget::new(1.0).unwrap();
        assert_eq!(serde_json::to_string(&budget).unwrap(), "1.0");
        assert_eq!(serde_json::from_str::<Budget>("1.0").unwrap(), budget);
        let refused = serde_json::from_str::<Budget>("-2").unwrap_err().to_string();
        assert!(refused.contains("budget -2"), "{refused}");
        assert_eq!(Budget::default().get(), BUDGET);
    }

    /// Boosted trees find an interaction a linear model cannot (the outcome is the
    /// XOR of two signs) and keep a missing feature as missing.
    #[test]
    fn boosted_trees_learn_an_interaction_and_route_missing_values() {
        let mut rng = SplitMix64::new(11);
        let mut rows = Vec::new();
        for i in 0..1200 {
            let (a, b) = (rng.normal(), rng.normal());
            let flare = (a > 0.0) != (b > 0.0);
            let o = PatientOutcomes { flare_6m: Some(flare), ..Default::default() };
            let c = if i % 3 == 0 { f64::NAN } else { rng.normal() };
            rows.push((vec![a, b, c], o));
        }
        let (train, test) = rows.split_at(900);
        let model = BoostedBaseline::fit(train.iter().map(|(x, o)| (x.as_slice(), o)), ValueForecast::Mean).unwrap();
        let scores: Vec<f64> = test.iter().map(|(x, _)| model.predict(Outcome::Flare6m, x).unwrap()).collect();
        let labels: Vec<bool> = test.iter().map(|(_, o)| o.get(Outcome::Flare6m) == Some(1.0)).collect();
        let auc = crate::eval::cohort::auroc(&scores, &labels).unwrap();
        assert!(auc > 0.85, "{auc}");
        assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)));
        assert!(model.predict(Outcome::Switch12m, &[0.0, 0.0, 0.0]).is_none(), "an outcome without rows is not fitted");
        assert!(model.predict(Outcome::Flare6m, &[0.0]).is_none(), "a malformed row has no prediction");
    }

    /// `n` rows `[x, an irrelevant feature]`, both standard normal, whose outcomes
    /// `outcome(x, rng)` makes.
    fn rows_on_one_feature(
        seed: u64,
        n: usize,
        mut outcome: impl FnMut(f64, &mut SplitMix64) -> PatientOutcomes,
    ) -> Vec<(Vec<f64>, PatientOutcomes)> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|_| {
                let x = rng.normal();
                let o = outcome(x, &mut rng);
                (vec![x, rng.normal()], o)
            })
            .collect()
    }

    /// A DAS28 that follows one feature: the boosted regression's error is near the
    /// noise, far below the mean's.
    #[test]
    fn boosted_regression_beats_the_mean() {
        let rows = rows_on_one_feature(3, 1500, |x, rng| PatientOutcomes {
            das28_day_150: Some(4.0 + x + 0.3 * rng.normal()),
            ..Default::default()
        });
        let (train, test) = rows.split_at(1200);
        let mean = train.iter().filter_map(|(_, o)| o.das28_day_150).sum::<f64>() / train.len() as f64;
        for values in [ValueForecast::Mean, ValueForecast::Median] {
            let model = BoostedBaseline::fit(train.iter().map(|(x, o)| (x.as_slice(), o)), values).unwrap();
            let (mut boosted, mut flat) = (0.0, 0.0);
            for (x, o) in test {
                let y = o.das28_day_150.unwrap();
                boosted += (model.predict(Outcome::Das28Day150, x).unwrap() - y).abs();
                flat += (mean - y).abs();
            }
            let n = test.len() as f64;
            let (boosted, flat) = (boosted / n, flat / n);
            assert!(boosted < 0.45 && boosted < flat / 1.5, "{values:?}: MAE {boosted} vs the mean's {flat}");
        }
    }

    /// A DAS28 that follows one feature with a skewed error (most patients near
    /// their expected value, a few far above): the median trees sit below the mean
    /// trees, and their absolute error is the smaller, which is why a DAS28 shown
    /// beside its absolute error is forecast as a median.
    #[test]
    fn median_trees_have_the_smaller_absolute_error_under_skew() {
        let rows = rows_on_one_feature(4, 2000, |x, rng| {
            let worse = if rng.normal() > 1.0 { 2.5 + rng.normal().abs() } else { 0.2 * rng.normal() };
            PatientOutcomes { das28_day_360: Some(3.0 + 0.5 * x + worse), ..Default::default() }
        });
        let (train, test) = rows.split_at(1500);
        let error = |values| {
            let model = BoostedBaseline::fit(train.iter().map(|(x, o)| (x.as_slice(), o)), values).unwrap();
            let predicted: Vec<f64> =
                test.iter().map(|(x, _)| model.predict(Outcome::Das28Day360, x).unwrap()).collect();
            let n = test.len() as f64;
            let mae = test.iter().zip(&predicted).map(|((_, o), p)| (o.das28_day_360.unwrap() - p).abs()).sum::<f64>();
            (mae / n, predicted.iter().sum::<f64>() / n)
        };
        let (mean_mae, mean_level) = error(ValueForecast::Mean);
        let (median_mae, median_level) = error(ValueForecast::Median);
        assert!(median_mae < mean_mae, "median trees' MAE {median_mae} against the mean trees' {mean_mae}");
        assert!(median_level < mean_level - 0.2, "median trees forecast {median_level}, mean trees {mean_level}");
    }

    /// Three classes, each marked by a different feature: read almost always.
    #[test]
    fn the_classifier_names_the_class_a_feature_marks() {
        let mut rng = SplitMix64::new(9);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for i in 0..900 {
            let class = i % 3;
            let mut row: Vec<f64> = (0..3).map(|_| rng.normal() * 0.5).collect();
            row[class] += 2.0;
            x.push(row);
            labels.push(class);
        }
        let model = BoostedClassifier::fit(&x[..600], &labels[..600], 3).unwrap();
        let right = (600..900).filter(|&i| model.predict(&x[i]) == Some(labels[i])).count();
        assert!(right > 270, "{right}/300");
        assert_eq!(model.predict(&[0.0]), None);
        // Probabilities: one per class, summing to 1, the largest the class named.
        for i in 600..650 {
            let p = model.probabilities(&x[i]).expect("probabilities");
            assert_eq!(p.len(), 3);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9 && p.iter().all(|v| (0.0..=1.0).contains(v)), "{p:?}");
            let top = (0..3).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap();
            assert_eq!(Some(top), model.predict(&x[i]));
        }
        assert_eq!(model.probabilities(&[0.0]), None);
    }

    /// Where classes overlap, the stack's probabilities on new rows sum to 1, say on
    /// average how often each class occurs, and score about as well as the normalised
    /// one-vs-rest ones (multiclass Brier score; on the 10,000-patient subtypes the
    /// stack scored far better, docs/benchmarks/predictive.md, but on a small toy its
    /// half-size folds may cost what the recalibration gains).
    #[test]
    fn the_stack_recalibrates_the_one_vs_rest_probabilities() {
        let mut rng = SplitMix64::new(5);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for i in 0..3000 {
            let class = [0, 0, 0, 1, 1, 2][i % 6];
            let mut row: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
            row[class] += 2.0;
            x.push(row);
            labels.push(class);
        }
        // Folds across the classes' pattern, so each fold sees every class.
        let fold: Vec<usize> = (0..2000).map(|i| (i / 7) % 2).collect();
        let stacked = StackedClassifier::fit(&x[..2000], &labels[..2000], 3, &fold, 2).unwrap();
        let raw = BoostedClassifier::fit(&x[..2000], &labels[..2000], 3).unwrap();
        let brier = |p: &[f64], y: usize| p.iter().enumerate().map(|(c, v)| (v - f64::from(u8::from(c == y))).powi(2)).sum::<f64>();
        let (mut b_stacked, mut b_raw, mut mean) = (0.0, 0.0, [0.0; 3]);
        for i in 2000..3000 {
            let p = stacked.probabilities(&x[i]).unwrap();
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
            b_stacked += brier(&p, labels[i]) / 1000.0;
            b_raw += brier(&raw.probabilities(&x[i]).unwrap(), labels[i]) / 1000.0;
            for (m, v) in mean.iter_mut().zip(&p) {
                *m += v / 1000.0;
            }
        }
        assert!(b_stacked <= b_raw + 0.03, "stacked Brier {b_stacked:.3}, one-vs-rest {b_raw:.3}");
        for (m, share) in mean.iter().zip([0.5, 1.0 / 3.0, 1.0 / 6.0]) {
            assert!((m - share).abs() < 0.04, "mean probabilities {mean:?} against shares 1/2, 1/3, 1/6");
        }
        assert!(stacked.fold_probabilities(1, &x[0]).is_some() && stacked.fold_probabilities(2, &x[0]).is_none());
        assert_eq!(stacked.probabilities(&[0.0]), None);
    }
}
