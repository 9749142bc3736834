//! `rdt embed`: every patient's twin with the active twin (verified against the
//! registry), into the neighbour index and as JSON Lines (`twin_core::index::rebuild`).
//!
//! The index (`RDT_QDRANT_URL`'s collection, else `<data-dir>/index/`) is rebuilt from
//! scratch; the JSON Lines file (default `<data-dir>/twins/twins.jsonl`) holds each
//! patient's live twin. With `--index-date`, everyone's twin at that date is written
//! to the file only. A rebuild also fits the twin head on the new points and pins it
//! (`twin_core::heads::TwinHead`). With `--changed`, only the patients the store's
//! change feed names are re-embedded (`twin_core::index::catch_up`).

use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::{Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use twin_core::index::catch_up::{catch_up_install, CatchUp};
use twin_core::index::rebuild::{rebuild, twins_at};
use twin_core::index::SnapshotPlan;
use twin_core::twin::load_active;

use crate::bars::Bars;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Embed everyone as of the end of this day into the file only (default: each
    /// patient's snapshots into the index, live twins into the file).
    #[arg(long, value_name = "YYYY-MM-DD")]
    index_date: Option<NaiveDate>,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Where to write (default `<data-dir>/twins/twins.jsonl`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Days between historical snapshots.
    #[arg(long, default_value_t = 180)]
    every_days: u32,
    /// Days of record a historical snapshot needs after it.
    #[arg(long, default_value_t = 180)]
    min_follow_up_days: u32,
    /// Also snapshot at decision points: `none` (the cadence only), `starts` (each
    /// DMARD start) or `visits` (starts and every activity reading).
    #[arg(long, default_value = "none")]
    decisions: twin_core::index::build::DecisionSnapshots,
    /// Only the patients whose records changed since the index last caught up (the
    /// store's change feed; what every import does itself): no rebuild, no head refit.
    #[arg(long, conflicts_with_all = ["index_date", "out"])]
    changed: bool,
}

pub async fn run(ctx: &Context, args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let registry = ctx.registry().await?;
    if args.changed {
        let store = ctx.store().await?;
        let caught = catch_up_install(&store, &ctx.data_dir, &registry, &ctx.index(), |_| {}).await;
        store.close().await;
        let caught = caught?;
        println!("{}", caught.text());
        return Ok(if matches!(caught, CatchUp::Waiting { .. }) { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let model = load_active(&ctx.data_dir, &registry).await?;
    let store = ctx.store().await?;
    let out = args.out.unwrap_or_else(|| ctx.data_dir.join("twins").join("twins.jsonl"));
    let (version, file) = (model.version, out.display());
    if let Some(date) = args.index_date {
        let n = twins_at(&store, &ctx.data_dir, &registry, &model, date, args.notes, &out, &Bars::default()).await?;
        println!("{n} twins at {date} (version {version}) written to {file}");
        return Ok(ExitCode::SUCCESS);
    }
    let plan = SnapshotPlan {
        every_days: args.every_days,
        min_follow_up_days: args.min_follow_up_days,
        decisions: args.decisions,
    };
    let bars = Bars::default();
    // Fitting the twin head is a governance act: its file is pinned and activated as this user.
    let by = Principal::new(user_name(None), Role::Governance);
    let r = rebuild(&store, &ctx.data_dir, &registry, &model, &ctx.index(), &plan, args.notes, &out, &by, &bars).await?;
    println!(
        "{} patients embedded (twin {version}): {} index points ({} live, {} historical) in {}; live twins in {file}",
        r.patients,
        r.points,
        r.live,
        r.points - r.live,
        r.index
    );
    match &r.head {
        Ok((version, rows)) => println!("twin head {version} fitted on {rows} train-part snapshots, pinned and active"),
        Err(why) => println!("no twin head: {why}"),
    }
    match &r.option_head {
        Ok((version, decisions)) => {
            println!("option head {version} fitted on {decisions} train-part decisions, pinned and active")
        }
        Err(why) => println!("no option head: {why}"),
    }
    println!("neighbourhood prior {} pinned and active", r.prior_version);
    if r.prior.is_empty() {
        println!("cohort rates not pooled: too few neighbourhoods with a yes/no outcome");
    }
    let at_decisions = r.prior_at_decisions.iter().map(|p| (p, " at decision points"));
    for (p, when) in r.prior.iter().map(|p| (p, "")).chain(at_decisions) {
        let shown = match p.withheld() {
            None => format!("calibration slope {:.2} on {} sampled patients: shown", p.calibration_slope.unwrap_or(f64::NAN), p.calibration_n),
            Some(why) => format!("not shown: {why}"),
        };
        println!(
            "cohort {}{when}: pooled toward {:.0}% with the weight of {:.1} patients ({} neighbourhoods); {shown}",
            p.outcome.key(),
            100.0 * p.rate,
            p.weight,
            p.neighbourhoods
        );
    }
    Ok(ExitCode::SUCCESS)
}
