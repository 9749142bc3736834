//! `rdt train`: trains the twin on the store's cohort (`twin_core::twin::install`):
//! masked-event pretraining, then fusion; the checkpoint and its loss log under
//! `<data-dir>/models/`, its three files pinned and activated in the model registry as
//! `--as`/`RDT_USER` with the governance role (training a model is a governance act).

use std::process::ExitCode;

use audit_log::{Principal, Role};
use clap::Args;
use serde_json::json;
use twin_core::twin::{train_and_register, TrainOptions, TrainRequest};

use crate::bars::Bars;
use crate::context::Context;

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
    /// Who trains (recorded as the pinning governance user).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER", default_value = "rdt-train")]
    user: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut options = TrainOptions { max_events: args.max_events, hidden_size: args.hidden, ..Default::default() };
    options.pretrain.epochs = args.pretrain_epochs;
    options.pretrain.seed = args.seed;
    options.fusion.epochs = args.fusion_epochs;
    options.fusion.seed = args.seed;
    let by = Principal::new(args.user.clone(), Role::Governance);
    let request = TrainRequest { options, max_patients: args.max_patients, notes: args.notes, by: by.clone() };
    let store = ctx.store().await?;
    let trained = train_and_register(&store, &ctx.data_dir, &ctx.registry().await?, &request, &Bars::default()).await?;
    let (r, s, saved) = (trained.reconstruction, trained.seconds, &trained.saved);
    if args.json {
        let report = json!({
            "version": saved.version.to_hex(),
            "dir": saved.dir.display().to_string(),
            "patients": trained.patients,
            "vocabulary": trained.vocabulary,
            "reconstruction": r,
            "seconds": s,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "twin {} trained on {} patients in {:.0} s (+{:.0} s reading, {:.0} s note vectors)",
        saved.version, trained.patients, s.train, s.read, s.note_vectors
    );
    println!("  vocabulary: {} codes; checkpoint: {}", trained.vocabulary, saved.dir.display());
    println!(
        "  masked-event reconstruction (held out): {:.1}% vs most frequent code {:.1}% ({} masked events)",
        100.0 * r.model,
        100.0 * r.most_frequent_code,
        r.masked_events
    );
    println!("  loss log: loss.csv, loss.svg; pinned and activated by {by}");
    Ok(ExitCode::SUCCESS)
}
