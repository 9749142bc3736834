//! `rdt train`: trains the twin on the store's cohort (`twin_core::twin::install`):
//! masked-event pretraining, then fusion; the checkpoint and its loss log under
//! `<data-dir>/models/`, its three files pinned and activated in the model registry as
//! `--as`/`RDT_USER` with the governance role (training a model is a governance act).

use std::process::ExitCode;

use audit_log::{Principal, Role};
use clap::Args;
use twin_core::cohort::boosting::Budget;
use twin_core::twin::prognosis_part::PrognosisReading;
use twin_core::twin::{train_and_register, TrainOptions, TrainRequest};

use crate::bars::Bars;
use crate::context::Context;

/// How the prognosis part reads its trees (`--prognosis-part`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PrognosisReadingArg {
    /// No prognosis part, as twins before it were (for side-by-side measurement).
    None,
    /// The expected course: one number per outcome.
    Expected,
    /// The reasons: each history column's contribution to each outcome.
    Reasons,
}

impl From<PrognosisReadingArg> for Option<PrognosisReading> {
    fn from(arg: PrognosisReadingArg) -> Self {
        match arg {
            PrognosisReadingArg::None => None,
            PrognosisReadingArg::Expected => Some(PrognosisReading::Expected),
            PrognosisReadingArg::Reasons => Some(PrognosisReading::Reasons),
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Passes over the cohort in masked-event pretraining.
    #[arg(long, default_value_t = 2)]
    pretrain_epochs: usize,
    /// Passes over the cohort in fusion training.
    #[arg(long, default_value_t = 10)]
    fusion_epochs: usize,
    /// Width of the encoders and the twin.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Most recent events read per journey.
    #[arg(long, default_value_t = 128)]
    max_events: usize,
    /// Train on the first N patients only.
    #[arg(long)]
    max_patients: Option<usize>,
    /// Embed notes with MiniLM (needs `rdt setup`) and use them as a modality.
    #[arg(long)]
    notes: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Weight of the outcome heads in fusion training (0: self-supervised only). The
    /// heads learn from the train part of the frozen split only.
    #[arg(long, default_value_t = 1.0)]
    outcome_weight: f64,
    /// Weight of the course pairs in fusion training: views whose known outcomes agree
    /// are pulled together (0: none). Chosen on the tuning part of the split.
    #[arg(long, default_value_t = 3.0)]
    course_pair_weight: f64,
    /// Leave the clinical-history block out of the twin (the fused vector alone), as
    /// twins before it were; for side-by-side measurement.
    #[arg(long)]
    no_history_block: bool,
    /// Leave the clinical strata out of the twin, as twins before them were; for
    /// side-by-side measurement.
    #[arg(long, conflicts_with = "stratum")]
    no_strata: bool,
    /// The clinical strata the twin matches inside (repeat for several):
    /// `serostatus` (the default alone) and `response_so_far` (the EULAR response to
    /// the running DMARD so far; measured, not the default: docs/benchmarks/predictive.md).
    #[arg(long, value_name = "STRATUM", value_parser = clap::builder::PossibleValuesParser::new(twin_core::twin::strata::Stratum::ALL.map(|s| s.as_str())))]
    stratum: Vec<String>,
    /// The prognosis part the twin carries (boosted trees' reading of each outcome,
    /// fitted with the twin, cross-fitted on the train part): `expected` (the default,
    /// also when the flag is given bare) the expected course, `reasons` each history
    /// column's contribution to it, `none` no part, for side-by-side measurement
    /// (docs/benchmarks/predictive.md).
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        default_value = "expected",
        default_missing_value = "expected",
        value_name = "READING"
    )]
    prognosis_part: PrognosisReadingArg,
    /// The prognosis part's trees' complexity budget (perpetual's one knob, above 0
    /// and at most 3): the baselines' 0.5 by default; 1.0 is measured beside it in
    /// docs/benchmarks/predictive.md (no better, and not the default).
    #[arg(long, value_name = "BUDGET", default_value_t = Budget::BASELINE, value_parser = parse_budget)]
    prognosis_budget: Budget,
    /// Train on the journeys as they stood at the end of this day, or at the temporal
    /// split's cut (`temporal-cut`; docs/benchmarks/predictive-protocol.md).
    #[arg(long, value_name = "YYYY-MM-DD|temporal-cut")]
    until: Option<twin_core::twin::Until>,
    /// Who trains (recorded as the pinning governance user).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER", default_value = "rdt-train")]
    user: String,
    #[arg(long)]
    json: bool,
}

/// A budget as `Budget::new` accepts it, refused at the command line by name.
fn parse_budget(text: &str) -> Result<Budget, String> {
    let value: f32 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    Budget::new(value).map_err(|e| e.to_string())
}

pub async fn run(ctx: &Context, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut options = TrainOptions {
        max_events: args.max_events,
        hidden_size: args.hidden,
        history_block: !args.no_history_block,
        prognosis_part: args.prognosis_part.into(),
        prognosis_budget: args.prognosis_budget,
        strata: if args.no_strata {
            Vec::new()
        } else if args.stratum.is_empty() {
            twin_core::twin::strata::Strata::clinical().strata
        } else {
            args.stratum.iter().filter_map(|s| twin_core::twin::strata::Stratum::by_name(s)).collect()
        },
        ..Default::default()
    };
    options.pretrain.epochs = args.pretrain_epochs;
    options.pretrain.seed = args.seed;
    options.fusion.epochs = args.fusion_epochs;
    options.fusion.seed = args.seed;
    options.fusion.outcome_weight = args.outcome_weight;
    options.fusion.course_pair_weight = args.course_pair_weight;
    let by = Principal::new(args.user.clone(), Role::Governance);
    let request =
        TrainRequest { options, max_patients: args.max_patients, notes: args.notes, by: by.clone(), until: args.until };
    let store = ctx.store().await?;
    let trained = train_and_register(&store, &ctx.data_dir, &ctx.registry().await?, &request, &Bars::default()).await?;
    super::print(args.json, &trained.json(), || trained.text(&by))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line hands `run` a budget already validated: a number in range
    /// becomes a `Budget`, anything else is refused naming what was typed.
    #[test]
    fn a_budget_is_validated_where_it_is_typed() {
        assert_eq!(parse_budget("1.0").map(f32::from), Ok(1.0));
        assert_eq!(parse_budget("0.5"), Ok(Budget::BASELINE));
        let out_of_range = parse_budget("4").unwrap_err();
        assert!(out_of_range.contains("budget 4"), "{out_of_range}");
        let not_a_number = parse_budget("lots").unwrap_err();
        assert!(not_a_number.contains("\"lots\""), "{not_a_number}");
    }
}
