//! The twin's own head: boosted trees on the twin vector beside the aggregated
//! history, one model per outcome of DESIGN.md, with its calibration measured on
//! patients it never saw.
//!
//! Why this shape: the gradient-boosted baseline ([`crate::cohort::boosting`]) reads
//! the aggregated history alone. The twin head reads the same history *and* the
//! twin (the fused events, latest values, trajectory, imaging and omics), fitted on
//! the same rows with the same fixed budget, so the difference between the two is
//! exactly what the twin vector adds, and the ablation of the vector is the boosted
//! baseline itself. A head on the vector alone would throw away the structured
//! history that the baseline already shows the record holds.
//!
//! Per outcome the head holds three families, fitted on its training patients outside
//! an inner validation slice (buckets [`INNER_VALIDATION`] of the split, never a
//! tuning or test patient): boosted trees on `[aggregated history, twin]`, a ridge
//! regression on `[latest-visit features, twin]`, and a GRU over the journey's event
//! tokens in the twin's vocabulary ([`crate::cohort::sequence`]: the order of events,
//! which aggregated history cannot tell). On the inner slice a stack combines them: a
//! logistic regression on their three logits for yes/no outcomes (it also
//! recalibrates: trees fitted on many snapshots per patient are over-confident, a
//! calibration slope near 0.2, and the ridge's penalty shrinks), a least-absolute-
//! deviations one on their three values for DAS28 (with the trees' absolute loss: a
//! DAS28 is forecast as a median, which is what its absolute error and the range of
//! what followed, shown beside it, judge). The slice holds its patients at the
//! 180-day cadence and at
//! each DMARD start + [`DECISION_DAYS_AFTER_START`] days ([`decision_times`]); a second
//! stack fitted on its decision-point rows alone answers at a decision point
//! ([`DECISION_WINDOW_DAYS`] after the latest DMARD start), where risk spreads
//! differently than at an arbitrary date. Each family alone, Platt-recalibrated on the
//! same slice, is kept for the evaluation and as the fallback when the slice is too
//! small to stack.
//!
//! An install's head ([`fit_from_points`]) is fitted on the train part of the frozen
//! split ([`crate::eval::split`]) and measured on the tuning part: the interval shown
//! beside a probability is what happened to the tuning patients the head gave a
//! similar figure (the reliability bin: n, observed rate, Wilson interval), and a
//! DAS28's interval is the tuning part's 95% residual range. The file is pinned in the
//! model registry (kind `twin_head`) and read only when active, like every artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, GovernanceError, ModelRegistry, Principal};

use crate::artifact::{read_active, save_pinned, ArtifactFileError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::metrics::{auroc, calibration_line, reliability, ReliabilityBin};
use crate::cohort::boosting::{BoostedBaseline, BoostingError, ValueForecast};
use crate::cohort::features::snapshot_features;
use crate::cohort::history::{history_features, HISTORY_WIDTH};
use crate::cohort::regression::LinearModel;
use crate::cohort::sequence::{RecurrentBaseline, SequenceConfig, SequenceError};
use crate::encode::vocab::Vocabulary;
use crate::cohort::stats::{wilson, Interval};
use crate::cohort::{ClinicalRecord, Outcome, PatientOutcomes};
use crate::twin::{TwinError, TwinModel};
use journey::event::Event;

/// Why a twin head could not be fitted, saved or read.
#[derive(Debug, thiserror::Error)]
pub enum TwinHeadError {
    #[error("embedding the training snapshots: {0}")]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Boosting(#[from] BoostingError),
    #[error("the sequence reader: {0}")]
    Sequence(#[from] SequenceError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a twin head: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{source}; refit and register the twin head with `rdt embed`")]
    Governance { source: GovernanceError },
    #[error("the twin head {path} was fitted for twin {head}, the active twin is {active}: run `rdt embed`")]
    OtherTwin { path: PathBuf, head: String, active: String },
}

impl From<ArtifactFileError> for TwinHeadError {
    fn from(e: ArtifactFileError) -> Self {
        match e {
            ArtifactFileError::Io { path, source } => TwinHeadError::Io { path, source },
            ArtifactFileError::Governance(source) => TwinHeadError::Governance { source },
        }
    }
}

/// One training or calibration row: a journey at an index time, with its twin then
/// and the outcomes after it.
pub struct HeadRow<'a> {
    pub patient: &'a journey::event::PatientId,
    pub events: &'a [Event],
    pub record: &'a ClinicalRecord,
    pub index_time: DateTime<Utc>,
    pub outcomes: PatientOutcomes,
    pub twin: Vec<f32>,
}

/// How well one outcome's head did on patients it never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Rows with the outcome.
    pub n: usize,
    /// Yes/no: ten equal-width reliability bins (the plot, and each figure's interval).
    pub bins: Vec<ReliabilityBin>,
    /// Yes/no: the Cox calibration slope (1 is calibrated) and the AUROC.
    pub slope: Option<f64>,
    pub auroc: Option<f64>,
    /// Values: mean absolute error and the 2.5th and 97.5th percentiles of actual
    /// minus predicted (the interval shown beside a prediction).
    pub mae: Option<f64>,
    pub residual_95: Option<[f64; 2]>,
}

/// Bins of the reliability plot and of a probability's interval.
pub const RELIABILITY_BINS: usize = 10;

impl Calibration {
    /// A yes/no model's calibration from its probabilities `p` on held-out rows and
    /// what happened (`y`).
    pub fn of_rates(p: &[f64], y: &[bool]) -> Calibration {
        Calibration {
            n: p.len(),
            bins: reliability(p, y, RELIABILITY_BINS),
            slope: calibration_line(p, y).map(|(_, slope)| slope),
            auroc: auroc(p, y),
            mae: None,
            residual_95: None,
        }
    }

    /// A value model's calibration from `(predicted, actual)` pairs on held-out rows.
    pub fn of_values(pairs: &[(f64, f64)]) -> Calibration {
        let mut residuals: Vec<f64> = pairs.iter().map(|(p, a)| a - p).collect();
        residuals.sort_by(f64::total_cmp);
        let at = |q: f64| residuals[((q * (residuals.len() - 1) as f64).round() as usize).min(residuals.len() - 1)];
        Calibration {
            n: pairs.len(),
            bins: vec![],
            slope: None,
            auroc: None,
            mae: (!residuals.is_empty()).then(|| residuals.iter().map(|r| r.abs()).sum::<f64>() / residuals.len() as f64),
            residual_95: (!residuals.is_empty()).then(|| [at(0.025), at(0.975)]),
        }
    }

    /// The figure shown for a prediction `value`: a probability with the observed
    /// rate and Wilson interval of the held-out rows in its reliability band (none
    /// when no held-out row fell in that band), or a DAS28 with the held-out
    /// residuals' 95% range around it, cut to the scale.
    pub fn figure(&self, value: f64, is_rate: bool) -> Option<HeadFigure> {
        if is_rate {
            let b = self.bins.iter().find(|b| (b.low..b.high).contains(&value) || (b.high >= 1.0 && value >= b.low))?;
            let events = (b.observed_rate * b.n as f64).round() as usize;
            return Some(HeadFigure { value, interval: Some(wilson(events, b.n)), observed: Some(b.observed_rate), n: b.n });
        }
        let interval = self.residual_95.map(|[lo, hi]| Interval {
            low: (value + lo).clamp(0.0, 10.0),
            high: (value + hi).clamp(0.0, 10.0),
        });
        Some(HeadFigure { value, interval, observed: None, n: self.n })
    }

    /// Why no figure of this model may be shown to anyone: measured on fewer than
    /// [`MIN_CALIBRATION_ROWS`] held-out rows, or (yes/no) a calibration slope outside
    /// [`CALIBRATED_SLOPE`]. `None` when its figures may be shown.
    pub fn withheld(&self, is_rate: bool) -> Option<String> {
        if self.n < MIN_CALIBRATION_ROWS {
            return Some(format!(
                "measured on {} held-out patients with this outcome, fewer than {MIN_CALIBRATION_ROWS}",
                self.n
            ));
        }
        if is_rate {
            return match self.slope {
                Some(slope) if CALIBRATED_SLOPE.contains(&slope) => None,
                Some(slope) => Some(format!(
                    "not calibrated on held-out patients: calibration slope {slope:.2}, outside {:.1}-{:.1}",
                    CALIBRATED_SLOPE.start(),
                    CALIBRATED_SLOPE.end()
                )),
                None => Some("its calibration on held-out patients could not be measured".to_owned()),
            };
        }
        None
    }
}

/// What a recalibration did to one yes/no outcome: the Cox line fitted on the fit half
/// (none: too few rows or one class), and the calibration slope on the check half
/// before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecalibratedOutcome {
    pub outcome: Outcome,
    pub fit_rows: usize,
    pub line: Option<[f64; 2]>,
    pub check_rows: usize,
    pub slope_before: Option<f64>,
    pub slope_after: Option<f64>,
}

/// A head's figure for one patient and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFigure {
    /// A probability (0-1) for a yes/no outcome, a DAS28 (0-10) otherwise.
    pub value: f64,
    /// Yes/no: the observed rate among the calibration patients given a figure in
    /// the same band, with its Wilson interval; values: the prediction plus the
    /// calibration residuals' 95% range, cut to the scale.
    pub interval: Option<Interval>,
    /// Yes/no: the observed rate among those calibration patients.
    pub observed: Option<f64>,
    /// Calibration patients behind the interval (the band's, or all with the value).
    pub n: usize,
}

/// Which model answers an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Boosted trees on `[aggregated history, twin]`.
    Trees,
    /// Ridge (logistic or linear) on `[latest-visit features, twin]`.
    Ridge,
    /// A GRU over the journey's event tokens in the twin's vocabulary: the order of
    /// events, which aggregated history cannot tell apart.
    Sequence,
    /// All three, combined by a regression on their predictions (logits for yes/no)
    /// fitted on the inner validation slice.
    Stack,
}

/// One outcome's fitted models and the family chosen.
#[derive(Serialize, Deserialize)]
struct OutcomeHead {
    family: Family,
    /// The stack of the three families (inputs: trees, ridge, sequence; logits for
    /// yes/no).
    stack: Option<LinearModel>,
    /// The same stack fitted on the inner slice's rows at a decision point only
    /// ([`Decision`], of either kind): what answers there, when the slice held enough
    /// such rows. Risk spreads differently three months into a drug than at an
    /// arbitrary date, and one recalibration cannot hold at both.
    #[serde(default)]
    decision_stack: Option<LinearModel>,
    /// The same again on the decision points of a patient's first DMARD
    /// ([`Decision::FirstLine`]): a DMARD-naive patient three months into the anchor drug, where
    /// flares and failure follow the record more closely than at a switch after
    /// several drugs; pooled with the later decisions, the stack's figures at the first
    /// were compressed (calibration slope 1.35 on flare at 10,000 patients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_line_stack: Option<LinearModel>,
    /// Platt recalibration of each family's probability (on its logit): trees, ridge,
    /// sequence; yes/no only.
    platt: [Option<LinearModel>; 3],
    ridge: LinearModel,
    /// The inner validation slice's loss of each family (log loss or MAE): trees,
    /// ridge, sequence, stack (in-sample for the stack: four parameters on hundreds of
    /// rows), and its n.
    inner_loss: [Option<f64>; 4],
    inner_n: usize,
}

impl OutcomeHead {
    /// The stack that answers: the first-line one at a first-line decision, the
    /// decision-point one at any other decision point (each when the slice held enough
    /// such rows), else the one fitted on the whole slice.
    fn stack_for(&self, decision: Decision) -> Option<&LinearModel> {
        let first_line = self.first_line_stack.as_ref().filter(|_| decision == Decision::FirstLine);
        let any = self.decision_stack.as_ref().filter(|_| decision != Decision::None);
        first_line.or(any).or(self.stack.as_ref())
    }
}

/// A stack's input from the three families' raw predictions (trees, ridge, GRU):
/// their logits for a yes/no outcome, the values themselves for DAS28.
fn stack_input(outcome: Outcome, raw: [f64; 3]) -> [f64; 3] {
    if outcome.is_rate() { raw.map(logit) } else { raw }
}

/// The fitted head.
#[derive(Serialize, Deserialize)]
pub struct TwinHead {
    /// The twin whose vectors it reads (hex SHA-256 of its manifest).
    pub twin_version: String,
    pub fitted_rows: usize,
    twin_width: usize,
    trees: BoostedBaseline,
    /// The sequence family: one GRU for every outcome.
    sequence: RecurrentBaseline,
    outcomes: BTreeMap<Outcome, OutcomeHead>,
    /// Per outcome, measured on the calibration rows (empty when none were given).
    pub calibration: BTreeMap<Outcome, Calibration>,
    /// Recalibrations from recent outcomes, adopted by governance (`rdt heads
    /// recalibrate` proposes, activating the pinned file adopts): per yes/no outcome
    /// the Cox line (intercept, slope) applied to the logit of the head's probability.
    /// Empty for a head as `rdt embed` fits it (and then absent from its file).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    recalibration: BTreeMap<Outcome, [f64; 2]>,
}

/// A patient's inputs to the head at one time ([`TwinHead::inputs`]).
pub struct HeadInputs {
    history: Vec<f64>,
    latest: Vec<f64>,
    twin: Vec<f32>,
    /// The sequence family's prediction of each outcome ([`Outcome::ALL`] order),
    /// read once with the inputs: it depends on the events alone, not on the twin.
    sequence: Vec<Option<f64>>,
    /// Whether the time asked about is a decision point, and of which kind.
    decision: Decision,
}

/// Whether a time is a decision point: the latest DMARD started within
/// [`DECISION_WINDOW_DAYS`] before it; first-line when that DMARD is the patient's
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    None,
    FirstLine,
    Later,
}

/// Days after a DMARD start that count as its decision point (around the
/// treat-to-target check at [`DECISION_DAYS_AFTER_START`]).
pub const DECISION_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 60..=120;

/// Whether `at` is a decision point of `record` (the latest DMARD started
/// [`DECISION_WINDOW_DAYS`] before it): where a clinician asks whether the drug is
/// working, and where risk spreads more than at an arbitrary date. The head's second
/// stack and the neighbourhood prior read figures for these points apart.
pub fn is_decision_point(record: &ClinicalRecord, at: DateTime<Utc>) -> bool {
    decision_at(record, at) != Decision::None
}

fn decision_at(record: &ClinicalRecord, at: DateTime<Utc>) -> Decision {
    let starts = || record.courses.iter().filter(|c| c.is_dmard() && c.start <= at).map(|c| c.start);
    match (starts().min(), starts().max()) {
        (Some(first), Some(latest)) if DECISION_WINDOW_DAYS.contains(&(at - latest).num_days()) => {
            if first == latest { Decision::FirstLine } else { Decision::Later }
        }
        _ => Decision::None,
    }
}

impl HeadInputs {
    fn read(record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>, twin: Vec<f32>) -> Self {
        HeadInputs {
            history: history_features(record, events, at),
            latest: snapshot_features(record, at),
            twin,
            sequence: vec![],
            decision: decision_at(record, at),
        }
    }

    /// The same record's inputs with another twin (the ablation's: a modality left
    /// out), without reading the record again.
    pub fn with_twin(&self, twin: Vec<f32>) -> Self {
        HeadInputs {
            history: self.history.clone(),
            latest: self.latest.clone(),
            twin,
            sequence: self.sequence.clone(),
            decision: self.decision,
        }
    }

    fn sequence_of(&self, outcome: Outcome) -> Option<f64> {
        let o = Outcome::ALL.iter().position(|x| *x == outcome)?;
        self.sequence.get(o).copied().flatten()
    }

    fn trees_row(&self) -> Vec<f64> {
        TwinHead::features(&self.history, &self.twin)
    }

    fn ridge_row(&self) -> Vec<f64> {
        TwinHead::features(&self.latest, &self.twin)
    }
}

/// The inner validation slice: training patients in these buckets of the split
/// ([`crate::eval::split::bucket`]) choose each outcome's family and recalibrate both
/// families; the rest fit them.
pub const INNER_VALIDATION: std::ops::Range<u64> = 35..48;

/// Ridge penalty of the head's linear family (on standardised features): stronger
/// than the snapshot baseline's, for a few hundred correlated columns.
const RIDGE_L2: f64 = 0.05;

/// Snapshots embedded per forward pass: bounds the inputs held at once.
const CHUNK: usize = 512;

/// What a pinned head's registry entry says about it.
const REGISTER_REASON: &str = "fitted by rdt embed on the train part of the frozen split";

/// The log-odds of a probability, clamped away from 0 and 1.
pub(crate) fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn log_loss(pairs: &[(f64, f64)]) -> f64 {
    let sum: f64 = pairs
        .iter()
        .map(|(p, y)| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            if *y > 0.5 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    sum / pairs.len().max(1) as f64
}

fn mae(pairs: &[(f64, f64)]) -> f64 {
    pairs.iter().map(|(p, y)| (p - y).abs()).sum::<f64>() / pairs.len().max(1) as f64
}

impl TwinHead {
    /// A row of features: `columns`, then the twin vector.
    pub fn features(columns: &[f64], twin: &[f32]) -> Vec<f64> {
        columns.iter().copied().chain(twin.iter().map(|v| f64::from(*v))).collect()
    }

    /// Fits the head on `rows` (the inner validation slice of them stacks and
    /// recalibrates, the rest fit the families) and measures it on `calibration`;
    /// both already embedded by the twin `twin_version`, whose vocabulary `vocab` the
    /// sequence family reads events in.
    pub fn fit(
        twin_version: Digest,
        vocab: &Vocabulary,
        rows: &[HeadRow<'_>],
        calibration: &[HeadRow<'_>],
    ) -> Result<Self, TwinHeadError> {
        let mut inputs: Vec<HeadInputs> = rows.iter().map(HeadRow::inputs).collect();
        let inner: Vec<bool> =
            rows.iter().map(|r| INNER_VALIDATION.contains(&crate::eval::split::bucket(r.patient))).collect();
        let fit_idx: Vec<usize> = (0..rows.len()).filter(|&i| !inner[i]).collect();
        let inner_idx: Vec<usize> = (0..rows.len()).filter(|&i| inner[i]).collect();
        let twin_width = rows.first().map_or(0, |r| r.twin.len());

        let tree_rows: Vec<Vec<f64>> = fit_idx.iter().map(|&i| inputs[i].trees_row()).collect();
        let trees = BoostedBaseline::fit(
            tree_rows.iter().map(Vec::as_slice).zip(fit_idx.iter().map(|&i| &rows[i].outcomes)),
            ValueForecast::Median,
        )?;
        drop(tree_rows);
        let config = SequenceConfig::default();
        let tokens = |i: usize| vocab.tokenize(rows[i].events, Some(rows[i].index_time), config.max_len);
        let fit_tokens: Vec<_> = fit_idx.iter().map(|&i| tokens(i)).collect();
        let sequence = RecurrentBaseline::fit(
            vocab,
            fit_tokens.iter().map(Vec::as_slice).zip(fit_idx.iter().map(|&i| &rows[i].outcomes)),
            &config,
        )?;
        drop(fit_tokens);
        // Only the inner slice needs the sequence family's predictions (to stack).
        let inner_tokens: Vec<_> = inner_idx.iter().map(|&i| tokens(i)).collect();
        let inner_sequences: Vec<&[_]> = inner_tokens.iter().map(Vec::as_slice).collect();
        for (&i, predicted) in inner_idx.iter().zip(sequence.predict_many(&inner_sequences)) {
            inputs[i].sequence = predicted;
        }

        let mut outcomes = BTreeMap::new();
        for outcome in Outcome::ALL {
            let with = |idx: &[usize]| -> Vec<usize> {
                idx.iter().copied().filter(|&i| rows[i].outcomes.get(outcome).is_some()).collect()
            };
            let (fit_o, inner_o) = (with(&fit_idx), with(&inner_idx));
            let y = |i: usize| rows[i].outcomes.get(outcome).unwrap_or(f64::NAN);
            let x: Vec<Vec<f64>> = fit_o.iter().map(|&i| inputs[i].ridge_row()).collect();
            let ridge = if outcome.is_rate() {
                let labels: Vec<bool> = fit_o.iter().map(|&i| y(i) > 0.5).collect();
                if labels.iter().all(|l| *l) || !labels.iter().any(|l| *l) {
                    continue;
                }
                LinearModel::fit_logistic(&x, &labels, RIDGE_L2)
            } else {
                LinearModel::fit_linear(&x, &fit_o.iter().map(|&i| y(i)).collect::<Vec<_>>(), RIDGE_L2)
            };
            let Some(ridge) = ridge else { continue };
            // Each family's raw prediction on the inner slice, once: trees, ridge, GRU.
            let raw: std::collections::HashMap<usize, [Option<f64>; 3]> = inner_o
                .iter()
                .map(|&i| {
                    let x = &inputs[i];
                    (i, [trees.predict(outcome, &x.trees_row()), Some(ridge.predict(&x.ridge_row())), x.sequence_of(outcome)])
                })
                .collect();
            let raw = &raw;
            let family_of = |k: usize| move |i: usize| raw[&i][k];
            // Platt on the inner slice, per family: logit(P(y)) = a + b logit(p). The
            // trees are over-confident, the ridge's penalty shrinks: each is off.
            let platt_of = |f: &dyn Fn(usize) -> Option<f64>| -> Option<LinearModel> {
                if !outcome.is_rate() {
                    return None;
                }
                let (x, labels): (Vec<Vec<f64>>, Vec<bool>) =
                    inner_o.iter().filter_map(|&i| Some((vec![logit(f(i)?)], y(i) > 0.5))).unzip();
                let both = labels.iter().any(|l| *l) && !labels.iter().all(|l| *l);
                if both { LinearModel::fit_logistic(&x, &labels, 1e-6) } else { None }
            };
            let platt = [0, 1, 2].map(|k| platt_of(&family_of(k)));
            let recalibrated = |v: f64, p: &Option<LinearModel>| match p {
                Some(p) => p.predict(&[logit(v)]),
                None => v,
            };
            let pairs = |f: &dyn Fn(usize) -> Option<f64>| -> Vec<(f64, f64)> {
                inner_o.iter().filter_map(|&i| Some((f(i)?, y(i)))).collect()
            };
            let family_pairs: Vec<Vec<(f64, f64)>> =
                (0..3).map(|k| pairs(&|i| Some(recalibrated(family_of(k)(i)?, &platt[k])))).collect();
            let loss = |p: &[(f64, f64)]| if outcome.is_rate() { log_loss(p) } else { mae(p) };
            // The stack: one regression on the three families' raw predictions (logits
            // for yes/no), on the inner slice; it recalibrates and weighs them at once.
            let stack_x = |i: usize| -> Option<[f64; 3]> {
                let [t, r, g] = raw[&i];
                Some(stack_input(outcome, [t?, r?, g?]))
            };
            let stack_on = |rows: &[usize]| -> Option<LinearModel> {
                let (sx, sy): (Vec<Vec<f64>>, Vec<f64>) =
                    rows.iter().filter_map(|&i| Some((stack_x(i)?.to_vec(), y(i)))).unzip();
                if sx.len() < MIN_CALIBRATION_ROWS {
                    None
                } else if outcome.is_rate() {
                    let labels: Vec<bool> = sy.iter().map(|v| *v > 0.5).collect();
                    let both = labels.iter().any(|l| *l) && !labels.iter().all(|l| *l);
                    both.then(|| LinearModel::fit_logistic(&sx, &labels, 1e-6)).flatten()
                } else {
                    LinearModel::fit_median(&sx, &sy, 1e-6)
                }
            };
            let stack = stack_on(&inner_o);
            let at_decision: Vec<usize> =
                inner_o.iter().copied().filter(|&i| inputs[i].decision != Decision::None).collect();
            let decision_stack = stack.as_ref().and_then(|_| stack_on(&at_decision));
            let first_line: Vec<usize> =
                at_decision.iter().copied().filter(|&i| inputs[i].decision == Decision::FirstLine).collect();
            let first_line_stack = decision_stack.as_ref().and_then(|_| stack_on(&first_line));
            // A loss only over rows every family predicted; none without rows (JSON has
            // no infinity, and the file must read back).
            let all = family_pairs[1].len();
            let loss_of = |p: &[(f64, f64)], complete: bool| (complete && !p.is_empty()).then(|| loss(p));
            let family_loss = [
                loss_of(&family_pairs[0], family_pairs[0].len() == all),
                loss_of(&family_pairs[1], true),
                loss_of(&family_pairs[2], family_pairs[2].len() == all),
            ];
            // The stack answers whenever it was fitted; else the best family alone.
            let family = if stack.is_some() {
                Family::Stack
            } else {
                [Family::Trees, Family::Ridge, Family::Sequence]
                    .into_iter()
                    .zip(family_loss)
                    .filter_map(|(f, l)| Some((f, l?)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(Family::Ridge, |(f, _)| f)
            };
            let [trees_loss, ridge_loss, sequence_loss] = family_loss;
            let mut head = OutcomeHead {
                family,
                stack,
                decision_stack,
                first_line_stack,
                platt,
                ridge,
                inner_loss: [trees_loss, ridge_loss, sequence_loss, None],
                inner_n: all,
            };
            let stack_pairs = pairs(&|i| Some(head.stack_for(inputs[i].decision)?.predict(&stack_x(i)?)));
            head.inner_loss[3] = loss_of(&stack_pairs, head.stack.is_some());
            outcomes.insert(outcome, head);
        }
        let mut head = TwinHead {
            twin_version: twin_version.to_hex(),
            fitted_rows: rows.len(),
            twin_width,
            trees,
            sequence,
            outcomes,
            calibration: BTreeMap::new(),
            recalibration: BTreeMap::new(),
        };
        head.calibration = head.measure(calibration);
        Ok(head)
    }

    /// A patient's inputs to this head: the journey (`record` read from `events`) at
    /// `at`, with its twin then.
    pub fn inputs(&self, record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>, twin: Vec<f32>) -> HeadInputs {
        let mut inputs = HeadInputs::read(record, events, at, twin);
        let tokens = self.sequence.tokenize(events, at);
        inputs.sequence = self.sequence.predict_many(&[tokens.as_slice()]).pop().unwrap_or_default();
        inputs
    }

    /// The family that answers `outcome`, and the inner slice's loss of each
    /// (trees, ridge, sequence, stack) with its n.
    pub fn family(&self, outcome: Outcome) -> Option<(Family, [Option<f64>; 4], usize)> {
        self.outcomes.get(&outcome).map(|o| (o.family, o.inner_loss, o.inner_n))
    }

    /// Embeds `rows` (journeys at index times) with `model`, in chunks.
    pub fn embed_rows(
        model: &TwinModel,
        rows: &[(&[Event], DateTime<Utc>)],
        note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
    ) -> Result<Vec<Vec<f32>>, TwinHeadError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let inputs: Vec<_> =
                chunk.iter().map(|(events, t)| model.manifest.spec.inputs(events, Some(*t), note_vector)).collect();
            out.extend(model.embed(&inputs, None)?);
        }
        Ok(out)
    }

    /// The prediction from a patient's inputs: a probability for a yes/no outcome, a
    /// DAS28 otherwise (cut to the scale, 0-10); `None` when the outcome was not
    /// fitted or the inputs are of other widths.
    pub fn predict(&self, outcome: Outcome, inputs: &HeadInputs) -> Option<f64> {
        if inputs.twin.len() != self.twin_width || inputs.history.len() != HISTORY_WIDTH {
            return None;
        }
        let head = self.outcomes.get(&outcome)?;
        let trees = || self.trees.predict(outcome, &inputs.trees_row());
        let ridge = || head.ridge.predict(&inputs.ridge_row());
        let recalibrated = |v: f64, platt: &Option<LinearModel>| match platt {
            Some(p) => p.predict(&[logit(v)]),
            None => v,
        };
        let sequence = inputs.sequence_of(outcome);
        let value = match head.family {
            Family::Trees => recalibrated(trees()?, &head.platt[0]),
            Family::Ridge => recalibrated(ridge(), &head.platt[1]),
            Family::Sequence => recalibrated(sequence?, &head.platt[2]),
            Family::Stack => head.stack_for(inputs.decision)?.predict(&stack_input(outcome, [trees()?, ridge(), sequence?])),
        };
        let value = match self.recalibration.get(&outcome) {
            Some([a, b]) if outcome.is_rate() => 1.0 / (1.0 + (-(a + b * logit(value.clamp(0.0, 1.0)))).exp()),
            _ => value,
        };
        value.is_finite().then(|| if outcome.is_rate() { value.clamp(0.0, 1.0) } else { value.clamp(0.0, 10.0) })
    }

    /// A recalibration of this head from `rows` (recent snapshots with their outcomes,
    /// patients it may have been fitted on or not): the rows of even-bucketed patients
    /// fit, per yes/no outcome with at least [`MIN_CALIBRATION_ROWS`] of them and both
    /// classes, the Cox line of the head's probabilities (composed with any earlier
    /// recalibration), and the odd-bucketed patients' rows measure the result (the
    /// head's calibration, its figures' intervals, and whether they are shown, are
    /// re-measured on them). The head itself is not changed: the result is a new head
    /// for governance to adopt or not.
    pub fn recalibrate(&self, rows: &[HeadRow<'_>]) -> (TwinHead, Vec<RecalibratedOutcome>) {
        let fit_half = |r: &&HeadRow<'_>| crate::eval::split::bucket(r.patient) % 2 == 0;
        let (fit, check): (Vec<&HeadRow<'_>>, Vec<&HeadRow<'_>>) = rows.iter().partition(fit_half);
        let mut inputs: Vec<HeadInputs> = fit.iter().map(|r| r.inputs()).collect();
        let tokens: Vec<_> = fit.iter().map(|r| self.sequence.tokenize(r.events, r.index_time)).collect();
        let sequences: Vec<&[_]> = tokens.iter().map(Vec::as_slice).collect();
        for (x, predicted) in inputs.iter_mut().zip(self.sequence.predict_many(&sequences)) {
            x.sequence = predicted;
        }
        // A copy through the file format: what governance would load.
        let mut new: TwinHead = serde_json::from_slice(&self.to_bytes()).expect("a head reads back");
        let mut report = Vec::new();
        for outcome in Outcome::ALL.into_iter().filter(|o| o.is_rate()) {
            let (p, y): (Vec<f64>, Vec<bool>) = inputs
                .iter()
                .zip(&fit)
                .filter_map(|(x, r)| Some((self.predict(outcome, x)?, r.outcomes.get(outcome)? > 0.5)))
                .unzip();
            let both = y.iter().any(|v| *v) && y.iter().any(|v| !*v);
            let line = (p.len() >= MIN_CALIBRATION_ROWS && both).then(|| crate::heads::calibration_line(&p, &y)).flatten();
            if let Some((a, b)) = line {
                let [a0, b0] = self.recalibration.get(&outcome).copied().unwrap_or([0.0, 1.0]);
                new.recalibration.insert(outcome, [a + b * a0, b * b0]);
            }
            report.push(RecalibratedOutcome {
                outcome,
                fit_rows: p.len(),
                line: line.map(|(a, b)| [a, b]),
                slope_before: None,
                slope_after: None,
                check_rows: 0,
            });
        }
        let check_rows: Vec<HeadRow<'_>> = check
            .iter()
            .map(|r| HeadRow {
                patient: r.patient,
                events: r.events,
                record: r.record,
                index_time: r.index_time,
                outcomes: r.outcomes.clone(),
                twin: r.twin.clone(),
            })
            .collect();
        let before = self.measure(&check_rows);
        let after = new.measure(&check_rows);
        for r in &mut report {
            r.slope_before = before.get(&r.outcome).and_then(|c| c.slope);
            r.slope_after = after.get(&r.outcome).and_then(|c| c.slope);
            r.check_rows = after.get(&r.outcome).map_or(0, |c| c.n);
            // A recalibrated outcome's figures rest on the check half's measurement
            // (none there: withheld); the others keep theirs.
            if r.line.is_some() {
                match after.get(&r.outcome) {
                    Some(c) => new.calibration.insert(r.outcome, c.clone()),
                    None => new.calibration.remove(&r.outcome),
                };
            }
        }
        (new, report)
    }

    /// The head's file bytes (canonical JSON): what is hashed, pinned and loaded.
    pub fn file_bytes(&self) -> Vec<u8> {
        self.to_bytes()
    }

    /// [`Self::predict`] with the interval its calibration gives; `None` when the
    /// head was measured on fewer than [`MIN_CALIBRATION_ROWS`] patients with the
    /// outcome, or (yes/no) none of them was given a figure in this one's band: a
    /// figure without an honest interval is not shown.
    pub fn figure(&self, outcome: Outcome, inputs: &HeadInputs) -> Option<HeadFigure> {
        if self.withheld(outcome).is_some() {
            return None;
        }
        let c = self.calibration.get(&outcome)?;
        c.figure(self.predict(outcome, inputs)?, outcome.is_rate())
    }

    /// Why the head shows no figure for `outcome` to anyone, whoever the patient:
    /// not fitted, measured on fewer than [`MIN_CALIBRATION_ROWS`] held-out patients,
    /// or (yes/no) a calibration slope outside [`CALIBRATED_SLOPE`] on them. `None`
    /// when its figures may be shown.
    pub fn withheld(&self, outcome: Outcome) -> Option<String> {
        if !self.outcomes.contains_key(&outcome) {
            return Some("the twin head has no model for this outcome (too few training patients with it)".to_owned());
        }
        match self.calibration.get(&outcome) {
            Some(c) => c.withheld(outcome.is_rate()),
            None => Some(format!("measured on 0 held-out patients with this outcome, fewer than {MIN_CALIBRATION_ROWS}")),
        }
    }

    /// The head's calibration on `rows` (patients it was not fitted on).
    fn measure(&self, rows: &[HeadRow<'_>]) -> BTreeMap<Outcome, Calibration> {
        let mut out = BTreeMap::new();
        let mut inputs: Vec<HeadInputs> = rows.iter().map(HeadRow::inputs).collect();
        let tokens: Vec<_> = rows.iter().map(|r| self.sequence.tokenize(r.events, r.index_time)).collect();
        let sequences: Vec<&[_]> = tokens.iter().map(Vec::as_slice).collect();
        for (x, predicted) in inputs.iter_mut().zip(self.sequence.predict_many(&sequences)) {
            x.sequence = predicted;
        }
        for outcome in Outcome::ALL {
            let pairs: Vec<(f64, f64)> = inputs
                .iter()
                .zip(rows)
                .filter_map(|(x, r)| Some((self.predict(outcome, x)?, r.outcomes.get(outcome)?)))
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let calibration = if outcome.is_rate() {
                let (p, y): (Vec<f64>, Vec<bool>) = pairs.iter().map(|(p, a)| (*p, *a > 0.5)).unzip();
                Calibration::of_rates(&p, &y)
            } else {
                Calibration::of_values(&pairs)
            };
            out.insert(outcome, calibration);
        }
        out
    }

    /// Where an install keeps its head.
    pub fn install_path(data_dir: &Path) -> PathBuf {
        crate::twin::install::models_dir(data_dir).join("twin-head.json")
    }

    fn to_bytes(&self) -> Vec<u8> {
        // Numbers, strings and maps of them serialise.
        crate::artifact::canonical_json(self).expect("a twin head serialises")
    }

    /// Writes the head to `path` (whole: never half a file), pins its bytes and makes
    /// them the active twin head, each step audited as `by`. Returns its version
    /// (SHA-256 of the bytes).
    pub async fn save_and_register(
        &self,
        path: &Path,
        registry: &ModelRegistry,
        by: &Principal,
    ) -> Result<Digest, TwinHeadError> {
        let bytes = self.to_bytes();
        // Every version is also kept under its digest, so governance can roll back to
        // it (or activate a proposed recalibration) and the loader finds its bytes.
        crate::artifact::write_whole(&Self::version_path(path, Digest::of(&bytes)), &bytes)?;
        Ok(save_pinned(path, &bytes, registry, by, ArtifactKind::TwinHead, REGISTER_REASON).await?)
    }

    /// Where the version `sha256` of the head at `path` is kept:
    /// `<models>/twin-heads/<sha256>.json`.
    pub fn version_path(path: &Path, sha256: Digest) -> PathBuf {
        path.with_file_name("twin-heads").join(format!("{}.json", sha256.to_hex()))
    }

    /// Writes this head as a proposal beside the head at `path` and pins it (not
    /// active: a governance user activates it, `rdt models activate twin_head SHA` or
    /// the governance page, or leaves it), with `reason` in the trail. Returns its
    /// version.
    pub async fn propose(
        &self,
        path: &Path,
        registry: &ModelRegistry,
        by: &Principal,
        reason: &str,
    ) -> Result<Digest, TwinHeadError> {
        let bytes = self.to_bytes();
        let sha256 = Digest::of(&bytes);
        crate::artifact::write_whole(&Self::version_path(path, sha256), &bytes)?;
        let artifact = audit_log::ArtifactRef {
            kind: ArtifactKind::TwinHead,
            sha256,
            name: format!("twin-head recalibrated ({})", &sha256.to_hex()[..12]),
            size_bytes: Some(bytes.len() as u64),
        };
        registry.pin(by, artifact, reason).await.map_err(crate::artifact::ArtifactFileError::from)?;
        Ok(sha256)
    }

    /// Reads the head at `path` once, refusing its bytes unless their SHA-256 is the
    /// registry's active twin head and it reads the twin `twin`.
    pub async fn load_active(path: &Path, registry: &ModelRegistry, twin: Digest) -> Result<Self, TwinHeadError> {
        // The active version's own file when it is kept (a recalibration governance
        // adopted, a rollback), else the install's file; either is verified below.
        let active = registry.state().await.ok().and_then(|r| r.active(ArtifactKind::TwinHead).map(|a| a.sha256));
        let versioned = active.map(|sha| Self::version_path(path, sha)).filter(|p| p.exists());
        let path = versioned.as_deref().unwrap_or(path);
        let (bytes, _) = read_active(path, registry, ArtifactKind::TwinHead, "the twin head").await?;
        let head: TwinHead =
            serde_json::from_slice(&bytes).map_err(|source| TwinHeadError::Parse { path: path.to_owned(), source })?;
        if head.twin_version != twin.to_hex() {
            return Err(TwinHeadError::OtherTwin {
                path: path.to_owned(),
                head: head.twin_version,
                active: twin.to_hex(),
            });
        }
        Ok(head)
    }
}

impl HeadRow<'_> {
    /// The row's inputs without the sequence family's predictions (filled in batches).
    fn inputs(&self) -> HeadInputs {
        HeadInputs::read(self.record, self.events, self.index_time, self.twin.clone())
    }
}

/// Below this many training rows no head is fitted: boosted trees on a few dozen
/// snapshots would give figures nobody should be shown.
pub const MIN_HEAD_ROWS: usize = crate::cohort::population::MIN_BASELINE_SNAPSHOTS;

/// Below this many calibration rows with an outcome, the head shows no figure for
/// it: its interval would rest on too few patients.
pub const MIN_CALIBRATION_ROWS: usize = 50;

/// The calibration slopes (Cox, on held-out patients) at which a yes/no head's
/// probabilities are shown: outside it they are over- or under-confident enough to
/// mislead, and the head says so instead.
pub const CALIBRATED_SLOPE: std::ops::RangeInclusive<f64> = 0.8..=1.2;

/// Days after each DMARD start at which the inner slice also holds a row: the
/// treat-to-target check (EULAR: adjust treatment when there is no improvement by
/// three months), where a clinician asks whether the drug is working. The stack is
/// recalibrated on these rows beside the 180-day cadence, so that its probabilities
/// hold where they are asked, not only at arbitrary dates.
pub const DECISION_DAYS_AFTER_START: i64 = 90;

/// The decision points of a record: [`DECISION_DAYS_AFTER_START`] days after each
/// DMARD start, end of that day, while the patient was in care.
pub fn decision_times(record: &ClinicalRecord) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = record
        .courses
        .iter()
        .filter(|c| c.is_dmard())
        .map(|c| c.start.date_naive() + chrono::Days::new(DECISION_DAYS_AFTER_START as u64))
        .filter(|day| record.in_care_by(*day) && record.last_date.is_some_and(|last| last > *day))
        .map(crate::cohort::query::end_of_day)
        .collect();
    times.sort();
    times.dedup();
    times
}

/// The rows the inner validation slice holds beside its cadence snapshots: each of
/// `patients` in the slice (train part, buckets [`INNER_VALIDATION`]) at each of its
/// decision points ([`decision_times`]), embedded by `model`, with the outcomes after
/// it. In patient then time order, whatever order `patients` come in.
pub fn inner_decision_rows<'a>(
    model: &TwinModel,
    patients: impl IntoIterator<Item = (&'a journey::event::PatientId, &'a [Event], &'a ClinicalRecord)>,
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<Vec<HeadRow<'a>>, TwinHeadError> {
    use crate::eval::split::{bucket, Part};
    let mut at: Vec<(&'a journey::event::PatientId, &'a [Event], &'a ClinicalRecord, DateTime<Utc>)> = patients
        .into_iter()
        .filter(|(p, _, _)| Part::of(p) == Part::Train && INNER_VALIDATION.contains(&bucket(p)))
        .flat_map(|(p, events, record)| decision_times(record).into_iter().map(move |t| (p, events, record, t)))
        .collect();
    at.sort_by(|a, b| (a.0, a.3).cmp(&(b.0, b.3)));
    let journeys: Vec<(&[Event], DateTime<Utc>)> = at.iter().map(|(_, e, _, t)| (*e, *t)).collect();
    let twins = TwinHead::embed_rows(model, &journeys, note_vector)?;
    Ok(at
        .into_iter()
        .zip(twins)
        .map(|((patient, events, record, index_time), twin)| HeadRow {
            patient,
            events,
            record,
            index_time,
            outcomes: record.outcomes_at(index_time.date_naive()),
            twin,
        })
        .collect())
}

/// The install's head from an index's historical `points` (already embedded by
/// `model`): fitted on the train part's snapshots, measured on the tuning part's, each
/// snapshot with the outcomes recorded after it while the patient was in care. The
/// inner slice's patients are also embedded at their decision points
/// ([`decision_times`]). `None` when the train part has fewer than [`MIN_HEAD_ROWS`]
/// snapshots.
pub fn fit_from_points(
    model: &TwinModel,
    journeys: &[(journey::event::PatientId, Vec<Event>)],
    points: &[crate::index::IndexPoint],
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Result<Option<TwinHead>, TwinHeadError> {
    use crate::eval::split::Part;
    use crate::index::SnapshotKind;
    let records: std::collections::HashMap<_, _> = journeys
        .iter()
        .filter(|(p, _)| Part::of(p) != Part::Test)
        .map(|(p, e)| (p, (e.as_slice(), ClinicalRecord::read(e))))
        .collect();
    let row = |patient: &journey::event::PatientId, index_time: DateTime<Utc>, twin: Vec<f32>| -> Option<HeadRow<'_>> {
        let (patient, (events, record)) = records.get_key_value(patient)?;
        let day = index_time.date_naive();
        record.in_care_by(day).then(|| HeadRow {
            patient,
            events,
            record,
            index_time,
            outcomes: record.outcomes_at(day),
            twin,
        })
    };
    let (mut train, mut tuning) = (Vec::new(), Vec::new());
    for point in points.iter().filter(|p| p.kind == SnapshotKind::Historical) {
        let Some(r) = row(&point.patient, point.index_time, point.vector.clone()) else { continue };
        match Part::of(&point.patient) {
            Part::Train => train.push(r),
            Part::Tuning => tuning.push(r),
            Part::Test => {}
        }
    }
    if train.len() < MIN_HEAD_ROWS {
        return Ok(None);
    }
    train.extend(inner_decision_rows(model, records.iter().map(|(p, (e, r))| (*p, *e, r)), note_vector)?);
    Ok(Some(TwinHead::fit(model.version, &model.manifest.spec.vocab, &train, &tuning)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use crate::eval::split::Part;
    use audit_log::{AuditLog, Role};
    use journey::clinical::drugs::METHOTREXATE;
    use journey::event::PatientId;

    /// 700 patients on methotrexate from day 0 (DAS28 5.8); responders (every third)
    /// fall to 3.0 by day 182, the others stay at 5.6. The twin at day 30 carries the
    /// response in its first component (plus a little noise; wrong for an eighth of
    /// the patients), nothing else does.
    fn cohort() -> Vec<(PatientId, Vec<Event>, Vec<f32>)> {
        (0..700)
            .map(|i| {
                let id = PatientId::new(format!("patient-{i:04}")).unwrap();
                let responder = i % 3 == 0;
                let end = if responder { 3.0 } else { 5.6 };
                let mut events = Journey::new(vec![
                    das28(0, 5.8),
                    das28(182, end),
                    das28(400, end),
                    drug(0, None, METHOTREXATE),
                ])
                .events;
                for e in &mut events {
                    e.patient = id.clone();
                }
                let noise = ((i * 37 % 11) as f32 - 5.0) / 50.0;
                // The twin reads the response right for most patients, not all: a
                // head that could be certain would have no calibration slope to speak of.
                let read = if i % 8 == 5 { !responder } else { responder };
                let twin = vec![if read { 1.0 } else { 0.0 } + noise, noise, 0.3, -0.2];
                (id, events, twin)
            })
            .collect()
    }

    fn fitted(cohort: &[(PatientId, Vec<Event>, Vec<f32>)], records: &[ClinicalRecord]) -> TwinHead {
        let day30 = |e: &[Event]| e[0].time + chrono::Duration::days(30);
        let rows = |part: Part| -> Vec<HeadRow<'_>> {
            cohort
                .iter()
                .zip(records)
                .filter(|((p, _, _), _)| Part::of(p) == part)
                .map(|((p, e, twin), r)| HeadRow {
                    patient: p,
                    events: e,
                    record: r,
                    index_time: day30(e),
                    outcomes: r.outcomes_at(day30(e).date_naive()),
                    twin: twin.clone(),
                })
                .collect()
        };
        let vocab = crate::encode::vocab::Vocabulary::build(
            crate::encode::vocab::VocabConfig::default(),
            cohort.iter().map(|(_, e, _)| e.as_slice()),
        );
        TwinHead::fit(Digest::of(b"twin"), &vocab, &rows(Part::Train), &rows(Part::Tuning)).unwrap()
    }

    #[test]
    fn the_head_reads_the_twin_and_every_figure_is_inside_its_scale() {
        let cohort = cohort();
        let records: Vec<ClinicalRecord> = cohort.iter().map(|(_, e, _)| ClinicalRecord::read(e)).collect();
        let head = fitted(&cohort, &records);
        let mtx = &head.calibration[&Outcome::MtxResponse6m];
        assert!(mtx.n >= MIN_CALIBRATION_ROWS, "{} calibration rows", mtx.n);
        assert!(mtx.auroc.unwrap() > 0.7, "the response is in the twin: AUROC {:?}", mtx.auroc);
        assert!(CALIBRATED_SLOPE.contains(&mtx.slope.unwrap()), "calibrated on held-out patients: {:?}", mtx.slope);
        assert!(head.family(Outcome::MtxResponse6m).is_some());
        for ((_, events, twin), record) in cohort.iter().zip(&records).take(60) {
            let at = events[0].time + chrono::Duration::days(30);
            let inputs = head.inputs(record, events, at, twin.clone());
            for outcome in [Outcome::MtxResponse6m, Outcome::Das28Day150, Outcome::Das28Day360] {
                let f = head.figure(outcome, &inputs).expect("a figure");
                let ci = f.interval.expect("an interval");
                let (lo, hi) = if outcome.is_rate() { (0.0, 1.0) } else { (0.0, 10.0) };
                assert!((lo..=hi).contains(&f.value), "{outcome:?} {}", f.value);
                assert!(lo <= ci.low && ci.low <= ci.high && ci.high <= hi, "{outcome:?} {ci:?}");
                assert!(f.n > 0, "an interval names its n");
            }
            // A twin of another width is no input to this head.
            let other = head.inputs(record, events, at, vec![0.0; 3]);
            assert_eq!(head.predict(Outcome::MtxResponse6m, &other), None);
        }
        // No TNF inhibitor anywhere: no figure, and the head says why.
        let (_, events, twin) = &cohort[0];
        let inputs = head.inputs(&records[0], events, events[0].time, twin.clone());
        assert_eq!(head.figure(Outcome::TnfiResponse6m, &inputs), None);
        assert!(head.withheld(Outcome::TnfiResponse6m).is_some_and(|why| why.contains("no model")));
        assert_eq!(head.withheld(Outcome::MtxResponse6m), None);

        // A head whose probabilities are under-confident on held-out patients shows none.
        let mut head = head;
        head.calibration.get_mut(&Outcome::MtxResponse6m).unwrap().slope = Some(1.31);
        assert_eq!(head.figure(Outcome::MtxResponse6m, &inputs), None);
        let why = head.withheld(Outcome::MtxResponse6m).expect("a reason");
        assert!(why.contains("1.31") && why.contains("0.8-1.2"), "{why}");
    }

    /// Recent patients whose twins read the response less often (every fourth one
    /// read wrong on top): the head is over-confident on them; its recalibration on
    /// half of them brings the calibration slope on the other half back towards 1,
    /// in a new head, the original unchanged (and its file without the field).
    #[test]
    fn a_recalibration_from_recent_rows_is_a_new_better_calibrated_head() {
        let cohort = cohort();
        let records: Vec<ClinicalRecord> = cohort.iter().map(|(_, e, _)| ClinicalRecord::read(e)).collect();
        let head = fitted(&cohort, &records);
        let recent: Vec<HeadRow<'_>> = cohort
            .iter()
            .zip(&records)
            .enumerate()
            .map(|(i, ((p, e, twin), r))| {
                let at = e[0].time + chrono::Duration::days(30);
                let mut twin = twin.clone();
                if i % 4 == 1 {
                    twin[0] = 1.0 - twin[0];
                }
                HeadRow { patient: p, events: e, record: r, index_time: at, outcomes: r.outcomes_at(at.date_naive()), twin }
            })
            .collect();
        let (new, report) = head.recalibrate(&recent);
        let mtx = report.iter().find(|r| r.outcome == Outcome::MtxResponse6m).unwrap();
        let (before, after) = (mtx.slope_before.unwrap(), mtx.slope_after.unwrap());
        assert!(mtx.line.is_some() && mtx.fit_rows >= MIN_CALIBRATION_ROWS && mtx.check_rows >= MIN_CALIBRATION_ROWS, "{mtx:?}");
        assert!(before < 0.9, "the drifted rows make the head over-confident: slope {before}");
        assert!((after - 1.0).abs() < (before - 1.0).abs(), "{before} -> {after}");
        let (_, events, twin) = &cohort[3];
        let inputs = head.inputs(&records[3], events, events[0].time + chrono::Duration::days(30), twin.clone());
        assert_ne!(head.predict(Outcome::MtxResponse6m, &inputs), new.predict(Outcome::MtxResponse6m, &inputs));
        assert!(!String::from_utf8(head.file_bytes()).unwrap().contains("recalibration"));
        assert!(String::from_utf8(new.file_bytes()).unwrap().contains("\"recalibration\""));
        // No rows: nothing fitted, nothing changed.
        let (same, report) = head.recalibrate(&[]);
        assert!(report.iter().all(|r| r.line.is_none()));
        assert_eq!(same.file_bytes(), head.file_bytes());
    }

    /// Decision points are 90 days after each DMARD start (not a glucocorticoid's),
    /// only while the record goes on past them (an outcome can follow).
    #[test]
    fn decision_points_follow_dmard_starts_inside_the_record() {
        use chrono::TimeZone;
        let journey = Journey::new(vec![
            das28(0, 5.8),
            drug(0, Some(200), METHOTREXATE),
            drug(30, Some(60), "8640"),
            drug(200, None, "327361"),
            das28(250, 4.0),
        ]);
        let record = ClinicalRecord::read(&journey.events);
        let day = |d: i64| crate::cohort::query::end_of_day(
            Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap().date_naive() + chrono::Days::new(d as u64),
        );
        // Methotrexate + 90 is inside; adalimumab + 90 (day 290) is after the last event.
        assert_eq!(decision_times(&record), vec![day(90)]);
        // Three months into methotrexate, the first DMARD: first-line; three months into
        // adalimumab, after it: a later decision; a year in: none.
        assert_eq!(decision_at(&record, day(90)), Decision::FirstLine);
        assert_eq!(decision_at(&record, day(290)), Decision::Later);
        assert_eq!(decision_at(&record, day(20)), Decision::None);
        assert_eq!(decision_at(&record, day(400)), Decision::None);
    }

    /// The install's head loads only as the registry's active version and only for
    /// the twin it was fitted on; an edited file is refused, naming the remedy.
    #[tokio::test]
    async fn a_tampered_or_foreign_head_is_refused() {
        let cohort = cohort();
        let records: Vec<ClinicalRecord> = cohort.iter().map(|(_, e, _)| ClinicalRecord::read(e)).collect();
        let head = fitted(&cohort, &records);
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
        let by = Principal::new("gov", Role::Governance);
        let path = TwinHead::install_path(dir.path());
        head.save_and_register(&path, &registry, &by).await.unwrap();

        let loaded = TwinHead::load_active(&path, &registry, Digest::of(b"twin")).await.unwrap();
        assert_eq!(loaded.calibration, head.calibration);
        // Outcomes without a stack (no TNF inhibitor anywhere: not fitted at all) or
        // without a family's loss read back: nothing in the file JSON cannot hold.
        for outcome in Outcome::ALL {
            assert_eq!(loaded.family(outcome), head.family(outcome), "{outcome:?}");
        }
        let err = TwinHead::load_active(&path, &registry, Digest::of(b"another twin")).await.err().unwrap();
        assert!(matches!(err, TwinHeadError::OtherTwin { .. }) && err.to_string().contains("rdt embed"), "{err}");

        // The loader reads the active version's own file (`twin-heads/<sha256>.json`):
        // edited, it is refused, naming the digest it found.
        let version = TwinHead::version_path(&path, Digest::of(&std::fs::read(&path).unwrap()));
        let mut bytes = std::fs::read(&version).unwrap();
        let at = bytes.iter().position(|b| b.is_ascii_digit()).unwrap();
        bytes[at] = if bytes[at] == b'9' { b'8' } else { bytes[at] + 1 };
        std::fs::write(&version, &bytes).unwrap();
        let err = TwinHead::load_active(&path, &registry, Digest::of(b"twin")).await.err().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, TwinHeadError::Governance { .. }), "{msg}");
        assert!(msg.contains(&Digest::of(&bytes).to_hex()) && msg.contains("rdt embed"), "{msg}");
    }
}
