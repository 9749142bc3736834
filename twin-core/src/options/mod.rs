//! Treatment options for a patient at a decision (issue 20): for each option a
//! rheumatologist weighs ([`journey::clinical::TreatmentOption`]), how the patient's
//! nearest historical neighbours who took it fared, unadjusted and weighted for who got
//! it, beside the whole population's figure per option.
//!
//! - [`units`]: every historical snapshot as a decision ([`DecisionUnit`]): the option
//!   the patient took after it, that option's outcomes from its start, the covariates
//!   the weighting balances; [`OptionsPopulation`] holds them all, read once.
//! - [`weighting`]: the propensity model inside a neighbourhood, inverse-propensity
//!   weights and the covariate balance before and after.
//! - [`head`]: the counterfactual head, boosted trees with the option as an input
//!   ([`head::OptionHead`]), asked once per option; an install's is fitted at `rdt
//!   embed`, measured on held-out decisions, pinned, and shown first.
//! - [`compare`]: one comparison end to end ([`compare_options`]): the patient's twin,
//!   the neighbourhood widened per option until the option has `min_n` patients, the
//!   figures, and the neighbours per option for the audit.
//!
//! Invariants: a patient counts at most once per option (its nearest snapshot at which
//! it took the option); below `min_n` patients an option carries no figure, only
//! "not enough comparable patients"; a neighbour's outcomes are read after its own
//! decision, never the query patient's; the audit's neighbour ids are never part of
//! the report's JSON.

pub mod compare;
pub mod head;
pub mod units;
pub mod weighting;

pub use compare::{
    add_head_figures, add_state_outlooks, compare_options, head_figure_text, option_treatment, options_from_neighbours,
    Balance, OptionComparison, OptionModels, OptionRow, OptionsAudit, OptionsQuery, OptionsReport, StateOutlook,
    WideningStep,
};
pub use head::{OptionHead, OptionHeadError, OptionHeadFigure};
pub use units::{DecisionUnit, OptionsPopulation, COVARIATE_NAMES};
