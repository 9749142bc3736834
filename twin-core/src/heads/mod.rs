//! Predictive heads on the twin vector: logistic regressions from a patient's twin at
//! an index date to an outcome after it, scored on held-out patients beside the
//! snapshot baseline (the same regression on the latest visit's features).
//!
//! One implementation each, shared with the cohort analytics: the regression
//! ([`crate::cohort::regression`]), the snapshot features
//! ([`crate::cohort::features`]), the outcomes ([`crate::cohort::ClinicalRecord::outcomes_at`])
//! and the held-out split and AUROC ([`crate::eval::cohort`]). What is added here:
//!
//! - `label.rs`: [`HeadOutcome`] (methotrexate failure within 12 months, flare within 6
//!   months) and the historical snapshots: index date = first methotrexate start.
//! - `metrics.rs`: calibration (Brier score, reliability bins, Cox slope and
//!   intercept) and a bootstrap interval of the AUROC ([`Scores`]).
//! - `evaluate.rs`: fitting and scoring heads on a [`Split`] ([`evaluate`]).
//! - `twin_head.rs`: [`TwinHead`], the twin's predictor: per outcome boosted trees on
//!   the twin beside the aggregated history, or a ridge on the twin beside the latest
//!   visit, chosen on an inner slice of the train part; scored beside the baselines
//!   by [`crate::eval::cohort`], fitted and pinned by `rdt embed`.
//!
//! A small MLP was not tried: at a few thousand examples a linear head on a 64-d
//! vector is the model the data can support, and the report compares
//! representations, not classifiers.

mod evaluate;
mod label;
mod metrics;
mod plot;
mod twin_head;

pub use evaluate::{evaluate, fit_and_score, HeadError, HeadEvaluation, HeadScores, Split};
pub use label::{label, mtx_index, HeadOutcome, Labelled};
pub mod recalibrate;
pub use recalibrate::{propose_recalibration, Proposal};
pub use twin_head::{
    decision_times, fit_from_points, inner_decision_rows, is_decision_point, RecalibratedOutcome, CALIBRATED_SLOPE, Calibration, Family, HeadFigure, HeadInputs, HeadRow, TwinHead, TwinHeadError, DECISION_DAYS_AFTER_START, MIN_CALIBRATION_ROWS,
    MIN_HEAD_ROWS, DECISION_WINDOW_DAYS,
    RELIABILITY_BINS,
};
pub(crate) use twin_head::logit;
pub use plot::reliability_svg;
pub use metrics::{auroc, auroc_interval, bootstrap_interval, brier, calibration_line, reliability, ReliabilityBin, Scores};
